// GET /admin/audit: the audit log, newest first, filtered and paged (admins only).
#include "admin/admin_internal.h"

#include <charconv>

namespace sy::admin::detail {
namespace {

// RFC 3339 or unix seconds.
std::optional<std::int64_t> time_param(const std::string& text) {
  std::int64_t t = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), t);
  if (!text.empty() && ec == std::errc{} && end == text.data() + text.size()) return t;
  return parse_time(text);
}

boost::json::object audit_json(const store::audit_row& a) {
  boost::system::error_code ec;
  auto changes = boost::json::parse(a.changes, ec);
  if (ec || !changes.is_object()) changes = boost::json::object{};
  return {{"id", a.id},
          {"at", format_time(a.at)},
          {"actor", a.actor},
          {"role", a.role},
          {"action", a.action},
          {"target", a.target},
          {"client_ip", a.client_ip},
          {"result", a.result},
          {"changes", std::move(changes)}};
}

}  // namespace

response list_audit(call& c) {
  auto parsed = parse_query(c.req.query);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& params = std::get<std::vector<query_param>>(parsed);
  page_request page;
  if (auto why = read_page(params, page, {"actor", "action", "from", "to"})) {
    return bad_request(*why);
  }
  store::audit_filter filter;
  filter.limit = page.limit;
  if (page.cursor) {
    filter.cursor = store::parse_cursor(*page.cursor);
    if (!filter.cursor) return bad_request({"cursor", "cursor is not one this API returned"});
  }
  if (const auto* v = find_param(params, "actor"); v && !v->empty()) filter.actor = *v;
  if (const auto* v = find_param(params, "action"); v && !v->empty()) filter.action = *v;
  for (auto [name, out] : {std::pair{"from", &filter.from}, std::pair{"to", &filter.to}}) {
    const auto* v = find_param(params, name);
    if (!v || v->empty()) continue;
    *out = time_param(*v);
    if (!*out) {
      return bad_request({name, std::string(name) +
                                    " must be an RFC 3339 time (2026-11-26T12:00:00Z) or unix "
                                    "seconds"});
    }
  }
  auto listed = c.accounts.list_audit(filter);
  if (auto* e = std::get_if<store::db_error>(&listed)) return store_failure(*e);
  auto& rows = std::get<store::page<store::audit_row, store::audit_cursor>>(listed);
  boost::json::array data;
  for (const auto& a : rows.items)
    data.push_back(audit_json(a));
  std::optional<std::string> next;
  if (rows.next) next = store::format_cursor(*rows.next);
  return list_answer(std::move(data), next);
}

}  // namespace sy::admin::detail
