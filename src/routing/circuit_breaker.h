// The health of one deployment or one upstream key (issue 6): a circuit breaker over a sliding
// window of outcomes, a 429 cooldown, and a disabled state for rejected credentials.
//
//   closed     requests go; each outcome lands in a sliding window (time buckets). The circuit
//              opens when `consecutive_failures` fail in a row, or when at least `min_requests`
//              in the window fail at `error_rate` or more.
//   open       nothing goes until the cooldown ends; then the next allow() lets exactly one probe
//              through (half-open).
//   half_open  the probe's success closes the circuit and resets the cooldown; its failure opens
//              it again for twice the last cooldown (up to `max_cooldown`). A probe that never
//              reports back is given up after one cooldown, and another is let through.
// Independently of those:
//   a 429 cools the target down for its retry-after (or `rate_limit_cooldown`) without counting
//   as a failure: the target is not broken, only busy;
//   a 401/403 disables the target (its key was refused) until enable() (a reload or an admin).
//
// Thread-safe (one mutex per breaker; it is held for a few comparisons). Time is passed in, so
// tests drive it with their own clock.
#pragma once

#include <array>
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
#include <vector>

namespace sy::routing {

using steady = std::chrono::steady_clock;

// How an attempt ended, as the retry logic classifies it.
enum class outcome {
  success,       // an answer (any status the client asked for, 2xx and the client's 4xx)
  failure,       // connect error, reset, timeout, 5xx, 529, "overloaded"
  rate_limited,  // 429 from the upstream
  rejected,      // 401 / 403: the upstream refused the credentials
};

struct breaker_options {
  std::chrono::milliseconds window{30000};   // how far back the error rate looks
  static constexpr int buckets = 10;         // the window's resolution: window / buckets
  int min_requests = 10;                     // the error-rate rule needs this many in the window
  double error_rate = 0.5;                   // ... failing at this rate or more opens the circuit
  int consecutive_failures = 5;              // or this many failures in a row
  std::chrono::milliseconds cooldown{5000};  // the first open period
  std::chrono::milliseconds max_cooldown{300000};  // repeated failed probes double it up to this
  std::chrono::milliseconds rate_limit_cooldown{10000};  // a 429 without retry-after
};

enum class breaker_state { closed, open, half_open };

std::string_view to_string(breaker_state s);

class circuit_breaker {
 public:
  explicit circuit_breaker(breaker_options options = {});

  // Whether an attempt may go to the target now. In half-open, true once (the probe).
  bool allow(steady::time_point now);
  // Whether allow() would say yes, without taking the half-open probe: for choosing among
  // targets before the chosen one is asked.
  bool available(steady::time_point now) const;
  // Whether only a 429's cooldown keeps it from being available (busy, not broken).
  bool only_cooling(steady::time_point now) const;

  // The attempt's outcome. `retry_after` with rate_limited: how long the upstream asked to wait.
  void record(outcome o, steady::time_point now,
              std::optional<std::chrono::milliseconds> retry_after = std::nullopt);

  // Re-enables a target disabled by a 401/403 (its key was replaced, or an admin says so).
  void enable();
  // Forgets everything: closed, no cooldown, an empty window (an admin's reset).
  void reset();

  struct view {
    breaker_state state = breaker_state::closed;
    bool disabled = false;                     // a 401/403
    std::chrono::milliseconds cooling_for{0};  // a 429's cooldown left
    std::chrono::milliseconds open_for{0};     // the open period left
    std::chrono::milliseconds cooldown{0};     // the open period the next failure would start
    std::int64_t window_requests = 0;
    std::int64_t window_failures = 0;
    int consecutive_failures = 0;
    std::string reason;  // why it is in this state ("" when closed and healthy)
  };
  view state(steady::time_point now) const;

 private:
  struct bucket {
    std::int64_t index = -1;  // which window slice it counts (time / slice)
    std::int64_t requests = 0;
    std::int64_t failures = 0;
  };
  // Under mutex_.
  bucket& current(steady::time_point now);
  bool lets_through(steady::time_point now) const;  // the circuit's say, cooldown aside
  void totals(steady::time_point now, std::int64_t& requests, std::int64_t& failures) const;
  void open(steady::time_point now, std::string reason);

  // Under mutex_: recomputes clear_ after a change.
  void update_clear(steady::time_point now);

  const breaker_options options_;
  // True while the target is closed, enabled and not cooling down: then available() and
  // allow() answer without the mutex (the common case, on every request). Set false under the
  // mutex by anything that changes that; set true again by the locked path once it holds.
  mutable std::atomic<bool> clear_{true};
  mutable std::mutex mutex_;
  breaker_state state_ = breaker_state::closed;
  std::array<bucket, breaker_options::buckets> buckets_{};
  int consecutive_ = 0;
  std::chrono::milliseconds cooldown_;
  steady::time_point open_until_{};
  bool probe_out_ = false;
  steady::time_point probe_since_{};
  steady::time_point cool_until_{};
  bool disabled_ = false;
  std::string reason_;
};

}  // namespace sy::routing
