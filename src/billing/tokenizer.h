// Token counts for requests whose upstream never reported usage (client gone mid-stream, upstream
// died, a server that never sends usage): a real BPE tokenizer, byte-exact with OpenAI's tiktoken
// as js-tiktoken implements it (the reference the tests compare against), for the o200k_base and
// cl100k_base vocabularies. For models of other vendors the count is an approximation
// (docs/billing.md, "Estimated counts").
//
// The vocabularies are built from a pinned npm package at build time and embedded in the binary
// (cmake/tokenizer.cmake); each is loaded on its first use, once, thread-safely. Every function
// is thread-safe and throws nothing but std::bad_alloc. Special tokens (<|endoftext|>, ...) are
// ordinary text here, as tiktoken's encode_ordinary. Invalid UTF-8 is tokenized too: each bad
// byte counts as one character of no Unicode category.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sy::billing {

enum class encoding { o200k_base, cl100k_base };

// o200k_base for gpt-4o*, gpt-4.1*, gpt-4.5*, gpt-5*, o1*, o3*, o4*, chatgpt-*, gpt-oss*;
// cl100k_base for gpt-4*, gpt-3.5* (gpt-35*), text-embedding-3*, text-embedding-ada-002;
// o200k_base, as an approximation, for every other model (Claude, Gemini, Llama, unknown).
// Case-insensitive; a vendor prefix ("openai/gpt-4", "azure/...") is ignored.
encoding encoding_for_model(std::string_view model);

// "o200k_base" / "cl100k_base".
std::string_view encoding_name(encoding e);

// The number of tokens `utf8_text` encodes to: encode(e, utf8_text).size(), without the vector.
std::size_t count_tokens(encoding e, std::string_view utf8_text);

// The token ids (ranks) of `utf8_text`.
std::vector<std::uint32_t> encode(encoding e, std::string_view utf8_text);

// The bytes of `tokens` concatenated (for tests: decode(encode(s)) == s for every s). An id out of
// the vocabulary's range decodes to nothing.
std::string decode(encoding e, std::span<const std::uint32_t> tokens);

// The number of ordinary tokens of the vocabulary (o200k_base: 199998, cl100k_base: 100256).
std::size_t vocabulary_size(encoding e);

}  // namespace sy::billing
