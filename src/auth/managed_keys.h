// Managed keys into the in-memory key table: the store's users and keys are read whole (on the
// store thread) and turned into key records the data plane checks without touching the store.
#pragma once

#include "auth/key_table.h"
#include "store/accounts.h"

#include <vector>

namespace sy {
namespace crypto {
class sealer;
}
namespace billing {
class budget_binder;
}
class limiter_registry;

struct managed_accounts {
  std::vector<store::user_row> users;
  std::vector<store::key_row> keys;
};

// Every user and every key, in pages (so a large table is never one giant result).
store::result<managed_accounts> load_managed_accounts(store::connection& db);

// Adds each managed key to `table`: under its current hash, and under its previous one until the
// end of its rotation grace period. Revoked, disabled and expired keys are added too, so that the
// refusal can say why. A signing secret that cannot be opened (no SWITCHYARD_SECRET_KEY, or
// another one) leaves the key requiring a signature nobody can make: it fails closed.
// Keys with limits get their limiter from `limiters` (the same one across reloads, so a reload
// does not refill anybody's buckets); limiters of keys that no longer have limits are dropped.
// Keys and users with a budget get their accounts from `budgets` (when given).
void add_managed_keys(key_table& table, const managed_accounts& accounts,
                      const crypto::sealer* sealer, limiter_registry* limiters,
                      billing::budget_binder* budgets = nullptr);

}  // namespace sy
