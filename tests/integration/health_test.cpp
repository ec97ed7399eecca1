// GET /admin/health and POST /admin/health/reset on the real gateway with a SQLite store: an
// upstream key refused with 401 is disabled (audited), the other key takes the traffic, the
// report says why, and a reset brings the key back.
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <unistd.h>
#include <atomic>
#include <filesystem>

namespace sy::test {
namespace {

const std::string master = "sk-master-0123456789";
const std::string key = "sk-app-0123456789";

struct temp_folder {
  std::filesystem::path path;
  temp_folder() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sy-health-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~temp_folder() { std::filesystem::remove_all(path); }
};

std::map<std::string, std::string> as(const std::string& secret) {
  return {{"authorization", "Bearer " + secret}};
}

TEST(admin_health, a_refused_key_is_disabled_reported_and_reset) {
  std::atomic<bool> refuse_a{true};
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    auto auth = r.headers.count("authorization") ? r.headers.at("authorization") : "";
    if (auth == "Bearer sk-upstream-a" && refuse_a) {
      out.send(
          401,
          R"({"error":{"message":"Incorrect API key provided","type":"invalid_request_error","code":"invalid_api_key"}})");
      return;
    }
    out.send(200, completion_json("gpt-test", "ok " + auth.substr(auth.size() - 1)));
  });
  temp_folder dir;
  gateway gw("database: sqlite:" + (dir.path / "sy.db").string() + "\nmaster_key: " + master +
             R"(
channels:
  - name: up
    type: openai
    base_url: )" +
             up.url() + R"(
    api_keys: [ "sk-upstream-a", "sk-upstream-b" ]
models:
  smart:
    deployments: [ { channel: up, model: gpt-test } ]
keys:
  - { name: app, key: )" +
             key + R"( }
)");
  http_client client(gw.port());
  // Every request succeeds: the refused key's request moves on to the other key.
  for (int i = 0; i < 6; ++i) {
    auto res = client.post("/v1/chat/completions", chat_body("smart"), key);
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(res.header("x-sy-deployment"), "up/gpt-test");
  }
  // Key a was asked once, then disabled.
  int asked_a = 0;
  for (const auto& r : up.requests())
    asked_a += r.headers.at("authorization") == "Bearer sk-upstream-a";
  EXPECT_EQ(asked_a, 1);

  http_client admin(gw.port());
  auto health = admin.request("GET", "/admin/health", "", as(master));
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_NE(health.body.find(R"("state":"disabled")"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find("refused the credentials"), std::string::npos) << health.body;
  EXPECT_NE(health.body.find(R"("name":"smart")"), std::string::npos) << health.body;
  EXPECT_EQ(health.body.find("sk-upstream"), std::string::npos);  // never a key
  // The application key may not read it.
  EXPECT_EQ(admin.request("GET", "/admin/health", "", as(key)).status, 403);

  // The disabling is audited (fire-and-forget on the store thread: polled).
  bool audited = false;
  for (int i = 0; i < 100 && !audited; ++i) {
    auto audit = admin.request("GET", "/admin/audit", "", as(master));
    audited = audit.body.find("upstream_key.disabled") != std::string::npos;
    if (!audited) usleep(20000);
  }
  EXPECT_TRUE(audited);

  // Reset: the key is used again. The disabled key's id is the one whose object says so (an
  // object starts with its id).
  std::string id_a;
  for (std::size_t p = health.body.find(R"("id":"key:up#)"); p != std::string::npos;
       p = health.body.find(R"("id":"key:up#)", p + 1)) {
    auto start = p + 6;
    auto id = health.body.substr(start, health.body.find('"', start) - start);
    auto object = health.body.substr(p, health.body.find(R"("id":)", p + 1) - p);
    if (object.find(R"("state":"disabled")") != std::string::npos) id_a = id;
  }
  ASSERT_FALSE(id_a.empty()) << health.body;
  EXPECT_EQ(admin.request("POST", "/admin/health/reset", R"({"target":"key:up#nope"})", as(master))
                .status,
            404);
  EXPECT_EQ(admin.request("POST", "/admin/health/reset", R"({"tar":"x"})", as(master)).status, 400);
  refuse_a = false;
  auto reset =
      admin.request("POST", "/admin/health/reset", R"({"target":")" + id_a + R"("})", as(master));
  ASSERT_EQ(reset.status, 200) << reset.body;
  const auto before = up.requests().size();
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(client.post("/v1/chat/completions", chat_body("smart"), key).status, 200);
  int asked_a_after = 0;
  auto reqs = up.requests();
  for (std::size_t i = before; i < reqs.size(); ++i)
    asked_a_after += reqs[i].headers.at("authorization") == "Bearer sk-upstream-a";
  EXPECT_GE(asked_a_after, 1);
}

// A failing model opens its deployment's circuit, not its upstream key's: the channel's other
// models keep being served with the same key.
TEST(admin_health, one_failing_model_does_not_shut_the_key_off_for_the_others) {
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    if (r.body.find("\"m1\"") != std::string::npos) {
      out.send(503, R"({"error":{"message":"down","type":"server_error"}})");
      return;
    }
    out.send(200, completion_json("m2", "fine"));
  });
  gateway gw(R"(
database: none
channels:
  - name: shared
    type: openai
    base_url: )" +
             up.url() + R"(
    api_keys: [ "sk-upstream-only" ]
    models: [ m1, m2 ]
routing: { retries: 0, breaker: { consecutive_failures: 2, cooldown_ms: 60000 } }
keys:
  - { name: app, key: )" +
             key + R"( }
)");
  http_client client(gw.port());
  for (int i = 0; i < 4; ++i)
    EXPECT_NE(client.post("/v1/chat/completions", chat_body("m1"), key).status, 200);
  // m1's circuit is open now: refused without asking the upstream.
  EXPECT_EQ(client.post("/v1/chat/completions", chat_body("m1"), key).status, 503);
  for (int i = 0; i < 3; ++i) {
    auto res = client.post("/v1/chat/completions", chat_body("m2"), key);
    EXPECT_EQ(res.status, 200) << res.body;
  }
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

// Active probes: a deployment whose circuit opened is tested by the gateway itself once its
// cooldown ended; when the upstream is back, a probe closes the circuit, and no user request was
// spent finding out.
TEST(active_probes, a_recovered_upstream_is_found_without_a_user_request) {
  std::atomic<bool> down{true};
  std::atomic<int> probes_down{0}, probes_up{0}, users{0};
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    const bool probe = r.body.find(R"("content":"ping")") != std::string::npos &&
                       r.body.find(R"("max_tokens":1)") != std::string::npos;
    if (!probe) ++users;
    if (down) {
      if (probe) ++probes_down;
      out.send(503, R"({"error":{"message":"down","type":"server_error"}})");
      return;
    }
    if (probe) ++probes_up;
    out.send(200, completion_json("m", "fine"));
  });
  gateway gw(R"(
database: none
channels:
  - name: p
    type: openai
    base_url: )" +
             up.url() +
             R"(
    api_keys: [ "sk-upstream-p" ]
    models: [ m ]
    probe: { interval_ms: 100 }
routing: { retries: 0, breaker: { consecutive_failures: 2, cooldown_ms: 200 } }
keys:
  - { name: app, key: )" +
             key + R"( }
)");
  http_client client(gw.port());
  for (int i = 0; i < 2; ++i)
    EXPECT_EQ(client.post("/v1/chat/completions", chat_body("m"), key).status, 503);
  // Open: a probe goes once the cooldown ended, fails, and the circuit opens again.
  for (int i = 0; i < 300 && probes_down.load() < 1; ++i)
    usleep(10000);
  ASSERT_GE(probes_down.load(), 1);
  down = false;
  // Back up: the next probe succeeds and closes the circuit.
  for (int i = 0; i < 500 && probes_up.load() < 1; ++i)
    usleep(10000);
  ASSERT_GE(probes_up.load(), 1);
  usleep(100000);  // the probe's outcome is recorded after its answer is read
  auto res = client.post("/v1/chat/completions", chat_body("m"), key);
  EXPECT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(users.load(), 3);  // the two failures and this one: no user request probed
}

}  // namespace
}  // namespace sy::test
