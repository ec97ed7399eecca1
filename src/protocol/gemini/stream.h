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
  // The last content part is held back until the next one (or the end) comes: Gemini's last
  // chunk carries its last part together with finishReason, and a chunk with no part, or an
  // empty text part, is what Gemini never sends.
  enum class held { none, text, thought, signature, call };

  void begin_object(std::string& out);
  void end_object(std::string& out);
  // {"candidates":[{"content":{"parts":[ ... up to where the parts go.
  void begin_candidate(std::string& out);
  // ... ],"role":"model"}[,"finishReason"],"index":0}] and the rest of the response.
  void end_candidate(std::string& out, bool last);
  void append_finish(std::string& out);
  // [,usageMetadata],"modelVersion","responseId"} and the framing.
  void end_response(std::string& out, bool last);
  void append_held(std::string& out);
  void flush_held(std::string& out);
  void hold(std::string& out, held what, std::string_view text);
  void send_now(std::string& out, held what, std::string_view text);

  ir::stream_options options_;
  std::string id_;
  std::string model_;
  bool opened_ = false;    // something was written (json_array: the `[`)
  bool finished_ = false;  // finish() ran
  bool failed_ = false;    // an error object was written: nothing but the closing follows
  ir::finish_reason reason_ = ir::finish_reason::none;
  ir::usage tokens_;
  held held_ = held::none;
  std::string held_text_;  // text, thought, signature, or a call's arguments so far
  std::string call_id_;
  std::string call_name_;
};

}  // namespace sy::gemini
