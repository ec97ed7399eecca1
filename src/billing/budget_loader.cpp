#include "billing/budget_loader.h"

#include "billing/ledger.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace sy::billing {

std::int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

store::result<ledger_spend> load_ledger_spend(store::connection& db, std::int64_t now_ms) {
  const std::int64_t day = period_start_ms(budget_period::day, now_ms);
  const std::int64_t month = period_start_ms(budget_period::month, now_ms);
  ledger_spend out;
  struct part {
    std::string_view group;
    std::string_view where;
    std::unordered_map<std::string, period_spend>* into;
  };
  const part parts[] = {{"key_id", "key_id IS NOT NULL", &out.keys},
                        {"user_id", "user_id IS NOT NULL", &out.users},
                        {"key_name", "key_id IS NULL", &out.config_keys}};
  for (const auto& p : parts) {
    std::string sql = "SELECT ";
    sql += p.group;
    sql +=
        ", COALESCE(CAST(SUM(CASE WHEN at >= $1 THEN cost_nano_usd ELSE 0 END) AS BIGINT), 0)"
        ", COALESCE(CAST(SUM(CASE WHEN at >= $2 THEN cost_nano_usd ELSE 0 END) AS BIGINT), 0)"
        ", COALESCE(CAST(SUM(cost_nano_usd) AS BIGINT), 0) FROM ledger WHERE ";
    sql += p.where;
    sql += " GROUP BY ";
    sql += p.group;
    auto rows = db.query(sql, {day, month});
    if (auto* e = std::get_if<store::db_error>(&rows)) return *e;
    for (const auto& r : std::get<std::vector<store::row>>(rows)) {
      (*p.into)[r.text(0)] = period_spend{r.integer(1), r.integer(2), r.integer(3)};
    }
  }
  return out;
}

budget_binder::budget_binder(budget_book& book, store::connection* db, ledger_writer* ledger,
                             std::int64_t now_ms)
    : book_(book), db_(db), ledger_(ledger), now_ms_(now_ms) {}

std::int64_t budget_binder::spent(std::string_view scope, const std::string& id,
                                  budget_period period) {
  if (!db_) return 0;
  if (!spend_ && !failure_) {
    // Rows appended but not yet committed belong to the spend too.
    if (ledger_ && !ledger_->flush(std::chrono::seconds(5))) {
      spdlog::warn("budgets: the ledger could not be flushed; its last rows are not counted yet");
    }
    auto loaded = load_ledger_spend(*db_, now_ms_);
    if (auto* e = std::get_if<store::db_error>(&loaded)) {
      failure_ = *e;
    } else {
      spend_ = std::move(std::get<ledger_spend>(loaded));
    }
  }
  if (!spend_) return 0;
  const auto& map = scope == "user"         ? spend_->users
                    : scope == "config_key" ? spend_->config_keys
                                            : spend_->keys;
  auto it = map.find(id);
  return it == map.end() ? 0 : it->second.in(period);
}

std::shared_ptr<budget_account> budget_binder::bind(std::string_view scope, const std::string& id,
                                                    const std::string& name,
                                                    const std::optional<std::int64_t>& limit,
                                                    std::string_view period) {
  if (!limit) return nullptr;
  const budget_limit l{*limit, parse_budget_period(period).value_or(budget_period::total)};
  std::string k(scope);
  k += '\0';
  k += id;
  bound_.insert(std::move(k));
  return book_.get(
      scope, id, name, l, [&](budget_period p) { return spent(scope, id, p); }, now_ms_);
}

void budget_binder::prune() {
  book_.prune([&](std::string_view scope, std::string_view id) {
    std::string k(scope);
    k += '\0';
    k += id;
    return bound_.count(k) > 0;
  });
}

}  // namespace sy::billing
