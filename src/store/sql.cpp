#include "store/sql.h"

#include "store/postgres/pg_connection.h"
#include "store/sqlite/sqlite_connection.h"

#include <charconv>

namespace sy::store {

std::int64_t row::integer(std::size_t i) const {
  const auto& v = columns[i];
  if (auto* n = std::get_if<std::int64_t>(&v)) return *n;
  if (auto* d = std::get_if<double>(&v)) return static_cast<std::int64_t>(*d);
  if (auto* s = std::get_if<std::string>(&v)) {
    std::int64_t out = 0;
    std::from_chars(s->data(), s->data() + s->size(), out);
    return out;
  }
  return 0;
}

std::string row::text(std::size_t i) const {
  const auto& v = columns[i];
  if (auto* s = std::get_if<std::string>(&v)) return *s;
  if (auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  if (auto* d = std::get_if<double>(&v)) return std::to_string(*d);
  return {};
}

result<std::unique_ptr<connection>> open(const std::string& url) {
  if (url.starts_with("sqlite:")) return sqlite_connection::open(url.substr(7));
  if (url.starts_with("postgres://") || url.starts_with("postgresql://")) {
    return pg_connection::open(url);
  }
  return db_error{"unknown database URL '" + redact_url(url) +
                  "' (expected sqlite:<path> or postgres://user:pass@host:port/db)"};
}

std::string redact_url(const std::string& url) {
  std::string out = url;
  // user:password@ in the authority.
  auto scheme = out.find("://");
  auto query = out.find('?');
  auto at = out.rfind('@', query);
  if (scheme != std::string::npos && at != std::string::npos && at > scheme) {
    auto colon = out.find(':', scheme + 3);
    if (colon != std::string::npos && colon < at)
      out = out.substr(0, colon + 1) + "***" + out.substr(at);
  }
  // password=... among the query parameters (libpq accepts it there too).
  query = out.find('?');
  for (auto p = query; p != std::string::npos && p < out.size();) {
    auto start = p + 1;
    auto end = out.find('&', start);
    auto param = out.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (param.starts_with("password=")) {
      out.replace(start + 9, param.size() - 9, "***");
      end = out.find('&', start);
    }
    p = end;
  }
  return out;
}

}  // namespace sy::store
