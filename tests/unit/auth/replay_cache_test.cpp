// The replay guard of signed requests: once per (key, signature) within the window, refusal
// outside it, expiry, bounded memory, thread safety. Times are plain unix seconds: no sleeping.
#include "auth/replay_cache.h"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
using verdict = replay_cache::verdict;

std::string hex_le(const std::array<std::uint64_t, 2>& words) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (auto w : words) {
    for (int i = 0; i < 8; ++i, w >>= 8) {
      out += digits[(w >> 4) & 15];
      out += digits[w & 15];
    }
  }
  return out;
}

// The reference implementation's test vectors (vectors_sip128): key 00..0f, message 00..n-1.
TEST(siphash128, reference_vectors) {
  unsigned char msg[64];
  for (int i = 0; i < 64; ++i)
    msg[i] = static_cast<unsigned char>(i);
  const std::uint64_t k0 = 0x0706050403020100ull, k1 = 0x0f0e0d0c0b0a0908ull;
  EXPECT_EQ(hex_le(detail::siphash128(k0, k1, msg, 0)), "a3817f04ba25a8e66df67214c7550293");
  EXPECT_EQ(hex_le(detail::siphash128(k0, k1, msg, 1)), "da87c1d86b99af44347659119b22fc45");
  EXPECT_EQ(hex_le(detail::siphash128(k0, k1, msg, 15)), "5493e99933b0a8117e08ec0f97cfc3d9");
  EXPECT_EQ(hex_le(detail::siphash128(k0, k1, msg, 63)), "5150d1772f50834a503e069a973fbd7c");
}

TEST(replay_cache, a_signature_is_accepted_once) {
  replay_cache cache;
  EXPECT_TRUE(cache.first_use("key_1", "aa11", 1000, 1000));
  EXPECT_FALSE(cache.first_use("key_1", "aa11", 1000, 1000));
  EXPECT_EQ(cache.check("key_1", "aa11", 1000, 1001), verdict::replayed);
  // Another key's identical signature, or another signature of the same key, is new.
  EXPECT_TRUE(cache.first_use("key_2", "aa11", 1000, 1000));
  EXPECT_TRUE(cache.first_use("key_1", "bb22", 1000, 1000));
  // The key id and the signature cannot run into each other.
  EXPECT_TRUE(cache.first_use("ab", "c", 1000, 1000));
  EXPECT_TRUE(cache.first_use("a", "bc", 1000, 1000));
  EXPECT_EQ(cache.size(), 5u);
  EXPECT_EQ(cache.evicted(), 0u);
}

TEST(replay_cache, refuses_timestamps_outside_the_window) {
  replay_cache cache(300s);
  EXPECT_EQ(cache.check("k", "s1", 700, 1000), verdict::first_use);
  EXPECT_EQ(cache.check("k", "s2", 699, 1000), verdict::outside_window);
  EXPECT_EQ(cache.check("k", "s3", 1300, 1000), verdict::first_use);
  EXPECT_EQ(cache.check("k", "s4", 1301, 1000), verdict::outside_window);
  constexpr auto lo = std::numeric_limits<std::int64_t>::min();
  constexpr auto hi = std::numeric_limits<std::int64_t>::max();
  EXPECT_EQ(cache.check("k", "s5", lo, 1000), verdict::outside_window);
  EXPECT_EQ(cache.check("k", "s6", hi, 1000), verdict::outside_window);
  EXPECT_EQ(cache.check("k", "s7", 0, hi), verdict::outside_window);
  EXPECT_EQ(cache.size(), 2u);  // refused timestamps are not remembered
}

TEST(replay_cache, remembered_until_the_timestamp_leaves_the_window) {
  replay_cache cache(300s, 100);
  EXPECT_TRUE(cache.first_use("k", "sig", 1000, 1000));
  EXPECT_EQ(cache.check("k", "sig", 1000, 1300), verdict::replayed);
  EXPECT_EQ(cache.check("k", "sig", 1000, 1301), verdict::outside_window);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_TRUE(cache.first_use("k", "other", 1301, 1301));
  EXPECT_EQ(cache.size(), 1u);  // the expired one is gone

  // A timestamp ahead of the clock is remembered as long as it can be accepted.
  EXPECT_TRUE(cache.first_use("k", "future", 1600, 1301));
  EXPECT_EQ(cache.check("k", "future", 1600, 1900), verdict::replayed);
  EXPECT_EQ(cache.check("k", "future", 1600, 1901), verdict::outside_window);
}

TEST(replay_cache, bounded_forgets_the_soonest_to_expire) {
  replay_cache cache(300s, 3);
  EXPECT_TRUE(cache.first_use("k", "s1", 900, 1000));   // expires at 1200
  EXPECT_TRUE(cache.first_use("k", "s2", 950, 1000));   // 1250
  EXPECT_TRUE(cache.first_use("k", "s3", 1000, 1000));  // 1300
  EXPECT_TRUE(cache.first_use("k", "s4", 980, 1000));   // 1280: s1 goes
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.evicted(), 1u);
  EXPECT_EQ(cache.check("k", "s3", 1000, 1000), verdict::replayed);
  EXPECT_EQ(cache.check("k", "s4", 980, 1000), verdict::replayed);
  EXPECT_EQ(cache.check("k", "s2", 950, 1000), verdict::replayed);
  // The price of the bound: a forgotten signature passes again (and s2 goes in its place).
  EXPECT_EQ(cache.check("k", "s1", 900, 1000), verdict::first_use);
  EXPECT_EQ(cache.evicted(), 2u);
  EXPECT_EQ(cache.check("k", "s2", 950, 1000), verdict::first_use);
}

TEST(replay_cache, long_key_ids_and_signatures) {
  replay_cache cache;
  std::string key(300, 'k'), sig(500, 's');
  EXPECT_TRUE(cache.first_use(key, sig, 10, 10));
  EXPECT_FALSE(cache.first_use(key, sig, 10, 10));
  sig.back() = 't';
  EXPECT_TRUE(cache.first_use(key, sig, 10, 10));
  EXPECT_TRUE(cache.first_use("", "", 10, 10));
  EXPECT_FALSE(cache.first_use("", "", 10, 10));
}

TEST(replay_cache, concurrent_uses_accept_each_signature_once) {
  replay_cache cache;
  std::atomic<int> first{0}, replayed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto v = cache.check("key_1", "sig-" + std::to_string(i), 5000, 5000);
        (v == verdict::first_use ? first : replayed).fetch_add(1);
      }
    });
  }
  for (auto& th : threads)
    th.join();
  EXPECT_EQ(first.load(), 1000);
  EXPECT_EQ(replayed.load(), 7000);
  EXPECT_EQ(cache.size(), 1000u);
}

}  // namespace
}  // namespace sy::test
