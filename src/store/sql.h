// The one thing a store backend provides: a connection that runs parameterised SQL. Everything
// typed (users, keys, channels, audit, migrations) is written once above it, in SQL both SQLite
// and PostgreSQL accept: parameters are written $1, $2, ... (SQLite reads them as named
// parameters), ids are text made by the gateway, times are unix seconds in BIGINT columns, and
// JSON is stored as TEXT.
//
// Not on the request path: the data plane reads in-memory tables refreshed from the store.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sy::store {

// A column value or a parameter: NULL, an integer, a double or text.
using value = std::variant<std::monostate, std::int64_t, double, std::string>;

struct row {
  std::vector<value> columns;

  bool is_null(std::size_t i) const { return std::holds_alternative<std::monostate>(columns[i]); }
  std::int64_t integer(std::size_t i) const;  // 0 for NULL; text is parsed
  std::string text(std::size_t i) const;      // "" for NULL; numbers are formatted
};

struct db_error {
  std::string message;
  bool constraint = false;  // a UNIQUE / FOREIGN KEY / CHECK violation (a client error)
};

template <class T>
using result = std::variant<T, db_error>;

class connection {
 public:
  virtual ~connection() = default;

  // Runs one statement; returns the rows it produced (none for most writes).
  virtual result<std::vector<row>> query(std::string_view sql,
                                         const std::vector<value>& params = {}) = 0;
  // Runs one or more statements without parameters (schema changes).
  virtual std::optional<db_error> exec_script(std::string_view sql) = 0;

  virtual std::optional<db_error> begin() = 0;
  virtual std::optional<db_error> commit() = 0;
  virtual void rollback() = 0;

  // "sqlite" or "postgres", for the few places where the dialects differ.
  virtual std::string_view dialect() const = 0;
};

// Opens the database named by a `database:` setting: "sqlite:<path>" (the file and its folder are
// created) or "postgres://..." / "postgresql://...".
result<std::unique_ptr<connection>> open(const std::string& url);

// The URL with its password replaced by "***", for messages and logs.
std::string redact_url(const std::string& url);

}  // namespace sy::store
