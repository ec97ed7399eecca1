// The Anthropic Messages codec (protocol/anthropic/codec.h): requests, responses and errors
// against recorded traffic (tests/fixtures/anthropic) and hand-made edge cases.
#include "protocol/anthropic/codec.h"

#include "../../read_fixture.h"
#include "ir_dump.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <limits>
#include <string>
#include <variant>

namespace sy::test {
namespace {

namespace bj = boost::json;

ir::request decode_ok(std::string_view body) {
  auto r = anthropic::decode_request(body);
  if (auto* e = std::get_if<error>(&r)) {
    ADD_FAILURE() << "decode failed: " << e->message;
    return {};
  }
  return std::get<ir::request>(std::move(r));
}

std::string encode_ok(const ir::request& r, ir::dropped_fields* dropped = nullptr) {
  ir::dropped_fields scratch;
  auto out = anthropic::encode_request(r, dropped ? *dropped : scratch);
  if (auto* e = std::get_if<error>(&out)) {
    ADD_FAILURE() << "encode failed: " << e->message;
    return "{}";
  }
  return std::get<std::string>(std::move(out));
}

error decode_fails(std::string_view body) {
  auto r = anthropic::decode_request(body);
  if (!std::holds_alternative<error>(r)) {
    ADD_FAILURE() << "decode succeeded: " << body;
    return {errc::internal, "", ""};
  }
  return std::get<error>(std::move(r));
}

bj::value parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = bj::parse(text, ec);
  EXPECT_FALSE(ec) << text;
  return v;
}

// Removes what the IR does not model from a recorded request or response: the "caller" that
// newer API versions add to tool_use blocks, and usage fields no other protocol has.
void strip_unmodeled(bj::value& v) {
  if (auto* o = v.if_object()) {
    o->erase("caller");
    if (auto* usage = o->if_contains("usage"); usage && usage->is_object()) {
      usage->get_object().erase("service_tier");
      usage->get_object().erase("inference_geo");
    }
    for (auto& kv : *o)
      strip_unmodeled(kv.value());
  } else if (auto* a = v.if_array()) {
    for (auto& x : *a)
      strip_unmodeled(x);
  }
}

// --- requests: recorded fixtures ----------------------------------------------------------------

const char* const recorded_requests[] = {
    "anthropic/messages_stream_tool_use.turn1.request.json",
    "anthropic/messages_stream_tool_use.turn2_text.request.json",
    "anthropic/messages_structured_output_json_schema.request.json",
    "anthropic/messages_text_and_tool_use.turn1.request.json",
    "anthropic/messages_text_and_tool_use.turn2_with_tool_result.request.json",
    "anthropic/error_429_rate_limit_error.stream_request.request.json",
    "anthropic/handmade/messages_all_features.request.json",
};

TEST(anthropic_codec, request_round_trip_is_identity_on_recorded_requests) {
  for (const char* name : recorded_requests) {
    SCOPED_TRACE(name);
    auto body = read_fixture(name);
    auto r = decode_ok(body);
    ir::dropped_fields dropped;
    auto out = encode_ok(r, &dropped);
    EXPECT_TRUE(dropped.empty());
    auto original = parse(body);
    strip_unmodeled(original);
    auto encoded = parse(out);
    EXPECT_TRUE(json_equal(original, encoded))
        << "original: " << bj::serialize(original) << "\nencoded:  " << out;
  }
}

TEST(anthropic_codec, decode_encode_decode_is_identity_on_the_ir) {
  for (const char* name : recorded_requests) {
    SCOPED_TRACE(name);
    auto first = decode_ok(read_fixture(name));
    auto again = decode_ok(encode_ok(first));
    EXPECT_EQ(dump(first), dump(again));
  }
}

TEST(anthropic_codec, decodes_a_tool_turn) {
  auto r = decode_ok(
      read_fixture("anthropic/messages_text_and_tool_use.turn2_with_tool_result.request.json"));
  EXPECT_EQ(r.source, ir::protocol::anthropic);
  EXPECT_EQ(r.model, "claude-haiku-4-5");
  EXPECT_EQ(r.max_tokens, 1024);
  EXPECT_FALSE(r.stream);
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].who, ir::role::user);
  ASSERT_EQ(r.messages[0].parts.size(), 1u);
  EXPECT_EQ(r.messages[0].parts[0].type, ir::part::kind::text);

  const auto& assistant = r.messages[1];
  EXPECT_EQ(assistant.who, ir::role::assistant);
  ASSERT_EQ(assistant.parts.size(), 2u);
  EXPECT_EQ(assistant.parts[0].type, ir::part::kind::text);
  const auto& call = assistant.parts[1];
  EXPECT_EQ(call.type, ir::part::kind::tool_call);
  EXPECT_EQ(call.id, "toolu_01LRanfq6DmHn1yDTB4d1SAh");
  EXPECT_EQ(call.name, "get_weather");
  EXPECT_TRUE(
      json_equal(parse(call.arguments), parse(R"({"location":"San Francisco, CA","units":"f"})")));

  // The user turn holding only a tool_result becomes a tool message; the tool's name is found
  // from the call it answers.
  const auto& tool = r.messages[2];
  EXPECT_EQ(tool.who, ir::role::tool);
  ASSERT_EQ(tool.parts.size(), 1u);
  EXPECT_EQ(tool.parts[0].type, ir::part::kind::tool_result);
  EXPECT_EQ(tool.parts[0].id, "toolu_01LRanfq6DmHn1yDTB4d1SAh");
  EXPECT_EQ(tool.parts[0].name, "get_weather");
  ASSERT_EQ(tool.parts[0].content.size(), 1u);
  EXPECT_EQ(tool.parts[0].content[0].text.substr(0, 12), R"({"location":)");
  EXPECT_FALSE(tool.parts[0].is_error);

  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].name, "get_weather");
  EXPECT_EQ(r.tools[0].parameters.at("type").as_string(), "object");
  EXPECT_FALSE(r.tools[0].strict);
  EXPECT_TRUE(r.extra.empty());
}

TEST(anthropic_codec, decodes_every_feature_of_the_sdk) {
  auto r = decode_ok(read_fixture("anthropic/handmade/messages_all_features.request.json"));
  ASSERT_EQ(r.system.size(), 2u);
  EXPECT_TRUE(r.system[0].cache_control.is_null());
  EXPECT_EQ(r.system[1].cache_control.at("ttl").as_string(), "1h");

  // user, assistant, tool (the two results), user (the text after them)
  ASSERT_EQ(r.messages.size(), 4u);
  const auto& user = r.messages[0].parts;
  ASSERT_EQ(user.size(), 6u);
  EXPECT_EQ(user[0].type, ir::part::kind::image);
  EXPECT_EQ(user[0].media_type, "image/png");
  EXPECT_TRUE(user[0].url.empty());
  EXPECT_EQ(user[1].type, ir::part::kind::image);
  EXPECT_EQ(user[1].url.substr(0, 8), "https://");
  EXPECT_EQ(user[2].type, ir::part::kind::document);
  EXPECT_EQ(user[2].media_type, "application/pdf");
  EXPECT_FALSE(user[2].cache_control.is_null());
  EXPECT_EQ(user[3].type, ir::part::kind::document);
  EXPECT_EQ(user[3].media_type, "text/plain");
  EXPECT_EQ(user[3].data, "VGhlIGdyYXNzIGlzIGdyZWVuLiBDYWbDqSDinJM=");  // base64 of the text
  EXPECT_EQ(user[4].url, "https://example.com/paper.pdf");

  const auto& assistant = r.messages[1].parts;
  ASSERT_EQ(assistant.size(), 5u);
  EXPECT_EQ(assistant[0].type, ir::part::kind::reasoning);
  EXPECT_EQ(assistant[0].text, "Let me look at the images first.");
  EXPECT_FALSE(assistant[0].signature.empty());
  EXPECT_EQ(assistant[1].type, ir::part::kind::redacted_reasoning);
  EXPECT_FALSE(assistant[1].data.empty());
  EXPECT_EQ(assistant[4].arguments, "{}");

  const auto& results = r.messages[2];
  EXPECT_EQ(results.who, ir::role::tool);
  ASSERT_EQ(results.parts.size(), 2u);
  EXPECT_EQ(results.parts[0].name, "get_weather");
  EXPECT_EQ(results.parts[1].name, "get_time");
  EXPECT_TRUE(results.parts[1].is_error);
  ASSERT_EQ(results.parts[1].content.size(), 2u);
  EXPECT_EQ(results.parts[1].content[1].type, ir::part::kind::image);
  EXPECT_EQ(r.messages[3].who, ir::role::user);
  EXPECT_EQ(r.messages[3].parts.at(0).text, "Thanks. And tomorrow?");

  ASSERT_EQ(r.tools.size(), 2u);  // the server tool is kept aside
  EXPECT_EQ(r.tools[1].strict, true);
  const auto& server = r.extra.at(anthropic::server_tools_key).as_array();
  ASSERT_EQ(server.size(), 1u);
  EXPECT_EQ(server[0].at("at").as_int64(), 1);
  EXPECT_EQ(server[0].at("tool").at("name").as_string(), "web_search");

  EXPECT_EQ(r.choice.type, ir::tool_choice::kind::auto_);
  EXPECT_EQ(r.choice.parallel, false);
  EXPECT_TRUE(r.reasoning.enabled);
  EXPECT_EQ(r.reasoning.budget_tokens, 10000);
  EXPECT_EQ(r.reasoning.effort, "high");
  EXPECT_EQ(r.stop.size(), 2u);
  EXPECT_EQ(r.temperature, 1.0);
  EXPECT_EQ(r.top_p, 0.95);
  EXPECT_EQ(r.top_k, 40);
  EXPECT_EQ(r.user, "13803d75-b4b5-4c3e-b2a2-6f21399b021b");
  EXPECT_EQ(r.format.type, ir::response_format::kind::json_schema);
  EXPECT_EQ(r.extra.at("output_config").at("effort").as_string(), "high");
  EXPECT_EQ(r.extra.at("service_tier").as_string(), "auto");
  EXPECT_TRUE(r.extra.at("container").is_null());
  EXPECT_TRUE(r.extra.contains("mcp_servers"));
  EXPECT_TRUE(r.stream);
}

TEST(anthropic_codec, other_protocols_see_server_tools_and_extras_as_dropped) {
  auto r = decode_ok(read_fixture("anthropic/handmade/messages_all_features.request.json"));
  r.source = ir::protocol::openai;  // as if another protocol's decoder had produced it
  ir::dropped_fields dropped;
  auto out = parse(encode_ok(r, &dropped));
  EXPECT_EQ(out.at("tools").as_array().size(), 2u);
  EXPECT_FALSE(out.as_object().contains("service_tier"));
  EXPECT_FALSE(out.at("output_config").as_object().contains("effort"));
  for (const char* name : {"$anthropic_server_tools", "output_config", "service_tier", "container",
                           "mcp_servers", "tools.strict"})
    EXPECT_NE(std::find(dropped.begin(), dropped.end(), name), dropped.end()) << name;
}

TEST(anthropic_codec, user_content_after_tool_results_is_its_own_message) {
  auto r = decode_ok(R"({"model":"m","max_tokens":5,"messages":[
    {"role":"user","content":"hi"},
    {"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":{"a":1}}]},
    {"role":"user","content":[{"type":"text","text":"before"},
                              {"type":"tool_result","tool_use_id":"t1","content":"ok"},
                              {"type":"text","text":"after"}]}]})");
  ASSERT_EQ(r.messages.size(), 4u);
  EXPECT_EQ(r.messages[2].who, ir::role::tool);
  EXPECT_EQ(r.messages[3].who, ir::role::user);
  ASSERT_EQ(r.messages[3].parts.size(), 2u);
  EXPECT_EQ(r.messages[3].parts[0].text, "before");
  // Written back as one user turn, the results first.
  auto out = parse(encode_ok(r));
  const auto& last = out.at("messages").as_array().back().at("content").as_array();
  ASSERT_EQ(last.size(), 3u);
  EXPECT_EQ(last[0].at("type").as_string(), "tool_result");
  EXPECT_EQ(last[1].at("text").as_string(), "before");
  EXPECT_EQ(last[2].at("text").as_string(), "after");
}

TEST(anthropic_codec, system_forms) {
  auto r = decode_ok(R"({"model":"m","system":"Be brief.","messages":[]})");
  ASSERT_EQ(r.system.size(), 1u);
  EXPECT_EQ(r.system[0].text, "Be brief.");
  EXPECT_EQ(parse(encode_ok(r)).at("system").as_string(), "Be brief.");
  // One block with cache_control stays a block; an array of one plain block becomes a string.
  r = decode_ok(R"({"model":"m","messages":[],
    "system":[{"type":"text","text":"A","cache_control":{"type":"ephemeral"}}]})");
  EXPECT_TRUE(parse(encode_ok(r)).at("system").is_array());
  r = decode_ok(R"({"model":"m","messages":[],"system":[{"type":"text","text":"A"}]})");
  EXPECT_EQ(parse(encode_ok(r)).at("system").as_string(), "A");
  r = decode_ok(R"({"model":"m","messages":[],"system":null})");
  EXPECT_TRUE(r.system.empty());
  EXPECT_FALSE(parse(encode_ok(r)).as_object().contains("system"));
}

TEST(anthropic_codec, thinking_and_output_forms) {
  auto r = decode_ok(R"({"model":"m","messages":[],"thinking":{"type":"disabled"}})");
  EXPECT_FALSE(r.reasoning.enabled);
  EXPECT_FALSE(parse(encode_ok(r)).as_object().contains("thinking"));

  r = decode_ok(R"({"model":"m","messages":[],"thinking":{"type":"adaptive"}})");
  EXPECT_TRUE(r.reasoning.enabled);
  EXPECT_FALSE(r.reasoning.budget_tokens);
  EXPECT_EQ(parse(encode_ok(r)).at("thinking").at("type").as_string(), "adaptive");

  // The legacy beta form of structured outputs is read, and written as output_config.
  r = decode_ok(R"({"model":"m","messages":[],
    "output_format":{"type":"json_schema","schema":{"type":"object"}}})");
  EXPECT_EQ(r.format.type, ir::response_format::kind::json_schema);
  auto out = parse(encode_ok(r));
  EXPECT_EQ(out.at("output_config").at("format").at("schema").at("type").as_string(), "object");
  EXPECT_FALSE(out.as_object().contains("output_format"));
}

TEST(anthropic_codec, tool_choice_forms) {
  struct row {
    const char* in;
    ir::tool_choice::kind kind;
    std::optional<bool> parallel;
  };
  using k = ir::tool_choice::kind;
  const row rows[] = {
      {R"({"type":"auto"})", k::auto_, std::nullopt},
      {R"({"type":"any","disable_parallel_tool_use":false})", k::required, true},
      {R"({"type":"tool","name":"f","disable_parallel_tool_use":true})", k::named, false},
      {R"({"type":"none"})", k::none, std::nullopt},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.in);
    std::string body =
        R"({"model":"m","messages":[],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":)";
    body += row.in;
    body += "}";
    auto r = decode_ok(body);
    EXPECT_EQ(r.choice.type, row.kind);
    EXPECT_EQ(r.choice.parallel, row.parallel);
    EXPECT_TRUE(json_equal(parse(encode_ok(r)).at("tool_choice"), parse(row.in)));
  }
}

// --- requests: bad shapes name the field ---------------------------------------------------------

TEST(anthropic_codec, bad_requests_name_the_field) {
  struct row {
    const char* body;
    const char* param;
  };
  const row rows[] = {
      {R"({"messages":[]})", "model"},
      {R"({"model":"m"})", "messages"},
      {R"({"model":3,"messages":[]})", "model"},
      {R"({"model":"m","messages":{}})", "messages"},
      {R"({"model":"m","messages":[1]})", "messages[0]"},
      {R"({"model":"m","messages":[{"role":"system","content":"x"}]})", "messages[0].role"},
      {R"({"model":"m","messages":[{"role":"user"}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":7}]})", "messages[0].content"},
      {R"({"model":"m","messages":[{"role":"user","content":"a"},{"role":"user","content":[{"type":"bogus"}]}]})",
       "messages[1].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"text":"x"}]}]})",
       "messages[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"text"}]}]})",
       "messages[0].content[0].text"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file","file_id":"f"}}]}]})",
       "messages[0].content[0].source.type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image"}]}]})",
       "messages[0].content[0].source"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png"}}]}]})",
       "messages[0].content[0].source.data"},
      {R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":[1]}]}]})",
       "messages[0].content[0].input"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"tool_use"}]}]}]})",
       "messages[0].content[0].content[0].type"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","is_error":"yes"}]}]})",
       "messages[0].content[0].is_error"},
      {R"({"model":"m","messages":[{"role":"user","content":[{"type":"tool_result"}]}]})",
       "messages[0].content[0].tool_use_id"},
      {R"({"model":"m","messages":[{"role":"assistant","content":[{"type":"thinking","thinking":"x","signature":5}]}]})",
       "messages[0].content[0].signature"},
      {R"({"model":"m","messages":[],"system":[{"type":"image"}]})", "system[0].type"},
      {R"({"model":"m","messages":[],"system":5})", "system"},
      {R"({"model":"m","messages":[],"max_tokens":"10"})", "max_tokens"},
      {R"({"model":"m","messages":[],"max_tokens":1.5})", "max_tokens"},
      {R"({"model":"m","messages":[],"temperature":"hot"})", "temperature"},
      {R"({"model":"m","messages":[],"top_k":0.5})", "top_k"},
      {R"({"model":"m","messages":[],"stop_sequences":["a",1]})", "stop_sequences[1]"},
      {R"({"model":"m","messages":[],"stream":"yes"})", "stream"},
      {R"({"model":"m","messages":[],"tools":[{"description":"x"}]})", "tools[0].name"},
      {R"({"model":"m","messages":[],"tools":[{"name":"f","input_schema":"x"}]})",
       "tools[0].input_schema"},
      {R"({"model":"m","messages":[],"tool_choice":{"type":"sometimes"}})", "tool_choice.type"},
      {R"({"model":"m","messages":[],"tool_choice":{"type":"tool"}})", "tool_choice.name"},
      {R"({"model":"m","messages":[],"thinking":{"type":"enabled"}})", "thinking.budget_tokens"},
      {R"({"model":"m","messages":[],"thinking":{"type":"maybe"}})", "thinking.type"},
      {R"({"model":"m","messages":[],"metadata":{"user_id":5}})", "metadata.user_id"},
      {R"({"model":"m","messages":[],"output_config":{"format":{"type":"xml"}}})",
       "output_config.format.type"},
      {R"({"model":"m","messages":[],"output_format":{"type":"json_schema"}})",
       "output_format.schema"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.body);
    auto e = decode_fails(row.body);
    EXPECT_EQ(e.code, errc::invalid_request);
    EXPECT_EQ(e.param, row.param);
    EXPECT_EQ(e.message.substr(0, e.param.size()), e.param);
  }
  for (const char* body : {"", "[]", "{", "null", "{\"model\":\"m\",\"messages\":[]} x"}) {
    auto e = decode_fails(body);
    EXPECT_EQ(e.code, errc::invalid_request);
    EXPECT_TRUE(e.param.empty());
  }
}

TEST(anthropic_codec, deep_schemas_are_accepted) {
  std::string schema;
  for (int i = 0; i < 60; ++i)
    schema += R"({"type":"object","properties":{"x":)";
  schema += "{}";
  for (int i = 0; i < 60; ++i)
    schema += "}}";
  auto r = decode_ok(R"({"model":"m","messages":[],"tools":[{"name":"f","input_schema":)" + schema +
                     "}]}");
  ASSERT_EQ(r.tools.size(), 1u);
}

// --- requests: encoding an IR from another protocol -------------------------------------------

ir::part text(std::string t) {
  ir::part p;
  p.text = std::move(t);
  return p;
}

ir::message msg(ir::role who, std::vector<ir::part> parts) {
  ir::message m;
  m.who = who;
  m.parts = std::move(parts);
  return m;
}

TEST(anthropic_codec, encodes_an_openai_shaped_conversation) {
  ir::request r;
  r.source = ir::protocol::openai;
  r.model = "claude-sonnet-4-5";
  r.system = {text("System one."), text(""), text("Developer two.")};
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "call_1";
  call.name = "lookup";
  call.arguments = R"({"q": "x"})";
  ir::part call2 = call;
  call2.id = "call_2";
  call2.arguments = "";
  ir::part reasoning;
  reasoning.type = ir::part::kind::reasoning;
  reasoning.text = "unsigned thoughts";  // from reasoning_content: no signature, not sent
  ir::part result;
  result.type = ir::part::kind::tool_result;
  result.id = "call_1";
  result.content = {text("r1")};
  ir::part result2 = result;
  result2.id = "call_2";
  result2.content = {text("a"), text("b")};
  r.messages = {
      msg(ir::role::user, {text("Hello")}),
      msg(ir::role::user, {text("Second user message")}),
      msg(ir::role::assistant, {reasoning, text(""), call, call2}),
      msg(ir::role::tool, {result}),
      msg(ir::role::tool, {result2}),
      msg(ir::role::assistant, {text("")}),  // left empty: skipped
      msg(ir::role::user, {text("Thanks")}),
  };
  r.temperature = 1.7;
  r.presence_penalty = 0.5;
  r.seed = 7;
  r.stop = {"END"};
  r.user = "u-1";
  r.choice.parallel = false;
  ir::tool tool;
  tool.name = "lookup";
  tool.strict = true;
  r.tools = {tool};
  r.extra.emplace("logprobs", true);

  ir::dropped_fields dropped;
  auto text_out = encode_ok(r, &dropped);
  auto out = parse(text_out);
  const char* expected = R"({
    "model":"claude-sonnet-4-5","max_tokens":4096,
    "system":[{"type":"text","text":"System one."},{"type":"text","text":"Developer two."}],
    "messages":[
      {"role":"user","content":[{"type":"text","text":"Hello"},{"type":"text","text":"Second user message"}]},
      {"role":"assistant","content":[
        {"type":"tool_use","id":"call_1","name":"lookup","input":{"q":"x"}},
        {"type":"tool_use","id":"call_2","name":"lookup","input":{}}]},
      {"role":"user","content":[
        {"type":"tool_result","tool_use_id":"call_1","content":"r1"},
        {"type":"tool_result","tool_use_id":"call_2","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},
        {"type":"text","text":"Thanks"}]}],
    "tools":[{"name":"lookup","input_schema":{"type":"object","properties":{}}}],
    "tool_choice":{"type":"auto","disable_parallel_tool_use":true},
    "stop_sequences":["END"],"temperature":1,"metadata":{"user_id":"u-1"}})";
  EXPECT_TRUE(json_equal(out, parse(expected))) << text_out;
  std::sort(dropped.begin(), dropped.end());
  EXPECT_EQ(dropped, (ir::dropped_fields{"logprobs", "presence_penalty", "seed", "tools.strict"}));
}

TEST(anthropic_codec, reasoning_settings) {
  ir::request r;
  r.model = "m";
  r.messages = {msg(ir::role::user, {text("x")})};
  auto thinking = [&] { return parse(encode_ok(r)); };

  r.reasoning.effort = "low";
  auto out = thinking();
  EXPECT_EQ(out.at("thinking").at("budget_tokens").as_int64(), 2048);
  EXPECT_EQ(out.at("max_tokens").as_int64(), 4096);

  r.reasoning.effort = "high";  // 24576 >= 4096: max_tokens must exceed the budget
  out = thinking();
  EXPECT_EQ(out.at("thinking").at("budget_tokens").as_int64(), 24576);
  EXPECT_EQ(out.at("max_tokens").as_int64(), 24576 + 4096);

  r.reasoning.effort = "none";
  EXPECT_FALSE(thinking().as_object().contains("thinking"));

  r.reasoning = {};
  r.reasoning.budget_tokens = 100;  // below Anthropic's minimum
  r.max_tokens = 50000;
  out = thinking();
  EXPECT_EQ(out.at("thinking").at("budget_tokens").as_int64(), 1024);
  EXPECT_EQ(out.at("max_tokens").as_int64(), 50000);

  r.reasoning.budget_tokens = 0;  // Gemini: thinking off
  EXPECT_FALSE(thinking().as_object().contains("thinking"));

  r.reasoning = {};
  r.reasoning.enabled = true;  // asked for, no budget, not from an Anthropic client
  EXPECT_EQ(thinking().at("thinking").at("budget_tokens").as_int64(), 8192);
}

TEST(anthropic_codec, no_thinking_for_a_tool_turn_without_it) {
  ir::request r;
  r.model = "m";
  r.reasoning.effort = "medium";
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "c";
  call.name = "f";
  ir::part result;
  result.type = ir::part::kind::tool_result;
  result.id = "c";
  result.content = {text("ok")};
  r.messages = {msg(ir::role::user, {text("x")}), msg(ir::role::assistant, {text("calling"), call}),
                msg(ir::role::tool, {result})};
  ir::dropped_fields dropped;
  EXPECT_FALSE(parse(encode_ok(r, &dropped)).as_object().contains("thinking"));
  EXPECT_EQ(dropped, ir::dropped_fields{"reasoning"});

  // With the signed thinking that came with the call (an Anthropic upstream's), it stays.
  ir::part thought;
  thought.type = ir::part::kind::reasoning;
  thought.text = "t";
  thought.signature = "sig";
  r.messages[1].parts.insert(r.messages[1].parts.begin(), thought);
  dropped.clear();
  EXPECT_TRUE(parse(encode_ok(r, &dropped)).as_object().contains("thinking"));
  EXPECT_TRUE(dropped.empty());
}

TEST(anthropic_codec, json_object_becomes_an_instruction) {
  ir::request r;
  r.model = "m";
  r.messages = {msg(ir::role::user, {text("x")})};
  r.format.type = ir::response_format::kind::json_object;
  ir::dropped_fields dropped;
  auto out = parse(encode_ok(r, &dropped));
  EXPECT_EQ(out.at("system").as_string(), "Respond with a single JSON object and nothing else.");
  EXPECT_EQ(dropped, ir::dropped_fields{"response_format"});
  r.system = {text("Be nice.")};
  out = parse(encode_ok(r));
  ASSERT_EQ(out.at("system").as_array().size(), 2u);
  EXPECT_EQ(out.at("system").as_array()[1].at("text").as_string(),
            "Respond with a single JSON object and nothing else.");
  EXPECT_FALSE(out.as_object().contains("output_config"));
}

TEST(anthropic_codec, n_above_one_is_refused) {
  ir::request r;
  r.model = "m";
  r.n = 2;
  ir::dropped_fields dropped;
  auto out = anthropic::encode_request(r, dropped);
  ASSERT_TRUE(std::holds_alternative<error>(out));
  EXPECT_EQ(std::get<error>(out).code, errc::invalid_request);
  EXPECT_EQ(std::get<error>(out).param, "n");
}

TEST(anthropic_codec, tool_arguments_that_are_not_an_object_are_refused) {
  ir::request r;
  r.model = "m";
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "c";
  call.name = "f";
  for (const char* args : {"[1]", "{\"a\":", "nope", "\"x\""}) {
    call.arguments = args;
    r.messages = {msg(ir::role::assistant, {call})};
    ir::dropped_fields dropped;
    auto out = anthropic::encode_request(r, dropped);
    ASSERT_TRUE(std::holds_alternative<error>(out)) << args;
    EXPECT_EQ(std::get<error>(out).param, "messages[0].parts[0].arguments");
  }
}

TEST(anthropic_codec, images_and_documents_from_other_protocols) {
  ir::request r;
  r.model = "m";
  ir::part png;
  png.type = ir::part::kind::image;
  png.data = "iVBORw0KGgoAAAANSUhEUg";  // no media type given: recognised from the bytes
  png.detail = "high";
  ir::part jpeg = png;
  jpeg.data = "/9j/4AAQ";
  ir::part url;
  url.type = ir::part::kind::image;
  url.url = "https://example.com/a.png";
  ir::part doc;
  doc.type = ir::part::kind::document;
  doc.media_type = "text/plain";
  doc.data = "aGVsbG8gd29ybGQ=";
  r.messages = {msg(ir::role::user, {png, jpeg, url, doc})};
  auto out = parse(encode_ok(r));
  const auto& c = out.at("messages").as_array()[0].at("content").as_array();
  EXPECT_EQ(c[0].at("source").at("media_type").as_string(), "image/png");
  EXPECT_EQ(c[1].at("source").at("media_type").as_string(), "image/jpeg");
  EXPECT_TRUE(
      json_equal(c[2].at("source"), parse(R"({"type":"url","url":"https://example.com/a.png"})")));
  EXPECT_TRUE(json_equal(
      c[3],
      parse(
          R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":"hello world"}})")));
}

TEST(anthropic_codec, what_anthropic_would_refuse_is_adjusted) {
  ir::request r;
  r.source = ir::protocol::openai;
  r.model = "m";
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "functions.get_weather:0";  // Kimi-style: outside Anthropic's id pattern
  call.name = "get_weather";
  call.arguments = "{}";
  ir::part result;
  result.type = ir::part::kind::tool_result;
  result.id = call.id;
  result.content = {text("sunny")};
  ir::part mislabelled;
  mislabelled.type = ir::part::kind::image;
  mislabelled.media_type = "image/jpeg";
  mislabelled.data = "iVBORw0KGgoAAAANSUhEUg";  // PNG bytes
  r.messages = {msg(ir::role::user, {text("x"), mislabelled}), msg(ir::role::assistant, {call}),
                msg(ir::role::tool, {result})};
  r.stop = {"\n", "END", " "};
  ir::tool tool;
  tool.name = "get_weather";
  tool.parameters = parse(R"({"properties":{"city":{"type":"string"}}})");
  ir::tool empty;
  empty.name = "noop";
  empty.parameters = bj::object();
  r.tools = {tool, empty};
  ir::dropped_fields dropped;
  auto out = parse(encode_ok(r, &dropped));
  const auto& ms = out.at("messages").as_array();
  EXPECT_EQ(ms[0].at("content").as_array()[1].at("source").at("media_type").as_string(),
            "image/png");
  EXPECT_EQ(ms[1].at("content").as_array()[0].at("id").as_string(), "functions_get_weather_0");
  EXPECT_EQ(ms[2].at("content").as_array()[0].at("tool_use_id").as_string(),
            "functions_get_weather_0");
  EXPECT_TRUE(json_equal(out.at("stop_sequences"), parse(R"(["END"])")));
  EXPECT_EQ(dropped, ir::dropped_fields{"stop"});
  EXPECT_TRUE(json_equal(out.at("tools").as_array()[0].at("input_schema"),
                         parse(R"({"type":"object","properties":{"city":{"type":"string"}}})")));
  EXPECT_TRUE(
      json_equal(out.at("tools").as_array()[1].at("input_schema"), parse(R"({"type":"object"})")));
}

TEST(anthropic_codec, response_tool_ids_match_anthropics_pattern) {
  ir::response r;
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.name = "f";
  call.arguments = "{}";
  ir::part named = call;
  named.id = "call.1|x";
  r.parts = {call, named};
  auto out = parse(anthropic::encode_response(r));
  const auto& c = out.at("content").as_array();
  std::string generated(c[0].at("id").as_string());
  EXPECT_EQ(generated.substr(0, 6), "toolu_");
  EXPECT_EQ(generated.size(), 6u + 24u);
  EXPECT_EQ(generated.find_first_not_of(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"),
            std::string::npos);
  EXPECT_EQ(c[1].at("id").as_string(), "call_1_x");
}

TEST(anthropic_codec, empty_input_gives_a_valid_request) {
  ir::request r;
  auto out = parse(encode_ok(r));
  EXPECT_TRUE(json_equal(out, parse(R"({"model":"","max_tokens":4096,"messages":[]})")));
}

TEST(anthropic_codec, text_documents_travel_as_base64) {
  const std::pair<const char*, const char*> rows[] = {
      {"", ""},        {"a", "YQ=="},        {"ab", "YWI="},
      {"abc", "YWJj"}, {"abcd", "YWJjZA=="}, {R"(\u00ff\u0000x)", "w78AeA=="}};
  for (const auto& [text, b64] : rows) {
    SCOPED_TRACE(text);
    std::string block =
        R"({"type":"document","source":{"type":"text","media_type":"text/plain","data":")" +
        std::string(text) + R"("}})";
    auto r = decode_ok(R"({"model":"m","messages":[{"role":"user","content":[)" + block + "]}]}");
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].parts[0].data, b64);
    auto out = parse(encode_ok(r));
    EXPECT_TRUE(
        json_equal(out.at("messages").as_array()[0].at("content").as_array()[0], parse(block)));
  }
  // Bytes that are not UTF-8 stay base64 (as a text source cannot hold them).
  ir::request r;
  ir::part doc;
  doc.type = ir::part::kind::document;
  doc.media_type = "text/plain";
  doc.data = "/w==";  // 0xff
  r.messages = {msg(ir::role::user, {doc})};
  auto out = parse(encode_ok(r));
  EXPECT_EQ(out.at("messages")
                .as_array()[0]
                .at("content")
                .as_array()[0]
                .at("source")
                .at("type")
                .as_string(),
            "base64");
}

// --- responses -----------------------------------------------------------------------------------

TEST(anthropic_codec, response_round_trip_on_recorded_responses) {
  for (const char* name :
       {"anthropic/messages_text_and_tool_use.turn1.response.json",
        "anthropic/messages_text_and_tool_use.turn2_with_tool_result.response.json",
        "anthropic/messages_structured_output_json_schema.response.json"}) {
    SCOPED_TRACE(name);
    auto body = read_fixture(name);
    auto decoded = anthropic::decode_response(body);
    ASSERT_TRUE(std::holds_alternative<ir::response>(decoded));
    auto out = anthropic::encode_response(std::get<ir::response>(decoded));
    auto original = parse(body);
    strip_unmodeled(original);
    EXPECT_TRUE(json_equal(original, parse(out))) << out;
  }
}

TEST(anthropic_codec, decodes_a_tool_use_response) {
  auto decoded = anthropic::decode_response(
      read_fixture("anthropic/messages_text_and_tool_use.turn1.response.json"));
  ASSERT_TRUE(std::holds_alternative<ir::response>(decoded));
  const auto& r = std::get<ir::response>(decoded);
  EXPECT_EQ(r.id, "msg_01UBZt9MX63Tk3v1gKvgxk3A");
  EXPECT_EQ(r.model, "claude-haiku-4-5-20251001");
  EXPECT_EQ(r.finish, ir::finish_reason::tool_calls);
  ASSERT_EQ(r.parts.size(), 2u);
  EXPECT_EQ(r.parts[1].type, ir::part::kind::tool_call);
  EXPECT_EQ(r.parts[1].arguments, R"({"location":"San Francisco, CA","units":"f"})");
  EXPECT_EQ(dump(r.tokens), "usage{in=701 out=93 read=0 write=0 1h=0 reasoning=-1}");
}

TEST(anthropic_codec, usage_with_cache_is_openai_shaped_in_the_ir) {
  auto doc = parse(read_fixture("anthropic/docs/usage_with_cache.DOC.json"));
  std::string body =
      R"({"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],)"
      R"("stop_reason":"end_turn","stop_sequence":null,"usage":)" +
      bj::serialize(doc.at("usage")) + "}";
  auto decoded = anthropic::decode_response(body);
  ASSERT_TRUE(std::holds_alternative<ir::response>(decoded));
  auto& r = std::get<ir::response>(decoded);
  EXPECT_EQ(r.tokens.input, 2048 + 1800 + 248);
  EXPECT_EQ(r.tokens.cache_read, 1800);
  EXPECT_EQ(r.tokens.cache_write, 248);
  EXPECT_EQ(r.tokens.cache_write_1h, 100);
  EXPECT_EQ(r.tokens.output, 503);
  auto usage = parse(anthropic::encode_response(r)).at("usage");
  EXPECT_TRUE(json_equal(usage, parse(R"({"input_tokens":2048,"cache_creation_input_tokens":248,
    "cache_read_input_tokens":1800,"output_tokens":503,
    "cache_creation":{"ephemeral_5m_input_tokens":148,"ephemeral_1h_input_tokens":100}})")));
}

TEST(anthropic_codec, absurd_usage_counts_saturate) {
  auto decoded = anthropic::decode_response(
      R"({"type":"message","content":[],"usage":{"input_tokens":9223372036854775807,)"
      R"("cache_read_input_tokens":18446744073709551615,"cache_creation_input_tokens":5,)"
      R"("output_tokens":-3}})");
  ASSERT_TRUE(std::holds_alternative<ir::response>(decoded));
  const auto& t = std::get<ir::response>(decoded).tokens;
  EXPECT_EQ(t.input, std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(t.output, 0);
  auto usage = parse(anthropic::encode_response(std::get<ir::response>(decoded))).at("usage");
  EXPECT_EQ(usage.at("input_tokens").as_int64(), 0);
}

TEST(anthropic_codec, docs_response_without_cache_fields) {
  auto decoded =
      anthropic::decode_response(read_fixture("anthropic/docs/messages_basic.DOC.response.json"));
  ASSERT_TRUE(std::holds_alternative<ir::response>(decoded));
  const auto& r = std::get<ir::response>(decoded);
  EXPECT_EQ(r.finish, ir::finish_reason::stop);
  EXPECT_EQ(dump(r.tokens), "usage{in=2095 out=503 read=-1 write=-1 1h=-1 reasoning=-1}");
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].text, "Hi! My name is Claude.");
}

TEST(anthropic_codec, encodes_responses_from_other_protocols) {
  ir::response r;
  r.id = "chatcmpl-1";
  r.model = "gpt-4o";
  r.finish = ir::finish_reason::stop;  // some vendors say "stop" after tool calls
  ir::part reasoning;
  reasoning.type = ir::part::kind::reasoning;
  reasoning.text = "hmm";
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "call_1";
  call.name = "f";
  call.arguments = R"({"a":1)";  // cut off: kept as a call with empty input
  ir::part image;
  image.type = ir::part::kind::image;
  image.url = "https://x";
  r.parts = {reasoning, text(""), text("Hi"), image, call};
  r.tokens.input = 100;
  r.tokens.cache_read = 40;
  r.tokens.output = 20;
  auto out = parse(anthropic::encode_response(r));
  auto expected = parse(R"({"id":"chatcmpl-1","type":"message","role":"assistant","model":"gpt-4o",
    "content":[{"type":"thinking","thinking":"hmm","signature":""},{"type":"text","text":"Hi"},
               {"type":"tool_use","id":"call_1","name":"f","input":{}}],
    "stop_reason":"tool_use","stop_sequence":null,
    "usage":{"input_tokens":60,"cache_creation_input_tokens":0,"cache_read_input_tokens":40,
             "output_tokens":20,"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0}}})");
  EXPECT_TRUE(json_equal(out, expected)) << bj::serialize(out);
}

TEST(anthropic_codec, finish_reasons_both_ways) {
  struct row {
    const char* wire;
    ir::finish_reason ir;
  };
  using f = ir::finish_reason;
  const row rows[] = {{"end_turn", f::stop},
                      {"stop_sequence", f::stop_sequence},
                      {"max_tokens", f::length},
                      {"tool_use", f::tool_calls},
                      {"refusal", f::refusal},
                      {"pause_turn", f::pause},
                      {"model_context_window_exceeded", f::context_exceeded}};
  for (const auto& row : rows) {
    ir::response r;
    r.finish = row.ir;
    r.stop_sequence = "STOP";
    auto out = parse(anthropic::encode_response(r));
    EXPECT_EQ(out.at("stop_reason").as_string(), row.wire);
    if (row.ir == f::stop_sequence) {
      EXPECT_EQ(out.at("stop_sequence").as_string(), "STOP");
    } else {
      EXPECT_TRUE(out.at("stop_sequence").is_null());
    }
    auto back = anthropic::decode_response(bj::serialize(out));
    ASSERT_TRUE(std::holds_alternative<ir::response>(back));
    EXPECT_EQ(std::get<ir::response>(back).finish, row.ir) << row.wire;
  }
  ir::response r;
  r.finish = f::content_filter;
  EXPECT_EQ(parse(anthropic::encode_response(r)).at("stop_reason").as_string(), "refusal");
  r.finish = f::error;
  EXPECT_EQ(parse(anthropic::encode_response(r)).at("stop_reason").as_string(), "end_turn");
}

TEST(anthropic_codec, bad_responses) {
  for (const char* body :
       {"", "<html>", "[]", R"({"type":"message"})", R"({"type":"message","content":[1]})",
        R"({"type":"message","content":[],"id":5})",
        R"({"type":"error","error":{"type":"api_error","message":"x"}})"}) {
    auto r = anthropic::decode_response(body);
    ASSERT_TRUE(std::holds_alternative<error>(r)) << body;
    EXPECT_EQ(std::get<error>(r).code, errc::upstream_bad_response);
  }
  // Server tool blocks are skipped, not fatal.
  auto r = anthropic::decode_response(
      R"({"type":"message","content":[{"type":"server_tool_use","id":"s","name":"web_search","input":{}},
          {"type":"text","text":"x"}],"stop_reason":null})");
  ASSERT_TRUE(std::holds_alternative<ir::response>(r));
  EXPECT_EQ(std::get<ir::response>(r).parts.size(), 1u);
  EXPECT_EQ(std::get<ir::response>(r).finish, ir::finish_reason::none);
}

// --- errors --------------------------------------------------------------------------------------

TEST(anthropic_codec, decodes_recorded_errors) {
  struct row {
    const char* file;
    int status;
    ir::error_kind kind;
    const char* message_start;
  };
  using k = ir::error_kind;
  const row rows[] = {
      {"anthropic/error_400_invalid_request_error.response.json", 400, k::invalid_request,
       "messages.0.content.1: unexpected `tool_use_id`"},
      {"anthropic/error_429_rate_limit_error.response.json", 429, k::rate_limit,
       "This request would exceed"},
      {"anthropic/error_529_overloaded_error.THIRDPARTY_CAPTURE.response.json", 529, k::overloaded,
       "Overloaded"},
      {"anthropic/docs/error_429_spend_limit.DOC.json", 429, k::quota, "You have reached"},
      {"anthropic/docs/error_shape_not_found.DOC.json", 404, k::not_found, "The requested"},
  };
  for (const auto& row : rows) {
    SCOPED_TRACE(row.file);
    auto e = anthropic::decode_error(row.status, read_fixture(row.file));
    EXPECT_EQ(e.status, row.status);
    EXPECT_EQ(e.kind, row.kind);
    EXPECT_EQ(e.message.substr(0, std::string_view(row.message_start).size()), row.message_start);
  }
}

TEST(anthropic_codec, decodes_errors_that_are_not_anthropic_shaped) {
  auto e = anthropic::decode_error(502, "<html><body>Bad gateway</body></html>");
  EXPECT_EQ(e.kind, ir::error_kind::server);
  EXPECT_EQ(e.status, 502);
  EXPECT_EQ(e.message.find("<html>"), std::string::npos);
  EXPECT_FALSE(e.message.empty());

  e = anthropic::decode_error(413, "");
  EXPECT_EQ(e.kind, ir::error_kind::request_too_large);

  e = anthropic::decode_error(401,
                              R"({"error":{"message":"bad key","type":"authentication_error"}})");
  EXPECT_EQ(e.kind, ir::error_kind::authentication);
  EXPECT_EQ(e.message, "bad key");

  e = anthropic::decode_error(500, R"({"error":"boom"})");
  EXPECT_EQ(e.message, "boom");
  e = anthropic::decode_error(503, R"({"message":"busy"})");
  EXPECT_EQ(e.message, "busy");
  EXPECT_EQ(e.kind, ir::error_kind::overloaded);
  e = anthropic::decode_error(418,
                              R"({"type":"error","error":{"type":"new_error","message":"?"}})");
  EXPECT_EQ(e.kind, ir::error_kind::invalid_request);
}

TEST(anthropic_codec, encodes_errors_by_the_table) {
  struct row {
    ir::error_kind kind;
    int status;
    const char* type;
  };
  using k = ir::error_kind;
  const row rows[] = {
      {k::invalid_request, 400, "invalid_request_error"},
      {k::authentication, 401, "authentication_error"},
      {k::billing, 402, "billing_error"},
      {k::permission, 403, "permission_error"},
      {k::not_found, 404, "not_found_error"},
      {k::request_too_large, 413, "request_too_large"},
      {k::rate_limit, 429, "rate_limit_error"},
      {k::quota, 429, "rate_limit_error"},
      {k::server, 500, "api_error"},
      {k::overloaded, 529, "overloaded_error"},
      {k::timeout, 504, "timeout_error"},
  };
  for (const auto& row : rows) {
    ir::api_error e;
    e.kind = row.kind;
    e.status = 418;
    e.message = "it \"failed\"\n";
    auto out = anthropic::encode_error(e);
    EXPECT_EQ(out.status, row.status);
    EXPECT_EQ(out.body, std::string(R"({"type":"error","error":{"type":")") + row.type +
                            R"(","message":"it \"failed\"\n"}})");
    auto back = anthropic::decode_error(out.status, out.body);
    EXPECT_EQ(back.kind, row.kind == k::quota ? k::rate_limit : row.kind);
    EXPECT_EQ(back.message, e.message);
  }
  ir::api_error e;
  e.kind = ir::error_kind::server;
  e.status = 502;
  EXPECT_EQ(anthropic::encode_error(e).status, 502);
}

}  // namespace
}  // namespace sy::test
