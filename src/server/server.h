// The listener: one worker per thread, each with its own io_context, its own SO_REUSEPORT
// acceptor and its own upstream pool, sharing only the runtime snapshot and the metrics.
#pragma once

#include "common/deadline.h"
#include "common/net.h"
#include "metrics/metrics.h"
#include "server/runtime.h"
#include "upstream/pool.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace sy {

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

 private:
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
