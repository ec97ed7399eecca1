#include "billing/budget.h"

#include <algorithm>
#include <chrono>
#include <limits>

namespace sy::billing {

std::optional<budget_period> parse_budget_period(std::string_view text) {
  if (text == "day") return budget_period::day;
  if (text == "month") return budget_period::month;
  if (text == "total") return budget_period::total;
  return std::nullopt;
}

std::string_view to_string(budget_period p) {
  switch (p) {
    case budget_period::day:
      return "day";
    case budget_period::month:
      return "month";
    default:
      return "total";
  }
}

namespace {

constexpr std::int64_t ms_per_day = 86'400'000;

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Unix milliseconds of 00:00 UTC on the first of the month containing `now_ms`, and of the
// first of the next month.
std::pair<std::int64_t, std::int64_t> month_bounds(std::int64_t now_ms) {
  using namespace std::chrono;
  const sys_days today{days{floor_div(now_ms, ms_per_day)}};
  const year_month_day ymd{today};
  const year_month first{ymd.year(), ymd.month()};
  const sys_days start{first / 1};
  const sys_days next{(first + months{1}) / 1};
  return {start.time_since_epoch().count() * ms_per_day,
          next.time_since_epoch().count() * ms_per_day};
}

}  // namespace

std::int64_t period_start_ms(budget_period p, std::int64_t now_ms) {
  switch (p) {
    case budget_period::day:
      return floor_div(now_ms, ms_per_day) * ms_per_day;
    case budget_period::month:
      return month_bounds(now_ms).first;
    default:
      return 0;
  }
}

std::int64_t period_end_ms(budget_period p, std::int64_t now_ms) {
  switch (p) {
    case budget_period::day:
      return (floor_div(now_ms, ms_per_day) + 1) * ms_per_day;
    case budget_period::month:
      return month_bounds(now_ms).second;
    default:
      return std::numeric_limits<std::int64_t>::max();
  }
}

std::optional<std::int64_t> parse_usd_to_nano(std::string_view text) {
  constexpr std::int64_t max_whole = 1'000'000'000;  // USD 1e9: far inside int64 in nano-USD
  if (text.empty()) return std::nullopt;
  auto dot = text.find('.');
  auto whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (whole.empty() || (dot != std::string_view::npos && frac.empty())) return std::nullopt;
  if (frac.size() > 9) return std::nullopt;
  std::int64_t w = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return std::nullopt;
    w = w * 10 + (c - '0');
    if (w > max_whole) return std::nullopt;
  }
  std::int64_t f = 0;
  for (std::size_t i = 0; i < 9; ++i) {
    char c = i < frac.size() ? frac[i] : '0';
    if (c < '0' || c > '9') return std::nullopt;
    f = f * 10 + (c - '0');
  }
  if (w == max_whole && f > 0) return std::nullopt;
  return w * 1'000'000'000 + f;
}

// ---- budget_account --------------------------------------------------------------------------

budget_account::budget_account(std::string scope, std::string id, std::string name,
                               budget_limit limit, std::int64_t spent_in_period,
                               std::int64_t now_ms)
    : scope_(std::move(scope)), id_(std::move(id)), name_(std::move(name)), limit_(limit) {
  period_start_ = period_start_ms(limit_.period, now_ms);
  period_end_ = period_end_ms(limit_.period, now_ms);
  spent_ = std::max<std::int64_t>(spent_in_period, 0);
  mark_reported();
}

void budget_account::roll(std::int64_t now_ms) {
  if (now_ms < period_end_ && now_ms >= period_start_) return;
  period_start_ = period_start_ms(limit_.period, now_ms);
  period_end_ = period_end_ms(limit_.period, now_ms);
  spent_ = 0;
  reported_80_ = reported_100_ = refused_ = false;
}

namespace {
// spent >= 80% of the limit, in integers (128 bits: a buggy upstream's cost may saturate).
bool past_80(std::int64_t spent, std::int64_t limit) {
  return static_cast<__int128>(spent) * 5 >= static_cast<__int128>(limit) * 4;
}
std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<std::int64_t>::max() : r;
}
}  // namespace

void budget_account::mark_reported() {
  reported_80_ = past_80(spent_, limit_.limit_nano_usd);
  reported_100_ = spent_ >= limit_.limit_nano_usd;
}

bool budget_account::reserve(std::int64_t amount, std::int64_t now_ms, budget_events* events) {
  std::lock_guard lock(mutex_);
  roll(now_ms);
  amount = std::max<std::int64_t>(amount, 0);
  const __int128 left = static_cast<__int128>(limit_.limit_nano_usd) - spent_ - reserved_;
  if (amount > left) {
    if (events && !refused_) events->first_refusal = true;
    refused_ = true;
    return false;
  }
  reserved_ = saturating_add(reserved_, amount);
  return true;
}

budget_events budget_account::settle(std::int64_t reserved, std::int64_t actual,
                                     std::int64_t now_ms, std::int64_t booked_at_ms) {
  std::lock_guard lock(mutex_);
  reserved_ = std::max<std::int64_t>(reserved_ - std::max<std::int64_t>(reserved, 0), 0);
  roll(now_ms);
  budget_events events;
  if (booked_at_ms < period_start_) return events;  // an ended period's: not this one's spend
  spent_ = saturating_add(spent_, std::max<std::int64_t>(actual, 0));
  if (!reported_80_ && past_80(spent_, limit_.limit_nano_usd)) {
    reported_80_ = true;
    events.crossed_80 = true;
  }
  if (!reported_100_ && spent_ >= limit_.limit_nano_usd) {
    reported_100_ = true;
    events.crossed_100 = true;
  }
  return events;
}

void budget_account::update(budget_limit limit, std::string name, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  name_ = std::move(name);
  if (limit == limit_) return;
  const bool new_period = limit.period != limit_.period;
  limit_ = limit;
  if (new_period) {
    // Another period: the spend of the old one says nothing about the new one. The book
    // recreates the account from the ledger instead (budget_book::get), so this is only reached
    // by direct users of the class.
    period_start_ = period_start_ms(limit_.period, now_ms);
    period_end_ = period_end_ms(limit_.period, now_ms);
  }
  roll(now_ms);
  mark_reported();
  refused_ = false;
}

void budget_account::reload(budget_limit limit, std::string name, std::int64_t spent_in_period,
                            std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  name_ = std::move(name);
  limit_ = limit;
  period_start_ = period_start_ms(limit_.period, now_ms);
  period_end_ = period_end_ms(limit_.period, now_ms);
  spent_ = std::max<std::int64_t>(spent_in_period, 0);
  mark_reported();
  refused_ = false;
}

budget_state budget_account::state(std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  budget_state s;
  s.scope = scope_;
  s.id = id_;
  s.name = name_;
  s.limit = limit_;
  const bool stale = now_ms >= period_end_ || now_ms < period_start_;
  s.period_start_ms = stale ? period_start_ms(limit_.period, now_ms) : period_start_;
  s.spent_nano_usd = stale ? 0 : spent_;
  s.reserved_nano_usd = reserved_;
  return s;
}

// ---- budget_book -----------------------------------------------------------------------------

namespace {
std::string book_key(std::string_view scope, std::string_view id) {
  std::string k(scope);
  k += '\0';
  k += id;
  return k;
}
}  // namespace

std::shared_ptr<budget_account> budget_book::get(
    std::string_view scope, const std::string& id, const std::string& name,
    const budget_limit& limit,
    const std::function<std::optional<std::int64_t>(budget_period)>& spent, std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto k = book_key(scope, id);
  auto it = accounts_.find(k);
  if (it != accounts_.end()) {
    auto& account = it->second;
    if (account->state(now_ms).limit.period == limit.period) {
      account->update(limit, name, now_ms);
    } else if (auto s = spent ? spent(limit.period) : std::optional<std::int64_t>(0)) {
      // Another period starts over from the ledger, in place: requests in flight still settle
      // into this account.
      account->reload(limit, name, *s, now_ms);
    }
    return account;
  }
  auto s = spent ? spent(limit.period) : std::optional<std::int64_t>(0);
  if (!s) return nullptr;
  auto account = std::make_shared<budget_account>(std::string(scope), id, name, limit, *s, now_ms);
  accounts_.emplace(std::move(k), account);
  return account;
}

std::shared_ptr<budget_account> budget_book::find(std::string_view scope,
                                                  std::string_view id) const {
  std::lock_guard lock(mutex_);
  auto it = accounts_.find(book_key(scope, id));
  return it == accounts_.end() ? nullptr : it->second;
}

std::size_t budget_book::prune(
    const std::function<bool(std::string_view scope, std::string_view id)>& keep) {
  std::lock_guard lock(mutex_);
  return std::erase_if(accounts_, [&](const auto& entry) {
    return !keep(entry.second->scope(), entry.second->id());
  });
}

std::vector<budget_state> budget_book::states(std::int64_t now_ms) const {
  std::lock_guard lock(mutex_);
  std::vector<budget_state> out;
  out.reserve(accounts_.size());
  for (const auto& [k, a] : accounts_)
    out.push_back(a->state(now_ms));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return std::tie(a.scope, a.id) < std::tie(b.scope, b.id);
  });
  return out;
}

std::size_t budget_book::size() const {
  std::lock_guard lock(mutex_);
  return accounts_.size();
}

// ---- budget_hold -----------------------------------------------------------------------------

budget_hold::budget_hold(budget_hold&& other) noexcept
    : key_(std::move(other.key_)),
      user_(std::move(other.user_)),
      amount_(other.amount_),
      reserved_at_ms_(other.reserved_at_ms_) {
  other.key_.reset();
  other.user_.reset();
  other.amount_ = 0;
}

budget_hold& budget_hold::operator=(budget_hold&& other) noexcept {
  if (this != &other) {
    if (valid()) {
      auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
      settle(amount_, now, reserved_at_ms_);
    }
    key_ = std::move(other.key_);
    user_ = std::move(other.user_);
    amount_ = other.amount_;
    reserved_at_ms_ = other.reserved_at_ms_;
    other.key_.reset();
    other.user_.reset();
    other.amount_ = 0;
  }
  return *this;
}

budget_hold::~budget_hold() {
  if (!valid()) return;
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  settle(amount_, now, reserved_at_ms_);
}

std::optional<budget_hold> budget_hold::reserve(std::shared_ptr<budget_account> key,
                                                std::shared_ptr<budget_account> user,
                                                std::int64_t amount, std::int64_t now_ms,
                                                const budget_account** refused_by,
                                                budget_events* refusal_events) {
  if (key && !key->reserve(amount, now_ms, refusal_events)) {
    if (refused_by) *refused_by = key.get();
    return std::nullopt;
  }
  if (user && !user->reserve(amount, now_ms, refusal_events)) {
    if (key) key->settle(amount, 0, now_ms, now_ms);  // give the key's reservation back
    if (refused_by) *refused_by = user.get();
    return std::nullopt;
  }
  budget_hold h;
  h.key_ = std::move(key);
  h.user_ = std::move(user);
  h.amount_ = amount;
  h.reserved_at_ms_ = now_ms;
  return h;
}

std::vector<budget_hold::settled> budget_hold::settle(std::int64_t actual, std::int64_t now_ms,
                                                      std::int64_t booked_at_ms) {
  std::vector<settled> out;
  for (auto* account : {&key_, &user_}) {
    if (!*account) continue;
    auto events = (*account)->settle(amount_, actual, now_ms, booked_at_ms);
    if (events.any()) out.push_back({*account, events});
    account->reset();
  }
  amount_ = 0;
  return out;
}

}  // namespace sy::billing
