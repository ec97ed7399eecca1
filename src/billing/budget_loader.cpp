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

store::result<std::int64_t> load_ledger_spend(store::connection& db, std::string_view scope,
                                              const std::string& id, budget_period period,
                                              std::int64_t now_ms) {
  const std::string_view where = scope == "user"         ? "user_id = $1"
                                 : scope == "config_key" ? "key_id IS NULL AND key_name = $1"
                                                         : "key_id = $1";
  std::string sql =
      "SELECT COALESCE(CAST(SUM(cost_nano_usd) AS BIGINT), 0) FROM ledger WHERE at >= $2 AND ";
  sql += where;
  auto rows = db.query(sql, {id, period_start_ms(period, now_ms)});
  if (auto* e = std::get_if<store::db_error>(&rows)) return *e;
  const auto& r = std::get<std::vector<store::row>>(rows);
  return r.empty() || r[0].is_null(0) ? 0 : r[0].integer(0);
}

budget_binder::budget_binder(budget_book& book, store::connection* db, ledger_writer* ledger,
                             std::int64_t now_ms)
    : book_(book), db_(db), ledger_(ledger), now_ms_(now_ms) {}

std::optional<std::int64_t> budget_binder::spent(std::string_view scope, const std::string& id,
                                                 budget_period period) {
  if (!db_) return 0;  // no books: in memory from zero
  if (failure_) return std::nullopt;
  if (!flushed_) {
    // Rows appended but not yet committed belong to the spend too: without them, a budget
    // would start short.
    if (ledger_ && !ledger_->flush(std::chrono::seconds(5))) {
      failure_ = store::db_error{"the ledger could not be flushed to read the budgets' spend"};
      return std::nullopt;
    }
    flushed_ = true;
  }
  auto loaded = load_ledger_spend(*db_, scope, id, period, now_ms_);
  if (auto* e = std::get_if<store::db_error>(&loaded)) {
    failure_ = *e;
    return std::nullopt;
  }
  return std::get<std::int64_t>(loaded);
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
