// Managed keys on the data plane: the real gateway with a SQLite store, keys and users changed in
// the store while it runs; expiry, revocation, disabled owners, rotation grace, IP allow-lists,
// model bounds, rate limits under concurrent load, HMAC signing, the failed-authentication
// guard, and the audit rows and metrics of each refusal.
#include "store/accounts.h"
#include "common/crypto.h"
#include "store/channels.h"
#include "store/service.h"
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

const std::string master = "sk-master-0123456789";

std::string error_code_of(const http_response& r) {
  auto at = r.body.find("\"code\":");
  if (at == std::string::npos) return "";
  auto rest = r.body.substr(at + 7);
  if (rest.rfind("null", 0) == 0) return "null";
  return rest.substr(1, rest.find('"', 1) - 1);
}

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

template <class T>
T ok(store::result<T> r) {
  if (auto* e = std::get_if<store::db_error>(&r)) {
    ADD_FAILURE() << e->message;
    return T{};
  }
  return std::move(std::get<T>(r));
}

struct temp_folder {
  std::filesystem::path path;
  temp_folder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-accounts-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_folder() { std::filesystem::remove_all(path); }
};

crypto::sealer test_sealer() {
  return std::get<crypto::sealer>(
      crypto::sealer::from_secret("an-operator-secret-of-at-least-32-characters"));
}

class accounts_test : public ::testing::Test {
 protected:
  std::string config(const std::string& extra = "") const {
    return "database: sqlite:" + (dir_.path / "sy.db").string() + "\nmaster_key: " + master + "\n" +
           extra + R"(
channels:
  - name: mock
    type: mock
    models: [ demo, other, slow ]
)";
  }

  void start(const std::string& extra = "") {
    gw_ = std::make_unique<gateway>(config(extra), &sealer_);
  }

  // Runs `fn(accounts)` on the gateway's store thread, then reloads the key table there, so the
  // next request sees the change (as the admin API does).
  template <class F>
  auto change(F fn) {
    return gw_->store()->call([&](store::connection& db) {
      store::accounts acc(db);
      auto out = fn(acc);
      gw_->srv().reload_from_store(db);
      return out;
    });
  }

  store::user_row user(const std::string& role = "developer",
                       std::vector<std::string> models = {"*"}) {
    return change([&](store::accounts& a) {
      return ok(a.create_user({.name = "u", .role = role, .models = std::move(models)}));
    });
  }

  store::created_key key(store::new_key k) {
    return change([&](store::accounts& a) { return ok(a.create_key(k)); });
  }

  std::vector<store::audit_row> audit(const std::string& action) {
    return gw_->store()->call([&](store::connection& db) {
      store::accounts acc(db);
      store::audit_filter f;
      f.action = action;
      return ok(acc.list_audit(f)).items;
    });
  }

  http_response chat(const std::string& secret, const std::string& model = "demo",
                     const std::map<std::string, std::string>& headers = {}) {
    http_client c(gw_->port());
    return c.post("/v1/chat/completions", chat_body(model), secret, headers);
  }

  std::string metrics() {
    http_client c(gw_->port());
    return c.request("GET", "/metrics").body;
  }

  temp_folder dir_;
  crypto::sealer sealer_ = test_sealer();
  std::unique_ptr<gateway> gw_;
};

TEST_F(accounts_test, a_managed_key_works_and_each_refusal_says_why) {
  start();
  auto owner = user();
  auto k = key({.name = "app", .user_id = owner.id});
  EXPECT_EQ(chat(k.secret).status, 200);

  // Expired.
  change([&](store::accounts& a) {
    return ok(a.update_key(k.row.id, {.expires_at = std::optional<std::int64_t>(unix_now() - 1)}));
  });
  auto expired = chat(k.secret);
  EXPECT_EQ(expired.status, 401);
  EXPECT_EQ(error_code_of(expired), "key_expired");
  change([&](store::accounts& a) {
    return ok(a.update_key(k.row.id, {.expires_at = std::optional<std::int64_t>()}));
  });
  EXPECT_EQ(chat(k.secret).status, 200);

  // Disabled owner.
  change([&](store::accounts& a) { return ok(a.update_user(owner.id, {.enabled = false})); });
  auto owner_off = chat(k.secret);
  EXPECT_EQ(owner_off.status, 401);
  EXPECT_EQ(error_code_of(owner_off), "key_disabled");
  change([&](store::accounts& a) { return ok(a.update_user(owner.id, {.enabled = true})); });
  EXPECT_EQ(chat(k.secret).status, 200);

  // Revoked: in the client's protocol (Anthropic here).
  change([&](store::accounts& a) { return ok(a.revoke_key(k.row.id)); });
  http_client c(gw_->port());
  auto revoked =
      c.request("POST", "/v1/messages",
                R"({"model":"demo","max_tokens":10,"messages":[{"role":"user","content":"hi"}]})",
                {{"x-api-key", k.secret}, {"anthropic-version", "2023-06-01"}});
  EXPECT_EQ(revoked.status, 401);
  EXPECT_NE(revoked.body.find(R"("type":"authentication_error")"), std::string::npos)
      << revoked.body;
  EXPECT_NE(revoked.body.find("revoked"), std::string::npos);
  EXPECT_EQ(revoked.header("request-id"), revoked.header("x-request-id"));  // the SDK's requestID

  auto m = metrics();
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="expired"} 1)"), std::string::npos) << m;
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="disabled"} 1)"), std::string::npos);
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="revoked"} 1)"), std::string::npos);

  // Each refusal is in the audit log, with the key's id and never its secret.
  auto rows = audit("auth.failed");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].result, "revoked");
  EXPECT_EQ(rows[1].result, "disabled");
  EXPECT_EQ(rows[2].result, "expired");
  for (const auto& r : rows) {
    EXPECT_EQ(r.target, k.row.id);
    EXPECT_EQ(r.actor, owner.id);
    EXPECT_EQ(r.client_ip, "127.0.0.1");
    EXPECT_EQ(r.changes.find(k.secret), std::string::npos);
  }
}

TEST_F(accounts_test, unknown_keys_are_audited_by_prefix_only) {
  start();
  auto wrong = chat("sk-wrongwrongwrongwrong");
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(error_code_of(wrong), "invalid_api_key");
  auto rows = audit("auth.failed");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].actor, "anonymous");
  EXPECT_EQ(rows[0].target, "sk-wron");
  EXPECT_EQ(rows[0].result, "invalid_key");
  EXPECT_EQ(rows[0].changes, R"({"path":"/v1/chat/completions"})");
}

TEST_F(accounts_test, rotation_keeps_the_old_secret_for_the_grace_period_only) {
  start();
  auto k = key({.name = "app"});
  auto fresh = change([&](store::accounts& a) { return *ok(a.rotate_key(k.row.id, 3600)); });
  EXPECT_EQ(chat(fresh).status, 200);
  EXPECT_EQ(chat(k.secret).status, 200);  // within the grace period
  auto again = change([&](store::accounts& a) { return *ok(a.rotate_key(k.row.id, 0)); });
  EXPECT_EQ(chat(again).status, 200);
  EXPECT_EQ(chat(fresh).status, 401);  // grace 0: stops at once
  EXPECT_EQ(chat(k.secret).status, 401);
  // A grace period that ended: the previous secret is refused even on a connection that used it.
  auto third = change([&](store::accounts& a) { return *ok(a.rotate_key(k.row.id, 3600)); });
  http_client c(gw_->port());
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body("demo"), again).status, 200);
  gw_->store()->call([&](store::connection& db) {
    auto r = db.query("UPDATE api_keys SET previous_until = $1 WHERE id = $2",
                      {unix_now() - 1, k.row.id});
    EXPECT_TRUE(std::holds_alternative<std::vector<store::row>>(r));
    gw_->srv().reload_from_store(db);
    return 0;
  });
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body("demo"), again).status, 401);
  EXPECT_EQ(chat(third).status, 200);
}

TEST_F(accounts_test, ip_allow_lists_and_model_bounds) {
  start();
  auto elsewhere = key({.name = "far", .allowed_ips = {"10.0.0.0/8", "2001:db8::/32"}});
  auto r = chat(elsewhere.secret);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(error_code_of(r), "ip_not_allowed");
  auto here = key({.name = "near", .allowed_ips = {"10.0.0.0/8", "127.0.0.0/8"}});
  EXPECT_EQ(chat(here.secret).status, 200);

  // The key allows demo and other; its owner only demo.
  auto owner = user("developer", {"demo"});
  auto bounded = key({.name = "b", .user_id = owner.id, .models = {"demo", "other"}});
  EXPECT_EQ(chat(bounded.secret, "demo").status, 200);
  auto other = chat(bounded.secret, "other");
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(error_code_of(other), "model_not_allowed");
  http_client c(gw_->port());
  auto listed = c.request("GET", "/v1/models", "", {{"authorization", "Bearer " + bounded.secret}});
  EXPECT_NE(listed.body.find(R"("id":"demo")"), std::string::npos);
  EXPECT_EQ(listed.body.find(R"("id":"other")"), std::string::npos) << listed.body;
  auto m = metrics();
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="ip_not_allowed"} 1)"), std::string::npos);
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="model_not_allowed"} 1)"),
            std::string::npos);
}

TEST_F(accounts_test, the_key_table_follows_changes_made_by_another_process) {
  start();
  // Another connection to the same database (the CLI, another instance): the gateway only
  // learns of it by polling the store revision.
  auto db = std::get<std::unique_ptr<store::connection>>(
      store::open("sqlite:" + (dir_.path / "sy.db").string()));
  store::accounts other(*db);
  auto k = ok(other.create_key({.name = "cli"}));
  auto deadline = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline && status != 200) {
    status = chat(k.secret).status;
    if (status != 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 200);
  ok(other.revoke_key(k.row.id));
  deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline && status == 200) {
    status = chat(k.secret).status;
    if (status == 200) std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(status, 401);
}

// N clients at once, each on its own connection; returns the statuses.
std::vector<int> burst(unsigned short port, const std::string& secret, int n,
                       const std::string& model = "demo") {
  std::vector<int> statuses(n);
  std::vector<std::thread> threads;
  std::atomic<int> ready{0};
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      http_client c(port);
      ready.fetch_add(1);
      while (ready.load() < n)
        std::this_thread::yield();
      statuses[i] = c.post("/v1/chat/completions", chat_body(model), secret).status;
    });
  }
  for (auto& t : threads)
    t.join();
  return statuses;
}

TEST_F(accounts_test, requests_per_minute_admit_no_more_than_the_limit_under_load) {
  start();
  auto k = key({.name = "rpm", .rpm = 5});
  auto statuses = burst(gw_->port(), k.secret, 24);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 5);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 19);
  auto refused = chat(k.secret);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(error_code_of(refused), "rate_limit_exceeded");
  EXPECT_NE(refused.body.find(R"("type":"requests")"), std::string::npos);
  EXPECT_GE(std::stoi(refused.header("retry-after")), 1);
  EXPECT_EQ(refused.header("x-ratelimit-limit-requests"), "5");
  EXPECT_EQ(refused.header("x-ratelimit-remaining-requests"), "0");
  EXPECT_FALSE(refused.header("x-ratelimit-reset-requests").empty());
}

TEST_F(accounts_test, admitted_requests_carry_the_rate_limit_headers) {
  start();
  auto k = key({.name = "rpm", .rpm = 100, .tpm = 100000});
  auto first = chat(k.secret);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.header("x-ratelimit-limit-requests"), "100");
  EXPECT_EQ(first.header("x-ratelimit-remaining-requests"), "99");
  EXPECT_EQ(first.header("x-ratelimit-limit-tokens"), "100000");
  EXPECT_FALSE(first.header("x-ratelimit-remaining-tokens").empty());
  EXPECT_EQ(chat(k.secret).header("x-ratelimit-remaining-requests"), "98");
}

TEST_F(accounts_test, tokens_per_minute_refuse_once_the_bucket_is_spent) {
  start();
  // The estimate of one request is about a quarter of its bytes (~25 tokens here) and the answer
  // adds its usage: a limit of 30 admits the first request only.
  auto k = key({.name = "tpm", .tpm = 30});
  EXPECT_EQ(chat(k.secret).status, 200);
  auto refused = chat(k.secret);
  EXPECT_EQ(refused.status, 429);
  EXPECT_NE(refused.body.find(R"("type":"tokens")"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.header("x-ratelimit-limit-tokens"), "30");
  auto m = metrics();
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="rate_tokens"} 1)"), std::string::npos);
}

TEST_F(accounts_test, concurrency_is_bounded) {
  gw_ = std::make_unique<gateway>("database: sqlite:" + (dir_.path / "sy.db").string() + R"(
channels:
  - name: mock
    type: mock
    models: [ slow ]
    mock: { latency_ms: 1500 }
)",
                                  &sealer_);
  auto k = key({.name = "conc", .max_concurrency = 2});
  auto statuses = burst(gw_->port(), k.secret, 6, "slow");
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 200), 2);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 429), 4);
  // The slots were given back.
  auto after = burst(gw_->port(), k.secret, 2, "slow");
  EXPECT_EQ(std::count(after.begin(), after.end(), 200), 2);
}

std::string sign(const std::string& secret, const std::string& ts, const std::string& method,
                 const std::string& target, const std::string& body) {
  return crypto::hmac_sha256_hex(secret, ts + "\n" + method + "\n" + target + "\n" + body);
}

TEST_F(accounts_test, hmac_signing_accepted_tampered_expired_and_replayed) {
  start();
  auto k = key({.name = "signed"});
  const std::string secret = "a-signing-secret-0123456789abcdef";
  change([&](store::accounts& a) {
    return ok(a.update_key(
        k.row.id, {.signing_secret = std::optional<std::string>(sealer_.seal(secret, k.row.id))}));
  });
  const std::string target = "/v1/chat/completions";
  const auto body = chat_body("demo");
  auto ts = std::to_string(unix_now());
  auto good = sign(secret, ts, "POST", target, body);

  EXPECT_EQ(chat(k.secret).status, 401);  // unsigned
  auto accepted = chat(k.secret, "demo", {{"x-sy-timestamp", ts}, {"x-sy-signature", good}});
  EXPECT_EQ(accepted.status, 200) << accepted.body;
  auto replayed = chat(k.secret, "demo", {{"x-sy-timestamp", ts}, {"x-sy-signature", good}});
  EXPECT_EQ(replayed.status, 401);
  EXPECT_NE(replayed.body.find("already used"), std::string::npos);

  http_client c(gw_->port());
  auto tampered =
      c.post(target, chat_body("other"), k.secret,
             {{"x-sy-timestamp", ts}, {"x-sy-signature", sign(secret, ts, "POST", target, body)}});
  EXPECT_EQ(tampered.status, 401);
  EXPECT_EQ(error_code_of(tampered), "invalid_signature");

  auto old = std::to_string(unix_now() - 301);
  auto expired =
      chat(k.secret, "demo",
           {{"x-sy-timestamp", old}, {"x-sy-signature", sign(secret, old, "POST", target, body)}});
  EXPECT_EQ(expired.status, 401);
  EXPECT_NE(expired.body.find("5 minutes"), std::string::npos);

  // Another timestamp, another signature: accepted.
  auto ts2 = std::to_string(unix_now() + 2);
  auto second =
      chat(k.secret, "demo",
           {{"x-sy-timestamp", ts2}, {"x-sy-signature", sign(secret, ts2, "POST", target, body)}});
  EXPECT_EQ(second.status, 200) << second.body;

  auto rows = audit("auth.failed");
  int bad_signatures = 0;
  for (const auto& r : rows) {
    if (r.result == "bad_signature") ++bad_signatures;
    EXPECT_EQ(r.changes.find(secret), std::string::npos);
  }
  EXPECT_GE(bad_signatures, 4);  // unsigned, replayed, tampered, expired
}

TEST_F(accounts_test, failed_authentications_slow_down_then_block_the_address) {
  start(
      R"(auth_guard: { slow_after: 2, block_after: 4, base_delay_ms: 1, max_delay_ms: 5, block_s: 60 }
)");
  auto k = key({.name = "good"});
  http_client kept(gw_->port());  // authenticated before the block: its cached key does not help
  EXPECT_EQ(kept.post("/v1/chat/completions", chat_body("demo"), k.secret).status, 200);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(chat("sk-guessing-" + std::to_string(i) + "-0000000000").status, 401);
  }
  // Blocked now, even with a valid key, on a new connection or on the old one.
  auto blocked = chat(k.secret);
  EXPECT_EQ(blocked.status, 429);
  EXPECT_EQ(error_code_of(blocked), "too_many_failed_authentications");
  EXPECT_GE(std::stoi(blocked.header("retry-after")), 1);
  EXPECT_EQ(kept.post("/v1/chat/completions", chat_body("demo"), k.secret).status, 429);
  auto m = metrics();
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="blocked_ip"} 2)"), std::string::npos);
  EXPECT_NE(m.find(R"(switchyard_refusals_total{reason="invalid_key"} 4)"), std::string::npos);
}

TEST_F(accounts_test, channels_from_the_store_serve_models) {
  start();
  EXPECT_EQ(chat(master, "managed-model").status, 404);
  channel_config ch;
  ch.name = "managed";
  ch.type = channel_type::mock;
  ch.vendor = "mock";
  ch.models.push_back({"managed-model", "managed-model"});
  auto id = gw_->store()->call([&](store::connection& db) {
    store::channels repo(db, &sealer_);
    auto row = ok(repo.create(ch));
    gw_->srv().reload_from_store(db);
    return row.id;
  });
  auto served = chat(master, "managed-model");
  EXPECT_EQ(served.status, 200) << served.body;
  EXPECT_EQ(chat(master, "demo").status, 200);  // the config file's channels stay
  gw_->store()->call([&](store::connection& db) {
    store::channels repo(db, &sealer_);
    EXPECT_TRUE(ok(repo.remove(id)));
    gw_->srv().reload_from_store(db);
    return 0;
  });
  EXPECT_EQ(chat(master, "managed-model").status, 404);
}

std::string json_string(const std::string& body, const std::string& field) {
  auto at = body.find("\"" + field + "\":\"");
  if (at == std::string::npos) return "";
  at += field.size() + 4;
  return body.substr(at, body.find('"', at) - at);
}

TEST_F(accounts_test, the_admin_api_over_http) {
  start();
  http_client admin(gw_->port());
  auto as = [](const std::string& secret) {
    return std::map<std::string, std::string>{{"authorization", "Bearer " + secret}};
  };
  // A newcomer's first steps: a developer limited to two models, and a key for it.
  auto user =
      admin.request("POST", "/admin/users",
                    R"({"name":"dana","role":"developer","models":["demo","other"]})", as(master));
  ASSERT_EQ(user.status, 201) << user.body;
  auto user_id = json_string(user.body, "id");
  auto created =
      admin.request("POST", "/admin/keys",
                    R"({"name":"dana-laptop","user_id":")" + user_id + R"("})", as(master));
  ASSERT_EQ(created.status, 201) << created.body;
  auto secret = json_string(created.body, "key");
  ASSERT_EQ(secret.size(), 51u);
  // Usable at once: the change was loaded before the answer left.
  EXPECT_EQ(chat(secret, "demo").status, 200);
  EXPECT_EQ(chat(secret, "other").status, 200);
  EXPECT_EQ(chat(secret, "slow").status, 403);

  // The developer makes a key of its own, within its models; not beyond.
  http_client dev(gw_->port());
  auto own = dev.request("POST", "/admin/keys", R"({"name":"ci","models":["demo"]})", as(secret));
  ASSERT_EQ(own.status, 201) << own.body;
  EXPECT_EQ(chat(json_string(own.body, "key"), "demo").status, 200);
  auto beyond = dev.request("POST", "/admin/keys", R"({"name":"x","models":["slow"]})", as(secret));
  EXPECT_EQ(beyond.status, 403) << beyond.body;
  auto users = dev.request("POST", "/admin/users", R"({"name":"eve","role":"admin"})", as(secret));
  EXPECT_EQ(users.status, 403);
  EXPECT_NE(users.body.find(R"("code":"forbidden")"), std::string::npos) << users.body;

  // Rotation and revocation over HTTP take effect at once too.
  auto key_id = json_string(created.body, "id");
  auto rotated = admin.request("POST", "/admin/keys/" + key_id + "/rotate",
                               R"({"grace_seconds":0})", as(master));
  ASSERT_EQ(rotated.status, 200) << rotated.body;
  auto fresh = json_string(rotated.body, "key");
  EXPECT_EQ(chat(secret).status, 401);
  EXPECT_EQ(chat(fresh).status, 200);
  EXPECT_EQ(admin.request("DELETE", "/admin/keys/" + key_id, "", as(master)).status, 200);
  EXPECT_EQ(chat(fresh).status, 401);

  // Refusals are audited; only admins read the audit log.
  auto log = admin.request("GET", "/admin/audit", "", as(master));
  ASSERT_EQ(log.status, 200) << log.body;
  EXPECT_NE(log.body.find(R"("result":"denied")"), std::string::npos) << log.body;
  EXPECT_EQ(log.body.find(secret), std::string::npos);
  EXPECT_EQ(log.body.find(fresh), std::string::npos);

  // No key, an unknown key: 401 in the admin API's shape.
  http_client anon(gw_->port());
  auto none = anon.request("GET", "/admin/users");
  EXPECT_EQ(none.status, 401);
  EXPECT_NE(none.body.find(R"({"error":{"code":"unauthorized")"), std::string::npos) << none.body;
}

TEST(accounts_without_database, the_admin_api_answers_503) {
  gateway gw(R"(
database: none
master_key: sk-master-0123456789
channels:
  - name: mock
    type: mock
    models: [ demo ]
)");
  http_client c(gw.port());
  auto r = c.request("GET", "/admin/users", "", {{"authorization", "Bearer " + master}});
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("no_database"), std::string::npos);
}

TEST_F(accounts_test, a_keep_alive_connection_follows_snapshot_swaps) {
  start();
  auto k = key({.name = "kept"});
  http_client c(gw_->port());
  // Snapshots come and go while the connection stays: its cached key must never outlive the
  // snapshot it points into (a freed snapshot's memory may hold the next one).
  for (int i = 0; i < 30; ++i) {
    change([&](store::accounts& a) {
      return ok(a.create_user({.name = "churn" + std::to_string(i), .role = "viewer"}));
    });
    ASSERT_EQ(c.post("/v1/chat/completions", chat_body("demo"), k.secret).status, 200) << i;
    auto users =
        c.request("GET", "/admin/users?limit=1", "", {{"authorization", "Bearer " + master}});
    ASSERT_EQ(users.status, 200) << users.body;
  }
  change([&](store::accounts& a) { return ok(a.revoke_key(k.row.id)); });
  EXPECT_EQ(c.post("/v1/chat/completions", chat_body("demo"), k.secret).status, 401);
}

TEST_F(accounts_test, the_admin_api_reads_the_callers_role_from_the_store) {
  start();
  auto boss = user("admin");
  auto k = key({.name = "boss", .user_id = boss.id});
  http_client c(gw_->port());
  auto as = std::map<std::string, std::string>{{"authorization", "Bearer " + k.secret}};
  EXPECT_EQ(c.request("GET", "/admin/users", "", as).status, 200);
  // Demoted behind the gateway's back (no revision bump, no reload): the key table still says
  // admin, the store does not.
  auto db = std::get<std::unique_ptr<store::connection>>(
      store::open("sqlite:" + (dir_.path / "sy.db").string()));
  ASSERT_TRUE(std::holds_alternative<std::vector<store::row>>(
      db->query("UPDATE users SET role = 'viewer' WHERE id = $1", {boss.id})));
  auto refused = c.request("POST", "/admin/users", R"({"name":"x","role":"admin"})", as);
  EXPECT_EQ(refused.status, 403) << refused.body;
  ASSERT_TRUE(std::holds_alternative<std::vector<store::row>>(
      db->query("UPDATE users SET enabled = 0 WHERE id = $1", {boss.id})));
  EXPECT_EQ(c.request("GET", "/admin/users", "", as).status, 401);
}

TEST_F(accounts_test, a_passthrough_stream_is_charged_its_real_usage_without_showing_it) {
  // An OpenAI upstream that reports usage only when asked, as OpenAI does.
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    const bool asked = r.body.find(R"("include_usage":true)") != std::string::npos;
    const std::string usage_null = asked ? R"(,"usage":null)" : "";
    out.start(200, "text/event-stream");
    out.chunk(R"(data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,)"
              R"("delta":{"content":"Hi"},"finish_reason":null}])" +
              usage_null + "}\n\n");
    if (asked) {
      out.chunk(R"(data: {"id":"c","object":"chat.completion.chunk","choices":[],)"
                R"("usage":{"prompt_tokens":10,"completion_tokens":290,"total_tokens":300}})"
                "\n\n");
    }
    out.chunk("data: [DONE]\n\n");
    out.end();
  });
  gw_ = std::make_unique<gateway>("database: sqlite:" + (dir_.path / "sy.db").string() + R"(
channels:
  - name: up
    type: openai
    base_url: )" + up.url() + R"(
    api_keys: [ "sk-upstream" ]
    models: [ gpt-test ]
)",
                                  &sealer_);
  auto k = key({.name = "tpm", .tpm = 300});
  http_client c(gw_->port());
  auto first = c.post("/v1/chat/completions", chat_body("gpt-test", true), k.secret);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.body.find("usage"), std::string::npos) << first.body;  // not asked, not shown
  EXPECT_NE(first.body.find(R"("content":"Hi")"), std::string::npos);
  EXPECT_NE(first.body.find("data: [DONE]"), std::string::npos);
  auto sent = up.requests();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_NE(sent[0].body.find(R"("stream_options":{"include_usage":true})"), std::string::npos);
  // The 300 tokens it used were charged, not the ~25 estimated: the bucket is empty.
  auto second = c.post("/v1/chat/completions", chat_body("gpt-test", true), k.secret);
  EXPECT_EQ(second.status, 429) << second.body;
  // A client that asks for usage gets it, and its own stream_options travel as they are.
  auto other = key({.name = "asks"});
  const std::string asks =
      R"({"model":"gpt-test","stream":true,"stream_options":{"include_usage":true},)"
      R"("messages":[{"role":"user","content":"Hi"}]})";
  auto shown = c.post("/v1/chat/completions", asks, other.secret);
  ASSERT_EQ(shown.status, 200);
  EXPECT_NE(shown.body.find(R"("completion_tokens":290)"), std::string::npos) << shown.body;
  EXPECT_EQ(up.requests().back().body, asks);
}

TEST_F(accounts_test, refused_models_cost_no_rate_limit) {
  start();
  auto k = key({.name = "rpm", .models = {"demo"}, .rpm = 2});
  EXPECT_EQ(chat(k.secret, "other").status, 403);
  EXPECT_EQ(chat(k.secret, "other").status, 403);
  EXPECT_EQ(chat(k.secret, "nonexistent").status, 403);
  EXPECT_EQ(chat(k.secret, "demo").status, 200);
  EXPECT_EQ(chat(k.secret, "demo").status, 200);
  EXPECT_EQ(chat(k.secret, "demo").status, 429);
}

TEST_F(accounts_test, signed_timestamps_may_carry_a_fraction) {
  start();
  auto k = key({.name = "signed"});
  const std::string secret = "another-signing-secret-0123456789";
  change([&](store::accounts& a) {
    return ok(a.update_key(
        k.row.id, {.signing_secret = std::optional<std::string>(sealer_.seal(secret, k.row.id))}));
  });
  const auto body = chat_body("demo");
  const auto now = std::to_string(unix_now());
  // The same request twice in one second: two fractions, two signatures, both accepted.
  for (const char* fraction : {".001", ".002"}) {
    auto ts = now + fraction;
    auto r = chat(k.secret, "demo",
                  {{"x-sy-timestamp", ts},
                   {"x-sy-signature", sign(secret, ts, "POST", "/v1/chat/completions", body)}});
    EXPECT_EQ(r.status, 200) << r.body;
  }
  const std::vector<std::string> bad_stamps{now + ".", now + ".1234567", "1e9", "-" + now,
                                            now + "x"};
  for (const auto& bad : bad_stamps) {
    auto r = chat(k.secret, "demo",
                  {{"x-sy-timestamp", bad},
                   {"x-sy-signature", sign(secret, bad, "POST", "/v1/chat/completions", body)}});
    EXPECT_EQ(r.status, 401) << bad;
  }
}

TEST_F(accounts_test, the_database_holds_no_gateway_key_in_clear) {
  start();
  auto k = key({.name = "secret-check"});
  auto rotated = change([&](store::accounts& a) { return *ok(a.rotate_key(k.row.id, 60)); });
  EXPECT_EQ(chat(rotated).status, 200);
  gw_.reset();  // closes the database
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path)) {
    std::ifstream in(entry.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(k.secret), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(rotated), std::string::npos) << entry.path();
    EXPECT_EQ(bytes.find(k.secret.substr(7)), std::string::npos) << entry.path();
  }
}

}  // namespace
}  // namespace sy::test
