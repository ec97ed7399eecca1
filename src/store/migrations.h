// The schema, as numbered migrations applied in order, each in its own transaction, recorded in
// schema_migrations. The same SQL serves SQLite and PostgreSQL (see store/sql.h).
#pragma once

#include "store/sql.h"

#include <optional>
#include <span>
#include <string_view>

namespace sy::store {

struct migration {
  std::int64_t version;
  std::string_view name;
  std::string_view sql;
};

// Every migration, in order.
std::span<const migration> migrations();

// Applies the migrations `db` has not had yet. Returns the first failure (its migration rolled
// back), or nothing.
std::optional<db_error> migrate(connection& db);

// The highest migration applied to `db` (0 for a new database).
result<std::int64_t> schema_version(connection& db);

// The store revision: a counter every writer of users, keys and channels increments after its
// change (store::accounts and store::channels do it themselves), so that running gateways, which
// poll it, reload their in-memory tables within a second, whoever made the change (this instance,
// another one, or the CLI).
std::optional<db_error> bump_revision(connection& db);
result<std::int64_t> read_revision(connection& db);

}  // namespace sy::store
