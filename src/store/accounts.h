// The accounts repository: users, gateway keys and the audit trail, typed, over a store
// connection (SQLite or PostgreSQL alike; the tables are migration 1's).
//
// Keys are stored only as the hex SHA-256 of their secret plus a visible prefix ("sk-ab12"): the
// secret exists in clear only in the answer of create_key and rotate_key. Rotation keeps the old
// hash in previous_hash until previous_until, so the old secret keeps working for a grace period.
//
// Every call returns store::result: a db_error on failure, with `constraint` set for the caller's
// mistakes (a role outside admin/developer/viewer, an unknown owner, invalid JSON, a duplicate).
// An unknown id is not an error: the optional in the answer is empty. No exceptions.
// Not thread-safe: one accounts (and its connection) per thread.
#pragma once

#include "store/sql.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::store {

// A patch field that may also clear a nullable column: absent = unchanged, set to nullopt = NULL.
template <class T>
using nullable = std::optional<std::optional<T>>;

struct user_row {
  std::string id;  // "usr_" + 16 hex characters
  std::string name;
  std::optional<std::string> email;
  std::string role;                      // admin | developer | viewer
  std::vector<std::string> models{"*"};  // globs bounding every key the user owns
  bool enabled = true;
  std::int64_t created_at = 0;                  // unix seconds
  std::optional<std::int64_t> budget_nano_usd;  // a spend limit (billing/budget.h); none: no limit
  std::string budget_period = "total";          // day | month | total
};

struct new_user {
  std::string name;
  std::optional<std::string> email;
  std::string role;
  std::vector<std::string> models{"*"};
  bool enabled = true;
  std::optional<std::int64_t> budget_nano_usd;
  std::string budget_period = "total";
};

struct user_patch {
  std::optional<std::string> name;
  nullable<std::string> email;
  std::optional<std::string> role;
  std::optional<std::vector<std::string>> models;
  std::optional<bool> enabled;
  nullable<std::int64_t> budget_nano_usd;
  std::optional<std::string> budget_period;
};

struct key_row {
  std::string id;  // "key_" + 16 hex characters
  std::string name;
  std::optional<std::string> user_id;
  std::string prefix;                          // the secret's first 7 characters: "sk-ab12"
  std::string key_hash;                        // hex SHA-256 of the secret
  std::optional<std::string> previous_hash;    // the secret before the last rotation...
  std::optional<std::int64_t> previous_until;  // ...accepted while now < this
  std::vector<std::string> models{"*"};
  std::optional<std::int64_t> expires_at;
  bool enabled = true;
  std::optional<std::int64_t> revoked_at;
  std::optional<std::int64_t> rpm;
  std::optional<std::int64_t> tpm;
  std::optional<std::int64_t> max_concurrency;
  std::vector<std::string> allowed_ips;  // CIDRs; empty = any
  std::optional<std::string> signing_secret;
  std::string metadata = "{}";  // a JSON object
  std::int64_t created_at = 0;
  std::int64_t updated_at = 0;
  std::optional<std::int64_t> budget_nano_usd;  // a spend limit (billing/budget.h); none: no limit
  std::string budget_period = "total";          // day | month | total
};

struct new_key {
  std::string name;
  std::optional<std::string> user_id;
  std::vector<std::string> models{"*"};
  std::optional<std::int64_t> expires_at;
  bool enabled = true;
  std::optional<std::int64_t> rpm;
  std::optional<std::int64_t> tpm;
  std::optional<std::int64_t> max_concurrency;
  std::vector<std::string> allowed_ips;
  std::optional<std::string> signing_secret;
  std::string metadata = "{}";
  std::optional<std::int64_t> budget_nano_usd;
  std::string budget_period = "total";
};

struct key_patch {
  std::optional<std::string> name;
  std::optional<std::vector<std::string>> models;
  nullable<std::int64_t> expires_at;
  std::optional<bool> enabled;
  nullable<std::int64_t> rpm;
  nullable<std::int64_t> tpm;
  nullable<std::int64_t> max_concurrency;
  std::optional<std::vector<std::string>> allowed_ips;
  nullable<std::string> signing_secret;
  std::optional<std::string> metadata;
  nullable<std::int64_t> budget_nano_usd;
  std::optional<std::string> budget_period;
};

struct created_key {
  key_row row;
  std::string secret;  // "sk-" + 48 characters: shown once, stored nowhere
};

struct audit_row {
  std::string id;       // "aud_" + 16 hex characters (made by append_audit when empty)
  std::int64_t at = 0;  // unix seconds (now when 0)
  std::string actor;
  std::string role;
  std::string action;
  std::string target;
  std::string client_ip;
  std::string result;
  std::string changes = "{}";  // a JSON object; never a secret
};

// Where a page of the audit log stopped: the last row's (at, id).
struct audit_cursor {
  std::int64_t at = 0;
  std::string id;
};
std::string format_cursor(const audit_cursor& c);                 // "<at>:<id>"
std::optional<audit_cursor> parse_cursor(std::string_view text);  // nullopt when malformed

struct audit_filter {
  std::optional<std::string> actor;
  std::optional<std::string> action;
  std::optional<std::int64_t> from;  // at >= from
  std::optional<std::int64_t> to;    // at <= to
  std::size_t limit = 100;
  std::optional<audit_cursor> cursor;  // rows strictly older than this one
};

// A page of a listing; `next` is set when more rows follow (pass it back as the cursor).
template <class T, class Cursor>
struct page {
  std::vector<T> items;
  std::optional<Cursor> next;
};

// "sk-" + 48 characters of [A-Za-z0-9] from OpenSSL's CSPRNG, without modulo bias.
result<std::string> generate_secret();
// The hex SHA-256 of a secret: what api_keys.key_hash holds.
std::string hash_secret(std::string_view secret);

class service;

// Appends `row` on the store's thread, without waiting (fire-and-forget, as the data plane's
// audit rows are); a failure is logged as "audit: cannot record <what>: ...".
void post_audit(service& store, audit_row row, std::string what);

class accounts {
 public:
  // `clock` gives the unix time in seconds (std::time by default; tests pass their own).
  explicit accounts(connection& db, std::function<std::int64_t()> clock = {});

  // Users
  result<user_row> create_user(const new_user& u);
  result<std::optional<user_row>> get_user(const std::string& id);
  // Ordered by id; the rows after `after_id` when given.
  result<page<user_row, std::string>> list_users(std::size_t limit,
                                                 const std::optional<std::string>& after_id = {});
  result<std::optional<user_row>> update_user(const std::string& id, const user_patch& patch);

  // Keys
  result<created_key> create_key(const new_key& k);
  result<std::optional<key_row>> get_key(const std::string& id);
  result<page<key_row, std::string>> list_keys(const std::optional<std::string>& user_id,
                                               std::size_t limit,
                                               const std::optional<std::string>& after_id = {});
  result<std::optional<key_row>> update_key(const std::string& id, const key_patch& patch);
  // Sets revoked_at (the first time only) and enabled = 0.
  result<std::optional<key_row>> revoke_key(const std::string& id);
  // A new secret for the same record: the old one is accepted for `grace_seconds` more (0: never
  // again). Returns the new secret, or nullopt for an unknown id.
  result<std::optional<std::string>> rotate_key(const std::string& id, std::int64_t grace_seconds);
  // The key whose secret hashes to `hash`: its current secret, or its previous one while
  // now < previous_until. Disabled, revoked and expired keys are found too: the caller refuses
  // them with the reason.
  result<std::optional<key_row>> find_key_by_hash(const std::string& hash, std::int64_t now);

  // Audit (append-only)
  result<audit_row> append_audit(audit_row row);
  // Newest first: (at, id) descending.
  result<page<audit_row, audit_cursor>> list_audit(const audit_filter& filter);

 private:
  std::int64_t now() const;
  result<std::optional<user_row>> fetch_user(const std::string& id);
  result<std::optional<key_row>> fetch_key(const std::string& id);

  connection& db_;
  std::function<std::int64_t()> clock_;
};

}  // namespace sy::store
