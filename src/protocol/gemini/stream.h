// The gemini stream decoder (upstream SSE events -> IR events) and encoder (IR events -> the
// client's framing). One of each per response; not thread-safe.
#pragma once

#include "protocol/ir/codec.h"

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace sy::gemini {

// Each `data:` event is a whole GenerateContentResponse. The first gives `start`; the one with a
// finishReason (or a blocked prompt, or an error object) ends the stream.
class stream_decoder final : public ir::stream_decoder {
 public:
  void feed(const sse::event& ev, std::vector<ir::stream_event>& out) override;
  bool done() const override { return done_; }

 private:
  void object(const boost::json::value& v, std::vector<ir::stream_event>& out);
  void fail(std::string message, std::vector<ir::stream_event>& out);

  bool done_ = false;
  bool started_ = false;
  bool saw_call_ = false;
  int tool_index_ = 0;
  ir::usage reported_;  // the last counts sent, so unchanged usageMetadata is not repeated
  std::string key_buf_;
};

// Writes `data: <GenerateContentResponse>\r\n\r\n` per delta, or with options.json_array one
// JSON array (`[`, objects separated by `,\r\n`, `]`) as Gemini answers without ?alt=sse.
class stream_encoder final : public ir::stream_encoder {
 public:
  explicit stream_encoder(ir::stream_options options) : options_(std::move(options)) {}
  void encode(const ir::stream_event& ev, std::string& out) override;
  void finish(std::string& out) override;
  std::string_view content_type() const override;

 private:
  void begin_object(std::string& out);
  void end_object(std::string& out);
  // {"candidates":[{"content":{"parts":[ ... up to where the parts go.
  void begin_candidate(std::string& out);
  // ... ],"role":"model"}[,"finishReason"],"index":0}][,usageMetadata],"modelVersion",
  // "responseId"}
  void end_candidate(std::string& out, bool last);
  void flush_call(std::string& out);
  void append_call(std::string& out);

  ir::stream_options options_;
  std::string id_;
  std::string model_;
  bool opened_ = false;    // something was written (json_array: the `[`)
  bool finished_ = false;  // finish() ran
  bool failed_ = false;    // an error object was written: nothing but the closing follows
  ir::finish_reason reason_ = ir::finish_reason::none;
  ir::usage tokens_;
  // A tool call being assembled from argument fragments; written whole, as Gemini sends them.
  bool call_open_ = false;
  std::string call_id_;
  std::string call_name_;
  std::string call_args_;
};

}  // namespace sy::gemini
