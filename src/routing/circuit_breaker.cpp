#include "routing/circuit_breaker.h"

#include <fmt/format.h>

#include <algorithm>

namespace sy::routing {

namespace {
std::chrono::milliseconds left(steady::time_point until, steady::time_point now) {
  return until > now ? std::chrono::duration_cast<std::chrono::milliseconds>(until - now)
                     : std::chrono::milliseconds(0);
}
}  // namespace

std::string_view to_string(breaker_state s) {
  switch (s) {
    case breaker_state::open:
      return "open";
    case breaker_state::half_open:
      return "half_open";
    default:
      return "closed";
  }
}

circuit_breaker::circuit_breaker(breaker_options options)
    : options_(options), cooldown_(options.cooldown) {}

circuit_breaker::bucket& circuit_breaker::current(steady::time_point now) {
  const auto slice = std::max<std::int64_t>(options_.window.count() / breaker_options::buckets, 1);
  const std::int64_t index =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() / slice;
  auto& b = buckets_[static_cast<std::size_t>(index % breaker_options::buckets)];
  if (b.index != index) b = bucket{index, 0, 0};  // a slice that left the window: reused
  return b;
}

void circuit_breaker::totals(steady::time_point now, std::int64_t& requests,
                             std::int64_t& failures) const {
  const auto slice = std::max<std::int64_t>(options_.window.count() / breaker_options::buckets, 1);
  const std::int64_t index =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() / slice;
  requests = failures = 0;
  for (const auto& b : buckets_) {
    if (b.index > index - breaker_options::buckets && b.index <= index) {
      requests += b.requests;
      failures += b.failures;
    }
  }
}

void circuit_breaker::update_clear(steady::time_point now) {
  clear_.store(state_ == breaker_state::closed && !disabled_ && now >= cool_until_,
               std::memory_order_relaxed);
}

void circuit_breaker::open(steady::time_point now, std::string reason) {
  clear_.store(false, std::memory_order_relaxed);
  state_ = breaker_state::open;
  open_until_ = now + cooldown_;
  probe_out_ = false;
  reason_ = std::move(reason);
}

bool circuit_breaker::allow(steady::time_point now) {
  if (clear_.load(std::memory_order_relaxed)) return true;
  std::lock_guard lock(mutex_);
  update_clear(now);
  if (disabled_ || now < cool_until_) return false;
  switch (state_) {
    case breaker_state::closed:
      return true;
    case breaker_state::open:
      if (now < open_until_) return false;
      state_ = breaker_state::half_open;
      probe_out_ = true;
      probe_since_ = now;
      return true;
    case breaker_state::half_open:
      // One probe at a time; one that never reported back is given up after a cooldown.
      if (probe_out_ && now < probe_since_ + cooldown_) return false;
      probe_out_ = true;
      probe_since_ = now;
      return true;
  }
  return false;
}

bool circuit_breaker::lets_through(steady::time_point now) const {
  switch (state_) {
    case breaker_state::closed:
      return true;
    case breaker_state::open:
      return now >= open_until_;
    case breaker_state::half_open:
      return !probe_out_ || now >= probe_since_ + cooldown_;
  }
  return false;
}

bool circuit_breaker::available(steady::time_point now) const {
  if (clear_.load(std::memory_order_relaxed)) return true;
  std::lock_guard lock(mutex_);
  const_cast<circuit_breaker*>(this)->update_clear(now);
  return !disabled_ && now >= cool_until_ && lets_through(now);
}

bool circuit_breaker::only_cooling(steady::time_point now) const {
  if (clear_.load(std::memory_order_relaxed)) return false;
  std::lock_guard lock(mutex_);
  return !disabled_ && now < cool_until_ && lets_through(now);
}

void circuit_breaker::record(outcome o, steady::time_point now,
                             std::optional<std::chrono::milliseconds> retry_after) {
  std::lock_guard lock(mutex_);
  switch (o) {
    case outcome::rate_limited: {
      // Busy, not broken: the target rests for as long as it asked, and nothing else changes.
      const auto rest =
          retry_after && retry_after->count() > 0 ? *retry_after : options_.rate_limit_cooldown;
      cool_until_ = std::max(cool_until_, now + rest);
      clear_.store(false, std::memory_order_relaxed);
      if (state_ == breaker_state::half_open) probe_out_ = false;
      return;
    }
    case outcome::rejected:
      disabled_ = true;
      clear_.store(false, std::memory_order_relaxed);
      reason_ = "the upstream refused the credentials (401/403)";
      return;
    case outcome::success: {
      auto& b = current(now);
      ++b.requests;
      consecutive_ = 0;
      if (state_ == breaker_state::half_open) {
        state_ = breaker_state::closed;
        update_clear(now);
        cooldown_ = options_.cooldown;  // recovered: the next open starts short again
        probe_out_ = false;
        buckets_.fill(bucket{});  // the failures that opened it are history
        reason_.clear();
      }
      return;
    }
    case outcome::failure: {
      auto& b = current(now);
      ++b.requests;
      ++b.failures;
      ++consecutive_;
      if (state_ == breaker_state::half_open) {
        cooldown_ = std::min(cooldown_ * 2, options_.max_cooldown);
        open(now, fmt::format("the half-open probe failed; open for {} ms", cooldown_.count()));
        return;
      }
      if (state_ == breaker_state::open) return;  // a late report from before it opened
      if (consecutive_ >= options_.consecutive_failures) {
        open(now, fmt::format("{} consecutive failures", consecutive_));
        return;
      }
      std::int64_t requests = 0, failures = 0;
      totals(now, requests, failures);
      if (requests >= options_.min_requests &&
          static_cast<double>(failures) >= options_.error_rate * static_cast<double>(requests)) {
        open(now, fmt::format("{} of the last {} requests failed", failures, requests));
      }
      return;
    }
  }
}

void circuit_breaker::enable() {
  std::lock_guard lock(mutex_);
  disabled_ = false;
  if (state_ == breaker_state::closed) reason_.clear();
  update_clear(steady::now());
}

void circuit_breaker::reset() {
  std::lock_guard lock(mutex_);
  state_ = breaker_state::closed;
  buckets_.fill(bucket{});
  consecutive_ = 0;
  cooldown_ = options_.cooldown;
  probe_out_ = false;
  cool_until_ = {};
  disabled_ = false;
  reason_.clear();
  clear_.store(true, std::memory_order_relaxed);
}

circuit_breaker::view circuit_breaker::state(steady::time_point now) const {
  std::lock_guard lock(mutex_);
  view v;
  v.state = state_;
  if (state_ == breaker_state::open && now >= open_until_) v.state = breaker_state::half_open;
  v.disabled = disabled_;
  v.cooling_for = left(cool_until_, now);
  v.open_for =
      state_ == breaker_state::open ? left(open_until_, now) : std::chrono::milliseconds(0);
  v.cooldown = cooldown_;
  totals(now, v.window_requests, v.window_failures);
  v.consecutive_failures = consecutive_;
  v.reason = reason_;
  if (v.reason.empty() && v.cooling_for.count() > 0) v.reason = "rate limited (429): cooling down";
  return v;
}

}  // namespace sy::routing
