#include "server/store_sync.h"

#include "auth/managed_keys.h"
#include "billing/budget_loader.h"
#include "server/runtime.h"
#include "server/server.h"
#include "store/channels.h"
#include "store/service.h"

#include <spdlog/spdlog.h>

namespace sy {
namespace {

// Runs on the store thread. `channels` keeps the last channel list that loaded, for a store that
// cannot be read now.
std::optional<store::db_error> reload(server& srv, store::connection& db, const config& cfg,
                                      const crypto::sealer* sealer,
                                      std::vector<channel_config>& channels) {
  auto loaded = load_managed_accounts(db);
  if (auto* e = std::get_if<store::db_error>(&loaded)) return *e;
  store::channels repo(db, sealer);
  std::vector<store::db_error> unreadable;
  auto listed = repo.list(&unreadable);
  if (auto* e = std::get_if<store::db_error>(&listed)) {
    spdlog::warn("store: cannot load the managed channels, keeping the previous ones: {}",
                 e->message);
  } else {
    // One channel that does not load (its keys sealed under another SWITCHYARD_SECRET_KEY) is
    // left out; the others are served.
    for (const auto& bad : unreadable)
      spdlog::warn("store: a managed channel is not served: {}", bad.message);
    channels.clear();
    for (auto& row : std::get<std::vector<store::channel_row>>(listed))
      channels.push_back(std::move(row.channel));
  }
  billing::budget_binder budgets(srv.budgets(), &db, srv.ledger(), billing::unix_now_ms());
  auto keys = config_keys(cfg, &budgets);
  add_managed_keys(*keys, std::get<managed_accounts>(loaded), sealer, &srv.limiters(), &budgets);
  // Without their ledger spend, budgets would start short: this build is not used (the accounts
  // that needed the ledger were left out or as they were), and the next reload tries again.
  if (budgets.failure()) return *budgets.failure();
  budgets.prune();
  srv.publish(runtime::build(cfg, std::move(keys), channels, srv.current()->health));
  return std::nullopt;
}

}  // namespace

std::optional<store::db_error> load_from_store(server& srv, store::service& store,
                                               const config& cfg, const crypto::sealer* sealer) {
  auto channels = std::make_shared<std::vector<channel_config>>();
  auto first =
      store.call([&](store::connection& db) { return reload(srv, db, cfg, sealer, *channels); });
  srv.set_reloader([&srv, cfg, sealer, channels](store::connection& db) {
    if (auto e = reload(srv, db, cfg, sealer, *channels)) {
      spdlog::warn("store: reloading keys failed, keeping the previous ones: {}", e->message);
      return false;
    }
    return true;
  });
  return first;
}

void publish_without_store(server& srv, const config& cfg) {
  billing::budget_binder budgets(srv.budgets(), nullptr, nullptr, billing::unix_now_ms());
  srv.publish(runtime::build(cfg, config_keys(cfg, &budgets), {}, srv.current()->health));
}

void follow_store(server& srv, store::service& store, store_sync_options options) {
  store.watch(options.poll, options.full_reload,
              [&srv](store::connection& db) { return srv.reload_from_store(db); });
}

}  // namespace sy
