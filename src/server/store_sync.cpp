#include "server/store_sync.h"

#include "auth/managed_keys.h"
#include "server/runtime.h"
#include "server/server.h"
#include "store/service.h"

#include <spdlog/spdlog.h>

namespace sy {
namespace {

// Runs on the store thread.
std::optional<store::db_error> reload(server& srv, store::connection& db, const config& cfg,
                                      const crypto::sealer* sealer) {
  auto loaded = load_managed_accounts(db);
  if (auto* e = std::get_if<store::db_error>(&loaded)) return *e;
  auto keys = config_keys(cfg);
  add_managed_keys(*keys, std::get<managed_accounts>(loaded), sealer, &srv.limiters());
  srv.publish(runtime::build(cfg, std::move(keys)));
  return std::nullopt;
}

}  // namespace

std::optional<store::db_error> start_store_sync(server& srv, store::service& store,
                                                const config& cfg, const crypto::sealer* sealer,
                                                store_sync_options options) {
  auto first = store.call([&](store::connection& db) { return reload(srv, db, cfg, sealer); });
  auto again = [&srv, cfg, sealer](store::connection& db) {
    if (auto e = reload(srv, db, cfg, sealer)) {
      spdlog::warn("store: reloading keys failed, keeping the previous ones: {}", e->message);
    }
  };
  srv.set_reloader(again);
  store.watch(options.poll, options.full_reload, again);
  return first;
}

}  // namespace sy
