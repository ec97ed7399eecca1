#include "store/sqlite/sqlite_connection.h"

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>

namespace sy::store {

result<std::unique_ptr<connection>> sqlite_connection::open(const std::string& path) {
  if (path != ":memory:") {
    auto dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    if (ec) return db_error{"cannot create the folder of " + path + ": " + ec.message()};
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    db_error e{"cannot open " + path + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc))};
    sqlite3_close(db);
    return e;
  }
  std::unique_ptr<sqlite_connection> conn(new sqlite_connection(db));
  sqlite3_busy_timeout(db, 5000);  // the CLI and a running server share the file
  if (auto e = conn->exec_script("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON;"
                                 "PRAGMA synchronous=NORMAL;")) {
    return *e;
  }
  return std::unique_ptr<connection>(std::move(conn));
}

sqlite_connection::~sqlite_connection() {
  clear_cache();
  sqlite3_close_v2(db_);
}

db_error sqlite_connection::last_error() const {
  int code = sqlite3_errcode(db_);
  return db_error{sqlite3_errmsg(db_), (code & 0xff) == SQLITE_CONSTRAINT};
}

void sqlite_connection::clear_cache() {
  for (auto& [sql, p] : cache_)
    sqlite3_finalize(p.stmt);
  cache_.clear();
}

result<sqlite_connection::prepared*> sqlite_connection::prepare(std::string_view sql,
                                                                std::size_t params) {
  auto it = cache_.find(std::string(sql));
  if (it == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
      return last_error();
    }
    if (cache_.size() >= max_cached) clear_cache();
    it = cache_.emplace(std::string(sql), prepared{stmt, {}}).first;
  }
  auto& p = it->second;
  // Parameters are written $1, $2...: SQLite takes them as named parameters "$1", "$2".
  for (std::size_t i = p.index.size(); i < params; ++i) {
    char name[24];
    std::snprintf(name, sizeof name, "$%zu", i + 1);
    p.index.push_back(sqlite3_bind_parameter_index(p.stmt, name));
  }
  return &p;
}

result<std::vector<row>> sqlite_connection::query(std::string_view sql,
                                                  const std::vector<value>& params) {
  auto prepared = prepare(sql, params.size());
  if (auto* e = std::get_if<db_error>(&prepared)) return *e;
  sqlite3_stmt* stmt = std::get<sqlite_connection::prepared*>(prepared)->stmt;
  const auto& index_of = std::get<sqlite_connection::prepared*>(prepared)->index;
  // Ready for its next use however this one ends; the bound values are let go.
  struct resetter {
    sqlite3_stmt* s;
    ~resetter() {
      sqlite3_reset(s);
      sqlite3_clear_bindings(s);
    }
  } guard{stmt};
  for (std::size_t i = 0; i < params.size(); ++i) {
    const int index = index_of[i];
    if (index == 0) continue;  // not used by this statement
    int rc = std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::monostate>) {
            return sqlite3_bind_null(stmt, index);
          } else if constexpr (std::is_same_v<T, std::int64_t>) {
            return sqlite3_bind_int64(stmt, index, v);
          } else if constexpr (std::is_same_v<T, double>) {
            return sqlite3_bind_double(stmt, index, v);
          } else {
            return sqlite3_bind_text(stmt, index, v.data(), static_cast<int>(v.size()),
                                     SQLITE_STATIC);  // params outlive the statement's use
          }
        },
        params[i]);
    if (rc != SQLITE_OK) return last_error();
  }
  std::vector<row> rows;
  for (;;) {
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return last_error();
    row r;
    int n = sqlite3_column_count(stmt);
    r.columns.reserve(static_cast<std::size_t>(n));
    for (int c = 0; c < n; ++c) {
      switch (sqlite3_column_type(stmt, c)) {
        case SQLITE_NULL:
          r.columns.emplace_back(std::monostate{});
          break;
        case SQLITE_INTEGER:
          r.columns.emplace_back(static_cast<std::int64_t>(sqlite3_column_int64(stmt, c)));
          break;
        case SQLITE_FLOAT:
          r.columns.emplace_back(sqlite3_column_double(stmt, c));
          break;
        default: {
          auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
          int bytes = sqlite3_column_bytes(stmt, c);
          r.columns.emplace_back(std::string(
              text ? text : "", text && bytes > 0 ? static_cast<std::size_t>(bytes) : 0));
        }
      }
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::optional<db_error> sqlite_connection::exec_script(std::string_view sql) {
  std::string text(sql);
  char* message = nullptr;
  if (sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    db_error e{message ? message : "sqlite error", false};
    sqlite3_free(message);
    return e;
  }
  return std::nullopt;
}

std::optional<db_error> sqlite_connection::begin() {
  return exec_script("BEGIN IMMEDIATE");
}
std::optional<db_error> sqlite_connection::commit() {
  return exec_script("COMMIT");
}
void sqlite_connection::rollback() {
  exec_script("ROLLBACK");
}

}  // namespace sy::store
