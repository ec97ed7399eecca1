#include "billing/budget.h"
#include "billing/usage_query.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace sy::billing {
namespace {

// 2026-11-26T15:30:00Z
constexpr std::int64_t now = 1'795'707'000'000;
constexpr std::int64_t usd = 1'000'000'000;

TEST(BudgetPeriod, ParsesAndPrints) {
  for (auto p : {budget_period::day, budget_period::month, budget_period::total}) {
    EXPECT_EQ(parse_budget_period(to_string(p)), p);
  }
  EXPECT_FALSE(parse_budget_period("week"));
  EXPECT_FALSE(parse_budget_period("Day"));
  EXPECT_FALSE(parse_budget_period(""));
}

TEST(BudgetPeriod, BoundsAreUtcDaysAndMonths) {
  EXPECT_EQ(period_start_ms(budget_period::day, now), 1'795'651'200'000);    // 2026-11-26T00:00Z
  EXPECT_EQ(period_end_ms(budget_period::day, now), 1'795'737'600'000);      // 2026-11-27T00:00Z
  EXPECT_EQ(period_start_ms(budget_period::month, now), 1'793'491'200'000);  // 2026-11-01
  EXPECT_EQ(period_end_ms(budget_period::month, now), 1'796'083'200'000);    // 2026-12-01
  // December rolls into the next year; February of a leap year has 29 days.
  EXPECT_EQ(period_end_ms(budget_period::month, 1'796'083'200'000), 1'798'761'600'000);  // 2027-01
  EXPECT_EQ(period_end_ms(budget_period::month, 1'833'753'600'000),
            1'835'481'600'000);  // 2028-02-10 -> 03-01
  EXPECT_EQ(period_start_ms(budget_period::total, now), 0);
  // The last millisecond of a day belongs to it; the next is the next day's first.
  EXPECT_EQ(period_start_ms(budget_period::day, 1'795'737'599'999), 1'795'651'200'000);
  EXPECT_EQ(period_start_ms(budget_period::day, 1'795'737'600'000), 1'795'737'600'000);
  // Before 1970 too (floor, not truncation).
  EXPECT_EQ(period_start_ms(budget_period::day, -1), -86'400'000);
}

TEST(BudgetMoney, ParsesAndFormatsExactly) {
  EXPECT_EQ(parse_usd_to_nano("12.5"), 12'500'000'000);
  EXPECT_EQ(parse_usd_to_nano("0.000000001"), 1);
  EXPECT_EQ(parse_usd_to_nano("0"), 0);
  EXPECT_EQ(parse_usd_to_nano("1000000000"), 1'000'000'000 * usd);
  EXPECT_FALSE(parse_usd_to_nano("1000000000.1"));
  EXPECT_FALSE(parse_usd_to_nano("0.0000000001"));
  EXPECT_FALSE(parse_usd_to_nano("-1"));
  EXPECT_FALSE(parse_usd_to_nano("1e3"));
  EXPECT_FALSE(parse_usd_to_nano("."));
  EXPECT_FALSE(parse_usd_to_nano("1."));
  EXPECT_FALSE(parse_usd_to_nano(""));
  EXPECT_EQ(format_nano_usd(12'500'000'000), "12.5");
  EXPECT_EQ(format_nano_usd(1), "0.000000001");
  EXPECT_EQ(format_nano_usd(0), "0");
  EXPECT_EQ(format_nano_usd(43'500'000), "0.0435");
  EXPECT_EQ(format_nano_usd(-5), "-0.000000005");
}

TEST(BudgetAccount, ReservesOnlyWhatFits) {
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::total}, 0, now);
  EXPECT_TRUE(a.reserve(6 * usd, now));
  EXPECT_FALSE(a.reserve(5 * usd, now));  // 6 reserved + 5 > 10
  EXPECT_TRUE(a.reserve(4 * usd, now));   // exactly the limit
  EXPECT_FALSE(a.reserve(1, now));
  a.settle(6 * usd, 1 * usd, now, now);  // cost 1 of the 6 reserved
  auto s = a.state(now);
  EXPECT_EQ(s.spent_nano_usd, 1 * usd);
  EXPECT_EQ(s.reserved_nano_usd, 4 * usd);
  EXPECT_TRUE(a.reserve(5 * usd, now));
  EXPECT_FALSE(a.reserve(1, now));
}

TEST(BudgetAccount, StartsFromTheLedgerSpend) {
  budget_account a("user", "usr_1", "u", {10 * usd, budget_period::month}, 9 * usd, now);
  EXPECT_FALSE(a.reserve(2 * usd, now));
  EXPECT_TRUE(a.reserve(1 * usd, now));
}

TEST(BudgetAccount, ANewPeriodStartsWithNothingSpent) {
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::day}, 10 * usd, now);
  EXPECT_FALSE(a.reserve(1, now));
  const auto tomorrow = period_end_ms(budget_period::day, now);
  EXPECT_TRUE(a.reserve(10 * usd, tomorrow));
  EXPECT_EQ(a.state(tomorrow).period_start_ms, tomorrow);
  EXPECT_EQ(a.state(tomorrow).spent_nano_usd, 0);
}

TEST(BudgetAccount, ReportsEachThresholdOncePerPeriod) {
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::day}, 0, now);
  ASSERT_TRUE(a.reserve(7 * usd, now));
  auto e = a.settle(7 * usd, 7 * usd, now, now);
  EXPECT_FALSE(e.crossed_80);
  ASSERT_TRUE(a.reserve(1 * usd, now));
  e = a.settle(1 * usd, 1 * usd, now, now);  // 8 of 10: exactly 80 %
  EXPECT_TRUE(e.crossed_80);
  EXPECT_FALSE(e.crossed_100);
  ASSERT_TRUE(a.reserve(1 * usd, now));
  e = a.settle(1 * usd, 1 * usd, now, now);
  EXPECT_FALSE(e.any());
  ASSERT_TRUE(a.reserve(1 * usd, now));
  e = a.settle(1 * usd, 3 * usd, now, now);  // over the limit: the settlement difference
  EXPECT_TRUE(e.crossed_100);
  budget_events refused;
  EXPECT_FALSE(a.reserve(1, now, &refused));
  EXPECT_TRUE(refused.first_refusal);
  budget_events again;
  EXPECT_FALSE(a.reserve(1, now, &again));
  EXPECT_FALSE(again.first_refusal);
  // The next day reports again.
  const auto tomorrow = period_end_ms(budget_period::day, now);
  ASSERT_TRUE(a.reserve(9 * usd, tomorrow));
  e = a.settle(9 * usd, 9 * usd, tomorrow, tomorrow);
  EXPECT_TRUE(e.crossed_80);
}

TEST(BudgetAccount, AlreadyPassedThresholdsAreNotReportedAfterARestart) {
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::total}, 9 * usd, now);
  ASSERT_TRUE(a.reserve(1 * usd, now));
  auto e = a.settle(1 * usd, 1 * usd, now, now);
  EXPECT_FALSE(e.crossed_80);
  EXPECT_TRUE(e.crossed_100);
}

TEST(BudgetAccount, RaisingTheLimitArmsTheThresholdsAgain) {
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::total}, 9 * usd, now);
  a.update({20 * usd, budget_period::total}, "k", now);
  ASSERT_TRUE(a.reserve(7 * usd, now));
  auto e = a.settle(7 * usd, 7 * usd, now, now);  // 16 of 20
  EXPECT_TRUE(e.crossed_80);
}

TEST(BudgetAccount, HugeCostsSaturateInsteadOfWrapping) {
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::total}, 0, now);
  ASSERT_TRUE(a.reserve(1, now));
  a.settle(1, std::numeric_limits<std::int64_t>::max(), now, now);
  a.settle(0, std::numeric_limits<std::int64_t>::max(), now, now);
  EXPECT_EQ(a.state(now).spent_nano_usd, std::numeric_limits<std::int64_t>::max());
  EXPECT_FALSE(a.reserve(0 + 1, now));
}

TEST(BudgetBook, KeepsAccountsAcrossReloadsAndReloadsOnAPeriodChange) {
  budget_book book;
  int loads = 0;
  auto spent = [&](budget_period p) -> std::optional<std::int64_t> {
    ++loads;
    return p == budget_period::total ? 5 * usd : 1 * usd;
  };
  auto a = book.get("key", "key_1", "k", {10 * usd, budget_period::total}, spent, now);
  EXPECT_EQ(a->state(now).spent_nano_usd, 5 * usd);
  auto b = book.get("key", "key_1", "k2", {20 * usd, budget_period::total}, spent, now);
  EXPECT_EQ(a, b);
  EXPECT_EQ(loads, 1);
  EXPECT_EQ(b->state(now).limit.limit_nano_usd, 20 * usd);
  EXPECT_EQ(b->state(now).name, "k2");
  // Another period: the same account (requests in flight settle into it), reloaded from the
  // ledger for the new period, its reservations kept.
  ASSERT_TRUE(a->reserve(2 * usd, now));
  auto c = book.get("key", "key_1", "k2", {20 * usd, budget_period::day}, spent, now);
  EXPECT_EQ(a, c);
  EXPECT_EQ(loads, 2);
  EXPECT_EQ(c->state(now).spent_nano_usd, 1 * usd);
  EXPECT_EQ(c->state(now).reserved_nano_usd, 2 * usd);
  EXPECT_EQ(c->state(now).period_start_ms, period_start_ms(budget_period::day, now));
  // The user scope is another account, even with the same id.
  auto u = book.get("user", "key_1", "u", {1 * usd, budget_period::day}, nullptr, now);
  EXPECT_NE(u, c);
  EXPECT_EQ(book.size(), 2u);
  EXPECT_EQ(book.prune([](std::string_view scope, std::string_view) { return scope == "user"; }),
            1u);
  EXPECT_EQ(book.find("key", "key_1"), nullptr);
  EXPECT_EQ(book.find("user", "key_1"), u);
}

TEST(BudgetBook, AnUnreadableLedgerChangesNothing) {
  budget_book book;
  auto fails = [](budget_period) -> std::optional<std::int64_t> { return std::nullopt; };
  // No account is made without its spend: the next reload tries again.
  EXPECT_EQ(book.get("key", "key_1", "k", {10 * usd, budget_period::total}, fails, now), nullptr);
  EXPECT_EQ(book.find("key", "key_1"), nullptr);
  auto ok = [](budget_period) -> std::optional<std::int64_t> { return 9 * usd; };
  auto a = book.get("key", "key_1", "k", {10 * usd, budget_period::total}, ok, now);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->state(now).spent_nano_usd, 9 * usd);
  // A period change that cannot read the ledger leaves the account as it was.
  auto b = book.get("key", "key_1", "k", {10 * usd, budget_period::day}, fails, now);
  EXPECT_EQ(a, b);
  EXPECT_EQ(b->state(now).limit.period, budget_period::total);
  EXPECT_EQ(b->state(now).spent_nano_usd, 9 * usd);
}

TEST(BudgetAccount, ARequestIsBookedInThePeriodItBeganIn) {
  // A day budget; a request reserved at 23:59:59.900 and settled after midnight counts in the
  // day it began in (as its ledger row does), not in the new one.
  const auto midnight = period_end_ms(budget_period::day, now);
  budget_account a("key", "key_1", "k", {10 * usd, budget_period::day}, 0, midnight - 100);
  auto hold = budget_hold::reserve(std::shared_ptr<budget_account>(&a, [](budget_account*) {}),
                                   nullptr, 3 * usd, midnight - 100, nullptr, nullptr);
  ASSERT_TRUE(hold);
  hold->settle(2 * usd, midnight + 30'000, midnight - 100);
  EXPECT_EQ(a.state(midnight + 30'000).spent_nano_usd, 0);
  EXPECT_EQ(a.state(midnight + 30'000).reserved_nano_usd, 0);
  // One that began after midnight counts.
  ASSERT_TRUE(a.reserve(3 * usd, midnight + 31'000));
  a.settle(3 * usd, 2 * usd, midnight + 32'000, midnight + 31'000);
  EXPECT_EQ(a.state(midnight + 32'000).spent_nano_usd, 2 * usd);
}

TEST(BudgetHold, ReservesOnBothOrNeither) {
  auto key = std::make_shared<budget_account>("key", "key_1", "k",
                                              budget_limit{10 * usd, budget_period::total}, 0, now);
  auto user = std::make_shared<budget_account>("user", "usr_1", "u",
                                               budget_limit{3 * usd, budget_period::total}, 0, now);
  const budget_account* refused = nullptr;
  budget_events events;
  auto none = budget_hold::reserve(key, user, 4 * usd, now, &refused, &events);
  EXPECT_FALSE(none);
  EXPECT_EQ(refused, user.get());
  EXPECT_EQ(key->state(now).reserved_nano_usd, 0);  // given back
  auto hold = budget_hold::reserve(key, user, 2 * usd, now, &refused, &events);
  ASSERT_TRUE(hold);
  EXPECT_EQ(key->state(now).reserved_nano_usd, 2 * usd);
  EXPECT_EQ(user->state(now).reserved_nano_usd, 2 * usd);
  auto settled = hold->settle(1 * usd, now, now);
  EXPECT_FALSE(hold->valid());
  EXPECT_EQ(key->state(now).spent_nano_usd, 1 * usd);
  EXPECT_EQ(user->state(now).spent_nano_usd, 1 * usd);
  EXPECT_EQ(user->state(now).reserved_nano_usd, 0);
  ASSERT_EQ(settled.size(), 0u);
}

TEST(BudgetHold, AnUnsettledHoldChargesItsWholeReservation) {
  auto key = std::make_shared<budget_account>("key", "key_1", "k",
                                              budget_limit{10 * usd, budget_period::total}, 0, now);
  {
    auto hold = budget_hold::reserve(key, nullptr, 2 * usd, now, nullptr, nullptr);
    ASSERT_TRUE(hold);
    budget_hold moved = std::move(*hold);
    EXPECT_FALSE(hold->valid());
    EXPECT_TRUE(moved.valid());
  }
  EXPECT_EQ(key->state(now).spent_nano_usd, 2 * usd);
  EXPECT_EQ(key->state(now).reserved_nano_usd, 0);
}

// Many threads reserving and settling at once never commit more than the limit.
TEST(BudgetAccount, ConcurrentReservationsNeverOverspend) {
  auto a = std::make_shared<budget_account>("key", "key_1", "k",
                                            budget_limit{1000, budget_period::total}, 0, now);
  std::atomic<int> admitted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        auto hold = budget_hold::reserve(a, nullptr, 7, now, nullptr, nullptr);
        if (!hold) continue;
        admitted.fetch_add(1);
        hold->settle(5, now, now);  // the real cost is below the reservation
      }
    });
  }
  for (auto& t : threads)
    t.join();
  const auto s = a->state(now);
  EXPECT_EQ(s.reserved_nano_usd, 0);
  EXPECT_EQ(s.spent_nano_usd, admitted.load() * 5);
  EXPECT_LE(s.spent_nano_usd, 1000);
  EXPECT_GT(s.spent_nano_usd, 1000 - 7);  // it was filled: nothing fits any more
}

}  // namespace
}  // namespace sy::billing
