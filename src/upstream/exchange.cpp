#include "upstream/exchange.h"

#include "protocol/openai/errors.h"
#include "protocol/openai/usage_sniffer.h"
#include "server/response_writer.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>

#include <array>

namespace sy::upstream {
namespace http = beast::http;
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using steady = std::chrono::steady_clock;

enum class outcome { reusable, close, stale };

struct result {
  outcome how = outcome::close;
  std::optional<error> failure;  // set when nothing was sent to the client
};

bool is_hop_by_hop(http::field f, std::string_view name) {
  switch (f) {
    case http::field::connection:
    case http::field::keep_alive:
    case http::field::transfer_encoding:
    case http::field::content_length:
    case http::field::proxy_connection:
    case http::field::te:
    case http::field::trailer:
    case http::field::upgrade:
    case http::field::alt_svc:
      return true;
    default:
      return beast::iequals(name, "x-request-id");
  }
}

bool is_connection_lost(const error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == asio::ssl::error::stream_truncated;
}

std::chrono::milliseconds until(steady::time_point deadline, std::chrono::milliseconds cap) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  if (left < std::chrono::milliseconds{1}) left = std::chrono::milliseconds{1};
  return std::min(left, cap);
}

std::string request_head(const call& c, std::string_view api_key, const request_context& ctx) {
  const auto& t = c.target.target();
  std::string head;
  head.reserve(256 + c.path.size());
  auto verb = http::to_string(c.method);
  head.append(verb.data(), verb.size());
  head += ' ';
  head += c.path;
  head += " HTTP/1.1\r\nHost: ";
  head += t.host_header;
  head += "\r\n";
  if (!api_key.empty()) {
    head += "Authorization: Bearer ";
    head += api_key;
    head += "\r\n";
  }
  if (c.method == http::verb::post) {
    head += "Content-Type: application/json\r\nContent-Length: ";
    head += std::to_string(c.body.size());
    head += "\r\n";
  }
  head += c.stream ? "Accept: text/event-stream\r\n" : "Accept: application/json\r\n";
  head += "User-Agent: switchyard/" SY_VERSION "\r\nX-Request-Id: ";
  head += ctx.request_id;
  head += "\r\n\r\n";
  return head;
}

// The OpenAI-style error event that ends a stream the upstream broke off.
std::string stream_error_event(const error& e) {
  return "data: " + openai::encode_error(e) + "\n\n";
}

template <class Stream>
asio::awaitable<result> exchange(request_context& ctx, connection& conn, Stream& stream, call& c,
                                 steady::time_point deadline) {
  const auto& timeouts = c.target.config().timeouts;
  auto head = request_head(c, c.target.next_api_key(), ctx);

  auto timed_out = [&](std::string_view what) {
    return error{errc::upstream_timeout,
                 "upstream " + c.target.name() + ": " + std::string(what) + " timed out"};
  };
  auto broken = [&](std::string_view what, const error_code& ec) {
    return error{errc::upstream_unreachable,
                 "upstream " + c.target.name() + ": " + std::string(what) + ": " + ec.message()};
  };

  // One deadline for sending the request and receiving the response header.
  conn.guard.arm(until(deadline, timeouts.first_byte));
  std::array<asio::const_buffer, 2> request{asio::buffer(head), asio::buffer(c.body)};
  error_code wec;
  if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
    wec = co_await write_all(stream, conn.guard, until(deadline, timeouts.first_byte), request);
    conn.guard.arm(until(deadline, timeouts.first_byte));  // write_all disarmed it
  } else {
    auto [tls_ec, n] = co_await asio::async_write(stream, request, use_tuple);
    wec = tls_ec;
  }
  if (wec) {
    conn.guard.disarm();
    if (conn.guard.expired()) co_return result{outcome::close, timed_out("sending")};
    if (conn.reused && !ctx.client_gone) co_return result{outcome::stale, {}};
    co_return result{outcome::close, broken("sending the request failed", wec)};
  }

  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  parser.header_limit(64u << 10);
  auto [hec, hn] = co_await http::async_read_header(stream, conn.buffer, parser, use_tuple);
  conn.guard.disarm();
  if (hec) {
    if (ctx.client_gone) co_return result{outcome::close, {}};
    if (conn.guard.expired()) co_return result{outcome::close, timed_out("first byte")};
    if (conn.reused && is_connection_lost(hec) && !parser.got_some()) {
      co_return result{outcome::stale, {}};
    }
    if (is_connection_lost(hec)) co_return result{outcome::close, broken("connection lost", hec)};
    co_return result{outcome::close, error{errc::upstream_bad_response,
                                           "upstream " + c.target.name() +
                                               ": malformed response: " + hec.message()}};
  }
  ctx.first_byte = steady::now();

  auto& res = parser.get();
  auto status = res.result_int();
  ctx.out.prepare(status);  // the head is copied from the parser, field by field, once
  for (const auto& f : res) {
    if (!is_hop_by_hop(f.name(), f.name_string())) ctx.out.header(f.name_string(), f.value());
  }
  if (auto id = res.find("x-request-id"); id != res.end()) {
    ctx.out.header("x-upstream-request-id", id->value());
  }
  ctx.out.header("x-request-id", ctx.request_id);
  std::optional<std::uint64_t> length;
  if (!parser.chunked() && parser.content_length()) length = *parser.content_length();
  bool upstream_keep_alive = res.keep_alive();
  bool sse = beast::iequals(res[http::field::content_type].substr(0, 17), "text/event-stream");
  openai::usage_sniffer usage(sse);

  auto& buf = conn.relay;
  bool done = parser.is_done();
  if (done) {
    auto ec = co_await ctx.out.start(length ? length : 0, ctx.keep_alive, {}, true);
    if (ec) ctx.client_gone = true;
  }
  // Parses what is already buffered into `buf` without reading the socket: the parser stops
  // after each chunk, so a burst of events needs several calls, and often the whole body came
  // with the header.
  auto parse_buffered = [&](error_code& ec) {
    while (!parser.is_done() && conn.buffer.size() > 0 && res.body().size > 0) {
      auto used = parser.put(conn.buffer.data(), ec);
      conn.buffer.consume(used);
      if (ec == http::error::need_more || ec == http::error::need_buffer) ec = {};
      if (ec || used == 0) break;
    }
  };
  while (!done) {
    res.body().data = buf.data();
    res.body().size = buf.size();
    error_code rec;
    parse_buffered(rec);
    if (!rec && !parser.is_done() && res.body().size == buf.size()) {
      // Nothing buffered to relay: wait for the upstream.
      conn.guard.arm(until(deadline, timeouts.idle));
      auto [read_ec, n] = co_await http::async_read_some(stream, conn.buffer, parser, use_tuple);
      conn.guard.disarm();
      rec = read_ec;
      if (rec == http::error::need_buffer) rec = {};
      if (!rec) parse_buffered(rec);
    }
    if (rec) {
      ctx.usage = usage.finish();  // what was seen before the failure still counts
      if (ctx.client_gone) co_return result{outcome::close, {}};
      auto failure = conn.guard.expired() ? timed_out("reading the response")
                                          : broken("response cut short", rec);
      if (!ctx.out.started()) co_return result{outcome::close, failure};
      // Bytes already reached the client: end the stream with an error it can see.
      ctx.failure = failure.code;
      ctx.keep_alive = false;
      if (sse) {
        auto event = stream_error_event(failure);
        auto ec = co_await ctx.out.finish(event);
        if (ec) ctx.client_gone = true;
      }
      co_return result{outcome::close, {}};
    }
    std::string_view piece(buf.data(), buf.size() - res.body().size);
    usage.feed(piece);
    done = parser.is_done();
    error_code ec;
    if (!ctx.out.started()) {
      ec = co_await ctx.out.start(length, ctx.keep_alive, piece, done);
    } else if (done) {
      ec = co_await ctx.out.finish(piece);
    } else {
      ec = co_await ctx.out.write(piece);
    }
    if (ec) {
      ctx.usage = usage.finish();
      ctx.client_gone = true;
      co_return result{outcome::close, {}};
    }
  }
  ctx.usage = usage.finish();
  co_return result{upstream_keep_alive ? outcome::reusable : outcome::close, {}};
}

}  // namespace

asio::awaitable<std::optional<error>> forward(request_context& ctx, pool& connections, call& c) {
  const auto& timeouts = c.target.config().timeouts;
  auto deadline = steady::now() + timeouts.total;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto acquired =
        co_await connections.acquire(c.target.target(), until(deadline, timeouts.connect));
    if (auto* e = std::get_if<error>(&acquired)) co_return *e;
    auto conn = std::move(std::get<connection_ptr>(acquired));
    ctx.upstream = &conn->lowest();
    // (co_await stays out of ?: and conditions: GCC 12 mishandles the temporaries there.)
    result r;
    if (conn->tls) {
      r = co_await exchange(ctx, *conn, *conn->tls, c, deadline);
    } else {
      r = co_await exchange(ctx, *conn, *conn->plain, c, deadline);
    }
    ctx.upstream = nullptr;
    if (r.how == outcome::stale && attempt == 0) continue;  // a dead keep-alive connection
    if (r.how == outcome::reusable) connections.release(c.target.target(), std::move(conn));
    co_return r.failure;
  }
  co_return error{errc::upstream_unreachable,
                  "upstream " + c.target.name() + ": connection closed before a response"};
}

}  // namespace sy::upstream
