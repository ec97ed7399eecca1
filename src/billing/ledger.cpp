#include "billing/ledger.h"

#include "common/civil_time.h"
#include "store/migrations.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <random>
#include <span>
#include <unordered_map>

namespace sy::billing {

namespace {

using clock = std::chrono::steady_clock;

constexpr std::string_view insert_head =
    "INSERT INTO ledger (id, at, request_id, key_id, key_name, user_id, api, model, channel, "
    "upstream_model, input_tokens, cached_input_tokens, cache_write_5m_tokens, "
    "cache_write_1h_tokens, output_tokens, reasoning_tokens, estimated, cost_nano_usd, status, "
    "duration_ms, ttfb_ms) VALUES ";

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// One multi-row INSERT. Text goes in parameters, each distinct string once (the rows of a batch
// share their key, user, model, channel... names); integers are written in the SQL (formatted
// int64s: nothing to escape). SQLite finds a parameter by name with a linear scan, so a statement
// of 21 parameters a row costs quadratic time in the rows: this keeps it near two a row.
class insert_statement {
 public:
  explicit insert_statement(std::size_t rows) {
    sql_.reserve(insert_head.size() + rows * 160);
    params_.reserve(rows * 3);
    sql_ = insert_head;
  }

  void add(const ledger_row& r) {
    sql_ += rows_++ ? ",(" : "(";
    text(r.id);
    integer(r.at);
    text(r.request_id);
    text(r.key_id);
    text(r.key_name);
    text(r.user_id);
    text(r.api);
    text(r.model);
    text(r.channel);
    text(r.upstream_model);
    integer(r.input_tokens);
    integer(r.cached_input_tokens);
    integer(r.cache_write_5m_tokens);
    integer(r.cache_write_1h_tokens);
    integer(r.output_tokens);
    integer(r.reasoning_tokens);
    integer(r.estimated ? 1 : 0);
    integer(r.cost_nano_usd);
    integer(r.status);
    integer(r.duration_ms);
    integer(r.ttfb_ms);
    sql_.back() = ')';
  }

  std::optional<store::db_error> run(store::connection& db) {
    auto r = db.query(sql_, params_);
    if (auto* e = std::get_if<store::db_error>(&r)) return *e;
    return std::nullopt;
  }

 private:
  // Each value is followed by a comma; add() turns the last one into ')'.
  void text(const std::string& v) {
    auto [it, added] = numbers_.try_emplace(v, params_.size() + 1);
    if (added) params_.emplace_back(v);
    sql_ += '$';
    sql_ += std::to_string(it->second);
    sql_ += ',';
  }
  void text(const std::optional<std::string>& v) {
    if (v) return text(*v);
    sql_ += "NULL,";
  }
  void integer(std::int64_t v) {
    char buffer[24];
    auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
    sql_.append(buffer, end);
    sql_ += ',';
  }
  void integer(const std::optional<std::int64_t>& v) {
    if (v) return integer(*v);
    sql_ += "NULL,";
  }

  std::string sql_;
  std::vector<store::value> params_;
  std::unordered_map<std::string_view, std::size_t> numbers_;  // views of the rows' strings
  std::size_t rows_ = 0;
};

// Inserts `rows` with statements of at most `per_statement` rows (the caller owns the
// transaction).
std::optional<store::db_error> insert_rows(store::connection& db, std::span<const ledger_row> rows,
                                           std::size_t per_statement) {
  for (std::size_t at = 0; at < rows.size(); at += per_statement) {
    std::size_t n = std::min(per_statement, rows.size() - at);
    insert_statement statement(n);
    for (std::size_t i = 0; i < n; ++i)
      statement.add(rows[at + i]);
    if (auto e = statement.run(db)) return e;
  }
  return std::nullopt;
}

std::optional<store::db_error> insert_transaction(store::connection& db,
                                                  std::span<const ledger_row> rows,
                                                  std::size_t per_statement) {
  if (auto e = db.begin()) return e;
  auto e = insert_rows(db, rows, per_statement);
  if (!e) e = db.commit();
  if (e) db.rollback();
  return e;
}

ledger_options normalized(ledger_options o) {
  o.batch_size = std::max<std::size_t>(o.batch_size, 1);
  o.max_pending = std::max<std::size_t>(o.max_pending, 1);
  o.flush_interval = std::max(o.flush_interval, std::chrono::milliseconds(1));
  o.retry_initial = std::max(o.retry_initial, std::chrono::milliseconds(1));
  o.retry_max = std::max(o.retry_max, o.retry_initial);
  return o;
}

}  // namespace

std::string ledger_id() {
  static std::atomic<std::uint32_t> sequence{0};
  static const std::uint32_t instance = [] {
    std::random_device device;
    return static_cast<std::uint32_t>(device()) & 0xffff;
  }();
  const auto ms = static_cast<std::uint64_t>(now_ms());
  const std::uint32_t seq = sequence.fetch_add(1, std::memory_order_relaxed) & 0xfffff;
  static constexpr char digits[] = "0123456789abcdef";
  std::string out = "led_";
  out.reserve(24);
  for (int i = 10; i >= 0; --i)
    out += digits[(ms >> (4 * i)) & 0xf];
  for (int i = 4; i >= 0; --i)
    out += digits[(seq >> (4 * i)) & 0xf];
  for (int i = 3; i >= 0; --i)
    out += digits[(instance >> (4 * i)) & 0xf];
  return out;
}

// ---- The writer ------------------------------------------------------------------------------

store::result<std::unique_ptr<ledger_writer>> ledger_writer::open(const std::string& url,
                                                                  ledger_options options) {
  auto opened = store::open(url);
  if (auto* e = std::get_if<store::db_error>(&opened)) return *e;
  auto db = std::move(std::get<std::unique_ptr<store::connection>>(opened));
  if (options.migrate) {
    if (auto e = store::migrate(*db)) return *e;
  }
  return std::make_unique<ledger_writer>(std::move(db), options);
}

ledger_writer::ledger_writer(std::unique_ptr<store::connection> db, ledger_options options)
    : db_(std::move(db)),
      options_(normalized(options)),
      // Measured with sy_ledger_bench: SQLite is flat from 16 to 32 rows and slower beyond (its
      // parameter lookups); PostgreSQL pays a round trip a statement.
      rows_per_statement_(db_->dialect() == "sqlite" ? 32 : 256) {
  queue_.reserve(options_.batch_size);
  thread_ = std::thread([this] { run(); });
}

ledger_writer::~ledger_writer() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool ledger_writer::append(ledger_row row) {
  if (row.id.empty()) row.id = ledger_id();
  if (row.at == 0) row.at = now_ms();
  bool accepted = false;
  bool wake = false;
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() + held_.load(std::memory_order_relaxed) < options_.max_pending) {
      queue_.push_back(std::move(row));
      ++accepted_;
      accepted = true;
      wake = queue_.size() == options_.batch_size;
    }
  }
  if (!accepted) {
    if (dropped_.fetch_add(1, std::memory_order_relaxed) == 0) {
      spdlog::error("ledger: {} rows wait for the store; new rows are dropped (counted)",
                    options_.max_pending);
    }
    return false;
  }
  if (wake) wake_.notify_one();
  return true;
}

bool ledger_writer::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  const auto target = accepted_;
  if (done_ >= target) return true;
  flush_target_ = std::max(flush_target_, target);
  wake_.notify_one();
  return settled_.wait_for(lock, timeout, [&] { return done_ >= target; });
}

ledger_stats ledger_writer::stats() const {
  ledger_stats out;
  out.written = written_.load();
  out.batches = batches_.load();
  out.dropped = dropped_.load();
  out.rejected = rejected_.load();
  out.failures = failures_.load();
  std::lock_guard lock(mutex_);
  out.appended = accepted_;
  out.pending = accepted_ - done_;
  out.last_error = last_error_;
  return out;
}

std::optional<store::db_error> ledger_writer::write_batch() {
  auto e = insert_transaction(*db_, batch_, rows_per_statement_);
  if (!e) {
    written_.fetch_add(batch_.size());
    batches_.fetch_add(1);
    return std::nullopt;
  }
  if (!e->constraint) return e;
  // A row the database refuses (never expected: the table has no constraint but the id) must not
  // block the others forever: write them one by one, leaving out the refused ones.
  spdlog::error("ledger: a batch of {} rows was refused ({}); writing them one by one",
                batch_.size(), e->message);
  std::size_t i = 0;
  for (; i < batch_.size(); ++i) {
    auto one = insert_transaction(*db_, std::span(batch_).subspan(i, 1), 1);
    if (!one) {
      written_.fetch_add(1);
      batches_.fetch_add(1);
    } else if (one->constraint) {
      rejected_.fetch_add(1);
      spdlog::error("ledger: row {} (request {}) refused: {}", batch_[i].id, batch_[i].request_id,
                    one->message);
    } else {
      batch_.erase(batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(i));
      return one;
    }
  }
  return std::nullopt;
}

void ledger_writer::run() {
  auto next = clock::now() + options_.flush_interval;
  auto backoff = options_.retry_initial;
  bool failing = false;
  std::optional<clock::time_point> give_up;  // set once asked to stop
  std::unique_lock lock(mutex_);
  for (;;) {
    if (batch_.empty()) {
      wake_.wait_until(lock, next, [&] {
        return stop_ || flush_target_ > done_ || queue_.size() >= options_.batch_size;
      });
      if (queue_.empty()) {
        if (stop_) return;
        if (clock::now() >= next) next = clock::now() + options_.flush_interval;
        continue;
      }
    }
    if (stop_ && !give_up) give_up = clock::now() + options_.shutdown_timeout;
    next = clock::now() + options_.flush_interval;
    // Take the whole queue; the appenders get back the emptied vector and its capacity.
    if (batch_.empty()) {
      batch_.swap(queue_);
    } else {
      std::move(queue_.begin(), queue_.end(), std::back_inserter(batch_));
      queue_.clear();
    }
    held_.store(batch_.size(), std::memory_order_relaxed);
    const std::size_t taken = batch_.size();
    lock.unlock();
    auto error = write_batch();
    lock.lock();
    if (!error) {
      if (failing) spdlog::info("ledger: the store accepts rows again");
      failing = false;
      backoff = options_.retry_initial;
      done_ += taken;
      batch_.clear();
      held_.store(0, std::memory_order_relaxed);
      settled_.notify_all();
      continue;
    }
    // Rows written one by one before a failure are settled; the rest stay in batch_, in order.
    done_ += taken - batch_.size();
    held_.store(batch_.size(), std::memory_order_relaxed);
    failures_.fetch_add(1, std::memory_order_relaxed);
    last_error_ = error->message;
    failing = true;
    if (give_up && clock::now() >= *give_up) {
      spdlog::error("ledger: {} rows could not be written before shutdown: {}", batch_.size(),
                    error->message);
      done_ += batch_.size();
      batch_.clear();
      held_.store(0, std::memory_order_relaxed);
      settled_.notify_all();
      continue;  // the queue is empty unless append raced the destructor
    }
    spdlog::warn("ledger: writing {} rows failed, retrying in {} ms: {}", batch_.size(),
                 backoff.count(), error->message);
    const bool stopping = stop_;
    wake_.wait_for(lock, backoff, [&] { return stop_ && !stopping; });
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

// ---- The usage report -----------------------------------------------------------------------

std::optional<group_by> parse_group_by(std::string_view text) {
  if (text == "key") return group_by::key;
  if (text == "user") return group_by::user;
  if (text == "model") return group_by::model;
  if (text == "channel") return group_by::channel;
  if (text == "day") return group_by::day;
  return std::nullopt;
}

std::string ledger_metrics(const ledger_stats& s) {
  std::string out;
  auto put = [&](std::string_view name, std::string_view type, std::string_view help,
                 std::uint64_t value) {
    fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name,
                   type, name, value);
  };
  put("switchyard_ledger_rows_appended_total", "counter", "Ledger rows handed to the writer.",
      s.appended);
  put("switchyard_ledger_rows_written_total", "counter", "Ledger rows committed.", s.written);
  put("switchyard_ledger_rows_dropped_total", "counter",
      "Ledger rows refused because too many waited for the database.", s.dropped);
  put("switchyard_ledger_rows_rejected_total", "counter", "Ledger rows the database refused.",
      s.rejected);
  put("switchyard_ledger_failures_total", "counter", "Failed ledger transactions (retried).",
      s.failures);
  put("switchyard_ledger_rows_pending", "gauge",
      "Ledger rows appended and not yet committed (what a crash would lose now).", s.pending);
  return out;
}

std::string format_day(std::int64_t days) {
  return civil::format_day(days);
}

namespace {

// " WHERE at >= $1 AND at < $2 AND ..." for the window and the filter.
void append_where(std::string& sql, std::vector<store::value>& params, std::int64_t from_ms,
                  std::int64_t to_ms, const usage_filter& filter) {
  params.emplace_back(from_ms);
  params.emplace_back(to_ms);
  sql += " WHERE at >= $1 AND at < $2";
  if (filter.key_id) {
    params.emplace_back(*filter.key_id);
    sql += " AND key_id = $" + std::to_string(params.size());
  }
  if (filter.user_id) {
    params.emplace_back(*filter.user_id);
    sql += " AND user_id = $" + std::to_string(params.size());
  }
  if (filter.unmanaged_key_name) {
    params.emplace_back(*filter.unmanaged_key_name);
    sql += " AND key_id IS NULL AND key_name = $" + std::to_string(params.size());
  }
}

std::optional<std::string> optional_text(const store::row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.text(i);
}

std::optional<std::int64_t> optional_integer(const store::row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return r.integer(i);
}

}  // namespace

store::result<ledger_page> ledger_rows(store::connection& db, std::int64_t from_ms,
                                       std::int64_t to_ms, const usage_filter& filter,
                                       std::size_t limit,
                                       const std::optional<ledger_cursor>& after) {
  limit = std::max<std::size_t>(limit, 1);
  std::string sql =
      "SELECT id, at, request_id, key_id, key_name, user_id, api, model, channel, "
      "upstream_model, input_tokens, cached_input_tokens, cache_write_5m_tokens, "
      "cache_write_1h_tokens, output_tokens, reasoning_tokens, estimated, cost_nano_usd, status, "
      "duration_ms, ttfb_ms FROM ledger";
  std::vector<store::value> params;
  append_where(sql, params, from_ms, to_ms, filter);
  if (after) {
    // (at, id) > (after.at, after.id), spelt out: both dialects plan it on the index of `at`.
    params.emplace_back(after->at);
    const auto at = "$" + std::to_string(params.size());
    params.emplace_back(after->id);
    const auto id = "$" + std::to_string(params.size());
    sql += " AND (at > " + at + " OR (at = " + at + " AND id > " + id + "))";
  }
  // One more than asked: whether another page follows.
  sql += " ORDER BY at, id LIMIT " + std::to_string(limit + 1);
  auto rows = db.query(sql, params);
  if (auto* e = std::get_if<store::db_error>(&rows)) return *e;
  auto& found = std::get<std::vector<store::row>>(rows);
  ledger_page out;
  out.rows.reserve(std::min(found.size(), limit));
  for (std::size_t i = 0; i < found.size() && i < limit; ++i) {
    const auto& r = found[i];
    ledger_row row;
    row.id = r.text(0);
    row.at = r.integer(1);
    row.request_id = r.text(2);
    row.key_id = optional_text(r, 3);
    row.key_name = r.text(4);
    row.user_id = optional_text(r, 5);
    row.api = r.text(6);
    row.model = r.text(7);
    row.channel = r.text(8);
    row.upstream_model = r.text(9);
    row.input_tokens = r.integer(10);
    row.cached_input_tokens = r.integer(11);
    row.cache_write_5m_tokens = r.integer(12);
    row.cache_write_1h_tokens = r.integer(13);
    row.output_tokens = r.integer(14);
    row.reasoning_tokens = r.integer(15);
    row.estimated = r.integer(16) != 0;
    row.cost_nano_usd = optional_integer(r, 17);
    row.status = r.integer(18);
    row.duration_ms = r.integer(19);
    row.ttfb_ms = optional_integer(r, 20);
    out.rows.push_back(std::move(row));
  }
  if (found.size() > limit) out.next = ledger_cursor{out.rows.back().at, out.rows.back().id};
  return out;
}

store::result<std::int64_t> count_ledger_rows(store::connection& db, std::int64_t from_ms,
                                              std::int64_t to_ms, const usage_filter& filter) {
  std::string sql = "SELECT COUNT(*) FROM ledger";
  std::vector<store::value> params;
  append_where(sql, params, from_ms, to_ms, filter);
  auto rows = db.query(sql, params);
  if (auto* e = std::get_if<store::db_error>(&rows)) return *e;
  const auto& found = std::get<std::vector<store::row>>(rows);
  return found.empty() ? 0 : found.front().integer(0);
}

store::result<usage_report> usage(store::connection& db, group_by by, std::int64_t from_ms,
                                  std::int64_t to_ms, const usage_filter& filter) {
  std::string_view group;
  switch (by) {
    case group_by::key:
      group = "key_id";
      break;
    case group_by::user:
      group = "user_id";
      break;
    case group_by::model:
      group = "model";
      break;
    case group_by::channel:
      group = "channel";
      break;
    case group_by::day:
      // Integer division of BIGINTs truncates in both dialects (times are after 1970).
      group = "at / 86400000";
      break;
  }
  std::string sql = "SELECT ";
  sql += group;
  sql += by == group_by::key ? ", MAX(key_name)" : ", ''";
  sql +=
      ", COUNT(*)"
      ", COALESCE(CAST(SUM(input_tokens) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(cached_input_tokens) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(cache_write_5m_tokens) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(cache_write_1h_tokens) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(output_tokens) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(reasoning_tokens) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(estimated) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(cost_nano_usd) AS BIGINT), 0)"
      ", COALESCE(CAST(SUM(CASE WHEN cost_nano_usd IS NULL THEN 1 ELSE 0 END) AS BIGINT), 0)"
      " FROM ledger";
  std::vector<store::value> params;
  append_where(sql, params, from_ms, to_ms, filter);
  sql += " GROUP BY ";
  sql += group;
  auto rows = db.query(sql, params);
  if (auto* e = std::get_if<store::db_error>(&rows)) return *e;

  usage_report out;
  for (const auto& r : std::get<std::vector<store::row>>(rows)) {
    usage_group g;
    if (!r.is_null(0)) g.group = by == group_by::day ? format_day(r.integer(0)) : r.text(0);
    g.name = r.text(1);
    g.requests = r.integer(2);
    g.input_tokens = r.integer(3);
    g.cached_input_tokens = r.integer(4);
    g.cache_write_5m_tokens = r.integer(5);
    g.cache_write_1h_tokens = r.integer(6);
    g.cache_write_tokens = g.cache_write_5m_tokens + g.cache_write_1h_tokens;
    g.output_tokens = r.integer(7);
    g.reasoning_tokens = r.integer(8);
    g.estimated_requests = r.integer(9);
    g.cost_nano_usd = r.integer(10);
    g.unknown_cost_requests = r.integer(11);

    auto& t = out.total;
    t.requests += g.requests;
    t.input_tokens += g.input_tokens;
    t.cached_input_tokens += g.cached_input_tokens;
    t.cache_write_tokens += g.cache_write_tokens;
    t.cache_write_5m_tokens += g.cache_write_5m_tokens;
    t.cache_write_1h_tokens += g.cache_write_1h_tokens;
    t.output_tokens += g.output_tokens;
    t.reasoning_tokens += g.reasoning_tokens;
    t.estimated_requests += g.estimated_requests;
    t.cost_nano_usd += g.cost_nano_usd;
    t.unknown_cost_requests += g.unknown_cost_requests;
    out.data.push_back(std::move(g));
  }
  // NULL groups sort first in SQLite and last in PostgreSQL: order here, the same for both.
  std::sort(out.data.begin(), out.data.end(),
            [](const usage_group& a, const usage_group& b) { return a.group < b.group; });
  return out;
}

}  // namespace sy::billing
