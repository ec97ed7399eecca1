// GET /admin/usage (the ledger summed by key, user, model, channel or day) and
// GET /admin/usage/export.csv (the ledger rows, or the summary, as CSV). Administrators see
// everything and may filter by key_id or user_id; the other roles see their own user's usage only.
#include "admin/admin_internal.h"

#include "billing/usage_query.h"
#include "config/config.h"

#include <chrono>

namespace sy::admin::detail {
namespace {

// Ledger rows read per query while an export is built.
constexpr std::size_t export_page = 1000;

std::int64_t now_ms(const call& c) {
  if (c.env.clock) return c.env.clock() * 1000;
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

billing::display_currency currency_of(const call& c) {
  billing::display_currency out;
  if (c.env.cfg && c.env.cfg->currency.code != "USD") {
    out.code = c.env.cfg->currency.code;
    out.rate = c.env.cfg->currency.rate;
  }
  return out;
}

// A query the caller may make, and the ledger filter it comes to.
struct scope {
  billing::usage_query query;
  billing::usage_filter filter;
  bool nothing = false;  // a caller without a user: no row is its own
};

// Reads the query and applies the caller's role: an administrator's key_id and user_id filter;
// another role's are checked to be its own (403 and an audit row otherwise) and its user's filter
// is always applied.
std::variant<scope, response> scope_of(call& c, std::string_view action) {
  static const billing::usage_query_rules rules{
      {billing::group_by::key, billing::group_by::user, billing::group_by::model,
       billing::group_by::channel, billing::group_by::day},
      true};
  auto parsed = billing::parse_usage_query(c.req.query, rules, now_ms(c));
  if (auto* e = std::get_if<billing::usage_query_error>(&parsed)) {
    return bad_request({e->field, e->message});
  }
  scope out;
  out.query = std::move(std::get<billing::usage_query>(parsed));
  const auto& q = out.query;
  if (c.is_admin()) {
    out.filter.key_id = q.key_id;
    out.filter.user_id = q.user_id;
    return out;
  }
  if (q.user_id && !c.owns(q.user_id)) {
    return deny(c, action, *q.user_id, "only your own usage is open to the role " + c.role,
                "user_id");
  }
  if (q.key_id) {
    auto found = c.accounts.get_key(*q.key_id);
    if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
    auto& k = std::get<std::optional<store::key_row>>(found);
    if (!k) return not_found("key " + *q.key_id);
    if (!c.owns(k->user_id)) {
      return deny(c, action, *q.key_id, "only your own keys' usage is open to the role " + c.role,
                  "key_id");
    }
    out.filter.key_id = q.key_id;
  }
  out.filter.user_id = c.who.user_id;
  out.nothing = !c.who.user_id;
  return out;
}

store::result<billing::usage_report> report_of(call& c, const scope& s, billing::group_by by) {
  if (s.nothing) return billing::usage_report{};
  return billing::usage(c.env.db, by, s.query.from_ms, s.query.to_ms, s.filter);
}

}  // namespace

response usage_report(call& c) {
  auto scoped = scope_of(c, "usage.read");
  if (auto* refused = std::get_if<response>(&scoped)) return std::move(*refused);
  const auto& s = std::get<scope>(scoped);
  const auto by = s.query.by.value_or(billing::group_by::day);
  auto report = report_of(c, s, by);
  if (auto* e = std::get_if<store::db_error>(&report)) return store_failure(*e);
  return response{200, billing::usage_json(std::get<billing::usage_report>(report), by,
                                           s.query.from_ms, s.query.to_ms, currency_of(c))};
}

response usage_export(call& c) {
  auto scoped = scope_of(c, "usage.export");
  if (auto* refused = std::get_if<response>(&scoped)) return std::move(*refused);
  const auto& s = std::get<scope>(scoped);
  response out;
  out.content_type = "text/csv; charset=utf-8";
  out.content_disposition = "attachment; filename=\"usage.csv\"";
  if (s.query.by) {
    auto report = report_of(c, s, *s.query.by);
    if (auto* e = std::get_if<store::db_error>(&report)) return store_failure(*e);
    out.body =
        billing::usage_csv(std::get<billing::usage_report>(report), *s.query.by, currency_of(c));
    return out;
  }
  out.body = billing::ledger_csv_header();
  if (s.nothing) return out;
  // Counted first, so that a range too large is refused before anything is built.
  auto counted = billing::count_ledger_rows(c.env.db, s.query.from_ms, s.query.to_ms, s.filter);
  if (auto* e = std::get_if<store::db_error>(&counted)) return store_failure(*e);
  const auto rows = std::get<std::int64_t>(counted);
  if (rows > c.env.max_export_rows) {
    return error_response(400, "too_many_rows",
                          "the range holds " + std::to_string(rows) +
                              " ledger rows; an export holds at most " +
                              std::to_string(c.env.max_export_rows) +
                              ": narrow from/to (or filter by key_id or user_id), or ask for "
                              "group_by");
  }
  out.body.reserve(out.body.size() + static_cast<std::size_t>(rows) * 200);
  std::optional<billing::ledger_cursor> after;
  // Bounded by the count (rows committed meanwhile may come too, up to one page more).
  for (std::int64_t read = 0; read <= c.env.max_export_rows;) {
    auto page = billing::ledger_rows(c.env.db, s.query.from_ms, s.query.to_ms, s.filter,
                                     export_page, after);
    if (auto* e = std::get_if<store::db_error>(&page)) return store_failure(*e);
    auto& p = std::get<billing::ledger_page>(page);
    for (const auto& r : p.rows)
      billing::append_ledger_csv(out.body, r);
    read += static_cast<std::int64_t>(p.rows.size());
    if (!p.next) break;
    after = std::move(p.next);
  }
  return out;
}

}  // namespace sy::admin::detail
