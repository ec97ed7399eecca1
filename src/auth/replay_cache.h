// The replay guard of HMAC request signing (x-sy-timestamp + x-sy-signature): a signed request
// is accepted once. A signature is remembered until its timestamp leaves the acceptance window,
// after which the timestamp check refuses it anyway; so the cache also refuses timestamps outside
// the window itself, as it could not tell a replay of those.
//
// Call it only after the signature has been verified: otherwise anyone could fill it.
//
// Memory is bounded: at most max_entries signatures (a few dozen bytes each). When full, the
// signature closest to leaving the window is forgotten first and counted in evicted(); replay
// protection is complete while fewer than max_entries signed requests arrive per window
// (262144 by default: about 870 per second with the 5-minute window).
//
// Thread-safe: up to 16 shards, each with its own mutex.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sy {

namespace detail {
// SipHash-2-4 with its 128-bit output (Aumasson and Bernstein), key (k0, k1) and the output as
// two little-endian words, as in the reference implementation.
std::array<std::uint64_t, 2> siphash128(std::uint64_t k0, std::uint64_t k1, const void* data,
                                        std::size_t size);
}  // namespace detail

class replay_cache {
 public:
  enum class verdict { first_use, replayed, outside_window };

  explicit replay_cache(std::chrono::seconds window = std::chrono::seconds(300),
                        std::size_t max_entries = std::size_t{1} << 18);
  replay_cache(const replay_cache&) = delete;
  replay_cache& operator=(const replay_cache&) = delete;

  // `timestamp` and `now` are unix seconds. first_use: |now - timestamp| <= window and this
  // (key_id, signature) was not seen while it was in the window; it is remembered from now on.
  verdict check(std::string_view key_id, std::string_view signature, std::int64_t timestamp,
                std::int64_t now);
  bool first_use(std::string_view key_id, std::string_view signature, std::int64_t timestamp,
                 std::int64_t now) {
    return check(key_id, signature, timestamp, now) == verdict::first_use;
  }

  std::size_t size() const;
  // Signatures forgotten before their time because the cache was full.
  std::uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }
  std::chrono::seconds window() const { return window_; }

 private:
  // SipHash-2-4-128 of (key id, signature) under a random key of this cache: without the key
  // nobody can aim at a collision, and by chance one takes about 2^64 signatures. (SHA-256
  // through OpenSSL 3's EVP costs about 1 us a call; this, about 50 ns.)
  using digest = std::array<std::uint64_t, 2>;
  struct digest_hash {
    std::size_t operator()(const digest& d) const noexcept {
      return static_cast<std::size_t>(d[0]);
    }
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<digest, std::int64_t, digest_hash> expiry;  // forgotten after this
    // The same entries, soonest expiry on top (a min-heap through std::greater).
    std::vector<std::pair<std::int64_t, digest>> heap;
  };

  digest digest_of(std::string_view key_id, std::string_view signature) const;

  std::uint64_t k0_ = 0, k1_ = 0;  // the SipHash key
  std::chrono::seconds window_;
  std::size_t per_shard_ = 1;
  std::size_t shard_count_ = 1;
  std::unique_ptr<shard[]> shards_;
  std::atomic<std::uint64_t> evicted_{0};
};

}  // namespace sy
