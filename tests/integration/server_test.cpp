// The gateway's own answers: authentication, validation, limits, models, health, metrics,
// the mock channel and the drain on shutdown.
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
const std::string key = "sk-test-0123456789";
const std::string limited = "sk-limited-0123456789";

const std::string base_config = R"(
limits: { max_body_bytes: 4096 }
channels:
  - name: mock
    type: mock
    models: [ demo, other ]
    mock: { words: 10, chunks: 3 }
keys:
  - name: app
    key: sk-test-0123456789
    models: [ "*" ]
  - name: limited
    key: sk-limited-0123456789
    models: [ "dem?" ]
)";

std::string error_code_of(const http_response& r) {
  auto at = r.body.find("\"code\":");
  if (at == std::string::npos) return "";
  auto rest = r.body.substr(at + 7);
  if (rest.rfind("null", 0) == 0) return "null";
  return rest.substr(1, rest.find('"', 1) - 1);
}

class server_test : public ::testing::Test {
 protected:
  gateway gw{base_config};
};

TEST_F(server_test, keys_are_required_and_checked) {
  http_client c(gw.port());
  auto none = c.post("/v1/chat/completions", chat_body("demo"), "");
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(error_code_of(none), "invalid_api_key");
  EXPECT_NE(none.body.find("\"type\":\"invalid_request_error\""), std::string::npos);
  auto bad = c.post("/v1/chat/completions", chat_body("demo"), "sk-wrong-000000");
  EXPECT_EQ(bad.status, 401);
  auto via_header =
      c.request("POST", "/v1/chat/completions", chat_body("demo"), {{"x-api-key", key}});
  EXPECT_EQ(via_header.status, 200) << via_header.body;
  auto lower_bearer = c.request("POST", "/v1/chat/completions", chat_body("demo"),
                                {{"authorization", "bearer " + key}});
  EXPECT_EQ(lower_bearer.status, 200);
}

TEST_F(server_test, model_permissions_and_unknown_models) {
  http_client c(gw.port());
  auto forbidden = c.post("/v1/chat/completions", chat_body("other"), limited);
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_EQ(error_code_of(forbidden), "model_not_allowed");
  auto allowed = c.post("/v1/chat/completions", chat_body("demo"), limited);
  EXPECT_EQ(allowed.status, 200);
  auto unknown = c.post("/v1/chat/completions", chat_body("nope"), key);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(error_code_of(unknown), "model_not_found");
}

TEST_F(server_test, bad_requests_get_400_in_openai_format) {
  http_client c(gw.port());
  for (const std::string body :
       {"{not json", "[]", R"({"messages":[{"role":"user","content":"x"}]})", R"({"model":"demo"})",
        R"({"model":"demo","messages":[]})",
        R"({"model":5,"messages":[{"role":"user","content":"x"}]})",
        R"({"model":"demo","model":"other","messages":[{"role":"user","content":"x"}]})"}) {
    auto r = c.post("/v1/chat/completions", body, key);
    EXPECT_EQ(r.status, 400) << body;
    EXPECT_NE(r.body.find("\"type\":\"invalid_request_error\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("\"message\":"), std::string::npos);
  }
  auto no_input = c.post("/v1/embeddings", R"({"model":"demo"})", key);
  EXPECT_EQ(no_input.status, 400);
}

TEST_F(server_test, body_over_the_limit_gets_413) {
  http_client c(gw.port());
  std::string big = R"({"model":"demo","messages":[{"role":"user","content":")";
  big.append(8000, 'x');
  big += "\"}]}";
  auto r = c.post("/v1/chat/completions", big, key);
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(error_code_of(r), "request_too_large");
}

TEST_F(server_test, headers_over_16k_get_431) {
  http_client c(gw.port());
  auto r = c.request("GET", "/healthz", "", {{"x-big", std::string(20000, 'a')}});
  EXPECT_EQ(r.status, 431);
}

TEST_F(server_test, unknown_paths_and_wrong_methods) {
  http_client c(gw.port());
  auto r = c.request("GET", "/v1/nothing");
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("Unknown request URL"), std::string::npos);
  auto m = c.request("GET", "/v1/chat/completions", "", {{"Authorization", "Bearer " + key}});
  EXPECT_EQ(m.status, 405);
}

TEST_F(server_test, models_lists_only_what_the_key_may_use) {
  http_client c(gw.port());
  auto all = c.request("GET", "/v1/models", "", {{"Authorization", "Bearer " + key}});
  ASSERT_EQ(all.status, 200);
  EXPECT_NE(all.body.find("\"id\":\"demo\""), std::string::npos);
  EXPECT_NE(all.body.find("\"id\":\"other\""), std::string::npos);
  EXPECT_NE(all.body.find("\"object\":\"list\""), std::string::npos);
  auto some = c.request("GET", "/v1/models", "", {{"Authorization", "Bearer " + limited}});
  EXPECT_NE(some.body.find("\"id\":\"demo\""), std::string::npos);
  EXPECT_EQ(some.body.find("\"id\":\"other\""), std::string::npos);
  auto one = c.request("GET", "/v1/models/demo", "", {{"Authorization", "Bearer " + key}});
  EXPECT_EQ(one.status, 200);
  auto missing = c.request("GET", "/v1/models/other", "", {{"Authorization", "Bearer " + limited}});
  EXPECT_EQ(missing.status, 404);
  auto anonymous = c.request("GET", "/v1/models");
  EXPECT_EQ(anonymous.status, 401);
}

TEST_F(server_test, health_and_metrics) {
  http_client c(gw.port());
  EXPECT_EQ(c.request("GET", "/healthz").status, 200);
  ASSERT_EQ(c.post("/v1/chat/completions", chat_body("demo"), key).status, 200);
  ASSERT_EQ(c.post("/v1/chat/completions", chat_body("nope"), key).status, 404);
  auto m = c.request("GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(m.body.find(R"(switchyard_requests_total{model="demo",channel="mock",status="200"} 1)"),
            std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find(R"(switchyard_requests_total{model="",channel="",status="404"} 1)"),
            std::string::npos);
  EXPECT_NE(
      m.body.find("switchyard_request_duration_seconds_bucket{channel=\"mock\",le=\"+Inf\"} 1"),
      std::string::npos);
  EXPECT_NE(m.body.find("switchyard_requests_in_flight 1"), std::string::npos)
      << "the scrape itself is in flight";
}

TEST_F(server_test, request_ids_are_generated_or_honoured) {
  http_client c(gw.port());
  auto a = c.post("/v1/chat/completions", chat_body("demo"), key);
  auto b = c.post("/v1/chat/completions", chat_body("demo"), key);
  EXPECT_FALSE(a.header("x-request-id").empty());
  EXPECT_NE(a.header("x-request-id"), b.header("x-request-id"));
  auto mine = c.post("/v1/chat/completions", chat_body("demo"), key, {{"x-request-id", "abc-123"}});
  EXPECT_EQ(mine.header("x-request-id"), "abc-123");
  auto bad = c.post("/v1/chat/completions", chat_body("demo"), key,
                    {{"x-request-id", "has spaces\"and quotes"}});
  EXPECT_NE(bad.header("x-request-id"), "has spaces\"and quotes");
}

TEST_F(server_test, mock_is_deterministic_and_streams_like_openai) {
  http_client c(gw.port());
  auto a = c.post("/v1/chat/completions", chat_body("demo"), key);
  auto b = c.post("/v1/chat/completions", chat_body("demo"), key);
  ASSERT_EQ(a.status, 200);
  auto content = [](const std::string& body) {
    auto at = body.find("\"content\":\"");
    return body.substr(at + 11, body.find('"', at + 11) - at - 11);
  };
  EXPECT_FALSE(content(a.body).empty());
  EXPECT_EQ(content(a.body), content(b.body));
  EXPECT_NE(a.body.find("\"object\":\"chat.completion\""), std::string::npos);
  EXPECT_NE(a.body.find("\"completion_tokens\":10"), std::string::npos);

  auto s = c.post(
      "/v1/chat/completions",
      R"({"model":"demo","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Hello"}]})",
      key);
  ASSERT_EQ(s.status, 200);
  EXPECT_EQ(s.header("content-type").rfind("text/event-stream", 0), 0u);
  EXPECT_NE(s.body.find("\"role\":\"assistant\""), std::string::npos);
  EXPECT_NE(s.body.find("\"finish_reason\":\"stop\""), std::string::npos);
  EXPECT_NE(s.body.find("\"choices\":[],\"usage\":{"), std::string::npos);
  EXPECT_EQ(s.body.substr(s.body.size() - 14), "data: [DONE]\n\n");
  auto truncated = c.post(
      "/v1/chat/completions",
      R"({"model":"demo","max_tokens":3,"messages":[{"role":"user","content":"Hello"}]})", key);
  EXPECT_NE(truncated.body.find("\"finish_reason\":\"length\""), std::string::npos);
}

TEST_F(server_test, http10_clients_get_streams_without_chunking) {
  http_client c(gw.port());
  auto body = chat_body("demo", true);
  c.send_raw("POST /v1/chat/completions HTTP/1.0\r\nAuthorization: Bearer " + key +
             "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  auto raw = c.read_to_close(5s);
  EXPECT_EQ(raw.find("Transfer-Encoding"), std::string::npos) << raw;
  EXPECT_NE(raw.find("Connection: close"), std::string::npos);
  EXPECT_NE(raw.find("\r\n\r\ndata: {"), std::string::npos);
  EXPECT_EQ(raw.substr(raw.size() - 14), "data: [DONE]\n\n");
}

TEST_F(server_test, pipelined_requests_are_answered_in_order) {
  http_client c(gw.port());
  std::string one = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
  std::string two = "GET /v1/nothing HTTP/1.1\r\nHost: x\r\n\r\n";
  c.send_raw(one + two);
  ASSERT_TRUE(c.read_until("Unknown request URL", 5s)) << c.received();
  EXPECT_LT(c.received().find("200 OK"), c.received().find("404 Not Found"));
}

TEST(mock, latency_and_length_are_configurable) {
  gateway gw(R"(
channels:
  - { name: slow, type: mock, models: [ slow ], mock: { latency_ms: 150, words: 3 } }
keys:
  - key: sk-test-0123456789
)");
  http_client c(gw.port());
  auto start = std::chrono::steady_clock::now();
  auto r = c.post("/v1/chat/completions", chat_body("slow"), key);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.status, 200);
  EXPECT_GE(took, 150ms);  // a lower bound only: never flaky on a slow machine
  EXPECT_NE(r.body.find("\"completion_tokens\":3"), std::string::npos) << r.body;
}

TEST(drain, in_flight_streams_finish_and_new_connections_are_refused) {
  std::promise<void> go_on;
  auto released = go_on.get_future().share();
  fake_upstream up([&](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(chunk_event("before"));
    released.wait_for(10s);
    out.chunk(chunk_event("after", "stop"));
    out.chunk("data: [DONE]\n\n");
    out.end();
  });
  gateway gw(R"(
channels:
  - { name: up, type: openai, base_url: ")" +
             up.url() + R"(", models: [ m ] }
keys:
  - key: )" + key +
             "\n");
  http_client idle(gw.port());
  EXPECT_EQ(idle.request("GET", "/healthz").status, 200);  // a keep-alive connection, now idle
  http_client c(gw.port());
  auto body = chat_body("m", true);
  c.send_post("/v1/chat/completions", body, key);
  ASSERT_TRUE(c.read_until("before", 5s));
  auto port = gw.port();
  std::thread drainer([&] { gw.drain(10s); });
  // The idle connection is closed by the drain...
  auto idle_rest = idle.read_to_close(5s);
  EXPECT_TRUE(idle_rest.empty()) << idle_rest;
  // ...and new connections are refused once every worker has closed its acceptor (each does
  // so on its own thread, so the last one may lag the first by a moment).
  boost::asio::io_context io;
  bool refused = false;
  for (auto until = std::chrono::steady_clock::now() + 5s;
       !refused && std::chrono::steady_clock::now() < until;) {
    boost::asio::ip::tcp::socket probe(io);
    boost::system::error_code ec;
    probe.connect({boost::asio::ip::make_address("127.0.0.1"), port}, ec);
    refused = ec == boost::asio::error::connection_refused;
    if (!refused) std::this_thread::sleep_for(10ms);  // polling for a state, not timing
  }
  EXPECT_TRUE(refused) << "a draining gateway still accepts new connections";
  // The stream in flight completes.
  go_on.set_value();
  EXPECT_TRUE(c.read_until("0\r\n\r\n", 5s)) << c.received();
  EXPECT_NE(c.received().find("data: [DONE]"), std::string::npos);
  drainer.join();
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

// SO_REUSEPORT must not let a second gateway join the port of one already running.
TEST(server, a_port_in_use_is_refused_even_by_another_gateway) {
  gateway first("channels: [{ name: m, type: mock, models: [demo] }]\n");
  auto parsed =
      parse_config("listen: 127.0.0.1:" + std::to_string(first.port()) +
                       "\nworkers: 1\nchannels: [{ name: m, type: mock, models: [demo] }]\n",
                   "second.yaml");
  ASSERT_TRUE(std::holds_alternative<config>(parsed));
  server second(runtime::build(std::get<config>(parsed)));
  auto ec = second.start();
  EXPECT_EQ(ec, boost::asio::error::address_in_use) << ec.message();
}

}  // namespace
}  // namespace sy::test
