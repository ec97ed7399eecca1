// probe_request validates an OpenAI request and finds the model span; rewrite_model changes that
// span and nothing else.
#include "protocol/openai/request_probe.h"

#include "../../read_fixture.h"

#include <gtest/gtest.h>

#include <string>

namespace sy::test {
namespace {

using openai::endpoint;
using openai::probe_request;
using openai::request_probe;

const std::string messages = R"("messages":[{"role":"user","content":"Hi"}])";

request_probe must_probe(std::string_view body, endpoint kind = endpoint::chat_completions) {
  auto result = probe_request(body, kind);
  if (auto* e = std::get_if<error>(&result)) {
    ADD_FAILURE() << "unexpected error: " << e->message << "\nbody: " << body;
    return {};
  }
  return std::get<request_probe>(result);
}

error must_reject(std::string_view body, endpoint kind = endpoint::chat_completions) {
  auto result = probe_request(body, kind);
  if (auto* e = std::get_if<error>(&result)) return *e;
  ADD_FAILURE() << "expected an error for: " << body;
  return error{errc::internal, "", ""};
}

std::string span_of(std::string_view body, const request_probe& p) {
  if (p.model_end < p.model_begin || p.model_end > body.size()) return "<bad span>";
  return std::string(body.substr(p.model_begin, p.model_end - p.model_begin));
}

TEST(request_probe, recorded_requests) {
  struct want {
    const char* path;
    bool stream;
    bool include_usage;
  };
  for (const auto& w : {want{"openai/chat_basic.request.json", false, false},
                        want{"openai/chat_streaming.request.json", true, false},
                        want{"openai/chat_streaming_detailed_usage.request.json", true, true},
                        want{"openai/chat_tools.request.json", false, false},
                        want{"openai/chat_multiturn.request.json", false, false},
                        want{"openai/chat_openai_agents_python.request.json", false, false}}) {
    auto body = read_fixture(w.path);
    ASSERT_FALSE(body.empty());
    auto p = must_probe(body);
    EXPECT_EQ(p.model, "gpt-5-nano") << w.path;
    EXPECT_EQ(span_of(body, p), "\"gpt-5-nano\"") << w.path;
    EXPECT_EQ(p.stream, w.stream) << w.path;
    EXPECT_EQ(p.include_usage, w.include_usage) << w.path;
  }
}

TEST(request_probe, recorded_empty_messages_is_rejected) {
  auto e = must_reject(read_fixture("openai/chat_no_messages.request.json"));
  EXPECT_EQ(e.code, errc::invalid_request);
  EXPECT_EQ(e.param, "messages");
  EXPECT_EQ(e.http_status(), 400);
}

TEST(request_probe, malformed_json) {
  for (std::string_view body :
       {R"({"model":"gpt-4o",)", R"({"model":"gpt-4o"} trailing)", "", "   ", R"({model:"x"})",
        R"({"model":"gpt-4o","messages":[}])", "{\"model\":\"a\xff\",\"messages\":[1]}"}) {
    auto e = must_reject(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_NE(e.message.find("parse the JSON"), std::string::npos) << body;
  }
}

TEST(request_probe, body_must_be_an_object) {
  for (std::string_view body : {"[1,2]", R"("model")", "42", "null", "true"}) {
    auto e = must_reject(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_NE(e.message.find("JSON object"), std::string::npos) << body << ": " << e.message;
  }
}

TEST(request_probe, model_missing_empty_or_not_a_string) {
  for (const std::string& body :
       {"{" + messages + "}", R"({"model":"",)" + messages + "}", R"({"model":5,)" + messages + "}",
        R"({"model":null,)" + messages + "}", R"({"model":["gpt-4o"],)" + messages + "}",
        R"({"model":{"name":"gpt-4o"},)" + messages + "}", R"({"Model":"gpt-4o",)" + messages + "}",
        R"({"metadata":{"model":"gpt-4o"},)" + messages + "}"}) {
    auto e = must_reject(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_EQ(e.param, "model") << body;
  }
}

TEST(request_probe, duplicate_model_is_rejected) {
  // Two "model" keys: a proxy that reads the first while the upstream reads the last could be
  // made to bill or authorize one model and run another.
  for (const std::string& body : {R"({"model":"cheap","model":"expensive",)" + messages + "}",
                                  R"({"model":"cheap",)" + messages + R"(,"model":"expensive"})",
                                  R"({"model":"cheap","m\u006fdel":"expensive",)" + messages + "}",
                                  R"({"m\u006Fdel":"cheap",)" + messages + R"(,"model":"cheap"})",
                                  R"({"model":"a","model":"",)" + messages + "}"}) {
    auto e = must_reject(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_EQ(e.param, "model") << body;
  }
}

TEST(request_probe, escaped_model_key) {
  const std::string body = R"({"stream":false,"m\u006fdel":"gpt-4o",)" + messages + "}";
  auto p = must_probe(body);
  EXPECT_EQ(p.model, "gpt-4o");
  EXPECT_EQ(span_of(body, p), "\"gpt-4o\"");
  const std::string all_escaped =
      R"({"\u006d\u006F\u0064\u0065\u006c" : "gpt-4o" ,)" + messages + "}";
  auto q = must_probe(all_escaped);
  EXPECT_EQ(q.model, "gpt-4o");
  EXPECT_EQ(span_of(all_escaped, q), "\"gpt-4o\"");
}

TEST(request_probe, keys_that_only_look_like_model) {
  // "model" as a prefix, inside a key with escaped quotes, as a string value, nested.
  const std::string body = R"({"model_name":"x","a\"model":"y","k":"model","n":{"model":"z"},)"
                           R"("s":"abc\\","model":"real",)" +
                           messages + "}";
  auto p = must_probe(body);
  EXPECT_EQ(p.model, "real");
  EXPECT_EQ(span_of(body, p), "\"real\"");
}

TEST(request_probe, messages_required_for_chat) {
  auto missing = must_reject(R"({"model":"gpt-4o"})");
  EXPECT_EQ(missing.param, "messages");
  for (std::string_view body :
       {R"({"model":"gpt-4o","messages":[]})", R"({"model":"gpt-4o","messages":{"role":"user"}})",
        R"({"model":"gpt-4o","messages":"Hi"})", R"({"model":"gpt-4o","messages":null})"}) {
    auto e = must_reject(body);
    EXPECT_EQ(e.code, errc::invalid_request) << body;
    EXPECT_EQ(e.param, "messages") << body;
  }
}

TEST(request_probe, embeddings) {
  const std::string body = R"({"input":["a","b"],"model":"text-embedding-3-small"})";
  auto p = must_probe(body, endpoint::embeddings);
  EXPECT_EQ(p.model, "text-embedding-3-small");
  EXPECT_EQ(span_of(body, p), "\"text-embedding-3-small\"");
  EXPECT_FALSE(p.stream);
  must_probe(R"({"model":"e","input":"one string","encoding_format":"float"})",
             endpoint::embeddings);
  auto no_input = must_reject(R"({"model":"text-embedding-3-small"})", endpoint::embeddings);
  EXPECT_EQ(no_input.param, "input");
  // Chat needs messages, embeddings do not; embeddings need input, chat does not.
  EXPECT_EQ(must_reject(body, endpoint::chat_completions).param, "messages");
  must_probe(R"({"model":"gpt-4o","input":"x",)" + messages + "}", endpoint::chat_completions);
  auto no_model = must_reject(R"({"input":"x"})", endpoint::embeddings);
  EXPECT_EQ(no_model.param, "model");
}

TEST(request_probe, stream_flag) {
  EXPECT_TRUE(must_probe(R"({"model":"m","stream":true,)" + messages + "}").stream);
  EXPECT_FALSE(must_probe(R"({"model":"m","stream":false,)" + messages + "}").stream);
  EXPECT_FALSE(must_probe(R"({"model":"m","stream":null,)" + messages + "}").stream);
  EXPECT_FALSE(must_probe(R"({"model":"m",)" + messages + "}").stream);
  for (const std::string& bad : {R"({"model":"m","stream":"true",)" + messages + "}",
                                 R"({"model":"m","stream":1,)" + messages + "}"}) {
    auto e = must_reject(bad);
    EXPECT_EQ(e.param, "stream") << bad;
  }
}

TEST(request_probe, stream_options_include_usage) {
  auto on = must_probe(R"({"model":"m","stream":true,"stream_options":{"include_usage":true},)" +
                       messages + "}");
  EXPECT_TRUE(on.stream);
  EXPECT_TRUE(on.include_usage);
  EXPECT_FALSE(
      must_probe(R"({"model":"m","stream":true,"stream_options":{"include_usage":false},)" +
                 messages + "}")
          .include_usage);
  EXPECT_FALSE(must_probe(R"({"model":"m","stream":true,"stream_options":{},)" + messages + "}")
                   .include_usage);
  EXPECT_FALSE(must_probe(R"({"model":"m","stream":true,"stream_options":null,)" + messages + "}")
                   .include_usage);
  EXPECT_FALSE(must_probe(R"({"model":"m","stream":true,)" + messages + "}").include_usage);
}

// rewrite_model: the result is the input with the model literal replaced, byte for byte.
struct layout {
  std::string prefix;   // everything before the model value
  std::string literal;  // the model value as written
  std::string suffix;
  std::string model;  // its decoded value
};

TEST(rewrite_model, only_the_model_bytes_change) {
  const std::vector<layout> layouts = {
      {R"({"model":)", R"("gpt-4o")", "," + messages + "}", "gpt-4o"},
      {"{\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"Hi\", \"model\": \"inner\"}\n"
       "  ],\n  \"model\" : ",
       R"("gpt-4o")", "\n}\n", "gpt-4o"},
      {"\r\n\t{ \"temperature\" :0.5 ,\"n\":1,\"stop\":null,\"logit_bias\":{\"1\":-100},"
       "\"metadata\":{\"model\":\"x\",\"a\":[\"model\",{\"model\":1}]},\"tools\":[],"
       "\"messages\":[{\"role\":\"user\",\"content\":\"say \\\"model\\\": \\\"fake\\\"\"}],"
       "\"model\"\t:\r\n ",
       R"("gpt-4o")", "\t}\r\n", "gpt-4o"},
      {R"({"stream":true,"model":)", R"("gpt\u002d4o")", "," + messages + "}", "gpt-4o"},
      {R"({"model":)", R"("we\"ird\\name\n")", "," + messages + "}", "we\"ird\\name\n"},
      {R"({"model":)", R"("caf\u00e9")", "," + messages + "}", "caf\xc3\xa9"},
      {R"({"m\u006fdel":)", R"("gpt-4o")", "," + messages + "}", "gpt-4o"},
      {"{" + messages + R"(,"model":)", R"("gpt-4o")", "}", "gpt-4o"},
      // Brackets and braces inside strings must not confuse the value skipper.
      {R"({"messages":[{"content":"]}],\"model\":\"no\"}{[","role":"user"}],"x":{"y":"}"},)"
       R"("model":)",
       R"("gpt-4o")", "}", "gpt-4o"},
  };
  // Each target name and how it must be written in JSON.
  const std::vector<std::pair<std::string, std::string>> targets = {
      {"upstream-model", R"("upstream-model")"},
      {"gpt-4o-2024-08-06", R"("gpt-4o-2024-08-06")"},
      {"a\"b\\c\nd", R"("a\"b\\c\nd")"},
      {"x", R"("x")"},
  };
  for (const auto& l : layouts) {
    for (const auto& [target, want_literal] : targets) {
      std::string body = l.prefix + l.literal + l.suffix;
      auto p = must_probe(body);
      ASSERT_EQ(p.model, l.model) << body;
      ASSERT_EQ(p.model_begin, l.prefix.size()) << body;
      ASSERT_EQ(p.model_end, l.prefix.size() + l.literal.size()) << body;
      openai::rewrite_model(body, p, target);
      EXPECT_EQ(body, l.prefix + want_literal + l.suffix);
      // The rewritten body is still a valid request, now for `target`.
      auto again = must_probe(body);
      EXPECT_EQ(again.model, target) << body;
      EXPECT_EQ(again.stream, p.stream);
    }
  }
}

TEST(rewrite_model, recorded_request_changes_only_the_model) {
  const std::string original = read_fixture("openai/chat_tools.request.json");
  std::string body = original;
  auto p = must_probe(body);
  openai::rewrite_model(body, p, "gpt-5-nano-2025-08-07");
  auto at = original.find("\"gpt-5-nano\"");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(body, original.substr(0, at) + "\"gpt-5-nano-2025-08-07\"" +
                      original.substr(at + std::string("\"gpt-5-nano\"").size()));
}

TEST(rewrite_model, empty_or_same_name_leaves_the_body_alone) {
  const std::string original = R"({"model" : "gpt\u002d4o", "messages":[{"content":"x"}]})";
  std::string body = original;
  auto p = must_probe(body);
  openai::rewrite_model(body, p, "");
  EXPECT_EQ(body, original);
  openai::rewrite_model(body, p, "gpt-4o");
  EXPECT_EQ(body, original);
}

}  // namespace
}  // namespace sy::test
