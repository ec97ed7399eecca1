#include "metrics/metrics.h"

#include <fmt/format.h>

namespace sy::metrics {
namespace {

// Label values are escaped as the exposition format requires: backslash, quote, newline.
std::string label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < duration_buckets.size() && seconds > duration_buckets[i])
    ++i;
  ++counts[i];
  sum += seconds;
  ++count;
}

void shard::record(std::string_view model, std::string_view channel, int status, double seconds) {
  // One reused buffer per thread: no allocation once the series exists.
  thread_local std::string key;
  key.clear();
  key.append(model);
  key += '\0';
  key.append(channel);
  key += '\0';
  fmt::format_to(std::back_inserter(key), "{}", status);
  std::lock_guard lock(mutex_);
  auto it = requests_.find(std::string_view(key));
  if (it == requests_.end()) it = requests_.emplace(key, 0).first;
  ++it->second;
  auto h = durations_.find(channel);
  if (h == durations_.end()) h = durations_.emplace(std::string(channel), histogram{}).first;
  h->second.observe(seconds);
}

registry::registry(std::size_t shards) {
  for (std::size_t i = 0; i < shards; ++i)
    shards_.push_back(std::make_unique<shard>());
}

std::string_view to_string(refusal r) {
  static constexpr std::string_view names[] = {
      "missing_key",    "invalid_key",       "expired",       "revoked",    "disabled",
      "ip_not_allowed", "model_not_allowed", "bad_signature", "blocked_ip", "rate_requests",
      "rate_tokens",    "concurrency",       "budget",        "unpriced"};
  static_assert(std::size(names) == static_cast<std::size_t>(refusal::count_));
  return names[static_cast<std::size_t>(r)];
}

std::string registry::render() {
  std::map<std::string, std::uint64_t> requests;
  std::map<std::string, histogram> durations;
  for (auto& s : shards_) {
    std::lock_guard lock(s->mutex_);
    for (const auto& [k, v] : s->requests_)
      requests[k] += v;
    for (const auto& [k, h] : s->durations_) {
      auto& total = durations[k];
      for (std::size_t i = 0; i < h.counts.size(); ++i)
        total.counts[i] += h.counts[i];
      total.sum += h.sum;
      total.count += h.count;
    }
  }
  std::string out;
  out += "# HELP switchyard_requests_total Requests answered, by model, channel and status.\n";
  out += "# TYPE switchyard_requests_total counter\n";
  for (const auto& [k, v] : requests) {
    auto a = k.find('\0');
    auto b = k.find('\0', a + 1);
    fmt::format_to(std::back_inserter(out),
                   "switchyard_requests_total{{model=\"{}\",channel=\"{}\",status=\"{}\"}} {}\n",
                   label(k.substr(0, a)), label(k.substr(a + 1, b - a - 1)), k.substr(b + 1), v);
  }
  out += "# HELP switchyard_request_duration_seconds Time from request to last response byte.\n";
  out += "# TYPE switchyard_request_duration_seconds histogram\n";
  for (const auto& [channel, h] : durations) {
    auto ch = label(channel);
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      if (i < duration_buckets.size()) {
        fmt::format_to(
            std::back_inserter(out),
            "switchyard_request_duration_seconds_bucket{{channel=\"{}\",le=\"{}\"}} {}\n", ch,
            duration_buckets[i], cumulative);
      } else {
        fmt::format_to(
            std::back_inserter(out),
            "switchyard_request_duration_seconds_bucket{{channel=\"{}\",le=\"+Inf\"}} {}\n", ch,
            cumulative);
      }
    }
    fmt::format_to(std::back_inserter(out),
                   "switchyard_request_duration_seconds_sum{{channel=\"{}\"}} {}\n"
                   "switchyard_request_duration_seconds_count{{channel=\"{}\"}} {}\n",
                   ch, h.sum, ch, h.count);
  }
  out += "# HELP switchyard_requests_in_flight Requests being served now.\n";
  out += "# TYPE switchyard_requests_in_flight gauge\n";
  fmt::format_to(std::back_inserter(out), "switchyard_requests_in_flight {}\n",
                 in_flight_.load(std::memory_order_relaxed));
  out +=
      "# HELP switchyard_refusals_total Requests refused by authentication or admission, by "
      "reason.\n";
  out += "# TYPE switchyard_refusals_total counter\n";
  for (std::size_t i = 0; i < refusals_.size(); ++i) {
    fmt::format_to(std::back_inserter(out), "switchyard_refusals_total{{reason=\"{}\"}} {}\n",
                   to_string(static_cast<refusal>(i)),
                   refusals_[i].load(std::memory_order_relaxed));
  }
  out +=
      "# HELP switchyard_audit_dropped_total Audit rows of failed authentications not written "
      "because too many came at once.\n";
  out += "# TYPE switchyard_audit_dropped_total counter\n";
  fmt::format_to(std::back_inserter(out), "switchyard_audit_dropped_total {}\n",
                 audit_dropped_.load(std::memory_order_relaxed));
  return out;
}

}  // namespace sy::metrics
