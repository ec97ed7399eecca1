// Spend budgets per key and per user: a limit in nano-USD over a period (a UTC day, a UTC month,
// or the key's whole life), enforced before a request is sent.
//
// A request is admitted only if its worst-case cost (its input estimate plus its largest possible
// output, at the model's price) fits in what is left: limit - spent - reserved. The worst case is
// then held as a reservation while the request runs, and settled to the real cost when it ends
// (the reservation released, the cost added to `spent`). So concurrent requests can never commit
// more than the limit between them; spend passes the limit only by what a request's real cost
// exceeds its reservation (an input estimate that fell short, or a request without max_tokens
// reserved at the configured default).
//
// Accounts live in a budget_book, kept across reloads of the key table (like the rate limiters),
// and are created with the spend the ledger holds for their current period, so a restart (even
// after kill -9) continues from the books.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sy::billing {

enum class budget_period { day, month, total };

// "day" | "month" | "total"; nullopt otherwise.
std::optional<budget_period> parse_budget_period(std::string_view text);
std::string_view to_string(budget_period p);

// The period containing `now_ms` (unix milliseconds, UTC): [start, end). For `total`, [0, max).
std::int64_t period_start_ms(budget_period p, std::int64_t now_ms);
std::int64_t period_end_ms(budget_period p, std::int64_t now_ms);

// "12.5" / "0.000001" USD -> nano-USD: a non-negative decimal with up to 9 decimal places, at
// most 1e9 USD. nullopt for anything else.
std::optional<std::int64_t> parse_usd_to_nano(std::string_view text);
// (nano-USD as text: format_nano_usd in billing/usage_query.h.)

struct budget_limit {
  std::int64_t limit_nano_usd = 0;
  budget_period period = budget_period::total;

  friend bool operator==(const budget_limit&, const budget_limit&) = default;
};

// What an account looks like at one moment.
struct budget_state {
  std::string scope;  // "key" | "user"
  std::string id;     // the key id (a config key: its name) or the user id
  std::string name;   // the key's or user's name, for alerts
  budget_limit limit;
  std::int64_t period_start_ms = 0;
  std::int64_t spent_nano_usd = 0;     // settled in the current period
  std::int64_t reserved_nano_usd = 0;  // held by requests in flight
};

// Thresholds an operation crossed, in percent of the limit (80 and 100), each reported at most
// once per period; and whether this was the period's first refusal.
struct budget_events {
  bool crossed_80 = false;
  bool crossed_100 = false;
  bool first_refusal = false;
  bool any() const { return crossed_80 || crossed_100 || first_refusal; }
};

class budget_account {
 public:
  // `spent_in_period`: what the ledger holds for the period containing `now_ms`. Thresholds it
  // already passes count as reported (a restart does not alert again).
  budget_account(std::string scope, std::string id, std::string name, budget_limit limit,
                 std::int64_t spent_in_period, std::int64_t now_ms);

  // Reserves `amount` when spent + reserved + amount <= limit in the current period. On refusal,
  // `events->first_refusal` says whether it is the first of the period.
  bool reserve(std::int64_t amount, std::int64_t now_ms, budget_events* events = nullptr);
  // Ends a reservation: `reserved` released, `actual` added to the spend of the period that
  // `booked_at_ms` (the request's time, as its ledger row has it) falls in: the current one, or
  // none when that period has ended (the books keep it in the period it began in).
  budget_events settle(std::int64_t reserved, std::int64_t actual, std::int64_t now_ms,
                       std::int64_t booked_at_ms);

  // A reload: a new limit or name. The thresholds the spend already passes under the new limit
  // count as reported; the others may be reported again.
  void update(budget_limit limit, std::string name, std::int64_t now_ms);
  // Another period: the limit, and the spend the ledger holds for the new period. Reservations of
  // requests in flight are kept (they still settle here).
  void reload(budget_limit limit, std::string name, std::int64_t spent_in_period,
              std::int64_t now_ms);

  budget_state state(std::int64_t now_ms) const;
  const std::string& scope() const { return scope_; }
  const std::string& id() const { return id_; }

 private:
  void roll(std::int64_t now_ms);  // under mutex_: a new period starts with nothing spent
  void mark_reported();            // under mutex_

  const std::string scope_;
  const std::string id_;
  mutable std::mutex mutex_;
  std::string name_;
  budget_limit limit_;
  std::int64_t period_start_ = 0;
  std::int64_t period_end_ = 0;
  std::int64_t spent_ = 0;
  std::int64_t reserved_ = 0;
  bool reported_80_ = false;
  bool reported_100_ = false;
  bool refused_ = false;
};

// Scope ids -> accounts, kept across key-table rebuilds. Called when the table is rebuilt (on
// the store thread at run time), never per request.
class budget_book {
 public:
  // The account of `scope`/`id`, updated to `limit`; created (or moved to another period) with
  // `spent(period)` as its spend so far. `spent` is called only then; when it fails (nullopt),
  // nothing changes: null is returned for a new account, the account as it was otherwise.
  std::shared_ptr<budget_account> get(
      std::string_view scope, const std::string& id, const std::string& name,
      const budget_limit& limit,
      const std::function<std::optional<std::int64_t>(budget_period)>& spent, std::int64_t now_ms);
  // The existing account, or null.
  std::shared_ptr<budget_account> find(std::string_view scope, std::string_view id) const;
  // Forgets the accounts for which keep(scope, id) is false. Requests in flight keep theirs.
  std::size_t prune(const std::function<bool(std::string_view scope, std::string_view id)>& keep);
  std::vector<budget_state> states(std::int64_t now_ms) const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<budget_account>> accounts_;  // "scope\0id"
};

// A request's hold on its key's and its user's budgets: the worst case reserved at admission,
// settled at the end to the real cost (the destructor settles to the full reservation if
// settle() was never called: spend is never under-counted).
class budget_hold {
 public:
  budget_hold() = default;
  budget_hold(budget_hold&& other) noexcept;
  budget_hold& operator=(budget_hold&& other) noexcept;
  budget_hold(const budget_hold&) = delete;
  budget_hold& operator=(const budget_hold&) = delete;
  ~budget_hold();

  // Reserves `amount` on each account given (null ones skipped), all or none. On refusal, the
  // account that refused, and its events, are returned through the pointers.
  static std::optional<budget_hold> reserve(std::shared_ptr<budget_account> key,
                                            std::shared_ptr<budget_account> user,
                                            std::int64_t amount, std::int64_t now_ms,
                                            const budget_account** refused_by,
                                            budget_events* refusal_events);

  bool valid() const { return key_ || user_; }
  std::int64_t reserved() const { return amount_; }
  // Settles both accounts to `actual`; the events of each (key first), for alerts.
  struct settled {
    std::shared_ptr<budget_account> account;
    budget_events events;
  };
  // `booked_at_ms`: the request's time as its ledger row records it (see budget_account::settle).
  std::vector<settled> settle(std::int64_t actual, std::int64_t now_ms, std::int64_t booked_at_ms);

 private:
  std::shared_ptr<budget_account> key_;
  std::shared_ptr<budget_account> user_;
  std::int64_t amount_ = 0;
  std::int64_t reserved_at_ms_ = 0;
};

}  // namespace sy::billing
