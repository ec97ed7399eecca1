#include "billing/budget_loader.h"
#include "billing/ledger.h"
#include "common/json.h"
#include "common/log.h"
#include "protocol/openai/errors.h"
#include "server/endpoints.h"
#include "server/server.h"
#include "server/usage_cost.h"

#include <mutex>
#include <set>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

namespace sy {
namespace http = beast::http;
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

bool valid_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::string new_request_id(worker& w) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(28, '\0');
  id[0] = 'r', id[1] = 'e', id[2] = 'q', id[3] = '_';
  auto a = w.random(), b = w.random();
  for (int i = 0; i < 16; ++i)
    id[4 + i] = hex[(a >> (4 * i)) & 15];
  for (int i = 0; i < 8; ++i)
    id[20 + i] = hex[(b >> (4 * i)) & 15];
  return id;
}

double seconds_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Says once per channel and model (up to a bound) that a model has no price. Each worker thread
// remembers what it has seen, so an unpriced model served all day takes no lock per request.
void warn_unpriced(const std::string& channel, const std::string& model) {
  thread_local std::set<std::pair<std::string, std::string>, std::less<>> seen_here;
  if (seen_here.size() < 1000 && !seen_here.emplace(channel, model).second) return;
  static std::mutex mutex;
  static std::set<std::pair<std::string, std::string>> seen;
  std::lock_guard lock(mutex);
  if (seen.size() >= 1000 || !seen.emplace(channel, model).second) return;
  spdlog::warn(
      "pricing: no price for model '{}' on channel '{}': its cost is recorded as unknown (add it "
      "under pricing: in the config)",
      model, channel);
}

// The price of the request's model, when it has one (a warning otherwise, once per model), or
// null. Looked up only when something uses it: a budget (already done), a ledger row, an
// access-log line.
const price* request_price(request_context& ctx) {
  if (ctx.channel.empty()) return nullptr;
  if (!ctx.price_known && !ctx.w.owner().ledger() && !log::access()) return nullptr;
  const auto& p = price_of(ctx);
  if (!p && ctx.upstream_protocol) warn_unpriced(ctx.channel, ctx.upstream_model);  // not mock
  return p ? &*p : nullptr;
}

// The request's ledger row: one per request that was routed to a channel. Token columns are
// disjoint (input without its cached and cache-write parts, output without reasoning), so that
// sums never count a token twice.
void write_ledger(const request_context& ctx, int status, double duration, std::int64_t at_ms,
                  const std::optional<std::int64_t>& cost) {
  auto* ledger = ctx.w.owner().ledger();
  if (!ledger || ctx.channel.empty()) return;
  const auto b = breakdown(ctx.usage);
  billing::ledger_row row;
  row.at = at_ms;
  row.request_id = ctx.request_id;
  if (ctx.key) {
    if (ctx.key->managed) row.key_id = ctx.key->id;
    row.key_name = ctx.key->name;
    row.user_id = ctx.key->user_id;
  }
  row.api = std::string(ir::to_string(ctx.client_protocol));
  row.model = ctx.model;
  row.channel = ctx.channel;
  row.upstream_model = ctx.upstream_model;
  row.cached_input_tokens = std::min(b.cached_input, b.input);
  row.cache_write_5m_tokens = std::min(b.cache_write_5m, b.input - row.cached_input_tokens);
  row.cache_write_1h_tokens =
      std::min(b.cache_write_1h, b.input - row.cached_input_tokens - row.cache_write_5m_tokens);
  row.input_tokens =
      b.input - row.cached_input_tokens - row.cache_write_5m_tokens - row.cache_write_1h_tokens;
  row.reasoning_tokens = std::min(b.reasoning, b.output);
  row.output_tokens = b.output - row.reasoning_tokens;
  row.estimated = ctx.estimated;
  row.cost_nano_usd = cost;
  row.status = status;
  row.duration_ms = static_cast<std::int64_t>(duration * 1000);
  if (ctx.first_byte) {
    row.ttfb_ms = static_cast<std::int64_t>(seconds_between(ctx.start, *ctx.first_byte) * 1000);
  }
  ledger->append(std::move(row));
}

// The logging phase: every request ends here, failed or not.
void finish(request_context& ctx) {
  auto end = clock::now();
  if (ctx.ticket.valid()) {
    // The tokens charged at admission were an estimate: the books take what was used. Without a
    // usage report, a request the gateway refused before any upstream answered used none; one
    // the upstream answered without usage keeps its estimate.
    if (has_usage(ctx.usage)) {
      const auto b = breakdown(ctx.usage);
      ctx.ticket.settle(b.input + b.output);
    } else if (!ctx.first_byte) {
      ctx.ticket.settle(0);
    }
    ctx.ticket.release();
  }
  int status = ctx.out.started() ? static_cast<int>(ctx.out.status()) : 499;  // 499: client left
  double duration = seconds_between(ctx.start, end);
  // A model no channel took is the client's free text: kept out of the labels, so that made-up
  // names cannot grow the series without bound.
  ctx.w.metrics().record(ctx.channel.empty() ? std::string_view() : std::string_view(ctx.model),
                         ctx.channel, status, duration);
  const auto p = request_price(ctx);
  // What the request cost: from the upstream's usage (or the gateway's estimate of it); nothing
  // when no upstream answered or it answered with an error; unknown without a price. The ledger and
  // the budgets take the same number.
  std::optional<std::int64_t> cost;
  if (p && has_usage(ctx.usage)) {
    cost = cost_nano_usd(*p, breakdown(ctx.usage));
  } else if (p && (!ctx.first_byte || status >= 400)) {
    cost = 0;  // no upstream answered, or it refused: vendors bill neither
  }
  const auto now_ms = billing::unix_now_ms();
  const auto at_ms = now_ms - static_cast<std::int64_t>(duration * 1000);  // when it came
  if (ctx.budget.valid()) {
    // Without a known cost the whole reservation is kept: a budget is never under-charged. The
    // cost counts in the period the ledger row will (the one the request began in).
    for (const auto& s : ctx.budget.settle(cost.value_or(ctx.budget.reserved()), now_ms, at_ms)) {
      const auto state = s.account->state(now_ms);
      if (s.events.crossed_80) ctx.w.owner().budget_event(state, "budget.threshold", 80);
      if (s.events.crossed_100) ctx.w.owner().budget_event(state, "budget.threshold", 100);
    }
  }
  write_ledger(ctx, status, duration, at_ms, cost);
  auto* log = log::access();
  if (!log) return;
  std::string line;
  line.reserve(384);
  auto out = std::back_inserter(line);
  fmt::format_to(out, R"({{"ts":"{:%Y-%m-%dT%H:%M:%S}Z","request_id":)",
                 std::chrono::floor<std::chrono::milliseconds>(std::chrono::system_clock::now()));
  json::append_quoted(line, ctx.request_id);
  fmt::format_to(out, R"(,"method":"{}","path":)", http::to_string(ctx.req.method()));
  auto target = ctx.req.target();
  json::append_quoted(line, target.substr(0, target.find('?')));
  fmt::format_to(out, R"(,"api":"{}")", ir::to_string(ctx.client_protocol));
  if (ctx.upstream_protocol) {
    fmt::format_to(out, R"(,"upstream_api":"{}")", ir::to_string(*ctx.upstream_protocol));
  }
  line += R"(,"key":)";
  if (ctx.key) {
    json::append_quoted(line, ctx.key->name);
  } else {
    line += "null";
  }
  for (auto [name, value] : {std::pair{",\"model\":", std::string_view(ctx.model)},
                             std::pair{",\"channel\":", std::string_view(ctx.channel)}}) {
    line += name;
    if (value.empty()) {
      line += "null";  // not known: refused before decoding or routing
    } else {
      json::append_quoted(line, value);
    }
  }
  if (ctx.attempts > 1) fmt::format_to(out, R"(,"attempts":{})", ctx.attempts);
  if (!ctx.hedge.empty()) fmt::format_to(out, R"(,"hedge":"{}")", ctx.hedge);
  fmt::format_to(out, R"(,"status":{},"stream":{},"duration_ms":{:.3f},"ttfb_ms":)", status,
                 ctx.stream, duration * 1000);
  if (ctx.first_byte) {
    fmt::format_to(out, "{:.3f}", seconds_between(ctx.start, *ctx.first_byte) * 1000);
  } else {
    line += "null";
  }
  if (ctx.usage.prompt_tokens >= 0) {
    fmt::format_to(out, R"(,"prompt_tokens":{})", ctx.usage.prompt_tokens);
  }
  if (ctx.usage.completion_tokens >= 0) {
    fmt::format_to(out, R"(,"completion_tokens":{})", ctx.usage.completion_tokens);
  }
  for (auto [name, value] :
       {std::pair{R"(,"cached_tokens":)", ctx.usage.cached_tokens},
        std::pair{R"(,"cache_write_tokens":)", ctx.usage.cache_write_tokens},
        std::pair{R"(,"cache_write_1h_tokens":)", ctx.usage.cache_write_1h_tokens},
        std::pair{R"(,"reasoning_tokens":)", ctx.usage.reasoning_tokens}}) {
    if (value > 0) fmt::format_to(out, "{}{}", name, value);
  }
  if (has_usage(ctx.usage) && !ctx.channel.empty()) {
    if (auto cost = p ? cost_usd(*p, breakdown(ctx.usage)) : std::nullopt) {
      fmt::format_to(out, R"(,"cost_usd":{:.9f})", *cost);
    } else {
      line += R"(,"cost_usd":null)";
    }
  }
  if (ctx.failure) {
    line += R"(,"error":)";
    json::append_quoted(line, info(*ctx.failure).code);
  }
  if (ctx.estimated) line += R"(,"estimated":true)";
  if (ctx.client_gone) line += R"(,"client_gone":true)";
  line += '}';
  log->info(line);
}

// Errors found before a request context exists (bad framing, limits): answer and close.
// `target` is the request target when the header was read (it tells the error format).
asio::awaitable<void> reject(beast::tcp_stream& stream, watchdog& guard, errc code,
                             const std::string& message, std::string_view target = {}) {
  const error e{code, message, {}};
  auto [status, body] = encode_gateway_error(protocol_for_path(target), e);
  http::fields f;
  f.set(http::field::content_type, "application/json");
  response_writer out(stream, guard, std::chrono::seconds(5));
  co_await out.start(status, f, body.size(), false, body, true);
}

}  // namespace

asio::awaitable<void> run_session(worker& w, asio::ip::tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  buffer.reserve(16u << 10);  // a whole ordinary request in one read, not 512-byte ones
  watchdog guard(w.sweeper(), stream.socket());
  auth_cache auth;
  boost::system::error_code peer_ec;
  const asio::ip::address peer = stream.socket().remote_endpoint(peer_ec).address();
  session_state state{&stream, true};
  w.add(&state);
  struct unregister {
    worker& w;
    session_state* s;
    ~unregister() { w.remove(s); }
  } registration{w, &state};

  // A copy: the snapshot may be swapped between two requests of this connection.
  const limits_config limits = w.rt().cfg.limits;
  bool first = true;
  try {
    while (!w.draining()) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(limits.max_header_bytes);
      parser.body_limit(limits.max_body_bytes);
      state.idle = true;
      guard.arm(first ? limits.header_timeout : limits.idle_timeout);
      first = false;
      auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
      guard.disarm();
      state.idle = false;
      if (guard.expired()) break;  // the client went quiet
      if (ec == http::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
          ec == asio::error::connection_reset) {
        break;  // the client closed, went quiet, or we are draining
      }
      const std::string too_large = "The request body exceeds the limit of " +
                                    std::to_string(limits.max_body_bytes) + " bytes.";
      if (ec) {
        // Refused before any request context exists: answer and close.
        auto code = ec == http::error::header_limit ? errc::headers_too_large
                    : ec == http::error::body_limit ? errc::payload_too_large
                                                    : errc::invalid_request;
        const std::string message = code == errc::headers_too_large
                                        ? "The request headers exceed " +
                                              std::to_string(limits.max_header_bytes) + " bytes."
                                    : code == errc::payload_too_large
                                        ? too_large
                                        : "Malformed HTTP request: " + ec.message() + ".";
        // With a whole header (the body is what is too large) the target tells the format.
        const std::string target(code == errc::payload_too_large
                                     ? std::string_view(parser.get().target())
                                     : std::string_view{});
        co_await reject(stream, guard, code, message, target);
        break;
      }
      if (beast::iequals(parser.get()[http::field::expect], "100-continue")) {
        guard.arm(limits.header_timeout);
        co_await asio::async_write(stream, asio::buffer("HTTP/1.1 100 Continue\r\n\r\n", 25),
                                   use_tuple);
        guard.disarm();
      }
      // Usually the body came with the header: parse it from the buffer without another
      // asynchronous operation (each costs a trip through the scheduler).
      error_code bec;
      parser.eager(true);
      while (!parser.is_done() && buffer.size() > 0) {
        auto used = parser.put(buffer.data(), bec);
        buffer.consume(used);
        if (bec == http::error::need_more) bec = {};
        if (bec || used == 0) break;
      }
      if (!bec && !parser.is_done()) {
        guard.arm(limits.idle_timeout);
        auto [read_ec, read_n] = co_await http::async_read(stream, buffer, parser, use_tuple);
        guard.disarm();
        bec = read_ec;
      }
      if (bec == http::error::body_limit) {
        const std::string target(parser.get().target());
        co_await reject(stream, guard, errc::payload_too_large, too_large, target);
        break;
      }
      if (bec) break;  // the client went away or stalled mid-body: nobody to answer

      auto& req = parser.get();
      const std::shared_ptr<const runtime> snapshot = w.snapshot();  // held until the request ends
      request_context ctx{w,      *snapshot, stream,
                          buffer, req,       response_writer(stream, guard, limits.idle_timeout),
                          peer};
      auto id = req["x-request-id"];
      ctx.request_id = valid_request_id(id) ? std::string(id) : new_request_id(w);
      ctx.keep_alive = req.keep_alive() && !w.draining();
      ctx.out.set_http10(req.version() < 11);
      auth.follow(snapshot);
      ctx.auth = &auth;
      ctx.snapshot = &snapshot;

      struct in_flight_guard {
        std::atomic<std::int64_t>& n;
        explicit in_flight_guard(std::atomic<std::int64_t>& c) : n(c) {
          n.fetch_add(1, std::memory_order_relaxed);
        }
        ~in_flight_guard() { n.fetch_sub(1, std::memory_order_relaxed); }
      };
      {
        in_flight_guard counted(w.owner().metrics().in_flight());
        co_await dispatch(ctx);
      }
      finish(ctx);
      if (!ctx.keep_alive || ctx.client_gone || !ctx.out.finished() ||
          ctx.out.closes_connection()) {
        break;
      }
    }
  } catch (const std::exception& e) {
    // The one catch-all of the session: a bug must cost one connection, never the process.
    spdlog::error("session: unexpected exception: {}", e.what());
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  stream.close();
}

}  // namespace sy
