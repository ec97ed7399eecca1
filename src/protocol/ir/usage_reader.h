// Reads token usage out of an Anthropic or Gemini response relayed as bytes (passthrough), the
// way openai::usage_sniffer does for OpenAI: events of a stream that mention usage go through the
// protocol's stream decoder, a JSON body (kept up to a cap) through its response decoder. The
// bytes are never held up.
#pragma once

#include "protocol/ir/codec.h"
#include "protocol/sse/sse.h"

#include <memory>
#include <string>
#include <string_view>

namespace sy::ir {

class usage_reader {
 public:
  usage_reader(protocol p, bool stream);

  void feed(std::string_view bytes);
  // After the last byte: what was reported (counts left at -1 where nothing was).
  usage finish();

  static constexpr std::size_t max_json_body = 4u << 20;

 private:
  protocol protocol_;
  bool stream_;
  bool overflow_ = false;
  std::string body_;
  sse::parser sse_;
  std::unique_ptr<stream_decoder> decoder_;
  std::vector<stream_event> events_;
  usage usage_;
};

}  // namespace sy::ir
