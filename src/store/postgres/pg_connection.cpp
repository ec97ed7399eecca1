#include "store/postgres/pg_connection.h"

#include <libpq-fe.h>

#include <charconv>
#include <cstring>

namespace sy::store {
namespace {

// Type OIDs of the built-in types (src/include/catalog/pg_type.dat; stable across versions).
constexpr Oid int8_oid = 20, int2_oid = 21, int4_oid = 23, text_oid = 25, float4_oid = 700,
              float8_oid = 701, numeric_oid = 1700;

struct result_guard {
  PGresult* r;
  ~result_guard() { PQclear(r); }
};

std::string trimmed(const char* message) {
  std::string out = message ? message : "";
  while (!out.empty() && (out.back() == '\n' || out.back() == ' '))
    out.pop_back();
  return out;
}

// Turns a failed result (or a missing one: out of memory, lost connection) into a db_error.
// SQLSTATE class 23 is "integrity constraint violation": UNIQUE, FOREIGN KEY, CHECK, NOT NULL.
db_error error_of(PGconn* conn, const PGresult* r) {
  if (!r) return db_error{trimmed(PQerrorMessage(conn)), false};
  const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  std::string message = trimmed(PQresultErrorMessage(r));
  if (message.empty()) message = trimmed(PQerrorMessage(conn));
  return db_error{std::move(message), state && std::strncmp(state, "23", 2) == 0};
}

bool failed(const PGresult* r) {
  if (!r) return true;
  auto status = PQresultStatus(r);
  return status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY;
}

// The parameter numbers a statement refers to ($1, $12...). PostgreSQL wants a type for every
// parameter it is sent, and cannot infer one for a parameter the statement never uses.
std::vector<bool> referenced(std::string_view sql, std::size_t count) {
  std::vector<bool> used(count, false);
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '$') continue;
    std::size_t n = 0;
    auto [end, ec] = std::from_chars(sql.data() + i + 1, sql.data() + sql.size(), n);
    if (ec == std::errc() && n >= 1 && n <= count) used[n - 1] = true;
  }
  return used;
}

value column_value(const PGresult* r, int row_index, int c) {
  if (PQgetisnull(r, row_index, c)) return std::monostate{};
  const char* text = PQgetvalue(r, row_index, c);
  std::size_t size = static_cast<std::size_t>(PQgetlength(r, row_index, c));
  switch (PQftype(r, c)) {
    case int2_oid:
    case int4_oid:
    case int8_oid: {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(text, text + size, n);
      if (ec == std::errc() && end == text + size) return n;
      break;
    }
    case float4_oid:
    case float8_oid:
    case numeric_oid: {
      double d = 0;
      auto [end, ec] = std::from_chars(text, text + size, d);
      if (ec == std::errc() && end == text + size) return d;
      break;
    }
    default:
      break;
  }
  return std::string(text, size);
}

}  // namespace

std::string redact_password(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  auto start = scheme + 3;
  auto authority_end = url.find_first_of("/?", start);
  if (authority_end == std::string_view::npos) authority_end = url.size();
  auto at = url.rfind('@', authority_end);
  if (at == std::string_view::npos || at < start) return std::string(url);
  auto colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  return std::string(url.substr(0, colon + 1)) + "***" + std::string(url.substr(at));
}

result<std::unique_ptr<connection>> pg_connection::open(const std::string& url) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (!conn) return db_error{"cannot connect to " + redact_password(url) + ": out of memory"};
  if (PQstatus(conn) != CONNECTION_OK) {
    db_error e{"cannot connect to " + redact_password(url) + ": " + trimmed(PQerrorMessage(conn))};
    PQfinish(conn);
    return e;
  }
  // NOTICEs ("relation already exists, skipping", ...) would go to stderr otherwise.
  PQsetNoticeProcessor(
      conn, [](void*, const char*) {}, nullptr);
  std::unique_ptr<pg_connection> out(new pg_connection(conn));
  if (PQsetClientEncoding(conn, "UTF8") != 0) {
    return db_error{"cannot set the client encoding to UTF8: " + trimmed(PQerrorMessage(conn))};
  }
  return std::unique_ptr<connection>(std::move(out));
}

pg_connection::~pg_connection() {
  PQfinish(conn_);
}

// A server restart or a dropped TCP connection leaves the connection bad: the next statement
// reconnects instead of failing forever. Never inside a transaction (the statements after the
// loss would run outside it), and nothing is ever re-sent.
void pg_connection::reconnect_if_lost() {
  if (!in_transaction_ && PQstatus(conn_) == CONNECTION_BAD) PQreset(conn_);
}

result<std::vector<row>> pg_connection::query(std::string_view sql,
                                              const std::vector<value>& params) {
  reconnect_if_lost();
  std::string statement(sql);
  // Parameters go as text. Integers and doubles say their type (so `$1 + $1` or `LIMIT $1`
  // resolve); text and NULL leave it to the server to infer from where they are used.
  auto used = referenced(sql, params.size());
  std::vector<std::string> texts(params.size());
  std::vector<const char*> values(params.size(), nullptr);
  std::vector<Oid> types(params.size(), 0);
  for (std::size_t i = 0; i < params.size(); ++i) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::int64_t>) {
            texts[i] = std::to_string(v);
            types[i] = int8_oid;
          } else if constexpr (std::is_same_v<T, double>) {
            char buffer[64];
            auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
            texts[i].assign(buffer, end);
            types[i] = float8_oid;
          } else if constexpr (std::is_same_v<T, std::string>) {
            texts[i] = v;
          }
          if constexpr (!std::is_same_v<T, std::monostate>) values[i] = texts[i].c_str();
        },
        params[i]);
    if (!used[i]) types[i] = text_oid;  // never read: any declared type will do
  }
  PGresult* r = PQexecParams(conn_, statement.c_str(), static_cast<int>(params.size()),
                             types.data(), values.data(), nullptr, nullptr, /*resultFormat=*/0);
  result_guard guard{r};
  if (failed(r)) return error_of(conn_, r);
  std::vector<row> rows;
  int count = PQntuples(r);
  int columns = PQnfields(r);
  rows.reserve(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    row out;
    out.columns.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c)
      out.columns.push_back(column_value(r, i, c));
    rows.push_back(std::move(out));
  }
  return rows;
}

std::optional<db_error> pg_connection::exec_script(std::string_view sql) {
  reconnect_if_lost();
  std::string text(sql);
  // PQexec runs every statement of the string; it returns the last result, or the first failure.
  PGresult* r = PQexec(conn_, text.c_str());
  result_guard guard{r};
  if (failed(r)) return error_of(conn_, r);
  return std::nullopt;
}

std::optional<db_error> pg_connection::begin() {
  auto e = exec_script("BEGIN");
  in_transaction_ = !e;
  return e;
}

std::optional<db_error> pg_connection::commit() {
  in_transaction_ = false;
  PGresult* r = PQexec(conn_, "COMMIT");
  result_guard guard{r};
  if (failed(r)) return error_of(conn_, r);
  // COMMIT of a transaction that already failed "succeeds" by rolling it back.
  if (std::strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
    return db_error{"the transaction failed earlier and was rolled back", false};
  }
  return std::nullopt;
}

void pg_connection::rollback() {
  in_transaction_ = false;
  if (PQstatus(conn_) == CONNECTION_OK) exec_script("ROLLBACK");
}

}  // namespace sy::store
