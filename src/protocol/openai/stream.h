// The openai stream decoder (upstream SSE events -> IR events) and encoder (IR events -> the
// client's framing). One of each per response; not thread-safe.
#pragma once

#include "protocol/ir/codec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sy::openai {

class stream_decoder final : public ir::stream_decoder {
 public:
  void feed(const sse::event& ev, std::vector<ir::stream_event>& out) override;
  bool done() const override { return done_; }

 private:
  // An upstream tool call: OpenAI numbers them with `index`; the IR numbers them from 0 in the
  // order they start, whatever indices (or none) a compatible server sends.
  struct tool_slot {
    std::int64_t key;  // the upstream index (a negative synthetic key when it sent none)
    int index;         // the IR tool_index
    std::string id;
  };
  tool_slot& slot_for(std::int64_t key, bool keyed, std::string_view id, std::string_view name,
                      std::vector<ir::stream_event>& out);

  std::vector<tool_slot> tools_;
  bool started_ = false;
  bool done_ = false;
  bool failed_ = false;
};

class stream_encoder final : public ir::stream_encoder {
 public:
  explicit stream_encoder(ir::stream_options options) : options_(std::move(options)) {}
  void encode(const ir::stream_event& ev, std::string& out) override;
  void finish(std::string& out) override;
  std::string_view content_type() const override;

 private:
  void start(std::string_view id, std::string_view model, std::string& out);
  void open_chunk(std::string& out) const;
  void close_chunk(std::string& out, std::string_view finish_reason) const;

  ir::stream_options options_;
  std::string prefix_;  // {"id":...,"model":...,"choices":[{"index":0,"delta": (built once)
  std::string head_;    // {"id":...,"model":...  (for the usage chunk)
  ir::usage usage_;
  ir::finish_reason reason_ = ir::finish_reason::none;
  bool started_ = false;
  bool ended_ = false;  // finish() ran, or an error was written
};

}  // namespace sy::openai
