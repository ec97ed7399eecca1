// The PostgreSQL backend of store::connection: one libpq connection, statements sent with
// PQexecParams (parameters in text format, $1, $2... as written), results read in text format and
// typed by their column's type (integers, floating point and numeric as numbers, the rest as text).
#pragma once

#include "store/sql.h"

struct pg_conn;

namespace sy::store {

class pg_connection final : public connection {
 public:
  // `url` is a libpq URI: postgres://user:pass@host:port/db?options...
  static result<std::unique_ptr<connection>> open(const std::string& url);
  ~pg_connection() override;

  result<std::vector<row>> query(std::string_view sql, const std::vector<value>& params) override;
  std::optional<db_error> exec_script(std::string_view sql) override;
  std::optional<db_error> begin() override;
  std::optional<db_error> commit() override;
  void rollback() override;
  std::string_view dialect() const override { return "postgres"; }

 private:
  explicit pg_connection(pg_conn* conn) : conn_(conn) {}
  void reconnect_if_lost();

  pg_conn* conn_;
  bool in_transaction_ = false;  // between begin() and commit() or rollback()
};

// The URL with its password (if any) replaced by "***", for messages and logs.
std::string redact_password(std::string_view url);

}  // namespace sy::store
