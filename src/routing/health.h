// What the gateway has learned about one routing target (a deployment: channel + upstream model;
// or one upstream API key of a channel): its circuit breaker, the attempts in flight, and recent
// latencies (time to first byte, whole duration, output tokens per second) for the strategies,
// hedging and GET /admin/health. Targets live in a registry kept across snapshot rebuilds, so a
// store change never resets what the gateway knows of its upstreams.
#pragma once

#include "routing/circuit_breaker.h"

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

class target_health {
 public:
  explicit target_health(breaker_options options = {}) : breaker(options) {}

  circuit_breaker breaker;
  std::atomic<int> inflight{0};  // attempts sent and not yet ended

  // An attempt that got an answer: its time to first byte and, when it produced output, how
  // long the whole answer took and how many tokens it had.
  void observe(std::chrono::microseconds ttft, std::chrono::microseconds total,
               std::int64_t output_tokens);

  struct stats {
    std::int64_t samples = 0;                        // answers observed (all time)
    double ttft_ewma_ms = 0;                         // 0 until the first sample
    double tokens_per_s_ewma = 0;                    // 0 until a sample with output
    std::optional<double> ttft_p50_ms, ttft_p95_ms;  // over the last `ring` answers
    std::optional<double> total_p50_ms, total_p95_ms;
  };
  stats snapshot() const;

  // The expected time an answer of `output_tokens` takes here (for lowest_latency); empty when
  // nothing has been observed yet.
  std::optional<double> expected_ms(std::int64_t output_tokens) const;
  // The `percentile` of the recent times to first byte, from at least `min_samples` samples;
  // recomputed at most every 250 ms (hedging asks on every request).
  std::optional<std::chrono::milliseconds> ttft_percentile(int percentile, int min_samples) const;

  static constexpr std::size_t ring = 256;

 private:
  mutable std::mutex mutex_;
  std::array<float, ring> ttft_ms_{};
  std::array<float, ring> total_ms_{};
  std::size_t next_ = 0;
  std::int64_t samples_ = 0;
  double ttft_ewma_ = 0;
  double tps_ewma_ = 0;
  mutable std::chrono::steady_clock::time_point cached_at_{};
  mutable int cached_percentile_ = 0;
  mutable std::optional<std::chrono::milliseconds> cached_;
};

// Tracks one attempt in flight on a target (least_inflight, the health report).
class inflight_guard {
 public:
  inflight_guard() = default;
  explicit inflight_guard(target_health* t) : t_(t) {
    if (t_) t_->inflight.fetch_add(1, std::memory_order_relaxed);
  }
  inflight_guard(inflight_guard&& o) noexcept : t_(o.t_) { o.t_ = nullptr; }
  inflight_guard& operator=(inflight_guard&& o) noexcept {
    if (this != &o) {
      release();
      t_ = o.t_;
      o.t_ = nullptr;
    }
    return *this;
  }
  ~inflight_guard() { release(); }
  void release() {
    if (t_) t_->inflight.fetch_sub(1, std::memory_order_relaxed);
    t_ = nullptr;
  }

 private:
  target_health* t_ = nullptr;
};

// Targets by id: "deployment:<channel>/<upstream model>" and "key:<channel>#<fingerprint>".
// Called when snapshots are built and by the health report, not per request: requests reach
// their targets through the snapshot's shared_ptrs.
class health_registry {
 public:
  explicit health_registry(breaker_options options = {}) : options_(options) {}

  // The target `id`, created healthy on first use.
  std::shared_ptr<target_health> get(std::string_view id);
  // Forgets the targets for which keep(id) is false (a channel removed, a key replaced).
  std::size_t prune(const std::function<bool(std::string_view id)>& keep);
  // Every target, sorted by id.
  std::vector<std::pair<std::string, std::shared_ptr<target_health>>> all() const;

 private:
  const breaker_options options_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<target_health>> targets_;
};

}  // namespace sy::routing
