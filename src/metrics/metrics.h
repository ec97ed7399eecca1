// Prometheus metrics. Each worker writes to its own shard (an uncontended lock), and a scrape
// sums the shards, so the hot path never shares a cache line with another worker.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace sy::metrics {

// Upper bounds of the duration histogram, in seconds.
inline constexpr std::array<double, 14> duration_buckets{
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};

struct histogram {
  std::array<std::uint64_t, duration_buckets.size() + 1> counts{};  // last: +Inf
  double sum = 0;
  std::uint64_t count = 0;
  void observe(double seconds);
};

class shard {
 public:
  void record(std::string_view model, std::string_view channel, int status, double seconds);

 private:
  friend class registry;
  std::mutex mutex_;
  // key: model '\0' channel '\0' status
  std::map<std::string, std::uint64_t, std::less<>> requests_;
  std::map<std::string, histogram, std::less<>> durations_;  // by channel
};

// Why the gateway refused a request before routing it (authentication and admission).
enum class refusal {
  missing_key,
  invalid_key,
  expired,
  revoked,
  disabled,  // the key, or its owner
  ip_not_allowed,
  model_not_allowed,
  bad_signature,  // missing, malformed, stale, wrong or replayed
  blocked_ip,     // too many failed authentications from the address
  rate_requests,
  rate_tokens,
  concurrency,
  budget,    // the key's or its user's budget cannot cover the request
  unpriced,  // a key with a budget asked for a model without a price
  count_
};
std::string_view to_string(refusal r);

class registry {
 public:
  explicit registry(std::size_t shards);
  shard& at(std::size_t i) { return *shards_[i]; }

  std::atomic<std::int64_t>& in_flight() { return in_flight_; }
  void count(refusal r) {
    refusals_[static_cast<std::size_t>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  // Audit rows of failed authentications left out because too many came at once.
  void count_audit_dropped() { audit_dropped_.fetch_add(1, std::memory_order_relaxed); }
  std::uint64_t refusals(refusal r) const {
    return refusals_[static_cast<std::size_t>(r)].load(std::memory_order_relaxed);
  }

  // The Prometheus text exposition format, version 0.0.4.
  std::string render();

 private:
  std::vector<std::unique_ptr<shard>> shards_;
  std::atomic<std::int64_t> in_flight_{0};
  std::array<std::atomic<std::uint64_t>, static_cast<std::size_t>(refusal::count_)> refusals_{};
  std::atomic<std::uint64_t> audit_dropped_{0};
};

}  // namespace sy::metrics
