#include "server/runtime.h"

#include "billing/budget_loader.h"

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

std::shared_ptr<runtime> runtime::build(config cfg, std::shared_ptr<const key_table> keys,
                                        const std::vector<channel_config>& managed_channels) {
  auto rt = std::make_shared<runtime>();
  rt->cfg = std::move(cfg);
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
      rt->models.add(*rt->channels.back());
    }
  }
  return rt;
}

}  // namespace sy
