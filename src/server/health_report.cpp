#include "server/health_report.h"

#include "routing/router.h"

#include <boost/json.hpp>

#include <cmath>
#include <map>
#include <set>

namespace sy {

namespace {

using routing::steady;

std::string_view state_name(const routing::circuit_breaker::view& v) {
  if (v.disabled) return "disabled";
  if (v.state == routing::breaker_state::closed && v.cooling_for.count() > 0) return "cooling";
  return routing::to_string(v.state);
}

boost::json::value number_or_null(const std::optional<double>& v) {
  if (!v) return nullptr;
  return std::round(*v * 10) / 10;
}

boost::json::object target_json(std::string id, const routing::target_health& h,
                                steady::time_point now) {
  const auto v = h.breaker.state(now);
  const auto s = h.snapshot();
  boost::json::object o;
  o["id"] = std::move(id);
  o["state"] = state_name(v);
  o["reason"] = v.reason;
  o["usable"] = h.breaker.available(now);
  o["window_requests"] = v.window_requests;
  o["window_failures"] = v.window_failures;
  o["error_rate"] = v.window_requests > 0
                        ? std::round(1000.0 * static_cast<double>(v.window_failures) /
                                     static_cast<double>(v.window_requests)) /
                              1000.0
                        : 0.0;
  o["consecutive_failures"] = v.consecutive_failures;
  o["open_for_ms"] = v.open_for.count();
  o["cooling_for_ms"] = v.cooling_for.count();
  o["cooldown_ms"] = v.cooldown.count();
  o["in_flight"] = h.inflight.load(std::memory_order_relaxed);
  o["answers"] = s.samples;
  boost::json::object latency;
  latency["ttft_p50_ms"] = number_or_null(s.ttft_p50_ms);
  latency["ttft_p95_ms"] = number_or_null(s.ttft_p95_ms);
  latency["total_p50_ms"] = number_or_null(s.total_p50_ms);
  latency["total_p95_ms"] = number_or_null(s.total_p95_ms);
  latency["ttft_ewma_ms"] =
      number_or_null(s.samples > 0 ? std::optional<double>(s.ttft_ewma_ms) : std::nullopt);
  latency["tokens_per_s"] = number_or_null(
      s.tokens_per_s_ewma > 0 ? std::optional<double>(s.tokens_per_s_ewma) : std::nullopt);
  o["latency"] = std::move(latency);
  return o;
}

}  // namespace

std::string health_json(const runtime& rt) {
  const auto now = steady::now();
  // Each deployment once, with the groups that use it.
  std::map<std::string, std::pair<const deployment*, std::set<std::string>>> deployments;
  boost::json::array groups;
  for (const auto& g : rt.models.groups()) {
    boost::json::object o;
    o["name"] = g->name;
    o["strategy"] = to_string(g->strategy);
    o["configured"] = g->configured;
    boost::json::array ids;
    int usable = 0;
    for (const auto& d : g->deployments) {
      ids.emplace_back(d.id);
      if (routing::usable(d, now)) ++usable;
      auto& entry = deployments[d.id];
      entry.first = &d;
      entry.second.insert(g->name);
    }
    o["deployments"] = std::move(ids);
    o["usable_deployments"] = usable;
    boost::json::array fallbacks;
    for (const auto& f : g->fallbacks)
      fallbacks.emplace_back(f);
    o["fallbacks"] = std::move(fallbacks);
    o["retries"] = g->retries;
    if (g->timeout) {
      o["timeout_ms"] = g->timeout->count();
    } else {
      o["timeout_ms"] = nullptr;
    }
    groups.push_back(std::move(o));
  }
  boost::json::array deployment_list;
  for (const auto& [id, entry] : deployments) {
    const auto& d = *entry.first;
    auto o = target_json(deployment_target(id), *d.health, now);
    o["channel"] = d.target->name();
    o["model"] = d.upstream_model.empty() ? "*" : d.upstream_model;
    boost::json::array names;
    for (const auto& n : entry.second)
      names.emplace_back(n);
    o["groups"] = std::move(names);
    if (!d.target->keys_available(now)) {
      o["usable"] = false;
      if (o["reason"].as_string().empty()) o["reason"] = "every upstream key of its channel rests";
    }
    deployment_list.push_back(std::move(o));
  }
  boost::json::array keys;
  for (const auto& ch : rt.channels) {
    const auto& list = ch->config().api_keys;
    for (std::size_t i = 0; i < list.size(); ++i) {
      const auto* h = ch->key_health(static_cast<int>(i));
      if (!h) continue;
      const auto fingerprint = key_fingerprint(list[i]);
      auto o = target_json(key_target(ch->name(), list[i]), *h, now);
      o["channel"] = ch->name();
      o["index"] = i;
      o["fingerprint"] = fingerprint;
      keys.push_back(std::move(o));
    }
  }
  boost::json::array problems;
  for (const auto& m : rt.models.missing())
    problems.emplace_back(m);
  boost::json::object body;
  body["deployments"] = std::move(deployment_list);
  body["keys"] = std::move(keys);
  body["groups"] = std::move(groups);
  body["problems"] = std::move(problems);
  return boost::json::serialize(body);
}

bool reset_health(const runtime& rt, std::string_view target) {
  auto reset = [](routing::target_health& h) {
    h.breaker.enable();
    h.breaker.reset();
  };
  for (const auto& g : rt.models.groups()) {
    for (const auto& d : g->deployments) {
      if (target == deployment_target(d.id)) {
        reset(*d.health);
        return true;
      }
    }
  }
  for (const auto& ch : rt.channels) {
    const auto& list = ch->config().api_keys;
    for (std::size_t i = 0; i < list.size(); ++i) {
      auto* h = ch->key_health(static_cast<int>(i));
      if (h && target == key_target(ch->name(), list[i])) {
        reset(*h);
        return true;
      }
    }
  }
  return false;
}

}  // namespace sy
