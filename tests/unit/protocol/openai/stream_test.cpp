// The openai stream codec (protocol/openai/stream.h): recorded streams decoded at every split
// point, the encoder's exact framing, and the two composed.
#include "protocol/openai/stream.h"

#include "../../read_fixture.h"
#include "protocol/sse/sse.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace sy::test {
namespace {

namespace bj = boost::json;
using kind = ir::stream_event::kind;

// A comparable summary of one IR event.
std::string show(const ir::stream_event& e) {
  std::string s = std::to_string(static_cast<int>(e.type)) + "|" + std::to_string(e.tool_index) +
                  "|" + e.text + "|" + e.id + "|" + e.name + "|" +
                  std::string(ir::to_string(e.reason)) + "|";
  for (auto v : {e.tokens.input, e.tokens.output, e.tokens.cache_read, e.tokens.cache_write,
                 e.tokens.reasoning})
    s += std::to_string(v) + ",";
  if (e.type == kind::error)
    s += "|" + std::to_string(static_cast<int>(e.failure.kind)) + "|" + e.failure.message;
  return s;
}

struct decoded {
  std::vector<ir::stream_event> events;
  bool done = false;
};

// Feeds `pieces` through an SSE parser into a fresh decoder.
decoded decode_pieces(const std::vector<std::string_view>& pieces) {
  sse::parser parser;
  openai::stream_decoder decoder;
  decoded out;
  for (auto piece : pieces)
    EXPECT_TRUE(parser.feed(piece, [&](const sse::event& ev) { decoder.feed(ev, out.events); }));
  out.done = decoder.done();
  return out;
}

decoded decode_all(std::string_view bytes) {
  return decode_pieces({bytes});
}

std::vector<std::string> shown(const std::vector<ir::stream_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(show(e));
  return out;
}

// What a stream says, independent of how it was chunked.
struct summary {
  std::string id, model, text, reasoning;
  std::map<int, std::string> tool_ids, tool_names, tool_args;
  ir::finish_reason reason = ir::finish_reason::none;
  ir::usage tokens;
  int starts = 0, errors = 0;
};

summary summarise(const std::vector<ir::stream_event>& events) {
  summary s;
  for (const auto& e : events) {
    switch (e.type) {
      case kind::start:
        ++s.starts;
        s.id = e.id;
        s.model = e.name;
        break;
      case kind::text_delta:
        s.text += e.text;
        break;
      case kind::reasoning_delta:
        s.reasoning += e.text;
        break;
      case kind::tool_call_start:
        s.tool_ids[e.tool_index] = e.id;
        s.tool_names[e.tool_index] = e.name;
        break;
      case kind::tool_args_delta:
        s.tool_args[e.tool_index] += e.text;
        break;
      case kind::usage:
        s.tokens.merge(e.tokens);
        break;
      case kind::finish:
        s.reason = e.reason;
        break;
      case kind::error:
        ++s.errors;
        break;
      default:
        break;
    }
  }
  return s;
}

const char* const stream_fixtures[] = {
    "chat_streaming.response.sse",
    "chat_streaming_detailed_usage.response.sse",
    "stream_tool_call_single.response.sse",
    "stream_tool_calls_parallel.response.sse",
    "stream_finish_reason_length.response.sse",
};

// ---------------------------------------------------------------------------------------------
// Decoder

TEST(openai_stream, every_split_point_gives_the_same_events) {
  for (const char* name : stream_fixtures) {
    SCOPED_TRACE(name);
    auto bytes = read_fixture(std::string("openai/") + name);
    std::string_view in = bytes;
    auto whole = decode_all(in);
    ASSERT_TRUE(whole.done);
    auto expected = shown(whole.events);
    for (std::size_t cut = 0; cut <= in.size(); ++cut) {
      auto split = decode_pieces({in.substr(0, cut), in.substr(cut)});
      ASSERT_EQ(shown(split.events), expected) << "cut at " << cut;
      ASSERT_TRUE(split.done);
    }
    std::vector<std::string_view> bytewise;
    for (std::size_t i = 0; i < in.size(); ++i)
      bytewise.push_back(in.substr(i, 1));
    EXPECT_EQ(shown(decode_pieces(bytewise).events), expected);
  }
}

TEST(openai_stream, decodes_recorded_text_stream) {
  auto d = decode_all(read_fixture("openai/chat_streaming.response.sse"));
  ASSERT_FALSE(d.events.empty());
  EXPECT_EQ(d.events.front().type, kind::start);
  EXPECT_EQ(d.events.front().id, "chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp");
  EXPECT_EQ(d.events.front().name, "gpt-5-nano-2025-08-07");
  EXPECT_EQ(d.events.back().type, kind::finish);
  EXPECT_EQ(d.events.back().reason, ir::finish_reason::stop);
  auto s = summarise(d.events);
  EXPECT_EQ(s.starts, 1);
  EXPECT_EQ(s.text.substr(0, 30), "Hi there! How can I help today");
  EXPECT_TRUE(s.tokens.empty());  // no include_usage: no usage chunk
  for (const auto& e : d.events) {
    if (e.type == kind::text_delta) {
      EXPECT_FALSE(e.text.empty());  // the role chunk's "" is no delta
    }
  }
}

TEST(openai_stream, decodes_recorded_usage_stream) {
  auto d = decode_all(read_fixture("openai/chat_streaming_detailed_usage.response.sse"));
  ASSERT_EQ(d.events.size(), 3u);  // start, finish, usage
  EXPECT_EQ(d.events[1].type, kind::finish);
  EXPECT_EQ(d.events[1].reason, ir::finish_reason::length);
  EXPECT_EQ(d.events[2].type, kind::usage);
  EXPECT_EQ(d.events[2].tokens.input, 12);
  EXPECT_EQ(d.events[2].tokens.output, 100);
  EXPECT_EQ(d.events[2].tokens.reasoning, 100);
  EXPECT_EQ(d.events[2].tokens.cache_read, 0);
}

TEST(openai_stream, decodes_recorded_parallel_tool_calls) {
  auto d = decode_all(read_fixture("openai/stream_tool_calls_parallel.response.sse"));
  auto s = summarise(d.events);
  ASSERT_EQ(s.tool_ids.size(), 2u);
  EXPECT_EQ(s.tool_ids[0], "call_JMW1whyEaYG438VE1OIflxA2");
  EXPECT_EQ(s.tool_names[0], "GetWeatherArgs");
  EXPECT_EQ(s.tool_ids[1], "call_DNYTawLBoN8fj3KN6qU9N1Ou");
  EXPECT_EQ(s.tool_names[1], "get_stock_price");
  EXPECT_EQ(bj::parse(s.tool_args[0]),
            bj::parse(R"({"city":"Edinburgh","country":"GB","units":"c"})"));
  EXPECT_TRUE(bj::parse(s.tool_args[1]).is_object());
  EXPECT_EQ(s.reason, ir::finish_reason::tool_calls);
  EXPECT_EQ(s.tokens.input, 149);
  EXPECT_EQ(s.tokens.output, 60);
  EXPECT_TRUE(s.text.empty());

  auto single =
      summarise(decode_all(read_fixture("openai/stream_tool_call_single.response.sse")).events);
  EXPECT_EQ(single.tool_names[0], "get_weather");
  EXPECT_EQ(single.tool_args[0], R"({"city":"New York City"})");

  auto length =
      summarise(decode_all(read_fixture("openai/stream_finish_reason_length.response.sse")).events);
  EXPECT_EQ(length.text, "{\"");
  EXPECT_EQ(length.reason, ir::finish_reason::length);
  EXPECT_EQ(length.tokens.input, 79);
}

TEST(openai_stream, compatible_server_variants) {
  // DeepSeek: reasoning_content deltas, usage on the finish chunk. vLLM: `reasoning`, sometimes
  // next to reasoning_content (one is taken). Ollama: whole tool calls without an index.
  auto d = decode_all(
      "data: {\"id\":\"a\",\"model\":\"ds\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
      "\"assistant\",\"content\":null,\"reasoning_content\":\"Let\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"reasoning\":\" me\",\"reasoning_content\":"
      "\" me\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":1,\"delta\":{\"content\":\"other choice\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"id\":\"x1\",\"type\":"
      "\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\"}},{\"id\":\"x2\","
      "\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],"
      "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":7,\"prompt_cache_hit_tokens\":2}}\n\n"
      "data: [DONE]\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"after done\"}}]}\n\n");
  EXPECT_TRUE(d.done);
  auto s = summarise(d.events);
  EXPECT_EQ(s.id, "a");
  EXPECT_EQ(s.reasoning, "Let me");
  EXPECT_EQ(s.text, "Hi");
  ASSERT_EQ(s.tool_ids.size(), 2u);
  EXPECT_EQ(s.tool_ids[1], "x2");
  EXPECT_EQ(s.tool_args[0], R"({"a":1})");
  EXPECT_EQ(s.tool_args[1], "{}");
  EXPECT_EQ(s.tokens.cache_read, 2);
  // usage comes before finish when one chunk holds both
  ASSERT_GE(d.events.size(), 2u);
  EXPECT_EQ(d.events[d.events.size() - 2].type, kind::usage);
  EXPECT_EQ(d.events.back().type, kind::finish);

  // Every call numbered 0, told apart by id; a call with no id gets one made up.
  auto zero = decode_all(
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"p\","
      "\"function\":{\"name\":\"f\",\"arguments\":\"\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"p\","
      "\"function\":{\"arguments\":\"{}\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"q\","
      "\"function\":{\"name\":\"g\",\"arguments\":\"[1]\"}}]}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":3,"
      "\"function\":{\"name\":\"h\"}}]}}]}\n\n");
  auto z = summarise(zero.events);
  ASSERT_EQ(z.tool_ids.size(), 3u);
  EXPECT_EQ(z.tool_args[0], "{}");
  EXPECT_EQ(z.tool_names[1], "g");
  EXPECT_EQ(z.tool_args[1], "[1]");
  EXPECT_EQ(z.tool_ids[2].substr(0, 5), "call_");
  EXPECT_EQ(z.tool_ids[2].size(), 29u);
  EXPECT_FALSE(zero.done);

  auto legacy = summarise(
      decode_all(
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"function_call\":{\"name\":\"f\","
          "\"arguments\":\"\"}}}]}\n\n"
          "data: "
          "{\"choices\":[{\"index\":0,\"delta\":{\"function_call\":{\"arguments\":\"{}\"}}}]}\n\n"
          "data: "
          "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"function_call\"}]}\n\n")
          .events);
  EXPECT_EQ(legacy.tool_names[0], "f");
  EXPECT_EQ(legacy.tool_args[0], "{}");
  EXPECT_EQ(legacy.reason, ir::finish_reason::tool_calls);
}

TEST(openai_stream, errors_in_the_stream) {
  auto d = decode_all(
      "data: {\"id\":\"a\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n"
      "data: {\"error\":{\"message\":\"Rate limit reached\",\"type\":\"rate_limit_error\","
      "\"code\":\"rate_limit_exceeded\"}}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ignored\"}}]}\n\n");
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[2].type, kind::error);
  EXPECT_EQ(d.events[2].failure.kind, ir::error_kind::rate_limit);
  EXPECT_EQ(d.events[2].failure.status, 429);
  EXPECT_EQ(d.events[2].failure.message, "Rate limit reached");
  EXPECT_FALSE(d.done);

  auto garbage = decode_all("data: {\"choices\":[\n\n");
  ASSERT_EQ(garbage.events.size(), 1u);
  EXPECT_EQ(garbage.events[0].type, kind::error);
  EXPECT_EQ(garbage.events[0].failure.kind, ir::error_kind::server);

  auto vllm = decode_all(
      "data: {\"object\":\"error\",\"message\":\"boom\",\"type\":\"InternalServerError\","
      "\"code\":500}\n\n");
  ASSERT_EQ(vllm.events.size(), 1u);
  EXPECT_EQ(vllm.events[0].failure.status, 500);
  EXPECT_EQ(vllm.events[0].failure.message, "boom");
}

// ---------------------------------------------------------------------------------------------
// Encoder

ir::stream_event ev(kind k, std::string text = {}, int tool_index = 0) {
  ir::stream_event e;
  e.type = k;
  e.text = std::move(text);
  e.tool_index = tool_index;
  return e;
}

std::vector<ir::stream_event> sample_events() {
  std::vector<ir::stream_event> events;
  auto start = ev(kind::start);
  start.id = "msg_1";
  start.name = "claude-x";
  start.tokens.input = 30;
  events.push_back(start);
  events.push_back(ev(kind::reasoning_delta, "Hm."));
  events.push_back(ev(kind::reasoning_signature, "sig"));
  events.push_back(ev(kind::text_delta, "Hi \"you\"\n"));
  auto call = ev(kind::tool_call_start);
  call.id = "toolu_1";
  call.name = "f";
  events.push_back(call);
  events.push_back(ev(kind::tool_args_delta, "{\"a\":"));
  events.push_back(ev(kind::tool_args_delta, "1}"));
  auto fin = ev(kind::finish);
  fin.reason = ir::finish_reason::tool_calls;
  events.push_back(fin);
  auto use = ev(kind::usage);
  use.tokens.output = 12;
  use.tokens.cache_read = 10;
  events.push_back(use);
  return events;
}

std::string encode_events(const std::vector<ir::stream_event>& events, ir::stream_options opts,
                          bool finish = true) {
  openai::stream_encoder enc(std::move(opts));
  std::string out;
  for (const auto& e : events)
    enc.encode(e, out);
  if (finish) enc.finish(out);
  return out;
}

TEST(openai_stream, encoder_exact_framing) {
  ir::stream_options opts;
  opts.model = "my-alias";
  opts.created = 1700000000;
  opts.include_usage = true;
  auto out = encode_events(sample_events(), opts);
  const std::string head =
      R"(data: {"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"my-alias","choices":[{"index":0,"delta":)";
  const std::string tail = R"(,"logprobs":null,"finish_reason":null}],"usage":null})"
                           "\n\n";
  std::string expected =
      head + R"({"role":"assistant","content":""})" + tail +  //
      head + R"({"reasoning_content":"Hm."})" + tail +        //
      head + R"({"content":"Hi \"you\"\n"})" + tail +         //
      head +
      R"({"tool_calls":[{"index":0,"id":"toolu_1","type":"function","function":{"name":"f","arguments":""}}]})" +
      tail +                                                                                //
      head + R"({"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]})" + tail +  //
      head + R"({"tool_calls":[{"index":0,"function":{"arguments":"1}"}}]})" + tail +       //
      head +
      R"({},"logprobs":null,"finish_reason":"tool_calls"}],"usage":null})"
      "\n\n" +
      R"(data: {"id":"msg_1","object":"chat.completion.chunk","created":1700000000,"model":"my-alias","choices":[],)"
      R"("usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42,)"
      R"("prompt_tokens_details":{"cached_tokens":10,"audio_tokens":0},)"
      R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
      R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}})"
      "\n\n"
      "data: [DONE]\n\n";
  EXPECT_EQ(out, expected);

  openai::stream_encoder enc(opts);
  EXPECT_EQ(enc.content_type(), "text/event-stream; charset=utf-8");
}

TEST(openai_stream, encoder_without_include_usage) {
  ir::stream_options opts;
  opts.id = "fallback";
  opts.created = 5;
  auto events = sample_events();
  events[0].id.clear();               // the upstream gave no id: the options' one
  events[0].name = "upstream-model";  // no model in the options: the upstream's
  auto out = encode_events(events, opts);
  EXPECT_EQ(out.find("\"usage\""), std::string::npos);
  EXPECT_NE(out.find(R"("id":"fallback")"), std::string::npos);
  EXPECT_NE(out.find(R"("model":"upstream-model")"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 14), "data: [DONE]\n\n");
  EXPECT_NE(out.find(R"("delta":{},"logprobs":null,"finish_reason":"tool_calls"}]})"),
            std::string::npos);
}

TEST(openai_stream, encoder_error_and_edges) {
  ir::stream_options opts;
  opts.created = 1;
  opts.include_usage = true;
  auto failure = ev(kind::error);
  failure.failure.kind = ir::error_kind::overloaded;
  failure.failure.message = "Overloaded";
  openai::stream_encoder enc(opts);
  std::string out;
  enc.encode(ev(kind::text_delta, "partial"), out);  // no start event: the role chunk first
  enc.encode(failure, out);
  std::string before_finish = out;
  enc.encode(ev(kind::text_delta, "late"), out);
  enc.finish(out);
  enc.finish(out);
  EXPECT_EQ(out, before_finish);  // after an error: nothing more
  EXPECT_EQ(out.find(R"({"role":"assistant","content":""})"), out.find("\"delta\":") + 8);
  const std::string error_frame =
      R"(data: {"error":{"message":"Overloaded","type":"server_error","param":null,"code":"overloaded"}})"
      "\n\n";
  ASSERT_GE(out.size(), error_frame.size());
  EXPECT_EQ(out.substr(out.size() - error_frame.size()), error_frame);

  // Nothing at all: still a well-formed stream. Empty deltas are not written.
  openai::stream_encoder empty(opts);
  std::string e;
  empty.encode(ev(kind::text_delta, ""), e);
  empty.encode(ev(kind::redacted_reasoning, "opaque"), e);
  empty.finish(e);
  auto d = decode_all(e);
  EXPECT_TRUE(d.done);
  auto s = summarise(d.events);
  EXPECT_EQ(s.starts, 1);
  EXPECT_EQ(s.reason, ir::finish_reason::stop);
  EXPECT_EQ(s.tokens.input, 0);
  EXPECT_EQ(s.text, "");
}

TEST(openai_stream, encoder_output_decodes_to_the_same_stream) {
  ir::stream_options opts;
  opts.include_usage = true;
  auto events = sample_events();
  auto d = decode_all(encode_events(events, opts));
  EXPECT_TRUE(d.done);
  auto a = summarise(events), b = summarise(d.events);
  EXPECT_EQ(b.id, "msg_1");
  EXPECT_EQ(b.model, "claude-x");
  EXPECT_EQ(b.text, a.text);
  EXPECT_EQ(b.reasoning, a.reasoning);
  EXPECT_EQ(b.tool_ids, a.tool_ids);
  EXPECT_EQ(b.tool_names, a.tool_names);
  EXPECT_EQ(b.tool_args, a.tool_args);
  EXPECT_EQ(b.reason, ir::finish_reason::tool_calls);
  EXPECT_EQ(b.tokens.input, 30);
  EXPECT_EQ(b.tokens.output, 12);
  EXPECT_EQ(b.tokens.cache_read, 10);
}

TEST(openai_stream, recorded_streams_survive_decode_encode_decode) {
  for (const char* name : stream_fixtures) {
    SCOPED_TRACE(name);
    auto first = decode_all(read_fixture(std::string("openai/") + name));
    ir::stream_options opts;
    opts.include_usage = true;
    auto second = decode_all(encode_events(first.events, opts));
    EXPECT_TRUE(second.done);
    auto a = summarise(first.events), b = summarise(second.events);
    EXPECT_EQ(b.id, a.id);
    EXPECT_EQ(b.model, a.model);
    EXPECT_EQ(b.text, a.text);
    EXPECT_EQ(b.tool_ids, a.tool_ids);
    EXPECT_EQ(b.tool_names, a.tool_names);
    EXPECT_EQ(b.tool_args, a.tool_args);
    EXPECT_EQ(b.reason, a.reason);
    if (!a.tokens.empty()) {
      EXPECT_EQ(b.tokens.input, a.tokens.input);
      EXPECT_EQ(b.tokens.output, a.tokens.output);
      EXPECT_EQ(b.tokens.reasoning, std::max<std::int64_t>(a.tokens.reasoning, 0));
    }
  }
}

}  // namespace
}  // namespace sy::test
