#include "routing/health.h"

#include <algorithm>

namespace sy::routing {

namespace {

// Weight of a new sample in the moving averages: about the last ten answers count.
constexpr double ewma_alpha = 0.2;

double ms(std::chrono::microseconds d) {
  return static_cast<double>(d.count()) / 1000.0;
}

std::optional<double> percentile_of(const std::array<float, target_health::ring>& values,
                                    std::size_t n, int percentile) {
  if (n == 0) return std::nullopt;
  std::array<float, target_health::ring> copy;
  std::copy_n(values.begin(), n, copy.begin());
  const auto rank = std::min(n - 1, (n * static_cast<std::size_t>(percentile) + 99) / 100 - 1);
  std::nth_element(copy.begin(), copy.begin() + static_cast<std::ptrdiff_t>(rank),
                   copy.begin() + static_cast<std::ptrdiff_t>(n));
  return copy[rank];
}

}  // namespace

void target_health::observe(std::chrono::microseconds ttft, std::chrono::microseconds total,
                            std::int64_t output_tokens) {
  std::lock_guard lock(mutex_);
  const auto slot = next_;
  next_ = (next_ + 1) % ring;
  ttft_ms_[slot] = static_cast<float>(ms(ttft));
  total_ms_[slot] = static_cast<float>(ms(total));
  ttft_ewma_ = samples_ == 0 ? ms(ttft) : ttft_ewma_ + ewma_alpha * (ms(ttft) - ttft_ewma_);
  ++samples_;
  // Tokens per second of generation: the output over the time after the first byte (a single
  // JSON answer has no such split: its whole duration counts).
  auto generating = total > ttft ? total - ttft : total;
  if (output_tokens > 0 && generating.count() > 0) {
    const double tps =
        static_cast<double>(output_tokens) * 1e6 / static_cast<double>(generating.count());
    tps_ewma_ = tps_ewma_ == 0 ? tps : tps_ewma_ + ewma_alpha * (tps - tps_ewma_);
  }
}

target_health::stats target_health::snapshot() const {
  std::lock_guard lock(mutex_);
  stats s;
  s.samples = samples_;
  s.ttft_ewma_ms = ttft_ewma_;
  s.tokens_per_s_ewma = tps_ewma_;
  const auto n = static_cast<std::size_t>(std::min<std::int64_t>(samples_, ring));
  s.ttft_p50_ms = percentile_of(ttft_ms_, n, 50);
  s.ttft_p95_ms = percentile_of(ttft_ms_, n, 95);
  s.total_p50_ms = percentile_of(total_ms_, n, 50);
  s.total_p95_ms = percentile_of(total_ms_, n, 95);
  return s;
}

std::optional<double> target_health::expected_ms(std::int64_t output_tokens) const {
  std::lock_guard lock(mutex_);
  if (samples_ == 0) return std::nullopt;
  double expected = ttft_ewma_;
  if (tps_ewma_ > 0) expected += static_cast<double>(output_tokens) * 1000.0 / tps_ewma_;
  return expected;
}

std::optional<std::chrono::milliseconds> target_health::ttft_percentile(int percentile,
                                                                        int min_samples) const {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (samples_ < min_samples) return std::nullopt;
  if (cached_percentile_ == percentile && now - cached_at_ < std::chrono::milliseconds(250)) {
    return cached_;
  }
  const auto n = static_cast<std::size_t>(std::min<std::int64_t>(samples_, ring));
  auto p = percentile_of(ttft_ms_, n, percentile);
  cached_ = p ? std::optional(std::chrono::milliseconds(static_cast<std::int64_t>(*p + 0.999)))
              : std::nullopt;
  cached_at_ = now;
  cached_percentile_ = percentile;
  return cached_;
}

std::shared_ptr<target_health> health_registry::get(std::string_view id) {
  std::lock_guard lock(mutex_);
  auto it = targets_.find(std::string(id));
  if (it == targets_.end()) {
    it = targets_.emplace(std::string(id), std::make_shared<target_health>(options_)).first;
  }
  return it->second;
}

std::size_t health_registry::prune(const std::function<bool(std::string_view id)>& keep) {
  std::lock_guard lock(mutex_);
  return std::erase_if(targets_, [&](const auto& entry) { return !keep(entry.first); });
}

std::vector<std::pair<std::string, std::shared_ptr<target_health>>> health_registry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::shared_ptr<target_health>>> out(targets_.begin(),
                                                                          targets_.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace sy::routing
