// The Anthropic stream codec (protocol/anthropic/stream.h): the decoder on recorded streams, fed
// whole and split at every byte; the encoder's exact framing and the order the official SDK's
// accumulator relies on.
#include "protocol/anthropic/stream.h"

#include "../../read_fixture.h"
#include "ir_dump.h"
#include "protocol/sse/sse.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace sy::test {
namespace {

namespace bj = boost::json;
using kind = ir::stream_event::kind;

struct decoded {
  std::vector<ir::stream_event> events;
  bool done = false;
};

decoded decode_pieces(const std::vector<std::string_view>& pieces) {
  sse::parser parser;
  anthropic::stream_decoder decoder;
  decoded out;
  auto on_event = [&](const sse::event& ev) { decoder.feed(ev, out.events); };
  for (auto piece : pieces)
    parser.feed(piece, on_event);
  // The end of the body: some fixtures lack the blank line after their last event.
  parser.feed("\n\n", on_event);
  out.done = decoder.done();
  return out;
}

decoded decode_whole(std::string_view bytes) {
  return decode_pieces({bytes});
}

const char* const stream_fixtures[] = {
    "anthropic/messages_stream_tool_use.turn1.response.sse",
    "anthropic/messages_stream_tool_use.turn2_text.response.sse",
    "anthropic/sdk_fixtures/basic_response.sse",
    "anthropic/sdk_fixtures/tool_use_response.sse",
    "anthropic/thinking_stream.ASSEMBLED.sse",
    "anthropic/docs/streaming_basic.DOC.sse",
    "anthropic/docs/streaming_delta_examples.DOC.sse",
    "anthropic/docs/streaming_error_event_overloaded.DOC.sse",
};

TEST(anthropic_stream, every_split_point_gives_the_same_events) {
  for (const char* name : stream_fixtures) {
    SCOPED_TRACE(name);
    auto bytes = read_fixture(name);
    std::string_view all(bytes);
    auto whole = decode_whole(all);
    EXPECT_FALSE(whole.events.empty());
    for (std::size_t cut = 0; cut <= all.size(); ++cut) {
      auto split = decode_pieces({all.substr(0, cut), all.substr(cut)});
      ASSERT_EQ(dump(split.events), dump(whole.events)) << "cut at " << cut;
      ASSERT_EQ(split.done, whole.done) << "cut at " << cut;
    }
    std::vector<std::string_view> bytewise;
    for (std::size_t i = 0; i < all.size(); ++i)
      bytewise.push_back(all.substr(i, 1));
    EXPECT_EQ(dump(decode_pieces(bytewise).events), dump(whole.events));
  }
}

TEST(anthropic_stream, decodes_a_tool_use_stream_with_padding) {
  auto d = decode_whole(read_fixture("anthropic/messages_stream_tool_use.turn1.response.sse"));
  const std::string usage_start = "usage{in=656 out=26 read=0 write=0 1h=0 reasoning=-1}";
  std::vector<std::string> expected = {
      "start id=msg_01AusY9WEbCaj3N7Tv5J4YjH model=claude-haiku-4-5-20251001 " + usage_start,
      "usage " + usage_start,
      "tool_start #0 id=toolu_018acGYLtfR52q9yDbWaEdQZ name=get_weather",
      R"(tool_args #0 {")",
      "tool_args #0 loca",
      "tool_args #0 tio",
      R"(tool_args #0 n": )",
      R"(tool_args #0 "San Fr)",
      "tool_args #0 anci",
      R"(tool_args #0 sco, CA")",
      R"(tool_args #0 , ")",
      R"(tool_args #0 units": "f"})",
      "usage usage{in=656 out=74 read=0 write=0 1h=0 reasoning=-1}",
      "finish tool_calls ",
  };
  EXPECT_EQ(dump(d.events), expected);
  EXPECT_TRUE(d.done);
}

TEST(anthropic_stream, decodes_thinking_then_text) {
  auto d = decode_whole(read_fixture("anthropic/thinking_stream.ASSEMBLED.sse"));
  auto events = dump(d.events);
  ASSERT_EQ(events.size(), 2u + 6u + 1u + 4u + 2u);
  EXPECT_EQ(events[0],
            "start id=msg_01DfGoUwMtftE8VM22axQ2Jc model=claude-3-7-sonnet-20250219 "
            "usage{in=778 out=5 read=0 write=0 1h=-1 reasoning=-1}");
  EXPECT_EQ(events[2], "reasoning The user has simply");
  EXPECT_EQ(events[8].substr(0, 20), "signature ErUBCkYIAR");
  EXPECT_EQ(events[9], "text Hello! I'm Assistant, an AI here to help you.");
  // message_delta reports only output_tokens: the prompt count from message_start stays.
  EXPECT_EQ(events[13], "usage usage{in=778 out=104 read=0 write=0 1h=-1 reasoning=-1}");
  EXPECT_EQ(events[14], "finish stop ");
  EXPECT_TRUE(d.done);
}

TEST(anthropic_stream, tool_index_counts_tool_blocks_only) {
  auto d = decode_whole(read_fixture("anthropic/sdk_fixtures/tool_use_response.sse"));
  auto events = dump(d.events);
  ASSERT_GE(events.size(), 6u);
  EXPECT_EQ(events[2], "text I");
  EXPECT_EQ(events[4], "tool_start #0 id=toolu_01NRLabsLyVHZPKxbKvkfSMn name=get_weather");
  EXPECT_EQ(events[5], R"(tool_args #0 {"locati)");
  EXPECT_EQ(events.back(), "finish tool_calls ");
}

TEST(anthropic_stream, error_event) {
  auto d = decode_whole(read_fixture("anthropic/docs/streaming_error_event_overloaded.DOC.sse"));
  ASSERT_EQ(d.events.size(), 1u);
  EXPECT_EQ(d.events[0].type, kind::error);
  EXPECT_EQ(d.events[0].failure.kind, ir::error_kind::overloaded);
  EXPECT_EQ(d.events[0].failure.status, 529);
  EXPECT_EQ(d.events[0].failure.message, "Overloaded");
  EXPECT_FALSE(d.done);
}

TEST(anthropic_stream, deltas_of_unstarted_blocks) {
  // The docs' excerpt: deltas without their content_block_start. Text and thinking pass; a
  // tool's arguments cannot (no call to attach them to).
  auto d = decode_whole(read_fixture("anthropic/docs/streaming_delta_examples.DOC.sse"));
  auto events = dump(d.events);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0], "text ello frien");
  EXPECT_EQ(events[1].substr(0, 26), "reasoning I need to find t");
  EXPECT_EQ(events[2].substr(0, 19), "signature EqQBCgIYA");
}

TEST(anthropic_stream, nothing_counts_after_message_stop) {
  anthropic::stream_decoder decoder;
  std::vector<ir::stream_event> out;
  decoder.feed({"message_stop", R"({"type":"message_stop"})", ""}, out);
  EXPECT_TRUE(decoder.done());
  decoder.feed(
      {"content_block_delta",
       R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}})", ""},
      out);
  EXPECT_TRUE(out.empty());
}

TEST(anthropic_stream, malformed_events) {
  anthropic::stream_decoder decoder;
  std::vector<ir::stream_event> out;
  decoder.feed({"ping", R"({"type": "ping"})", ""}, out);
  decoder.feed({"", R"({"type": "ping"})", ""}, out);
  decoder.feed({"content_block_stop", R"({"type":"content_block_stop","index":0})", ""}, out);
  decoder.feed({"something_new", R"({"type":"something_new","x":[1,2]})", ""}, out);
  decoder.feed({"message_delta", R"({"type":"message_delta","delta":{"stop_reason":null}})", ""},
               out);
  EXPECT_TRUE(out.empty());
  decoder.feed({"message_start", "{not json", ""}, out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].type, kind::error);
  EXPECT_EQ(out[0].failure.kind, ir::error_kind::server);
  EXPECT_FALSE(decoder.done());
}

TEST(anthropic_stream, block_indexes_out_of_range) {
  anthropic::stream_decoder decoder;
  std::vector<ir::stream_event> out;
  decoder.feed(
      {"content_block_start",
       R"({"type":"content_block_start","index":1000000,"content_block":{"type":"tool_use","id":"t","name":"f","input":{}}})",
       ""},
      out);
  decoder.feed(
      {"content_block_delta",
       R"({"type":"content_block_delta","index":1000000,"delta":{"type":"input_json_delta","partial_json":"{}"}})",
       ""},
      out);
  decoder.feed(
      {"content_block_delta",
       R"({"type":"content_block_delta","index":-1,"delta":{"type":"text_delta","text":"x"}})", ""},
      out);
  // The call is reported; arguments for a block the decoder does not track are not.
  EXPECT_EQ(dump(out), (std::vector<std::string>{"tool_start #0 id=t name=f", "text x"}));
}

TEST(anthropic_stream, stop_sequence_and_cache_usage) {
  anthropic::stream_decoder decoder;
  std::vector<ir::stream_event> out;
  decoder.feed(
      {"message_start",
       R"({"type":"message_start","message":{"id":"m","model":"c","usage":{"input_tokens":10,)"
       R"("cache_read_input_tokens":100,"cache_creation_input_tokens":20,)"
       R"("cache_creation":{"ephemeral_1h_input_tokens":5},"output_tokens":1}}})",
       ""},
      out);
  decoder.feed(
      {"message_delta",
       R"({"type":"message_delta","delta":{"stop_reason":"stop_sequence","stop_sequence":"END"},)"
       R"("usage":{"output_tokens":9}})",
       ""},
      out);
  EXPECT_EQ(dump(out),
            (std::vector<std::string>{
                "start id=m model=c usage{in=130 out=1 read=100 write=20 1h=5 reasoning=-1}",
                "usage usage{in=130 out=1 read=100 write=20 1h=5 reasoning=-1}",
                "usage usage{in=130 out=9 read=100 write=20 1h=5 reasoning=-1}",
                "finish stop_sequence END",
            }));
}

// --- encoder -------------------------------------------------------------------------------------

ir::stream_event ev(kind k, std::string text = {}, int tool_index = 0) {
  ir::stream_event e;
  e.type = k;
  e.text = std::move(text);
  e.tool_index = tool_index;
  return e;
}

std::string encode_all(const std::vector<ir::stream_event>& events,
                       ir::stream_options options = {}) {
  anthropic::stream_encoder encoder(std::move(options));
  std::string out;
  for (const auto& e : events)
    encoder.encode(e, out);
  encoder.finish(out);
  return out;
}

// What the official SDK's MessageStream accumulator relies on: message_start first, block
// indexes consecutive from 0, deltas for the open block only, every started block stopped, a
// message_delta with usage, then message_stop last; every frame is `event:` + `data:` JSON
// whose type matches the event name.
testing::AssertionResult sdk_accepts(const std::string& bytes) {
  std::vector<sse::event> events;
  sse::parser parser;
  parser.feed(bytes, [&](const sse::event& e) { events.push_back(e); });
  if (bytes.size() < 2 || bytes.substr(bytes.size() - 2) != "\n\n")
    return testing::AssertionFailure() << "does not end with a blank line";
  if (events.empty() || events.front().type != "message_start")
    return testing::AssertionFailure() << "message_start is not first";
  int next = 0, open = -1;
  bool delta_seen = false, stopped = false;
  for (std::size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    boost::system::error_code ec;
    auto v = bj::parse(e.data, ec);
    if (ec || !v.is_object()) return testing::AssertionFailure() << "bad JSON: " << e.data;
    const auto& o = v.get_object();
    if (!o.contains("type") || o.at("type").as_string() != e.type)
      return testing::AssertionFailure() << "type mismatch in " << e.data;
    if (stopped) return testing::AssertionFailure() << "event after message_stop";
    if (e.type == "content_block_start") {
      if (open >= 0) return testing::AssertionFailure() << "block " << open << " not stopped";
      if (o.at("index").as_int64() != next)
        return testing::AssertionFailure() << "index " << o.at("index") << ", expected " << next;
      open = next++;
    } else if (e.type == "content_block_delta") {
      if (o.at("index").as_int64() != open)
        return testing::AssertionFailure() << "delta for block " << o.at("index");
    } else if (e.type == "content_block_stop") {
      if (o.at("index").as_int64() != open)
        return testing::AssertionFailure() << "stop for block " << o.at("index");
      open = -1;
    } else if (e.type == "message_delta") {
      if (open >= 0) return testing::AssertionFailure() << "message_delta with a block open";
      if (!o.contains("usage") || !o.at("usage").at("output_tokens").is_int64())
        return testing::AssertionFailure() << "message_delta without usage";
      delta_seen = true;
    } else if (e.type == "message_stop") {
      if (!delta_seen) return testing::AssertionFailure() << "message_stop before message_delta";
      stopped = true;
    } else if (e.type == "message_start") {
      if (i != 0) return testing::AssertionFailure() << "second message_start";
    } else if (e.type != "ping") {
      return testing::AssertionFailure() << "unexpected event " << e.type;
    }
  }
  if (!stopped) return testing::AssertionFailure() << "no message_stop";
  return testing::AssertionSuccess();
}

TEST(anthropic_stream, exact_framing_of_a_text_stream) {
  ir::stream_event start = ev(kind::start);
  start.id = "msg_1";
  start.name = "upstream-model";
  start.tokens.input = 12;
  ir::stream_event usage = ev(kind::usage);
  usage.tokens.input = 12;
  usage.tokens.output = 3;
  ir::stream_event fin = ev(kind::finish);
  fin.reason = ir::finish_reason::stop;
  ir::stream_options options;
  options.model = "claude-x";
  auto out = encode_all(
      {start, ev(kind::text_delta, "Hello"), ev(kind::text_delta, " \"w\"\n"), usage, fin},
      options);
  EXPECT_EQ(
      out,
      "event: message_start\n"
      R"(data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant",)"
      R"("model":"claude-x","content":[],"stop_reason":null,"stop_sequence":null,"usage":{)"
      R"("input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,)"
      R"("output_tokens":1}}})"
      "\n\n"
      "event: ping\ndata: {\"type\":\"ping\"}\n\n"
      "event: content_block_start\n"
      R"(data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})"
      "\n\n"
      "event: content_block_delta\n"
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}})"
      "\n\n"
      "event: content_block_delta\n"
      R"(data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":" \"w\"\n"}})"
      "\n\n"
      "event: content_block_stop\n"
      R"(data: {"type":"content_block_stop","index":0})"
      "\n\n"
      "event: message_delta\n"
      R"(data: {"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"input_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,)"
      R"("output_tokens":3}})"
      "\n\n"
      "event: message_stop\n"
      R"(data: {"type":"message_stop"})"
      "\n\n");
  EXPECT_TRUE(sdk_accepts(out));
}

TEST(anthropic_stream, blocks_of_every_kind) {
  ir::stream_event call = ev(kind::tool_call_start, "", 0);
  call.id = "call_1";
  call.name = "f";
  ir::stream_event call2 = call;
  call2.tool_index = 1;
  call2.id = "call_2";
  ir::stream_event fin = ev(kind::finish);
  fin.reason = ir::finish_reason::stop;  // a vendor that says stop after tool calls
  auto out = encode_all({
      ev(kind::reasoning_delta, "think"),
      ev(kind::reasoning_delta, " more"),
      ev(kind::reasoning_signature, "sig1"),
      ev(kind::reasoning_delta, "second thought"),  // after a signature: a new block
      ev(kind::redacted_reasoning, "opaque"),
      ev(kind::text_delta, ""),  // nothing: no block for it
      ev(kind::text_delta, "answer"),
      call,
      ev(kind::tool_args_delta, R"({"a":)", 0),
      ev(kind::tool_args_delta, "1}", 0),
      call2,
      ev(kind::tool_args_delta, "{}", 1),
      fin,
  });
  EXPECT_TRUE(sdk_accepts(out)) << out;

  // Read back by our own decoder: the same content.
  auto d = decode_whole(out);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(dump(d.events),
            (std::vector<std::string>{
                "start id= model= usage{in=0 out=1 read=0 write=0 1h=-1 reasoning=-1}",
                "usage usage{in=0 out=1 read=0 write=0 1h=-1 reasoning=-1}",
                "reasoning think",
                "reasoning  more",
                "signature sig1",
                "reasoning second thought",  // its block closes with an empty signature
                "redacted opaque",
                "text answer",
                "tool_start #0 id=call_1 name=f",
                R"(tool_args #0 {"a":)",
                "tool_args #0 1}",
                "tool_start #1 id=call_2 name=f",
                "tool_args #1 {}",
                "usage usage{in=0 out=0 read=0 write=0 1h=-1 reasoning=-1}",
                "finish tool_calls ",
            }));
  EXPECT_NE(out.find(R"("delta":{"type":"signature_delta","signature":"sig1"}})"),
            std::string::npos);
  EXPECT_NE(out.find(R"("delta":{"type":"signature_delta","signature":""}})"), std::string::npos);
}

TEST(anthropic_stream, recorded_streams_survive_decode_then_encode) {
  for (const char* name : stream_fixtures) {
    SCOPED_TRACE(name);
    auto first = decode_whole(read_fixture(name));
    if (!first.events.empty() && first.events[0].type == kind::error) continue;
    auto out = encode_all(first.events);
    EXPECT_TRUE(sdk_accepts(out)) << out;
    // The content (not the usage bookkeeping) reads back the same; the encoder adds a finish
    // where the excerpt had none.
    bool finished = false;
    for (const auto& e : first.events)
      finished |= e.type == kind::finish;
    auto content = [&](const std::vector<ir::stream_event>& events) {
      std::vector<std::string> out;
      for (const auto& e : events)
        if (e.type != kind::usage && e.type != kind::start && (finished || e.type != kind::finish))
          out.push_back(dump(e));
      return out;
    };
    auto second = decode_whole(out);
    EXPECT_EQ(content(second.events), content(first.events));
    EXPECT_TRUE(second.done);
  }
}

TEST(anthropic_stream, error_ends_the_stream) {
  anthropic::stream_encoder encoder({});
  std::string out;
  encoder.encode(ev(kind::text_delta, "partial"), out);
  ir::stream_event failure = ev(kind::error);
  failure.failure.kind = ir::error_kind::overloaded;
  failure.failure.message = "Overloaded";
  std::string before = out;
  encoder.encode(failure, out);
  EXPECT_EQ(out.substr(before.size()),
            "event: error\n"
            R"(data: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"
            "\n\n");
  auto size = out.size();
  encoder.encode(ev(kind::text_delta, "more"), out);
  encoder.finish(out);
  encoder.finish(out);
  EXPECT_EQ(out.size(), size);

  auto d = decode_whole(out);
  ASSERT_FALSE(d.events.empty());
  EXPECT_EQ(d.events.back().type, kind::error);
  EXPECT_EQ(d.events.back().failure.kind, ir::error_kind::overloaded);
}

TEST(anthropic_stream, finish_alone_is_a_whole_message) {
  ir::stream_options options;
  options.id = "msg_fallback";
  options.model = "claude";
  auto out = encode_all({}, options);
  EXPECT_TRUE(sdk_accepts(out)) << out;
  EXPECT_NE(out.find(R"("id":"msg_fallback")"), std::string::npos);
  EXPECT_NE(out.find(R"("stop_reason":"end_turn")"), std::string::npos);
}

TEST(anthropic_stream, stop_reasons_and_usage_in_message_delta) {
  ir::stream_event usage = ev(kind::usage);
  usage.tokens.input = 1000;
  usage.tokens.cache_read = 600;
  usage.tokens.cache_write = 100;
  usage.tokens.output = 50;
  ir::stream_event fin = ev(kind::finish, "###");
  fin.reason = ir::finish_reason::stop_sequence;
  auto out = encode_all({ev(kind::text_delta, "x"), usage, fin});
  EXPECT_NE(
      out.find(
          R"({"stop_reason":"stop_sequence","stop_sequence":"###"},"usage":{"input_tokens":300,"cache_creation_input_tokens":100,"cache_read_input_tokens":600,"output_tokens":50}})"),
      std::string::npos)
      << out;
  fin.reason = ir::finish_reason::length;
  out = encode_all({fin});
  EXPECT_NE(out.find(R"("stop_reason":"max_tokens","stop_sequence":null)"), std::string::npos);
}

TEST(anthropic_stream, late_arguments_land_on_their_block) {
  ir::stream_event a = ev(kind::tool_call_start, "", 0);
  a.id = "a";
  a.name = "f";
  ir::stream_event b = a;
  b.tool_index = 1;
  b.id = "b";
  auto out =
      encode_all({a, b, ev(kind::tool_args_delta, "{}", 0), ev(kind::tool_args_delta, "{}", 7)});
  EXPECT_NE(out.find(R"("index":0,"delta":{"type":"input_json_delta","partial_json":"{}"})"),
            std::string::npos)
      << out;
  EXPECT_EQ(out.find("input_json_delta", out.find("input_json_delta") + 1), std::string::npos);
}

TEST(anthropic_stream, tool_ids_match_anthropics_pattern) {
  ir::stream_event a = ev(kind::tool_call_start, "", 0);
  a.id = "fc:1.x";
  a.name = "f";
  ir::stream_event b = ev(kind::tool_call_start, "", 1);
  b.name = "g";
  auto d = decode_whole(encode_all({a, b}));
  ASSERT_EQ(d.events.size(), 6u);
  EXPECT_EQ(d.events[2].id, "fc_1_x");
  EXPECT_EQ(d.events[3].id.substr(0, 6), "toolu_");
  EXPECT_EQ(d.events[3].id.size(), 30u);
}

TEST(anthropic_stream, content_type) {
  anthropic::stream_encoder encoder({});
  EXPECT_EQ(encoder.content_type(), "text/event-stream; charset=utf-8");
}

}  // namespace
}  // namespace sy::test
