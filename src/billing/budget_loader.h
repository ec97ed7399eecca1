// Budgets from the books: what the ledger says each key and user spent, and the binder that hands
// budget accounts to key records as the key table is (re)built.
#pragma once

#include "billing/budget.h"
#include "store/sql.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

namespace sy::billing {

class ledger_writer;

// The committed spend of one key (scope "key", by id), user ("user", by id) or config key
// ("config_key": rows without a key id, by key name) in the `period` containing `now_ms`. One
// indexed query. Rows of unknown cost add nothing (a key with a budget is never admitted to an
// unpriced model).
store::result<std::int64_t> load_ledger_spend(store::connection& db, std::string_view scope,
                                              const std::string& id, budget_period period,
                                              std::int64_t now_ms);

// Used while one key table is built: bind() gives each record with a budget its account from the
// book, creating missing ones with what the ledger holds for them (the ledger is flushed once per
// build, and read only for the accounts created), and prune() drops the accounts nobody bound.
//
// scope "key" (managed keys, by id), "user" (by id), "config_key" (config-file keys, by name).
class budget_binder {
 public:
  // `db` null: there are no books (database: none), accounts start from zero. `ledger`, when
  // given, is flushed before the ledger is read, so rows still in memory are counted.
  budget_binder(budget_book& book, store::connection* db, ledger_writer* ledger,
                std::int64_t now_ms);

  // Null when `limit` is empty (no budget).
  std::shared_ptr<budget_account> bind(std::string_view scope, const std::string& id,
                                       const std::string& name,
                                       const std::optional<std::int64_t>& limit,
                                       std::string_view period);
  // Forgets the accounts of the book that this binder did not bind.
  void prune();
  // The ledger could not be read (or flushed): the accounts that needed it were left out (or
  // left as they were), so the build must not be used; the next reload tries again.
  const std::optional<store::db_error>& failure() const { return failure_; }

 private:
  std::optional<std::int64_t> spent(std::string_view scope, const std::string& id,
                                    budget_period period);

  budget_book& book_;
  store::connection* db_;
  ledger_writer* ledger_;
  std::int64_t now_ms_;
  bool flushed_ = false;
  std::optional<store::db_error> failure_;
  std::unordered_set<std::string> bound_;  // "scope\0id"
};

std::int64_t unix_now_ms();

}  // namespace sy::billing
