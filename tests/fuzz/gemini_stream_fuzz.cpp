// Fuzz target: the gemini stream codec (src/protocol/gemini/stream.h).
//
// The input is an upstream byte stream. It goes through sse::parser into a gemini
// stream_decoder (nothing is fed once it is done, as in the server), and the IR events it gives
// into the encoders of all three protocols (none may crash). Properties:
// - the events are the same whether the bytes come whole or cut in two at a point derived from
//   the input (the ids made up for calls without one are not compared);
// - the events are well formed: start first, tool_index counts from 0 in start order, every
//   argument fragment belongs to the call started last, nothing after finish or error;
// - the gemini encoder's SSE output is `data: <JSON object>\r\n\r\n` frames only; decoded again
//   it says the same thing (text, thoughts, calls with their arguments, the finish reason, the
//   final token counts, the error message);
// - its JSON-array output is one JSON array of objects.
#include "protocol/gemini/stream.h"
#include "protocol/ir/codec.h"
#include "protocol/sse/sse.h"

#include "fuzz_check.h"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace bj = boost::json;
using sy::ir::protocol;
using sy::ir::stream_event;
using kind = stream_event::kind;

std::vector<stream_event> decode(const std::vector<std::string_view>& pieces, bool* done) {
  sy::sse::parser parser;
  sy::gemini::stream_decoder decoder;
  std::vector<stream_event> out;
  for (auto piece : pieces)
    parser.feed(piece, [&](const sy::sse::event& ev) {
      if (!decoder.done()) decoder.feed(ev, out);
    });
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

std::vector<std::string> show(const std::vector<stream_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(show(e));
  return out;
}

// What a client sees of a stream, to compare a stream with its re-encoding.
struct summary {
  std::string text, thoughts, calls, error;
  sy::ir::finish_reason finish = sy::ir::finish_reason::none;
  sy::ir::usage tokens;
  bool operator==(const summary&) const = default;
};

summary summarize(const std::vector<stream_event>& events) {
  summary s;
  for (const auto& e : events) {
    switch (e.type) {
      case kind::text_delta:
        s.text += e.text;
        break;
      case kind::reasoning_delta:
        s.thoughts += e.text;
        break;
      case kind::tool_call_start:
        s.calls += "|" + e.name + ":";
        break;
      case kind::tool_args_delta:
        s.calls += e.text;
        break;
      case kind::start:
      case kind::usage:
        s.tokens.merge(e.tokens);
        break;
      case kind::finish:
        s.finish = e.reason;
        break;
      case kind::error:
        s.error = e.failure.message;
        break;
      default:
        break;
    }
  }
  return s;
}

void check_well_formed(const std::vector<stream_event>& events) {
  int next_tool = 0;
  bool ended = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    FUZZ_CHECK(!ended);
    if (e.type == kind::start) FUZZ_CHECK(i == 0);
    if (e.type != kind::error) FUZZ_CHECK(events[0].type == kind::start);
    if (e.type == kind::tool_call_start) {
      FUZZ_CHECK(e.tool_index == next_tool++);
      FUZZ_CHECK(!e.id.empty());
    }
    if (e.type == kind::tool_args_delta) FUZZ_CHECK(e.tool_index == next_tool - 1);
    if (e.type == kind::finish || e.type == kind::error) ended = true;
  }
}

std::string encode(const std::vector<stream_event>& events, sy::ir::stream_options options) {
  sy::gemini::stream_encoder enc(std::move(options));
  std::string out;
  for (const auto& e : events)
    enc.encode(e, out);
  enc.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  bool done = false;
  auto events = decode({in}, &done);
  check_well_formed(events);

  auto h = sy::fuzz::fnv1a(data, size);
  std::size_t cut = size ? h % (size + 1) : 0;
  bool done_split = false;
  FUZZ_CHECK(show(decode({in.substr(0, cut), in.substr(cut)}, &done_split)) == show(events));
  FUZZ_CHECK(done_split == done);

  sy::ir::stream_options options;
  options.id = "resp_fuzz";
  options.model = "model-fuzz";
  options.include_usage = (h >> 8) & 1;
  for (auto p : {protocol::openai, protocol::anthropic, protocol::gemini}) {
    auto enc = sy::ir::make_stream_encoder(p, options);
    std::string out;
    for (const auto& e : events)
      enc->encode(e, out);
    enc->finish(out);
    (void)enc->content_type();
  }

  // SSE: frames of one JSON object each, saying what the events said.
  auto sse = encode(events, options);
  std::string_view rest(sse);
  while (!rest.empty()) {
    FUZZ_CHECK(rest.starts_with("data: "));
    auto end = rest.find("\r\n\r\n");
    FUZZ_CHECK(end != std::string_view::npos);
    auto payload = rest.substr(6, end - 6);
    FUZZ_CHECK(payload.find_first_of("\r\n") == std::string_view::npos);
    boost::system::error_code ec;
    auto v = bj::parse(payload, ec);
    FUZZ_CHECK(!ec && v.is_object());
    rest.remove_prefix(end + 4);
  }
  auto again = decode({sse}, nullptr);
  auto before = summarize(events);
  auto after = summarize(again);
  FUZZ_CHECK(after.text == before.text);
  FUZZ_CHECK(after.thoughts == before.thoughts);
  FUZZ_CHECK(after.calls == before.calls);
  FUZZ_CHECK(after.error == before.error);
  if (before.error.empty()) {
    if (before.finish != sy::ir::finish_reason::none) FUZZ_CHECK(after.finish == before.finish);
    FUZZ_CHECK(after.tokens.input == before.tokens.input);
    FUZZ_CHECK(after.tokens.output == before.tokens.output);
  }

  // The JSON array form: one array of objects.
  options.json_array = true;
  auto array = encode(events, options);
  boost::system::error_code ec;
  auto v = bj::parse(array, ec);
  FUZZ_CHECK(!ec && v.is_array() && !v.get_array().empty());
  for (const auto& item : v.get_array())
    FUZZ_CHECK(item.is_object());
  return 0;
}
