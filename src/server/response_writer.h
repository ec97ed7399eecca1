// Writes one HTTP/1.1 response to the client whose body may come in pieces: with a known
// Content-Length, or chunked. The header and the first piece leave in one write.
#pragma once

#include "common/deadline.h"
#include "common/net.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/fields.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sy {

using boost::system::error_code;

// Writes all of `buffers`: first straight away with a non-blocking send, which nearly always
// takes everything (a socket's send buffer is rarely full), and only the rest, if any, through
// an asynchronous write under `guard`. That saves a trip through the scheduler per write.
template <class Buffers>
asio::awaitable<error_code> write_all(beast::tcp_stream& stream, watchdog& guard,
                                      std::chrono::milliseconds timeout, const Buffers& buffers) {
  auto& socket = stream.socket();
  error_code ec;
  if (!socket.non_blocking()) socket.non_blocking(true, ec);
  std::size_t total = asio::buffer_size(buffers);
  std::size_t sent = ec ? 0 : socket.write_some(buffers, ec);
  if (!ec && sent == total) co_return error_code{};
  if (ec && ec != asio::error::would_block) co_return ec;
  beast::buffers_suffix<Buffers> rest(buffers);
  rest.consume(sent);
  guard.arm(timeout);
  auto [wec, n] = co_await asio::async_write(stream, rest, asio::as_tuple(asio::use_awaitable));
  guard.disarm();
  co_return wec;
}

class response_writer {
 public:
  // Each write must finish within `write_timeout`, enforced through `guard`.
  response_writer(beast::tcp_stream& stream, watchdog& guard,
                  std::chrono::milliseconds write_timeout)
      : stream_(stream), guard_(guard), timeout_(write_timeout) {}

  // A response head is built in two steps so a relay can copy header fields straight from the
  // upstream's parser: prepare(status), header(name, value)..., then start(...).
  // Content-Length, Transfer-Encoding and Connection are set by start, never by header().
  void prepare(unsigned status);
  void header(std::string_view name, std::string_view value);
  // Sends the head and `first`. `content_length` empty means chunked. `last`: that was all.
  asio::awaitable<error_code> start(std::optional<std::uint64_t> content_length, bool keep_alive,
                                    std::string_view first = {}, bool last = false);
  // prepare + header for each of `fields` + start, for responses the gateway makes itself.
  asio::awaitable<error_code> start(unsigned status, const beast::http::fields& fields,
                                    std::optional<std::uint64_t> content_length, bool keep_alive,
                                    std::string_view first = {}, bool last = false);
  // Header fields every response head of this request carries, whoever makes it (the key's
  // x-ratelimit-* values, retry-after). Once set, the upstream's own x-ratelimit-* fields are
  // left out: they describe the gateway's provider account, not the client's key.
  void always(std::string_view name, std::string_view value);
  // x-sy-deployment and x-sy-attempts: where the request went, after how many attempts
  // (replaced by each attempt; every head of this request carries the latest).
  void routed(std::string_view deployment, int attempts);
  asio::awaitable<error_code> write(std::string_view data);
  asio::awaitable<error_code> finish(std::string_view last = {});

  // An HTTP/1.0 client knows no chunked encoding: a body of unknown length is then sent as is
  // and ended by closing the connection.
  void set_http10(bool v) { http10_ = v; }
  bool http10() const { return http10_; }

  bool started() const { return started_; }
  // The response said `Connection: close`: the session must end after it.
  bool closes_connection() const { return closes_; }
  bool finished() const { return finished_; }
  bool chunked() const { return chunked_; }
  unsigned status() const { return status_; }

 private:
  asio::awaitable<error_code> send(std::string_view a, std::string_view b, std::string_view c,
                                   std::string_view d);

  beast::tcp_stream& stream_;
  watchdog& guard_;
  std::chrono::milliseconds timeout_;
  std::string head_;
  std::string always_;  // preformatted "name: value\r\n" lines
  std::string routed_;  // the same, for routed()
  bool started_ = false;
  bool finished_ = false;
  bool chunked_ = false;
  bool http10_ = false;
  bool closes_ = false;
  unsigned status_ = 0;
};

}  // namespace sy
