// Fuzz target: the Anthropic stream codec (src/protocol/anthropic/stream.h).
//
// The input is an upstream byte stream, fed through sse::parser into the Anthropic stream
// decoder; its IR events go into the encoders of all three protocols. Properties:
// - the decoder gives the same events whether the input comes whole or cut in two at a point
//   derived from the input;
// - tool events use tool indexes the decoder has started, counted from 0;
// - the Anthropic encoder's output is what the official SDK's accumulator accepts: `event:` +
//   `data:` frames of JSON whose type is the event name, message_start first, content-block
//   indexes consecutive from 0, deltas and stops only for the open block (or, for tool
//   arguments, an earlier tool block), no block left open, message_delta with usage then
//   message_stop last — or an error event last;
// - decoding that output again gives the same content events (text, reasoning, signatures,
//   redacted reasoning, tool names and arguments) up to the first error.
#include "protocol/anthropic/stream.h"
#include "protocol/ir/codec.h"
#include "protocol/sse/sse.h"

#include "fuzz_check.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace ir = sy::ir;
using kind = ir::stream_event::kind;

std::vector<ir::stream_event> decode(const std::vector<std::string_view>& pieces) {
  sy::sse::parser parser;
  sy::anthropic::stream_decoder decoder;
  std::vector<ir::stream_event> out;
  auto on_event = [&](const sy::sse::event& ev) { decoder.feed(ev, out); };
  for (auto piece : pieces)
    parser.feed(piece, on_event);
  parser.feed("\n\n", on_event);
  return out;
}

// What must survive an encode/decode round: the content, with tool ids left out (the encoder
// makes them fit Anthropic's pattern).
std::string content(const std::vector<ir::stream_event>& events) {
  std::string s;
  for (const auto& e : events) {
    switch (e.type) {
      case kind::text_delta:
      case kind::reasoning_delta:
      case kind::reasoning_signature:
      case kind::redacted_reasoning:
      case kind::tool_args_delta:
        s += std::to_string(static_cast<int>(e.type)) + ":" + std::to_string(e.tool_index) + ":" +
             e.text + "\x1f";
        break;
      case kind::tool_call_start:
        s += "tool:" + std::to_string(e.tool_index) + ":" + e.name + "\x1f";
        break;
      case kind::error:
        s += "error:" + e.failure.message + "\x1f";
        return s;
      default:
        break;
    }
  }
  return s;
}

void check_sdk_order(const std::string& bytes) {
  std::vector<sy::sse::event> events;
  sy::sse::parser parser;
  parser.feed(bytes, [&](const sy::sse::event& e) { events.push_back(e); });
  FUZZ_CHECK(bytes.size() >= 2 && bytes.substr(bytes.size() - 2) == "\n\n");
  FUZZ_CHECK(!events.empty());
  bool errored = events.back().type == "error";
  FUZZ_CHECK(errored || events.front().type == "message_start");
  std::int64_t next = 0, open = -1;
  std::vector<std::int64_t> tool_blocks;
  bool delta_seen = false, stopped = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    boost::system::error_code ec;
    auto v = boost::json::parse(e.data, ec);
    FUZZ_CHECK(!ec && v.is_object());
    const auto& o = v.get_object();
    FUZZ_CHECK(o.contains("type") && o.at("type").as_string() == e.type);
    FUZZ_CHECK(!stopped);
    if (e.type == "error") {
      FUZZ_CHECK(i + 1 == events.size());
    } else if (e.type == "message_start") {
      FUZZ_CHECK(i == 0);
    } else if (e.type == "content_block_start") {
      FUZZ_CHECK(open < 0 && o.at("index").as_int64() == next);
      if (o.at("content_block").at("type").as_string() == "tool_use") tool_blocks.push_back(next);
      open = next++;
    } else if (e.type == "content_block_delta") {
      auto index = o.at("index").as_int64();
      bool late_args =
          o.at("delta").at("type").as_string() == "input_json_delta" &&
          std::find(tool_blocks.begin(), tool_blocks.end(), index) != tool_blocks.end();
      FUZZ_CHECK(index == open || late_args);
    } else if (e.type == "content_block_stop") {
      FUZZ_CHECK(o.at("index").as_int64() == open);
      open = -1;
    } else if (e.type == "message_delta") {
      FUZZ_CHECK(open < 0 && !delta_seen);
      FUZZ_CHECK(o.at("usage").at("output_tokens").is_int64());
      delta_seen = true;
    } else if (e.type == "message_stop") {
      FUZZ_CHECK(delta_seen);
      stopped = true;
    } else {
      FUZZ_CHECK(e.type == "ping");
    }
  }
  FUZZ_CHECK(stopped || errored);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto events = decode({in});

  auto h = sy::fuzz::fnv1a(data, size);
  std::size_t cut = size ? h % (size + 1) : 0;
  auto split = decode({in.substr(0, cut), in.substr(cut)});
  FUZZ_CHECK(split.size() == events.size());
  FUZZ_CHECK(content(split) == content(events));

  int tools = 0;
  for (const auto& e : events) {
    if (e.type == kind::tool_call_start) FUZZ_CHECK(e.tool_index == tools++);
    if (e.type == kind::tool_args_delta) FUZZ_CHECK(e.tool_index >= 0 && e.tool_index < tools);
  }

  ir::stream_options options;
  options.id = "msg_fuzz";
  options.model = "fuzz-model";
  options.include_usage = (h >> 8) & 1;
  for (auto p : {ir::protocol::openai, ir::protocol::gemini}) {
    auto encoder = ir::make_stream_encoder(p, options);
    std::string out;
    for (const auto& e : events)
      encoder->encode(e, out);
    encoder->finish(out);
  }

  sy::anthropic::stream_encoder encoder(options);
  std::string out;
  for (const auto& e : events)
    encoder.encode(e, out);
  encoder.finish(out);
  check_sdk_order(out);
  FUZZ_CHECK(content(decode({out})) == content(events));
  return 0;
}
