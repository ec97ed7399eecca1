// Hedging (issue 6): when the first attempt has no first byte within the group's `after`, the
// same request starts on a second deployment; the first answer is kept, the other dropped, and
// only one answer ever reaches the client.
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <vector>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
const std::string key = "sk-test-0123456789";
const std::string slow_body = completion_json("gpt-slow", "from the slow one");
const std::string fast_body = completion_json("gpt-fast", "from the fast one");

std::string config(const fake_upstream& slow, const fake_upstream& fast, const std::string& hedge,
                   const std::string& strategy = "round_robin") {
  return R"(
channels:
  - { name: slow, type: openai, base_url: ")" +
         slow.url() + R"(", api_keys: [ sk-slow ] }
  - { name: fast, type: openai, base_url: ")" +
         fast.url() + R"(", api_keys: [ sk-fast ] }
models:
  gpt:
    strategy: )" +
         strategy + R"(
    deployments: [ { channel: slow, model: gpt-slow }, { channel: fast, model: gpt-fast } ]
    hedge: )" +
         hedge +
         R"(
keys:
  - { name: app, key: )" +
         key + R"( }
)";
}

TEST(hedging, a_slow_first_attempt_is_overtaken_and_dropped) {
  fault_plan slow_plan(fault::slow(3s, slow_body));
  fault_plan fast_plan(fault::ok(fast_body));
  fake_upstream slow(slow_plan.handler());
  fake_upstream fast(fast_plan.handler());
  gateway gw(config(slow, fast, "{ after_ms: 100 }"));
  http_client client(gw.port());
  // round_robin: the first request goes to the slow deployment first.
  const auto start = std::chrono::steady_clock::now();
  auto res = client.post("/v1/chat/completions", chat_body("gpt"), key);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, fast_body);  // one answer, the fast one's, whole
  EXPECT_EQ(res.header("x-sy-deployment"), "fast/gpt-fast");
  EXPECT_EQ(res.header("x-sy-attempts"), "2");
  EXPECT_LT(took, 2500ms);  // not the slow one's 3 s (a loose bound: machines are noisy)
  // The slow attempt was dropped: its connection closed before it answered.
  EXPECT_TRUE(slow.wait_closed(1, 5s));
  EXPECT_EQ(slow_plan.served(), 1);
  EXPECT_EQ(fast_plan.served(), 1);
  // The connection to the client is fine for the next request (round_robin: fast first now).
  auto next = client.post("/v1/chat/completions", chat_body("gpt"), key);
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, fast_body);
  EXPECT_EQ(next.header("x-sy-attempts"), "1");
}

TEST(hedging, a_first_attempt_that_answers_in_time_is_not_hedged) {
  fault_plan slow_plan(fault::ok(slow_body));  // not slow at all
  fault_plan fast_plan(fault::ok(fast_body));
  fake_upstream slow(slow_plan.handler());
  fake_upstream fast(fast_plan.handler());
  gateway gw(config(slow, fast, "{ after_ms: 2000 }"));
  http_client client(gw.port());
  for (int i = 0; i < 6; ++i) {
    auto res = client.post("/v1/chat/completions", chat_body("gpt"), key);
    ASSERT_EQ(res.status, 200);
    EXPECT_EQ(res.header("x-sy-attempts"), "1");
  }
  EXPECT_EQ(slow_plan.served(), 3);
  EXPECT_EQ(fast_plan.served(), 3);
}

TEST(hedging, the_first_attempt_wins_when_the_hedge_is_slower) {
  // The first attempt is late (past `after`) but still sooner than the hedge.
  fault_plan slow_plan(fault::slow(300ms, slow_body));
  fault_plan fast_plan(fault::slow(3s, fast_body));
  fake_upstream slow(slow_plan.handler());
  fake_upstream fast(fast_plan.handler());
  gateway gw(config(slow, fast, "{ after_ms: 50 }"));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt"), key);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, slow_body);
  EXPECT_EQ(res.header("x-sy-deployment"), "slow/gpt-slow");
  EXPECT_EQ(res.header("x-sy-attempts"), "2");
  EXPECT_TRUE(fast.wait_closed(1, 5s));  // the hedge was dropped
}

TEST(hedging, a_streamed_answer_is_hedged_too_and_never_doubled) {
  fault_plan slow_plan(fault::slow(3s, slow_body));
  fault_plan fast_plan(
      fault::stream({chunk_event("fast-"), chunk_event("stream", "stop"), "data: [DONE]\n\n"}));
  fake_upstream slow(slow_plan.handler());
  fake_upstream fast(fast_plan.handler());
  gateway gw(config(slow, fast, "{ after_ms: 100 }"));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt", true), key);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_NE(res.body.find("fast-"), std::string::npos) << res.body;
  EXPECT_EQ(res.body.find("from the slow one"), std::string::npos);
  std::size_t done = 0;
  for (auto at = res.body.find("[DONE]"); at != std::string::npos;
       at = res.body.find("[DONE]", at + 1))
    ++done;
  EXPECT_EQ(done, 1u);
}

// With hedging after the p95 time to first byte, a deployment that is slow now and then no
// longer sets the tail: the slowest answers come from the hedge.
TEST(hedging, p95_hedging_cuts_the_tail) {
  std::atomic<int> n{0};
  fault_plan slow_plan(fault::ok(slow_body));
  slow_plan.rule([&](const fake_request&) -> std::optional<fault> {
    // One request in thirty stalls for 2 s (under 5 %: the p95 stays fast); the others answer
    // at once.
    if (n.fetch_add(1) % 30 == 29) return fault::slow(2s, slow_body);
    return fault::ok(slow_body);
  });
  fault_plan fast_plan(fault::slow(20ms, fast_body));
  fake_upstream slow(slow_plan.handler());
  fake_upstream fast(fast_plan.handler());
  // Weighted 1000:1, so nearly every first attempt goes to `slow`.
  gateway gw(R"(
channels:
  - { name: slow, type: openai, base_url: ")" +
             slow.url() + R"(", api_keys: [ sk-slow ] }
  - { name: fast, type: openai, base_url: ")" +
             fast.url() + R"(", api_keys: [ sk-fast ] }
models:
  gpt:
    deployments: [ { channel: slow, model: gpt-slow, weight: 1000 },
                   { channel: fast, model: gpt-fast, weight: 1 } ]
    hedge: { after: p95, min_samples: 10, min_after_ms: 20 }
routing: { breaker: { consecutive_failures: 1000, min_requests: 100000 } }
keys:
  - { name: app, key: )" +
             key + R"( }
)");
  http_client client(gw.port());
  std::vector<std::chrono::milliseconds> times;
  for (int i = 0; i < 60; ++i) {
    const auto start = std::chrono::steady_clock::now();
    auto res = client.post("/v1/chat/completions", chat_body("gpt"), key);
    ASSERT_EQ(res.status, 200) << res.body;
    times.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start));
  }
  // Both stalls (requests 30 and 60) were overtaken by the hedge: no answer took the 2 s.
  EXPECT_LT(*std::max_element(times.begin(), times.end()), 1500ms);
  EXPECT_GE(fast_plan.served(), 2);
}

}  // namespace
}  // namespace sy::test
