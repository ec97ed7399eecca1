// /admin/...: the admin REST API over HTTP (docs/admin-api.md). The caller authenticates with
// the master key or a managed key (its owner's role decides what it may do); the call itself
// runs on the store thread (admin::handle), and a change is loaded into this instance's key table
// before the answer leaves.
#pragma once

#include "server/context.h"

namespace sy {

asio::awaitable<void> serve_admin(request_context& ctx);

}  // namespace sy
