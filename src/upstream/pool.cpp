#include "upstream/pool.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <openssl/ssl.h>
#include <sys/socket.h>

namespace sy::upstream {
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

// An idle keep-alive connection the server has closed reads as EOF (or an error) without
// blocking; a healthy one has nothing to read.
bool still_open(connection& conn) {
  auto& sock = conn.lowest().socket();
  char byte;
  auto n = ::recv(sock.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return false;  // unsolicited bytes: the framing is off, do not reuse
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

}  // namespace

pool::pool(asio::io_context& ioc, asio::ssl::context& tls, deadline_sweeper& sweeper)
    : ioc_(ioc), tls_(tls), sweeper_(sweeper) {}

std::size_t pool::idle_count() const {
  std::size_t n = 0;
  for (const auto& [k, v] : idle_)
    n += v.size();
  return n;
}

asio::awaitable<std::variant<connection_ptr, error>> pool::acquire(
    const upstream_target& target, std::chrono::milliseconds timeout) {
  if (auto it = idle_.find(target.pool_key); it != idle_.end()) {
    auto& list = it->second;
    auto now = std::chrono::steady_clock::now();
    while (!list.empty()) {
      auto conn = std::move(list.back());
      list.pop_back();
      auto idle = now - conn->idle_since;
      // A connection used within the last second is taken as alive without the extra system
      // call; should it have died all the same, the exchange replaces it before any byte is sent
      // to the client.
      if (idle < max_idle && (idle < std::chrono::seconds(1) || still_open(*conn))) {
        conn->reused = true;
        co_return conn;
      }
    }
  }
  co_return co_await connect(target, timeout);
}

void pool::release(const upstream_target& target, connection_ptr conn) {
  auto& list = idle_[target.pool_key];
  if (list.size() >= max_idle_per_host) return;
  conn->idle_since = std::chrono::steady_clock::now();
  conn->buffer.clear();
  list.push_back(std::move(conn));
}

asio::awaitable<std::variant<connection_ptr, error>> pool::connect(
    const upstream_target& target, std::chrono::milliseconds timeout) {
  auto fail = [&](errc code, std::string_view what, const boost::system::error_code& ec) {
    return error{code,
                 "upstream " + target.pool_key + ": " + std::string(what) + ": " + ec.message()};
  };
  auto conn = connection_ptr(new connection);  // default-init: the relay buffer is not zeroed
  conn->plain.emplace(ioc_);
  conn->buffer.reserve(16u << 10);  // whole responses per read, not 512-byte pieces
  auto deadline = std::chrono::steady_clock::now() + timeout;

  tcp::resolver resolver(ioc_);
  auto [rec, endpoints] = co_await resolver.async_resolve(target.host, target.port, use_tuple);
  if (rec) co_return fail(errc::upstream_unreachable, "cannot resolve host", rec);

  // Each address in turn, all under one deadline.
  auto& socket = conn->plain->socket();
  boost::system::error_code cec = asio::error::host_not_found;
  for (const auto& entry : endpoints) {
    boost::system::error_code ignored;
    socket.close(ignored);
    socket.open(entry.endpoint().protocol(), cec);
    if (cec) continue;
    conn->guard.bind(sweeper_, socket);
    conn->guard.arm_until(deadline);
    std::tie(cec) = co_await socket.async_connect(entry.endpoint(), use_tuple);
    conn->guard.disarm();
    if (!cec || conn->guard.expired()) break;
  }
  if (conn->guard.expired()) {
    co_return fail(errc::upstream_timeout, "connect timed out", asio::error::timed_out);
  }
  if (cec) co_return fail(errc::upstream_unreachable, "cannot connect", cec);
  socket.set_option(tcp::no_delay(true), cec);

  if (target.tls) {
    conn->tls.emplace(std::move(*conn->plain), target.tls_context ? *target.tls_context : tls_);
    conn->plain.reset();
    if (!SSL_set_tlsext_host_name(conn->tls->native_handle(), target.host.c_str())) {
      co_return error{errc::upstream_unreachable, "upstream " + target.pool_key + ": bad SNI name"};
    }
    conn->tls->set_verify_callback(asio::ssl::host_name_verification(target.host));
    conn->guard.bind(sweeper_, conn->lowest().socket());  // the socket object moved
    conn->guard.arm_until(deadline);
    auto [hec] = co_await conn->tls->async_handshake(asio::ssl::stream_base::client, use_tuple);
    conn->guard.disarm();
    if (conn->guard.expired()) {
      co_return fail(errc::upstream_timeout, "TLS handshake timed out", asio::error::timed_out);
    }
    if (hec) co_return fail(errc::upstream_unreachable, "TLS handshake failed", hec);
  }
  conn->guard.bind(sweeper_, conn->lowest().socket());
  co_return conn;
}

}  // namespace sy::upstream
