// Fuzz target: the openai stream codec (src/protocol/openai/stream.h).
//
// The input is an upstream byte stream. It goes through sse::parser into an openai
// stream_decoder, and the IR events it gives into the encoders of all three protocols (none may
// crash). Properties:
// - the events are the same whether the bytes come whole or cut in two at a point derived from
//   the input (ids the decoder makes up for tool calls without one are not compared);
// - tool call events are well formed: tool_index counts from 0 in start order, and every
//   argument fragment belongs to a call that started;
// - the openai encoder's output is `data: ` frames only; decoded again, it says the same thing
//   (text, reasoning, tool calls, the finish reason as OpenAI spells it, usage when asked for),
//   and ends with [DONE] unless an error ended it.
#include "protocol/ir/codec.h"
#include "protocol/openai/codec.h"
#include "protocol/openai/stream.h"
#include "protocol/sse/sse.h"

#include "fuzz_check.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace {

using sy::ir::stream_event;
using kind = stream_event::kind;

std::vector<stream_event> decode(const std::vector<std::string_view>& pieces, bool* done) {
  sy::sse::parser parser;
  sy::openai::stream_decoder decoder;
  std::vector<stream_event> out;
  for (auto piece : pieces)
    parser.feed(piece, [&](const sy::sse::event& ev) { decoder.feed(ev, out); });
  if (done) *done = decoder.done();
  return out;
}

std::string show(const stream_event& e) {
  std::string s = std::to_string(static_cast<int>(e.type)) + "|" + std::to_string(e.tool_index) +
                  "|" + e.text + "|" + (e.type == kind::tool_call_start ? "" : e.id) + "|" +
                  e.name + "|" + std::to_string(static_cast<int>(e.reason)) + "|" +
                  std::to_string(e.tokens.input) + "," + std::to_string(e.tokens.output) + "," +
                  std::to_string(e.tokens.cache_read) + "," + std::to_string(e.tokens.reasoning);
  if (e.type == kind::error) s += "|" + e.failure.message;
  return s;
}

struct summary {
  std::string text, reasoning;
  std::map<int, std::string> names, args;
  sy::ir::finish_reason reason = sy::ir::finish_reason::none;
  sy::ir::usage tokens;
  bool failed = false;
};

// What the events say, up to the first error.
summary summarise(const std::vector<stream_event>& events) {
  summary s;
  for (const auto& e : events) {
    if (e.type == kind::error) {
      s.failed = true;
      break;
    }
    if (e.type == kind::text_delta) s.text += e.text;
    if (e.type == kind::reasoning_delta) s.reasoning += e.text;
    if (e.type == kind::tool_call_start) s.names[e.tool_index] = e.name;
    if (e.type == kind::tool_args_delta) s.args[e.tool_index] += e.text;
    if (e.type == kind::finish) s.reason = e.reason;
    if (e.type == kind::usage || e.type == kind::start) s.tokens.merge(e.tokens);
  }
  return s;
}

// The finish reason after a trip through OpenAI's finish_reason strings.
sy::ir::finish_reason as_openai(sy::ir::finish_reason r) {
  using fr = sy::ir::finish_reason;
  switch (r) {
    case fr::length:
    case fr::context_exceeded:
      return fr::length;
    case fr::tool_calls:
      return fr::tool_calls;
    case fr::content_filter:
    case fr::refusal:
      return fr::content_filter;
    default:
      return fr::stop;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool done = false;
  const auto events = decode({in, "\n\n"}, &done);

  auto h = sy::fuzz::fnv1a(data, size);
  std::size_t cut = size ? h % (size + 1) : 0;
  auto split = decode({in.substr(0, cut), in.substr(cut), "\n\n"}, nullptr);
  FUZZ_CHECK(split.size() == events.size());
  for (std::size_t i = 0; i < events.size(); ++i)
    FUZZ_CHECK(show(split[i]) == show(events[i]));

  // Tool calls: indices from 0 in start order; arguments only for a started call.
  int started = 0;
  for (const auto& e : events) {
    if (e.type == kind::tool_call_start) {
      FUZZ_CHECK(e.tool_index == started);
      FUZZ_CHECK(!e.id.empty());
      ++started;
    }
    if (e.type == kind::tool_args_delta) FUZZ_CHECK(e.tool_index >= 0 && e.tool_index < started);
    if (e.type == kind::start) FUZZ_CHECK(&e == &events.front());
  }

  sy::ir::stream_options opts;
  opts.id = "chatcmpl-fuzz";
  opts.model = (h >> 8) & 1 ? "client-model" : "";
  opts.created = 1;
  opts.include_usage = (h >> 9) & 1;
  opts.json_array = (h >> 10) & 1;
  for (auto p : {sy::ir::protocol::anthropic, sy::ir::protocol::gemini}) {
    auto enc = sy::ir::make_stream_encoder(p, opts);
    std::string out;
    for (const auto& e : events)
      enc->encode(e, out);
    enc->finish(out);
  }

  sy::openai::stream_encoder enc(opts);
  std::string out;
  for (const auto& e : events)
    enc.encode(e, out);
  enc.finish(out);

  // Only data frames, each one line.
  for (std::size_t at = 0; at < out.size();) {
    FUZZ_CHECK(out.compare(at, 6, "data: ") == 0);
    auto end = out.find("\n\n", at);
    FUZZ_CHECK(end != std::string::npos);
    FUZZ_CHECK(out.find('\n', at) == end);
    at = end + 2;
  }

  bool again_done = false;
  auto again = decode({out}, &again_done);
  auto a = summarise(events), b = summarise(again);
  FUZZ_CHECK(b.failed == a.failed);
  FUZZ_CHECK(again_done == !a.failed);
  FUZZ_CHECK(b.text == a.text);
  FUZZ_CHECK(b.reasoning == a.reasoning);
  FUZZ_CHECK(b.names == a.names);
  // Fragments may be empty on the way in and are then not written: compare the whole text.
  for (const auto& [i, text] : a.args)
    FUZZ_CHECK((b.args.count(i) ? b.args[i] : std::string()) == text);
  if (!a.failed) {
    FUZZ_CHECK(b.reason == as_openai(a.reason));
    if (opts.include_usage) {
      FUZZ_CHECK(b.tokens.input == std::max<std::int64_t>(a.tokens.input, 0));
      FUZZ_CHECK(b.tokens.output == std::max<std::int64_t>(a.tokens.output, 0));
      FUZZ_CHECK(b.tokens.cache_read == std::max<std::int64_t>(a.tokens.cache_read, 0));
      FUZZ_CHECK(b.tokens.reasoning == std::max<std::int64_t>(a.tokens.reasoning, 0));
    }
  }
  return 0;
}
