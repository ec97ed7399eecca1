// GET /admin/usage and GET /admin/usage/export.csv on a real store (SQLite always, PostgreSQL
// under the ctest entry store_postgres): the sums equal the ledger rows, the roles see what they
// may, and bad queries are refused naming their parameter.
#include "admin/admin.h"

#include "admin_fixture.h"

#include "../store/store_fixture.h"
#include "billing/ledger.h"
#include "billing/usage_query.h"
#include "config/config.h"
#include "store/accounts.h"
#include "store/migrations.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace sy::test {
namespace {

namespace json = boost::json;
using billing::ledger_row;

// 2027-01-15T08:00:00Z
constexpr std::int64_t start_time = 1'800'000'000;
constexpr std::int64_t now_ms = start_time * 1000;
constexpr std::int64_t day_ms = 86'400'000;

class admin_usage_store_backend : public store_backend {
 protected:
  void SetUp() override {
    store_backend::SetUp();
    if (HasFatalFailure()) return;
    db_ = open();
    ASSERT_TRUE(db_);
    ASSERT_FALSE(store::migrate(*db_));
    accounts_ = std::make_unique<store::accounts>(*db_, [this] { return clock_; });
    env_ = std::make_unique<admin::environment>(
        admin::environment{*db_, nullptr, nullptr, [this] { return clock_; }});
    alice_ = make_user("alice", "developer");
    bob_ = make_user("bob", "viewer");
    carol_ = make_user("carol", "developer");
    alice_key_ = make_key(alice_, "alice-app");
    bob_key_ = make_key(bob_, "bob-app");
    carol_key_ = make_key(carol_, "=carol");
    rows_ = make_rows();
    write(rows_);
  }

  admin::response raw(const admin::caller& who, const std::string& path,
                      const std::string& query = "", const std::string& method = "GET") {
    return admin::handle({method, path, query, ""}, who, *env_);
  }
  answer call(const admin::caller& who, const std::string& query = "",
              const std::string& path = "/admin/usage") {
    return answer_of(raw(who, path, query));
  }

  admin::caller make_user(const std::string& name, const std::string& role) {
    auto created = answer_of(admin::handle(
        {"POST", "/admin/users", "", R"({"name":")" + name + R"(","role":")" + role + R"("})"},
        master_, *env_));
    EXPECT_EQ(created.status, 201u) << created.text;
    return admin::caller{created.str("id"), role, created.str("id"), std::nullopt, "192.0.2.7"};
  }

  std::string make_key(const admin::caller& owner, const std::string& name) {
    auto a = answer_of(
        admin::handle({"POST", "/admin/keys", "",
                       R"({"name":")" + name + R"(","user_id":")" + *owner.user_id + R"("})"},
                      master_, *env_));
    EXPECT_EQ(a.status, 201u) << a.text;
    return a.str("id");
  }

  // Row k: its key (alice's, bob's, carol's or a config-file key), model, channel and day derived
  // from k; some share a time (the export orders them by id), some have no price.
  ledger_row row_of(std::int64_t k, std::int64_t at) {
    ledger_row r;
    char id[32];
    std::snprintf(id, sizeof id, "led_%08lld", static_cast<long long>(k));
    r.id = id;
    r.at = at;
    r.request_id = "req_" + std::to_string(k);
    switch (k % 4) {
      case 0:
        r.key_id = alice_key_;
        r.key_name = "alice-app";
        r.user_id = alice_.user_id;
        break;
      case 1:
        r.key_id = bob_key_;
        r.key_name = "bob-app";
        r.user_id = bob_.user_id;
        break;
      case 2:
        r.key_id = carol_key_;
        r.key_name = "=carol";
        r.user_id = carol_.user_id;
        break;
      default:
        r.key_name = "config-key";  // no key id, no user
    }
    r.api = k % 2 ? "anthropic" : "openai";
    r.model = k % 3 == 0 ? "gpt-4o" : k % 3 == 1 ? "claude, \"sonnet\"" : "-gemini";
    r.channel = "ch-" + std::to_string(k % 2);
    r.upstream_model = "up-" + r.model;
    r.input_tokens = 100 + k % 13;
    r.cached_input_tokens = k % 7;
    r.cache_write_5m_tokens = k % 3;
    r.cache_write_1h_tokens = k % 5 == 0 ? 11 : 0;
    r.output_tokens = 50 + k % 17;
    r.reasoning_tokens = k % 4;
    r.estimated = k % 10 == 0;
    if (k % 9 != 0) r.cost_nano_usd = 43'500'000 + k * 1001;
    r.status = k % 8 == 0 ? 502 : 200;
    r.duration_ms = 100 + k;
    if (k % 6 != 0) r.ttfb_ms = 5 + k % 3;
    return r;
  }

  // 2,300 rows over the three days before now (two per millisecond: the export pages on
  // (at, id)), one before the month (outside the default range) and one at now (to is
  // exclusive).
  std::vector<ledger_row> make_rows() {
    std::vector<ledger_row> out;
    for (std::int64_t k = 0; k < 2300; ++k)
      out.push_back(row_of(k, now_ms - 3 * day_ms + (k / 2) * 200'000 + 7));
    out.push_back(row_of(100'000, billing::month_start_ms(now_ms) - 1));
    out.push_back(row_of(100'001, now_ms));
    return out;
  }

  void write(const std::vector<ledger_row>& rows) {
    billing::ledger_options options;
    options.migrate = false;
    auto opened = billing::ledger_writer::open(url_, options);
    ASSERT_TRUE(std::holds_alternative<std::unique_ptr<billing::ledger_writer>>(opened));
    auto& writer = std::get<std::unique_ptr<billing::ledger_writer>>(opened);
    for (const auto& r : rows)
      ASSERT_TRUE(writer->append(r));
    ASSERT_TRUE(writer->flush());
    ASSERT_EQ(writer->stats().written, rows.size());
  }

  // The rows in [from, to) that pass `keep`.
  template <class F>
  std::vector<ledger_row> rows_where(std::int64_t from, std::int64_t to, F keep) const {
    std::vector<ledger_row> out;
    for (const auto& r : rows_)
      if (r.at >= from && r.at < to && keep(r)) out.push_back(r);
    return out;
  }

  std::vector<store::audit_row> denied(const std::string& action) {
    store::audit_filter f;
    f.action = action;
    f.limit = 100;
    auto listed = ok(accounts_->list_audit(f));
    std::vector<store::audit_row> out;
    for (auto& a : listed.items)
      if (a.result == "denied") out.push_back(std::move(a));
    return out;
  }

  std::int64_t clock_ = start_time;
  std::unique_ptr<store::connection> db_;
  std::unique_ptr<store::accounts> accounts_;
  std::unique_ptr<admin::environment> env_;
  admin::caller master_{"master", "admin", std::nullopt, std::nullopt, "127.0.0.1"};
  admin::caller alice_, bob_, carol_;
  std::string alice_key_, bob_key_, carol_key_;
  std::vector<ledger_row> rows_;
};

std::string group_of(const ledger_row& r, billing::group_by by) {
  switch (by) {
    case billing::group_by::key:
      return r.key_id.value_or("");
    case billing::group_by::user:
      return r.user_id.value_or("");
    case billing::group_by::model:
      return r.model;
    case billing::group_by::channel:
      return r.channel;
    case billing::group_by::day:
      return billing::format_day(r.at / day_ms);
  }
  return "";
}

struct sums {
  std::int64_t requests = 0, input = 0, cached = 0, write_5m = 0, write_1h = 0, output = 0,
               reasoning = 0, estimated = 0, unknown = 0, cost = 0;
  void add(const ledger_row& r) {
    ++requests;
    input += r.input_tokens;
    cached += r.cached_input_tokens;
    write_5m += r.cache_write_5m_tokens;
    write_1h += r.cache_write_1h_tokens;
    output += r.output_tokens;
    reasoning += r.reasoning_tokens;
    estimated += r.estimated;
    if (r.cost_nano_usd) {
      cost += *r.cost_nano_usd;
    } else {
      ++unknown;
    }
  }
};

// Every field of `got` (one group or the total) against the sums of the rows.
void expect_sums(const json::value& got, const sums& want, const std::string& what) {
  SCOPED_TRACE(what);
  const auto& o = got.as_object();
  EXPECT_EQ(o.at("requests").to_number<std::int64_t>(), want.requests);
  EXPECT_EQ(o.at("input_tokens").to_number<std::int64_t>(), want.input);
  EXPECT_EQ(o.at("cached_input_tokens").to_number<std::int64_t>(), want.cached);
  EXPECT_EQ(o.at("cache_write_tokens").to_number<std::int64_t>(), want.write_5m + want.write_1h);
  EXPECT_EQ(o.at("cache_write_5m_tokens").to_number<std::int64_t>(), want.write_5m);
  EXPECT_EQ(o.at("cache_write_1h_tokens").to_number<std::int64_t>(), want.write_1h);
  EXPECT_EQ(o.at("output_tokens").to_number<std::int64_t>(), want.output);
  EXPECT_EQ(o.at("reasoning_tokens").to_number<std::int64_t>(), want.reasoning);
  EXPECT_EQ(o.at("estimated_requests").to_number<std::int64_t>(), want.estimated);
  EXPECT_EQ(o.at("unknown_cost_requests").to_number<std::int64_t>(), want.unknown);
  // The exact decimal of the nano-USD sum, as the answer's own text has it.
  EXPECT_EQ(json::serialize(o.at("cost_usd")),
            json::serialize(json::parse(billing::format_nano_usd(want.cost))));
}

// The report `a` against the rows: one group per distinct group value, every field, and the total.
void expect_report(const answer& a, const std::vector<ledger_row>& rows, billing::group_by by,
                   const std::string& what) {
  SCOPED_TRACE(what);
  ASSERT_EQ(a.status, 200u) << a.text;
  std::map<std::string, sums> want;
  sums total;
  for (const auto& r : rows) {
    want[group_of(r, by)].add(r);
    total.add(r);
  }
  const auto& data = a.data();
  ASSERT_EQ(data.size(), want.size()) << a.text;
  std::size_t i = 0;
  for (const auto& [group, s] : want) {
    const auto& g = data[i++];
    const auto& got_group = g.at("group");
    const std::string text = got_group.is_null() ? "" : std::string(got_group.as_string());
    EXPECT_EQ(text, group);
    if ((by == billing::group_by::key || by == billing::group_by::user) && group.empty()) {
      EXPECT_TRUE(got_group.is_null());
    }
    expect_sums(g, s, what + " group " + group);
  }
  expect_sums(a.at("total"), total, what + " total");
}

constexpr billing::group_by every_group[] = {billing::group_by::key, billing::group_by::user,
                                             billing::group_by::model, billing::group_by::channel,
                                             billing::group_by::day};

std::string name_of(billing::group_by by) {
  static const char* names[] = {"key", "user", "model", "channel", "day"};
  return names[static_cast<int>(by)];
}

TEST_P(admin_usage_store_backend, sums_equal_the_ledger_rows_for_every_grouping) {
  const auto from = billing::month_start_ms(now_ms);
  const auto in_month = rows_where(from, now_ms, [](const ledger_row&) { return true; });
  ASSERT_EQ(in_month.size(), 2300u);  // neither the row before the month nor the one at `to`
  for (auto by : every_group) {
    expect_report(call(master_, "group_by=" + name_of(by)), in_month, by, name_of(by));
  }
  // The default grouping is by day, over this month until now.
  auto a = call(master_);
  expect_report(a, in_month, billing::group_by::day, "default");
  EXPECT_EQ(a.str("group_by"), "day");
  EXPECT_EQ(a.str("from"), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(a.str("to"), "2027-01-15T08:00:00.000Z");
  // The key grouping names the keys; the config-file key's rows are the null group.
  a = call(master_, "group_by=key");
  for (const auto& g : a.data()) {
    if (g.at("group").is_null()) {
      EXPECT_TRUE(g.at("name").is_null());
    } else if (g.at("group") == json::value(alice_key_)) {
      EXPECT_EQ(g.at("name"), "alice-app");
    }
  }
}

TEST_P(admin_usage_store_backend, the_window_and_filters_are_applied) {
  const auto from = now_ms - 2 * day_ms;
  const auto to = now_ms - day_ms + 123;
  const auto range = "from=" + billing::format_time_ms(from) + "&to=" + std::to_string(to / 1000);
  const auto to_s = to / 1000 * 1000;  // unix seconds: to the second
  expect_report(call(master_, "group_by=model&" + range),
                rows_where(from, to_s, [](const ledger_row&) { return true; }),
                billing::group_by::model, "window");
  expect_report(call(master_, "group_by=day&" + range + "&key_id=" + carol_key_),
                rows_where(from, to_s, [&](const ledger_row& r) { return r.key_id == carol_key_; }),
                billing::group_by::day, "key filter");
  expect_report(
      call(master_, "group_by=channel&" + range + "&user_id=" + *bob_.user_id),
      rows_where(from, to_s, [&](const ledger_row& r) { return r.user_id == bob_.user_id; }),
      billing::group_by::channel, "user filter");
  // RFC 3339 with an offset and a fraction; the whole ledger.
  expect_report(call(master_, "group_by=user&from=1970-01-01T08:00:00.000%2B08:00&to=" +
                                  std::to_string(now_ms / 1000 + 1)),
                rows_, billing::group_by::user, "everything");
  // An empty range is a report of nothing.
  auto empty = call(master_, "from=5&to=5");
  EXPECT_EQ(empty.status, 200u);
  EXPECT_TRUE(empty.data().empty());
  expect_sums(empty.at("total"), {}, "empty");
}

TEST_P(admin_usage_store_backend, the_other_roles_see_their_own_usage_only) {
  const auto from = billing::month_start_ms(now_ms);
  auto mine = [&](const admin::caller& who) {
    return rows_where(from, now_ms, [&](const ledger_row& r) { return r.user_id == who.user_id; });
  };
  expect_report(call(alice_, "group_by=key"), mine(alice_), billing::group_by::key, "alice");
  expect_report(call(bob_, "group_by=model"), mine(bob_), billing::group_by::model, "bob");
  expect_report(call(alice_, "group_by=day&user_id=" + *alice_.user_id), mine(alice_),
                billing::group_by::day, "alice's own user_id");
  expect_report(call(alice_, "group_by=day&key_id=" + alice_key_), mine(alice_),
                billing::group_by::day, "alice's own key_id");

  // Someone else's user or key: 403, audited.
  auto a = call(alice_, "user_id=" + *carol_.user_id);
  EXPECT_EQ(a.status, 403u);
  EXPECT_EQ(a.error_code(), "forbidden");
  EXPECT_EQ(a.error_field(), "user_id");
  a = call(bob_, "key_id=" + carol_key_);
  EXPECT_EQ(a.status, 403u);
  EXPECT_EQ(a.error_field(), "key_id");
  auto rows = denied("usage.read");
  ASSERT_EQ(rows.size(), 2u);
  std::set<std::string> targets{rows[0].target, rows[1].target};
  EXPECT_TRUE(targets.count(*carol_.user_id));
  EXPECT_TRUE(targets.count(carol_key_));
  for (const auto& r : rows) {
    EXPECT_TRUE(r.actor == *alice_.user_id || r.actor == *bob_.user_id) << r.actor;
    EXPECT_EQ(r.client_ip, "192.0.2.7");
  }
  // An unknown key is 404, as elsewhere.
  EXPECT_EQ(call(alice_, "key_id=key_nope").status, 404u);

  // The export follows the same rules.
  auto refused = raw(carol_, "/admin/usage/export.csv", "user_id=" + *alice_.user_id);
  EXPECT_EQ(refused.status, 403u);
  EXPECT_EQ(refused.content_type, "application/json");
  EXPECT_EQ(denied("usage.export").size(), 1u);
  auto csv = raw(bob_, "/admin/usage/export.csv");
  ASSERT_EQ(csv.status, 200u) << csv.body;
  const auto lines = std::count(csv.body.begin(), csv.body.end(), '\n');
  EXPECT_EQ(lines, static_cast<std::int64_t>(mine(bob_).size()) + 1);
  EXPECT_EQ(csv.body.find(alice_key_), std::string::npos);

  // A caller with a role but no user (cannot happen through HTTP) sees nothing.
  admin::caller nobody{"someone", "developer", std::nullopt, std::nullopt, ""};
  auto none = call(nobody);
  EXPECT_EQ(none.status, 200u);
  EXPECT_TRUE(none.data().empty());
}

TEST_P(admin_usage_store_backend, bad_queries_are_400_naming_the_parameter) {
  const std::pair<std::string, std::string> cases[] = {
      {"group_by=week", "group_by"},
      {"from=yesterday", "from"},
      {"to=2027-01-15", "to"},
      {"from=2027-01-15T00:00:00Z&to=2027-01-14T00:00:00Z", "from"},
      {"from=2027-02-01T00:00:00Z", "from"},  // after the default `to` (now)
      {"limit=10", "limit"},
      {"cursor=x", "cursor"},
      {"to=%zz", "to"},
  };
  for (const auto& [query, field] : cases) {
    for (const char* path : {"/admin/usage", "/admin/usage/export.csv"}) {
      auto a = answer_of(raw(master_, path, query));
      EXPECT_EQ(a.status, 400u) << path << "?" << query;
      EXPECT_EQ(a.error_code(), "invalid_request") << query;
      EXPECT_EQ(a.error_field(), field) << query;
    }
  }
  auto wrong = answer_of(raw(master_, "/admin/usage", "", "POST"));
  EXPECT_EQ(wrong.status, 405u);
  EXPECT_EQ(wrong.allow, "GET");
  EXPECT_EQ(answer_of(raw(master_, "/admin/usage/export.json")).status, 404u);
}

TEST_P(admin_usage_store_backend, the_export_is_every_row_in_time_order_as_csv) {
  const auto from = now_ms - 3 * day_ms;
  const auto to = now_ms + 1;
  auto r = raw(master_, "/admin/usage/export.csv",
               "from=" + billing::format_time_ms(from) + "&to=" + billing::format_time_ms(to));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_EQ(r.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(r.content_disposition, "attachment; filename=\"usage.csv\"");
  auto want_rows = rows_where(from, to, [](const ledger_row&) { return true; });
  std::sort(want_rows.begin(), want_rows.end(), [](const ledger_row& a, const ledger_row& b) {
    return std::tie(a.at, a.id) < std::tie(b.at, b.id);
  });
  ASSERT_EQ(want_rows.size(), 2301u);  // more than two pages of the export's reads
  std::string want = billing::ledger_csv_header();
  for (const auto& row : want_rows)
    billing::append_ledger_csv(want, row);
  EXPECT_EQ(r.body.size(), want.size());
  EXPECT_TRUE(r.body == want) << r.body.substr(0, 2000);
  // Text that could start a formula is neutralized; quotes and commas are quoted.
  EXPECT_NE(r.body.find(",'=carol,"), std::string::npos);
  EXPECT_NE(r.body.find(",\"claude, \"\"sonnet\"\"\","), std::string::npos);
  EXPECT_NE(r.body.find(",'-gemini,"), std::string::npos);
  EXPECT_EQ(r.body.find(",=carol,"), std::string::npos);

  // With group_by: the grouped report as CSV.
  auto grouped = raw(master_, "/admin/usage/export.csv", "group_by=model");
  ASSERT_EQ(grouped.status, 200u) << grouped.body;
  EXPECT_TRUE(grouped.body.starts_with("model,requests,input_tokens,")) << grouped.body;
  EXPECT_EQ(std::count(grouped.body.begin(), grouped.body.end(), '\n'), 4);  // header + 3 models
  EXPECT_NE(grouped.body.find("\r\n'-gemini,"), std::string::npos) << grouped.body;
}

TEST_P(admin_usage_store_backend, an_export_too_large_is_refused_before_it_is_built) {
  env_->max_export_rows = 2299;
  auto a = answer_of(raw(master_, "/admin/usage/export.csv"));
  EXPECT_EQ(a.status, 400u);
  EXPECT_EQ(a.error_code(), "too_many_rows");
  EXPECT_NE(a.text.find("2300"), std::string::npos) << a.text;
  env_->max_export_rows = 2300;
  EXPECT_EQ(raw(master_, "/admin/usage/export.csv").status, 200u);
  // A grouped export is never too large.
  env_->max_export_rows = 1;
  EXPECT_EQ(raw(master_, "/admin/usage/export.csv", "group_by=day").status, 200u);
}

TEST_P(admin_usage_store_backend, a_display_currency_adds_the_cost_in_it) {
  config cfg;
  cfg.currency.code = "CNY";
  cfg.currency.rate = 7.2;
  env_->cfg = &cfg;
  auto a = call(master_, "group_by=channel");
  ASSERT_EQ(a.status, 200u);
  EXPECT_EQ(a.str("currency"), "CNY");
  const auto& total = a.at("total").as_object();
  EXPECT_EQ(total.at("currency"), "CNY");
  const auto usd = total.at("cost_usd").to_number<double>();
  EXPECT_NEAR(total.at("cost").to_number<double>(), usd * 7.2, 1e-6);
  auto csv = raw(master_, "/admin/usage/export.csv", "group_by=channel");
  EXPECT_NE(csv.body.find(",cost_usd,cost_CNY\r\n"), std::string::npos) << csv.body;
}

INSTANTIATE_TEST_SUITE_P(each, admin_usage_store_backend, ::testing::ValuesIn(backends()),
                         backend_name);

}  // namespace
}  // namespace sy::test
