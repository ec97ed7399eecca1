#include "upstream/exchange.h"

#include "protocol/ir/usage_reader.h"
#include "protocol/openai/errors.h"
#include "protocol/openai/stream_usage.h"
#include "protocol/openai/usage_sniffer.h"
#include "server/response_writer.h"
#include "server/usage_cost.h"

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

std::string request_head(const call& c, const request_context& ctx) {
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
  head += c.headers;
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

// The event that ends a passed-through stream the upstream broke off, in the client's protocol
// (each SDK raises only its own kind: OpenAI a data object holding `error`, Anthropic an
// `event: error`, Gemini a data object holding a numeric `error.code`).
std::string stream_error_event(ir::protocol p, const error& e) {
  switch (p) {
    case ir::protocol::anthropic:
      return "event: error\ndata: " + ir::encode_error(p, ir::from_error(e)).body + "\n\n";
    case ir::protocol::gemini:
      return "data: " + ir::encode_error(p, ir::from_error(e)).body + "\r\n\r\n";
    default:
      return "data: " + openai::encode_error(e) + "\n\n";
  }
}

// Up to this much of a non-streamed upstream body is read for translation.
constexpr std::size_t max_translated_body = 64u << 20;

usage_counts from_ir(const ir::usage& u) {
  return usage_counts{u.input,       u.output,         u.cache_read,
                      u.cache_write, u.cache_write_1h, u.reasoning};
}

// The response head of a translated answer: only what still holds after translation (the
// upstream's request id and retry-after), never its Content-Type or Content-Length.
template <class Fields>
void translated_head(request_context& ctx, unsigned status, std::string_view content_type,
                     const Fields& upstream) {
  ctx.out.prepare(status);
  ctx.out.header("content-type", content_type);
  for (std::string_view name : {"x-request-id", "request-id"}) {
    if (auto it = upstream.find(name); it != upstream.end()) {
      ctx.out.header("x-upstream-request-id", it->value());
      break;
    }
  }
  for (std::string_view name : {"retry-after", "retry-after-ms"}) {
    if (auto it = upstream.find(name); it != upstream.end()) ctx.out.header(name, it->value());
  }
  ctx.out.header("x-request-id", ctx.request_id);
  // Anthropic's SDKs read the request id from `request-id` (error.requestID, _request_id).
  if (ctx.client_protocol == ir::protocol::anthropic) ctx.out.header("request-id", ctx.request_id);
}

// retry-after-ms (OpenAI's, Azure's) or retry-after in seconds; an HTTP date is not read.
template <class Fields>
std::optional<std::chrono::milliseconds> retry_after_of(const Fields& f) {
  auto number = [](std::string_view text) -> std::optional<double> {
    if (text.empty() || text.size() > 20) return std::nullopt;
    std::string copy(text);
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (*end != '\0' || !(v >= 0) || v > 86400e3) return std::nullopt;
    return v;
  };
  if (auto it = f.find("retry-after-ms"); it != f.end()) {
    if (auto v = number(it->value())) return std::chrono::milliseconds(static_cast<long>(*v));
  }
  if (auto it = f.find("retry-after"); it != f.end()) {
    if (auto v = number(it->value()))
      return std::chrono::milliseconds(static_cast<long>(*v * 1000));
  }
  return std::nullopt;
}

std::string_view json_content_type(ir::protocol p) {
  return p == ir::protocol::gemini ? "application/json; charset=UTF-8" : "application/json";
}

// Reads the next piece of the upstream body into conn.relay; an empty piece with `done` set
// means the body ended.
template <class Stream>
asio::awaitable<error_code> read_piece(connection& conn, Stream& stream,
                                       http::response_parser<http::buffer_body>& parser,
                                       std::chrono::milliseconds idle, std::string_view& piece) {
  auto& res = parser.get();
  auto& buf = conn.relay;
  res.body().data = buf.data();
  res.body().size = buf.size();
  error_code ec;
  while (!parser.is_done() && conn.buffer.size() > 0 && res.body().size > 0) {
    auto used = parser.put(conn.buffer.data(), ec);
    conn.buffer.consume(used);
    if (ec == http::error::need_more || ec == http::error::need_buffer) ec = {};
    if (ec || used == 0) break;
  }
  if (!ec && !parser.is_done() && res.body().size == buf.size()) {
    conn.guard.arm(idle);
    auto [read_ec, n] = co_await http::async_read_some(stream, conn.buffer, parser, use_tuple);
    conn.guard.disarm();
    ec = read_ec == http::error::need_buffer ? error_code{} : read_ec;
  }
  piece = std::string_view(buf.data(), buf.size() - res.body().size);
  co_return ec;
}

// The translating relay: the upstream's answer is decoded from its protocol and re-encoded in
// the client's. Streams are translated event by event as they arrive; a non-streamed body or
// an error is read whole first (capped), then rewritten.
template <class Stream>
asio::awaitable<result> relay_translated(request_context& ctx, connection& conn, Stream& stream,
                                         http::response_parser<http::buffer_body>& parser, call& c,
                                         steady::time_point deadline) {
  const auto& timeouts = c.target.config().timeouts;
  const auto& tr = *c.translate;
  auto& res = parser.get();
  const unsigned status = res.result_int();
  const bool upstream_keep_alive = res.keep_alive();
  const bool sse =
      beast::iequals(res[http::field::content_type].substr(0, 17), "text/event-stream");
  auto failed = [&](bool expired, const error_code& ec) {
    return expired ? error{errc::upstream_timeout,
                           "upstream " + c.target.name() + ": reading the response timed out"}
                   : error{errc::upstream_unreachable,
                           "upstream " + c.target.name() + ": response cut short: " + ec.message()};
  };

  if (status < 300 && sse && c.stream) {
    sse::parser events_in;
    auto decoder = ir::make_stream_decoder(tr.upstream);
    auto encoder = ir::make_stream_encoder(tr.client, tr.stream);
    std::vector<ir::stream_event> events;
    ir::usage tokens;
    std::string out;
    auto on_event = [&](const sse::event& e) {
      if (!decoder->done()) decoder->feed(e, events);
    };
    auto emit = [&](ir::stream_event& ev) {
      using k = ir::stream_event::kind;
      if (ev.type == k::usage || ev.type == k::start) {
        tokens.merge(ev.tokens);
      } else if (ev.type == k::text_delta || ev.type == k::reasoning_delta ||
                 ev.type == k::tool_args_delta || ev.type == k::tool_call_start) {
        ctx.keep_generated(ev.type == k::tool_call_start ? ev.name : ev.text);  // for estimates
      }
      // A translated answer names the model the client asked for (as the non-streamed one
      // does), not the upstream's name for it.
      if (ev.type == ir::stream_event::kind::start) ev.name.clear();
      encoder->encode(ev, out);
    };
    bool done = parser.is_done();
    while (true) {
      std::string_view piece;
      error_code rec;
      if (!done)
        rec = co_await read_piece(conn, stream, parser, until(deadline, timeouts.idle), piece);
      if (!rec && !events_in.feed(piece, on_event)) rec = http::error::body_limit;
      for (auto& ev : events)
        emit(ev);
      events.clear();
      done = done || parser.is_done();
      if (rec) {
        ctx.usage = from_ir(tokens);
        if (ctx.client_gone) co_return result{outcome::close, {}};
        auto failure = failed(conn.guard.expired(), rec);
        if (!ctx.out.started() && out.empty()) co_return result{outcome::close, failure};
        ctx.failure = failure.code;
        ctx.keep_alive = false;
        ir::stream_event ev;
        ev.type = ir::stream_event::kind::error;
        ev.failure = ir::from_error(failure);
        encoder->encode(ev, out);
        done = true;
      }
      if (done) encoder->finish(out);
      error_code wec;
      if (!ctx.out.started()) {
        translated_head(ctx, 200, encoder->content_type(), res);
        ctx.out.header("cache-control", "no-cache");
        wec = co_await ctx.out.start(std::nullopt, ctx.keep_alive, out, done);
      } else if (done) {
        wec = co_await ctx.out.finish(out);
      } else if (!out.empty()) {
        wec = co_await ctx.out.write(out);
      }
      out.clear();
      if (wec) {
        ctx.usage = from_ir(tokens);
        ctx.client_gone = true;
        co_return result{outcome::close, {}};
      }
      if (done) break;
    }
    ctx.usage = from_ir(tokens);
    bool clean = parser.is_done() && upstream_keep_alive && !ctx.failure;
    co_return result{clean ? outcome::reusable : outcome::close, {}};
  }

  // Whole body first.
  std::string body;
  while (!parser.is_done()) {
    std::string_view piece;
    auto rec = co_await read_piece(conn, stream, parser, until(deadline, timeouts.idle), piece);
    if (rec) {
      if (ctx.client_gone) co_return result{outcome::close, {}};
      co_return result{outcome::close, failed(conn.guard.expired(), rec)};
    }
    if (body.size() + piece.size() > max_translated_body) {
      co_return result{outcome::close,
                       error{errc::upstream_bad_response,
                             "upstream " + c.target.name() + ": response body too large"}};
    }
    body.append(piece);
  }
  auto next = upstream_keep_alive ? outcome::reusable : outcome::close;

  std::string answer;
  unsigned answer_status = 200;
  std::string_view content_type = json_content_type(tr.client);
  if (status >= 300) {
    auto e = ir::decode_error(tr.upstream, static_cast<int>(status), body);
    auto encoded = ir::encode_error(tr.client, e);
    answer_status = static_cast<unsigned>(encoded.status);
    answer = std::move(encoded.body);
  } else {
    auto decoded = ir::decode_response(tr.upstream, body);
    if (auto* e = std::get_if<error>(&decoded)) co_return result{next, std::move(*e)};
    auto& response = std::get<ir::response>(decoded);
    ctx.usage = from_ir(response.tokens);
    if (!has_usage(ctx.usage)) {
      // A server that reports no usage: its text is kept for the estimate.
      for (const auto& ev : ir::to_events(response)) {
        using k = ir::stream_event::kind;
        if (ev.type == k::text_delta || ev.type == k::reasoning_delta ||
            ev.type == k::tool_args_delta || ev.type == k::tool_call_start) {
          ctx.keep_generated(ev.type == k::tool_call_start ? ev.name : ev.text);
        }
      }
    }
    response.model = tr.stream.model;  // the name the client asked for
    if (response.id.empty()) response.id = tr.stream.id;
    if (response.created == 0) response.created = tr.stream.created;
    if (c.stream) {
      // Asked for a stream, got one JSON body (a server that ignores `stream`): the answer is
      // replayed as the client's stream.
      auto encoder = ir::make_stream_encoder(tr.client, tr.stream);
      for (const auto& ev : ir::to_events(response))
        encoder->encode(ev, answer);
      encoder->finish(answer);
      content_type = encoder->content_type();
    } else {
      answer = ir::encode_response(tr.client, response);
    }
  }
  translated_head(ctx, answer_status, content_type, res);
  if (!c.stream && answer_status < 300) add_cost_headers(ctx);
  auto wec = co_await ctx.out.start(answer.size(), ctx.keep_alive, answer, true);
  if (wec) ctx.client_gone = true;
  co_return result{next, {}};
}

// Usage read on the way through a passthrough, in the protocol both sides speak: OpenAI's by
// its own light scanner, Anthropic's and Gemini's through their decoders.
class usage_tap {
 public:
  usage_tap(ir::protocol p, bool sse) : openai_(sse) {
    if (p != ir::protocol::openai) other_.emplace(p, sse);
  }
  void feed(std::string_view bytes) {
    if (other_) {
      other_->feed(bytes);
    } else {
      openai_.feed(bytes);
    }
  }
  // The usage seen; the body is read once (a second call returns the same counts).
  usage_counts finish() {
    if (!finished_) {
      result_ = other_ ? from_ir(other_->finish()) : openai_.finish();
      finished_ = true;
    }
    return result_;
  }

 private:
  openai::usage_sniffer openai_;
  std::optional<ir::usage_reader> other_;
  usage_counts result_;
  bool finished_ = false;
};

// Reads a failure answer whole into c.held (see held_answer), sending nothing to the client.
template <class Stream>
asio::awaitable<result> hold_answer(request_context& ctx, connection& conn, Stream& stream,
                                    http::response_parser<http::buffer_body>& parser, call& c,
                                    steady::time_point deadline) {
  const auto& timeouts = c.target.config().timeouts;
  auto& res = parser.get();
  held_answer held;
  held.status = res.result_int();
  for (const auto& f : res) {
    if (!is_hop_by_hop(f.name(), f.name_string())) {
      held.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
    }
  }
  held.retry_after = retry_after_of(res);
  while (!parser.is_done()) {
    std::string_view piece;
    auto rec = co_await read_piece(conn, stream, parser, until(deadline, timeouts.idle), piece);
    if (c.lost()) co_return result{outcome::close, {}};  // (the context may be gone)
    if (rec) {
      if (ctx.client_gone) co_return result{outcome::close, {}};
      co_return result{
          outcome::close,
          conn.guard.expired()
              ? error{errc::upstream_timeout,
                      "upstream " + c.target.name() + ": reading the response timed out"}
              : error{errc::upstream_unreachable,
                      "upstream " + c.target.name() + ": response cut short: " + rec.message()}};
    }
    if (held.body.size() + piece.size() > max_held_failure) {
      // An error body this large is not worth reading: the connection goes, the start stays.
      held.body.append(piece.substr(0, max_held_failure - held.body.size()));
      c.held = std::move(held);
      co_return result{outcome::close, {}};
    }
    held.body.append(piece);
  }
  const bool keep = res.keep_alive();
  c.held = std::move(held);
  co_return result{keep ? outcome::reusable : outcome::close, {}};
}

// A non-streamed answer up to this size is held until its last byte, so that its cost and token
// counts can go in its headers; a larger one is relayed as it comes, without them.
constexpr std::size_t max_held_answer = 4u << 20;

template <class Stream>
asio::awaitable<result> exchange(request_context& ctx, connection& conn, Stream& stream, call& c,
                                 steady::time_point deadline) {
  const auto& timeouts = c.target.config().timeouts;
  auto head = request_head(c, ctx);

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
  if (c.lost()) co_return result{outcome::close, {}};  // (the context may be gone)
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
  if (c.lost()) co_return result{outcome::close, {}};  // (the context may be gone)
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
  if (c.hold_failures && holds(parser.get().result_int())) {
    // A failure claims nothing: a racing attempt may still answer.
    auto held = co_await hold_answer(ctx, conn, stream, parser, c, deadline);
    if (c.lost()) co_return result{outcome::close, {}};
    co_return held;
  }
  if (c.racing) {
    if (!c.racing->claim(c.racer)) co_return result{outcome::close, {}};
    ctx.upstream = &conn.lowest();  // the winner: the client watch may close it now
  }
  ctx.first_byte = steady::now();
  if (c.translate) {
    auto translated = co_await relay_translated(ctx, conn, stream, parser, c, deadline);
    co_return translated;
  }

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
  usage_tap usage(ctx.client_protocol, sse);
  // The filtered stream is shorter than the upstream's: its length is no longer known.
  std::optional<openai::usage_chunk_filter> hide;
  std::string shown;
  if (c.hide_usage && sse) {
    hide.emplace();
    length.reset();
  }

  // A whole non-streamed answer is held for its cost headers (usually it came in one piece).
  // Never a stream, SSE or not (Gemini's streamGenerateContent without ?alt=sse is a JSON array
  // that must flow as it comes).
  bool hold = !c.stream && !sse && res.result_int() < 300;
  // An answer's bytes are kept (capped) for a token estimate, should its usage never come.
  const bool keep = res.result_int() < 300;
  ctx.generated_raw = true;
  std::string held;

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
        auto event = stream_error_event(ctx.client_protocol, failure);
        auto ec = co_await ctx.out.finish(event);
        if (ec) ctx.client_gone = true;
      }
      co_return result{outcome::close, {}};
    }
    std::string_view piece(buf.data(), buf.size() - res.body().size);
    usage.feed(piece);
    if (keep) ctx.keep_generated(piece);
    done = parser.is_done();
    if (hide) {
      shown.clear();
      hide->feed(piece, shown);
      if (done) hide->finish(shown);
      piece = shown;
    }
    if (hold) {
      if (!done && held.size() + piece.size() <= max_held_answer) {
        held.append(piece);
        continue;
      }
      if (!held.empty()) {
        held.append(piece);
        piece = held;
      }
      if (done) {
        ctx.usage = usage.finish();
        add_cost_headers(ctx);
      }
      hold = false;
    }
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
  if (c.deadline && *c.deadline < deadline) deadline = *c.deadline;
  c.held.reset();
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto acquired =
        co_await connections.acquire(c.target.target(), until(deadline, timeouts.connect));
    if (c.lost()) co_return std::nullopt;  // the other racer answered (the context may be gone)
    if (auto* e = std::get_if<error>(&acquired)) co_return *e;
    auto conn = std::move(std::get<connection_ptr>(acquired));
    if (c.racing) {
      c.racing->streams[static_cast<std::size_t>(c.racer)] = &conn->lowest();
    } else {
      ctx.upstream = &conn->lowest();
    }
    // (co_await stays out of ?: and conditions: GCC 12 mishandles the temporaries there.)
    result r;
    if (conn->tls) {
      r = co_await exchange(ctx, *conn, *conn->tls, c, deadline);
    } else {
      r = co_await exchange(ctx, *conn, *conn->plain, c, deadline);
    }
    if (c.racing) c.racing->streams[static_cast<std::size_t>(c.racer)] = nullptr;
    if (c.lost()) co_return std::nullopt;
    ctx.upstream = nullptr;
    if (r.how == outcome::stale && attempt == 0) continue;  // a dead keep-alive connection
    if (r.how == outcome::reusable) connections.release(c.target.target(), std::move(conn));
    co_return r.failure;
  }
  co_return error{errc::upstream_unreachable,
                  "upstream " + c.target.name() + ": connection closed before a response"};
}

bool holds(unsigned status) {
  switch (status) {
    case 400:
    case 401:
    case 403:
    case 408:
    case 413:
    case 422:
    case 429:
      return true;
    default:
      return status >= 500;
  }
}

asio::awaitable<void> relay_held(request_context& ctx, const call& c) {
  const auto& held = *c.held;
  error_code ec;
  if (c.translate) {
    auto e = ir::decode_error(c.translate->upstream, static_cast<int>(held.status), held.body);
    auto encoded = ir::encode_error(c.translate->client, e);
    ctx.out.prepare(static_cast<unsigned>(encoded.status));
    ctx.out.header("content-type", json_content_type(c.translate->client));
    for (const auto& [name, value] : held.headers) {
      if (beast::iequals(name, "x-request-id") || beast::iequals(name, "request-id")) {
        ctx.out.header("x-upstream-request-id", value);
      } else if (beast::iequals(name, "retry-after") || beast::iequals(name, "retry-after-ms")) {
        ctx.out.header(name, value);
      }
    }
    ctx.out.header("x-request-id", ctx.request_id);
    if (ctx.client_protocol == ir::protocol::anthropic)
      ctx.out.header("request-id", ctx.request_id);
    ec = co_await ctx.out.start(encoded.body.size(), ctx.keep_alive, encoded.body, true);
  } else {
    ctx.out.prepare(held.status);
    for (const auto& [name, value] : held.headers) {
      if (beast::iequals(name, "x-request-id")) {
        ctx.out.header("x-upstream-request-id", value);
      } else {
        ctx.out.header(name, value);
      }
    }
    ctx.out.header("x-request-id", ctx.request_id);
    ec = co_await ctx.out.start(held.body.size(), ctx.keep_alive, held.body, true);
  }
  if (ec) ctx.client_gone = true;
}

}  // namespace sy::upstream
