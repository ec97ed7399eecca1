// The anthropic stream decoder (upstream SSE events -> IR events) and encoder (IR events -> the
// client's framing). One of each per response; not thread-safe.
#pragma once

#include "protocol/anthropic/wire.h"
#include "protocol/ir/codec.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sy::anthropic {

class stream_decoder final : public ir::stream_decoder {
 public:
  void feed(const sse::event& ev, std::vector<ir::stream_event>& out) override;
  bool done() const override { return done_; }

 private:
  enum class block { none, other, text, thinking, tool };
  struct open_block {
    block kind = block::none;
    int tool_index = -1;
  };
  // The block a content-block index names, or null. Anthropic numbers blocks 0, 1, 2...: a
  // vector indexed by it, bounded so that an upstream's index cannot make it grow unchecked.
  static constexpr std::int64_t max_blocks = 4096;
  const open_block* find(std::int64_t index) const;
  void emit_usage(std::vector<ir::stream_event>& out);

  bool done_ = false;
  int tools_ = 0;                   // tool_use blocks seen: the IR's tool_index
  std::vector<open_block> blocks_;  // by content-block index
  wire::raw_usage usage_;           // running totals, Anthropic-shaped
};

class stream_encoder final : public ir::stream_encoder {
 public:
  explicit stream_encoder(ir::stream_options options) : options_(std::move(options)) {}
  void encode(const ir::stream_event& ev, std::string& out) override;
  void finish(std::string& out) override;
  std::string_view content_type() const override;

 private:
  enum class block { none, text, thinking, tool, redacted };
  void start(const ir::stream_event* ev, std::string& out);
  // Closes the open block and starts one of `kind`; `content_block` is its JSON object.
  void open(block kind, std::string_view content_block, std::string& out);
  void close(std::string& out);
  void signature(std::string_view text, std::string& out);  // a signature_delta; signs the block
  void begin(std::string_view type, std::string& out);      // "event: <type>\ndata: {\"type\":..."

  ir::stream_options options_;
  bool started_ = false;
  bool ended_ = false;  // finish() ran or an error was written: nothing more goes out
  block open_ = block::none;
  int index_ = -1;                            // the content-block index of the open (or last) block
  int open_tool_ = -1;                        // tool_index of the open tool_use block
  std::unordered_map<int, int> tool_blocks_;  // tool_index -> content-block index
  bool signed_ = false;                       // the open thinking block got its signature_delta
  ir::usage usage_;
  ir::finish_reason reason_ = ir::finish_reason::none;
  std::string stop_sequence_;
};

}  // namespace sy::anthropic
