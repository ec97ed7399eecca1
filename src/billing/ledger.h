// The ledger: one append-only row per request (table `ledger`, migration 3), written by a
// background writer in batches, and the usage report read from it.
//
// The request path only calls ledger_writer::append, which moves the row into an in-memory queue
// under a mutex held for a push_back and returns: it never waits for the store. A thread of the
// writer's own, with a connection of its own (so that a burst of rows never delays the store
// service's key reloads or admin calls), takes the whole queue every `flush_interval`, or sooner
// when `batch_size` rows wait or flush() asks, and commits it in one transaction (multi-row
// INSERTs). A failed transaction is rolled back and tried again with backoff, its rows kept in
// memory, in order. Rows are committed in the order they were appended, so after a crash what
// the table holds is a prefix of what was appended: the rows lost to `kill -9` are at most those
// of the last batch window (appended but not yet committed).
//
// Nothing is dropped silently, but memory is bounded: when `max_pending` rows already wait
// (queued plus held for a retry, i.e. the store has been away for a while), append refuses the
// row, returns false and counts it in stats().dropped. With the defaults (100K rows, ~40 MB) that
// is more than a minute of outage at 1K requests/s. Blocking instead would stall the data plane on
// a database outage, which the gateway must survive.
//
// Token columns are disjoint: each token counted by the upstream lands in exactly one of them,
// so their sum is the request's total and no kind is counted twice.
//   input_tokens          input read at the full input price (NOT the cached reads, NOT the
//                         cache writes: OpenAI's prompt_tokens minus cached_tokens; Anthropic's
//                         input_tokens as reported)
//   cached_input_tokens   input read from the provider's prompt cache
//   cache_write_5m/1h     input written to the cache (Anthropic's 5-minute and 1-hour TTLs)
//   output_tokens         generated tokens that are not reasoning (OpenAI's completion_tokens
//                         minus reasoning_tokens; Gemini's candidatesTokenCount)
//   reasoning_tokens      reasoning/thinking tokens
// cost_nano_usd is the request's cost in 1e-9 USD; empty (NULL) when the price is unknown, never a
// silent zero.
#pragma once

#include "store/sql.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sy::billing {

struct ledger_row {
  std::string id;       // "led_" + time-ordered hex; append() sets it when empty
  std::int64_t at = 0;  // unix milliseconds (the request's start); append() sets now when 0
  std::string request_id;
  std::optional<std::string> key_id;  // empty when no gateway key was involved
  std::string key_name;
  std::optional<std::string> user_id;
  std::string api;             // the inbound protocol: openai | anthropic | gemini
  std::string model;           // the public model name the client asked for
  std::string channel;         // the channel that served it ("" when none was reached)
  std::string upstream_model;  // the model name sent upstream
  std::int64_t input_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  std::int64_t cache_write_5m_tokens = 0;
  std::int64_t cache_write_1h_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  bool estimated = false;  // counted by the gateway's tokenizer, not reported by the upstream
  std::optional<std::int64_t> cost_nano_usd;  // empty = unknown price
  std::int64_t status = 0;                    // the HTTP status answered to the client
  std::int64_t duration_ms = 0;
  std::optional<std::int64_t> ttfb_ms;  // time to the first byte sent; empty when none was
};

// A time-ordered ledger id: "led_" + 11 hex digits of unix ms + 5 of a per-process sequence + 4
// random per process (two gateway instances writing to one PostgreSQL never collide).
std::string ledger_id();

struct ledger_options {
  std::chrono::milliseconds flush_interval{100};  // the longest a row waits in memory
  std::size_t batch_size = 1000;                  // this many waiting rows start a flush at once
  std::size_t max_pending = 100000;               // rows held in memory; beyond, append drops
  std::chrono::milliseconds retry_initial{100};   // backoff after a failed transaction...
  std::chrono::milliseconds retry_max{5000};      // ...doubling up to this
  std::chrono::milliseconds shutdown_timeout{10000};  // how long the destructor keeps trying
  bool migrate = true;  // open() applies the migrations the database lacks
};

struct ledger_stats {
  std::uint64_t appended = 0;  // rows accepted by append
  std::uint64_t written = 0;   // rows committed
  std::uint64_t batches = 0;   // transactions committed
  std::uint64_t dropped = 0;   // rows refused by append because max_pending rows waited
  std::uint64_t rejected = 0;  // rows the database refused (a constraint; never expected)
  std::uint64_t failures = 0;  // failed transactions (each retried)
  std::uint64_t pending = 0;   // rows accepted and not yet committed
  std::string last_error;      // the last failure's message ("" when none)
};

class ledger_writer {
 public:
  // Opens its own connection to `url` (a `database:` setting), applies the migrations when asked,
  // and starts the writer thread.
  static store::result<std::unique_ptr<ledger_writer>> open(const std::string& url,
                                                            ledger_options options = {});
  ledger_writer(std::unique_ptr<store::connection> db, ledger_options options);
  // Flushes everything appended (trying for up to shutdown_timeout), then stops the thread.
  ~ledger_writer();
  ledger_writer(const ledger_writer&) = delete;
  ledger_writer& operator=(const ledger_writer&) = delete;

  // Queues `row` and returns at once (any thread). False when it was dropped (max_pending rows
  // already wait).
  bool append(ledger_row row);

  // Waits until every row appended before the call has been committed (or refused by the
  // database, counted in `rejected`). False when `timeout` passed first (the store is away; the
  // rows are still held and retried).
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  ledger_stats stats() const;

 private:
  void run();
  // Writes `batch_` in one transaction; the error, or nothing.
  std::optional<store::db_error> write_batch();

  std::unique_ptr<store::connection> db_;
  const ledger_options options_;
  std::size_t rows_per_statement_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;     // the writer thread waits on it
  std::condition_variable settled_;  // flush() waits on it
  std::vector<ledger_row> queue_;    // appended, not yet taken by the writer
  std::uint64_t accepted_ = 0;       // rows ever accepted (sequence of the last one)
  std::uint64_t done_ = 0;           // accepted rows committed or rejected, a prefix
  std::uint64_t flush_target_ = 0;   // flush() wants done_ to reach this
  bool stop_ = false;
  std::string last_error_;

  std::vector<ledger_row> batch_;       // taken by the writer thread, not yet committed (its own)
  std::atomic<std::uint64_t> held_{0};  // batch_.size(), for append's bound
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> rejected_{0};
  std::atomic<std::uint64_t> failures_{0};

  std::thread thread_;
};

// The writer's counters in Prometheus text: switchyard_ledger_rows_{appended,written,dropped,
// rejected}_total, switchyard_ledger_failures_total, and the gauge switchyard_ledger_rows_pending
// (appended, not yet committed: what a kill -9 would lose now).
std::string ledger_metrics(const ledger_stats& s);

// ---- The usage report -----------------------------------------------------------------------

enum class group_by { key, user, model, channel, day };

// "key" | "user" | "model" | "channel" | "day" → group_by; nullopt otherwise.
std::optional<group_by> parse_group_by(std::string_view text);

struct usage_group {
  // The key id, user id, model, channel, or the UTC day "YYYY-MM-DD"; "" for the rows without a
  // key (or user) when grouping by key (or user), and for the total.
  std::string group;
  std::string name;  // by key: a name recorded for the key (the greatest, if renamed); else ""
  std::int64_t requests = 0;
  std::int64_t input_tokens = 0;
  std::int64_t cached_input_tokens = 0;
  std::int64_t cache_write_tokens = 0;  // 5m + 1h
  std::int64_t cache_write_5m_tokens = 0;
  std::int64_t cache_write_1h_tokens = 0;
  std::int64_t output_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t estimated_requests = 0;
  std::int64_t cost_nano_usd = 0;          // the sum of the known costs
  std::int64_t unknown_cost_requests = 0;  // requests whose cost is unknown (not in the sum)
};

struct usage_report {
  std::vector<usage_group> data;  // ordered by group
  usage_group total;              // the sum of data
};

// Restricts a report to one key or one user (a developer's own usage).
struct usage_filter {
  std::optional<std::string> key_id;
  std::optional<std::string> user_id;
  // A key that has no id (a config-file key, the master key): its rows are those without a
  // key_id that carry its name.
  std::optional<std::string> unmanaged_key_name;
};

// Sums the ledger rows with from_ms <= at < to_ms (unix milliseconds) by `by`.
store::result<usage_report> usage(store::connection& db, group_by by, std::int64_t from_ms,
                                  std::int64_t to_ms, const usage_filter& filter = {});

// ---- The rows themselves (the CSV export) ----------------------------------------------------

// Where a page of ledger rows ended: the (at, id) of its last row.
struct ledger_cursor {
  std::int64_t at = 0;
  std::string id;
};

struct ledger_page {
  std::vector<ledger_row> rows;
  std::optional<ledger_cursor> next;  // set when more rows follow
};

// The ledger rows with from_ms <= at < to_ms, in time order (at, then id), at most `limit` of
// them, those after `after` when given. Keyset paging: a page costs the same wherever it starts.
store::result<ledger_page> ledger_rows(store::connection& db, std::int64_t from_ms,
                                       std::int64_t to_ms, const usage_filter& filter,
                                       std::size_t limit,
                                       const std::optional<ledger_cursor>& after = std::nullopt);

// How many ledger rows ledger_rows would return over every page.
store::result<std::int64_t> count_ledger_rows(store::connection& db, std::int64_t from_ms,
                                              std::int64_t to_ms, const usage_filter& filter);

// Days since 1970-01-01 → "YYYY-MM-DD" (proleptic Gregorian, UTC).
std::string format_day(std::int64_t days);

}  // namespace sy::billing
