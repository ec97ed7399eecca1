// Usage reports as the admin API, the data plane's GET /v1/usage and `switchyard usage` ask for
// them and answer them: the query string (group_by, from, to, key_id, user_id), the report as
// JSON, and the ledger as CSV. Shared so that the three cannot drift apart; docs/admin-api.md
// ("Usage") describes the shapes.
#pragma once

#include "billing/ledger.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace sy::billing {

// ---- times

// RFC 3339 ("2026-11-26T12:00:00Z", "2026-11-26T20:00:00.250+08:00"; a fraction is kept to the
// millisecond, truncated) or unix seconds ("1795694400") → unix milliseconds. nullopt for
// anything else, and for times before 1970 or after 9999.
std::optional<std::int64_t> parse_time_ms(std::string_view text);
// Unix milliseconds → RFC 3339 in UTC with milliseconds: "2026-11-26T12:00:00.250Z".
std::string format_time_ms(std::int64_t ms);
// The start of the UTC month holding `ms`.
std::int64_t month_start_ms(std::int64_t ms);

// ---- the query

// What a usage query may say, per caller.
struct usage_query_rules {
  std::vector<group_by> groups;  // the group_by values accepted
  bool filters = false;          // key_id and user_id are accepted
};

struct usage_query {
  std::optional<group_by> by;  // absent when the query did not say
  std::int64_t from_ms = 0;    // inclusive
  std::int64_t to_ms = 0;      // exclusive
  std::optional<std::string> key_id;
  std::optional<std::string> user_id;
};

// A refused query: the parameter it names and why.
struct usage_query_error {
  std::string field;
  std::string message;
};

// Reads the raw query string ("group_by=day&from=...", %-escapes and '+' decoded; an empty value
// is the same as an absent parameter; the last of repeated parameters wins). Defaults: to = now,
// from = the start of the UTC month holding `to` (its last millisecond: to is exclusive). Refuses
// unknown parameters, unknown or disallowed group_by values, malformed times and from > to.
std::variant<usage_query, usage_query_error> parse_usage_query(std::string_view raw,
                                                               const usage_query_rules& rules,
                                                               std::int64_t now_ms);

// ---- money

// nano-USD → the exact decimal, without trailing zeros: 43500000 → "0.0435", 0 → "0",
// 2000000000 → "2". A JSON number that never shows binary noise.
std::string format_nano_usd(std::int64_t nano);

// The display currency (config `currency:`); `code` empty when costs are shown in USD only.
struct display_currency {
  std::string code;
  double rate = 1.0;
};
// nano-USD in the display currency, rounded to 1e-6 of it: "0.31255".
std::string format_in_currency(std::int64_t nano_usd, const display_currency& c);

// ---- answers

// The report as JSON: {"group_by","from","to",["currency"],"data":[...],"total":{...}}. Each
// group has group (null for the rows without a key or user), [name, for keys], requests, the
// token sums, estimated_requests, unknown_cost_requests, cost_usd and, with a display currency,
// cost and currency.
std::string usage_json(const usage_report& report, group_by by, std::int64_t from_ms,
                       std::int64_t to_ms, const display_currency& currency);

// One CSV field (RFC 4180): quoted when it holds a comma, a quote, CR or LF (quotes doubled).
// `text` fields that start with '=', '+', '-', '@', a tab or CR get a leading "'" first, so that
// a spreadsheet never runs them as a formula; numbers are written as they are.
void append_csv_field(std::string& out, std::string_view value, bool text = true);

// The grouped report as CSV: a header line, then one line per group (no total line). Lines end
// in CRLF.
std::string usage_csv(const usage_report& report, group_by by, const display_currency& currency);

// The ledger export's header line, and one ledger row as a CSV line (CRLF included).
std::string ledger_csv_header();
void append_ledger_csv(std::string& out, const ledger_row& row);

}  // namespace sy::billing
