// Budget alerts: what the gateway says when a budget crosses 80 % or 100 % of its limit, or
// refuses the first request of its period.
#include "billing/budget.h"
#include "billing/usage_query.h"
#include "common/json.h"
#include "server/server.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace sy {

void server::budget_event(const billing::budget_state& state, std::string_view type, int percent) {
  const auto limit = billing::format_nano_usd(state.limit.limit_nano_usd);
  const auto spent = billing::format_nano_usd(state.spent_nano_usd);
  const auto period = billing::to_string(state.limit.period);
  if (type == "budget.exhausted") {
    spdlog::warn("budget: {} {} ('{}') refused a request: USD {} of USD {} ({}) spent", state.scope,
                 state.id, state.name, spent, limit, period);
  } else {
    spdlog::warn("budget: {} {} ('{}') reached {}% of its budget: USD {} of USD {} ({})",
                 state.scope, state.id, state.name, percent, spent, limit, period);
  }
  if (!alert_sink_) return;
  // Amounts are JSON numbers written from the exact nano-USD integers ("12.5", never 1.25E1).
  std::string data = R"({"scope":)";
  json::append_quoted(data, state.scope == "config_key" ? "key" : state.scope);
  data += R"(,"id":)";
  json::append_quoted(data, state.id);
  data += R"(,"name":)";
  json::append_quoted(data, state.name);
  if (percent) fmt::format_to(std::back_inserter(data), R"(,"threshold_percent":{})", percent);
  fmt::format_to(std::back_inserter(data),
                 R"(,"budget_usd":{},"spent_usd":{},"reserved_usd":{},"period":"{}",)"
                 R"("period_start_ms":{},"config_key":{}}})",
                 limit, spent, billing::format_nano_usd(state.reserved_nano_usd), period,
                 state.period_start_ms, state.scope == "config_key");
  alert_sink_(type, std::move(data));
}

}  // namespace sy
