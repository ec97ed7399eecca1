// The Gemini generateContent codec: requests, responses and errors, on the recorded fixtures
// of tests/fixtures/gemini and on hand-made cases for what the recordings do not show.
#include "protocol/gemini/codec.h"

#include "../../read_fixture.h"
#include "protocol/gemini/schema.h"
#include "test_util.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <string>
#include <tuple>
#include <vector>

namespace sy::test {
namespace {

namespace bj = boost::json;
using gemini_util::describe;
using gemini_util::json_equal;
using gemini_util::parse;

ir::request decode_ok(std::string_view body) {
  auto r = gemini::decode_request(body);
  if (auto* e = std::get_if<error>(&r)) {
    ADD_FAILURE() << "decode failed: " << e->message << " (" << e->param << ")";
    return {};
  }
  return std::get<ir::request>(std::move(r));
}

error decode_fails(std::string_view body) {
  auto r = gemini::decode_request(body);
  if (auto* e = std::get_if<error>(&r)) return *e;
  ADD_FAILURE() << "decode succeeded: " << body;
  return error{errc::internal, "", ""};
}

std::string encode_ok(const ir::request& r, ir::dropped_fields* dropped_out = nullptr) {
  ir::dropped_fields dropped;
  auto out = gemini::encode_request(r, dropped);
  if (dropped_out) *dropped_out = dropped;
  if (auto* e = std::get_if<error>(&out)) {
    ADD_FAILURE() << "encode failed: " << e->message << " (" << e->param << ")";
    return {};
  }
  return std::get<std::string>(std::move(out));
}

ir::response decode_response_ok(std::string_view body) {
  auto r = gemini::decode_response(body);
  if (auto* e = std::get_if<error>(&r)) {
    ADD_FAILURE() << "decode_response failed: " << e->message;
    return {};
  }
  return std::get<ir::response>(std::move(r));
}

// Everything the IR holds of a request, for comparing two of them.
std::string describe(const ir::request& r) {
  std::string s = "model=" + r.model + " stream=" + std::to_string(r.stream) + "\nsystem:";
  for (const auto& p : r.system)
    s += describe(p);
  s += "\n";
  for (const auto& m : r.messages) {
    s += "role" + std::to_string(static_cast<int>(m.who)) + ":";
    for (const auto& p : m.parts)
      s += describe(p);
    s += "\n";
  }
  for (const auto& t : r.tools)
    s += "tool " + t.name + " " + t.description + " " + bj::serialize(t.parameters) + "\n";
  s += "choice " + std::to_string(static_cast<int>(r.choice.type)) + r.choice.name + "\n";
  auto opt = [&](const char* n, const auto& v) {
    if (v) s += std::string(n) + "=" + std::to_string(*v) + " ";
  };
  opt("max_tokens", r.max_tokens);
  opt("temperature", r.temperature);
  opt("top_p", r.top_p);
  opt("top_k", r.top_k);
  opt("presence", r.presence_penalty);
  opt("frequency", r.frequency_penalty);
  opt("seed", r.seed);
  for (const auto& st : r.stop)
    s += "stop=" + st + " ";
  s += "n=" + std::to_string(r.n) + " format=" + std::to_string(static_cast<int>(r.format.type)) +
       bj::serialize(r.format.schema) + " effort=" + r.reasoning.effort +
       " enabled=" + std::to_string(r.reasoning.enabled) +
       " include=" + std::to_string(r.reasoning.include_thoughts);
  opt("budget", r.reasoning.budget_tokens);
  s += "\nextra=" + bj::serialize(r.extra);
  return s;
}

// What a Gemini client may write that the IR does not distinguish, brought to one form on both
// sides of a round trip: systemInstruction.role, an empty generationConfig, candidateCount 1,
// parametersJsonSchema (we write `parameters`), uppercase OpenAPI type names.
void lowercase_types(bj::value& schema) {
  if (schema.is_object()) {
    for (auto& m : schema.get_object()) {
      if (m.key() == "type" && m.value().is_string()) {
        std::string t(m.value().get_string());
        for (auto& c : t)
          c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        m.value() = t;
      } else {
        lowercase_types(m.value());
      }
    }
  } else if (schema.is_array()) {
    for (auto& v : schema.get_array())
      lowercase_types(v);
  }
}

bj::value normalize(bj::value v) {
  auto& o = v.get_object();
  if (auto* si = o.if_contains("systemInstruction")) si->get_object().erase("role");
  if (auto* g = o.if_contains("generationConfig")) {
    auto& go = g->get_object();
    if (auto* c = go.if_contains("candidateCount"); c && c->to_number<double>() == 1)
      go.erase("candidateCount");
    if (go.empty()) o.erase("generationConfig");
  }
  if (auto* tools = o.if_contains("tools")) {
    for (auto& t : tools->get_array()) {
      auto* decls = t.get_object().if_contains("functionDeclarations");
      if (!decls) continue;
      for (auto& d : decls->get_array()) {
        auto& dobj = d.get_object();
        if (auto* raw = dobj.if_contains("parametersJsonSchema")) {
          bj::value moved = *raw;
          dobj.erase("parametersJsonSchema");
          dobj["parameters"] = std::move(moved);
        }
        if (auto* p = dobj.if_contains("parameters")) lowercase_types(*p);
      }
    }
  }
  return v;
}

const char* const recorded_requests[] = {
    "gemini/generateContent_function_call.turn1.request.json",
    "gemini/generateContent_function_call.turn2_function_response.request.json",
    "gemini/generateContent_generation_config.request.json",
    "gemini/generateContent_response_json_schema.request.json",
    "gemini/generateContent_system_instruction.request.json",
    "gemini/generateContent_thinking_max_tokens.request.json",
    "gemini/streamGenerateContent_function_call.request.json",
    "gemini/streamGenerateContent_system_instruction.request.json",
    "gemini/streamGenerateContent_text.request.json",
};

// ---------------------------------------------------------------------------------------------
// Requests: recorded fixtures

TEST(gemini_codec, recorded_requests_round_trip) {
  for (const char* name : recorded_requests) {
    SCOPED_TRACE(name);
    auto body = read_fixture(name);
    auto r = decode_ok(body);
    EXPECT_TRUE(r.model.empty());
    EXPECT_FALSE(r.stream);
    EXPECT_EQ(r.source, ir::protocol::gemini);
    auto out = encode_ok(r);
    EXPECT_TRUE(json_equal(normalize(parse(out)), normalize(parse(body))))
        << "in:  " << bj::serialize(normalize(parse(body))) << "\nout: " << out;
    // And the IR survives its own encoding.
    auto again = decode_ok(out);
    EXPECT_EQ(describe(again), describe(r));
    EXPECT_EQ(encode_ok(again), out);
  }
}

TEST(gemini_codec, recorded_function_call_turn2) {
  auto r = decode_ok(
      read_fixture("gemini/generateContent_function_call.turn2_function_response.request.json"));
  ASSERT_EQ(r.messages.size(), 3u);
  EXPECT_EQ(r.messages[0].who, ir::role::user);
  EXPECT_EQ(r.messages[0].parts[0].text, "Divide 10 by 2 using the customDivide function");
  ASSERT_EQ(r.messages[1].who, ir::role::assistant);
  const auto& call = r.messages[1].parts.at(0);
  EXPECT_EQ(call.type, ir::part::kind::tool_call);
  EXPECT_EQ(call.id, "call_0");
  EXPECT_EQ(call.name, "customDivide");
  EXPECT_TRUE(json_equal(parse(call.arguments), parse(R"({"denominator":2,"numerator":10})")));
  ASSERT_EQ(r.messages[2].who, ir::role::tool);
  const auto& result = r.messages[2].parts.at(0);
  EXPECT_EQ(result.type, ir::part::kind::tool_result);
  EXPECT_EQ(result.id, "call_0");
  EXPECT_EQ(result.name, "customDivide");
  EXPECT_FALSE(result.is_error);
  ASSERT_EQ(result.content.size(), 1u);
  // No "output" string: the whole response object is the result text.
  EXPECT_TRUE(json_equal(parse(result.content[0].text), parse(R"({"output":42})")));
  EXPECT_EQ(r.choice.type, ir::tool_choice::kind::auto_);
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_EQ(r.tools[0].name, "customDivide");
  EXPECT_EQ(r.tools[0].description, "Custom divide function");
  EXPECT_TRUE(json_equal(r.tools[0].parameters,
                         parse(R"({"properties":{"denominator":{"type":"number"},)"
                               R"("numerator":{"type":"number"}},"type":"object"})")));
  EXPECT_TRUE(r.extra.empty());
}

TEST(gemini_codec, recorded_system_instruction_and_generation_config) {
  auto r = decode_ok(read_fixture("gemini/generateContent_system_instruction.request.json"));
  ASSERT_EQ(r.system.size(), 1u);
  EXPECT_EQ(r.system[0].text, "I say high you say low");
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].parts[0].text, "high");

  auto g = decode_ok(read_fixture("gemini/generateContent_generation_config.request.json"));
  EXPECT_EQ(g.max_tokens, 200);
  EXPECT_EQ(g.n, 1);
  EXPECT_EQ(g.reasoning.budget_tokens, 50);
  EXPECT_EQ(g.reasoning.effort, "minimal");
  EXPECT_TRUE(g.reasoning.enabled);
  EXPECT_FALSE(g.reasoning.include_thoughts);

  auto t = decode_ok(read_fixture("gemini/generateContent_thinking_max_tokens.request.json"));
  EXPECT_EQ(t.max_tokens, 20);
  EXPECT_TRUE(t.reasoning.include_thoughts);
  EXPECT_TRUE(t.reasoning.enabled);
  EXPECT_FALSE(t.reasoning.budget_tokens);
}

TEST(gemini_codec, recorded_response_json_schema_is_kept_raw) {
  auto body = read_fixture("gemini/generateContent_response_json_schema.request.json");
  auto r = decode_ok(body);
  EXPECT_EQ(r.format.type, ir::response_format::kind::json_schema);
  EXPECT_TRUE(
      json_equal(r.format.schema, parse(body).at_pointer("/generationConfig/responseJsonSchema")));
}

// ---------------------------------------------------------------------------------------------
// Requests: what the SDK and REST users send besides

bool has_snake_key(const bj::value& v) {
  if (v.is_object()) {
    for (const auto& m : v.get_object())
      if (m.key().find('_') != bj::string_view::npos || has_snake_key(m.value())) return true;
  } else if (v.is_array()) {
    for (const auto& e : v.get_array())
      if (has_snake_key(e)) return true;
  }
  return false;
}

TEST(gemini_codec, snake_case_is_accepted_and_camel_case_written) {
  auto r = decode_ok(R"({
    "system_instruction": {"parts": [{"text": "be brief"}]},
    "contents": [{"parts": [
      {"inline_data": {"mime_type": "image/jpeg", "data": "QUJD"}},
      {"file_data": {"file_uri": "https://example.com/a.pdf", "mime_type": "application/pdf"}},
      {"text": "Caption this image."}]}],
    "tools": [{"function_declarations": [{"name": "f", "parameters_json_schema":
      {"type": "object", "properties": {"a": {"type": "string"}}}}]}],
    "tool_config": {"function_calling_config": {"mode": "ANY",
                                                "allowed_function_names": ["f"]}},
    "generation_config": {"max_output_tokens": 64, "stop_sequences": ["END"], "top_k": 5,
                          "top_p": 0.5, "response_mime_type": "application/json",
                          "thinking_config": {"thinking_budget": 0}},
    "safety_settings": [{"category": "HARM_CATEGORY_HATE_SPEECH",
                         "threshold": "BLOCK_NONE"}]})");
  ASSERT_EQ(r.system.size(), 1u);
  ASSERT_EQ(r.messages.size(), 1u);
  const auto& parts = r.messages[0].parts;
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].type, ir::part::kind::image);
  EXPECT_EQ(parts[0].media_type, "image/jpeg");
  EXPECT_EQ(parts[0].data, "QUJD");
  EXPECT_EQ(parts[1].type, ir::part::kind::document);
  EXPECT_EQ(parts[1].url, "https://example.com/a.pdf");
  EXPECT_EQ(r.tools.at(0).name, "f");
  EXPECT_EQ(r.choice.type, ir::tool_choice::kind::named);
  EXPECT_EQ(r.choice.name, "f");
  EXPECT_EQ(r.max_tokens, 64);
  EXPECT_EQ(r.top_k, 5);
  EXPECT_EQ(r.top_p, 0.5);
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.format.type, ir::response_format::kind::json_object);
  EXPECT_EQ(r.reasoning.budget_tokens, 0);
  EXPECT_FALSE(r.reasoning.enabled);
  ASSERT_TRUE(r.extra.contains("safetySettings"));

  auto out = encode_ok(r);
  EXPECT_FALSE(has_snake_key(parse(out))) << out;
  EXPECT_TRUE(json_equal(parse(out), parse(R"({
    "contents": [{"role": "user", "parts": [
      {"inlineData": {"mimeType": "image/jpeg", "data": "QUJD"}},
      {"fileData": {"mimeType": "application/pdf", "fileUri": "https://example.com/a.pdf"}},
      {"text": "Caption this image."}]}],
    "systemInstruction": {"parts": [{"text": "be brief"}]},
    "tools": [{"functionDeclarations": [{"name": "f", "parameters":
      {"type": "object", "properties": {"a": {"type": "string"}}}}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["f"]}},
    "generationConfig": {"stopSequences": ["END"], "topP": 0.5, "topK": 5,
                         "maxOutputTokens": 64, "responseMimeType": "application/json",
                         "thinkingConfig": {"thinkingBudget": 0}},
    "safetySettings": [{"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "BLOCK_NONE"}]})")))
      << out;
}

TEST(gemini_codec, roles) {
  auto r = decode_ok(R"({"contents": [
    {"parts": [{"text": "no role"}]},
    {"role": "model", "parts": [{"text": "answer"}]},
    {"role": "user", "parts": []},
    {"role": "user"}]})");
  ASSERT_EQ(r.messages.size(), 2u);
  EXPECT_EQ(r.messages[0].who, ir::role::user);
  EXPECT_EQ(r.messages[1].who, ir::role::assistant);

  auto e = decode_fails(R"({"contents": [{"role": "system", "parts": [{"text": "x"}]}]})");
  EXPECT_EQ(e.code, errc::invalid_request);
  EXPECT_EQ(e.param, "contents[0].role");
}

TEST(gemini_codec, bad_requests_name_the_field) {
  struct bad {
    const char* body;
    const char* param;
  };
  const bad cases[] = {
      {R"([])", ""},
      {R"({"contents": )", ""},
      {R"({})", "contents"},
      {R"({"contents": {}})", "contents"},
      {R"({"contents": [1]})", "contents[0]"},
      {R"({"contents": [{"parts": {}}]})", "contents[0].parts"},
      {R"({"contents": [{"parts": [{"text": "a"}, {"text": 1}]}]})", "contents[0].parts[1].text"},
      {R"({"contents": [{"parts": ["a"]}]})", "contents[0].parts[0]"},
      {R"({"contents": [{"parts": [{"inlineData": {"mimeType": "image/png"}}]}]})",
       "contents[0].parts[0].inlineData.data"},
      {R"({"contents": [{"parts": [{"functionCall": {"name": "f"}}]}]})",
       "contents[0].parts[0].functionCall"},
      {R"({"contents": [{"role": "model", "parts": [{"functionCall": {"args": {}}}]}]})",
       "contents[0].parts[0].functionCall.name"},
      {R"({"contents": [{"role": "model", "parts": [{"functionCall": {"name": "f", "args": []}}]}]})",
       "contents[0].parts[0].functionCall.args"},
      {R"({"contents": [{"role": "model", "parts": [{"functionResponse": {"name": "f"}}]}]})",
       "contents[0].parts[0].functionResponse"},
      {R"({"contents": [], "generationConfig": {"temperature": "hot"}})",
       "generationConfig.temperature"},
      {R"({"contents": [], "generationConfig": {"max_output_tokens": 1.5}})",
       "generationConfig.max_output_tokens"},
      {R"({"contents": [], "generationConfig": {"stopSequences": [1]}})",
       "generationConfig.stopSequences"},
      {R"({"contents": [], "tools": [{"functionDeclarations": [{"description": "x"}]}]})",
       "tools[0].functionDeclarations[0].name"},
      {R"({"contents": [], "systemInstruction": {"parts": [{"text": 2}]}})",
       "systemInstruction.parts[0].text"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.body);
    auto e = decode_fails(c.body);
    EXPECT_EQ(e.code, errc::invalid_request);
    EXPECT_EQ(e.param, c.param);
    EXPECT_FALSE(e.message.empty());
  }
}

TEST(gemini_codec, tool_call_ids_are_generated_and_matched) {
  auto r = decode_ok(R"({"contents": [
    {"role": "user", "parts": [{"text": "weather in A and B?"}]},
    {"role": "model", "parts": [
      {"functionCall": {"name": "weather", "args": {"city": "A"}}},
      {"functionCall": {"name": "weather", "args": {"city": "B"}}},
      {"functionCall": {"name": "time", "id": "t1", "args": {}}}]},
    {"role": "user", "parts": [
      {"functionResponse": {"name": "time", "id": "t1", "response": {"output": "noon"}}},
      {"functionResponse": {"name": "weather", "response": {"output": "sun"}}},
      {"functionResponse": {"name": "weather", "response": {"error": "no data"}}},
      {"functionResponse": {"name": "other", "response": {"result": "?"}}},
      {"text": "thanks"}]}]})");
  ASSERT_EQ(r.messages.size(), 4u);
  const auto& calls = r.messages[1].parts;
  EXPECT_EQ(calls[0].id, "call_0");
  EXPECT_EQ(calls[1].id, "call_1");
  EXPECT_EQ(calls[2].id, "t1");
  ASSERT_EQ(r.messages[2].who, ir::role::tool);
  const auto& results = r.messages[2].parts;
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].id, "t1");
  EXPECT_EQ(results[0].content[0].text, "noon");
  EXPECT_EQ(results[1].id, "call_0");
  EXPECT_EQ(results[1].content[0].text, "sun");
  EXPECT_EQ(results[2].id, "call_1");
  EXPECT_TRUE(results[2].is_error);
  EXPECT_EQ(results[2].content[0].text, "no data");
  EXPECT_EQ(results[3].id, "call_unmatched_0");
  EXPECT_EQ(results[3].content[0].text, "?");
  // The user content's trailing text becomes its own user message after the tool message.
  EXPECT_EQ(r.messages[3].who, ir::role::user);
  EXPECT_EQ(r.messages[3].parts.at(0).text, "thanks");

  // Encoded back: one user content again, ids gone, responses in Gemini's shapes.
  auto out = parse(encode_ok(r));
  auto contents = out.at("contents").as_array();
  ASSERT_EQ(contents.size(), 3u);
  EXPECT_TRUE(json_equal(contents[2], parse(R"({"role": "user", "parts": [
      {"functionResponse": {"name": "time", "response": {"output": "noon"}}},
      {"functionResponse": {"name": "weather", "response": {"output": "sun"}}},
      {"functionResponse": {"name": "weather", "response": {"error": "no data"}}},
      {"functionResponse": {"name": "other", "response": {"output": "?"}}},
      {"text": "thanks"}]})")))
      << contents[2];
  EXPECT_TRUE(json_equal(contents[1].at("parts").at(2),
                         parse(R"({"functionCall": {"name": "time", "args": {}}})")));
}

TEST(gemini_codec, function_response_media_and_odd_parts) {
  auto r = decode_ok(R"({"contents": [
    {"role": "model", "parts": [{"functionCall": {"name": "shot"}},
                                {"executableCode": {"language": "PYTHON", "code": "1"}}]},
    {"role": "user", "parts": [{"functionResponse": {"name": "shot", "response": {},
      "parts": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}},
      {"videoMetadata": {}}]}]})");
  ASSERT_EQ(r.messages.size(), 2u);
  ASSERT_EQ(r.messages[0].parts.size(), 1u);  // executableCode: nothing in the IR holds it
  EXPECT_EQ(r.messages[0].parts[0].arguments, "{}");
  const auto& result = r.messages[1].parts.at(0);
  ASSERT_EQ(result.content.size(), 2u);
  EXPECT_EQ(result.content[0].text, "{}");
  EXPECT_EQ(result.content[1].type, ir::part::kind::image);
  EXPECT_EQ(result.content[1].data, "AAAA");
}

TEST(gemini_codec, other_tools_and_unknown_fields_go_to_extra) {
  auto body = R"({"contents": [{"parts": [{"text": "hi"}]}],
    "tools": [{"googleSearch": {}}, {"codeExecution": {}},
              {"functionDeclarations": [{"name": "f"}]}],
    "toolConfig": {"retrievalConfig": {"latLng": {"latitude": 1, "longitude": 2}}},
    "generationConfig": {"responseModalities": ["TEXT"], "temperature": 0.25},
    "safetySettings": [], "cachedContent": "cachedContents/abc", "labels": {"a": "b"}})";
  auto r = decode_ok(body);
  EXPECT_EQ(r.extra.size(), 7u) << bj::serialize(r.extra);
  for (const char* key :
       {"tools.googleSearch", "tools.codeExecution", "toolConfig.retrievalConfig",
        "generationConfig.responseModalities", "safetySettings", "cachedContent", "labels"})
    EXPECT_TRUE(r.extra.contains(key)) << key;
  EXPECT_EQ(r.temperature, 0.25);
  ASSERT_EQ(r.tools.size(), 1u);
  EXPECT_TRUE(r.tools[0].parameters.is_null());

  // Back to Gemini: all of it returns, in place.
  ir::dropped_fields dropped;
  auto out = parse(encode_ok(r, &dropped));
  EXPECT_TRUE(dropped.empty());
  EXPECT_TRUE(json_equal(out, parse(R"({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
    "tools": [{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}},
              {"codeExecution": {}}],
    "toolConfig": {"retrievalConfig": {"latLng": {"latitude": 1, "longitude": 2}}},
    "generationConfig": {"temperature": 0.25, "responseModalities": ["TEXT"]},
    "safetySettings": [], "cachedContent": "cachedContents/abc", "labels": {"a": "b"}})")))
      << out;

  // Another protocol's request: extras are not ours to write, and are named.
  r.source = ir::protocol::openai;
  r.extra = bj::object{{"logprobs", true}};
  auto plain = parse(encode_ok(r, &dropped));
  EXPECT_FALSE(plain.as_object().contains("logprobs"));
  EXPECT_FALSE(plain.as_object().contains("toolConfig"));
  EXPECT_EQ(dropped, ir::dropped_fields{"logprobs"});
}

TEST(gemini_codec, gemini_parameters_become_json_schema) {
  auto r = decode_ok(R"({"contents": [], "tools": [{"functionDeclarations": [{"name": "f",
    "parameters": {"type": "OBJECT", "properties": {
      "a": {"type": "STRING", "nullable": true, "format": "enum", "enum": ["x", "y"]},
      "b": {"type": "ARRAY", "items": {"type": "INTEGER"}}}, "required": ["a"]}}]}],
    "generationConfig": {"responseMimeType": "application/json",
                         "responseSchema": {"type": "OBJECT", "properties": {
                           "n": {"type": "NUMBER"}}}}})");
  EXPECT_TRUE(json_equal(r.tools.at(0).parameters, parse(R"({"type": "object", "properties": {
      "a": {"type": ["string", "null"], "format": "enum", "enum": ["x", "y"]},
      "b": {"type": "array", "items": {"type": "integer"}}}, "required": ["a"]})")))
      << r.tools.at(0).parameters;
  EXPECT_EQ(r.format.type, ir::response_format::kind::json_schema);
  EXPECT_TRUE(json_equal(r.format.schema,
                         parse(R"({"type": "object", "properties": {"n": {"type": "number"}}})")));
  // And back: nullable again.
  auto out = parse(encode_ok(r));
  EXPECT_TRUE(json_equal(
      out.at_pointer("/tools/0/functionDeclarations/0/parameters/properties/a"),
      parse(R"({"type": "string", "nullable": true, "format": "enum", "enum": ["x", "y"]})")));
  EXPECT_TRUE(json_equal(out.at_pointer("/generationConfig/responseJsonSchema"), r.format.schema));
}

TEST(gemini_codec, thinking_config) {
  auto level = decode_ok(
      R"({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingLevel": "LOW"}}})");
  EXPECT_EQ(level.reasoning.effort, "low");
  EXPECT_TRUE(level.reasoning.enabled);
  EXPECT_TRUE(json_equal(parse(encode_ok(level)).at("generationConfig"),
                         parse(R"({"thinkingConfig": {"thinkingLevel": "low"}})")));

  auto dynamic = decode_ok(
      R"({"contents": [], "generationConfig": {"thinkingConfig": {"thinkingBudget": -1}}})");
  EXPECT_EQ(dynamic.reasoning.budget_tokens, -1);
  EXPECT_TRUE(dynamic.reasoning.enabled);
  EXPECT_EQ(dynamic.reasoning.effort, "");

  const std::pair<std::int64_t, const char*> budgets[] = {
      {1, "minimal"},   {1024, "minimal"}, {1025, "low"}, {2048, "low"},
      {8192, "medium"}, {8193, "high"},    {0, ""}};
  for (auto [budget, effort] : budgets) {
    auto r = decode_ok(R"({"contents": [], "generationConfig": {"thinkingConfig":
      {"thinkingBudget": )" +
                       std::to_string(budget) + "}}}");
    EXPECT_EQ(r.reasoning.effort, effort) << budget;
  }
}

// ---------------------------------------------------------------------------------------------
// Requests: encoding what other protocols decode

ir::part text_part(std::string text) {
  ir::part p;
  p.text = std::move(text);
  return p;
}

ir::request openai_shaped_request() {
  ir::request r;
  r.source = ir::protocol::openai;
  r.model = "gpt-4o";
  r.stream = true;
  r.include_usage = true;
  r.system = {text_part("You are terse."), text_part(""), text_part("Answer in French.")};
  ir::message user;
  user.parts.push_back(text_part("What is in these?"));
  ir::part inline_image;
  inline_image.type = ir::part::kind::image;
  inline_image.media_type = "image/png";
  inline_image.data = "iVBORw0KGgo=";
  user.parts.push_back(inline_image);
  ir::part url_image;
  url_image.type = ir::part::kind::image;
  url_image.url = "https://example.com/cat.jpg";
  url_image.detail = "high";
  user.parts.push_back(url_image);
  r.messages.push_back(user);

  ir::message assistant;
  assistant.who = ir::role::assistant;
  assistant.parts.push_back(text_part(""));
  for (const char* id : {"call_a", "call_b"}) {
    ir::part call;
    call.type = ir::part::kind::tool_call;
    call.id = id;
    call.name = std::string("lookup_") + id;
    call.arguments = "{\n  \"q\": \"x\"\n}";
    assistant.parts.push_back(call);
  }
  r.messages.push_back(assistant);
  ir::message tool_a;
  tool_a.who = ir::role::tool;
  ir::part result_a;
  result_a.type = ir::part::kind::tool_result;
  result_a.id = "call_a";
  result_a.content.push_back(text_part(R"({"found": true})"));
  tool_a.parts.push_back(result_a);
  r.messages.push_back(tool_a);
  ir::message tool_b;
  tool_b.who = ir::role::tool;
  ir::part result_b;
  result_b.type = ir::part::kind::tool_result;
  result_b.id = "call_b";
  result_b.is_error = true;
  result_b.content = {text_part("timeout"), text_part("retry later")};
  tool_b.parts.push_back(result_b);
  r.messages.push_back(tool_b);
  ir::message empty_user;
  empty_user.parts.push_back(text_part(""));
  r.messages.push_back(empty_user);
  ir::message user2;
  user2.parts.push_back(text_part("Go on."));
  r.messages.push_back(user2);

  ir::tool t;
  t.name = "lookup_call_a";
  t.description = "Looks up.";
  t.parameters = parse(R"({"type": "object", "additionalProperties": false, "properties":
    {"q": {"type": ["string", "null"]}}, "required": ["q"]})");
  t.strict = true;
  r.tools.push_back(t);
  ir::tool bare;
  bare.name = "lookup_call_b";
  bare.parameters = parse(R"({"type": "object", "properties": {}})");
  r.tools.push_back(bare);
  r.choice.type = ir::tool_choice::kind::required;
  r.choice.parallel = false;
  r.max_tokens = 1000;
  r.temperature = 0.7;
  r.top_p = 0.9;
  r.seed = 42;
  r.presence_penalty = 0.1;
  r.frequency_penalty = -0.5;
  r.stop = {"\n\n"};
  r.user = "user-1";
  r.reasoning.effort = "low";
  r.reasoning.enabled = true;
  r.format.type = ir::response_format::kind::json_schema;
  r.format.schema = parse(R"({"type": "object"})");
  return r;
}

TEST(gemini_codec, encodes_an_openai_shaped_request) {
  ir::dropped_fields dropped;
  auto out = encode_ok(openai_shaped_request(), &dropped);
  EXPECT_TRUE(json_equal(parse(out), parse(R"({
    "contents": [
      {"role": "user", "parts": [
        {"text": "What is in these?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"fileUri": "https://example.com/cat.jpg"}}]},
      {"role": "model", "parts": [
        {"functionCall": {"name": "lookup_call_a", "args": {"q": "x"}}},
        {"functionCall": {"name": "lookup_call_b", "args": {"q": "x"}}}]},
      {"role": "user", "parts": [
        {"functionResponse": {"name": "lookup_call_a", "response": {"found": true}}},
        {"functionResponse": {"name": "lookup_call_b",
                              "response": {"error": "timeout\nretry later"}}},
        {"text": "Go on."}]}],
    "systemInstruction": {"parts": [{"text": "You are terse."}, {"text": "Answer in French."}]},
    "tools": [{"functionDeclarations": [
      {"name": "lookup_call_a", "description": "Looks up.",
       "parameters": {"type": "object", "properties": {"q": {"type": "string", "nullable": true}},
                      "required": ["q"]}},
      {"name": "lookup_call_b"}]}],
    "toolConfig": {"functionCallingConfig": {"mode": "ANY"}},
    "generationConfig": {"stopSequences": ["\n\n"], "temperature": 0.7, "topP": 0.9,
      "maxOutputTokens": 1000, "presencePenalty": 0.1, "frequencyPenalty": -0.5, "seed": 42,
      "responseMimeType": "application/json", "responseJsonSchema": {"type": "object"},
      "thinkingConfig": {"thinkingBudget": 2048, "includeThoughts": true}}})")))
      << out;
  // Doubles in their shortest form, not 7E-1.
  EXPECT_NE(out.find("\"temperature\":0.7"), std::string::npos) << out;
  std::sort(dropped.begin(), dropped.end());
  EXPECT_EQ(dropped, (ir::dropped_fields{"parallel_tool_calls", "strict", "user"}));
}

TEST(gemini_codec, encoder_refusals_and_choices) {
  ir::request r;
  r.messages.push_back({ir::role::user, {text_part("hi")}, ""});
  r.n = 2;
  ir::dropped_fields dropped;
  auto refused = gemini::encode_request(r, dropped);
  ASSERT_TRUE(std::holds_alternative<error>(refused));
  EXPECT_EQ(std::get<error>(refused).code, errc::invalid_request);
  EXPECT_EQ(std::get<error>(refused).param, "n");
  r.n = 1;

  // A tool result nobody asked for: Gemini needs a function name we cannot know.
  ir::request orphan = r;
  ir::part result;
  result.type = ir::part::kind::tool_result;
  result.id = "call_zz";
  orphan.messages.push_back({ir::role::tool, {result}, ""});
  auto no_name = gemini::encode_request(orphan, dropped);
  ASSERT_TRUE(std::holds_alternative<error>(no_name));
  EXPECT_EQ(std::get<error>(no_name).param, "messages[1]");

  using ck = ir::tool_choice::kind;
  // Without tools a choice says nothing, and Gemini refuses a lone functionCallingConfig.
  r.choice.type = ck::required;
  EXPECT_FALSE(parse(encode_ok(r)).as_object().contains("toolConfig"));
  ir::tool pick;
  pick.name = "pick";
  r.tools.push_back(pick);
  const std::pair<ck, const char*> choices[] = {
      {ck::auto_, R"({"mode":"AUTO"})"},
      {ck::none, R"({"mode":"NONE"})"},
      {ck::required, R"({"mode":"ANY"})"},
      {ck::named, R"({"mode":"ANY","allowedFunctionNames":["pick"]})"},
  };
  for (auto [kind, expected] : choices) {
    r.choice.type = kind;
    r.choice.name = "pick";
    auto out = parse(encode_ok(r));
    EXPECT_TRUE(json_equal(out.at_pointer("/toolConfig/functionCallingConfig"), parse(expected)))
        << out;
  }
  r.choice = {};
  r.tools.clear();
  r.format.type = ir::response_format::kind::json_object;
  EXPECT_TRUE(json_equal(parse(encode_ok(r)).at("generationConfig"),
                         parse(R"({"responseMimeType": "application/json"})")));
}

TEST(gemini_codec, reasoning_from_other_protocols) {
  ir::request r;
  r.messages.push_back({ir::role::user, {text_part("hi")}, ""});
  const std::pair<const char*, int> efforts[] = {
      {"minimal", 1024}, {"low", 2048}, {"medium", 8192}, {"high", 24576}};
  for (auto [effort, budget] : efforts) {
    r.reasoning = {};
    r.reasoning.effort = effort;
    r.reasoning.enabled = true;
    auto out = parse(encode_ok(r));
    EXPECT_TRUE(json_equal(
        out.at_pointer("/generationConfig/thinkingConfig"),
        parse(R"({"thinkingBudget": )" + std::to_string(budget) + R"(, "includeThoughts": true})")))
        << out;
  }
  // Anthropic thinking: the budget as it is.
  r.reasoning = {};
  r.reasoning.budget_tokens = 5000;
  r.reasoning.enabled = true;
  r.source = ir::protocol::anthropic;
  EXPECT_TRUE(json_equal(parse(encode_ok(r)).at_pointer("/generationConfig/thinkingConfig"),
                         parse(R"({"thinkingBudget": 5000, "includeThoughts": true})")));
}

TEST(gemini_codec, thought_parts_and_signatures) {
  // Gemini's streamed thoughts come back as several parts: one reasoning block in the IR.
  auto r = decode_ok(R"({"contents": [{"role": "user", "parts": [{"text": "q"}]},
    {"role": "model", "parts": [
      {"text": "Let me ", "thought": true}, {"text": "think.", "thought": true},
      {"text": "", "thought": true, "thoughtSignature": "c2ln"},
      {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "Y2FsbA=="},
      {"text": "done"}]}]})");
  const auto& parts = r.messages.at(1).parts;
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[0].type, ir::part::kind::reasoning);
  EXPECT_EQ(parts[0].text, "Let me think.");
  EXPECT_EQ(parts[0].signature, "c2ln");
  EXPECT_EQ(parts[1].type, ir::part::kind::tool_call);
  EXPECT_EQ(parts[1].signature, "Y2FsbA==");
  EXPECT_EQ(parts[2].text, "done");
  EXPECT_TRUE(json_equal(parse(encode_ok(r)).at_pointer("/contents/1/parts"), parse(R"([
      {"text": "Let me think.", "thought": true, "thoughtSignature": "c2ln"},
      {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "Y2FsbA=="},
      {"text": "done"}])")));

  // From Anthropic, the signature rides on the thinking block; Gemini wants it on the part
  // after the thoughts (Gemini 3 refuses a functionCall without one).
  ir::request a;
  a.source = ir::protocol::anthropic;
  a.messages.push_back({ir::role::user, {text_part("q")}, ""});
  ir::part thinking;
  thinking.type = ir::part::kind::reasoning;
  thinking.text = "hmm";
  thinking.signature = "c2ln";
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "toolu_1";
  call.name = "f";
  call.arguments = "{}";
  ir::part redacted;
  redacted.type = ir::part::kind::redacted_reasoning;
  redacted.data = "opaque";
  a.messages.push_back({ir::role::assistant, {redacted, thinking, call}, ""});
  ir::dropped_fields dropped;
  EXPECT_TRUE(json_equal(parse(encode_ok(a, &dropped)).at_pointer("/contents/1/parts"), parse(R"([
      {"text": "hmm", "thought": true},
      {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": "c2ln"}])")));
  EXPECT_EQ(dropped, ir::dropped_fields{"redacted_reasoning"});

  // Followed by nothing it could ride on (an empty text is not written): it stays on the
  // thought.
  a.messages[1].parts = {thinking, text_part("")};
  EXPECT_TRUE(json_equal(parse(encode_ok(a)).at_pointer("/contents/1/parts"), parse(R"([
      {"text": "hmm", "thought": true, "thoughtSignature": "c2ln"}])")));
}

// ---------------------------------------------------------------------------------------------
// Schema conversion

bj::value to_gemini(std::string_view schema) {
  return gemini::to_gemini_schema(parse(schema));
}

TEST(gemini_schema, drops_what_gemini_rejects) {
  EXPECT_TRUE(json_equal(to_gemini(R"({
      "$schema": "http://json-schema.org/draft-07/schema#", "$id": "x", "$comment": "c",
      "type": "object", "additionalProperties": false, "strict": true, "examples": [{}],
      "title": "T", "description": "D", "required": ["a"], "minProperties": 1,
      "properties": {"a": {"type": "string", "format": "uri", "pattern": "^a", "minLength": 1,
                           "default": "a", "example": "ab"},
                     "b": {"type": "integer", "format": "int64", "exclusiveMinimum": 0,
                           "minimum": 1, "maximum": 9},
                     "c": {"type": "string", "format": "date-time"}}})"),
                         parse(R"({"type": "object", "title": "T", "description": "D",
      "required": ["a"], "minProperties": 1,
      "properties": {"a": {"type": "string", "pattern": "^a", "minLength": 1, "default": "a",
                           "example": "ab"},
                     "b": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 9},
                     "c": {"type": "string", "format": "date-time"}}})")));
}

TEST(gemini_schema, nullable_const_enum_and_unions) {
  EXPECT_TRUE(json_equal(to_gemini(R"({"type": ["string", "null"]})"),
                         parse(R"({"type": "string", "nullable": true})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"type": ["string", "number"]})"),
                         parse(R"({"anyOf": [{"type": "string"}, {"type": "number"}]})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"anyOf": [{"type": "array", "items": {"type": "string"}},
                                                 {"type": "null"}], "description": "d"})"),
                         parse(R"({"type": "array", "items": {"type": "string"},
                                   "description": "d", "nullable": true})")));
  EXPECT_TRUE(json_equal(
      to_gemini(R"({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]})"),
      parse(R"({"anyOf": [{"type": "string"}, {"type": "integer"}], "nullable": true})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"type": "string", "const": "only"})"),
                         parse(R"({"type": "string", "enum": ["only"]})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"const": 3})"), parse(R"({"enum": ["3"]})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"type": "integer", "enum": [1, 2, null]})"),
                         parse(R"({"type": "integer", "enum": ["1", "2"], "nullable": true})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"allOf": [{"type": "object", "properties": {"a": {}},
                                                  "required": ["a"]},
                                                 {"properties": {"b": {}}, "required": ["b"]}]})"),
                         parse(R"({"type": "object", "properties": {"a": {}, "b": {}},
                                   "required": ["a", "b"]})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"type": "object", "properties": {}})"),
                         parse(R"({"type": "object"})")));
  EXPECT_TRUE(json_equal(to_gemini(R"({"type": "array", "items": [{"type": "string"}]})"),
                         parse(R"({"type": "array", "items": {"type": "string"}})")));
}

TEST(gemini_schema, refs_are_inlined) {
  // Pydantic's shape (from the recorded openai_agents_python request): $defs + $ref.
  EXPECT_TRUE(json_equal(to_gemini(R"({
      "$defs": {"Step": {"type": "object", "properties": {"x": {"type": "string"}},
                         "required": ["x"], "additionalProperties": false}},
      "definitions": {"Old": {"type": "integer"}},
      "type": "object",
      "properties": {"steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
                     "first": {"$ref": "#/$defs/Step", "description": "the first"},
                     "count": {"$ref": "#/definitions/Old"},
                     "maybe": {"anyOf": [{"$ref": "#/$defs/Step"}, {"type": "null"}]},
                     "odd~name": {"$ref": "#/properties/count"},
                     "lost": {"$ref": "https://example.com/schema.json"}}})"),
                         parse(R"({"type": "object", "properties": {
      "steps": {"type": "array", "items": {"type": "object", "properties": {"x": {"type": "string"}},
                                           "required": ["x"]}},
      "first": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"],
                "description": "the first"},
      "count": {"type": "integer"},
      "maybe": {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"],
                "nullable": true},
      "odd~name": {"type": "integer"},
      "lost": {"type": "object"}}})")));
}

int depth_of_nodes(const bj::value& v, const char* key) {
  int depth = 0;
  const bj::value* at = &v;
  while (at->is_object() && at->get_object().contains("properties")) {
    ++depth;
    at = &at->at("properties").at(key);
  }
  return depth;
}

TEST(gemini_schema, recursive_refs_stop_at_the_depth_limit) {
  auto out = to_gemini(R"({"$defs": {"Node": {"type": "object", "properties": {
      "next": {"$ref": "#/$defs/Node"}}}}, "$ref": "#/$defs/Node"})");
  // The root reference and max_ref_depth - 1 nested ones are inlined, then "any object".
  EXPECT_EQ(depth_of_nodes(out, "next"), gemini::max_ref_depth);
  EXPECT_EQ(bj::serialize(out).find("$ref"), std::string::npos);

  // "#" itself: the root.
  auto self = to_gemini(R"({"type": "object", "properties": {"child": {"$ref": "#"}}})");
  EXPECT_EQ(depth_of_nodes(self, "child"), gemini::max_ref_depth + 1);

  // A binary tree would double at every level: the node budget keeps it bounded.
  auto tree = to_gemini(R"({"$defs": {"T": {"type": "object", "properties": {
      "l": {"$ref": "#/$defs/T"}, "r": {"$ref": "#/$defs/T"}, "m": {"$ref": "#/$defs/T"},
      "n": {"$ref": "#/$defs/T"}}}}, "$ref": "#/$defs/T"})");
  EXPECT_LT(bj::serialize(tree).size(), 2'000'000u);
}

TEST(gemini_schema, from_gemini) {
  EXPECT_TRUE(json_equal(
      gemini::from_gemini_schema(parse(R"({"type": "OBJECT", "nullable": false, "properties": {
          "a": {"type": "STRING", "nullable": true},
          "b": {"anyOf": [{"type": "INTEGER"}, {"type": "BOOLEAN"}]},
          "c": {"nullable": true}}})")),
      parse(R"({"type": "object", "properties": {"a": {"type": ["string", "null"]},
          "b": {"anyOf": [{"type": "integer"}, {"type": "boolean"}]},
          "c": {"nullable": true}}})")));
}

// ---------------------------------------------------------------------------------------------
// Responses

TEST(gemini_codec, recorded_responses) {
  auto call =
      decode_response_ok(read_fixture("gemini/generateContent_function_call.turn1.response.json"));
  EXPECT_EQ(call.id, "e9SfaP31Evq0nvgPjqSm8AU");
  EXPECT_EQ(call.model, "gemini-2.0-flash");
  ASSERT_EQ(call.parts.size(), 1u);
  EXPECT_EQ(call.parts[0].type, ir::part::kind::tool_call);
  EXPECT_EQ(call.parts[0].name, "customDivide");
  EXPECT_TRUE(
      json_equal(parse(call.parts[0].arguments), parse(R"({"denominator":2,"numerator":10})")));
  const auto& id = call.parts[0].id;
  ASSERT_EQ(id.size(), 29u);
  EXPECT_TRUE(id.starts_with("call_"));
  EXPECT_TRUE(std::all_of(id.begin() + 5, id.end(), [](char c) { return std::isalnum(c); }));
  EXPECT_NE(
      decode_response_ok(read_fixture("gemini/generateContent_function_call.turn1.response.json"))
          .parts[0]
          .id,
      id);
  EXPECT_EQ(call.finish, ir::finish_reason::tool_calls);
  EXPECT_EQ(describe(call.tokens), "usage{in=17 out=6 cr=-1 cw=-1 cw1h=-1 r=-1}");

  auto text =
      decode_response_ok(read_fixture("gemini/generateContent_generation_config.response.json"));
  EXPECT_EQ(text.finish, ir::finish_reason::length);
  ASSERT_EQ(text.parts.size(), 1u);
  EXPECT_TRUE(text.parts[0].text.starts_with("The sky is blue because"));
  // Output counts thoughts too: 149 + 48.
  EXPECT_EQ(describe(text.tokens), "usage{in=7 out=197 cr=-1 cw=-1 cw1h=-1 r=48}");

  auto thought =
      decode_response_ok(read_fixture("gemini/generateContent_thinking_max_tokens.response.json"));
  ASSERT_EQ(thought.parts.size(), 1u);
  EXPECT_EQ(thought.parts[0].type, ir::part::kind::reasoning);
  EXPECT_EQ(describe(thought.tokens), "usage{in=17 out=19 cr=-1 cw=-1 cw1h=-1 r=19}");

  auto sys =
      decode_response_ok(read_fixture("gemini/generateContent_system_instruction.response.json"));
  EXPECT_EQ(sys.parts.at(0).text, "low");
  EXPECT_EQ(sys.finish, ir::finish_reason::stop);

  auto blocked = decode_response_ok(
      read_fixture("gemini/raw_sdk_mocks/unary-failure-prompt-blocked-safety.json"));
  EXPECT_TRUE(blocked.parts.empty());
  EXPECT_EQ(blocked.finish, ir::finish_reason::content_filter);

  auto safety = decode_response_ok(
      read_fixture("gemini/raw_sdk_mocks/unary-failure-finish-reason-safety.json"));
  EXPECT_EQ(safety.parts.at(0).text, "No");
  EXPECT_EQ(safety.finish, ir::finish_reason::content_filter);

  auto short_reply =
      decode_response_ok(read_fixture("gemini/raw_sdk_mocks/unary-success-basic-reply-short.json"));
  EXPECT_EQ(short_reply.parts.at(0).text, "Helena");
  EXPECT_EQ(short_reply.finish, ir::finish_reason::none);
  EXPECT_TRUE(short_reply.tokens.empty());
}

TEST(gemini_codec, recorded_responses_round_trip) {
  const char* names[] = {
      "gemini/generateContent_function_call.turn1.response.json",
      "gemini/generateContent_function_call.turn2_function_response.response.json",
      "gemini/generateContent_generation_config.response.json",
      "gemini/generateContent_response_json_schema.response.json",
      "gemini/generateContent_system_instruction.response.json",
      "gemini/generateContent_thinking_max_tokens.response.json",
      "gemini/raw_sdk_mocks/unary-failure-finish-reason-safety.json",
      "gemini/raw_sdk_mocks/unary-failure-prompt-blocked-safety.json",
      "gemini/raw_sdk_mocks/unary-success-basic-reply-short.json",
  };
  for (const char* name : names) {
    SCOPED_TRACE(name);
    auto r = decode_response_ok(read_fixture(name));
    auto out = gemini::encode_response(r);
    auto back = decode_response_ok(out);
    EXPECT_EQ(back.id, r.id);
    EXPECT_EQ(back.model, r.model);
    EXPECT_EQ(back.finish, r.finish);
    EXPECT_EQ(describe(back.tokens), describe(r.tokens));
    ASSERT_EQ(back.parts.size(), r.parts.size()) << out;
    for (std::size_t i = 0; i < r.parts.size(); ++i)
      EXPECT_EQ(describe(back.parts[i]), describe(r.parts[i]));
  }
}

TEST(gemini_codec, encodes_a_response) {
  ir::response r;
  r.id = "msg_1";
  r.model = "claude-x";
  r.created = 1700000000;
  ir::part thinking;
  thinking.type = ir::part::kind::reasoning;
  thinking.text = "hmm";
  thinking.signature = "c2ln";
  ir::part call;
  call.type = ir::part::kind::tool_call;
  call.id = "toolu_1";
  call.name = "f";
  call.arguments = R"({"a": [1, 2]})";
  ir::part broken = call;
  broken.id.clear();
  broken.arguments = R"({"a": )";  // cut short by max_tokens
  ir::part redacted;
  redacted.type = ir::part::kind::redacted_reasoning;
  r.parts = {thinking, text_part("Calling."), redacted, call, broken};
  r.finish = ir::finish_reason::tool_calls;
  r.tokens.input = 100;
  r.tokens.output = 50;
  r.tokens.reasoning = 20;
  r.tokens.cache_read = 40;
  auto out = gemini::encode_response(r);
  EXPECT_EQ(out, R"({"candidates":[{"content":{"parts":[)"
                 R"({"text":"hmm","thought":true,"thoughtSignature":"c2ln"},{"text":"Calling."},)"
                 R"({"functionCall":{"id":"toolu_1","name":"f","args":{"a":[1,2]}}},)"
                 R"({"functionCall":{"name":"f","args":{}}}],"role":"model"},)"
                 R"("finishReason":"STOP","index":0}],)"
                 R"("usageMetadata":{"promptTokenCount":100,"candidatesTokenCount":30,)"
                 R"("thoughtsTokenCount":20,"cachedContentTokenCount":40,"totalTokenCount":150},)"
                 R"("modelVersion":"claude-x","responseId":"msg_1"})");

  const std::pair<ir::finish_reason, const char*> reasons[] = {
      {ir::finish_reason::stop, "STOP"},
      {ir::finish_reason::stop_sequence, "STOP"},
      {ir::finish_reason::length, "MAX_TOKENS"},
      {ir::finish_reason::tool_calls, "STOP"},
      {ir::finish_reason::content_filter, "SAFETY"},
      {ir::finish_reason::refusal, "SAFETY"},
      {ir::finish_reason::pause, "STOP"},
      {ir::finish_reason::context_exceeded, "MAX_TOKENS"},
      {ir::finish_reason::error, "OTHER"},
  };
  for (auto [reason, name] : reasons) {
    ir::response f;
    f.finish = reason;
    EXPECT_EQ(parse(gemini::encode_response(f)).at_pointer("/candidates/0/finishReason"), name);
  }
  EXPECT_EQ(gemini::encode_response({}), R"({"candidates":[{"index":0}]})");
  // A blocked answer has no content, rather than an empty one a client would send back.
  ir::response blocked;
  blocked.finish = ir::finish_reason::content_filter;
  EXPECT_EQ(gemini::encode_response(blocked),
            R"({"candidates":[{"finishReason":"SAFETY","index":0}]})");
}

TEST(gemini_codec, response_signatures_move_to_reasoning_parts) {
  auto r = decode_response_ok(R"({"candidates": [{"content": {"role": "model", "parts": [
      {"functionCall": {"name": "f", "args": {}, "id": "fc1"}, "thoughtSignature": "one"},
      {"text": "a", "thought": true}, {"text": "b", "thought": true},
      {"text": "answer", "thoughtSignature": "two"},
      {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]},
      "finishReason": "STOP"}]})");
  ASSERT_EQ(r.parts.size(), 5u);
  EXPECT_EQ(describe(r.parts[0]), "reasoning{signature=one }");
  EXPECT_EQ(describe(r.parts[1]), "tool_call{id=fc1 name=f arguments={} }");
  EXPECT_EQ(describe(r.parts[2]), "reasoning{text=ab signature=two }");
  EXPECT_EQ(describe(r.parts[3]), "text{text=answer }");
  EXPECT_EQ(r.parts[4].type, ir::part::kind::image);
  EXPECT_EQ(r.finish, ir::finish_reason::tool_calls);
}

TEST(gemini_codec, finish_reasons_decoded) {
  const std::pair<const char*, ir::finish_reason> reasons[] = {
      {"STOP", ir::finish_reason::stop},
      {"MAX_TOKENS", ir::finish_reason::length},
      {"SAFETY", ir::finish_reason::content_filter},
      {"RECITATION", ir::finish_reason::content_filter},
      {"LANGUAGE", ir::finish_reason::content_filter},
      {"BLOCKLIST", ir::finish_reason::content_filter},
      {"PROHIBITED_CONTENT", ir::finish_reason::content_filter},
      {"SPII", ir::finish_reason::content_filter},
      {"IMAGE_SAFETY", ir::finish_reason::content_filter},
      {"IMAGE_PROHIBITED_CONTENT", ir::finish_reason::content_filter},
      {"OTHER", ir::finish_reason::error},
      {"MALFORMED_FUNCTION_CALL", ir::finish_reason::error},
      {"UNEXPECTED_TOOL_CALL", ir::finish_reason::error},
      {"TOO_MANY_TOOL_CALLS", ir::finish_reason::error},
      {"FINISH_REASON_UNSPECIFIED", ir::finish_reason::error},
  };
  for (auto [name, reason] : reasons) {
    auto r =
        decode_response_ok(std::string(R"({"candidates": [{"finishReason": ")") + name + "\"}]}");
    EXPECT_EQ(r.finish, reason) << name;
  }
}

TEST(gemini_codec, bad_responses) {
  for (const char* body :
       {"", "<html>", "[]", R"({"candidates": {}})", R"({"candidates": [1]})",
        R"({"candidates": [{"content": {"parts": [1]}}]})", R"({"error": {"code": 500}})"}) {
    auto r = gemini::decode_response(body);
    ASSERT_TRUE(std::holds_alternative<error>(r)) << body;
    EXPECT_EQ(std::get<error>(r).code, errc::upstream_bad_response);
  }
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST(gemini_codec, recorded_errors) {
  auto key =
      gemini::decode_error(400, read_fixture("gemini/error_400_API_KEY_INVALID.response.json"));
  EXPECT_EQ(key.kind, ir::error_kind::authentication);
  EXPECT_EQ(key.status, 400);
  EXPECT_EQ(key.message, "API key not valid. Please pass a valid API key.");
  EXPECT_EQ(key.code, "invalid_api_key");

  auto missing = gemini::decode_error(
      404, read_fixture("gemini/error_404_not_found.stream_request.response.json"));
  EXPECT_EQ(missing.kind, ir::error_kind::not_found);
  EXPECT_TRUE(missing.message.starts_with("models/custom-gemini-2.0-flash is not found"));

  auto limited =
      gemini::decode_error(429, read_fixture("gemini/error_429_RESOURCE_EXHAUSTED.response.json"));
  EXPECT_EQ(limited.kind, ir::error_kind::rate_limit);

  auto image = gemini::decode_error(
      400, read_fixture("gemini/raw_sdk_mocks/unary-failure-image-rejected.json"));
  EXPECT_EQ(image.kind, ir::error_kind::invalid_request);
  EXPECT_EQ(image.message, "Request contains an invalid argument.");
}

TEST(gemini_codec, error_shapes) {
  // Wrapped in an array, as some Gemini front ends answer.
  auto wrapped =
      gemini::decode_error(503, R"([{"error": {"code": 503, "message": "The model is overloaded.",
                          "status": "UNAVAILABLE"}}])");
  EXPECT_EQ(wrapped.kind, ir::error_kind::overloaded);
  EXPECT_EQ(wrapped.message, "The model is overloaded.");

  auto html = gemini::decode_error(502, "<html><body>Bad Gateway</body></html>");
  EXPECT_EQ(html.kind, ir::error_kind::server);
  EXPECT_EQ(html.status, 502);
  EXPECT_EQ(html.message, "upstream returned HTTP 502");

  auto field = gemini::decode_error(400, R"({"error": {"code": 400, "message": "bad",
      "status": "INVALID_ARGUMENT", "details": [{"@type":
      "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [
      {"field": "generation_config.temperature", "description": "too hot"}]}]}})");
  EXPECT_EQ(field.param, "generation_config.temperature");

  const std::pair<const char*, ir::error_kind> names[] = {
      {"INVALID_ARGUMENT", ir::error_kind::invalid_request},
      {"FAILED_PRECONDITION", ir::error_kind::invalid_request},
      {"UNAUTHENTICATED", ir::error_kind::authentication},
      {"PERMISSION_DENIED", ir::error_kind::permission},
      {"NOT_FOUND", ir::error_kind::not_found},
      {"RESOURCE_EXHAUSTED", ir::error_kind::rate_limit},
      {"INTERNAL", ir::error_kind::server},
      {"UNAVAILABLE", ir::error_kind::overloaded},
      {"DEADLINE_EXCEEDED", ir::error_kind::timeout},
  };
  for (auto [name, kind] : names) {
    // A status that says otherwise: the body's name wins.
    auto e = gemini::decode_error(
        418, std::string(R"({"error": {"code": 418, "message": "m", "status": ")") + name + "\"}}");
    EXPECT_EQ(e.kind, kind) << name;
    EXPECT_EQ(e.status, 418);
  }
  EXPECT_EQ(gemini::decode_error(429, "{}").kind, ir::error_kind::rate_limit);
}

TEST(gemini_codec, encode_error_table) {
  const std::tuple<ir::error_kind, int, const char*> table[] = {
      {ir::error_kind::invalid_request, 400, "INVALID_ARGUMENT"},
      {ir::error_kind::authentication, 401, "UNAUTHENTICATED"},
      {ir::error_kind::billing, 403, "PERMISSION_DENIED"},
      {ir::error_kind::permission, 403, "PERMISSION_DENIED"},
      {ir::error_kind::not_found, 404, "NOT_FOUND"},
      {ir::error_kind::request_too_large, 413, "INVALID_ARGUMENT"},
      {ir::error_kind::rate_limit, 429, "RESOURCE_EXHAUSTED"},
      {ir::error_kind::quota, 429, "RESOURCE_EXHAUSTED"},
      {ir::error_kind::server, 500, "INTERNAL"},
      {ir::error_kind::overloaded, 503, "UNAVAILABLE"},
      {ir::error_kind::timeout, 504, "DEADLINE_EXCEEDED"},
  };
  for (auto [kind, status, name] : table) {
    ir::api_error e;
    e.kind = kind;
    e.status = 418;
    e.message = "it \"broke\"";
    auto out = gemini::encode_error(e);
    EXPECT_EQ(out.status, status);
    EXPECT_EQ(out.body, std::string(R"({"error":{"code":)") + std::to_string(status) +
                            R"(,"message":"it \"broke\"","status":")" + name + "\"}}");
    auto back = gemini::decode_error(out.status, out.body);
    EXPECT_EQ(back.message, e.message);
  }
  ir::api_error bad_gateway;
  bad_gateway.kind = ir::error_kind::server;
  bad_gateway.status = 502;
  EXPECT_EQ(gemini::encode_error(bad_gateway).status, 502);
}

// Not a benchmark (no timing here): the ~2 KiB request the latency budget is stated for goes
// through decode and encode, and the result is the same request.
TEST(gemini_codec, two_kib_request) {
  auto body = read_fixture("gemini/generateContent_response_json_schema.request.json");
  body = bj::serialize(parse(body));  // ~1.6 KiB compact
  auto r = decode_ok(body);
  auto out = encode_ok(r);
  EXPECT_TRUE(json_equal(normalize(parse(out)), normalize(parse(body))));
}

}  // namespace
}  // namespace sy::test
