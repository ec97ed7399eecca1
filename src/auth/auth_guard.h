// Slows down, then blocks, client addresses that keep failing to authenticate, so that guessing
// keys costs time and a scanner is shut out for a while.
//
// Per client (an IPv4 address, or the /64 of an IPv6 address: whoever has one address of a /64
// usually has all of it; IPv4-mapped IPv6 addresses count as IPv4):
// - failures are counted over a sliding window (policy.window), estimated from two fixed
//   windows as count(current) + count(previous) * (the share of the previous window still
//   inside the sliding one), rounded down: no burst across a window boundary goes unseen, and
//   the state stays a few words per client;
// - beyond policy.slow_after failures, the answer to each further failure is delayed:
//   base_delay, doubling with each failure, at most max_delay;
// - at policy.block_after failures the client is blocked for policy.block_for: check() says so,
//   and the caller refuses without looking at the key. The count starts again afterwards.
// - A successful authentication changes nothing: one valid key must not let an attacker reset
//   the count of its guesses.
// - At most policy.max_tracked clients are remembered; past that, the one whose last failure is
//   the oldest is forgotten (blocked ones too: an attacker with that many addresses does not
//   need to wait for a block to end anyway).
//
// Thread-safe: clients are spread over up to 64 shards, each with its own mutex. check() takes no
// lock while its shard holds no blocked client, which is the normal case.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace sy {

struct auth_guard_policy {
  std::chrono::seconds window{60};
  std::uint32_t slow_after = 5;  // failures in the window answered without delay
  std::chrono::milliseconds base_delay{250};
  std::chrono::milliseconds max_delay{2000};
  std::uint32_t block_after = 20;  // failures in the window that block the client
  std::chrono::seconds block_for{300};
  std::size_t max_tracked = 65536;
};

class auth_guard {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  struct verdict {
    bool blocked = false;
    std::chrono::seconds retry_after{0};  // when blocked: until the block ends, at least 1 s
  };
  struct failure_result {
    std::chrono::milliseconds delay{0};  // hold the failed answer this long (0: answer at once)
    bool blocked = false;                // the client is blocked now (by this failure or before it)
    bool block_started = false;          // this failure started the block (worth an audit row)
  };

  explicit auth_guard(auth_guard_policy policy = {});
  auth_guard(const auth_guard&) = delete;
  auth_guard& operator=(const auth_guard&) = delete;

  // Before authenticating: is this client blocked?
  verdict check(const boost::asio::ip::address& client, time_point now) const;
  // After a failed authentication: how long to delay the answer (with a timer, never by blocking
  // the worker), and whether the client is now blocked. Failures of a client that is already
  // blocked are not counted and get no delay.
  failure_result failure(const boost::asio::ip::address& client, time_point now);

  // Clients remembered now (failed recently or blocked).
  std::size_t tracked() const;
  const auth_guard_policy& policy() const { return policy_; }

 private:
  // An IPv4 address, or the first 64 bits of an IPv6 one (the /64), with a tag telling which.
  struct client_key {
    std::uint64_t hi = 0, lo = 0;
    friend bool operator==(const client_key&, const client_key&) = default;
  };
  struct key_hash {
    std::size_t operator()(const client_key& k) const noexcept;
  };
  struct entry {
    client_key key;
    time_point window_start{};   // start of the current fixed window
    std::uint32_t current = 0;   // failures in the current window
    std::uint32_t previous = 0;  // failures in the window before it
    time_point blocked_until{};  // blocked while now < this
    bool blocked = false;
  };
  struct shard {
    mutable std::mutex mutex;
    std::list<entry> lru;  // most recent failure first
    std::unordered_map<client_key, std::list<entry>::iterator, key_hash> index;
    std::atomic<std::size_t> blocked{0};  // entries with blocked set: check() may skip the lock
  };

  static client_key key_of(const boost::asio::ip::address& client);
  shard& shard_of(const client_key& key) const;
  void roll(entry& e, time_point now) const;

  auth_guard_policy policy_;
  std::size_t per_shard_ = 1;
  std::size_t shard_count_ = 1;
  std::unique_ptr<shard[]> shards_;
};

}  // namespace sy
