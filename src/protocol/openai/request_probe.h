// The passthrough path's only look at an OpenAI request body: validate it, read the few fields
// the gateway decides on (model, stream), and find the byte span of the `model` value so it can
// be rewritten in place. The body is never re-serialized.
#pragma once

#include "common/error.h"

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace sy::openai {

// The endpoints whose bodies are probed: OpenAI's two, Anthropic Messages (same shape for what
// is read here: model, stream, messages) and Gemini generateContent (model in the path: only
// validated).
enum class endpoint { chat_completions, embeddings, messages, generate_content };

struct request_probe {
  std::string model;
  std::size_t model_begin = 0;  // byte span of the model value, quotes included
  std::size_t model_end = 0;
  bool stream = false;
  bool include_usage = false;       // stream_options.include_usage
  bool has_stream_options = false;  // a stream_options member, whatever it holds
  // The most output the request allows, for budgets (-1: not given): max_completion_tokens, else
  // max_tokens (OpenAI, Anthropic), or generationConfig.maxOutputTokens (Gemini); and how many
  // choices it asks for (n, candidateCount). Wrong types are left to the codecs to refuse.
  std::int64_t max_output_tokens = -1;
  std::int64_t choices = 1;
};

std::variant<request_probe, error> probe_request(std::string_view body, endpoint kind);

// Replaces the model value of `body` (located by `probe`) with `upstream_model`.
void rewrite_model(std::string& body, const request_probe& probe, std::string_view upstream_model);

}  // namespace sy::openai
