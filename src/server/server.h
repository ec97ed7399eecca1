// The listener: one worker per thread, each with its own io_context, its own SO_REUSEPORT
// acceptor and its own upstream pool, sharing only the runtime snapshot and the metrics.
#pragma once

#include "auth/auth_guard.h"
#include "auth/replay_cache.h"
#include "billing/budget.h"
#include "common/deadline.h"
#include "common/net.h"
#include "limits/rate_limiter.h"
#include "metrics/metrics.h"
#include "server/runtime.h"
#include "upstream/pool.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace sy {
namespace store {
class service;
class connection;
}  // namespace store
namespace crypto {
class sealer;
}
namespace billing {
class ledger_writer;
}

class server;

// What a worker knows of one of its client connections, so a drain can close idle ones.
struct session_state {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for a request, not serving one
};

class worker {
 public:
  worker(server& owner, std::size_t index, std::shared_ptr<const runtime> rt,
         asio::ssl::context& tls, metrics::shard& shard);

  asio::io_context& io() { return ioc_; }
  const runtime& rt() const { return *rt_; }
  // The current snapshot; a request holds it while it runs, so a swap never pulls it away.
  const std::shared_ptr<const runtime>& snapshot() const { return rt_; }
  // Runs on the worker's thread (server::publish posts it).
  void set_runtime(std::shared_ptr<const runtime> rt) { rt_ = std::move(rt); }
  upstream::pool& pool() { return pool_; }
  deadline_sweeper& sweeper() { return sweeper_; }
  metrics::shard& metrics() { return metrics_; }
  server& owner() { return owner_; }
  bool draining() const { return draining_; }
  std::uint64_t random();

  void open_acceptor(const asio::ip::tcp::endpoint& ep, boost::system::error_code& ec);
  asio::ip::tcp::endpoint local_endpoint() const { return acceptor_.local_endpoint(); }
  void start();
  // Runs on the worker's thread: stop accepting, close idle connections.
  void begin_drain();
  // Runs on the worker's thread after the drain timeout: close every connection still open, so
  // every session ends and the worker's event loop runs out of work.
  void force_close();

  // The active probes' timer while they wait (run_probes), so a drain can end their wait.
  void set_probe_timer(asio::steady_timer* t) { probe_timer_ = t; }

  void add(session_state* s) { sessions_.insert(s); }
  void remove(session_state* s) { sessions_.erase(s); }

 private:
  asio::awaitable<void> accept_loop();

  server& owner_;
  std::size_t index_;
  // Only this worker's thread does I/O on it (other threads only post), so the reactor needs no
  // locks.
  asio::io_context ioc_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  deadline_sweeper sweeper_{ioc_};
  asio::ip::tcp::acceptor acceptor_{ioc_};
  std::shared_ptr<const runtime> rt_;
  upstream::pool pool_;
  metrics::shard& metrics_;
  bool draining_ = false;
  std::unordered_set<session_state*> sessions_;
  asio::steady_timer* probe_timer_ = nullptr;
  std::uint64_t rng_;
};

class server {
 public:
  explicit server(std::shared_ptr<const runtime> rt);
  ~server();

  // Binds (port 0 picks a free one) and starts the worker threads.
  boost::system::error_code start();
  std::uint16_t port() const { return port_; }
  std::string address() const;  // http://host:port
  unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

  // Stops accepting, lets in-flight requests finish for up to `timeout`, then stops.
  // Blocks until every worker thread has ended. Safe to call from any thread, once.
  void drain(std::chrono::milliseconds timeout);

  metrics::registry& metrics() { return metrics_; }
  std::atomic<int>& active_sessions() { return active_sessions_; }

  // Swaps in a new snapshot (keys or channels changed): each worker takes it between two
  // requests; requests in flight finish on the one they started with. Any thread.
  void publish(std::shared_ptr<const runtime> rt);
  std::shared_ptr<const runtime> current() const;

  // The store behind managed keys, the admin API and the audit log; null with `database: none`.
  void attach_store(store::service* store, const crypto::sealer* sealer) {
    store_ = store;
    sealer_ = sealer;
  }
  store::service* store() const { return store_; }
  const crypto::sealer* sealer() const { return sealer_; }

  // Where every routed request leaves its ledger row; null with `database: none`.
  void attach_ledger(billing::ledger_writer* ledger) { ledger_ = ledger; }
  billing::ledger_writer* ledger() const { return ledger_; }

  // Shared by every worker: per-key rate limiters, kept across snapshot swaps; failed
  // authentications by client address; signatures already used.
  limiter_registry& limiters() { return limiters_; }
  // Spend budgets of keys and users, kept across snapshot swaps.
  billing::budget_book& budgets() { return budgets_; }
  // A budget crossed `percent` (80 or 100) of its limit ("budget.threshold"), or refused the
  // first request of its period ("budget.exhausted"): logged, and handed to the alert sink (the
  // webhook) when there is one. Any thread; never blocks on the network.
  void budget_event(const billing::budget_state& state, std::string_view type, int percent = 0);
  // Set before start, never changed after: type and the event's `data` object as JSON.
  void set_alert_sink(std::function<void(std::string_view type, std::string data)> sink) {
    alert_sink_ = std::move(sink);
  }
  // Bounds the audit rows failed authentications may append (a flood of them must not bury the
  // store thread): 6000 a minute, in bursts of as many.
  rate_limiter& audit_budget() { return *audit_budget_; }
  auth_guard& guard() { return guard_; }
  replay_cache& replays() { return replays_; }

  // How a store change becomes a new snapshot (set by load_from_store); runs on the store
  // thread. Set before the store is watched, never changed after.
  void set_reloader(std::function<bool(store::connection&)> f) { reloader_ = std::move(f); }
  bool reload_from_store(store::connection& db) { return reloader_ ? reloader_(db) : false; }

 private:
  mutable std::mutex rt_mutex_;
  limiter_registry limiters_;
  billing::budget_book budgets_;
  std::function<void(std::string_view, std::string)> alert_sink_;
  std::shared_ptr<rate_limiter> audit_budget_ = rate_limiter::create({.rpm = 6000});
  auth_guard guard_;
  replay_cache replays_;
  std::function<bool(store::connection&)> reloader_;
  store::service* store_ = nullptr;
  billing::ledger_writer* ledger_ = nullptr;
  const crypto::sealer* sealer_ = nullptr;
  std::shared_ptr<const runtime> rt_;
  std::unique_ptr<asio::ssl::context> tls_;
  metrics::registry metrics_;
  std::vector<std::unique_ptr<worker>> workers_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::atomic<int> active_sessions_{0};
  bool stopped_ = false;
};

// Runs one client connection: keep-alive request loop, limits, timeouts.
asio::awaitable<void> run_session(worker& w, asio::ip::tcp::socket socket);

}  // namespace sy
