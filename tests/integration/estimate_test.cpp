// Requests whose upstream never reports usage are counted by the gateway's tokenizer and their
// ledger rows marked estimated: a client that leaves mid-stream, an upstream that dies
// mid-answer, a server that sends no usage.
#include "billing/tokenizer.h"
#include "store/service.h"
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <filesystem>
#include <thread>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

const std::string key = "sk-app-0123456789";
const std::vector<std::string> pieces = {"The quick brown fox", " jumps over", " the lazy dog."};

std::string all_text() {
  std::string t;
  for (const auto& p : pieces)
    t += p;
  return t;
}

std::int64_t tokens(std::string_view text) {
  return static_cast<std::int64_t>(
      billing::count_tokens(billing::encoding::o200k_base, text));  // gpt-4o's
}

struct ledger_row {
  std::int64_t input = 0, output = 0, estimated = 0, status = 0;
  std::optional<std::int64_t> cost;
};

class estimate_test : public ::testing::Test {
 protected:
  estimate_test() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-estimate-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~estimate_test() override {
    gw_.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(const fake_upstream& up) {
    gw_ = std::make_unique<gateway>("database: sqlite:" + (dir_ / "sy.db").string() + R"(
pricing:
  gpt-4o: { input: 1.00, output: 2.00 }
channels:
  - name: up
    type: openai
    base_url: )" + up.url() + R"(
    api_keys: [ "sk-upstream" ]
    models: { chat: gpt-4o }
keys:
  - { name: app, key: )" + key + R"(, models: [ "*" ] }
)");
  }

  // The one ledger row, once the logging phase has written it (it runs after the response).
  ledger_row only_row() {
    for (int i = 0; i < 500 && gw_->ledger()->stats().appended < 1; ++i)
      std::this_thread::sleep_for(10ms);
    EXPECT_TRUE(gw_->ledger()->flush());
    auto rows = gw_->store()->call([](store::connection& db) {
      return std::get<std::vector<store::row>>(db.query(
          "SELECT input_tokens, output_tokens, estimated, status, cost_nano_usd FROM ledger"));
    });
    EXPECT_EQ(rows.size(), 1u);
    if (rows.empty()) return {};
    ledger_row r{rows[0].integer(0), rows[0].integer(1), rows[0].integer(2), rows[0].integer(3)};
    if (!rows[0].is_null(4)) r.cost = rows[0].integer(4);
    return r;
  }

  std::filesystem::path dir_;
  std::unique_ptr<gateway> gw_;
};

// The prompt of chat_body: one user message "Hello", framed as OpenAI counts it.
const std::int64_t hello_prompt = 3 + 3 + tokens("Hello");

TEST_F(estimate_test, a_client_that_leaves_mid_stream_is_billed_for_what_was_generated) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream");
    for (const auto& p : pieces)
      out.chunk(chunk_event(p));
    out.wait_peer_close(5s);  // no usage chunk ever comes: the client leaves first
  });
  start(up);
  http_client c(gw_->port());
  c.send_post("/v1/chat/completions", chat_body("chat", true), key);
  ASSERT_TRUE(c.read_until("lazy dog", 5s)) << c.received();
  c.close();
  const auto row = only_row();
  EXPECT_EQ(row.estimated, 1);
  EXPECT_EQ(row.input, hello_prompt);
  EXPECT_EQ(row.output, tokens(all_text()));
  // At $1 / $2 per million: every token billed once.
  ASSERT_TRUE(row.cost);
  EXPECT_EQ(*row.cost, row.input * 1000 + row.output * 2000);
}

TEST_F(estimate_test, an_upstream_that_dies_mid_answer_is_estimated_in_translation_too) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.start(200, "text/event-stream");
    for (const auto& p : pieces)
      out.chunk(chunk_event(p));
    std::this_thread::sleep_for(50ms);
    out.reset();
  });
  start(up);
  http_client c(gw_->port());
  auto r = c.request(
      "POST", "/v1/messages",
      R"({"model":"chat","max_tokens":100,"stream":true,"messages":[{"role":"user","content":"Hello"}]})",
      {{"x-api-key", key}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("lazy dog"), std::string::npos);
  EXPECT_NE(r.body.find("event: error"), std::string::npos) << r.body;  // the client was told
  const auto row = only_row();
  EXPECT_EQ(row.estimated, 1);
  EXPECT_EQ(row.input, hello_prompt);
  EXPECT_EQ(row.output, tokens(all_text()));
}

TEST_F(estimate_test, a_server_that_reports_no_usage_is_estimated) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200,  // no usage object
             R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[)"
             R"({"index":0,"message":{"role":"assistant","content":")" +
                 all_text() + R"("},"finish_reason":"stop"}]})");
  });
  start(up);
  http_client c(gw_->port());
  ASSERT_EQ(c.post("/v1/chat/completions", chat_body("chat"), key).status, 200);
  const auto row = only_row();
  EXPECT_EQ(row.estimated, 1);
  EXPECT_EQ(row.input, hello_prompt);
  EXPECT_EQ(row.output, tokens(all_text()));
}

TEST_F(estimate_test, reported_usage_is_never_replaced) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(
        200,
        R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,)"
        R"("message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
        R"("usage":{"prompt_tokens":1000,"completion_tokens":500,"total_tokens":1500}})");
  });
  start(up);
  http_client c(gw_->port());
  ASSERT_EQ(c.post("/v1/chat/completions", chat_body("chat"), key).status, 200);
  const auto row = only_row();
  EXPECT_EQ(row.estimated, 0);
  EXPECT_EQ(row.input, 1000);
  EXPECT_EQ(row.output, 500);
}

}  // namespace
}  // namespace sy::test
