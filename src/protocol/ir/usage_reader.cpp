#include "protocol/ir/usage_reader.h"

#include <boost/json.hpp>

#include <cstring>

namespace sy::ir {

usage_reader::usage_reader(protocol p, bool stream) : protocol_(p), stream_(stream) {
  if (stream_) decoder_ = make_stream_decoder(p);
}

void usage_reader::feed(std::string_view bytes) {
  if (overflow_) return;
  if (!stream_) {
    if (body_.size() + bytes.size() > max_json_body) {
      overflow_ = true;
      body_.clear();
      return;
    }
    body_.append(bytes);
    return;
  }
  bool ok = sse_.feed(bytes, [this](const sse::event& e) {
    // Only events that carry counts are decoded (Anthropic message_start and message_delta,
    // Gemini usageMetadata): the text deltas in between are skipped by a substring test.
    if (!::memmem(e.data.data(), e.data.size(), "usage", 5)) return;
    decoder_->feed(e, events_);
    for (const auto& ev : events_) {
      if (ev.type == stream_event::kind::usage || ev.type == stream_event::kind::start) {
        usage_.merge(ev.tokens);
      }
    }
    events_.clear();
  });
  if (!ok) overflow_ = true;  // a "stream" with no line breaks: stop looking, keep relaying
}

usage usage_reader::finish() {
  if (!stream_ && !overflow_ && !body_.empty()) {
    auto first = body_.find_first_not_of(" \t\r\n");
    if (protocol_ == protocol::gemini && first != std::string::npos && body_[first] == '[') {
      // Gemini's stream without ?alt=sse: one JSON array of responses with running totals.
      boost::system::error_code ec;
      auto parsed = boost::json::parse(body_, ec);
      if (!ec && parsed.is_array()) {
        for (const auto& item : parsed.get_array()) {
          auto decoded = decode_response(protocol_, boost::json::serialize(item));
          if (auto* r = std::get_if<response>(&decoded)) usage_.merge(r->tokens);
        }
      }
    } else {
      auto decoded = decode_response(protocol_, body_);
      if (auto* r = std::get_if<response>(&decoded)) usage_.merge(r->tokens);
    }
  }
  return usage_;
}

}  // namespace sy::ir
