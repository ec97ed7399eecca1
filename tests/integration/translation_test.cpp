// The protocol hub in the running gateway: a client of one protocol against an upstream of
// another (requests built in the upstream's format with its auth and version headers; answers,
// streams and errors back in the client's), and same-protocol passthrough for Anthropic and
// Gemini.
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace sy::test {
namespace {

namespace json = boost::json;
const std::string key = "sk-test-0123456789";

std::string config_for(const fake_upstream& up, const std::string& extra = "") {
  return R"(
channels:
  - name: ant
    type: anthropic
    base_url: )" +
         up.url("") + R"(
    api_keys: [ "sk-ant-upstream" ]
    models: { claude: claude-sonnet-4-5 }
  - name: gem
    type: gemini
    base_url: )" +
         up.url("") + R"(
    api_keys: [ "gem-upstream" ]
    models: { gem: gemini-2.5-flash }
  - name: oai
    type: openai
    base_url: )" +
         up.url("/v1") + R"(
    api_keys: [ "sk-oai-upstream" ]
    models: { gpt: gpt-4o-mini }
  - name: fake
    type: mock
    models: [ demo ]
keys:
  - name: app
    key: )" +
         key + "\n" + extra;
}

const std::string anthropic_answer =
    R"({"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5",)"
    R"("content":[{"type":"text","text":"Hello!"},{"type":"tool_use","id":"toolu_1",)"
    R"("name":"get_weather","input":{"city":"Paris"}}],"stop_reason":"tool_use",)"
    R"("stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,)"
    R"("cache_read_input_tokens":5,"output_tokens":7}})";

const std::string anthropic_stream =
    "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_02\","
    "\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-4-5\",\"content\":[],"
    "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,"
    "\"output_tokens\":1}}}\n\n"
    "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
    "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
    "event: ping\ndata: {\"type\": \"ping\"}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"Hel\"}}\n\n"
    "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
    "\"delta\":{\"type\":\"text_delta\",\"text\":\"lo\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
    "\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":3}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

const std::string openai_chat_request =
    R"({"model":"claude","messages":[{"role":"system","content":"Be brief."},)"
    R"({"role":"user","content":"Weather in Paris?"}],"tools":[{"type":"function",)"
    R"("function":{"name":"get_weather","parameters":{"type":"object","properties":)"
    R"({"city":{"type":"string"}}}}}]})";

// The data payloads of an SSE body, in order.
std::vector<json::value> sse_data(const std::string& body) {
  std::vector<json::value> out;
  std::size_t at = 0;
  while ((at = body.find("data: ", at)) != std::string::npos) {
    auto end = body.find('\n', at);
    auto payload = body.substr(at + 6, end - at - 6);
    if (!payload.empty() && payload.back() == '\r') payload.pop_back();
    if (payload != "[DONE]") out.push_back(json::parse(payload));
    at = end;
  }
  return out;
}

// Undoes chunked transfer framing.
std::string dechunk(const std::string& raw) {
  auto head_end = raw.find("\r\n\r\n");
  std::string body, rest = raw.substr(head_end + 4);
  while (!rest.empty()) {
    auto eol = rest.find("\r\n");
    auto size = std::stoul(rest.substr(0, eol), nullptr, 16);
    if (size == 0) break;
    body += rest.substr(eol + 2, size);
    rest = rest.substr(eol + 2 + size + 2);
  }
  return body;
}

TEST(translation, openai_client_to_anthropic_upstream) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200, anthropic_answer, "application/json", {{"request-id", "req_ant_1"}});
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", openai_chat_request, key);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.header("x-upstream-request-id"), "req_ant_1");

  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/v1/messages");
  EXPECT_EQ(reqs[0].headers["x-api-key"], "sk-ant-upstream");
  EXPECT_EQ(reqs[0].headers["anthropic-version"], "2023-06-01");
  EXPECT_EQ(reqs[0].headers.count("authorization"), 0u);
  auto sent = json::parse(reqs[0].body).as_object();
  EXPECT_EQ(sent.at("model"), "claude-sonnet-4-5");
  EXPECT_EQ(sent.at("max_tokens"), 64000);  // Anthropic requires it: the model's limit
  EXPECT_EQ(sent.at("system"), "Be brief.");
  EXPECT_EQ(sent.at("tools").as_array()[0].at("name"), "get_weather");

  auto got = json::parse(res.body).as_object();
  EXPECT_EQ(got.at("object"), "chat.completion");
  auto& choice = got.at("choices").as_array()[0].as_object();
  EXPECT_EQ(choice.at("finish_reason"), "tool_calls");
  EXPECT_EQ(choice.at("message").at("content"), "Hello!");
  auto& call = choice.at("message").at("tool_calls").as_array()[0];
  EXPECT_EQ(call.at("id"), "toolu_1");
  EXPECT_EQ(call.at("function").at("name"), "get_weather");
  EXPECT_EQ(json::parse(call.at("function").at("arguments").as_string()),
            json::parse(R"({"city":"Paris"})"));
  auto& usage = got.at("usage");
  EXPECT_EQ(usage.at("prompt_tokens"), 15);  // Anthropic's input excludes cache reads
  EXPECT_EQ(usage.at("prompt_tokens_details").at("cached_tokens"), 5);
  EXPECT_EQ(usage.at("completion_tokens"), 7);
}

TEST(translation, anthropic_client_streams_from_openai_upstream) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"\"},\"finish_reason\":null}]}\n\n");
    out.chunk(chunk_event("Hi"));
    out.chunk(chunk_event(" there"));
    out.chunk(chunk_event("", "stop"));
    out.chunk(
        "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":"
        "\"gpt-4o-mini\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,"
        "\"total_tokens\":11}}\n\n");
    out.chunk("data: [DONE]\n\n");
    out.end();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.request(
      "POST", "/v1/messages",
      R"({"model":"gpt","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hi"}]})",
      {{"x-api-key", key}, {"anthropic-version", "2026-10-21"}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.header("content-type").rfind("text/event-stream", 0), 0u);

  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer sk-oai-upstream");
  auto sent = json::parse(reqs[0].body).as_object();
  EXPECT_EQ(sent.at("stream_options").at("include_usage"), true);  // asked for, for the books

  auto events = sse_data(res.body);
  ASSERT_GE(events.size(), 6u) << res.body;
  EXPECT_EQ(events.front().at("type"), "message_start");
  EXPECT_EQ(events.back().at("type"), "message_stop");
  std::string text;
  json::value delta;
  for (const auto& e : events) {
    if (e.at("type") == "content_block_delta") text += e.at("delta").at("text").as_string();
    if (e.at("type") == "message_delta") delta = e;
  }
  EXPECT_EQ(text, "Hi there");
  EXPECT_EQ(delta.at("delta").at("stop_reason"), "end_turn");
  EXPECT_EQ(delta.at("usage").at("output_tokens"), 2);
  EXPECT_NE(res.body.find("event: message_start\n"), std::string::npos);
}

TEST(translation, gemini_client_json_array_stream_from_anthropic_upstream) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream; charset=utf-8");
    out.chunk(anthropic_stream);
    out.end();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.request("POST", "/v1beta/models/claude:streamGenerateContent",
                            R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}]})",
                            {{"x-goog-api-key", key}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.header("content-type").rfind("application/json", 0), 0u);
  auto sent = json::parse(up.requests().at(0).body).as_object();
  EXPECT_EQ(sent.at("stream"), true);
  auto parsed = json::parse(res.body);  // one JSON array, not SSE
  const auto& array = parsed.as_array();
  std::string text;
  std::string finish;
  for (const auto& item : array) {
    auto& cand = item.at("candidates").as_array()[0];
    if (auto* c = cand.as_object().if_contains("content")) {
      for (const auto& p : c->at("parts").as_array()) {
        if (auto* t = p.as_object().if_contains("text")) text += t->as_string();
      }
    }
    if (auto* f = cand.as_object().if_contains("finishReason")) finish = f->as_string();
  }
  EXPECT_EQ(text, "Hello");
  EXPECT_EQ(finish, "STOP");
  EXPECT_EQ(array.back().at("usageMetadata").at("promptTokenCount"), 12);
}

TEST(translation, upstream_errors_reach_the_client_in_its_own_format) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(429, R"({"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}})",
             "application/json", {{"retry-after", "7"}});
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", openai_chat_request, key);
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.header("retry-after"), "7");
  auto e = json::parse(res.body);
  EXPECT_EQ(e.at("error").at("message"), "Slow down");
  EXPECT_EQ(e.at("error").at("type"), "rate_limit_error");

  auto gem = client.request("POST", "/v1beta/models/claude:generateContent?key=" + key,
                            R"({"contents":[{"parts":[{"text":"Hi"}]}]})");
  EXPECT_EQ(gem.status, 429);
  EXPECT_EQ(json::parse(gem.body).at("error").at("status"), "RESOURCE_EXHAUSTED");
}

TEST(translation, a_stream_cut_midway_ends_with_the_clients_error_event) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(anthropic_stream.substr(0, anthropic_stream.find("event: content_block_stop")));
    out.reset();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  client.send_post("/v1/chat/completions",
                   R"({"model":"claude","stream":true,"messages":[{"role":"user","content":"x"}]})",
                   key);
  auto raw = client.read_to_close(std::chrono::seconds(5));
  auto body = dechunk(raw);
  auto events = sse_data(body);
  ASSERT_FALSE(events.empty()) << raw;
  EXPECT_TRUE(events.back().as_object().contains("error")) << body;
  EXPECT_EQ(body.find("[DONE]"), std::string::npos);
}

TEST(translation, anthropic_passthrough_keeps_bytes_and_forwards_version_and_beta) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200, anthropic_answer, "application/json");
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  const std::string body =
      R"({"model":"claude","max_tokens":5,"messages":[{"role":"user","content":[{"type":"text",)"
      R"("text":"Hi","cache_control":{"type":"ephemeral"}}]}],"unknown_future_field":1})";
  auto res = client.request("POST", "/v1/messages", body,
                            {{"authorization", "Bearer " + key},
                             {"anthropic-version", "2026-10-21"},
                             {"anthropic-beta", "context-1m-2025-08-07"}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, anthropic_answer);
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  std::string expected = body;
  expected.replace(expected.find("\"claude\""), 8, "\"claude-sonnet-4-5\"");
  EXPECT_EQ(reqs[0].body, expected);
  EXPECT_EQ(reqs[0].headers["anthropic-version"], "2026-10-21");
  EXPECT_EQ(reqs[0].headers["anthropic-beta"], "context-1m-2025-08-07");
  EXPECT_EQ(reqs[0].headers["x-api-key"], "sk-ant-upstream");
}

TEST(translation, gemini_passthrough_puts_the_upstream_model_in_the_path) {
  const std::string answer =
      R"({"candidates":[{"content":{"parts":[{"text":"ok"}],"role":"model"},"finishReason":"STOP"}]})";
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    if (r.target.find("stream") != std::string::npos) {
      out.start(200, "text/event-stream");
      out.chunk("data: " + answer + "\r\n\r\n");
      out.end();
    } else {
      out.send(200, answer, "application/json");
    }
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  const std::string body = R"({"contents":[{"parts":[{"text":"Hi"}]}]})";
  auto res =
      client.request("POST", "/v1beta/models/gem:generateContent", body, {{"x-goog-api-key", key}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, answer);
  auto streamed = client.request("POST", "/v1beta/models/gem:streamGenerateContent?alt=sse", body,
                                 {{"x-goog-api-key", key}});
  ASSERT_EQ(streamed.status, 200) << streamed.body;
  EXPECT_EQ(streamed.body, "data: " + answer + "\r\n\r\n");
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(reqs[1].target, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(reqs[0].headers["x-goog-api-key"], "gem-upstream");
  EXPECT_EQ(reqs[0].body, body);
}

TEST(translation, gateway_errors_speak_the_clients_protocol) {
  fake_upstream up([](const fake_request&, fake_responder& out) { out.send(500, "{}"); });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto ant = client.request(
      "POST", "/v1/messages",
      R"({"model":"nope","max_tokens":5,"messages":[{"role":"user","content":"x"}]})",
      {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(ant.status, 404);
  auto a = json::parse(ant.body);
  EXPECT_EQ(a.at("type"), "error");
  EXPECT_EQ(a.at("error").at("type"), "not_found_error");

  auto gem = client.request("POST", "/v1beta/models/gem:generateContent", R"({"contents":[]})",
                            {{"x-goog-api-key", "sk-wrong-key-000"}});
  EXPECT_EQ(gem.status, 401);
  EXPECT_EQ(json::parse(gem.body).at("error").at("status"), "UNAUTHENTICATED");

  auto list = client.request("GET", "/v1beta/models", "", {{"x-goog-api-key", key}});
  ASSERT_EQ(list.status, 200);
  bool found = false;
  auto listed = json::parse(list.body);
  for (const auto& m : listed.at("models").as_array()) {
    if (m.at("name") == "models/gem") found = true;
  }
  EXPECT_TRUE(found) << list.body;

  auto ant_list = client.request("GET", "/v1/models", "",
                                 {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(ant_list.status, 200);
  EXPECT_EQ(json::parse(ant_list.body).at("data").as_array()[0].at("type"), "model");
}

TEST(translation, mock_channel_answers_every_protocol) {
  fake_upstream up([](const fake_request&, fake_responder& out) { out.send(500, "{}"); });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto ant = client.request(
      "POST", "/v1/messages",
      R"({"model":"demo","max_tokens":50,"messages":[{"role":"user","content":"x"}]})",
      {{"x-api-key", key}});
  ASSERT_EQ(ant.status, 200) << ant.body;
  auto a = json::parse(ant.body);
  EXPECT_EQ(a.at("type"), "message");
  EXPECT_EQ(a.at("stop_reason"), "end_turn");
  auto gem =
      client.request("POST", "/v1beta/models/demo:streamGenerateContent?alt=sse",
                     R"({"contents":[{"parts":[{"text":"Hi"}]}]})", {{"x-goog-api-key", key}});
  ASSERT_EQ(gem.status, 200) << gem.body;
  auto events = sse_data(gem.body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().at("candidates").as_array()[0].at("finishReason"), "STOP");
}

TEST(translation, count_tokens) {
  fake_upstream up(
      [](const fake_request&, fake_responder& out) { out.send(200, R"({"input_tokens":42})"); });
  gateway gw(config_for(up));
  http_client client(gw.port());
  const std::string body =
      R"({"model":"claude","messages":[{"role":"user","content":"How many tokens is this?"}]})";
  auto real = client.request("POST", "/v1/messages/count_tokens", body, {{"x-api-key", key}});
  ASSERT_EQ(real.status, 200) << real.body;
  EXPECT_EQ(real.body, R"({"input_tokens":42})");
  EXPECT_EQ(up.requests().at(0).target, "/v1/messages/count_tokens");
  auto estimated = client.request(
      "POST", "/v1/messages/count_tokens",
      R"({"model":"gpt","messages":[{"role":"user","content":"How many tokens is this?"}]})",
      {{"x-api-key", key}});
  ASSERT_EQ(estimated.status, 200) << estimated.body;
  EXPECT_GT(json::parse(estimated.body).at("input_tokens").as_int64(), 0);
  EXPECT_EQ(up.requests().size(), 1u);
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

TEST(translation, azure_gets_the_deployment_in_the_path_and_its_api_key_header) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200, completion_json("gpt-4o", "hi"));
  });
  gateway gw(R"(
channels:
  - name: az
    type: azure
    base_url: )" +
             up.url("") + R"(
    api_version: "2024-10-21"
    api_keys: [ "az-secret" ]
    models: { gpt: my-gpt4o-deployment }
keys:
  - name: app
    key: )" + key +
             "\n");
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions",
                         R"({"model":"gpt","messages":[{"role":"user","content":"hi"}]})", key);
  ASSERT_EQ(res.status, 200) << res.body;
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target,
            "/openai/deployments/my-gpt4o-deployment/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(reqs[0].headers["api-key"], "az-secret");
  EXPECT_EQ(reqs[0].headers.count("authorization"), 0u);
  // Passthrough: the same protocol, so only the model value changed.
  EXPECT_EQ(reqs[0].body,
            R"({"model":"my-gpt4o-deployment","messages":[{"role":"user","content":"hi"}]})");

  // An Anthropic client reaches the Azure deployment through translation.
  auto ant = client.request(
      "POST", "/v1/messages",
      R"({"model":"gpt","max_tokens":20,"messages":[{"role":"user","content":"hi"}]})",
      {{"x-api-key", key}});
  ASSERT_EQ(ant.status, 200) << ant.body;
  EXPECT_NE(ant.body.find(R"("type":"message")"), std::string::npos) << ant.body;
  auto sent = json::parse(up.requests().at(1).body);
  EXPECT_EQ(sent.at("max_completion_tokens"), 20);  // Azure's reasoning models refuse max_tokens
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

TEST(translation, openai_model_ids_with_colons_stay_openai) {
  fake_upstream up([](const fake_request&, fake_responder& out) { out.send(500, "{}"); });
  gateway gw(config_for(up));
  http_client client(gw.port());
  // Not a Gemini action: an OpenAI model retrieval (the model is unknown here: OpenAI's 404).
  auto res =
      client.request("GET", "/v1/models/llama3:8b", "", {{"authorization", "Bearer " + key}});
  EXPECT_EQ(res.status, 404) << res.body;
  auto e = json::parse(res.body);
  EXPECT_EQ(e.at("error").at("code"), "model_not_found") << res.body;
  // An Anthropic client gets its own shapes on the same path.
  auto ant = client.request("GET", "/v1/models/claude", "",
                            {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(ant.status, 200) << ant.body;
  EXPECT_EQ(json::parse(ant.body).at("type"), "model");
  auto ant_missing = client.request("GET", "/v1/models/nope", "",
                                    {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(ant_missing.status, 404);
  EXPECT_EQ(json::parse(ant_missing.body).at("error").at("type"), "not_found_error");
}

TEST(translation, a_passed_through_stream_cut_midway_ends_with_the_clients_error_event) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(anthropic_stream.substr(0, anthropic_stream.find("event: content_block_stop")));
    out.reset();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  client.send_raw(
      "POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-api-key: " + key +
      "\r\nContent-Type: application/json\r\nContent-Length: 90\r\n\r\n"
      R"({"model":"claude","max_tokens":9,"stream":true,"messages":[{"role":"user","content":"x"}]})");
  auto body = dechunk(client.read_to_close(std::chrono::seconds(5)));
  EXPECT_NE(body.find("event: error\ndata: {\"type\":\"error\""), std::string::npos) << body;
}

}  // namespace
}  // namespace sy::test
