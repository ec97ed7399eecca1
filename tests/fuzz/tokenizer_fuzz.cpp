// Fuzz target: billing::encode / count_tokens / decode (src/billing/tokenizer.h).
//
// The input is any bytes, used as the text (valid UTF-8 or not). For o200k_base and cl100k_base:
// - encode never crashes, and every id is inside the vocabulary;
// - decode(encode(text)) == text byte for byte (no byte is dropped or invented, invalid UTF-8
//   included);
// - count_tokens(text) == encode(text).size();
// - there are at most as many tokens as bytes, and at least one for a non-empty text.
#include "billing/tokenizer.h"

#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto e : {sy::billing::encoding::o200k_base, sy::billing::encoding::cl100k_base}) {
    auto ids = sy::billing::encode(e, text);
    const std::size_t vocab = sy::billing::vocabulary_size(e);
    for (auto id : ids)
      FUZZ_CHECK(id < vocab);
    FUZZ_CHECK(sy::billing::decode(e, ids) == text);
    FUZZ_CHECK(sy::billing::count_tokens(e, text) == ids.size());
    FUZZ_CHECK(ids.size() <= size);
    FUZZ_CHECK(size == 0 || !ids.empty());
  }
  return 0;
}
