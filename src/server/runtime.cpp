#include "server/runtime.h"

#include "billing/budget_loader.h"

#include <unordered_set>

namespace sy {

std::shared_ptr<key_table> config_keys(const config& cfg, billing::budget_binder* budgets) {
  auto keys = std::make_shared<key_table>();
  for (const auto& k : cfg.keys) {
    key_record r{k.name, k.models, false};
    if (budgets)
      r.budget = budgets->bind("config_key", k.name, k.name, k.budget_nano_usd, k.budget_period);
    keys->add(k.key, std::move(r));
  }
  if (!cfg.master_key.empty()) keys->add(cfg.master_key, key_record{"master", {"*"}, true});
  return keys;
}

std::shared_ptr<runtime> runtime::build(config cfg) {
  auto keys = config_keys(cfg);
  return build(std::move(cfg), std::move(keys));
}

routing::breaker_options breaker_options_of(const breaker_config& c) {
  routing::breaker_options o;
  o.window = c.window;
  o.min_requests = c.min_requests;
  o.error_rate = c.error_rate;
  o.consecutive_failures = c.consecutive_failures;
  o.cooldown = c.cooldown;
  o.max_cooldown = c.max_cooldown;
  o.rate_limit_cooldown = c.rate_limit_cooldown;
  return o;
}

std::shared_ptr<runtime> runtime::build(config cfg, std::shared_ptr<const key_table> keys,
                                        const std::vector<channel_config>& managed_channels,
                                        std::shared_ptr<routing::health_registry> health) {
  auto rt = std::make_shared<runtime>();
  rt->cfg = std::move(cfg);
  rt->health =
      health
          ? std::move(health)
          : std::make_shared<routing::health_registry>(breaker_options_of(rt->cfg.routing.breaker));
  rt->keys = std::move(keys);
  rt->pricing = pricing_table(rt->cfg);
  const std::vector<channel_config>* lists[] = {&rt->cfg.channels, &managed_channels};
  for (const auto* list : lists) {
    for (const auto& ch : *list) {
      if (list == &managed_channels && !ch.pricing.empty()) {
        rt->pricing.set_channel(ch.name, ch.pricing);  // (the config's are in pricing_table(cfg))
      }
      if (ch.type == channel_type::mock && ch.pricing.empty()) {
        // A mock channel answers from the gateway itself: it costs nothing (a known zero, so
        // its requests are priced and budgets can be tried on it), unless priced otherwise.
        rt->pricing.set_channel(ch.name, {price_entry{"*", price{}}});
      }
      rt->channels.push_back(std::make_unique<channel>(ch));
    }
  }
  rt->models.build(rt->cfg, rt->channels, *rt->health);
  // What this snapshot no longer routes to is forgotten (a request still holding a target
  // keeps it alive until it ends).
  std::unordered_set<std::string> live;
  for (const auto& g : rt->models.groups()) {
    for (const auto& d : g->deployments)
      live.insert(deployment_target(d.id));
  }
  for (const auto& ch : rt->channels) {
    for (const auto& route : ch->config().models) {
      if (route.public_name.find_first_of("*?") != std::string::npos)
        live.insert(deployment_target(deployment_id(ch->name(), route.upstream_name)));
    }
    for (const auto& k : ch->config().api_keys)
      live.insert(key_target(ch->name(), k));
  }
  rt->health->prune([&](std::string_view id) { return live.count(std::string(id)) > 0; });
  return rt;
}

}  // namespace sy
