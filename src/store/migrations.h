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

}  // namespace sy::store
