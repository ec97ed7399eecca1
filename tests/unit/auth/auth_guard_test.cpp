// Failed authentications per client: delays that grow, then a block; /64s for IPv6; bounded
// memory; thread safety. Time is passed in: no test sleeps.
#include "auth/auth_guard.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
namespace ip = boost::asio::ip;

const steady::time_point t0 = steady::time_point{} + 1000h;

ip::address addr(const char* text) {
  return ip::make_address(text);
}

TEST(auth_guard, delays_grow_then_the_client_is_blocked) {
  auth_guard guard;
  auto client = addr("203.0.113.7");
  EXPECT_FALSE(guard.check(client, t0).blocked);
  // Failures 1..20 at once: no delay for 5, then 250 ms doubling to the 2 s cap; the 20th blocks.
  const long want[] = {0,    0,    0,    0,    0,    250,  500,  1000, 2000, 2000,
                       2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000, 2000};
  for (int i = 0; i < 20; ++i) {
    auto r = guard.failure(client, t0);
    EXPECT_EQ(r.delay.count(), want[i]) << "failure " << i + 1;
    EXPECT_EQ(r.blocked, i == 19) << "failure " << i + 1;
    EXPECT_EQ(r.block_started, i == 19) << "failure " << i + 1;
  }
  auto v = guard.check(client, t0);
  EXPECT_TRUE(v.blocked);
  EXPECT_EQ(v.retry_after, 300s);
  EXPECT_EQ(guard.check(client, t0 + 1800ms).retry_after, 299s);  // rounded up
  EXPECT_EQ(guard.check(client, t0 + 299500ms).retry_after, 1s);

  // Failures while blocked are not counted, get no delay, and do not extend the block.
  auto during = guard.failure(client, t0 + 10s);
  EXPECT_TRUE(during.blocked);
  EXPECT_FALSE(during.block_started);
  EXPECT_EQ(during.delay, 0ms);
  EXPECT_TRUE(guard.check(client, t0 + 299999ms).blocked);

  // The block ends, and the count starts again.
  EXPECT_FALSE(guard.check(client, t0 + 300s).blocked);
  EXPECT_EQ(guard.failure(client, t0 + 300s).delay, 0ms);
  EXPECT_FALSE(guard.check(client, t0 + 300s).blocked);
}

TEST(auth_guard, block_also_ends_when_the_next_event_is_a_failure) {
  auth_guard guard({.block_after = 3, .block_for = 10s});
  auto client = addr("198.51.100.9");
  for (int i = 0; i < 3; ++i)
    guard.failure(client, t0);
  EXPECT_TRUE(guard.check(client, t0 + 9s).blocked);
  auto r = guard.failure(client, t0 + 10s);
  EXPECT_FALSE(r.blocked);
  EXPECT_EQ(r.delay, 0ms);
  EXPECT_FALSE(guard.check(client, t0 + 10s).blocked);
  guard.failure(client, t0 + 10s);
  EXPECT_TRUE(guard.failure(client, t0 + 10s).block_started);
}

TEST(auth_guard, checks_do_not_reset_the_count) {
  // The gateway calls check() before every authentication, successful ones included.
  auth_guard guard;
  auto client = addr("192.0.2.44");
  for (int i = 0; i < 5; ++i)
    guard.failure(client, t0);
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(guard.check(client, t0 + 1s).blocked);
  EXPECT_EQ(guard.failure(client, t0 + 1s).delay, 250ms);
}

TEST(auth_guard, sliding_window) {
  auth_guard guard;
  auto client = addr("192.0.2.1");
  guard.failure(client, t0);  // opens the window [t0, t0 + 60 s)
  for (int i = 0; i < 9; ++i)
    guard.failure(client, t0 + 59s);
  // Half-way through the next window, half of the previous 10 still count: 5 + 1.
  EXPECT_EQ(guard.failure(client, t0 + 90s).delay, 250ms);
  EXPECT_EQ(guard.failure(client, t0 + 90s).delay, 500ms);  // 5 + 2
  // At t0 + 119 s, 10 * 1/60 of the previous window rounds down to 0: 3 failures.
  EXPECT_EQ(guard.failure(client, t0 + 119s).delay, 0ms);
  // Two windows of silence forget everything.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(guard.failure(client, t0 + 300s).delay, 0ms);
  EXPECT_EQ(guard.failure(client, t0 + 300s).delay, 250ms);
}

TEST(auth_guard, burst_across_a_window_boundary_is_seen) {
  auth_guard guard;
  auto client = addr("192.0.2.2");
  guard.failure(client, t0);
  for (int i = 0; i < 18; ++i)
    EXPECT_FALSE(guard.failure(client, t0 + 59900ms).blocked);
  // 0.1 s into the next window: 19 * 59.9 / 60 = 18.97 -> 18 of the previous ones count.
  EXPECT_FALSE(guard.failure(client, t0 + 60100ms).blocked);  // 1 + 18
  auto r = guard.failure(client, t0 + 60100ms);               // 2 + 18
  EXPECT_TRUE(r.blocked);
  EXPECT_TRUE(r.block_started);
}

TEST(auth_guard, ipv6_clients_are_tracked_per_64) {
  auth_guard guard;
  for (int i = 0; i < 3; ++i)
    guard.failure(addr("2001:db8::1"), t0);
  for (int i = 0; i < 2; ++i)
    guard.failure(addr("2001:db8::ffff:2"), t0);
  EXPECT_EQ(guard.failure(addr("2001:db8:0:0:abcd::9"), t0).delay, 250ms);  // 6th of the /64
  EXPECT_EQ(guard.failure(addr("2001:db8::1"), t0).delay, 500ms);           // 7th
  EXPECT_EQ(guard.failure(addr("2001:db8:0:1::1"), t0).delay, 0ms);         // another /64
  EXPECT_EQ(guard.tracked(), 2u);
}

TEST(auth_guard, ipv4_mapped_clients_are_ipv4) {
  auth_guard guard;
  for (int i = 0; i < 3; ++i)
    guard.failure(addr("198.51.100.1"), t0);
  for (int i = 0; i < 2; ++i)
    guard.failure(addr("::ffff:198.51.100.1"), t0);
  EXPECT_EQ(guard.failure(addr("::ffff:198.51.100.1"), t0).delay, 250ms);
  EXPECT_EQ(guard.tracked(), 1u);
  // ::c633:6401 (the same 32 bits, not mapped) is an IPv6 client of its own.
  EXPECT_EQ(guard.failure(addr("::c633:6401"), t0).delay, 0ms);
  EXPECT_EQ(guard.tracked(), 2u);
}

TEST(auth_guard, forgets_the_least_recent_client_when_full) {
  auth_guard guard({.max_tracked = 3});
  auto a = addr("10.0.0.1"), b = addr("10.0.0.2"), c = addr("10.0.0.3"), d = addr("10.0.0.4");
  for (int i = 0; i < 6; ++i)
    guard.failure(a, t0);
  guard.failure(b, t0 + 1s);
  guard.failure(c, t0 + 2s);
  EXPECT_EQ(guard.failure(a, t0 + 3s).delay, 500ms);  // a's 7th: a is the most recent now
  guard.failure(d, t0 + 4s);                          // b goes
  EXPECT_EQ(guard.tracked(), 3u);
  EXPECT_EQ(guard.failure(a, t0 + 5s).delay, 1000ms);  // a's 8th: still there
  for (int i = 0; i < 5; ++i)
    guard.failure(b, t0 + 6s);
  EXPECT_EQ(guard.failure(b, t0 + 6s).delay, 250ms);  // b started over: 6th, not 7th
  EXPECT_EQ(guard.tracked(), 3u);
}

TEST(auth_guard, a_forgotten_blocked_client_is_unblocked) {
  auth_guard guard({.block_after = 2, .max_tracked = 2});
  auto a = addr("10.0.0.1");
  guard.failure(a, t0);
  EXPECT_TRUE(guard.failure(a, t0).blocked);
  EXPECT_TRUE(guard.check(a, t0).blocked);
  guard.failure(addr("10.0.0.2"), t0);
  guard.failure(addr("10.0.0.3"), t0);
  EXPECT_FALSE(guard.check(a, t0).blocked);
  EXPECT_EQ(guard.tracked(), 2u);
}

TEST(auth_guard, concurrent_failures_block_once) {
  auth_guard guard;
  auto shared = addr("192.0.2.200");
  std::atomic<int> started{0}, blocked_answers{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        auto r = guard.failure(shared, t0);
        if (r.block_started) started.fetch_add(1);
        if (r.blocked) blocked_answers.fetch_add(1);
        auto own =
            ip::address_v4(0x0a000000u | static_cast<unsigned>(t) << 16 | static_cast<unsigned>(i));
        guard.failure(own, t0);
        guard.check(own, t0);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(started.load(), 1);
  // The 20th failure blocks; the 380 after it find the client blocked.
  EXPECT_EQ(blocked_answers.load(), 400 - 19);
  EXPECT_TRUE(guard.check(shared, t0).blocked);
  EXPECT_EQ(guard.tracked(), 1u + 8 * 50);
}

}  // namespace
}  // namespace sy::test
