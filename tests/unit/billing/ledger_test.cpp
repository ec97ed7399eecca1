// The ledger: migration 3, the batching writer (concurrent appends, flush, destructor, retries,
// the memory bound, kill -9) and the usage report, on SQLite and PostgreSQL alike.

#include "billing/ledger.h"
#include "billing/budget_loader.h"
#include "store/migrations.h"

#include "../store/store_fixture.h"

#include <gtest/gtest.h>

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <set>
#include <thread>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
using billing::ledger_row;
using billing::ledger_writer;

// Row number k of a test: every column derived from k, so sums can be computed here.
ledger_row sample(std::int64_t k) {
  ledger_row r;
  r.at = 1'700'000'000'000 + k;
  r.request_id = "req-" + std::to_string(k);
  if (k % 11 != 0) r.key_id = "key_" + std::to_string(k % 4);
  r.key_name = "name-" + std::to_string(k % 4);
  if (k % 2 == 0) r.user_id = "usr_" + std::to_string(k % 3);
  r.api = k % 3 == 0 ? "openai" : k % 3 == 1 ? "anthropic" : "gemini";
  r.model = "model-" + std::to_string(k % 5);
  r.channel = "channel-" + std::to_string(k % 2);
  r.upstream_model = "up-" + r.model;
  r.input_tokens = k % 13;
  r.cached_input_tokens = k % 5;
  r.cache_write_5m_tokens = k % 3;
  r.cache_write_1h_tokens = k % 2;
  r.output_tokens = k % 17;
  r.reasoning_tokens = k % 4;
  r.estimated = k % 10 == 0;
  if (k % 9 != 0) r.cost_nano_usd = k * 1000;
  r.status = k % 8 == 0 ? 429 : 200;
  r.duration_ms = k % 100;
  if (k % 3 != 0) r.ttfb_ms = 5;
  return r;
}

void add(billing::usage_group& g, const ledger_row& r) {
  ++g.requests;
  g.input_tokens += r.input_tokens;
  g.cached_input_tokens += r.cached_input_tokens;
  g.cache_write_5m_tokens += r.cache_write_5m_tokens;
  g.cache_write_1h_tokens += r.cache_write_1h_tokens;
  g.cache_write_tokens += r.cache_write_5m_tokens + r.cache_write_1h_tokens;
  g.output_tokens += r.output_tokens;
  g.reasoning_tokens += r.reasoning_tokens;
  g.estimated_requests += r.estimated ? 1 : 0;
  if (r.cost_nano_usd) {
    g.cost_nano_usd += *r.cost_nano_usd;
  } else {
    ++g.unknown_cost_requests;
  }
}

void expect_same(const billing::usage_group& want, const billing::usage_group& got,
                 const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(got.requests, want.requests);
  EXPECT_EQ(got.input_tokens, want.input_tokens);
  EXPECT_EQ(got.cached_input_tokens, want.cached_input_tokens);
  EXPECT_EQ(got.cache_write_tokens, want.cache_write_tokens);
  EXPECT_EQ(got.cache_write_5m_tokens, want.cache_write_5m_tokens);
  EXPECT_EQ(got.cache_write_1h_tokens, want.cache_write_1h_tokens);
  EXPECT_EQ(got.output_tokens, want.output_tokens);
  EXPECT_EQ(got.reasoning_tokens, want.reasoning_tokens);
  EXPECT_EQ(got.estimated_requests, want.estimated_requests);
  EXPECT_EQ(got.cost_nano_usd, want.cost_nano_usd);
  EXPECT_EQ(got.unknown_cost_requests, want.unknown_cost_requests);
}

// Fails the first `failures` transactions, then behaves as the connection it wraps.
class flaky_connection : public store::connection {
 public:
  flaky_connection(std::unique_ptr<store::connection> inner, int failures)
      : inner_(std::move(inner)), failures_(failures) {}
  store::result<std::vector<store::row>> query(std::string_view sql,
                                               const std::vector<store::value>& params) override {
    return inner_->query(sql, params);
  }
  std::optional<store::db_error> exec_script(std::string_view sql) override {
    return inner_->exec_script(sql);
  }
  std::optional<store::db_error> begin() override {
    if (failures_.fetch_sub(1) > 0) return store::db_error{"injected failure"};
    return inner_->begin();
  }
  std::optional<store::db_error> commit() override { return inner_->commit(); }
  void rollback() override { inner_->rollback(); }
  std::string_view dialect() const override { return inner_->dialect(); }

 private:
  std::unique_ptr<store::connection> inner_;
  std::atomic<int> failures_;
};

class ledger_store_backend : public store_backend {
 protected:
  void SetUp() override {
    store_backend::SetUp();
    if (HasFatalFailure()) return;
    db_ = open();
    ASSERT_TRUE(db_);
    ASSERT_FALSE(store::migrate(*db_));
  }

  std::unique_ptr<ledger_writer> writer(billing::ledger_options options = {}) {
    options.migrate = false;
    auto opened = ledger_writer::open(url_, options);
    if (auto* e = std::get_if<store::db_error>(&opened)) {
      ADD_FAILURE() << e->message;
      return nullptr;
    }
    return std::move(std::get<std::unique_ptr<ledger_writer>>(opened));
  }

  std::int64_t count() {
    auto r = rows_of(db_->query("SELECT COUNT(*) FROM ledger"));
    return r.empty() ? -1 : r[0].integer(0);
  }

  billing::usage_report report(billing::group_by by, std::int64_t from = 0,
                               std::int64_t to = INT64_MAX, billing::usage_filter filter = {}) {
    return ok(billing::usage(*db_, by, from, to, filter));
  }

  std::unique_ptr<store::connection> db_;
};

TEST_P(ledger_store_backend, migration_3_creates_the_ledger) {
  EXPECT_GE(std::get<std::int64_t>(store::schema_version(*db_)), 3);
  auto applied = rows_of(db_->query("SELECT name FROM schema_migrations WHERE version = 3"));
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].text(0), "ledger");
  // Every column the writer and the report use, and NULL where a value may be unknown.
  ASSERT_EQ(
      rows_of(db_->query(
                  "INSERT INTO ledger (id, at, request_id, key_id, key_name, user_id, api, model, "
                  "channel, upstream_model, input_tokens, cached_input_tokens, "
                  "cache_write_5m_tokens, cache_write_1h_tokens, output_tokens, reasoning_tokens, "
                  "estimated, cost_nano_usd, status, duration_ms, ttfb_ms) VALUES ('led_1', 1, "
                  "'r', NULL, '', NULL, 'openai', 'm', '', '', 1, 2, 3, 4, 5, 6, 0, NULL, 200, 7, "
                  "NULL)"))
          .size(),
      0u);
  auto row = rows_of(db_->query("SELECT key_id, cost_nano_usd, ttfb_ms, at FROM ledger"));
  ASSERT_EQ(row.size(), 1u);
  EXPECT_TRUE(row[0].is_null(0));
  EXPECT_TRUE(row[0].is_null(1));
  EXPECT_TRUE(row[0].is_null(2));
  EXPECT_EQ(row[0].integer(3), 1);
  // Migrating again changes nothing.
  EXPECT_FALSE(store::migrate(*db_));
  EXPECT_EQ(count(), 1);
}

TEST_P(ledger_store_backend, every_column_round_trips) {
  auto w = writer();
  ASSERT_TRUE(w);
  auto in = sample(7);
  in.key_name = "ключ 'quoted'";
  ASSERT_TRUE(w->append(in));
  ASSERT_TRUE(w->flush());
  auto r = rows_of(db_->query(
      "SELECT id, at, request_id, key_id, key_name, user_id, api, model, channel, upstream_model, "
      "input_tokens, cached_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens, "
      "output_tokens, reasoning_tokens, estimated, cost_nano_usd, status, duration_ms, ttfb_ms "
      "FROM ledger"));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].text(0).substr(0, 4), "led_");
  EXPECT_EQ(r[0].text(0).size(), 24u);
  EXPECT_EQ(r[0].integer(1), in.at);
  EXPECT_EQ(r[0].text(2), in.request_id);
  EXPECT_EQ(r[0].text(3), *in.key_id);
  EXPECT_EQ(r[0].text(4), in.key_name);
  EXPECT_TRUE(r[0].is_null(5));  // 7 is odd: no user
  EXPECT_EQ(r[0].text(6), in.api);
  EXPECT_EQ(r[0].text(7), in.model);
  EXPECT_EQ(r[0].text(8), in.channel);
  EXPECT_EQ(r[0].text(9), in.upstream_model);
  EXPECT_EQ(r[0].integer(10), in.input_tokens);
  EXPECT_EQ(r[0].integer(11), in.cached_input_tokens);
  EXPECT_EQ(r[0].integer(12), in.cache_write_5m_tokens);
  EXPECT_EQ(r[0].integer(13), in.cache_write_1h_tokens);
  EXPECT_EQ(r[0].integer(14), in.output_tokens);
  EXPECT_EQ(r[0].integer(15), in.reasoning_tokens);
  EXPECT_EQ(r[0].integer(16), 0);
  EXPECT_EQ(r[0].integer(17), 7000);
  EXPECT_EQ(r[0].integer(18), 200);
  EXPECT_EQ(r[0].integer(19), 7);
  EXPECT_EQ(r[0].integer(20), 5);
}

TEST_P(ledger_store_backend, one_string_in_several_columns_and_rows) {
  // The writer sends each distinct string of a statement once and refers to it where it recurs.
  auto w = writer();
  ASSERT_TRUE(w);
  for (int k = 0; k < 3; ++k) {
    ledger_row r = sample(k);
    r.key_name = r.model = r.upstream_model = "same";
    r.key_id = r.user_id = "same";
    r.api = r.channel = "";
    ASSERT_TRUE(w->append(r));
  }
  ASSERT_TRUE(w->flush());
  auto r = rows_of(db_->query(
      "SELECT COUNT(*) FROM ledger WHERE key_id = 'same' AND key_name = 'same' AND user_id = "
      "'same' AND model = 'same' AND upstream_model = 'same' AND api = '' AND channel = ''"));
  EXPECT_EQ(r.at(0).integer(0), 3);
}

TEST_P(ledger_store_backend, eight_threads_append_ten_thousand_rows) {
  auto w = writer();
  ASSERT_TRUE(w);
  constexpr int threads = 8;
  constexpr int per_thread = 1250;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i)
        w->append(sample(t * per_thread + i));
    });
  }
  for (auto& t : pool)
    t.join();
  ASSERT_TRUE(w->flush());

  EXPECT_EQ(count(), threads * per_thread);
  billing::usage_group want;
  for (int k = 0; k < threads * per_thread; ++k)
    add(want, sample(k));
  expect_same(want, report(billing::group_by::model).total, "total");
  auto distinct =
      rows_of(db_->query("SELECT COUNT(DISTINCT id), COUNT(DISTINCT request_id), "
                         "MIN(at), MAX(at) FROM ledger"));
  ASSERT_EQ(distinct.size(), 1u);
  EXPECT_EQ(distinct[0].integer(0), threads * per_thread);
  EXPECT_EQ(distinct[0].integer(1), threads * per_thread);
  EXPECT_EQ(distinct[0].integer(2), sample(0).at);
  EXPECT_EQ(distinct[0].integer(3), sample(threads * per_thread - 1).at);

  auto s = w->stats();
  EXPECT_EQ(s.appended, 10000u);
  EXPECT_EQ(s.written, 10000u);
  EXPECT_EQ(s.dropped, 0u);
  EXPECT_EQ(s.rejected, 0u);
  EXPECT_EQ(s.pending, 0u);
  EXPECT_GE(s.batches, 1u);
  EXPECT_EQ(s.last_error, "");
}

TEST_P(ledger_store_backend, flush_commits_everything_appended_before_it) {
  billing::ledger_options options;
  options.flush_interval = std::chrono::hours(1);  // only flush() writes
  auto w = writer(options);
  ASSERT_TRUE(w);
  EXPECT_TRUE(w->flush());  // nothing to do
  for (int k = 0; k < 3; ++k)
    ASSERT_TRUE(w->append(sample(k)));
  EXPECT_EQ(w->stats().pending, 3u);
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(count(), 3);
  EXPECT_EQ(w->stats().pending, 0u);
  EXPECT_EQ(w->stats().batches, 1u);  // one transaction
}

TEST_P(ledger_store_backend, a_full_batch_is_written_without_waiting_for_the_interval) {
  billing::ledger_options options;
  options.flush_interval = std::chrono::hours(1);
  options.batch_size = 50;
  auto w = writer(options);
  ASSERT_TRUE(w);
  for (int k = 0; k < 50; ++k)
    ASSERT_TRUE(w->append(sample(k)));
  // No flush(): the 50th row woke the writer. Poll the table (no timing assertion).
  for (int i = 0; i < 500 && count() < 50; ++i)
    std::this_thread::sleep_for(10ms);
  EXPECT_EQ(count(), 50);
}

TEST_P(ledger_store_backend, the_destructor_flushes_everything) {
  billing::ledger_options options;
  options.flush_interval = std::chrono::hours(1);
  {
    auto w = writer(options);
    ASSERT_TRUE(w);
    for (int k = 0; k < 2500; ++k)
      ASSERT_TRUE(w->append(sample(k)));
  }
  EXPECT_EQ(count(), 2500);
}

TEST_P(ledger_store_backend, a_failed_transaction_is_retried_with_its_rows) {
  billing::ledger_options options;
  options.retry_initial = 5ms;
  auto w = std::make_unique<ledger_writer>(std::make_unique<flaky_connection>(open(), 3), options);
  for (int k = 0; k < 100; ++k)
    ASSERT_TRUE(w->append(sample(k)));
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(count(), 100);
  auto s = w->stats();
  EXPECT_EQ(s.failures, 3u);
  EXPECT_EQ(s.written, 100u);
  EXPECT_EQ(s.last_error, "injected failure");
  // The rows are the ones appended, once each, in order.
  auto r = rows_of(db_->query("SELECT COUNT(DISTINCT request_id), MIN(at), MAX(at) FROM ledger"));
  EXPECT_EQ(r.at(0).integer(0), 100);
  EXPECT_EQ(r.at(0).integer(1), sample(0).at);
  EXPECT_EQ(r.at(0).integer(2), sample(99).at);
}

TEST_P(ledger_store_backend, flush_gives_up_while_the_store_is_away_and_the_rows_wait) {
  billing::ledger_options options;
  options.retry_initial = 5ms;
  options.retry_max = 20ms;
  options.shutdown_timeout = 100ms;
  auto w =
      std::make_unique<ledger_writer>(std::make_unique<flaky_connection>(open(), 1000000), options);
  ASSERT_TRUE(w->append(sample(1)));
  EXPECT_FALSE(w->flush(50ms));
  EXPECT_EQ(w->stats().pending, 1u);
  EXPECT_GE(w->stats().failures, 1u);
  w.reset();  // gives up after shutdown_timeout instead of hanging
  EXPECT_EQ(count(), 0);
}

TEST_P(ledger_store_backend, rows_beyond_max_pending_are_dropped_and_counted) {
  billing::ledger_options options;
  options.flush_interval = std::chrono::hours(1);
  options.max_pending = 10;
  auto w = writer(options);
  ASSERT_TRUE(w);
  int accepted = 0;
  for (int k = 0; k < 25; ++k)
    accepted += w->append(sample(k)) ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  auto s = w->stats();
  EXPECT_EQ(s.appended, 10u);
  EXPECT_EQ(s.dropped, 15u);
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(count(), 10);
  EXPECT_TRUE(w->append(sample(100)));  // room again
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(count(), 11);
}

TEST_P(ledger_store_backend, a_refused_row_does_not_block_the_others) {
  billing::ledger_options options;
  options.flush_interval = std::chrono::hours(1);
  auto w = writer(options);
  ASSERT_TRUE(w);
  auto a = sample(1);
  a.id = "led_duplicate";
  auto b = sample(2);
  b.id = "led_duplicate";
  ASSERT_TRUE(w->append(sample(0)));
  ASSERT_TRUE(w->append(a));
  ASSERT_TRUE(w->append(b));
  ASSERT_TRUE(w->append(sample(3)));
  ASSERT_TRUE(w->flush());
  EXPECT_EQ(count(), 3);
  auto s = w->stats();
  EXPECT_EQ(s.written, 3u);
  EXPECT_EQ(s.rejected, 1u);
  EXPECT_EQ(s.pending, 0u);
}

TEST_P(ledger_store_backend, usage_groups_and_totals_equal_the_rows) {
  constexpr int rows = 600;
  std::vector<ledger_row> all;
  {
    auto w = writer();
    ASSERT_TRUE(w);
    for (int k = 0; k < rows; ++k) {
      auto r = sample(k);
      r.at = 1'700'000'000'000 + k * 3'600'000LL;  // one an hour: 25 days
      all.push_back(r);
      ASSERT_TRUE(w->append(r));
    }
  }
  using billing::group_by;
  const std::pair<group_by, std::function<std::string(const ledger_row&)>> groupings[] = {
      {group_by::key, [](const ledger_row& r) { return r.key_id.value_or(""); }},
      {group_by::user, [](const ledger_row& r) { return r.user_id.value_or(""); }},
      {group_by::model, [](const ledger_row& r) { return r.model; }},
      {group_by::channel, [](const ledger_row& r) { return r.channel; }},
      {group_by::day, [](const ledger_row& r) { return billing::format_day(r.at / 86400000); }},
  };
  billing::usage_group total;
  for (const auto& r : all)
    add(total, r);
  EXPECT_GT(total.unknown_cost_requests, 0);
  for (const auto& [by, key_of] : groupings) {
    std::map<std::string, billing::usage_group> want;
    for (const auto& r : all)
      add(want[key_of(r)], r);
    auto got = report(by);
    ASSERT_EQ(got.data.size(), want.size());
    std::size_t i = 0;
    billing::usage_group sum;
    for (const auto& [group, w] : want) {  // std::map: the same order as the report
      EXPECT_EQ(got.data[i].group, group);
      expect_same(w, got.data[i], "group " + group);
      sum.requests += got.data[i].requests;
      ++i;
    }
    expect_same(total, got.total, "total");
    EXPECT_EQ(sum.requests, rows);
  }
  auto by_key = report(group_by::key);
  EXPECT_EQ(by_key.data.front().group, "");       // the rows without a key
  EXPECT_EQ(by_key.data.front().name, "name-3");  // k % 11 == 0: the greatest name among them
  EXPECT_EQ(by_key.data.back().group, "key_3");
  EXPECT_EQ(by_key.data.back().name, "name-3");
  auto by_day = report(group_by::day);
  EXPECT_EQ(by_day.data.front().group, "2023-11-14");  // 1'700'000'000 s
  EXPECT_EQ(by_day.data.size(), 26u);
}

TEST_P(ledger_store_backend, usage_reads_the_time_window_and_the_filter) {
  {
    auto w = writer();
    ASSERT_TRUE(w);
    for (int k = 0; k < 100; ++k)
      ASSERT_TRUE(w->append(sample(k)));
  }
  using billing::group_by;
  const auto base = sample(0).at;
  // [from, to): rows 10..19.
  auto window = report(group_by::channel, base + 10, base + 20);
  billing::usage_group want;
  for (int k = 10; k < 20; ++k)
    add(want, sample(k));
  expect_same(want, window.total, "window");
  EXPECT_TRUE(report(group_by::channel, base + 100, base + 200).data.empty());
  EXPECT_EQ(report(group_by::channel, base + 100, base + 200).total.requests, 0);

  billing::usage_filter mine{.key_id = "key_1", .user_id = std::nullopt};
  billing::usage_group want_key;
  for (int k = 0; k < 100; ++k) {
    if (sample(k).key_id == "key_1") add(want_key, sample(k));
  }
  auto got = report(group_by::model, 0, INT64_MAX, mine);
  expect_same(want_key, got.total, "key_1");

  billing::usage_filter user{.key_id = std::nullopt, .user_id = "usr_2"};
  billing::usage_group want_user;
  for (int k = 0; k < 100; ++k) {
    if (sample(k).user_id == "usr_2") add(want_user, sample(k));
  }
  expect_same(want_user, report(group_by::day, 0, INT64_MAX, user).total, "usr_2");
}

TEST_P(ledger_store_backend, unknown_costs_are_counted_apart_never_as_zero) {
  {
    auto w = writer();
    ASSERT_TRUE(w);
    auto priced = sample(1);
    priced.model = "a";
    priced.cost_nano_usd = 1500;
    auto free = sample(2);
    free.model = "a";
    free.cost_nano_usd = 0;  // a known zero (a free model) is a price, not an unknown
    auto unknown = sample(3);
    unknown.model = "b";
    unknown.cost_nano_usd.reset();
    for (const auto& r : {priced, free, unknown})
      ASSERT_TRUE(w->append(r));
  }
  auto got = report(billing::group_by::model);
  ASSERT_EQ(got.data.size(), 2u);
  EXPECT_EQ(got.data[0].group, "a");
  EXPECT_EQ(got.data[0].cost_nano_usd, 1500);
  EXPECT_EQ(got.data[0].unknown_cost_requests, 0);
  EXPECT_EQ(got.data[1].group, "b");
  EXPECT_EQ(got.data[1].cost_nano_usd, 0);
  EXPECT_EQ(got.data[1].unknown_cost_requests, 1);
  EXPECT_EQ(got.total.requests, 3);
  EXPECT_EQ(got.total.cost_nano_usd, 1500);
  EXPECT_EQ(got.total.unknown_cost_requests, 1);
  auto nulls = rows_of(db_->query("SELECT COUNT(*) FROM ledger WHERE cost_nano_usd IS NULL"));
  EXPECT_EQ(nulls.at(0).integer(0), 1);
}

// What the child of the kill -9 test tells its parent before each burst of appends.
struct crash_report {
  std::uint64_t appended_after_burst;  // an upper bound of the rows the child ever appended
  std::uint64_t committed;             // rows the writer had committed (a lower bound)
  std::uint64_t dropped;
};

TEST_P(ledger_store_backend, kill_9_loses_at_most_the_last_batch_window) {
  db_.reset();  // no connection open across fork
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  constexpr std::uint64_t burst = 20;
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(fds[0]);
    billing::ledger_options options;
    options.flush_interval = 100ms;
    options.batch_size = 1'000'000;  // only the 100 ms timer starts a batch
    options.migrate = false;
    auto opened = ledger_writer::open(url_, options);
    if (!std::holds_alternative<std::unique_ptr<ledger_writer>>(opened)) _exit(2);
    auto& w = std::get<std::unique_ptr<ledger_writer>>(opened);
    for (std::uint64_t n = 0;;) {
      auto s = w->stats();
      crash_report report{n + burst, s.written, s.dropped};
      if (write(fds[1], &report, sizeof report) != sizeof report) _exit(3);
      for (std::uint64_t i = 0; i < burst; ++i, ++n) {
        auto row = sample(static_cast<std::int64_t>(n));
        row.input_tokens = static_cast<std::int64_t>(n);  // the row's sequence number
        w->append(std::move(row));
      }
      usleep(1000);
    }
  }
  close(fds[1]);
  struct reaper {  // an assertion failing below must not leave the child running
    pid_t pid;
    bool reaped = false;
    ~reaper() {
      if (reaped) return;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  } guard{child};
  const auto start = std::chrono::steady_clock::now();
  crash_report last{0, 0, 0};
  std::uint64_t committed = 0;
  bool killed = false;
  for (;;) {
    crash_report r;
    auto got = read(fds[0], &r, sizeof r);
    if (got == 0) break;  // the child is gone and the pipe drained
    if (got < 0 && errno == EINTR) continue;
    ASSERT_EQ(got, static_cast<ssize_t>(sizeof r));
    last = r;
    committed = std::max(committed, r.committed);
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (!killed && ((elapsed >= 1s && committed > 0) || elapsed >= 4s)) {
      ASSERT_EQ(kill(child, SIGKILL), 0);
      killed = true;
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  guard.reaped = true;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "the child exited " << status;
  ASSERT_GT(committed, 0u) << "the writer committed nothing in 4 s";
  EXPECT_EQ(last.dropped, 0u);

  db_ = open();
  ASSERT_TRUE(db_);
  auto r = rows_of(db_->query(
      "SELECT COUNT(*), COALESCE(MIN(input_tokens), -1), COALESCE(MAX(input_tokens), -1) FROM "
      "ledger"));
  ASSERT_EQ(r.size(), 1u);
  const auto in_db = static_cast<std::uint64_t>(r[0].integer(0));
  EXPECT_LE(committed, in_db);
  EXPECT_LE(in_db, last.appended_after_burst);
  // What survived is a prefix of what was appended: rows 0 .. in_db-1, no hole.
  EXPECT_EQ(r[0].integer(1), 0);
  EXPECT_EQ(r[0].integer(2), static_cast<std::int64_t>(in_db) - 1);
  RecordProperty("rows_in_db", std::to_string(in_db));
  std::printf("kill -9: %llu rows committed before, %llu in the database, at most %llu appended\n",
              static_cast<unsigned long long>(committed), static_cast<unsigned long long>(in_db),
              static_cast<unsigned long long>(last.appended_after_burst));
}

INSTANTIATE_TEST_SUITE_P(each, ledger_store_backend, ::testing::ValuesIn(backends()), backend_name);

TEST(ledger, ids_are_time_ordered_and_unique) {
  std::string previous;
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    auto id = billing::ledger_id();
    EXPECT_EQ(id.size(), 24u);
    EXPECT_EQ(id.substr(0, 4), "led_");
    EXPECT_LT(previous.substr(0, 20), id.substr(0, 20)) << "ms + sequence grow";
    EXPECT_TRUE(seen.insert(id).second);
    previous = id;
  }
}

TEST(ledger, days_are_formatted_in_utc) {
  EXPECT_EQ(billing::format_day(0), "1970-01-01");
  EXPECT_EQ(billing::format_day(11017), "2000-03-01");
  EXPECT_EQ(billing::format_day(19782), "2024-02-29");
  EXPECT_EQ(billing::format_day(20783), "2026-11-26");
}

TEST(ledger, group_by_parses) {
  EXPECT_EQ(billing::parse_group_by("key"), billing::group_by::key);
  EXPECT_EQ(billing::parse_group_by("day"), billing::group_by::day);
  EXPECT_EQ(billing::parse_group_by("channel"), billing::group_by::channel);
  EXPECT_FALSE(billing::parse_group_by("week"));
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

// The spend a budget starts from: per key id, user id or config key name, in the period.
TEST_P(ledger_store_backend, budgets_load_their_period_spend_from_the_ledger) {
  auto w = writer();
  ASSERT_TRUE(w);
  // 2026-11-26T15:30:00Z; the day began 15.5 h earlier, the month on the 1st.
  const std::int64_t now = 1'795'707'000'000;
  const std::int64_t hour = 3'600'000;
  auto row = [&](std::int64_t at, std::optional<std::string> key, std::string name,
                 std::optional<std::string> user, std::optional<std::int64_t> cost) {
    ledger_row r;
    r.at = at;
    r.request_id = "req";
    r.key_id = std::move(key);
    r.key_name = std::move(name);
    r.user_id = std::move(user);
    r.api = "openai";
    r.model = "m";
    r.cost_nano_usd = cost;
    r.status = 200;
    ASSERT_TRUE(w->append(r));
  };
  row(now - hour, "key_a", "a", "usr_1", 100);            // today
  row(now - 20 * hour, "key_a", "a", "usr_1", 20);        // yesterday, this month
  row(now - 40LL * 24 * hour, "key_a", "a", "usr_1", 3);  // last month
  row(now - hour, "key_a", "a", "usr_1", std::nullopt);   // unknown cost: nothing
  row(now - hour, "key_b", "b", "usr_1", 1000);           // another key of the same user
  row(now - hour, std::nullopt, "ci", std::nullopt, 7);   // a config key, by name
  row(now - hour, "key_c", "ci", std::nullopt, 9000);     // a managed key named alike: not it
  ASSERT_TRUE(w->flush());
  using billing::budget_period;
  auto spend = [&](std::string_view scope, const std::string& id, budget_period p) {
    return ok(billing::load_ledger_spend(*db_, scope, id, p, now));
  };
  EXPECT_EQ(spend("key", "key_a", budget_period::day), 100);
  EXPECT_EQ(spend("key", "key_a", budget_period::month), 120);
  EXPECT_EQ(spend("key", "key_a", budget_period::total), 123);
  EXPECT_EQ(spend("user", "usr_1", budget_period::day), 1100);
  EXPECT_EQ(spend("user", "usr_1", budget_period::total), 1123);
  EXPECT_EQ(spend("config_key", "ci", budget_period::total), 7);
  EXPECT_EQ(spend("key", "key_nobody", budget_period::total), 0);
}

}  // namespace
}  // namespace sy::test
