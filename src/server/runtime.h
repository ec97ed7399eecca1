// The immutable snapshot every request reads: config, key table, channels, model table.
// Built at start, and built again and swapped in (server::publish) when managed keys or channels
// change in the store; never mutated while shared, except for the channels' round-robin counters,
// which are atomics.
#pragma once

#include "auth/key_table.h"
#include "billing/pricing.h"
#include "config/config.h"
#include "providers/channel.h"
#include "routing/health.h"
#include "routing/model_table.h"

#include <memory>
#include <vector>

namespace sy {

struct runtime {
  config cfg;
  std::shared_ptr<const key_table> keys;
  std::vector<std::unique_ptr<channel>> channels;
  model_table models;
  // The health of every deployment and upstream key, shared by the snapshots that follow this
  // one (a store change must not forget it).
  std::shared_ptr<routing::health_registry> health;
  // The shipped prices, the config's `pricing:`, and every channel's own (managed ones too).
  pricing_table pricing;

  // With the config file's keys (and master key) only.
  static std::shared_ptr<runtime> build(config cfg);
  // With `keys` (config_keys(cfg) plus the managed ones) and the store's channels after the
  // config file's. `health`: the previous snapshot's registry (a new one when null); targets
  // of channels and keys that no longer exist are forgotten.
  static std::shared_ptr<runtime> build(config cfg, std::shared_ptr<const key_table> keys,
                                        const std::vector<channel_config>& managed_channels = {},
                                        std::shared_ptr<routing::health_registry> health = {});
};

namespace billing {
class budget_binder;
}

// The circuit breaker options of `routing.breaker`.
routing::breaker_options breaker_options_of(const breaker_config& c);

// A key table holding the config file's keys and its master key; keys with a budget get their
// accounts from `budgets` (when given).
std::shared_ptr<key_table> config_keys(const config& cfg,
                                       billing::budget_binder* budgets = nullptr);

}  // namespace sy
