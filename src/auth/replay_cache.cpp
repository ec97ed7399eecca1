#include "auth/replay_cache.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>

namespace sy {
namespace {

constexpr std::size_t max_shards = 16;
constexpr std::size_t min_per_shard = 4096;

std::uint64_t load64(const unsigned char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

namespace detail {

std::array<std::uint64_t, 2> siphash128(std::uint64_t k0, std::uint64_t k1, const void* data,
                                        std::size_t size) {
  auto rotl = [](std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); };
  std::uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1,
                v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
  v1 ^= 0xee;
  auto round = [&] {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
  };
  const auto* p = static_cast<const unsigned char*>(data);
  std::size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    std::uint64_t m = 0;
    for (int j = 7; j >= 0; --j)
      m = m << 8 | p[i + j];
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  std::uint64_t b = static_cast<std::uint64_t>(size) << 56;
  for (std::size_t j = 0; i + j < size; ++j)
    b |= static_cast<std::uint64_t>(p[i + j]) << (8 * j);
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xee;
  for (int r = 0; r < 4; ++r)
    round();
  std::uint64_t first = v0 ^ v1 ^ v2 ^ v3;
  v1 ^= 0xdd;
  for (int r = 0; r < 4; ++r)
    round();
  return {first, v0 ^ v1 ^ v2 ^ v3};
}

}  // namespace detail

replay_cache::replay_cache(std::chrono::seconds window, std::size_t max_entries)
    : window_(std::max(window, std::chrono::seconds(0))) {
  unsigned char key[16];
  if (RAND_bytes(key, sizeof key) != 1) {
    std::random_device rd;
    for (auto& c : key)
      c = static_cast<unsigned char>(rd());
  }
  k0_ = load64(key);
  k1_ = load64(key + 8);
  max_entries = std::max<std::size_t>(max_entries, 1);
  shard_count_ = std::clamp<std::size_t>(max_entries / min_per_shard, 1, max_shards);
  per_shard_ = max_entries / shard_count_;
  shards_ = std::make_unique<shard[]>(shard_count_);
}

replay_cache::digest replay_cache::digest_of(std::string_view key_id,
                                             std::string_view signature) const {
  // The key id's length goes first, so ("ab", "c") and ("a", "bc") differ.
  unsigned char stack[256];
  std::string heap;
  std::size_t size = 8 + key_id.size() + signature.size();
  unsigned char* buf = stack;
  if (size > sizeof stack) {
    heap.resize(size);
    buf = reinterpret_cast<unsigned char*>(heap.data());
  }
  std::uint64_t n = key_id.size();
  std::memcpy(buf, &n, 8);
  if (!key_id.empty()) std::memcpy(buf + 8, key_id.data(), key_id.size());
  if (!signature.empty()) std::memcpy(buf + 8 + key_id.size(), signature.data(), signature.size());
  return detail::siphash128(k0_, k1_, buf, size);
}

replay_cache::verdict replay_cache::check(std::string_view key_id, std::string_view signature,
                                          std::int64_t timestamp, std::int64_t now) {
  const std::int64_t w = window_.count();
  // In 128 bits: the timestamp comes from a header and may be anything.
  __int128 age = static_cast<__int128>(now) - timestamp;
  if (age > w || age < -w) return verdict::outside_window;

  digest d = digest_of(key_id, signature);
  auto& s = shards_[d[1] % shard_count_];
  const std::int64_t expires =
      timestamp > std::numeric_limits<std::int64_t>::max() - w ? timestamp : timestamp + w;
  std::lock_guard lock(s.mutex);

  // Forget what left the window: at `now` an entry expiring at `now` still counts.
  while (!s.heap.empty() && s.heap.front().first < now) {
    s.expiry.erase(s.heap.front().second);
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    s.heap.pop_back();
  }
  if (s.expiry.contains(d)) return verdict::replayed;
  if (s.expiry.size() >= per_shard_) {
    s.expiry.erase(s.heap.front().second);
    std::pop_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
    s.heap.pop_back();
    evicted_.fetch_add(1, std::memory_order_relaxed);
  }
  s.expiry.emplace(d, expires);
  s.heap.emplace_back(expires, d);
  std::push_heap(s.heap.begin(), s.heap.end(), std::greater<>{});
  return verdict::first_use;
}

std::size_t replay_cache::size() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    n += shards_[i].expiry.size();
  }
  return n;
}

}  // namespace sy
