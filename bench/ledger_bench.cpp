// sy_ledger_bench: the ledger writer's throughput (billing/ledger.h), in rows committed per second,
// and what append costs the request path. Google Benchmark; see bench/README.md ("The ledger
// writer").
//
//   commit/<backend>/<appenders>   <appenders> threads append 20,000 rows (a realistic row: ids,
//                                  names, every token count, a cost), then flush() waits until
//                                  all are committed; items/s = rows committed per second (wall
//                                  clock: the work is on the writer's thread)
//   append/<backend>               one append() while the writer runs (CPU time per call)
//
// <backend> is sqlite (a file in a temporary folder, WAL, synchronous=NORMAL: the gateway's
// settings) and, when SY_BENCH_POSTGRES_URL names a server, postgres (in a throwaway schema).

#include "billing/ledger.h"
#include "store/migrations.h"

#include <benchmark/benchmark.h>

#include <unistd.h>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

namespace {

using sy::billing::ledger_row;
using sy::billing::ledger_writer;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "sy_ledger_bench: %s\n", what.c_str());
  std::exit(1);
}

ledger_row sample(std::int64_t k) {
  ledger_row r;
  r.request_id = "req_01jd4x7w3k9q2m5n8p6r" + std::to_string(k);
  r.key_id = "key_3f9a1c0d5e7b2a48";
  r.key_name = "production backend";
  r.user_id = "usr_8c2e4a6f1b3d5c7e";
  r.api = "openai";
  r.model = "gpt-5-mini";
  r.channel = "openai-main";
  r.upstream_model = "gpt-5-mini-2025-08-07";
  r.input_tokens = 1200 + k % 500;
  r.cached_input_tokens = 1024;
  r.output_tokens = 300 + k % 200;
  r.reasoning_tokens = 128;
  r.cost_nano_usd = 412'000 + k;
  r.status = 200;
  r.duration_ms = 850;
  r.ttfb_ms = 210;
  return r;
}

// A database for one benchmark: a new SQLite file, or a new PostgreSQL schema.
struct database {
  std::string url;
  std::filesystem::path dir;
  std::string admin_url, schema;

  explicit database(const std::string& backend) {
    if (backend == "sqlite") {
      std::string tmpl = (std::filesystem::temp_directory_path() / "sy-ledger-XXXXXX").string();
      if (!mkdtemp(tmpl.data())) fail("mkdtemp failed");
      dir = tmpl;
      url = "sqlite:" + (dir / "ledger.db").string();
    } else {
      admin_url = std::getenv("SY_BENCH_POSTGRES_URL");
      static int counter = 0;
      schema = "sy_ledger_bench_" + std::to_string(getpid()) + "_" + std::to_string(++counter);
      admin("CREATE SCHEMA " + schema);
      url = admin_url + (admin_url.find('?') == std::string::npos ? "?" : "&") +
            "options=-csearch_path%3D" + schema;
    }
  }
  ~database() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
    if (!schema.empty()) admin("DROP SCHEMA " + schema + " CASCADE");
  }
  void admin(const std::string& sql) {
    auto db = sy::store::open(admin_url);
    if (auto* e = std::get_if<sy::store::db_error>(&db)) fail(e->message);
    if (auto e = std::get<std::unique_ptr<sy::store::connection>>(db)->exec_script(sql)) {
      fail(e->message);
    }
  }
  std::unique_ptr<ledger_writer> writer() {
    auto opened = ledger_writer::open(url, {});
    if (auto* e = std::get_if<sy::store::db_error>(&opened)) fail(e->message);
    return std::move(std::get<std::unique_ptr<ledger_writer>>(opened));
  }
};

void commit(benchmark::State& state, std::string backend) {
  const int appenders = static_cast<int>(state.range(0));
  constexpr int rows = 20000;
  database db(backend);
  auto w = db.writer();
  std::vector<ledger_row> prepared;
  for (int k = 0; k < rows; ++k)
    prepared.push_back(sample(k));
  for (auto _ : state) {
    std::vector<std::thread> pool;
    for (int t = 0; t < appenders; ++t) {
      pool.emplace_back([&, t] {
        for (int k = t; k < rows; k += appenders)
          w->append(prepared[static_cast<std::size_t>(k)]);
      });
    }
    for (auto& t : pool)
      t.join();
    if (!w->flush()) fail("flush timed out: " + w->stats().last_error);
  }
  auto s = w->stats();
  if (s.dropped || s.rejected) fail("rows were dropped or refused");
  state.SetItemsProcessed(static_cast<std::int64_t>(s.written));
  state.counters["rows_per_batch"] =
      static_cast<double>(s.written) / static_cast<double>(std::max<std::uint64_t>(s.batches, 1));
}

void append(benchmark::State& state, std::string backend) {
  database db(backend);
  auto w = db.writer();
  auto row = sample(1);
  for (auto _ : state) {
    if (!w->append(row)) {
      state.PauseTiming();
      w->flush();
      state.ResumeTiming();
    }
  }
  w->flush();
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> backends{"sqlite"};
  if (const char* pg = std::getenv("SY_BENCH_POSTGRES_URL"); pg && *pg)
    backends.push_back("postgres");
  for (const auto& b : backends) {
    benchmark::RegisterBenchmark(("commit/" + b).c_str(), commit, b)
        ->Arg(1)
        ->Arg(8)
        ->ArgName("appenders")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond)
        ->MinTime(2.0);
    benchmark::RegisterBenchmark(("append/" + b).c_str(), append, b);
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
