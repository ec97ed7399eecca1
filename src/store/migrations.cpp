#include "store/migrations.h"

#include <ctime>

namespace sy::store {

std::span<const migration> migrations() {
  // Never edit a migration that has shipped: add the next one.
  static constexpr migration list[] = {
      {1, "accounts", R"sql(
CREATE TABLE users (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  email       TEXT,
  role        TEXT NOT NULL CHECK (role IN ('admin', 'developer', 'viewer')),
  models      TEXT NOT NULL DEFAULT '["*"]',
  enabled     BIGINT NOT NULL DEFAULT 1,
  created_at  BIGINT NOT NULL
);
CREATE TABLE api_keys (
  id              TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  user_id         TEXT REFERENCES users(id),
  prefix          TEXT NOT NULL,
  key_hash        TEXT NOT NULL UNIQUE,
  previous_hash   TEXT UNIQUE,
  previous_until  BIGINT,
  models          TEXT NOT NULL DEFAULT '["*"]',
  expires_at      BIGINT,
  enabled         BIGINT NOT NULL DEFAULT 1,
  revoked_at      BIGINT,
  rpm             BIGINT,
  tpm             BIGINT,
  max_concurrency BIGINT,
  allowed_ips     TEXT NOT NULL DEFAULT '[]',
  signing_secret  TEXT,
  metadata        TEXT NOT NULL DEFAULT '{}',
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL
);
CREATE INDEX api_keys_user ON api_keys (user_id);
CREATE TABLE channels (
  id          TEXT PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  type        TEXT NOT NULL,
  config      TEXT NOT NULL,
  api_keys    TEXT NOT NULL DEFAULT '',
  created_at  BIGINT NOT NULL,
  updated_at  BIGINT NOT NULL
);
CREATE TABLE audit_log (
  id          TEXT PRIMARY KEY,
  at          BIGINT NOT NULL,
  actor       TEXT NOT NULL,
  role        TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT NOT NULL,
  client_ip   TEXT NOT NULL,
  result      TEXT NOT NULL,
  changes     TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at, id);
)sql"},
      {2, "revision", R"sql(
CREATE TABLE store_revision (
  id     BIGINT PRIMARY KEY CHECK (id = 1),
  value  BIGINT NOT NULL
);
INSERT INTO store_revision (id, value) VALUES (1, 0);
)sql"},
      // The ledger (billing/ledger.h): one row per request, append-only. No foreign keys and no
      // CHECKs on purpose: a row must never be refused (its key or user may be deleted later).
      {3, "ledger", R"sql(
CREATE TABLE ledger (
  id                     TEXT PRIMARY KEY,
  at                     BIGINT NOT NULL,
  request_id             TEXT NOT NULL,
  key_id                 TEXT,
  key_name               TEXT NOT NULL DEFAULT '',
  user_id                TEXT,
  api                    TEXT NOT NULL,
  model                  TEXT NOT NULL,
  channel                TEXT NOT NULL DEFAULT '',
  upstream_model         TEXT NOT NULL DEFAULT '',
  input_tokens           BIGINT NOT NULL DEFAULT 0,
  cached_input_tokens    BIGINT NOT NULL DEFAULT 0,
  cache_write_5m_tokens  BIGINT NOT NULL DEFAULT 0,
  cache_write_1h_tokens  BIGINT NOT NULL DEFAULT 0,
  output_tokens          BIGINT NOT NULL DEFAULT 0,
  reasoning_tokens       BIGINT NOT NULL DEFAULT 0,
  estimated              BIGINT NOT NULL DEFAULT 0,
  cost_nano_usd          BIGINT,
  status                 BIGINT NOT NULL,
  duration_ms            BIGINT NOT NULL,
  ttfb_ms                BIGINT
);
CREATE INDEX ledger_at ON ledger (at);
CREATE INDEX ledger_key_at ON ledger (key_id, at);
CREATE INDEX ledger_user_at ON ledger (user_id, at);
)sql"},
      // Spend budgets (billing/budget.h): a limit in nano-USD (NULL: none) over a period.
      {4, "budgets", R"sql(
ALTER TABLE users ADD COLUMN budget_nano_usd BIGINT;
ALTER TABLE users ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total';
ALTER TABLE api_keys ADD COLUMN budget_nano_usd BIGINT;
ALTER TABLE api_keys ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total';
)sql"},
  };
  return list;
}

result<std::int64_t> schema_version(connection& db) {
  auto created = db.exec_script(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, "
      "name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
  if (created) return *created;
  auto rows = db.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
  if (auto* e = std::get_if<db_error>(&rows)) return *e;
  const auto& r = std::get<std::vector<row>>(rows);
  return r.empty() ? 0 : r[0].integer(0);
}

std::optional<db_error> migrate(connection& db) {
  auto current = schema_version(db);
  if (auto* e = std::get_if<db_error>(&current)) return *e;
  for (const auto& m : migrations()) {
    if (m.version <= std::get<std::int64_t>(current)) continue;
    if (auto e = db.begin()) return e;
    // A second process may have applied it meanwhile: check again inside the transaction.
    auto again = db.query("SELECT 1 FROM schema_migrations WHERE version = $1", {m.version});
    if (auto* e = std::get_if<db_error>(&again)) {
      db.rollback();
      return *e;
    }
    if (!std::get<std::vector<row>>(again).empty()) {
      db.rollback();
      continue;
    }
    auto applied = db.exec_script(m.sql);
    if (!applied) {
      auto recorded =
          db.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                   {m.version, std::string(m.name), static_cast<std::int64_t>(std::time(nullptr))});
      if (auto* e = std::get_if<db_error>(&recorded)) applied = *e;
    }
    if (applied) {
      db.rollback();
      applied->message = "migration " + std::to_string(m.version) + " (" + std::string(m.name) +
                         "): " + applied->message;
      return applied;
    }
    if (auto e = db.commit()) return e;
  }
  return std::nullopt;
}

std::optional<db_error> bump_revision(connection& db) {
  auto r = db.query("UPDATE store_revision SET value = value + 1 WHERE id = 1");
  if (auto* e = std::get_if<db_error>(&r)) return *e;
  return std::nullopt;
}

result<std::int64_t> read_revision(connection& db) {
  auto rows = db.query("SELECT value FROM store_revision WHERE id = 1");
  if (auto* e = std::get_if<db_error>(&rows)) return *e;
  const auto& r = std::get<std::vector<row>>(rows);
  return r.empty() ? 0 : r[0].integer(0);
}

}  // namespace sy::store
