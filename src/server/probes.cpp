#include "server/probes.h"

#include "common/json.h"
#include "providers/adapter.h"
#include "routing/retry.h"
#include "server/server.h"

#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <map>

namespace sy {
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using steady = std::chrono::steady_clock;

// One request on a pooled connection: the answer's status, or nullopt when the upstream could
// not be reached or answered nothing in time.
template <class Stream>
asio::awaitable<std::optional<unsigned>> ask(upstream::connection& conn, Stream& stream,
                                             const std::string& head, const std::string& body,
                                             std::chrono::milliseconds timeout) {
  conn.guard.arm(timeout);
  std::array<asio::const_buffer, 2> request{asio::buffer(head), asio::buffer(body)};
  auto [wec, n] = co_await asio::async_write(stream, request, use_tuple);
  if (wec) {
    conn.guard.disarm();
    co_return std::nullopt;
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(1u << 20);
  auto [rec, m] = co_await http::async_read(stream, conn.buffer, parser, use_tuple);
  conn.guard.disarm();
  if (rec) co_return std::nullopt;
  co_return parser.get().result_int();
}

asio::awaitable<void> probe(worker& w, const deployment& d) {
  auto& ch = *d.target;
  const auto& timeouts = ch.config().timeouts;
  auto out = providers::build(ch, providers::operation::chat, d.upstream_model, false, {});
  const auto body = probe_body(d);
  std::string head = "POST " + out.target + " HTTP/1.1\r\nHost: " + ch.target().host_header +
                     "\r\n" + out.headers +
                     "Content-Type: application/json\r\nAccept: application/json\r\n"
                     "User-Agent: switchyard/" SY_VERSION "\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  std::optional<unsigned> status;
  auto acquired = co_await w.pool().acquire(ch.target(), timeouts.connect);
  if (auto* conn = std::get_if<upstream::connection_ptr>(&acquired)) {
    auto& c = **conn;
    const auto timeout = timeouts.first_byte;
    if (c.tls) {
      status = co_await ask(c, *c.tls, head, body, timeout);
    } else {
      status = co_await ask(c, *c.plain, head, body, timeout);
    }
  }
  const auto now = steady::now();
  auto* key = ch.key_health(out.key_index);
  const auto v = status ? routing::classify(*status, {}) : routing::verdict::failure;
  using routing::outcome;
  switch (v) {
    case routing::verdict::rate_limited:
      (key ? key->breaker : d.health->breaker).record(outcome::rate_limited, now);
      break;
    case routing::verdict::rejected:
      if (key) key->breaker.record(outcome::rejected, now);
      break;
    case routing::verdict::failure:
    case routing::verdict::broken:
      d.health->breaker.record(outcome::failure, now);
      break;
    default:
      d.health->breaker.record(outcome::success, now);
      break;
  }
  spdlog::info("routing: probe of {}: {}", d.id,
               status ? "HTTP " + std::to_string(*status) : std::string("no answer"));
}

}  // namespace

std::string probe_body(const deployment& d) {
  const auto model = json::quoted(d.upstream_model);
  switch (providers::protocol_of(d.target->config().type)) {
    case ir::protocol::anthropic:
      return R"({"model":)" + model +
             R"(,"max_tokens":1,"messages":[{"role":"user","content":"ping"}]})";
    case ir::protocol::gemini:
      return R"({"contents":[{"role":"user","parts":[{"text":"ping"}]}],)"
             R"("generationConfig":{"maxOutputTokens":1}})";
    default:
      return R"({"model":)" + model +
             R"(,"max_tokens":1,"messages":[{"role":"user","content":"ping"}]})";
  }
}

asio::awaitable<void> run_probes(worker& w) {
  std::map<std::string, steady::time_point> last;  // deployment id → its last probe
  asio::steady_timer tick(w.io());
  while (!w.draining()) {
    // The shortest interval of the channels that want probes paces the checks.
    auto rt = w.owner().current();
    std::optional<std::chrono::milliseconds> pace;
    for (const auto& ch : rt->channels) {
      if (ch->config().probe_interval) {
        pace = pace ? std::min(*pace, *ch->config().probe_interval) : *ch->config().probe_interval;
      }
    }
    tick.expires_after(pace.value_or(std::chrono::seconds(5)));
    w.set_probe_timer(&tick);
    auto [ec] = co_await tick.async_wait(use_tuple);
    w.set_probe_timer(nullptr);
    if (ec || w.draining()) break;
    if (!pace) continue;
    const auto now = steady::now();
    std::vector<const deployment*> due;
    for (const auto& g : rt->models.groups()) {
      for (const auto& d : g->deployments) {
        const auto& interval = d.target->config().probe_interval;
        if (!interval || d.upstream_model.empty() ||
            d.target->config().type == channel_type::mock) {
          continue;
        }
        auto& at = last[d.id];
        if (now - at < *interval) continue;
        const auto v = d.health->breaker.state(now);
        // Open with its cooldown over: the half-open probe is ours, not a user's.
        if (v.disabled || v.state == routing::breaker_state::closed) continue;
        if (!d.health->breaker.allow(now)) continue;
        at = now;
        due.push_back(&d);
      }
    }
    for (const auto* d : due)
      co_await probe(w, *d);
  }
}

}  // namespace sy
