// Budgets on a real gateway: a request's worst case is reserved before it is sent, so concurrent
// requests never spend past a budget; refusals in each client protocol; user budgets bound all
// of a user's keys; restarts reload the spend from the ledger; alerts reach the webhook, signed.
#include "alerts/webhook.h"
#include "billing/pricing.h"
#include "server/admission.h"
#include "store/accounts.h"
#include "store/service.h"
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <unistd.h>
#include <atomic>
#include <filesystem>
#include <thread>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

const std::string master = "sk-master-0123456789";

// Every answer: 10 prompt tokens and 50 completion tokens. At the test price (input $100/MTok,
// output $200/MTok) that is 10 x 100 + 50 x 200 micro-USD = $0.011 = 11,000,000 nano-USD.
constexpr std::int64_t request_cost = 11'000'000;
const price test_price{100'000'000,  std::nullopt, std::nullopt,
                       std::nullopt, 200'000'000,  std::nullopt};

std::string body(int max_tokens) {
  return R"({"model":"priced","max_tokens":)" + std::to_string(max_tokens) +
         R"(,"messages":[{"role":"user","content":"Hello there"}]})";
}

// What the gateway reserves for body(max_tokens), computed the way it documents.
std::int64_t worst_case(int max_tokens) {
  return worst_case_nano_usd(test_price, estimate_request_tokens(body(max_tokens)), max_tokens);
}

template <class T>
T ok(store::result<T> r) {
  if (auto* e = std::get_if<store::db_error>(&r)) {
    ADD_FAILURE() << e->message;
    return T{};
  }
  return std::move(std::get<T>(r));
}

std::string code_of(const http_response& r) {
  boost::system::error_code ec;
  auto v = boost::json::parse(r.body, ec);
  if (ec || !v.is_object()) return "";
  const auto& o = v.as_object();
  if (const auto* e = o.if_contains("error"); e && e->is_object()) {
    for (const char* field : {"code", "status", "type"}) {
      if (const auto* c = e->as_object().if_contains(field); c && c->is_string()) {
        return std::string(c->as_string());
      }
    }
  }
  return "";
}

std::int64_t nano_of(const boost::json::value& usd) {
  // The admin API writes amounts from exact nano-USD integers; a double holds them to well
  // under a nano-USD at these sizes.
  return static_cast<std::int64_t>(std::llround(usd.to_number<double>() * 1e9));
}

class budget_test : public ::testing::Test {
 protected:
  budget_test()
      : upstream_([this](const fake_request& r, fake_responder& out) {
          if (delay_.count()) std::this_thread::sleep_for(delay_);
          if (overloaded_) {
            out.send(429, R"({"error":{"message":"slow down","type":"requests","code":null}})");
            return;
          }
          out.send(200,
                   R"({"id":"c","object":"chat.completion","created":1,"model":"m","choices":[)"
                   R"({"index":0,"message":{"role":"assistant","content":"ok"},)"
                   R"("finish_reason":"stop"}],)"
                   R"("usage":{"prompt_tokens":10,"completion_tokens":50,"total_tokens":60}})");
        }) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-budget-XXXXXX").string();
    dir_ = mkdtemp(tmpl.data());
  }
  ~budget_test() override {
    gw_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string config(const std::string& extra = "") const {
    return "database: sqlite:" + (dir_ / "sy.db").string() + "\nmaster_key: " + master + "\n" +
           extra + R"(
pricing:
  house-model: { input: 100, output: 200 }
channels:
  - name: up
    type: openai
    base_url: )" +
           upstream_.url() +
           R"(
    api_keys: [ "sk-upstream" ]
    models: { priced: house-model, unpriced: no-such-model }
)";
  }

  void start(const std::string& extra = "") {
    gw_ = std::make_unique<gateway>(config(extra));
    requests_at_start_ = upstream_.requests().size();
  }

  // A response reaches the client before its request is settled and its ledger row appended
  // (the logging phase runs after the last byte): waits until every request the upstream
  // answered for this gateway has its row, then commits them.
  void settled() {
    const auto expected = upstream_.requests().size() - requests_at_start_;
    for (int i = 0; i < 500 && gw_->ledger()->stats().appended < expected; ++i)
      std::this_thread::sleep_for(10ms);
    EXPECT_EQ(gw_->ledger()->stats().appended, expected);
    EXPECT_TRUE(gw_->ledger()->flush());
  }

  template <class F>
  auto change(F fn) {
    return gw_->store()->call([&](store::connection& db) {
      store::accounts acc(db);
      auto out = fn(acc);
      gw_->srv().reload_from_store(db);
      return out;
    });
  }

  store::user_row user(std::optional<std::int64_t> budget = std::nullopt,
                       std::string period = "total") {
    return change([&](store::accounts& a) {
      return ok(a.create_user({.name = "u",
                               .role = "developer",
                               .budget_nano_usd = budget,
                               .budget_period = std::move(period)}));
    });
  }

  store::created_key key(std::optional<std::string> user_id,
                         std::optional<std::int64_t> budget = std::nullopt) {
    return change([&](store::accounts& a) {
      return ok(a.create_key({.name = "app", .user_id = user_id, .budget_nano_usd = budget}));
    });
  }

  // The ledger's committed spend of a key.
  std::int64_t ledger_spend(const std::string& column, const std::string& id) {
    settled();
    return gw_->store()->call([&](store::connection& db) {
      auto rows = db.query(
          "SELECT COALESCE(CAST(SUM(cost_nano_usd) AS BIGINT), 0), COUNT(*) "
          "FROM ledger WHERE " +
              column + " = $1",
          {id});
      return std::get<std::vector<store::row>>(rows).at(0).integer(0);
    });
  }

  // The budget of scope/id as GET /admin/budgets shows it.
  boost::json::object budget_of(const std::string& scope, const std::string& name_or_id) {
    settled();
    http_client c(gw_->port());
    auto r = c.request("GET", "/admin/budgets", "", {{"authorization", "Bearer " + master}});
    EXPECT_EQ(r.status, 200) << r.body;
    const auto parsed = boost::json::parse(r.body);  // kept: the loop reads into it
    for (const auto& b : parsed.at("data").as_array()) {
      const auto& o = b.as_object();
      if (o.at("scope") != scope.c_str()) continue;
      if ((o.at("id").is_string() && o.at("id") == name_or_id.c_str()) ||
          o.at("name") == name_or_id.c_str()) {
        return o;
      }
    }
    ADD_FAILURE() << "no budget for " << scope << " " << name_or_id << " in " << r.body;
    return {};
  }

  std::chrono::milliseconds delay_{0};
  std::atomic<bool> overloaded_{false};
  fake_upstream upstream_;
  std::filesystem::path dir_;
  std::unique_ptr<gateway> gw_;
  std::size_t requests_at_start_ = 0;
};

TEST_F(budget_test, concurrent_requests_never_spend_past_the_budget) {
  start();
  constexpr std::int64_t budget = 100'000'000;  // $0.10: nine requests' worth
  const auto k = key(std::nullopt, budget);
  const auto worst = worst_case(60);
  ASSERT_GE(worst, request_cost);  // the reservation covers the real cost
  delay_ = 50ms;                   // requests overlap
  std::atomic<int> admitted{0}, refused{0}, other{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 24; ++t) {
    clients.emplace_back([&] {
      http_client c(gw_->port());
      for (int i = 0; i < 3; ++i) {
        auto r = c.post("/v1/chat/completions", body(60), k.secret);
        if (r.status == 200) {
          ++admitted;
        } else if (r.status == 429 && code_of(r) == "insufficient_quota" &&
                   r.header("x-should-retry") == "false") {
          ++refused;
        } else {
          ++other;
        }
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(refused.load(), 0);
  // Every admitted request is billed, and together they stay within the budget.
  const auto spent = ledger_spend("key_id", k.row.id);
  EXPECT_EQ(spent, admitted.load() * request_cost);
  EXPECT_LE(spent, budget);
  // At least as many as fit at once at the worst case were let in.
  EXPECT_GE(admitted.load(), budget / worst);
  // Sequentially, the rest of the budget can be used until a worst case no longer fits.
  delay_ = 0ms;
  settled();  // (ledger_spend waited for the rows, so no reservation is left either)
  http_client c(gw_->port());
  for (int i = 0; i < 100 && c.post("/v1/chat/completions", body(60), k.secret).status == 200;
       ++i) {
  }
  const auto final_spent = ledger_spend("key_id", k.row.id);
  EXPECT_LE(final_spent, budget);
  EXPECT_GT(final_spent + worst, budget);  // nothing more fits: the budget is used up
  // The gateway's own account agrees with the ledger, with nothing left reserved.
  auto b = budget_of("key", k.row.id);
  EXPECT_EQ(nano_of(b.at("spent_usd")), final_spent);
  EXPECT_EQ(nano_of(b.at("reserved_usd")), 0);
  EXPECT_EQ(nano_of(b.at("budget_usd")), budget);
  EXPECT_EQ(b.at("budget_period"), "total");
}

TEST_F(budget_test, each_client_protocol_gets_its_own_refusal) {
  start();
  const auto k = key(std::nullopt, 0);  // a budget of $0: nothing fits
  http_client c(gw_->port());
  auto openai = c.post("/v1/chat/completions", body(10), k.secret);
  EXPECT_EQ(openai.status, 429);
  const auto o = boost::json::parse(openai.body).at("error").as_object();
  EXPECT_EQ(o.at("code"), "insufficient_quota");
  EXPECT_EQ(o.at("type"), "insufficient_quota");
  EXPECT_NE(std::string(o.at("message").as_string()).find("this key's budget is USD 0"),
            std::string::npos)
      << openai.body;
  auto anthropic =
      c.request("POST", "/v1/messages",
                R"({"model":"priced","max_tokens":10,"messages":[{"role":"user","content":"Hi"}]})",
                {{"x-api-key", k.secret}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(anthropic.status, 429);
  auto a = boost::json::parse(anthropic.body).as_object();
  EXPECT_EQ(a.at("type"), "error");
  EXPECT_EQ(a.at("error").at("type"), "rate_limit_error");
  EXPECT_EQ(anthropic.header("x-should-retry"), "false");
  auto gemini = c.request(
      "POST", "/v1beta/models/priced:generateContent",
      R"({"contents":[{"parts":[{"text":"Hi"}]}],"generationConfig":{"maxOutputTokens":10}})",
      {{"x-goog-api-key", k.secret}});
  EXPECT_EQ(gemini.status, 429);
  EXPECT_EQ(boost::json::parse(gemini.body).at("error").at("status"), "RESOURCE_EXHAUSTED");
  // Refused before any upstream was asked: no ledger row, nothing spent.
  EXPECT_EQ(upstream_.requests().size(), 0u);
  EXPECT_EQ(ledger_spend("key_id", k.row.id), 0);
  http_client m(gw_->port());
  EXPECT_NE(
      m.request("GET", "/metrics").body.find(R"(switchyard_refusals_total{reason="budget"} 3)"),
      std::string::npos);
}

TEST_F(budget_test, a_users_budget_bounds_all_of_its_keys) {
  start();
  const auto u = user(30'000'000, "month");  // $0.03
  const auto a = key(u.id), b = key(u.id);   // no budgets of their own
  http_client c(gw_->port());
  int admitted = 0;
  http_response last;
  for (int i = 0; i < 10; ++i) {
    last = c.post("/v1/chat/completions", body(60), i % 2 ? a.secret : b.secret);
    if (last.status != 200) break;
    ++admitted;
  }
  EXPECT_EQ(last.status, 429);
  EXPECT_NE(last.body.find("your user's budget"), std::string::npos) << last.body;
  const auto spent = ledger_spend("user_id", u.id);
  EXPECT_EQ(spent, admitted * request_cost);
  EXPECT_LE(spent, 30'000'000);
  auto shown = budget_of("user", u.id);
  EXPECT_EQ(nano_of(shown.at("spent_usd")), spent);
  EXPECT_EQ(shown.at("budget_period"), "month");
}

TEST_F(budget_test, an_upstream_refusal_costs_nothing) {
  start();
  const auto k = key(std::nullopt, 50'000'000);
  overloaded_ = true;
  http_client c(gw_->port());
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(c.post("/v1/chat/completions", body(60), k.secret).status, 429);
  EXPECT_EQ(ledger_spend("key_id", k.row.id), 0);
  auto shown = budget_of("key", k.row.id);
  EXPECT_EQ(nano_of(shown.at("spent_usd")), 0);
  EXPECT_EQ(nano_of(shown.at("reserved_usd")), 0);
  overloaded_ = false;
  EXPECT_EQ(c.post("/v1/chat/completions", body(60), k.secret).status, 200);
}

TEST_F(budget_test, a_budgeted_key_cannot_use_an_unpriced_model) {
  start();
  const auto limited = key(std::nullopt, 1'000'000'000);
  const auto free = key(std::nullopt);
  http_client c(gw_->port());
  auto refused = c.post("/v1/chat/completions", chat_body("unpriced"), limited.secret);
  EXPECT_EQ(refused.status, 403);
  EXPECT_EQ(code_of(refused), "model_not_priced");
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body("unpriced"), free.secret).status, 200);
}

TEST_F(budget_test, a_restart_reloads_the_spend_from_the_ledger) {
  start();
  const auto u = user(1'000'000'000, "day");
  const auto k = key(u.id, 50'000'000);  // $0.05
  http_client c(gw_->port());
  for (int i = 0; i < 100 && c.post("/v1/chat/completions", body(60), k.secret).status == 200;
       ++i) {
  }
  const auto spent = ledger_spend("key_id", k.row.id);
  ASSERT_GT(spent, 0);
  gw_.reset();  // drains: the ledger is flushed
  start();
  auto shown = budget_of("key", k.row.id);
  EXPECT_EQ(nano_of(shown.at("spent_usd")), spent);
  EXPECT_EQ(nano_of(budget_of("user", u.id).at("spent_usd")), spent);
  http_client again(gw_->port());
  EXPECT_EQ(again.post("/v1/chat/completions", body(60), k.secret).status, 429);
  // Raising the budget takes effect at once; the spend is kept.
  change([&](store::accounts& a) {
    store::key_patch p;
    p.budget_nano_usd.emplace(100'000'000);
    return ok(a.update_key(k.row.id, p));
  });
  EXPECT_EQ(again.post("/v1/chat/completions", body(60), k.secret).status, 200);
  EXPECT_EQ(nano_of(budget_of("key", k.row.id).at("spent_usd")), spent + request_cost);
  // Removing it ends the tracking.
  change([&](store::accounts& a) {
    store::key_patch p;
    p.budget_nano_usd.emplace(std::nullopt);
    return ok(a.update_key(k.row.id, p));
  });
  EXPECT_EQ(gw_->srv().budgets().find("key", k.row.id), nullptr);
}

TEST_F(budget_test, config_file_keys_have_budgets_too) {
  start(
      "keys:\n  - { name: ci, key: sk-ci-0123456789, budget_usd: \"0.02\", budget_period: "
      "month }\n");
  http_client c(gw_->port());
  EXPECT_EQ(c.post("/v1/chat/completions", body(60), "sk-ci-0123456789").status, 200);
  EXPECT_EQ(c.post("/v1/chat/completions", body(60), "sk-ci-0123456789").status, 429);
  auto shown = budget_of("key", "ci");
  EXPECT_TRUE(shown.at("id").is_null());
  EXPECT_EQ(shown.at("config_key"), true);
  EXPECT_EQ(nano_of(shown.at("spent_usd")), request_cost);
  // After a restart the ledger's rows for the key's name count.
  gw_.reset();
  start(
      "keys:\n  - { name: ci, key: sk-ci-0123456789, budget_usd: \"0.02\", budget_period: "
      "month }\n");
  EXPECT_EQ(nano_of(budget_of("key", "ci").at("spent_usd")), request_cost);
}

TEST_F(budget_test, crossing_80_percent_and_exhaustion_are_signed_webhooks) {
  std::mutex mutex;
  std::vector<fake_request> events;
  fake_upstream receiver([&](const fake_request& r, fake_responder& out) {
    {
      std::lock_guard lock(mutex);
      events.push_back(r);
    }
    out.send(204, "");
  });
  const std::string secret = "whsec-0123456789abcdef";
  start("alerts:\n  webhook: { url: \"" + receiver.url("/hook") + "\", secret: " + secret + " }\n");
  const auto k = key(std::nullopt, 50'000'000);  // $0.05: four requests pass 80 % ($0.044)
  http_client c(gw_->port());
  for (int i = 0; i < 100 && c.post("/v1/chat/completions", body(60), k.secret).status == 200;
       ++i) {
  }
  c.post("/v1/chat/completions", body(60), k.secret);  // a second refusal: no second alert
  ASSERT_TRUE(gw_->webhook()->flush(5s));
  std::lock_guard lock(mutex);
  ASSERT_EQ(events.size(), 2u);
  std::vector<std::string> types;
  for (const auto& e : events) {
    EXPECT_EQ(e.target, "/hook");
    const auto ts = std::stoll(e.headers.at("x-sy-timestamp"));
    EXPECT_EQ(e.headers.at("x-sy-signature"), alerts::webhook_signature(secret, ts, e.body));
    auto v = boost::json::parse(e.body).as_object();
    EXPECT_EQ(e.headers.at("x-sy-delivery"), v.at("id").as_string().c_str());
    types.emplace_back(v.at("type").as_string());
    const auto& data = v.at("data").as_object();
    EXPECT_EQ(data.at("scope"), "key");
    EXPECT_EQ(data.at("id"), k.row.id.c_str());
    EXPECT_EQ(nano_of(data.at("budget_usd")), 50'000'000);
    if (types.back() == "budget.threshold") {
      EXPECT_EQ(data.at("threshold_percent"), 80);
      EXPECT_EQ(nano_of(data.at("spent_usd")), 4 * request_cost);
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"budget.threshold", "budget.exhausted"}));
}

}  // namespace
}  // namespace sy::test
