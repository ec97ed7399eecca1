#include "server/server.h"

#include "server/probes.h"

#include "upstream/tls.h"

#include <spdlog/spdlog.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <random>

namespace sy {
using tcp = asio::ip::tcp;

static unsigned worker_count_for(const config& cfg) {
  if (cfg.workers > 0) return cfg.workers;
  auto n = std::thread::hardware_concurrency();
  return n ? n : 1;
}

worker::worker(server& owner, std::size_t index, std::shared_ptr<const runtime> rt,
               asio::ssl::context& tls, metrics::shard& shard)
    : owner_(owner),
      index_(index),
      rt_(std::move(rt)),
      pool_(ioc_, tls, sweeper_),
      metrics_(shard),
      rng_(std::random_device{}() ^ (static_cast<std::uint64_t>(index) << 32)) {}

std::uint64_t worker::random() {
  // splitmix64: one per worker, no locks.
  std::uint64_t z = (rng_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void worker::open_acceptor(const tcp::endpoint& ep, boost::system::error_code& ec) {
  acceptor_.open(ep.protocol(), ec);
  if (ec) return;
  acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  int one = 1;
  ::setsockopt(acceptor_.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  acceptor_.bind(ep, ec);
  if (ec) return;
  acceptor_.listen(asio::socket_base::max_listen_connections, ec);
}

void worker::start() {
  sweeper_.start();
  asio::co_spawn(ioc_, accept_loop(), asio::detached);
  // The active probes run on the first worker (idle unless a channel, of the file or the
  // store, asks for them).
  if (index_ == 0) asio::co_spawn(ioc_, run_probes(*this), asio::detached);
}

asio::awaitable<void> worker::accept_loop() {
  while (!draining_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted || draining_) break;
      // Out of descriptors and the like: log once per failure, do not spin.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(ioc_, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    owner_.active_sessions().fetch_add(1, std::memory_order_relaxed);
    asio::co_spawn(ioc_, run_session(*this, std::move(socket)), [this](std::exception_ptr) {
      owner_.active_sessions().fetch_sub(1, std::memory_order_relaxed);
    });
  }
}

void worker::begin_drain() {
  draining_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  if (probe_timer_) probe_timer_->cancel();
  for (auto* s : sessions_) {
    if (s->idle) s->stream->socket().close(ec);
  }
  pool_.clear();
}

void worker::force_close() {
  boost::system::error_code ec;
  for (auto* s : sessions_)
    s->stream->socket().close(ec);
  sweeper_.fire_all();  // upstream connections in use
  pool_.clear();
  sweeper_.stop();
}

static auth_guard_policy guard_policy(const auth_guard_config& c) {
  auth_guard_policy p;
  p.window = c.window;
  p.slow_after = c.slow_after;
  p.base_delay = c.base_delay;
  p.max_delay = c.max_delay;
  p.block_after = c.block_after;
  p.block_for = c.block;
  return p;
}

server::server(std::shared_ptr<const runtime> rt)
    : guard_(guard_policy(rt->cfg.auth_guard)),
      rt_(std::move(rt)),
      tls_(upstream::make_client_tls_context()),
      metrics_(worker_count_for(rt_->cfg)) {}

void server::publish(std::shared_ptr<const runtime> rt) {
  {
    std::lock_guard lock(rt_mutex_);
    rt_ = rt;
  }
  for (auto& w : workers_) {
    asio::post(w->io(), [w = w.get(), rt] { w->set_runtime(rt); });
  }
}

std::shared_ptr<const runtime> server::current() const {
  std::lock_guard lock(rt_mutex_);
  return rt_;
}

server::~server() {
  if (!stopped_ && !threads_.empty()) drain(std::chrono::milliseconds(0));
}

boost::system::error_code server::start() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(rt_->cfg.listen_host, ec);
  if (ec) {
    // A host name such as "localhost".
    asio::io_context io;
    tcp::resolver resolver(io);
    auto results = resolver.resolve(rt_->cfg.listen_host, "", ec);
    if (ec || results.empty()) return ec ? ec : asio::error::host_not_found;
    address = results.begin()->endpoint().address();
  }
  tcp::endpoint ep(address, rt_->cfg.listen_port);
  if (ep.port() != 0) {
    // SO_REUSEPORT would let this process silently share the port with another gateway still
    // running (same user), splitting the traffic between them. A bind without it fails if
    // anything listens there already: then this is an address in use, as without the option.
    asio::io_context probe_io;
    tcp::acceptor probe(probe_io);
    probe.open(ep.protocol(), ec);
    if (!ec) probe.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) probe.bind(ep, ec);
    if (ec) return ec;
  }
  auto n = worker_count_for(rt_->cfg);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i, rt_, *tls_, metrics_.at(i)));
    workers_.back()->open_acceptor(ep, ec);
    if (ec) return ec;
    if (i == 0) {
      ep = workers_.back()->local_endpoint();  // port 0: the others join the chosen port
      port_ = ep.port();
    }
  }
  for (auto& w : workers_) {
    w->start();
    threads_.emplace_back([&io = w->io()] {
      for (;;) {
        try {
          io.run();
          return;
        } catch (const std::exception& e) {
          // Sessions catch their own exceptions; this is a last resort so one bug cannot end
          // the worker.
          spdlog::error("worker: unexpected exception: {}", e.what());
        }
      }
    });
  }
  return {};
}

std::string server::address() const {
  auto host = rt_->cfg.listen_host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return "http://" + host + ":" + std::to_string(port_);
}

void server::drain(std::chrono::milliseconds timeout) {
  if (stopped_) return;
  stopped_ = true;
  using steady = std::chrono::steady_clock;
  auto wait_until = [&](steady::time_point until, auto done) {
    while (!done() && steady::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  auto no_sessions = [&] { return active_sessions_.load() == 0; };
  for (auto& w : workers_)
    asio::post(w->io(), [&w = *w] { w.begin_drain(); });
  wait_until(steady::now() + timeout, no_sessions);
  // What still runs after the drain timeout is cut off; each session unwinds on its own thread,
  // so nothing is left suspended when the event loops are destroyed.
  for (auto& w : workers_)
    asio::post(w->io(), [&w = *w] { w.force_close(); });
  wait_until(steady::now() + std::chrono::seconds(5), no_sessions);
  // With no work left each event loop returns by itself; stop() is the last resort.
  auto all_stopped = [&] {
    for (auto& w : workers_) {
      if (!w->io().stopped()) return false;
    }
    return true;
  };
  wait_until(steady::now() + std::chrono::seconds(2), all_stopped);
  for (auto& w : workers_)
    w->io().stop();
  for (auto& t : threads_)
    t.join();
  threads_.clear();
}

}  // namespace sy
