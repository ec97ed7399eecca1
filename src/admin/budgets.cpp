// /admin/budgets: where every budget stands in the serving gateway (spent and reserved in the
// current period). Administrators see all; the others their own user's and their own keys'.
#include "admin/admin_internal.h"
#include "billing/budget.h"
#include "billing/budget_loader.h"

#include <unordered_set>

namespace sy::admin::detail {

namespace {
boost::json::value usd(std::int64_t nano) {
  return usd_or_null(nano);
}
}  // namespace

response list_budgets(call& c) {
  if (auto refused = refuse_parameters(c, "GET /admin/budgets")) return *refused;
  if (!c.env.budgets) {
    return error_response(404, "not_found",
                          "budgets are tracked by a running gateway: ask it (GET /admin/budgets)");
  }
  // The others see their own user's budget and their own keys'.
  std::unordered_set<std::string> own_keys;
  if (!c.is_admin() && c.who.user_id) {
    std::optional<std::string> after;
    for (;;) {
      auto page = c.accounts.list_keys(c.who.user_id, 1000, after);
      if (auto* e = std::get_if<store::db_error>(&page)) return store_failure(*e);
      auto& p = std::get<store::page<store::key_row, std::string>>(page);
      for (const auto& k : p.items)
        own_keys.insert(k.id);
      if (!p.next) break;
      after = p.next;
    }
  }
  boost::json::array data;
  const auto now = billing::unix_now_ms();
  for (const auto& s : c.env.budgets->states(now)) {
    if (!c.is_admin()) {
      const bool mine =
          (s.scope == "user" && c.owns(s.id)) || (s.scope == "key" && own_keys.count(s.id) > 0);
      if (!mine) continue;
    }
    boost::json::object o;
    o["scope"] = s.scope == "config_key" ? "key" : s.scope;
    o["id"] = s.scope == "config_key" ? boost::json::value(nullptr) : boost::json::value(s.id);
    o["name"] = s.name;
    o["config_key"] = s.scope == "config_key";
    o["budget_usd"] = usd(s.limit.limit_nano_usd);
    o["budget_period"] = billing::to_string(s.limit.period);
    o["period_start"] = format_time(s.period_start_ms / 1000);
    o["spent_usd"] = usd(s.spent_nano_usd);
    o["reserved_usd"] = usd(s.reserved_nano_usd);
    o["remaining_usd"] = usd(
        std::max<std::int64_t>(s.limit.limit_nano_usd - s.spent_nano_usd - s.reserved_nano_usd, 0));
    data.push_back(std::move(o));
  }
  return json_response(200, boost::json::object{{"data", std::move(data)}});
}

}  // namespace sy::admin::detail
