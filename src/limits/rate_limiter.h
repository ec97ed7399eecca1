// Per-key rate limits on the data plane: requests per minute, tokens per minute and concurrent
// requests, each optional. One rate_limiter per key, shared by every worker thread; the key table
// holds it (from limiter_registry::get, called when the table is rebuilt), and each request
// calls admit() once.
//
// Semantics (OpenAI's token buckets):
// - A bucket's capacity is the per-minute limit and it refills continuously at limit/60 per
//   second, so a burst of at most `rpm` requests is admitted, then one every 60/rpm seconds.
// - A request takes one request from the requests bucket; it needs at least one whole request.
// - Tokens: a request is admitted when the tokens bucket holds at least one token and at least
//   the estimate, as OpenAI refuses a request whose estimate exceeds what remains. An estimate
//   larger than the whole limit would then never pass, so it only needs a full bucket (and drives
//   it negative). The estimate is deducted at admission; rate_ticket::settle() corrects it with the
//   actual usage, which may drive the bucket negative: the next admissions wait for it.
// - Concurrency: the ticket of an admitted request holds one slot until it is released.
// - A limit of 0 (or less) refuses every request, retry_after 60 s. Limits above max_limit are
//   taken as max_limit.
// - A refusal changes nothing. When several limits refuse, the one that frees last is reported.
//
// Cost: admit() locks this key's mutex for a few dozen instructions and allocates nothing; a key
// without limits only touches an atomic counter. Keys do not share state.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace sy {

struct rate_limits {
  std::optional<std::int64_t> rpm;              // requests per minute
  std::optional<std::int64_t> tpm;              // tokens per minute
  std::optional<std::int64_t> max_concurrency;  // requests in flight at once

  bool any() const { return rpm || tpm || max_concurrency; }
  friend bool operator==(const rate_limits&, const rate_limits&) = default;
};

enum class limit_kind : std::uint8_t { requests, tokens, concurrency };

std::string_view to_string(limit_kind kind);  // "requests", "tokens", "concurrency"

// The state of the buckets right after an admission (or a refusal), for OpenAI's
// x-ratelimit-* headers. A bucket without a limit has no value.
struct rate_snapshot {
  struct bucket {
    std::int64_t limit = 0;
    std::int64_t remaining = 0;         // whole units left, never negative
    std::chrono::microseconds reset{};  // until the bucket is full again
  };
  std::optional<bucket> requests;
  std::optional<bucket> tokens;

  // Calls f(name, value) for each x-ratelimit-* header, requests first: limit, remaining,
  // reset. Values live in a buffer valid only during the call. Nothing for a missing bucket.
  template <class F>
  void for_each_header(F&& f) const;
  // The same headers, appended to `out`.
  void append_headers(std::vector<std::pair<std::string, std::string>>& out) const;
};

// A duration the way OpenAI's x-ratelimit-reset-* headers (Go's time.Duration) write it, to the
// millisecond, rounded up: "0s", "20ms", "1s", "1.5s", "6m0s", "1m30s", "2h0m0s".
std::string format_reset(std::chrono::microseconds d);
// Into `buf` (at least 32 bytes); returns the characters written.
std::size_t format_reset(std::chrono::microseconds d, char* buf);

class rate_limiter;

// What admit() gives an admitted request: the concurrency slot and the tokens charged. Move-only;
// the slot is freed by release() or the destructor, exactly once. A ticket belongs to one
// request: its own calls are not synchronized with each other (the limiter's are). It keeps the
// limiter alive, so it may outlive the key table and the registry entry.
class rate_ticket {
 public:
  rate_ticket() = default;
  rate_ticket(rate_ticket&& other) noexcept { *this = std::move(other); }
  rate_ticket& operator=(rate_ticket&& other) noexcept;
  rate_ticket(const rate_ticket&) = delete;
  rate_ticket& operator=(const rate_ticket&) = delete;
  ~rate_ticket() { release(); }

  // Corrects the tokens bucket from what was charged so far to `actual_tokens` (negative is
  // taken as 0). May be called again, with a later total; works after release() too.
  void settle(std::int64_t actual_tokens);
  // Frees the concurrency slot; later calls do nothing.
  void release();

  bool valid() const { return limiter_ != nullptr; }
  bool holds_slot() const { return limiter_ != nullptr && !released_; }
  std::int64_t charged_tokens() const { return charged_; }

 private:
  friend class rate_limiter;
  std::shared_ptr<rate_limiter> limiter_;
  std::int64_t charged_ = 0;  // tokens deducted from the bucket for this request
  bool released_ = false;
};

struct admission {
  bool admitted = false;
  rate_ticket ticket;  // valid when admitted
  // When refused:
  limit_kind refused_by = limit_kind::requests;
  std::chrono::seconds retry_after{0};  // at least 1 s
  rate_snapshot snapshot;
};

class rate_limiter : public std::enable_shared_from_this<rate_limiter> {
 public:
  static constexpr std::int64_t max_limit = 10'000'000'000;  // 1e10 per minute

  static std::shared_ptr<rate_limiter> create(const rate_limits& limits = {});

  // Admits a request estimated to use `estimated_tokens` (negative is taken as 0), or says which
  // limit refused it and when to retry. `now` from std::chrono::steady_clock; calls from
  // several threads may pass slightly out-of-order times (an earlier time refills nothing).
  admission admit(std::int64_t estimated_tokens, std::chrono::steady_clock::time_point now);

  // New limits for the same key. What was used of a bucket stays used (a changed rpm keeps the
  // requests already made); a new bucket starts full. The time since the last admission
  // refills at the new rate. When a key without limits gets a max_concurrency, requests admitted
  // at that very moment through the unlocked path may exceed it once.
  void set_limits(const rate_limits& limits);
  rate_limits limits() const;

  // Requests admitted and not yet released.
  std::int64_t in_flight() const { return in_flight_.load(std::memory_order_relaxed); }

  // Use create(): tickets keep the limiter alive through shared_from_this.
  struct private_tag {};
  rate_limiter(private_tag, const rate_limits& limits);

 private:
  friend class rate_ticket;

  // Levels in units of 1/60,000,000 of a request or token, so that a limit of L per minute
  // refills exactly L units per microsecond: integer arithmetic, no drift, exact tests.
  static constexpr std::int64_t unit = 60'000'000;

  struct bucket {
    std::int64_t limit = -1;  // per minute; -1: no limit
    std::int64_t level = 0;   // units; may be negative (tokens)
    std::chrono::steady_clock::time_point last{};
    bool enabled() const { return limit >= 0; }
    std::int64_t capacity() const { return limit * unit; }
    void refill(std::chrono::steady_clock::time_point now);
    // Microseconds until the level reaches `target` units (0 if it has); -1: never (limit 0).
    std::int64_t wait_for(std::int64_t target) const;
    rate_snapshot::bucket snapshot() const;
  };

  void set_limits_locked(const rate_limits& limits);
  void settle(std::int64_t delta_tokens);
  void release_slot() { in_flight_.fetch_sub(1, std::memory_order_acq_rel); }

  alignas(64) mutable std::mutex mutex_;
  bucket requests_;
  bucket tokens_;
  std::int64_t max_concurrency_ = -1;  // -1: no limit
  // A key without limits skips the mutex: admit() only counts it in flight.
  std::atomic<bool> unlimited_{true};
  // Incremented under mutex_ only when limited (so checking then incrementing is exact);
  // decremented without it.
  std::atomic<std::int64_t> in_flight_{0};
};

// Key id -> the limiter of that key, kept across rebuilds of the key table so a key's buckets
// survive them. Sharded; meant to be called when the table is rebuilt, not per request.
class limiter_registry {
 public:
  // The limiter of `key_id` (created on first use), with its limits set to `limits`.
  std::shared_ptr<rate_limiter> get(std::string_view key_id, const rate_limits& limits);
  // Forgets every key for which keep(key_id) is false; returns how many. Requests in flight
  // keep their limiter alive until their tickets are gone.
  std::size_t prune(const std::function<bool(std::string_view key_id)>& keep);
  std::size_t size() const;

 private:
  struct string_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<rate_limiter>, string_hash, std::equal_to<>>
        map;
  };
  static constexpr std::size_t shard_count = 16;
  shard shards_[shard_count];
};

template <class F>
void rate_snapshot::for_each_header(F&& f) const {
  char buf[32];
  auto number = [&](std::int64_t v) {
    // Values are never negative: limit >= 0, remaining clamped at 0.
    char* end = buf + sizeof buf;
    char* p = end;
    auto u = static_cast<std::uint64_t>(v < 0 ? 0 : v);
    do {
      *--p = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    return std::string_view(p, static_cast<std::size_t>(end - p));
  };
  if (requests) {
    f(std::string_view("x-ratelimit-limit-requests"), number(requests->limit));
    f(std::string_view("x-ratelimit-remaining-requests"), number(requests->remaining));
    f(std::string_view("x-ratelimit-reset-requests"),
      std::string_view(buf, format_reset(requests->reset, buf)));
  }
  if (tokens) {
    f(std::string_view("x-ratelimit-limit-tokens"), number(tokens->limit));
    f(std::string_view("x-ratelimit-remaining-tokens"), number(tokens->remaining));
    f(std::string_view("x-ratelimit-reset-tokens"),
      std::string_view(buf, format_reset(tokens->reset, buf)));
  }
}

}  // namespace sy
