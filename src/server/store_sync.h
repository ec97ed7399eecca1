// Keeps a server's snapshot in step with the store: managed keys (and, later, channels) are
// loaded before the first request and again within a second of any change, whoever made it.
#pragma once

#include "config/config.h"
#include "store/sql.h"

#include <chrono>
#include <optional>

namespace sy {
class server;
namespace store {
class service;
}
namespace crypto {
class sealer;
}

struct store_sync_options {
  std::chrono::milliseconds poll{250};
  std::chrono::milliseconds full_reload{60000};
};

// Loads once, blocking, and publishes the snapshot (before server::start, so the first requests
// see the managed keys); installs the server's reloader. Returns the load's failure.
std::optional<store::db_error> load_from_store(server& srv, store::service& store,
                                               const config& cfg, const crypto::sealer* sealer);

// Without a store (database: none): publishes the config file's keys with their budgets, which
// then start from zero at each start (there are no books to read them from).
void publish_without_store(server& srv, const config& cfg);

// From now on (after server::start), reloads whenever the store revision moves. The store must
// be stopped before the server is destroyed: its thread publishes to it.
void follow_store(server& srv, store::service& store, store_sync_options options = {});

}  // namespace sy
