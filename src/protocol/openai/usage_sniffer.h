// Reads token usage out of an OpenAI response as it is relayed, without holding up a byte:
// from the SSE chunk that carries `usage`, or from the JSON body (kept up to a size cap).
#pragma once

#include "protocol/sse/sse.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace sy {

struct usage_counts {
  std::int64_t prompt_tokens = -1;  // -1: not reported
  std::int64_t completion_tokens = -1;
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
