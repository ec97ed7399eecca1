// Reads token usage out of an OpenAI response as it is relayed, without holding up a byte:
// from the SSE chunk that carries `usage`, or from the JSON body (kept up to a size cap).
#pragma once

#include "protocol/sse/sse.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace sy {

// What a response said it used; -1 where it said nothing. OpenAI's shape: the cached and
// cache-write counts are parts of prompt_tokens, reasoning is part of completion_tokens.
struct usage_counts {
  std::int64_t prompt_tokens = -1;
  std::int64_t completion_tokens = -1;
  std::int64_t cached_tokens = -1;          // read from a cache (OpenAI, Anthropic, Gemini)
  std::int64_t cache_write_tokens = -1;     // written to a cache, 5 minutes and 1 hour (Anthropic)
  std::int64_t cache_write_1h_tokens = -1;  // the part of cache_write_tokens kept for an hour
  std::int64_t reasoning_tokens = -1;       // thinking (OpenAI reasoning, Gemini thoughts)
};

}  // namespace sy

namespace sy::openai {

class usage_sniffer {
 public:
  explicit usage_sniffer(bool stream) : stream_(stream) {}

  void feed(std::string_view bytes);
  // Call after the last byte; returns what was found (-1 where nothing was).
  usage_counts finish();

  static constexpr std::size_t max_json_body = 4u << 20;

 private:
  void read_usage(std::string_view json);

  bool stream_;
  bool overflow_ = false;
  std::string body_;
  sse::parser sse_;
  usage_counts usage_;
};

}  // namespace sy::openai
