// Keep-alive connections to upstream hosts, one pool per worker (so no locks): connect with a
// timeout, TLS with certificate verification and SNI, reuse idle connections, drop stale ones.
#pragma once

#include "common/deadline.h"
#include "common/error.h"
#include "common/net.h"
#include "providers/channel.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <variant>
#include <vector>

namespace sy::upstream {

using tcp = asio::ip::tcp;

struct connection {
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  // Where response body bytes land on their way to the client. It lives here, with the pooled
  // connection, rather than in the exchange's coroutine frame, which would otherwise be a
  // 16 KiB allocation per request.
  std::array<char, 16384> relay;
  watchdog guard;  // bound to the socket; armed around each operation of an exchange
  std::chrono::steady_clock::time_point idle_since;
  bool reused = false;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }
};

using connection_ptr = std::unique_ptr<connection>;

class pool {
 public:
  pool(asio::io_context& ioc, asio::ssl::context& tls, deadline_sweeper& sweeper);

  // An idle connection to `target`, or a new one.
  asio::awaitable<std::variant<connection_ptr, error>> acquire(const upstream_target& target,
                                                               std::chrono::milliseconds timeout);

  // Gives back a connection whose last response was read completely and may be kept alive.
  void release(const upstream_target& target, connection_ptr conn);

  // Closes every idle connection (drain).
  void clear() { idle_.clear(); }

  std::size_t idle_count() const;

  // Idle connections older than this are closed instead of reused.
  static constexpr std::chrono::seconds max_idle{30};
  static constexpr std::size_t max_idle_per_host = 256;

 private:
  asio::awaitable<std::variant<connection_ptr, error>> connect(const upstream_target& target,
                                                               std::chrono::milliseconds timeout);

  asio::io_context& ioc_;
  asio::ssl::context& tls_;
  deadline_sweeper& sweeper_;
  std::unordered_map<std::string, std::vector<connection_ptr>> idle_;
};

}  // namespace sy::upstream
