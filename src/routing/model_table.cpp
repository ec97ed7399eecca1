#include "routing/model_table.h"

#include "common/crypto.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sy {

std::string deployment_id(std::string_view channel, std::string_view upstream_model) {
  std::string id(channel);
  id += '/';
  id += upstream_model;
  return id;
}

std::string key_fingerprint(std::string_view api_key) {
  return crypto::sha256_hex(api_key).substr(0, 8);
}

namespace {

void sort_tiers(model_group& g) {
  std::stable_sort(
      g.deployments.begin(), g.deployments.end(),
      [](const deployment& a, const deployment& b) { return a.priority < b.priority; });
}

}  // namespace

void model_table::build(const config& cfg, const std::vector<std::unique_ptr<channel>>& channels,
                        routing::health_registry& health) {
  default_retries_ = cfg.routing.retries;
  auto find_channel = [&](std::string_view name) -> channel* {
    for (const auto& ch : channels) {
      if (ch->name() == name) return ch.get();
    }
    return nullptr;
  };
  auto make = [&](channel& ch, std::string upstream_model, unsigned weight, int priority) {
    deployment d;
    d.target = &ch;
    d.id = deployment_id(ch.name(), upstream_model);
    d.upstream_model = std::move(upstream_model);
    d.weight = weight;
    d.priority = priority;
    d.health = health.get(deployment_target(d.id));
    return d;
  };
  for (const auto& ch : channels) {
    std::vector<std::shared_ptr<routing::target_health>> keys;
    for (const auto& k : ch->config().api_keys)
      keys.push_back(health.get(key_target(ch->name(), k)));
    ch->set_key_health(std::move(keys));
  }
  // Groups of `models:` first: a channel's own model of the same name (a managed channel's;
  // the config file refuses it) gives way to the group.
  for (const auto& gc : cfg.models) {
    auto g = std::make_unique<model_group>();
    g->name = gc.name;
    g->strategy = gc.strategy;
    g->fallbacks = gc.fallbacks;
    g->context_window_fallbacks = gc.context_window_fallbacks;
    g->content_policy_fallbacks = gc.content_policy_fallbacks;
    g->retries = gc.retries.value_or(cfg.routing.retries);
    g->timeout = gc.timeout;
    g->hedge = gc.hedge;
    g->configured = true;
    for (const auto& dc : gc.deployments) {
      auto* ch = find_channel(dc.channel);
      if (!ch) {
        missing_.push_back("models." + gc.name + ": channel '" + dc.channel + "' does not exist");
        continue;
      }
      g->deployments.push_back(
          make(*ch, dc.model.empty() ? gc.name : dc.model, dc.weight, dc.priority));
    }
    sort_tiers(*g);
    exact_[g->name] = g.get();
    ordered_.push_back(std::move(g));
  }
  for (const auto& ch : channels) {
    for (const auto& route : ch->config().models) {
      if (route.public_name.find_first_of("*?") != std::string::npos) {
        auto d = make(*ch, route.upstream_name, ch->config().weight, 0);
        d.upstream_model.clear();  // the requested name goes upstream
        globs_.push_back({route.public_name, std::move(d)});
        continue;
      }
      auto it = exact_.find(route.public_name);
      if (it != exact_.end() && it->second->configured) {
        missing_.push_back("channel '" + ch->name() + "': model '" + route.public_name +
                           "' is served by the models: group of that name instead");
        continue;
      }
      if (it == exact_.end()) {
        auto g = std::make_unique<model_group>();
        g->name = route.public_name;
        g->retries = cfg.routing.retries;
        it = exact_.emplace(g->name, g.get()).first;
        ordered_.push_back(std::move(g));
      }
      it->second->deployments.push_back(make(*ch, route.upstream_name, ch->config().weight, 0));
    }
  }
  for (const auto& m : missing_)
    spdlog::warn("routing: {}", m);
}

const model_group* model_table::find(std::string_view model,
                                     std::optional<model_group>& scratch) const {
  if (auto it = exact_.find(model); it != exact_.end()) {
    return it->second->deployments.empty() ? nullptr : it->second;
  }
  for (const auto& g : globs_) {
    if (!glob_match(g.pattern, model)) continue;
    if (!scratch) {
      scratch.emplace();
      scratch->name = std::string(model);
      scratch->retries = default_retries_;
    }
    scratch->deployments.push_back(g.d);
  }
  return scratch ? &*scratch : nullptr;
}

std::vector<model_table::listed_model> model_table::list_for(const key_record& key) const {
  std::vector<listed_model> out;
  for (const auto& g : ordered_) {
    if (g->deployments.empty() || !key_allows_model(key, g->name)) continue;
    out.push_back({g->name, g->deployments.front().target->name()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace sy
