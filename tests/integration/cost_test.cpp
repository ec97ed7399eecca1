// The cost of a request, from its usage and the pricing table, in the access log.
#include "common/log.h"
#include "store/service.h"
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace sy::test {
namespace {

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(cost, the_access_log_carries_each_requests_cost) {
  const auto path =
      std::filesystem::temp_directory_path() / ("sy-cost-" + std::to_string(::getpid()) + ".log");
  std::filesystem::remove(path);
  log::init("warn", path.string());
  {
    // 1000 prompt tokens (400 of them cached) and 500 completion tokens.
    fake_upstream up([](const fake_request& r, fake_responder& out) {
      out.send(
          200,
          R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
          R"("message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
          R"("usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,)"
          R"("prompt_tokens_details":{"cached_tokens":400}}})");
    });
    gateway gw(R"(
pricing:
  house-model: { input: 2.00, cached_input: 0.50, output: 8.00 }
channels:
  - name: up
    type: openai
    base_url: )" +
               up.url() + R"(
    api_keys: [ "sk-upstream" ]
    models: { priced: house-model, known: gpt-4o-mini, unpriced: no-such-model }
keys:
  - { name: app, key: sk-app-0123456789, models: [ "*" ] }
)");
    http_client c(gw.port());
    for (const char* model : {"priced", "known", "unpriced"}) {
      ASSERT_EQ(c.post("/v1/chat/completions", chat_body(model), "sk-app-0123456789").status, 200);
    }
  }
  // The access log is written by a background thread: wait (boundedly) for the three lines.
  std::string text;
  for (int i = 0; i < 200; ++i) {
    log::flush();
    text = read_all(path);
    if (std::count(text.begin(), text.end(), '\n') >= 3) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  log::init("warn", "off");
  std::filesystem::remove(path);
  // The config's price: 600 x $2 + 400 x $0.50 + 500 x $8, per million = $0.0054.
  EXPECT_NE(text.find(R"("model":"priced")"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("cached_tokens":400,"cost_usd":0.005400000)"), std::string::npos) << text;
  // The shipped price of gpt-4o-mini: 600 x $0.15 + 400 x $0.075 + 500 x $0.60 = $0.00042.
  EXPECT_NE(text.find(R"("cost_usd":0.000420000)"), std::string::npos) << text;
  // No price: recorded as unknown, never as zero.
  EXPECT_NE(text.find(R"("cost_usd":null)"), std::string::npos) << text;
  EXPECT_EQ(text.find(R"("cost_usd":0.000000000)"), std::string::npos) << text;
}

TEST(cost, every_routed_request_leaves_one_ledger_row) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sy-ledger-XXXXXX").string();
  const std::filesystem::path dir = mkdtemp(tmpl.data());
  {
    fake_upstream up([](const fake_request& r, fake_responder& out) {
      out.send(
          200,
          R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
          R"("message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
          R"("usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,)"
          R"("prompt_tokens_details":{"cached_tokens":400},)"
          R"("completion_tokens_details":{"reasoning_tokens":100}}})");
    });
    gateway gw("database: sqlite:" + (dir / "sy.db").string() + R"(
pricing:
  house-model: { input: 2.00, cached_input: 0.50, output: 8.00 }
channels:
  - name: up
    type: openai
    base_url: )" +
               up.url() + R"(
    api_keys: [ "sk-upstream" ]
    models: { priced: house-model, unpriced: no-such-model }
keys:
  - { name: app, key: sk-app-0123456789, models: [ "*" ] }
)");
    http_client c(gw.port());
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body("priced"), "sk-app-0123456789").status, 200);
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body("unpriced"), "sk-app-0123456789").status,
              200);
    // Not routed: no row (the refusal is in the metrics and the audit log).
    EXPECT_EQ(c.post("/v1/chat/completions", chat_body("nowhere"), "sk-app-0123456789").status,
              404);
    EXPECT_EQ(c.post("/v1/chat/completions", chat_body("priced"), "sk-wrong-0123456789").status,
              401);
    ASSERT_TRUE(gw.ledger()->flush());
    // The writer's counters are in /metrics (two rows: the refusals above leave none).
    const auto metrics = c.request("GET", "/metrics").body;
    EXPECT_NE(metrics.find("switchyard_ledger_rows_written_total 2\n"), std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find("switchyard_ledger_rows_pending 0\n"), std::string::npos);
    auto rows = gw.store()->call([](store::connection& db) {
      auto r = db.query(
          "SELECT model, upstream_model, key_name, api, input_tokens, cached_input_tokens, "
          "output_tokens, reasoning_tokens, cost_nano_usd, status FROM ledger ORDER BY id");
      return std::get<std::vector<store::row>>(r);
    });
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].text(0), "priced");
    EXPECT_EQ(rows[0].text(1), "house-model");
    EXPECT_EQ(rows[0].text(2), "app");
    EXPECT_EQ(rows[0].text(3), "openai");
    // Disjoint columns: 600 uncached + 400 cached input, 400 output + 100 reasoning.
    EXPECT_EQ(rows[0].integer(4), 600);
    EXPECT_EQ(rows[0].integer(5), 400);
    EXPECT_EQ(rows[0].integer(6), 400);
    EXPECT_EQ(rows[0].integer(7), 100);
    // 600 x $2 + 400 x $0.50 + 500 x $8 per million = $0.0054 = 5,400,000 nano-USD.
    EXPECT_EQ(rows[0].integer(8), 5'400'000);
    EXPECT_EQ(rows[0].integer(9), 200);
    EXPECT_EQ(rows[1].text(0), "unpriced");
    EXPECT_TRUE(rows[1].is_null(8));  // unknown, never zero
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

TEST(cost, non_streamed_answers_carry_their_cost_and_tokens_in_headers) {
  // A long answer (several relay pieces) with cached and reasoning tokens; a stream on request.
  const std::string long_text(100000, 'x');
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    if (r.body.find("\"stream\":true") != std::string::npos) {
      out.start(200, "text/event-stream");
      out.chunk(chunk_event("hi"));
      out.chunk(
          R"(data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[],)"
          R"("usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}})"
          "\n\n");
      out.chunk("data: [DONE]\n\n");
      out.end();
      return;
    }
    out.send(
        200,
        R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
        R"("message":{"role":"assistant","content":")" +
            long_text +
            R"("},"finish_reason":"stop"}],)"
            R"("usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500,)"
            R"("prompt_tokens_details":{"cached_tokens":400},)"
            R"("completion_tokens_details":{"reasoning_tokens":100}}})");
  });
  gateway gw(R"(
pricing:
  house-model: { input: 2.00, cached_input: 0.50, output: 8.00 }
channels:
  - name: up
    type: openai
    base_url: )" +
             up.url() +
             R"(
    api_keys: [ "sk-upstream" ]
    models: { priced: house-model, unpriced: no-such-model }
keys:
  - { name: app, key: sk-app-0123456789, models: [ "*" ] }
)");
  http_client c(gw.port());
  // 600 x $2 + 400 x $0.50 + 500 x $8, per million = $0.0054.
  auto passthrough = c.post("/v1/chat/completions", chat_body("priced"), "sk-app-0123456789");
  ASSERT_EQ(passthrough.status, 200);
  EXPECT_NE(passthrough.body.find(long_text), std::string::npos);  // the whole answer, intact
  EXPECT_EQ(passthrough.header("x-sy-request-cost"), "0.0054");
  EXPECT_EQ(passthrough.header("x-sy-input-tokens"), "1000");
  EXPECT_EQ(passthrough.header("x-sy-cached-input-tokens"), "400");
  EXPECT_EQ(passthrough.header("x-sy-output-tokens"), "500");
  EXPECT_EQ(passthrough.header("x-sy-reasoning-tokens"), "100");
  EXPECT_EQ(passthrough.header("x-sy-cache-write-tokens"), "");
  // Translated (an Anthropic client): the same usage, the same cost.
  auto translated =
      c.request("POST", "/v1/messages",
                R"({"model":"priced","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]})",
                {{"x-api-key", "sk-app-0123456789"}, {"anthropic-version", "2023-06-01"}});
  ASSERT_EQ(translated.status, 200) << translated.body;
  EXPECT_EQ(translated.header("x-sy-request-cost"), "0.0054");
  EXPECT_EQ(translated.header("x-sy-input-tokens"), "1000");
  // No price: said so, never a zero.
  auto unpriced = c.post("/v1/chat/completions", chat_body("unpriced"), "sk-app-0123456789");
  EXPECT_EQ(unpriced.header("x-sy-request-cost"), "unknown");
  EXPECT_EQ(unpriced.header("x-sy-output-tokens"), "500");
  // A stream's headers leave before its usage is known: none.
  auto streamed = c.post("/v1/chat/completions", chat_body("priced", true), "sk-app-0123456789");
  EXPECT_EQ(streamed.status, 200);
  EXPECT_EQ(streamed.header("x-sy-request-cost"), "");
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

// A Gemini stream without ?alt=sse is one JSON array: not SSE, yet a stream. It must flow as it
// comes, not be held like a non-streamed answer for its cost headers.
TEST(cost, a_gemini_json_array_stream_is_relayed_as_it_comes) {
  std::atomic<bool> release{false};
  fake_upstream up([&](const fake_request&, fake_responder& out) {
    out.start(200, "application/json");
    out.chunk(R"([{"candidates":[{"content":{"parts":[{"text":"first"}],"role":"model"},)"
              R"("index":0}]})");
    for (int i = 0; i < 300 && !release; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    out.chunk(R"(,{"candidates":[{"content":{"parts":[{"text":" second"}],"role":"model"},)"
              R"("finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,)"
              R"("candidatesTokenCount":2,"totalTokenCount":5}}])");
    out.end();
  });
  gateway gw(R"(
channels:
  - name: g
    type: gemini
    base_url: )" +
             up.url("") +
             R"(
    api_keys: [ "upstream-key" ]
    models: [ gemini-2.5-flash ]
keys:
  - { name: app, key: sk-app-0123456789, models: [ "*" ] }
)");
  http_client c(gw.port());
  c.send_post("/v1beta/models/gemini-2.5-flash:streamGenerateContent",
              R"({"contents":[{"role":"user","parts":[{"text":"Hi"}]}]})", "sk-app-0123456789");
  // The first element arrives while the upstream still holds the rest back.
  EXPECT_TRUE(c.read_until("first", std::chrono::seconds(2))) << c.received();
  release = true;
  EXPECT_TRUE(c.read_until("second", std::chrono::seconds(5))) << c.received();
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

// The mock channel answers from the gateway itself: a known zero, not an unknown cost.
TEST(cost, the_mock_channel_is_free) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sy-mock-XXXXXX").string();
  const std::filesystem::path dir = mkdtemp(tmpl.data());
  {
    gateway gw("database: sqlite:" + (dir / "sy.db").string() + R"(
channels:
  - { name: mock, type: mock, models: [ demo ] }
  - { name: priced-mock, type: mock, models: [ dear ], pricing: { "*": { input: 1, output: 1 } } }
keys:
  - { name: app, key: sk-app-0123456789, models: [ "*" ], budget_usd: "0.01" }
)");
    http_client c(gw.port());
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body("demo"), "sk-app-0123456789").status, 200);
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body("dear"), "sk-app-0123456789").status, 200);
    // The answer leaves before its ledger row is appended: wait for both rows.
    for (int i = 0; i < 500 && gw.ledger()->stats().appended < 2; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    ASSERT_TRUE(gw.ledger()->flush());
    auto rows = gw.store()->call([](store::connection& db) {
      return std::get<std::vector<store::row>>(
          db.query("SELECT model, cost_nano_usd FROM ledger ORDER BY model"));
    });
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].text(0), "dear");
    EXPECT_GT(rows[0].integer(1), 0);  // its own price
    EXPECT_EQ(rows[1].text(0), "demo");
    ASSERT_FALSE(rows[1].is_null(1));
    EXPECT_EQ(rows[1].integer(1), 0);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sy::test
