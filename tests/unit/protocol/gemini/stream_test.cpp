// The Gemini stream codec: recorded streams decoded (whole and cut at every byte), and the
// encoder's exact framing in both of its forms (SSE and the JSON array), read back by the
// decoder.
#include "protocol/gemini/stream.h"

#include "../../read_fixture.h"
#include "protocol/sse/sse.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <cctype>
#include <string>
#include <vector>

namespace sy::test {
namespace {

namespace bj = boost::json;
using gemini_util::describe;
using gemini_util::json_equal;
using gemini_util::parse;
using kind = ir::stream_event::kind;

bool generated_id(const std::string& id) {
  if (id.size() != 29 || !id.starts_with("call_")) return false;
  for (std::size_t i = 5; i < id.size(); ++i)
    if (!std::isalnum(static_cast<unsigned char>(id[i]))) return false;
  return true;
}

std::string describe(const ir::stream_event& e) {
  static const char* names[] = {"start",      "text",      "reasoning", "signature", "redacted",
                                "tool_start", "tool_args", "usage",     "finish",    "error"};
  std::string s = names[static_cast<int>(e.type)];
  s += "{";
  if (e.type == kind::tool_call_start || e.type == kind::tool_args_delta)
    s += "#" + std::to_string(e.tool_index) + " ";
  if (!e.id.empty()) s += "id=" + (generated_id(e.id) ? std::string("<generated>") : e.id) + " ";
  if (!e.name.empty()) s += "name=" + e.name + " ";
  if (!e.text.empty()) s += "text=" + e.text + " ";
  if (e.type == kind::finish) s += "reason=" + std::string(ir::to_string(e.reason)) + " ";
  if (!e.tokens.empty()) s += describe(e.tokens);
  if (e.type == kind::error)
    s += "status=" + std::to_string(e.failure.status) +
         " kind=" + std::to_string(static_cast<int>(e.failure.kind)) + " " + e.failure.message;
  return s + "}";
}

std::vector<std::string> describe(const std::vector<ir::stream_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(describe(e));
  return out;
}

struct decoded {
  std::vector<ir::stream_event> events;
  bool done = false;
};

// Feeds the pieces through the SSE parser into a decoder, as the server does (nothing after
// done() is fed).
decoded decode(const std::vector<std::string_view>& pieces) {
  sse::parser parser;
  gemini::stream_decoder decoder;
  decoded out;
  for (auto piece : pieces)
    parser.feed(piece, [&](const sse::event& e) {
      if (!decoder.done()) decoder.feed(e, out.events);
    });
  out.done = decoder.done();
  return out;
}

decoded decode(std::string_view whole) {
  return decode(std::vector<std::string_view>{whole});
}

std::string concat(const std::vector<ir::stream_event>& events, kind k) {
  std::string s;
  for (const auto& e : events)
    if (e.type == k) s += e.text;
  return s;
}

const char* const recorded_streams[] = {
    "gemini/streamGenerateContent_text.response.ASSEMBLED.sse",
    "gemini/streamGenerateContent_system_instruction.response.ASSEMBLED.sse",
    "gemini/streamGenerateContent_function_call.response.ASSEMBLED.sse",
    "gemini/raw_sdk_mocks/streaming-failure-finish-reason-safety.txt",
    "gemini/raw_sdk_mocks/streaming-failure-prompt-blocked-safety.txt",
    "gemini/raw_sdk_mocks/streaming-failure-recitation-no-content.txt",
    "gemini/raw_sdk_mocks/streaming-success-basic-reply-long.txt",
    "gemini/raw_sdk_mocks/streaming-success-basic-reply-short.txt",
    "gemini/raw_sdk_mocks/streaming-success-function-call-short.txt",
    "gemini/raw_sdk_mocks/streaming-success-search-grounding.txt",
};

// ---------------------------------------------------------------------------------------------
// Decoder

TEST(gemini_stream, every_split_point_gives_the_same_events) {
  for (const char* name : recorded_streams) {
    SCOPED_TRACE(name);
    auto body = read_fixture(name);
    ASSERT_FALSE(body.empty());
    auto whole = decode(body);
    ASSERT_FALSE(whole.events.empty());
    EXPECT_TRUE(whole.done);
    auto expected = describe(whole.events);
    std::string_view all(body);
    for (std::size_t cut = 0; cut <= body.size(); ++cut) {
      auto split = decode({all.substr(0, cut), all.substr(cut)});
      ASSERT_EQ(describe(split.events), expected) << "cut at " << cut;
      ASSERT_TRUE(split.done);
    }
    // And a byte at a time.
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < body.size(); ++i)
      bytes.push_back(all.substr(i, 1));
    EXPECT_EQ(describe(decode(bytes).events), expected);
  }
}

TEST(gemini_stream, recorded_text_stream) {
  auto d = decode(read_fixture("gemini/streamGenerateContent_text.response.ASSEMBLED.sse"));
  ASSERT_GE(d.events.size(), 4u);
  EXPECT_EQ(describe(d.events.front()),
            "start{id=pdSfaOurIPqAm9IPucqbqA4 name=gemini-2.0-flash "
            "usage{in=7 out=-1 cr=-1 cw=-1 cw1h=-1 r=-1}}");
  auto text = concat(d.events, kind::text_delta);
  EXPECT_TRUE(text.starts_with("The sky is blue due to a phenomenon called **Rayleigh"));
  // Usage then finish, at the end; usage only when it changed.
  const auto& last = d.events.back();
  EXPECT_EQ(last.type, kind::finish);
  EXPECT_EQ(last.reason, ir::finish_reason::stop);
  const auto& usage = d.events[d.events.size() - 2];
  ASSERT_EQ(usage.type, kind::usage);
  // The last event's totals (its prompt count differs from the first event's 7).
  EXPECT_EQ(describe(usage.tokens), "usage{in=6 out=377 cr=-1 cw=-1 cw1h=-1 r=-1}");
  int usages = 0;
  for (const auto& e : d.events)
    usages += e.type == kind::usage;
  EXPECT_LE(usages, 2);
}

TEST(gemini_stream, recorded_function_call_stream) {
  auto d =
      decode(read_fixture("gemini/streamGenerateContent_function_call.response.ASSEMBLED.sse"));
  EXPECT_EQ(describe(d.events), (std::vector<std::string>{
                                    "start{id=xtSfaIRs8_Sf2Q-skYe5Dg name=gemini-2.0-flash "
                                    "usage{in=21 out=6 cr=-1 cw=-1 cw1h=-1 r=-1}}",
                                    "tool_start{#0 id=<generated> name=customDivide }",
                                    R"(tool_args{#0 text={"denominator":2,"numerator":100} })",
                                    "finish{reason=tool_calls }",
                                }));
}

TEST(gemini_stream, sdk_mocks) {
  auto blocked =
      decode(read_fixture("gemini/raw_sdk_mocks/streaming-failure-prompt-blocked-safety.txt"));
  EXPECT_EQ(describe(blocked.events),
            (std::vector<std::string>{"start{}", "finish{reason=content_filter }"}));

  auto safety =
      decode(read_fixture("gemini/raw_sdk_mocks/streaming-failure-finish-reason-safety.txt"));
  EXPECT_EQ(describe(safety.events), (std::vector<std::string>{"start{}", "text{text=No }",
                                                               "finish{reason=content_filter }"}));

  // These old mocks put finishReason on every event: the first one ends the stream, as a real
  // Gemini stream's last event does.
  auto recitation =
      decode(read_fixture("gemini/raw_sdk_mocks/streaming-failure-recitation-no-content.txt"));
  EXPECT_EQ(describe(recitation.events),
            (std::vector<std::string>{"start{}", "text{text=Copyrighted text goes here }",
                                      "finish{reason=stop }"}));

  auto call =
      decode(read_fixture("gemini/raw_sdk_mocks/streaming-success-function-call-short.txt"));
  EXPECT_EQ(describe(call.events),
            (std::vector<std::string>{
                "start{}", "tool_start{#0 id=<generated> name=getTemperature }",
                R"(tool_args{#0 text={"city":"San Jose"} })", "finish{reason=tool_calls }"}));
}

sse::event data(std::string payload) {
  sse::event e;
  e.data = std::move(payload);
  return e;
}

TEST(gemini_stream, thoughts_signatures_and_several_calls) {
  gemini::stream_decoder d;
  std::vector<ir::stream_event> out;
  d.feed(data(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":"Thinking","thought":true}]},"index":0}],"responseId":"r1","modelVersion":"m"})"),
         out);
  d.feed(data(R"({"candidates":[{"content":{"role":"model","parts":[
      {"text":" more","thought":true,"thoughtSignature":"s1"}]}},
      {"index":1,"content":{"parts":[{"text":"other candidate"}]}}]})"),
         out);
  d.feed(data(R"({"candidates":[{"content":{"role":"model","parts":[
      {"functionCall":{"name":"a","id":"fc_a","args":{"x":1}},"thoughtSignature":"s2"},
      {"functionCall":{"name":"b"}},
      {"text":"","thoughtSignature":"s3"}]}}],
      "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"thoughtsTokenCount":4,
                       "cachedContentTokenCount":2}})"),
         out);
  EXPECT_FALSE(d.done());
  d.feed(data(R"({"candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}],
      "usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3,"thoughtsTokenCount":4,
                       "cachedContentTokenCount":2}})"),
         out);
  EXPECT_TRUE(d.done());
  d.feed(data(R"({"candidates":[{"content":{"parts":[{"text":"after the end"}]}}]})"), out);
  EXPECT_EQ(describe(out), (std::vector<std::string>{
                               "start{id=r1 name=m }",
                               "reasoning{text=Thinking }",
                               "reasoning{text= more }",
                               "signature{text=s1 }",
                               "signature{text=s2 }",
                               "tool_start{#0 id=fc_a name=a }",
                               R"(tool_args{#0 text={"x":1} })",
                               "tool_start{#1 id=<generated> name=b }",
                               "tool_args{#1 text={} }",
                               "signature{text=s3 }",
                               "usage{usage{in=5 out=7 cr=2 cw=-1 cw1h=-1 r=4}}",
                               "text{text=ok }",
                               "finish{reason=tool_calls }",
                           }));
}

TEST(gemini_stream, errors_in_the_stream) {
  {
    gemini::stream_decoder d;
    std::vector<ir::stream_event> out;
    d.feed(data(R"({"candidates":[{"content":{"parts":[{"text":"Hi"}]}}]})"), out);
    d.feed(data(R"({"error":{"code":503,"message":"The model is overloaded.",)"
                R"("status":"UNAVAILABLE"}})"),
           out);
    EXPECT_TRUE(d.done());
    ASSERT_EQ(out.size(), 3u);
    EXPECT_EQ(out[2].type, kind::error);
    EXPECT_EQ(out[2].failure.status, 503);
    EXPECT_EQ(out[2].failure.kind, ir::error_kind::overloaded);
    EXPECT_EQ(out[2].failure.message, "The model is overloaded.");
  }
  {
    gemini::stream_decoder d;
    std::vector<ir::stream_event> out;
    d.feed(data(R"([{"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED"}}])"),
           out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].failure.kind, ir::error_kind::rate_limit);
  }
  {
    gemini::stream_decoder d;
    std::vector<ir::stream_event> out;
    d.feed(data(""), out);
    d.feed(data("  "), out);
    EXPECT_TRUE(out.empty());
    d.feed(data(R"({"candidates": [)"), out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].type, kind::error);
    EXPECT_EQ(out[0].failure.status, 502);
    EXPECT_TRUE(d.done());
  }
}

// ---------------------------------------------------------------------------------------------
// Encoder

ir::stream_event ev(kind k, std::string text = {}) {
  ir::stream_event e;
  e.type = k;
  e.text = std::move(text);
  return e;
}

ir::stream_event start_event(std::string id, std::string model) {
  auto e = ev(kind::start);
  e.id = std::move(id);
  e.name = std::move(model);
  return e;
}

ir::stream_event tool_start(int index, std::string id, std::string name) {
  auto e = ev(kind::tool_call_start);
  e.tool_index = index;
  e.id = std::move(id);
  e.name = std::move(name);
  return e;
}

ir::stream_event usage_event(std::int64_t in, std::int64_t out, std::int64_t reasoning = -1) {
  auto e = ev(kind::usage);
  e.tokens.input = in;
  e.tokens.output = out;
  e.tokens.reasoning = reasoning;
  return e;
}

ir::stream_event finish_event(ir::finish_reason r) {
  auto e = ev(kind::finish);
  e.reason = r;
  return e;
}

std::string encode(ir::stream_options options, const std::vector<ir::stream_event>& events) {
  gemini::stream_encoder enc(std::move(options));
  std::string out;
  for (const auto& e : events)
    enc.encode(e, out);
  enc.finish(out);
  enc.finish(out);  // a second finish writes nothing
  return out;
}

ir::stream_options sse_options() {
  ir::stream_options o;
  o.id = "fallback-id";
  o.model = "gemini-client-model";
  return o;
}

ir::stream_options array_options() {
  auto o = sse_options();
  o.json_array = true;
  return o;
}

TEST(gemini_stream, encoder_sse_framing) {
  gemini::stream_encoder enc(sse_options());
  EXPECT_EQ(enc.content_type(), "text/event-stream");
  std::string out;
  for (const auto& e : {start_event("chatcmpl-1", "gpt-4o"), ev(kind::text_delta, "Hel"),
                        ev(kind::text_delta, ""), ev(kind::text_delta, "lo\n\"x\""),
                        usage_event(10, 5), finish_event(ir::finish_reason::stop)})
    enc.encode(e, out);
  enc.finish(out);
  // Text goes out as it comes (never held back); the finish reason and usage come in a last
  // chunk without content.
  EXPECT_EQ(out,
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":"
            "\"model\"},\"index\":0}],\"modelVersion\":\"gpt-4o\",\"responseId\":\"chatcmpl-1\"}"
            "\r\n\r\n"
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\\n\\\"x\\\"\"}],"
            "\"role\":\"model\"},\"index\":0}],"
            "\"modelVersion\":\"gpt-4o\",\"responseId\":\"chatcmpl-1\"}\r\n\r\n"
            "data: {\"candidates\":[{\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{"
            "\"promptTokenCount\":10,\"candidatesTokenCount\":5,\"totalTokenCount\":15},"
            "\"modelVersion\":\"gpt-4o\",\"responseId\":\"chatcmpl-1\"}\r\n\r\n");

  // Read back by our own decoder.
  auto d = decode(out);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(describe(d.events),
            (std::vector<std::string>{
                "start{id=chatcmpl-1 name=gpt-4o }", "text{text=Hel }", "text{text=lo\n\"x\" }",
                "usage{usage{in=10 out=5 cr=-1 cw=-1 cw1h=-1 r=-1}}", "finish{reason=stop }"}));
}

TEST(gemini_stream, encoder_buffers_tool_calls) {
  std::vector<ir::stream_event> events = {
      start_event("msg_1", "claude-x"),
      ev(kind::reasoning_delta, "Let me see."),
      ev(kind::reasoning_signature, "sig=="),
      ev(kind::redacted_reasoning, "opaque"),
      ev(kind::text_delta, "Checking."),
      tool_start(0, "toolu_a", "weather"),
      ev(kind::tool_args_delta, "{\"city\": "),
      ev(kind::tool_args_delta, "\"Paris\"}"),
      tool_start(1, "toolu_b", "time"),
      ev(kind::tool_args_delta, "{\n}"),
      usage_event(20, 30, 10),
      finish_event(ir::finish_reason::tool_calls),
  };
  auto out = encode(sse_options(), events);
  auto d = decode(out);
  EXPECT_EQ(describe(d.events), (std::vector<std::string>{
                                    "start{id=msg_1 name=claude-x }",
                                    "reasoning{text=Let me see. }",
                                    "signature{text=sig== }",
                                    "text{text=Checking. }",
                                    "tool_start{#0 id=toolu_a name=weather }",
                                    R"(tool_args{#0 text={"city":"Paris"} })",
                                    "tool_start{#1 id=toolu_b name=time }",
                                    "tool_args{#1 text={} }",
                                    "usage{usage{in=20 out=30 cr=-1 cw=-1 cw1h=-1 r=10}}",
                                    "finish{reason=tool_calls }",
                                }))
      << out;
  // The second call rides on the last object, with the finish reason.
  auto last_start = out.rfind("data: ");
  auto last = parse(std::string_view(out).substr(last_start + 6));
  EXPECT_TRUE(json_equal(last, parse(R"({"candidates":[{"content":{"parts":[
      {"functionCall":{"id":"toolu_b","name":"time","args":{}}}],"role":"model"},
      "finishReason":"STOP","index":0}],
      "usageMetadata":{"promptTokenCount":20,"candidatesTokenCount":20,"thoughtsTokenCount":10,
                       "totalTokenCount":50},
      "modelVersion":"claude-x","responseId":"msg_1"})")))
      << last;
  EXPECT_NE(out.find(R"({"text":"","thought":true,"thoughtSignature":"sig=="})"),
            std::string::npos);
  // Every SSE event is one line: arguments with line breaks were re-serialized.
  EXPECT_EQ(out.find("\n}"), std::string::npos);
}

TEST(gemini_stream, encoder_json_array) {
  gemini::stream_encoder enc(array_options());
  EXPECT_EQ(enc.content_type(), "application/json; charset=UTF-8");
  std::vector<ir::stream_event> events = {
      ev(kind::text_delta, "a"),
      tool_start(0, "", "f"),
      ev(kind::tool_args_delta, "not json"),
      ev(kind::text_delta, "b"),
      finish_event(ir::finish_reason::length),
  };
  auto out = encode(array_options(), events);
  auto v = parse(out);
  ASSERT_TRUE(v.is_array()) << out;
  auto arr = v.get_array();
  ASSERT_EQ(arr.size(), 4u) << out;
  EXPECT_TRUE(out.starts_with("[{"));
  EXPECT_TRUE(out.ends_with("}]"));
  EXPECT_NE(out.find("},\r\n{"), std::string::npos);
  // No upstream start: the options name the response.
  EXPECT_EQ(arr[0].at("responseId"), "fallback-id");
  EXPECT_EQ(arr[0].at("modelVersion"), "gemini-client-model");
  EXPECT_TRUE(json_equal(arr[1].at_pointer("/candidates/0/content/parts/0"),
                         parse(R"({"functionCall":{"name":"f","args":{}}})")));
  EXPECT_TRUE(json_equal(arr[2].at("candidates"), parse(R"([{"content":{"parts":[{"text":"b"}],
      "role":"model"},"index":0}])")));
  EXPECT_TRUE(
      json_equal(arr[3].at("candidates"), parse(R"([{"finishReason":"MAX_TOKENS","index":0}])")));
  EXPECT_FALSE(arr[3].as_object().contains("usageMetadata"));

  // Nothing at all: still one array with one final object, which has no content (an empty
  // text part is what Gemini refuses when a client sends it back).
  auto empty = encode(array_options(), {usage_event(3, 0), finish_event(ir::finish_reason::stop)});
  EXPECT_EQ(empty, R"([{"candidates":[{"finishReason":"STOP","index":0}],"usageMetadata":)"
                   R"({"promptTokenCount":3,"candidatesTokenCount":0,"totalTokenCount":3},)"
                   R"("modelVersion":"gemini-client-model","responseId":"fallback-id"}])");
}

TEST(gemini_stream, encoder_error) {
  auto error = ev(kind::error);
  error.failure.kind = ir::error_kind::rate_limit;
  error.failure.status = 429;
  error.failure.message = "Too many requests";
  // The call was cut short by the error: not sent.
  std::vector<ir::stream_event> events = {ev(kind::text_delta, "partial"), tool_start(0, "c", "f"),
                                          ev(kind::tool_args_delta, "{\"a\":"), error,
                                          ev(kind::text_delta, "ignored")};
  auto sse_out = encode(sse_options(), events);
  auto error_at = sse_out.find("data: {\"error\"");
  ASSERT_NE(error_at, std::string::npos);
  EXPECT_EQ(sse_out.substr(error_at),
            "data: {\"error\":{\"code\":429,\"message\":\"Too many requests\",\"status\":"
            "\"RESOURCE_EXHAUSTED\"}}\r\n\r\n");
  auto d = decode(sse_out);
  ASSERT_EQ(d.events.size(), 3u);
  EXPECT_EQ(d.events[2].type, kind::error);
  EXPECT_EQ(d.events[2].failure.kind, ir::error_kind::rate_limit);

  auto array_out = encode(array_options(), events);
  auto v = parse(array_out);
  ASSERT_TRUE(v.is_array()) << array_out;
  ASSERT_EQ(v.get_array().size(), 2u);
  EXPECT_EQ(v.at_pointer("/1/error/status"), "RESOURCE_EXHAUSTED");

  // A complete call before the error still goes out.
  auto complete = decode(encode(
      sse_options(), {tool_start(0, "c", "f"), ev(kind::tool_args_delta, "{\"a\":1}"), error}));
  EXPECT_EQ(describe(complete.events),
            (std::vector<std::string>{
                "start{id=fallback-id name=gemini-client-model }", "tool_start{#0 id=c name=f }",
                R"(tool_args{#0 text={"a":1} })", "error{status=429 kind=6 Too many requests}"}));

  // An error first: just the error, in an array.
  auto only = parse(encode(array_options(), {error}));
  ASSERT_EQ(only.get_array().size(), 1u);
}

TEST(gemini_stream, recorded_streams_survive_decode_encode_decode) {
  for (const char* name : recorded_streams) {
    SCOPED_TRACE(name);
    auto first = decode(read_fixture(name));
    for (bool array : {false, true}) {
      auto options = array ? array_options() : sse_options();
      auto out = encode(options, first.events);
      std::vector<ir::stream_event> second;
      if (array) {
        // The array's elements are what the SSE form's data lines hold.
        gemini::stream_decoder d;
        auto items = parse(out);
        for (const auto& item : items.get_array())
          d.feed(data(bj::serialize(item)), second);
      } else {
        second = decode(out).events;
      }
      // Text and calls survive; the stream's own start id and model come back too.
      EXPECT_EQ(concat(second, kind::text_delta), concat(first.events, kind::text_delta));
      auto calls = [](const std::vector<ir::stream_event>& events) {
        std::string s;
        for (const auto& e : events)
          if (e.type == kind::tool_call_start || e.type == kind::tool_args_delta) s += describe(e);
        return s;
      };
      EXPECT_EQ(calls(second), calls(first.events));
      ASSERT_FALSE(second.empty());
      EXPECT_EQ(second.front().id,
                first.events.front().id.empty() ? "fallback-id" : first.events.front().id);
      EXPECT_EQ(second.back().type, kind::finish);
      // Gemini's stream invariants (checked by the SDK matrix too): only the last chunk has a
      // finishReason, and no chunk has an empty text part outside a thought.
      std::vector<bj::value> chunks;
      if (array) {
        auto all = parse(out);
        for (const auto& item : all.get_array())
          chunks.push_back(item);
      } else {
        sse::parser p;
        p.feed(out, [&](const sse::event& e) { chunks.push_back(parse(e.data)); });
      }
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        const auto& c = chunks[i].at_pointer("/candidates/0").as_object();
        EXPECT_EQ(c.contains("finishReason"), i + 1 == chunks.size()) << chunks[i];
        if (const auto* content = c.if_contains("content")) {
          for (const auto& part : content->at("parts").as_array()) {
            const auto* text = part.as_object().if_contains("text");
            EXPECT_FALSE(text && text->as_string().empty() && !part.as_object().contains("thought"))
                << chunks[i];
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace sy::test
