// Model name → the deployments that serve it (channel + the name the upstream knows it by),
// and the strategy that picks one. Today: weighted random over channel weights.
#pragma once

#include "auth/key_table.h"
#include "providers/channel.h"

#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sy {

struct deployment {
  channel* target = nullptr;
  std::string_view upstream_model;  // empty: the name the client asked for (glob routes)
  unsigned weight = 1;
};

class model_table {
 public:
  void add(channel& ch);

  // Fills `out` with the deployments serving `model`: exact names first; only when there is no
  // exact entry, every channel whose glob matches. Returns false when none serves it.
  bool lookup(std::string_view model, std::vector<deployment>& out) const;

  // Weighted random choice among `candidates` (not empty).
  static const deployment& pick(const std::vector<deployment>& candidates, std::uint64_t random);

  struct listed_model {
    std::string name;
    std::string owned_by;
  };
  // The exact model names `key` may use, sorted, once each.
  std::vector<listed_model> list_for(const key_record& key) const;

 private:
  struct name_hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
      return std::hash<std::string_view>{}(s);
    }
  };
  std::unordered_map<std::string, std::vector<deployment>, name_hash, std::equal_to<>> exact_;
  std::vector<std::pair<std::string, deployment>> globs_;
};

}  // namespace sy
