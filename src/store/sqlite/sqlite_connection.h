// The SQLite backend of store::connection: one file in WAL mode, foreign keys on, a busy
// timeout so the CLI and a running server can share the file.
#pragma once

#include "store/sql.h"

struct sqlite3;

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

  sqlite3* db_;
};

}  // namespace sy::store
