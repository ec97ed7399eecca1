// The admin API's operations: users, keys, channels, usage and the audit log, as one synchronous
// call from (method, path, query, body) and a caller to (status, JSON body). Authorization by role,
// validation, the store change and its audit row all happen here, so the HTTP endpoint
// (/admin/..., run on the store thread) and the command line (`switchyard users|keys ...`, run
// directly) are the same code and cannot drift apart.
//
// Errors are {"error":{"code","message","field"?}} with a stable code (docs/admin-api.md).
#pragma once

#include "store/sql.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sy {
struct config;
namespace billing {
class budget_book;
}
namespace crypto {
class sealer;
}
}  // namespace sy

namespace sy::admin {

struct caller {
  std::string actor;                   // "master", "cli", or the user id of the key used
  std::string role;                    // admin | developer | viewer
  std::optional<std::string> user_id;  // the caller's user (absent for master and cli)
  std::optional<std::string> key_id;   // the key the caller authenticated with, when any
  std::string client_ip;               // "" for the CLI
};

struct request {
  std::string method;  // GET, POST, PATCH, DELETE
  std::string path;    // "/admin/keys/key_0123abcd...", without the query
  std::string query;   // "limit=10&cursor=..." (raw, without '?')
  std::string body;    // JSON text, "" when none
};

struct response {
  unsigned status = 200;
  std::string body;   // JSON, unless content_type says otherwise
  std::string allow;  // with 405: the methods the path accepts ("GET, POST"), for `Allow`
  std::string content_type = "application/json";
  std::string content_disposition;  // "" when none (the CSV export names a file)
};

struct environment {
  store::connection& db;
  // Seals provider keys and signing secrets at rest; null when SWITCHYARD_SECRET_KEY is unset
  // (then the API refuses to store such secrets).
  const crypto::sealer* sealer = nullptr;
  // The config file: its channels are listed read-only next to the managed ones. May be null.
  const config* cfg = nullptr;
  // Unix seconds; std::time when empty (tests pass their own).
  std::function<std::int64_t()> clock;
  // The most ledger rows one CSV export holds (GET /admin/usage/export.csv); beyond, the call is
  // refused with 400 too_many_rows. The answer is built in memory: this bounds it (~20 MB).
  std::int64_t max_export_rows = 100000;
  // The serving gateway's budget accounts (GET /admin/budgets); null on the command line.
  const billing::budget_book* budgets = nullptr;
  // The serving gateway's routing health as JSON (GET /admin/health), and the reset of one of
  // its targets (false: no such target); empty on the command line.
  std::function<std::string()> health;
  std::function<bool(const std::string& target)> reset_health;
};

// Runs one admin call. Never throws for bad input: every refusal is a response.
response handle(const request& r, const caller& who, environment& env);

// The error body: {"error":{"code":..., "message":..., "field":...}}.
response error_response(unsigned status, std::string_view code, std::string_view message,
                        std::optional<std::string_view> field = std::nullopt);

}  // namespace sy::admin
