// What the admin operations share: the call being handled (caller, effective role, store
// repository, clock), answers and errors, the audit row, the transaction around a change, and
// the field validators. Internal to src/admin.
#pragma once

#include "admin/admin.h"
#include "store/accounts.h"

#include <boost/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sy::admin::detail {

// Bounds of the input (docs/admin-api.md lists them).
constexpr std::size_t max_name_bytes = 200;
constexpr std::size_t max_email_bytes = 320;
constexpr std::size_t max_list_items = 256;  // models, allowed_ips
constexpr std::size_t max_pattern_bytes = 256;
constexpr std::size_t max_metadata_bytes = 16 * 1024;
constexpr std::int64_t max_grace_seconds = 30 * 24 * 3600;
constexpr std::int64_t default_grace_seconds = 24 * 3600;
constexpr std::size_t default_page = 100;
constexpr std::size_t max_page = 1000;

// One admin call in progress.
struct call {
  const request& req;
  const caller& who;
  environment& env;
  store::accounts accounts;
  std::string role;  // the caller's effective role: admin | developer | viewer | "" (none)
  std::int64_t now = 0;

  bool is_admin() const { return role == "admin"; }
  // The caller's own user, for the roles that only see their own things.
  bool owns(const std::optional<std::string>& user_id) const {
    return who.user_id && user_id && *who.user_id == *user_id;
  }
};

// A refused input: the field it names and why.
struct invalid {
  std::string field;
  std::string message;
};

// ---- answers

response json_response(unsigned status, const boost::json::value& body);
// 400 when the call's query string is malformed or has any parameter ("<what> takes no
// parameters"); nothing when it has none.
std::optional<response> refuse_parameters(const call& c, std::string_view what);
response bad_request(const invalid& why);
response not_found(std::string_view what);
// 403 forbidden, after appending the audit row (result "denied") for `action` on `target`.
response deny(call& c, std::string_view action, std::string_view target, std::string_view message,
              std::optional<std::string_view> field = std::nullopt);
// A store failure: a constraint (the caller's input raced with another change) is 400, anything
// else 500 store_error.
response store_failure(const store::db_error& e);

// Appends the audit row of a change (result "ok") or a refusal.
std::optional<store::db_error> audit(call& c, std::string_view action, std::string_view target,
                                     std::string_view result, const boost::json::object& changes);

// Runs `change` (store writes and its audit row) in one transaction: a change is never stored
// without its audit row. `change` returns the answer (an error answer aborts the change too) or
// the store error that aborts it.
template <class F>
response in_transaction(call& c, F&& change) {
  if (auto e = c.env.db.begin()) return store_failure(*e);
  store::result<response> done = change();
  if (auto* e = std::get_if<store::db_error>(&done)) {
    c.env.db.rollback();
    return store_failure(*e);
  }
  if (std::get<response>(done).status >= 400) {
    c.env.db.rollback();
    return std::move(std::get<response>(done));
  }
  if (auto e = c.env.db.commit()) {
    c.env.db.rollback();
    return store_failure(*e);
  }
  return std::move(std::get<response>(done));
}

// ---- shapes

// RFC 3339 in UTC, seconds precision: "2026-11-26T12:00:00Z".
std::string format_time(std::int64_t unix_seconds);
// RFC 3339 (any offset, optional fraction, which is dropped) to unix seconds.
std::optional<std::int64_t> parse_time(std::string_view text);
boost::json::value time_or_null(const std::optional<std::int64_t>& t);
boost::json::array string_array(const std::vector<std::string>& items);

boost::json::object user_json(const store::user_row& u);
// Never the secret, its hash or the signing secret.
boost::json::object key_json(const store::key_row& k);

// ---- input

// The body as a JSON object; an empty body is {} when `empty_ok`.
std::variant<boost::json::object, invalid> parse_object(std::string_view body, bool empty_ok);
// The first member of `body` not in `known`.
std::optional<invalid> refuse_unknown(const boost::json::object& body,
                                      std::initializer_list<std::string_view> known);

std::optional<invalid> read_name(const boost::json::value& v, std::string_view field,
                                 std::string& out);
std::optional<invalid> read_bool(const boost::json::value& v, std::string_view field, bool& out);
// A positive integer (limits: rpm, tpm, max_concurrency).
std::optional<invalid> read_positive(const boost::json::value& v, std::string_view field,
                                     std::int64_t& out);
// A spend limit in USD: a non-negative number or decimal string with at most 9 decimal places,
// at most 1e9; null clears it (out = nullopt).
std::optional<invalid> read_budget_usd(const boost::json::value& v,
                                       std::optional<std::int64_t>& out);
// day | month | total.
std::optional<invalid> read_budget_period(const boost::json::value& v, std::string& out);
// nano-USD as a JSON number of USD (null when there is no limit).
boost::json::value usd_or_null(const std::optional<std::int64_t>& nano);
// The budget_usd / budget_period members of a create body, when present.
std::optional<invalid> read_budget(const boost::json::object& body,
                                   std::optional<std::int64_t>& nano, std::string& period);
// The same for a PATCH: into the patch, and into the audit row's `changes`.
std::optional<invalid> read_budget_patch(const boost::json::object& body,
                                         store::nullable<std::int64_t>& nano,
                                         std::optional<std::string>& period,
                                         boost::json::object& changes);
// A non-empty list of non-empty glob patterns.
std::optional<invalid> read_models(const boost::json::value& v, std::vector<std::string>& out);
// A list of CIDRs ("10.0.0.0/8", "2001:db8::/32"; a bare address is one host), in canonical form
// ("192.0.2.1" is kept as "192.0.2.1/32").
std::optional<invalid> read_cidrs(const boost::json::value& v, std::vector<std::string>& out);
// RFC 3339 text or unix seconds, after `now`.
std::optional<invalid> read_expiry(const boost::json::value& v, std::int64_t now,
                                   std::int64_t& out);
// A JSON object of at most 16 KiB once serialised.
std::optional<invalid> read_metadata(const boost::json::value& v, std::string& out);

// Every name `requested` can match is matched by `bound` (both globs: '*' any run, '?' one
// character). Decided on the patterns themselves, conservatively: a literal character of `bound`
// covers only the same literal, '?' covers one literal or '?', '*' covers any run, wildcards
// included. "gpt-4o" and "gpt-*" are within "gpt-*"; "*" is not.
bool glob_covers(std::string_view bound, std::string_view requested);

// ---- query string

struct query_param {
  std::string name;
  std::string value;
};
// "a=1&b=x%20y" decoded ('+' is a space); an invalid escape names its parameter.
std::variant<std::vector<query_param>, invalid> parse_query(std::string_view query);

// The list parameters shared by every listing.
struct page_request {
  std::size_t limit = default_page;
  std::optional<std::string> cursor;
};
// Reads limit and cursor; a parameter outside `extra` (and limit, cursor) is refused.
std::optional<invalid> read_page(const std::vector<query_param>& params, page_request& page,
                                 std::initializer_list<std::string_view> extra = {});
const std::string* find_param(const std::vector<query_param>& params, std::string_view name);

response list_answer(boost::json::array data, const std::optional<std::string>& next_cursor);

// ---- operations (users.cpp, keys.cpp, channels.cpp, audit.cpp, usage.cpp)

response create_user(call& c);
response list_users(call& c);
response get_user(call& c, const std::string& id);
response update_user(call& c, const std::string& id);

response create_key(call& c);
response list_keys(call& c);
response get_key(call& c, const std::string& id);
response update_key(call& c, const std::string& id);
response revoke_key(call& c, const std::string& id);
response rotate_key(call& c, const std::string& id);

// Administrators only (the route table refuses the other roles). `id` is the path segment as
// received: a managed channel's id, or "config:" + the %-encoded name of a config-file channel.
response create_channel(call& c);
response list_channels(call& c);
response get_channel(call& c, const std::string& id);
response update_channel(call& c, const std::string& id);
response delete_channel(call& c, const std::string& id);

response list_audit(call& c);

// Every role; the roles other than admin see their own user's usage only (usage.cpp).
response usage_report(call& c);
response list_budgets(call& c);
response read_health(call& c);
response reset_health(call& c);
response usage_export(call& c);

}  // namespace sy::admin::detail
