#include "store/accounts.h"

#include "store/service.h"

#include <spdlog/spdlog.h>

#include "auth/key_table.h"
#include "common/json.h"
#include "store/migrations.h"
#include "store/text.h"

#include <openssl/rand.h>

#include <boost/json.hpp>

#include <atomic>
#include <charconv>
#include <chrono>
#include <ctime>

namespace sy::store {
namespace {

using rows = std::vector<row>;

constexpr std::string_view user_columns =
    "id, name, email, role, models, enabled, created_at, budget_nano_usd, budget_period";
constexpr std::string_view key_columns =
    "id, name, user_id, prefix, key_hash, previous_hash, previous_until, models, expires_at, "
    "enabled, revoked_at, rpm, tpm, max_concurrency, allowed_ips, signing_secret, metadata, "
    "created_at, updated_at, budget_nano_usd, budget_period";
constexpr std::string_view audit_columns =
    "id, at, actor, role, action, target, client_ip, result, changes";

// "aud_" + 11 hex digits of the unix time in milliseconds + 5 of a per-process sequence: ids sort
// in the order rows were appended (within a process; across processes, to the millisecond), so
// "newest first" by (at, id) holds inside one second too.
std::string audit_id() {
  static std::atomic<std::uint32_t> sequence{0};
  const auto ms =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
  const std::uint32_t seq = sequence.fetch_add(1, std::memory_order_relaxed) & 0xfffff;
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "aud_";
  for (int i = 10; i >= 0; --i)
    out += digits[(ms >> (4 * i)) & 0xf];
  for (int i = 4; i >= 0; --i)
    out += digits[(seq >> (4 * i)) & 0xf];
  return out;
}

// The tables hold what encode_list wrote; anything else reads as an empty list.
std::vector<std::string> list_column(const std::string& text) {
  return decode_list(text).value_or(std::vector<std::string>{});
}

bool is_json_object(const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  return !ec && v.is_object();
}

bool valid_role(const std::string& role) {
  return role == "admin" || role == "developer" || role == "viewer";
}

bool valid_period(const std::string& period) {
  return period == "day" || period == "month" || period == "total";
}

template <class T>
value to_value(const std::optional<T>& v) {
  if (!v) return std::monostate{};
  return value(*v);
}

std::optional<std::string> opt_text(const row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.text(i);
}
std::optional<std::int64_t> opt_integer(const row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.integer(i);
}

user_row user_from(const row& r) {
  user_row u;
  u.id = r.text(0);
  u.name = r.text(1);
  u.email = opt_text(r, 2);
  u.role = r.text(3);
  u.models = list_column(r.text(4));
  u.enabled = r.integer(5) != 0;
  u.created_at = r.integer(6);
  u.budget_nano_usd = opt_integer(r, 7);
  u.budget_period = r.text(8);
  return u;
}

key_row key_from(const row& r) {
  key_row k;
  k.id = r.text(0);
  k.name = r.text(1);
  k.user_id = opt_text(r, 2);
  k.prefix = r.text(3);
  k.key_hash = r.text(4);
  k.previous_hash = opt_text(r, 5);
  k.previous_until = opt_integer(r, 6);
  k.models = list_column(r.text(7));
  k.expires_at = opt_integer(r, 8);
  k.enabled = r.integer(9) != 0;
  k.revoked_at = opt_integer(r, 10);
  k.rpm = opt_integer(r, 11);
  k.tpm = opt_integer(r, 12);
  k.max_concurrency = opt_integer(r, 13);
  k.allowed_ips = list_column(r.text(14));
  k.signing_secret = opt_text(r, 15);
  k.metadata = r.text(16);
  k.created_at = r.integer(17);
  k.updated_at = r.integer(18);
  k.budget_nano_usd = opt_integer(r, 19);
  k.budget_period = r.text(20);
  return k;
}

audit_row audit_from(const row& r) {
  audit_row a;
  a.id = r.text(0);
  a.at = r.integer(1);
  a.actor = r.text(2);
  a.role = r.text(3);
  a.action = r.text(4);
  a.target = r.text(5);
  a.client_ip = r.text(6);
  a.result = r.text(7);
  a.changes = r.text(8);
  return a;
}

// Collects "column = $n" pieces and their parameters for an UPDATE (or "AND ..." for a WHERE).
struct statement_parts {
  std::vector<value> params;
  std::string text;

  std::string param(value v) {
    params.push_back(std::move(v));
    return cat({"$", std::to_string(params.size())});
  }
  void set(std::string_view column, value v) {
    if (!text.empty()) text += ", ";
    text += column;
    text += " = ";
    text += param(std::move(v));
  }
};

// limit + 1 rows were asked for: the extra one only says that another page follows.
template <class T, class Cursor, class Decode, class CursorOf>
page<T, Cursor> page_of(const rows& found, std::size_t limit, Decode decode, CursorOf cursor_of) {
  page<T, Cursor> out;
  for (std::size_t i = 0; i < found.size() && i < limit; ++i)
    out.items.push_back(decode(found[i]));
  if (found.size() > limit && !out.items.empty()) out.next = cursor_of(out.items.back());
  return out;
}

}  // namespace

std::string format_cursor(const audit_cursor& c) {
  return cat({std::to_string(c.at), ":", c.id});
}

std::optional<audit_cursor> parse_cursor(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return std::nullopt;
  }
  audit_cursor c;
  auto [end, ec] = std::from_chars(text.data(), text.data() + colon, c.at);
  if (ec != std::errc{} || end != text.data() + colon) return std::nullopt;
  c.id = std::string(text.substr(colon + 1));
  return c;
}

result<std::string> generate_secret() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  constexpr unsigned size = sizeof alphabet - 1;  // 62
  constexpr unsigned accept = 256 / size * size;  // 248: bytes at or above are redrawn
  char out[3 + 48] = {'s', 'k', '-'};
  std::size_t filled = 3;
  unsigned char bytes[64];
  while (filled < sizeof out) {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return db_error{"the random generator failed"};
    for (unsigned char b : bytes) {
      if (b >= accept) continue;
      out[filled++] = alphabet[b % size];
      if (filled == sizeof out) break;
    }
  }
  return std::string(out, sizeof out);
}

std::string hash_secret(std::string_view secret) {
  static constexpr char digits[] = "0123456789abcdef";
  auto h = hash_key(secret);
  std::string out;
  out.reserve(h.size() * 2);
  for (unsigned char b : h) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

accounts::accounts(connection& db, std::function<std::int64_t()> clock)
    : db_(db), clock_(std::move(clock)) {}

std::int64_t accounts::now() const {
  return clock_ ? clock_() : static_cast<std::int64_t>(std::time(nullptr));
}

// ---- users

result<user_row> accounts::create_user(const new_user& u) {
  if (!valid_role(u.role)) return client_error("role must be admin, developer or viewer");
  if (!valid_period(u.budget_period))
    return client_error("budget_period must be day, month or total");
  auto id = random_id("usr_");
  if (auto* e = std::get_if<db_error>(&id)) return *e;
  user_row out{
      std::get<std::string>(id), u.name,         u.email, u.role, u.models, u.enabled, now(),
      u.budget_nano_usd,         u.budget_period};
  auto inserted = db_.query(
      "INSERT INTO users (id, name, email, role, models, enabled, created_at, budget_nano_usd, "
      "budget_period) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {out.id, out.name, to_value(out.email), out.role, encode_list(out.models),
       std::int64_t{out.enabled ? 1 : 0}, out.created_at, to_value(out.budget_nano_usd),
       out.budget_period});
  if (auto* e = std::get_if<db_error>(&inserted)) return *e;
  if (auto e = bump_revision(db_)) return *e;
  return out;
}

result<std::optional<user_row>> accounts::fetch_user(const std::string& id) {
  auto found = db_.query(cat({"SELECT ", user_columns, " FROM users WHERE id = $1"}), {id});
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  const auto& r = std::get<rows>(found);
  if (r.empty()) return std::optional<user_row>{};
  return std::optional<user_row>{user_from(r[0])};
}

result<std::optional<user_row>> accounts::get_user(const std::string& id) {
  return fetch_user(id);
}

result<page<user_row, std::string>> accounts::list_users(
    std::size_t limit, const std::optional<std::string>& after_id) {
  limit = std::max<std::size_t>(limit, 1);
  statement_parts where;
  std::string sql = cat({"SELECT ", user_columns, " FROM users"});
  if (after_id) sql += cat({" WHERE id > ", where.param(*after_id)});
  sql += cat({" ORDER BY id LIMIT ", where.param(static_cast<std::int64_t>(limit + 1))});
  auto found = db_.query(sql, where.params);
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  return page_of<user_row, std::string>(std::get<rows>(found), limit, user_from,
                                        [](const user_row& u) { return u.id; });
}

result<std::optional<user_row>> accounts::update_user(const std::string& id,
                                                      const user_patch& patch) {
  if (patch.role && !valid_role(*patch.role)) {
    return client_error("role must be admin, developer or viewer");
  }
  if (patch.budget_period && !valid_period(*patch.budget_period)) {
    return client_error("budget_period must be day, month or total");
  }
  statement_parts set;
  set.params.push_back(id);
  if (patch.name) set.set("name", *patch.name);
  if (patch.email) set.set("email", to_value(*patch.email));
  if (patch.role) set.set("role", *patch.role);
  if (patch.models) set.set("models", encode_list(*patch.models));
  if (patch.enabled) set.set("enabled", std::int64_t{*patch.enabled ? 1 : 0});
  if (patch.budget_nano_usd) set.set("budget_nano_usd", to_value(*patch.budget_nano_usd));
  if (patch.budget_period) set.set("budget_period", *patch.budget_period);
  if (set.text.empty()) return fetch_user(id);
  auto updated = db_.query(
      cat({"UPDATE users SET ", set.text, " WHERE id = $1 RETURNING ", user_columns}), set.params);
  if (auto* e = std::get_if<db_error>(&updated)) return *e;
  const auto& r = std::get<rows>(updated);
  if (r.empty()) return std::optional<user_row>{};
  if (auto e = bump_revision(db_)) return *e;
  return std::optional<user_row>{user_from(r[0])};
}

// ---- keys

result<created_key> accounts::create_key(const new_key& k) {
  if (!is_json_object(k.metadata)) return client_error("metadata must be a JSON object");
  if (!valid_period(k.budget_period))
    return client_error("budget_period must be day, month or total");
  auto id = random_id("key_");
  if (auto* e = std::get_if<db_error>(&id)) return *e;
  auto secret = generate_secret();
  if (auto* e = std::get_if<db_error>(&secret)) return *e;
  created_key out;
  out.secret = std::move(std::get<std::string>(secret));
  key_row& row = out.row;
  row.id = std::get<std::string>(id);
  row.name = k.name;
  row.user_id = k.user_id;
  row.prefix = out.secret.substr(0, 7);
  row.key_hash = hash_secret(out.secret);
  row.models = k.models;
  row.expires_at = k.expires_at;
  row.enabled = k.enabled;
  row.rpm = k.rpm;
  row.tpm = k.tpm;
  row.max_concurrency = k.max_concurrency;
  row.allowed_ips = k.allowed_ips;
  row.signing_secret = k.signing_secret;
  row.metadata = k.metadata;
  row.budget_nano_usd = k.budget_nano_usd;
  row.budget_period = k.budget_period;
  row.created_at = row.updated_at = now();
  auto inserted = db_.query(
      "INSERT INTO api_keys (id, name, user_id, prefix, key_hash, models, expires_at, enabled, "
      "rpm, tpm, max_concurrency, allowed_ips, signing_secret, metadata, created_at, updated_at, "
      "budget_nano_usd, budget_period) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
      {row.id, row.name, to_value(row.user_id), row.prefix, row.key_hash, encode_list(row.models),
       to_value(row.expires_at), std::int64_t{row.enabled ? 1 : 0}, to_value(row.rpm),
       to_value(row.tpm), to_value(row.max_concurrency), encode_list(row.allowed_ips),
       to_value(row.signing_secret), row.metadata, row.created_at, row.updated_at,
       to_value(row.budget_nano_usd), row.budget_period});
  if (auto* e = std::get_if<db_error>(&inserted)) return *e;
  if (auto e = bump_revision(db_)) return *e;
  return out;
}

result<std::optional<key_row>> accounts::fetch_key(const std::string& id) {
  auto found = db_.query(cat({"SELECT ", key_columns, " FROM api_keys WHERE id = $1"}), {id});
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  const auto& r = std::get<rows>(found);
  if (r.empty()) return std::optional<key_row>{};
  return std::optional<key_row>{key_from(r[0])};
}

result<std::optional<key_row>> accounts::get_key(const std::string& id) {
  return fetch_key(id);
}

result<page<key_row, std::string>> accounts::list_keys(const std::optional<std::string>& user_id,
                                                       std::size_t limit,
                                                       const std::optional<std::string>& after_id) {
  limit = std::max<std::size_t>(limit, 1);
  statement_parts where;
  std::string sql = cat({"SELECT ", key_columns, " FROM api_keys WHERE 1 = 1"});
  if (user_id) sql += cat({" AND user_id = ", where.param(*user_id)});
  if (after_id) sql += cat({" AND id > ", where.param(*after_id)});
  sql += cat({" ORDER BY id LIMIT ", where.param(static_cast<std::int64_t>(limit + 1))});
  auto found = db_.query(sql, where.params);
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  return page_of<key_row, std::string>(std::get<rows>(found), limit, key_from,
                                       [](const key_row& k) { return k.id; });
}

result<std::optional<key_row>> accounts::update_key(const std::string& id, const key_patch& patch) {
  if (patch.metadata && !is_json_object(*patch.metadata)) {
    return client_error("metadata must be a JSON object");
  }
  if (patch.budget_period && !valid_period(*patch.budget_period)) {
    return client_error("budget_period must be day, month or total");
  }
  statement_parts set;
  set.params.push_back(id);
  if (patch.name) set.set("name", *patch.name);
  if (patch.models) set.set("models", encode_list(*patch.models));
  if (patch.expires_at) set.set("expires_at", to_value(*patch.expires_at));
  if (patch.enabled) set.set("enabled", std::int64_t{*patch.enabled ? 1 : 0});
  if (patch.rpm) set.set("rpm", to_value(*patch.rpm));
  if (patch.tpm) set.set("tpm", to_value(*patch.tpm));
  if (patch.max_concurrency) set.set("max_concurrency", to_value(*patch.max_concurrency));
  if (patch.allowed_ips) set.set("allowed_ips", encode_list(*patch.allowed_ips));
  if (patch.signing_secret) set.set("signing_secret", to_value(*patch.signing_secret));
  if (patch.metadata) set.set("metadata", *patch.metadata);
  if (patch.budget_nano_usd) set.set("budget_nano_usd", to_value(*patch.budget_nano_usd));
  if (patch.budget_period) set.set("budget_period", *patch.budget_period);
  if (set.text.empty()) return fetch_key(id);
  set.set("updated_at", now());
  auto updated =
      db_.query(cat({"UPDATE api_keys SET ", set.text, " WHERE id = $1 RETURNING ", key_columns}),
                set.params);
  if (auto* e = std::get_if<db_error>(&updated)) return *e;
  const auto& r = std::get<rows>(updated);
  if (r.empty()) return std::optional<key_row>{};
  if (auto e = bump_revision(db_)) return *e;
  return std::optional<key_row>{key_from(r[0])};
}

result<std::optional<key_row>> accounts::revoke_key(const std::string& id) {
  auto updated =
      db_.query(cat({"UPDATE api_keys SET enabled = 0, revoked_at = "
                     "COALESCE(revoked_at, $2), updated_at = $2 WHERE id = $1 RETURNING ",
                     key_columns}),
                {id, now()});
  if (auto* e = std::get_if<db_error>(&updated)) return *e;
  const auto& r = std::get<rows>(updated);
  if (r.empty()) return std::optional<key_row>{};
  if (auto e = bump_revision(db_)) return *e;
  return std::optional<key_row>{key_from(r[0])};
}

result<std::optional<std::string>> accounts::rotate_key(const std::string& id,
                                                        std::int64_t grace_seconds) {
  if (grace_seconds < 0) return client_error("grace_seconds must not be negative");
  auto secret = generate_secret();
  if (auto* e = std::get_if<db_error>(&secret)) return *e;
  const auto& fresh = std::get<std::string>(secret);
  const std::int64_t at = now();
  // One statement, so atomic on both backends: the old hash is read from the row being updated
  // (SET reads the row's values before the update), and two rotations racing each other (the CLI
  // and the server) serialise on the row, the second keeping the first one's hash as previous.
  std::string sql = grace_seconds > 0
                        ? "UPDATE api_keys SET previous_hash = key_hash, previous_until = $4, "
                        : "UPDATE api_keys SET previous_hash = NULL, previous_until = NULL, ";
  sql += "key_hash = $2, prefix = $3, updated_at = $5 WHERE id = $1 RETURNING id";
  auto updated =
      db_.query(sql, {id, hash_secret(fresh), fresh.substr(0, 7), at + grace_seconds, at});
  if (auto* e = std::get_if<db_error>(&updated)) return *e;
  if (std::get<rows>(updated).empty()) return std::optional<std::string>{};
  if (auto e = bump_revision(db_)) return *e;
  return std::optional<std::string>{fresh};
}

result<std::optional<key_row>> accounts::find_key_by_hash(const std::string& hash,
                                                          std::int64_t now) {
  auto found = db_.query(cat({"SELECT ", key_columns,
                              " FROM api_keys WHERE key_hash = $1 OR (previous_hash = $1 AND "
                              "previous_until > $2)"}),
                         {hash, now});
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  const auto& r = std::get<rows>(found);
  if (r.empty()) return std::optional<key_row>{};
  return std::optional<key_row>{key_from(r[0])};
}

// ---- audit

result<audit_row> accounts::append_audit(audit_row a) {
  if (!is_json_object(a.changes)) return client_error("changes must be a JSON object");
  if (a.id.empty()) {
    a.id = audit_id();
  }
  if (a.at == 0) a.at = now();
  auto inserted = db_.query(
      "INSERT INTO audit_log (id, at, actor, role, action, target, client_ip, result, changes) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
      {a.id, a.at, a.actor, a.role, a.action, a.target, a.client_ip, a.result, a.changes});
  if (auto* e = std::get_if<db_error>(&inserted)) return *e;
  return a;
}

result<page<audit_row, audit_cursor>> accounts::list_audit(const audit_filter& filter) {
  const std::size_t limit = std::max<std::size_t>(filter.limit, 1);
  statement_parts where;
  std::string sql = cat({"SELECT ", audit_columns, " FROM audit_log WHERE 1 = 1"});
  if (filter.actor) sql += cat({" AND actor = ", where.param(*filter.actor)});
  if (filter.action) sql += cat({" AND action = ", where.param(*filter.action)});
  if (filter.from) sql += cat({" AND at >= ", where.param(*filter.from)});
  if (filter.to) sql += cat({" AND at <= ", where.param(*filter.to)});
  if (filter.cursor) {
    auto at = where.param(filter.cursor->at);
    auto id = where.param(filter.cursor->id);
    sql += cat({" AND (at < ", at, " OR (at = ", at, " AND id < ", id, "))"});
  }
  sql +=
      cat({" ORDER BY at DESC, id DESC LIMIT ", where.param(static_cast<std::int64_t>(limit + 1))});
  auto found = db_.query(sql, where.params);
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  return page_of<audit_row, audit_cursor>(std::get<rows>(found), limit, audit_from,
                                          [](const audit_row& a) {
                                            return audit_cursor{a.at, a.id};
                                          });
}

void post_audit(service& store, audit_row row, std::string what) {
  store.post([row = std::move(row), what = std::move(what)](connection& db) mutable {
    accounts acc(db);
    auto appended = acc.append_audit(std::move(row));
    if (auto* e = std::get_if<db_error>(&appended)) {
      spdlog::warn("audit: cannot record {}: {}", what, e->message);
    }
  });
}

}  // namespace sy::store
