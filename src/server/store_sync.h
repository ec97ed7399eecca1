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

// Loads once, blocking, and publishes the snapshot; then watches the store revision. The first
// load's failure is returned (the caller decides whether to start without managed keys).
std::optional<store::db_error> start_store_sync(server& srv, store::service& store,
                                                const config& cfg, const crypto::sealer* sealer,
                                                store_sync_options options = {});

}  // namespace sy
