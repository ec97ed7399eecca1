// kill -9 of the real `switchyard serve` process (issue 5): under load, the ledger loses at most
// the rows of the last batch window, never duplicates one, and the budgets a restarted gateway
// builds from the ledger are exactly what the ledger holds, down to the nano-USD; an exhausted
// budget stays exhausted across a kill -9 and a restart.
//
// Unlike the other integration tests, the gateway here is the binary (SY_BINARY, built with the
// tests), fork/exec'd and killed with SIGKILL; the fake upstream runs in this process and the
// ledger is read straight from the SQLite file.
#include "store/sql.h"
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#ifndef SY_BINARY
#error "SY_BINARY (the path of the switchyard executable) must be defined by the build"
#endif

namespace sy::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

// Every completion answers 10 prompt and 50 completion tokens; gpt-test costs $100 per million
// input tokens and $200 per million output tokens, i.e. $0.0001 and $0.0002 a token, 100,000 and
// 200,000 nano-USD: one request costs 10 x 100,000 + 50 x 200,000 = 11,000,000 nano-USD ($0.011).
constexpr std::int64_t prompt_tokens = 10;
constexpr std::int64_t completion_tokens = 50;
constexpr std::int64_t request_cost_nano =
    prompt_tokens * 100 * 1000 + completion_tokens * 200 * 1000;
static_assert(request_cost_nano == 11'000'000);

const std::string master_key = "sk-master-crash-0123456789";
const std::string config_key = "sk-cfg-crash-0123456789";
const std::string config_key_name = "cfg-app";

std::string request_body() {
  return R"({"model":"gpt-test","max_tokens":50,"messages":[{"role":"user","content":"Hi"}]})";
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// One `switchyard serve --config <file>` process, stdout and stderr into `log`. Killed with
// SIGKILL (and reaped) when it goes out of scope, whatever happened to the test; it also dies with
// this process (PR_SET_PDEATHSIG).
class gateway_process {
 public:
  gateway_process(const std::filesystem::path& config, const std::filesystem::path& log)
      : log_(log) {
    std::filesystem::remove(log);
    const std::string binary = SY_BINARY, config_path = config.string(), log_path = log.string();
    std::vector<char*> argv{const_cast<char*>("switchyard"), const_cast<char*>("serve"),
                            const_cast<char*>("--config"), const_cast<char*>(config_path.c_str()),
                            nullptr};
    pid_ = ::fork();
    if (pid_ == 0) {  // only async-signal-safe calls from here to exec
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        ::dup2(fd, 1);
        ::dup2(fd, 2);
      }
      ::execv(binary.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~gateway_process() {
    if (running()) kill_9();
  }
  gateway_process(const gateway_process&) = delete;
  gateway_process& operator=(const gateway_process&) = delete;

  // Waits for the line "listening on http://127.0.0.1:PORT" (the gateway binds port 0). False
  // when it exited or did not say so in time.
  bool wait_listening(std::chrono::seconds timeout) {
    static const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+))");
    const auto deadline = steady::now() + timeout;
    while (steady::now() < deadline) {
      std::smatch m;
      const auto text = read_file(log_);
      if (std::regex_search(text, m, listening)) {
        port_ = static_cast<unsigned short>(std::stoi(m[1]));
        return true;
      }
      if (!running()) return false;
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }

  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  // SIGKILL and reap; true when it died of that signal.
  bool kill_9() {
    if (pid_ <= 0) return false;
    ::kill(pid_, SIGKILL);
    int status = 0;
    const bool reaped = ::waitpid(pid_, &status, 0) == pid_;
    pid_ = -1;
    return reaped && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }

  unsigned short port() const { return port_; }
  std::string log() const { return read_file(log_); }

 private:
  std::filesystem::path log_;
  pid_t pid_ = -1;
  unsigned short port_ = 0;
};

std::map<std::string, std::string> bearer(const std::string& key) {
  return {{"Authorization", "Bearer " + key}};
}

// A JSON number of USD (the admin API writes whole dollars as integers, others as doubles) in
// nano-USD. Doubles carry 15 significant digits: exact for the sums here (< $10,000 to 1e-9).
std::int64_t usd_to_nano(const boost::json::value& v) {
  if (v.is_int64()) return v.get_int64() * 1'000'000'000;
  if (v.is_uint64()) return static_cast<std::int64_t>(v.get_uint64()) * 1'000'000'000;
  return std::llround(v.as_double() * 1e9);
}

struct budget_state {
  std::int64_t spent = 0, reserved = 0;
};

// GET /admin/budgets, by "key:<id>", "user:<id>" and "config:<name>".
std::map<std::string, budget_state> budgets(unsigned short port) {
  http_client c(port);
  auto r = c.request("GET", "/admin/budgets", {}, bearer(master_key));
  EXPECT_EQ(r.status, 200) << r.body;
  std::map<std::string, budget_state> out;
  if (r.status != 200) return out;
  const auto answer = boost::json::parse(r.body);  // kept: the loop reads into it
  for (const auto& item : answer.at("data").as_array()) {
    const auto& o = item.as_object();
    const std::string scope(o.at("scope").as_string());
    std::string id = o.at("config_key").as_bool()
                         ? "config:" + std::string(o.at("name").as_string())
                         : scope + ":" + std::string(o.at("id").as_string());
    out[id] = {usd_to_nano(o.at("spent_usd")), usd_to_nano(o.at("reserved_usd"))};
  }
  return out;
}

// Polls GET /admin/budgets until `done` holds for it (settlement runs after the answer is sent).
template <class Pred>
std::map<std::string, budget_state> wait_budgets(unsigned short port, Pred done) {
  const auto deadline = steady::now() + 5s;
  auto b = budgets(port);
  while (!done(b) && steady::now() < deadline) {
    std::this_thread::sleep_for(20ms);
    b = budgets(port);
  }
  return b;
}

// 00:00 UTC on the first of this month, in unix ms: the start of the "month" budget period. (A
// run across midnight UTC at the turn of a month would compare two periods; it takes seconds.)
std::int64_t month_start_ms() {
  using namespace std::chrono;
  const year_month_day today{floor<days>(system_clock::now())};
  const sys_days first{today.year() / today.month() / 1};
  return duration_cast<milliseconds>(first.time_since_epoch()).count();
}

class ledger_reader {
 public:
  explicit ledger_reader(const std::string& url) {
    auto opened = store::open(url);
    if (auto* e = std::get_if<store::db_error>(&opened)) {
      ADD_FAILURE() << "cannot open " << url << ": " << e->message;
      return;
    }
    db_ = std::move(std::get<std::unique_ptr<store::connection>>(opened));
  }
  std::vector<store::row> query(const std::string& sql, const std::vector<store::value>& p = {}) {
    if (!db_) return {};
    auto r = db_->query(sql, p);
    if (auto* e = std::get_if<store::db_error>(&r)) {
      ADD_FAILURE() << sql << ": " << e->message;
      return {};
    }
    return std::get<std::vector<store::row>>(r);
  }
  // SUM(cost_nano_usd) this month of the rows matching `where` ($1 its parameter, $2 the month).
  std::int64_t month_cost(const std::string& where, const std::string& param) {
    auto rows =
        query("SELECT COALESCE(SUM(cost_nano_usd), 0) FROM ledger WHERE " + where + " AND at >= $2",
              {param, month_start_ms()});
    return rows.empty() ? -1 : rows[0].integer(0);
  }

 private:
  std::unique_ptr<store::connection> db_;
};

std::string json_string_field(const std::string& body, const char* field) {
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec || !v.is_object() || !v.as_object().contains(field)) return {};
  const auto& f = v.as_object().at(field);
  return f.is_string() ? std::string(f.get_string()) : std::string();
}

struct completed {
  std::string request_id;
  steady::time_point at;
  bool config;  // sent with the config-file key (else the managed key)
};

TEST(crash, kill_9_under_load_loses_at_most_the_last_batch_window_and_budgets_reload) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "sy-crash-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir = tmpl;
  struct remove_dir {
    std::filesystem::path p;
    ~remove_dir() { std::filesystem::remove_all(p); }
  } cleanup{dir};
  const std::string db_url = "sqlite:" + (dir / "sy.db").string();

  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200,
             R"({"id":"c","object":"chat.completion","created":1,"model":"gpt-test","choices":[)"
             R"({"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],)"
             R"("usage":{"prompt_tokens":10,"completion_tokens":50,"total_tokens":60}})");
  });
  const auto config = dir / "switchyard.yaml";
  {
    std::ofstream(config) << "listen: 127.0.0.1:0\n"
                          << "workers: 2\n"
                          << "log: { access: off }\n"
                          << "database: " << db_url << "\n"
                          << "master_key: " << master_key << "\n"
                          << "pricing:\n  gpt-test: { input: 100, output: 200 }\n"
                          << "channels:\n"
                          << "  - name: up\n    type: openai\n    base_url: " << up.url() << "\n"
                          << "    api_keys: [ \"sk-upstream\" ]\n    models: [ gpt-test ]\n"
                          << "keys:\n  - { name: " << config_key_name << ", key: " << config_key
                          << ", models: [ \"*\" ], budget_usd: 1000, budget_period: month }\n";
  }

  // ---- 1. A gateway with a config-file key, a managed user and two managed keys, all budgeted.
  std::string user_id, key_id, key_secret, small_key_id, small_key_secret;
  std::vector<completed> done;
  steady::time_point killed_at;
  {
    gateway_process gw(config, dir / "serve-1.log");
    ASSERT_TRUE(gw.wait_listening(15s)) << gw.log();
    {
      http_client admin(gw.port());
      auto u = admin.request(
          "POST", "/admin/users",
          R"({"name":"crash-user","role":"developer","budget_usd":1000,"budget_period":"month"})",
          bearer(master_key));
      ASSERT_EQ(u.status, 201) << u.body;
      user_id = json_string_field(u.body, "id");
      auto k = admin.request("POST", "/admin/keys",
                             R"({"name":"crash-key","user_id":")" + user_id +
                                 R"(","budget_usd":1000,"budget_period":"month"})",
                             bearer(master_key));
      ASSERT_EQ(k.status, 201) << k.body;
      key_id = json_string_field(k.body, "id");
      key_secret = json_string_field(k.body, "key");
      // A few requests' worth: each reserves its worst case (~12.5M nano: the prompt estimate
      // and max_tokens 50) and spends 11M, so the fifth is refused.
      auto s = admin.request("POST", "/admin/keys",
                             R"({"name":"small-key","budget_usd":0.05,"budget_period":"month"})",
                             bearer(master_key));
      ASSERT_EQ(s.status, 201) << s.body;
      small_key_id = json_string_field(s.body, "id");
      small_key_secret = json_string_field(s.body, "key");
      ASSERT_FALSE(user_id.empty() || key_id.empty() || key_secret.empty() ||
                   small_key_id.empty() || small_key_secret.empty());
    }
    // The key table follows the store: the managed keys are in it once their budgets are bound.
    auto b = wait_budgets(gw.port(), [&](const auto& b) {
      return b.count("key:" + key_id) && b.count("key:" + small_key_id) &&
             b.count("user:" + user_id);
    });
    ASSERT_TRUE(b.count("key:" + key_id) && b.count("key:" + small_key_id) &&
                b.count("config:" + config_key_name))
        << gw.log();

    // ---- 2. Load: 8 keep-alive clients, half on the config key, half on the managed key.
    constexpr int clients = 8;
    constexpr auto pace = 2ms;
    std::atomic<bool> killing{false};
    std::mutex mutex;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    const auto start = steady::now();
    for (int i = 0; i < clients; ++i) {
      threads.emplace_back([&, i] {
        const bool use_config = i % 2 == 0;
        const std::string& key = use_config ? config_key : key_secret;
        std::vector<completed> mine;
        try {
          http_client c(gw.port());
          auto next = steady::now();
          while (!killing.load()) {
            // At most one request per client every `pace`, about 4,000 requests/s in all: load,
            // but not so much that the ledger writer (one thread among the gateway's workers, 8
            // clients, the fake upstream's threads and whatever else runs on a 2-core CI
            // machine) cannot get the CPU to keep up. Unpaced (15-25K requests/s here) with two
            // more busy processes on the machine, the writer fell more than a second behind in
            // one run of five: the bound "the last batch window" holds while the writer keeps
            // up with the appends, which this test is about; its throughput is sy_ledger_bench's.
            next = std::max(next + pace, steady::now());
            std::this_thread::sleep_until(next);
            auto r = c.post("/v1/chat/completions", request_body(), key);
            const auto at = steady::now();
            if (r.status != 200) {
              std::lock_guard lock(mutex);
              errors.push_back(std::to_string(r.status) + " " + r.body);
              break;
            }
            mine.push_back({r.header("x-request-id"), at, use_config});
          }
        } catch (const std::exception& e) {
          // The connection breaks when the gateway dies; before that, it is a failure.
          if (!killing.load()) {
            std::lock_guard lock(mutex);
            errors.push_back(std::string("client error: ") + e.what());
          }
        }
        std::lock_guard lock(mutex);
        done.insert(done.end(), mine.begin(), mine.end());
      });
    }
    // ---- 3. kill -9 after 2 s of load, while the clients are still sending.
    std::this_thread::sleep_until(start + 2s);
    killing = true;
    killed_at = steady::now();
    const bool killed = gw.kill_9();
    for (auto& t : threads)
      t.join();
    ASSERT_TRUE(killed) << "the gateway was not running at the kill: " << gw.log();
    for (const auto& e : errors)
      ADD_FAILURE() << "a request failed before the kill: " << e;
  }

  // ---- 4. The ledger, read from the file the dead gateway left.
  // The writer commits every 100 ms (ledger_options::flush_interval), so a row appended more
  // than 100 ms before the kill is committed, on an idle machine. The margin is 1 s because on a
  // loaded 2-core CI machine (8 clients, the gateway, the fake upstream and other jobs) the
  // writer thread may not be scheduled for hundreds of ms, and a batch of a few hundred rows
  // takes time to commit: what must be there are the responses completed a second before the
  // kill.
  constexpr auto margin = 1s;
  std::set<std::string> seen;
  std::size_t must_have = 0, late = 0, missing = 0, missing_early = 0, unknown = 0;
  {
    ledger_reader ledger(db_url);
    auto rows = ledger.query(
        "SELECT request_id, key_id, key_name, user_id, input_tokens, cached_input_tokens, "
        "output_tokens, reasoning_tokens, cost_nano_usd, status FROM ledger");
    std::map<std::string, bool> sent;  // request id -> with the config key
    for (const auto& c : done)
      sent[c.request_id] = c.config;
    ASSERT_EQ(sent.size(), done.size()) << "two responses carried the same x-request-id";
    for (const auto& r : rows) {
      const auto id = r.text(0);
      EXPECT_TRUE(seen.insert(id).second) << "two ledger rows for request " << id;
      auto it = sent.find(id);
      if (it == sent.end()) {
        // Answered (and recorded) while the client was being cut off: at most one a client.
        ++unknown;
      } else if (it->second) {
        EXPECT_TRUE(r.is_null(1)) << id;
        EXPECT_EQ(r.text(2), config_key_name) << id;
        EXPECT_TRUE(r.is_null(3)) << id;
      } else {
        EXPECT_EQ(r.text(1), key_id) << id;
        EXPECT_EQ(r.text(2), "crash-key") << id;
        EXPECT_EQ(r.text(3), user_id) << id;
      }
      // The cost, from the fixed usage at the configured price, computed above independently.
      EXPECT_EQ(r.integer(4), prompt_tokens) << id;
      EXPECT_EQ(r.integer(5), 0) << id;
      EXPECT_EQ(r.integer(6), completion_tokens) << id;
      EXPECT_EQ(r.integer(7), 0) << id;
      ASSERT_FALSE(r.is_null(8)) << id;
      EXPECT_EQ(r.integer(8), request_cost_nano) << id;
      EXPECT_EQ(r.integer(9), 200) << id;
    }
    auto oldest_missing = steady::duration::zero();  // before the kill
    for (const auto& c : done) {
      const bool early = c.at + margin < killed_at;
      if (!seen.count(c.request_id)) oldest_missing = std::max(oldest_missing, killed_at - c.at);
      const bool present = seen.count(c.request_id) > 0;
      if (early) ++must_have;
      if (!early) ++late;
      if (!present) ++missing;
      if (!present && early) ++missing_early;
    }
    std::printf(
        "kill -9: %zu responses (%zu more than 1 s before the kill, %zu within the last second), "
        "%zu ledger rows; %zu responses without a row (the oldest completed %lld ms before the "
        "kill), %zu rows without a seen response\n",
        done.size(), must_have, late, rows.size(), missing,
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(oldest_missing).count()),
        unknown);
    EXPECT_GE(must_have, 50u) << "too little load before the margin for the test to mean much";
    EXPECT_EQ(missing_early, 0u) << "rows lost beyond the last batch window";
    EXPECT_LE(missing, late);
    EXPECT_LE(unknown, 8u);
  }

  // ---- 5. Restart on the same database: the budgets are the ledger's sums, to the nano-USD.
  std::size_t small_ok = 0;
  {
    gateway_process gw(config, dir / "serve-2.log");
    ASSERT_TRUE(gw.wait_listening(15s)) << gw.log();
    ledger_reader ledger(db_url);
    const auto cfg_sum = ledger.month_cost("key_id IS NULL AND key_name = $1", config_key_name);
    const auto key_sum = ledger.month_cost("key_id = $1", key_id);
    const auto user_sum = ledger.month_cost("user_id = $1", user_id);
    EXPECT_GT(cfg_sum, 0);
    EXPECT_GT(key_sum, 0);
    EXPECT_EQ(key_sum, user_sum);  // the user's only key with traffic
    auto b = wait_budgets(gw.port(), [&](const auto& b) {
      return b.count("key:" + key_id) && b.count("user:" + user_id) &&
             b.count("config:" + config_key_name);
    });
    ASSERT_TRUE(b.count("key:" + key_id) && b.count("user:" + user_id) &&
                b.count("config:" + config_key_name))
        << gw.log();
    EXPECT_EQ(b["config:" + config_key_name].spent, cfg_sum);
    EXPECT_EQ(b["key:" + key_id].spent, key_sum);
    EXPECT_EQ(b["user:" + user_id].spent, user_sum);
    EXPECT_EQ(b["key:" + small_key_id].spent, 0);

    // Each key still works, and one request moves its spend by exactly one request's cost.
    http_client c(gw.port());
    auto r = c.post("/v1/chat/completions", request_body(), config_key);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto cfg_after = cfg_sum + request_cost_nano;
    b = wait_budgets(gw.port(), [&](const auto& b) {
      auto it = b.find("config:" + config_key_name);
      return it != b.end() && it->second.spent == cfg_after;
    });
    EXPECT_EQ(b["config:" + config_key_name].spent, cfg_after);
    EXPECT_EQ(b["config:" + config_key_name].reserved, 0);
    r = c.post("/v1/chat/completions", request_body(), key_secret);
    ASSERT_EQ(r.status, 200) << r.body;
    b = wait_budgets(gw.port(), [&](const auto& b) {
      auto k = b.find("key:" + key_id);
      auto u = b.find("user:" + user_id);
      return k != b.end() && u != b.end() && k->second.spent == key_sum + request_cost_nano &&
             u->second.spent == user_sum + request_cost_nano;
    });
    EXPECT_EQ(b["key:" + key_id].spent, key_sum + request_cost_nano);
    EXPECT_EQ(b["user:" + user_id].spent, user_sum + request_cost_nano);
    EXPECT_EQ(b["key:" + key_id].reserved, 0);
    EXPECT_EQ(b["user:" + user_id].reserved, 0);

    // ---- 6. Exhaust the small key, then kill -9 at once.
    std::string refusal;
    for (int i = 0; i < 20; ++i) {
      r = c.post("/v1/chat/completions", request_body(), small_key_secret);
      if (r.status == 200) {
        ++small_ok;
        continue;
      }
      refusal = r.body;
      break;
    }
    ASSERT_EQ(r.status, 429) << r.body;
    EXPECT_NE(refusal.find("insufficient_quota"), std::string::npos) << refusal;
    EXPECT_EQ(small_ok, 4u);  // $0.05 budget, $0.011 each, ~$0.0125 reserved for the next
    // The rows of the accepted requests must be committed before the kill for the budget to
    // survive it: the writer commits within its 100 ms batch window; 500 ms leaves room for a
    // loaded machine. (A row still in the window at a kill -9 is lost, and its spend with it:
    // that is the documented bound, tested above, not what this part is about.)
    std::this_thread::sleep_for(500ms);
    c.close();
    ASSERT_TRUE(gw.kill_9()) << gw.log();
  }
  {
    gateway_process gw(config, dir / "serve-3.log");
    ASSERT_TRUE(gw.wait_listening(15s)) << gw.log();
    http_client c(gw.port());
    auto r = c.post("/v1/chat/completions", request_body(), small_key_secret);
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_NE(r.body.find("insufficient_quota"), std::string::npos) << r.body;
    ledger_reader ledger(db_url);
    const auto small_sum = ledger.month_cost("key_id = $1", small_key_id);
    EXPECT_EQ(small_sum, static_cast<std::int64_t>(small_ok) * request_cost_nano);
    auto b = budgets(gw.port());
    EXPECT_EQ(b["key:" + small_key_id].spent, small_sum);
    EXPECT_EQ(b["key:" + small_key_id].reserved, 0);
    // The other keys still work.
    EXPECT_EQ(c.post("/v1/chat/completions", request_body(), config_key).status, 200);
    EXPECT_EQ(c.post("/v1/chat/completions", request_body(), key_secret).status, 200);
    c.close();
    gw.kill_9();
  }
}

}  // namespace
}  // namespace sy::test
