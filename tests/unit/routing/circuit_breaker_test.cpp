#include "routing/circuit_breaker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sy::routing {
namespace {

using namespace std::chrono_literals;

const steady::time_point t0 = steady::time_point{} + 1000h;

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresAndRecoversThroughOneProbe) {
  circuit_breaker b;  // 5 in a row, 5 s cooldown
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(b.allow(t0));
    b.record(outcome::failure, t0);
  }
  EXPECT_EQ(b.state(t0).state, breaker_state::closed);
  b.record(outcome::failure, t0);
  auto v = b.state(t0);
  EXPECT_EQ(v.state, breaker_state::open);
  EXPECT_EQ(v.reason, "5 consecutive failures");
  EXPECT_FALSE(b.allow(t0 + 4999ms));
  // The cooldown over: exactly one probe.
  EXPECT_TRUE(b.allow(t0 + 5s));
  EXPECT_FALSE(b.allow(t0 + 5s));
  EXPECT_FALSE(b.allow(t0 + 6s));
  b.record(outcome::success, t0 + 6s);
  v = b.state(t0 + 6s);
  EXPECT_EQ(v.state, breaker_state::closed);
  EXPECT_EQ(v.reason, "");
  EXPECT_EQ(v.window_requests, 0);  // the failures that opened it are history
  EXPECT_TRUE(b.allow(t0 + 6s));
}

TEST(CircuitBreaker, AFailedProbeDoublesTheCooldownUpToTheMaximumAndASuccessResetsIt) {
  breaker_options o;
  o.consecutive_failures = 1;
  o.cooldown = 1s;
  o.max_cooldown = 4s;
  circuit_breaker b(o);
  b.record(outcome::failure, t0);
  auto now = t0;
  for (auto expected : {2s, 4s, 4s}) {
    now += b.state(now).open_for;
    ASSERT_TRUE(b.allow(now));
    b.record(outcome::failure, now);
    EXPECT_EQ(b.state(now).cooldown, expected);
    EXPECT_EQ(b.state(now).open_for, expected);
  }
  now += 4s;
  ASSERT_TRUE(b.allow(now));
  b.record(outcome::success, now);
  EXPECT_EQ(b.state(now).cooldown, 1s);
  b.record(outcome::failure, now);
  EXPECT_EQ(b.state(now).open_for, 1s);  // short again after a recovery
}

TEST(CircuitBreaker, OpensOnTheErrorRateOverTheWindowOnly) {
  circuit_breaker b;  // 10 requests at 50 % in 30 s
  // 4 failures among 9: too few requests for the rate rule, and never 5 in a row.
  for (int i = 0; i < 9; ++i)
    b.record(i % 2 ? outcome::failure : outcome::success, t0);
  EXPECT_EQ(b.state(t0).state, breaker_state::closed);
  b.record(outcome::failure, t0 + 1s);  // 5 of 10
  auto v = b.state(t0 + 1s);
  EXPECT_EQ(v.state, breaker_state::open);
  EXPECT_EQ(v.reason, "5 of the last 10 requests failed");
  // Outcomes older than the window do not count.
  circuit_breaker c;
  for (int i = 0; i < 9; ++i)
    c.record(i % 2 ? outcome::failure : outcome::success, t0);
  c.record(outcome::failure, t0 + 31s);
  EXPECT_EQ(c.state(t0 + 31s).state, breaker_state::closed);
  EXPECT_EQ(c.state(t0 + 31s).window_requests, 1);
}

TEST(CircuitBreaker, A429CoolsDownWithoutBreaking) {
  circuit_breaker b;
  b.record(outcome::rate_limited, t0, 2s);
  EXPECT_FALSE(b.allow(t0 + 1s));
  auto v = b.state(t0 + 1s);
  EXPECT_EQ(v.state, breaker_state::closed);
  EXPECT_EQ(v.cooling_for, 1s);
  EXPECT_EQ(v.window_failures, 0);
  EXPECT_EQ(v.reason, "rate limited (429): cooling down");
  EXPECT_TRUE(b.allow(t0 + 2s));
  // Without retry-after: the default rest. A storm of them never opens the circuit.
  for (int i = 0; i < 50; ++i)
    b.record(outcome::rate_limited, t0 + 3s);
  EXPECT_FALSE(b.allow(t0 + 12s));
  EXPECT_TRUE(b.allow(t0 + 13s));
  EXPECT_EQ(b.state(t0 + 13s).state, breaker_state::closed);
}

TEST(CircuitBreaker, RejectedCredentialsDisableUntilEnabled) {
  circuit_breaker b;
  b.record(outcome::rejected, t0);
  EXPECT_FALSE(b.allow(t0 + 1h));
  EXPECT_TRUE(b.state(t0).disabled);
  EXPECT_NE(b.state(t0).reason.find("401/403"), std::string::npos);
  b.enable();
  EXPECT_TRUE(b.allow(t0 + 1h));
  EXPECT_EQ(b.state(t0).reason, "");
}

TEST(CircuitBreaker, AProbeThatNeverReportsIsGivenUpAfterACooldown) {
  breaker_options o;
  o.consecutive_failures = 1;
  circuit_breaker b(o);
  b.record(outcome::failure, t0);
  ASSERT_TRUE(b.allow(t0 + 5s));  // the probe, never reported (its request was cancelled)
  EXPECT_FALSE(b.allow(t0 + 9s));
  EXPECT_TRUE(b.allow(t0 + 10s));  // another probe
}

TEST(CircuitBreaker, OneProbeAmongManyThreads) {
  breaker_options o;
  o.consecutive_failures = 1;
  circuit_breaker b(o);
  b.record(outcome::failure, t0);
  std::atomic<int> allowed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 1000; ++j)
        if (b.allow(t0 + 6s)) ++allowed;
    });
  }
  for (auto& t : threads)
    t.join();
  EXPECT_EQ(allowed.load(), 1);
}

}  // namespace
}  // namespace sy::routing
