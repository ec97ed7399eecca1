#include "limits/rate_limiter.h"

#include <algorithm>
#include <cstring>

namespace sy {
namespace {

using std::chrono::microseconds;
using std::chrono::steady_clock;

// Settlements may drive a tokens bucket far below zero; the floor keeps the arithmetic away
// from overflow (a bucket this deep is refused for years anyway).
constexpr std::int64_t level_floor = -(std::int64_t{1} << 62);
constexpr std::int64_t zero_limit_wait_us = 60'000'000;  // a limit of 0: "retry in a minute"

std::int64_t clamp_count(std::int64_t v) {
  return std::clamp<std::int64_t>(v, 0, rate_limiter::max_limit);
}

std::size_t write_uint(std::uint64_t v, char* out) {
  char tmp[20];
  std::size_t n = 0;
  do {
    tmp[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = tmp[n - 1 - i];
  return n;
}

}  // namespace

std::string_view to_string(limit_kind kind) {
  switch (kind) {
    case limit_kind::requests:
      return "requests";
    case limit_kind::tokens:
      return "tokens";
    case limit_kind::concurrency:
      return "concurrency";
  }
  return "requests";
}

std::size_t format_reset(microseconds d, char* buf) {
  std::int64_t us = d.count() < 0 ? 0 : d.count();
  // Rounded up: a client that waits the time it was told must find the bucket refilled.
  std::int64_t ms = us / 1000 + (us % 1000 != 0);
  char* p = buf;
  if (ms == 0) {
    std::memcpy(p, "0s", 2);
    return 2;
  }
  if (ms < 1000) {
    p += write_uint(static_cast<std::uint64_t>(ms), p);
    std::memcpy(p, "ms", 2);
    return static_cast<std::size_t>(p + 2 - buf);
  }
  std::int64_t hours = ms / 3'600'000;
  std::int64_t minutes = ms / 60'000 % 60;
  std::int64_t seconds = ms / 1000 % 60;
  std::int64_t millis = ms % 1000;
  if (hours != 0) {
    p += write_uint(static_cast<std::uint64_t>(hours), p);
    *p++ = 'h';
  }
  if (hours != 0 || minutes != 0) {
    p += write_uint(static_cast<std::uint64_t>(minutes), p);
    *p++ = 'm';
  }
  p += write_uint(static_cast<std::uint64_t>(seconds), p);
  if (millis != 0) {
    *p++ = '.';
    char digits[3] = {static_cast<char>('0' + millis / 100),
                      static_cast<char>('0' + millis / 10 % 10),
                      static_cast<char>('0' + millis % 10)};
    int n = 3;
    while (digits[n - 1] == '0')
      --n;  // Go trims trailing zeros: "1.5s"
    std::memcpy(p, digits, static_cast<std::size_t>(n));
    p += n;
  }
  *p++ = 's';
  return static_cast<std::size_t>(p - buf);
}

std::string format_reset(microseconds d) {
  char buf[32];
  return std::string(buf, format_reset(d, buf));
}

void rate_snapshot::append_headers(std::vector<std::pair<std::string, std::string>>& out) const {
  for_each_header([&](std::string_view name, std::string_view value) {
    out.emplace_back(std::string(name), std::string(value));
  });
}

// rate_ticket

rate_ticket& rate_ticket::operator=(rate_ticket&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::move(other.limiter_);
    charged_ = other.charged_;
    released_ = other.released_;
    other.limiter_ = nullptr;
    other.charged_ = 0;
    other.released_ = false;
  }
  return *this;
}

void rate_ticket::settle(std::int64_t actual_tokens) {
  if (!limiter_) return;
  std::int64_t actual = clamp_count(actual_tokens);
  if (actual != charged_) limiter_->settle(actual - charged_);
  charged_ = actual;
}

void rate_ticket::release() {
  if (!limiter_ || released_) return;
  released_ = true;
  limiter_->release_slot();
}

// rate_limiter::bucket

void rate_limiter::bucket::refill(steady_clock::time_point now) {
  if (now <= last) return;
  if (level >= capacity()) {
    last = now;
    return;
  }
  std::int64_t us = std::chrono::duration_cast<microseconds>(now - last).count();
  if (us <= 0) return;  // under a microsecond: the fraction is kept for the next call
  __int128 refilled = static_cast<__int128>(level) + static_cast<__int128>(us) * limit;
  if (refilled >= capacity()) {
    level = capacity();
    last = now;
  } else {
    level = static_cast<std::int64_t>(refilled);
    last += microseconds(us);
  }
}

std::int64_t rate_limiter::bucket::wait_for(std::int64_t target) const {
  if (level >= target) return 0;
  if (limit == 0) return -1;
  std::int64_t missing = target - level;
  return missing / limit + (missing % limit != 0);
}

rate_snapshot::bucket rate_limiter::bucket::snapshot() const {
  rate_snapshot::bucket out;
  out.limit = limit;
  out.remaining = level > 0 ? level / unit : 0;
  std::int64_t wait = wait_for(capacity());
  out.reset = microseconds(wait < 0 ? 0 : wait);
  return out;
}

// rate_limiter

std::shared_ptr<rate_limiter> rate_limiter::create(const rate_limits& limits) {
  return std::make_shared<rate_limiter>(private_tag{}, limits);
}

rate_limiter::rate_limiter(private_tag, const rate_limits& limits) {
  set_limits(limits);
}

void rate_limiter::set_limits(const rate_limits& limits) {
  std::lock_guard lock(mutex_);
  set_limits_locked(limits);
  unlimited_.store(!limits.any(), std::memory_order_release);
}

void rate_limiter::set_limits_locked(const rate_limits& limits) {
  auto apply = [](bucket& b, const std::optional<std::int64_t>& limit) {
    if (!limit) {
      b = bucket{};
      return;
    }
    std::int64_t n = clamp_count(*limit);
    if (!b.enabled()) {
      b.limit = n;
      b.level = b.capacity();
      return;
    }
    std::int64_t used = b.capacity() - b.level;
    b.limit = n;
    b.level = std::clamp(b.capacity() - used, level_floor, b.capacity());
  };
  apply(requests_, limits.rpm);
  apply(tokens_, limits.tpm);
  max_concurrency_ =
      limits.max_concurrency ? std::max<std::int64_t>(*limits.max_concurrency, 0) : -1;
}

rate_limits rate_limiter::limits() const {
  std::lock_guard lock(mutex_);
  rate_limits out;
  if (requests_.enabled()) out.rpm = requests_.limit;
  if (tokens_.enabled()) out.tpm = tokens_.limit;
  if (max_concurrency_ >= 0) out.max_concurrency = max_concurrency_;
  return out;
}

admission rate_limiter::admit(std::int64_t estimated_tokens, steady_clock::time_point now) {
  admission out;
  std::int64_t estimate = clamp_count(estimated_tokens);
  if (unlimited_.load(std::memory_order_acquire)) {
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
  } else {
    std::unique_lock lock(mutex_);
    requests_.refill(now);
    tokens_.refill(now);

    // The longest wait decides what the client is told: retrying earlier would be refused again.
    std::int64_t worst = 0;
    bool refused = false;
    auto consider = [&](limit_kind kind, std::int64_t wait_us) {
      if (wait_us == 0) return;
      if (wait_us < 0) wait_us = zero_limit_wait_us;
      if (!refused || wait_us > worst) {
        worst = wait_us;
        out.refused_by = kind;
      }
      refused = true;
    };
    if (requests_.enabled()) consider(limit_kind::requests, requests_.wait_for(unit));
    if (tokens_.enabled()) {
      // A whole token, and the estimate; an estimate over the limit needs a full bucket.
      std::int64_t need = std::min(estimate, tokens_.limit) * unit;
      consider(limit_kind::tokens, tokens_.wait_for(std::max(need, unit)));
    }
    if (max_concurrency_ >= 0 && in_flight_.load(std::memory_order_acquire) >= max_concurrency_) {
      // When a slot frees is unknown: a second is what clients are told to wait.
      consider(limit_kind::concurrency, max_concurrency_ == 0 ? zero_limit_wait_us : 1'000'000);
    }

    if (refused) {
      if (requests_.enabled()) out.snapshot.requests = requests_.snapshot();
      if (tokens_.enabled()) out.snapshot.tokens = tokens_.snapshot();
      lock.unlock();
      std::int64_t seconds = worst / 1'000'000 + (worst % 1'000'000 != 0);
      out.retry_after = std::chrono::seconds(std::max<std::int64_t>(seconds, 1));
      return out;
    }

    if (requests_.enabled()) {
      requests_.level -= unit;
      out.snapshot.requests = requests_.snapshot();
    }
    if (tokens_.enabled()) {
      tokens_.level = std::max(tokens_.level - estimate * unit, level_floor);
      out.ticket.charged_ = estimate;
      out.snapshot.tokens = tokens_.snapshot();
    }
    in_flight_.fetch_add(1, std::memory_order_acq_rel);
  }
  out.admitted = true;
  out.ticket.limiter_ = shared_from_this();
  return out;
}

void rate_limiter::settle(std::int64_t delta_tokens) {
  std::lock_guard lock(mutex_);
  if (!tokens_.enabled()) return;
  // delta is within +-max_limit, so delta * unit and the sum stay far inside int64.
  tokens_.level = std::clamp(tokens_.level - delta_tokens * unit, level_floor, tokens_.capacity());
}

// limiter_registry

std::shared_ptr<rate_limiter> limiter_registry::get(std::string_view key_id,
                                                    const rate_limits& limits) {
  auto& s = shards_[string_hash{}(key_id) % shard_count];
  std::lock_guard lock(s.mutex);
  auto it = s.map.find(key_id);
  if (it == s.map.end()) {
    it = s.map.emplace(std::string(key_id), rate_limiter::create(limits)).first;
  } else if (it->second->limits() != limits) {
    it->second->set_limits(limits);
  }
  return it->second;
}

std::size_t limiter_registry::prune(const std::function<bool(std::string_view key_id)>& keep) {
  std::size_t removed = 0;
  for (auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    removed += std::erase_if(s.map, [&](const auto& entry) { return !keep(entry.first); });
  }
  return removed;
}

std::size_t limiter_registry::size() const {
  std::size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.map.size();
  }
  return n;
}

}  // namespace sy
