// Model name → its group: the deployments that serve it (channel + the name the upstream knows
// it by) in priority tiers with weights, the strategy that picks one, its fallbacks, retries,
// deadline and hedging. Groups come from `models:` in the config, and every model a channel
// names itself is a one-line group (weighted, the channel's weight). Part of the immutable
// runtime snapshot; the deployments' health lives in the registry kept across snapshots.
#pragma once

#include "auth/key_table.h"
#include "config/config.h"
#include "providers/channel.h"
#include "routing/health.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sy {

struct deployment {
  channel* target = nullptr;
  std::string upstream_model;  // empty: the name the client asked for (glob routes)
  unsigned weight = 1;
  int priority = 0;
  std::string id;  // "channel/upstream model": x-sy-deployment, the health report
  std::shared_ptr<routing::target_health> health;
};

struct model_group {
  std::string name;
  route_strategy strategy = route_strategy::weighted;
  std::vector<deployment> deployments;  // by priority tier, then as configured
  std::vector<std::string> fallbacks;
  std::vector<std::string> context_window_fallbacks;
  std::vector<std::string> content_policy_fallbacks;
  int retries = 2;
  std::optional<std::chrono::milliseconds> timeout;
  std::optional<hedge_config> hedge;
  bool configured = false;                     // from `models:` (not a channel's one-line group)
  mutable std::atomic<std::uint64_t> next{0};  // round_robin's turn
};

class model_table {
 public:
  model_table() = default;
  model_table(const model_table&) = delete;
  model_table& operator=(const model_table&) = delete;
  model_table(model_table&&) = default;
  model_table& operator=(model_table&&) = default;

  // Builds the groups of `cfg.models` and of the channels' own models. `health` gives each
  // deployment and upstream key its health (kept by the registry across rebuilds). Deployments
  // naming an unknown channel are left out and listed in missing().
  void build(const config& cfg, const std::vector<std::unique_ptr<channel>>& channels,
             routing::health_registry& health);

  // The group serving `model`: an exact name, or, only when there is none, a group made in
  // `scratch` of every channel whose glob matches. Null when none serves it.
  const model_group* find(std::string_view model, std::optional<model_group>& scratch) const;

  struct listed_model {
    std::string name;
    std::string owned_by;
  };
  // The exact model names `key` may use, sorted, once each.
  std::vector<listed_model> list_for(const key_record& key) const;

  const std::vector<std::unique_ptr<model_group>>& groups() const { return ordered_; }
  // "models.<group>: channel '<name>' does not exist" for deployments left out.
  const std::vector<std::string>& missing() const { return missing_; }

 private:
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  struct glob_route {
    std::string pattern;
    deployment d;
  };
  std::unordered_map<std::string, model_group*, name_hash, std::equal_to<>> exact_;
  std::vector<std::unique_ptr<model_group>> ordered_;
  std::vector<glob_route> globs_;
  std::vector<std::string> missing_;
  int default_retries_ = 2;
};

// The health target id of a deployment and of an upstream key (never the key itself: its
// SHA-256 fingerprint's first 8 hex digits).
std::string deployment_id(std::string_view channel, std::string_view upstream_model);
std::string key_fingerprint(std::string_view api_key);
// The ids targets have in the health registry and GET /admin/health:
// "deployment:<channel>/<model>" and "key:<channel>#<fingerprint>".
inline std::string deployment_target(std::string_view deployment_id) {
  return "deployment:" + std::string(deployment_id);
}
inline std::string key_target(std::string_view channel, std::string_view api_key) {
  return "key:" + std::string(channel) + "#" + key_fingerprint(api_key);
}

}  // namespace sy
