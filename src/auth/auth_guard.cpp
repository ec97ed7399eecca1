#include "auth/auth_guard.h"

#include <algorithm>

namespace sy {
namespace {

namespace ip = boost::asio::ip;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

constexpr std::size_t max_shards = 64;
// Below this many clients per shard, fewer shards: a small table stays exact LRU.
constexpr std::size_t min_per_shard = 1024;

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  x ^= x >> 33;
  return x;
}

}  // namespace

std::size_t auth_guard::key_hash::operator()(const client_key& k) const noexcept {
  return static_cast<std::size_t>(mix(k.hi ^ mix(k.lo)));
}

auth_guard::client_key auth_guard::key_of(const ip::address& client) {
  // IPv4 keys carry bit 32 in `lo`; IPv6 keys have lo == 0: the two never collide.
  constexpr std::uint64_t v4_tag = std::uint64_t{1} << 32;
  if (client.is_v4()) return {0, v4_tag | client.to_v4().to_uint()};
  auto v6 = client.to_v6();
  auto b = v6.to_bytes();
  if (v6.is_v4_mapped()) {
    return {0, v4_tag | std::uint64_t{b[12]} << 24 | std::uint64_t{b[13]} << 16 |
                   std::uint64_t{b[14]} << 8 | b[15]};
  }
  std::uint64_t hi = 0;
  for (int i = 0; i < 8; ++i)
    hi = hi << 8 | b[i];
  return {hi, 0};
}

auth_guard::auth_guard(auth_guard_policy policy) : policy_(policy) {
  policy_.window = std::max(policy_.window, seconds(1));
  policy_.max_tracked = std::max<std::size_t>(policy_.max_tracked, 1);
  shard_count_ = std::clamp<std::size_t>(policy_.max_tracked / min_per_shard, 1, max_shards);
  per_shard_ = policy_.max_tracked / shard_count_;
  shards_ = std::make_unique<shard[]>(shard_count_);
}

auth_guard::shard& auth_guard::shard_of(const client_key& key) const {
  // The top bits pick the shard, the map uses the low ones: independent enough.
  return shards_[(key_hash{}(key) >> 40) % shard_count_];
}

void auth_guard::roll(entry& e, time_point now) const {
  if (now < e.window_start) return;  // a slightly older time from another thread
  auto elapsed = now - e.window_start;
  if (elapsed >= 2 * policy_.window) {
    e.previous = 0;
    e.current = 0;
    e.window_start = now;
  } else if (elapsed >= policy_.window) {
    e.previous = e.current;
    e.current = 0;
    e.window_start += policy_.window;
  }
}

auth_guard::verdict auth_guard::check(const ip::address& client, time_point now) const {
  auto key = key_of(client);
  auto& s = shard_of(key);
  if (s.blocked.load(std::memory_order_acquire) == 0) return {};
  std::lock_guard lock(s.mutex);
  auto it = s.index.find(key);
  if (it == s.index.end()) return {};
  entry& e = *it->second;
  if (!e.blocked) return {};
  if (now >= e.blocked_until) {
    // Ended: cleared here so the shard can go back to the lock-free path.
    e.blocked = false;
    e.current = e.previous = 0;
    e.window_start = now;
    s.blocked.fetch_sub(1, std::memory_order_release);
    return {};
  }
  auto left = e.blocked_until - now;
  auto secs = duration_cast<seconds>(left);
  if (secs < left) ++secs;
  return {true, std::max(secs, seconds(1))};
}

auth_guard::failure_result auth_guard::failure(const ip::address& client, time_point now) {
  auto key = key_of(client);
  auto& s = shard_of(key);
  std::lock_guard lock(s.mutex);

  auto it = s.index.find(key);
  if (it == s.index.end()) {
    if (s.index.size() >= per_shard_) {
      entry& oldest = s.lru.back();
      if (oldest.blocked) s.blocked.fetch_sub(1, std::memory_order_release);
      s.index.erase(oldest.key);
      s.lru.pop_back();
    }
    s.lru.push_front(entry{key, now});
    it = s.index.emplace(key, s.lru.begin()).first;
  } else if (it->second != s.lru.begin()) {
    s.lru.splice(s.lru.begin(), s.lru, it->second);
  }
  entry& e = *it->second;

  failure_result out;
  if (e.blocked) {
    if (now < e.blocked_until) {
      out.blocked = true;
      return out;
    }
    e.blocked = false;
    e.current = e.previous = 0;
    e.window_start = now;
    s.blocked.fetch_sub(1, std::memory_order_release);
  }

  roll(e, now);
  if (e.current < UINT32_MAX) ++e.current;
  // The sliding-window estimate: what is left of the previous window, pro rata.
  std::uint64_t count = e.current;
  if (e.previous != 0 && now >= e.window_start) {
    auto window = duration_cast<nanoseconds>(policy_.window).count();
    auto into = duration_cast<nanoseconds>(now - e.window_start).count();
    count +=
        static_cast<std::uint64_t>(static_cast<__int128>(e.previous) * (window - into) / window);
  }

  if (count > policy_.slow_after) {
    std::uint64_t doublings = count - policy_.slow_after - 1;
    auto delay = policy_.max_delay;
    if (doublings < 32)
      delay = std::min(policy_.base_delay * (std::int64_t{1} << doublings), policy_.max_delay);
    out.delay = delay;
  }
  if (count >= policy_.block_after) {
    e.blocked = true;
    e.blocked_until = now + policy_.block_for;
    e.current = e.previous = 0;
    s.blocked.fetch_add(1, std::memory_order_release);
    out.blocked = true;
    out.block_started = true;
  }
  return out;
}

std::size_t auth_guard::tracked() const {
  std::size_t n = 0;
  for (std::size_t i = 0; i < shard_count_; ++i) {
    std::lock_guard lock(shards_[i].mutex);
    n += shards_[i].index.size();
  }
  return n;
}

}  // namespace sy
