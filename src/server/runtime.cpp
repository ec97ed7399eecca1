#include "server/runtime.h"

namespace sy {

std::shared_ptr<runtime> runtime::build(config cfg) {
  auto rt = std::make_shared<runtime>();
  rt->cfg = std::move(cfg);
  for (const auto& k : rt->cfg.keys)
    rt->keys.add(k.key, key_record{k.name, k.models, false});
  if (!rt->cfg.master_key.empty()) {
    rt->keys.add(rt->cfg.master_key, key_record{"master", {"*"}, true});
  }
  for (const auto& ch : rt->cfg.channels) {
    rt->channels.push_back(std::make_unique<channel>(ch));
    rt->models.add(*rt->channels.back());
  }
  return rt;
}

}  // namespace sy
