// The openai stream decoder (upstream SSE events -> IR events) and encoder (IR events -> the
// client's framing). One of each per response; not thread-safe.
#pragma once

#include "protocol/ir/codec.h"

#include <string>
#include <vector>

namespace sy::openai {

class stream_decoder final : public ir::stream_decoder {
 public:
  void feed(const sse::event& ev, std::vector<ir::stream_event>& out) override;
  bool done() const override { return done_; }

 private:
  bool done_ = false;
};

class stream_encoder final : public ir::stream_encoder {
 public:
  explicit stream_encoder(ir::stream_options options) : options_(std::move(options)) {}
  void encode(const ir::stream_event& ev, std::string& out) override;
  void finish(std::string& out) override;
  std::string_view content_type() const override;

 private:
  ir::stream_options options_;
};

}  // namespace sy::openai
