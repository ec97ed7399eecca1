#include "routing/model_table.h"

#include <algorithm>

namespace sy {

void model_table::add(channel& ch) {
  for (const auto& route : ch.config().models) {
    deployment d{&ch, route.upstream_name, ch.config().weight};
    bool is_glob = route.public_name.find_first_of("*?") != std::string::npos;
    if (is_glob) {
      d.upstream_model = {};
      globs_.emplace_back(route.public_name, d);
    } else {
      exact_[route.public_name].push_back(d);
    }
  }
}

bool model_table::lookup(std::string_view model, std::vector<deployment>& out) const {
  out.clear();
  if (auto it = exact_.find(model); it != exact_.end()) {
    out = it->second;
    return true;
  }
  for (const auto& [pattern, d] : globs_) {
    if (glob_match(pattern, model)) out.push_back(d);
  }
  return !out.empty();
}

const deployment& model_table::pick(const std::vector<deployment>& candidates,
                                    std::uint64_t random) {
  if (candidates.size() == 1) return candidates.front();
  std::uint64_t total = 0;
  for (const auto& d : candidates)
    total += d.weight;
  auto point = random % total;
  for (const auto& d : candidates) {
    if (point < d.weight) return d;
    point -= d.weight;
  }
  return candidates.back();
}

std::vector<model_table::listed_model> model_table::list_for(const key_record& key) const {
  std::vector<listed_model> out;
  for (const auto& [name, deployments] : exact_) {
    if (key_allows_model(key, name)) out.push_back({name, deployments.front().target->name()});
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace sy
