// The SQLite backend of store::connection: one file in WAL mode, foreign keys on, a busy
// timeout so the CLI and a running server can share the file.
#pragma once

#include "store/sql.h"

#include <string>
#include <unordered_map>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace sy::store {

class sqlite_connection final : public connection {
 public:
  static result<std::unique_ptr<connection>> open(const std::string& path);
  ~sqlite_connection() override;

  result<std::vector<row>> query(std::string_view sql, const std::vector<value>& params) override;
  std::optional<db_error> exec_script(std::string_view sql) override;
  std::optional<db_error> begin() override;
  std::optional<db_error> commit() override;
  void rollback() override;
  std::string_view dialect() const override { return "sqlite"; }

 private:
  explicit sqlite_connection(sqlite3* db) : db_(db) {}
  db_error last_error() const;

  // Prepared statements, by SQL text, with the SQLite index of each $n parameter: the ledger's
  // batches (thousands of parameters) and the store's frequent queries are prepared once, and
  // no parameter name is looked up twice. Bounded: cleared when it holds max_cached.
  struct prepared {
    sqlite3_stmt* stmt = nullptr;
    std::vector<int> index;  // index[n - 1]: the SQLite index of $n (0: unused)
  };
  static constexpr std::size_t max_cached = 64;
  result<prepared*> prepare(std::string_view sql, std::size_t params);
  void clear_cache();

  sqlite3* db_;
  std::unordered_map<std::string, prepared> cache_;
};

}  // namespace sy::store
