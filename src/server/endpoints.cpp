#include "server/endpoints.h"

#include "common/json.h"
#include "protocol/openai/errors.h"
#include "protocol/openai/request_probe.h"
#include "providers/mock/mock.h"
#include "server/server.h"
#include "upstream/exchange.h"

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <ctime>

namespace sy {
namespace http = beast::http;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

http::fields json_fields(const request_context& ctx) {
  http::fields f;
  f.set(http::field::content_type, "application/json");
  f.set("x-request-id", ctx.request_id);
  return f;
}

asio::awaitable<void> send_json(request_context& ctx, unsigned status, const std::string& body) {
  auto fields = json_fields(ctx);
  auto ec = co_await ctx.out.start(status, fields, body.size(), ctx.keep_alive, body, true);
  if (ec) ctx.client_gone = true;
}

// Watches the client while a response is being produced. Pipelined bytes are kept for the next
// request; end of stream or an error means the client left: the upstream connection is closed
// at once, which ends the exchange. A plain completion handler on a readiness wait, not a
// coroutine run in parallel with the exchange: that costs one small allocation instead of a
// parallel group and a spawned coroutine per request.
class client_watch {
 public:
  explicit client_watch(request_context& ctx) : state_(std::make_shared<state>(ctx)) {
    arm(state_);
  }
  ~client_watch() {
    state_->done = true;
    state_->stop.emit(asio::cancellation_type::terminal);
  }
  client_watch(const client_watch&) = delete;
  client_watch& operator=(const client_watch&) = delete;

 private:
  struct state {
    explicit state(request_context& c) : ctx(c) {}
    request_context& ctx;  // valid while !done
    bool done = false;
    asio::cancellation_signal stop;
  };

  static void arm(const std::shared_ptr<state>& s) {
    s->ctx.client.socket().async_wait(
        asio::ip::tcp::socket::wait_read,
        asio::bind_cancellation_slot(s->stop.slot(), [s](boost::system::error_code ec) {
          if (s->done || ec == asio::error::operation_aborted) return;
          auto& ctx = s->ctx;
          auto& socket = ctx.client.socket();
          std::size_t available = ec ? 0 : socket.available(ec);
          if (!ec && available > 0) {
            if (ctx.client_buffer.size() >= 64 * 1024) return;  // enough pipelined input
            auto n = socket.read_some(ctx.client_buffer.prepare(available), ec);
            if (!ec) {
              ctx.client_buffer.commit(n);
              arm(s);
              return;
            }
          }
          // Readable with nothing to read: the client closed (or the socket failed).
          if (ctx.out.finished()) return;  // it left after the last byte: nothing was lost
          ctx.client_gone = true;
          boost::system::error_code ignored;
          if (ctx.upstream) ctx.upstream->socket().close(ignored);
          socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);  // ends a mock stream
        }));
  }

  std::shared_ptr<state> state_;
};

const key_record* authenticate(request_context& ctx, std::optional<error>& failure) {
  auto key = extract_key(ctx.req[http::field::authorization], ctx.req["x-api-key"]);
  if (key.empty()) {
    failure = error{errc::invalid_api_key,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                    "YOUR_KEY), or in an x-api-key header."};
    return nullptr;
  }
  const key_record* record = nullptr;
  auto* cache = ctx.auth;
  if (cache && cache->rt == &ctx.rt && cache->record && cache->key == key) {
    record = cache->record;
  } else {
    record = ctx.rt.keys.find(key);
    if (cache && record) {
      cache->key.assign(key);
      cache->rt = &ctx.rt;
      cache->record = record;
    }
  }
  if (!record) {
    failure = error{errc::invalid_api_key, "Incorrect API key provided."};
    return nullptr;
  }
  ctx.key = record;
  return record;
}

void append_model(std::string& out, const model_table::listed_model& m) {
  out += R"({"id":)";
  json::append_quoted(out, m.name);
  out += R"(,"object":"model","created":0,"owned_by":)";
  json::append_quoted(out, m.owned_by);
  out += '}';
}

asio::awaitable<void> list_models(request_context& ctx) {
  std::string body = R"({"object":"list","data":[)";
  bool first = true;
  for (const auto& m : ctx.rt.models.list_for(*ctx.key)) {
    if (!first) body += ',';
    first = false;
    append_model(body, m);
  }
  body += "]}";
  co_await send_json(ctx, 200, body);
}

asio::awaitable<void> retrieve_model(request_context& ctx, std::string_view id) {
  for (const auto& m : ctx.rt.models.list_for(*ctx.key)) {
    if (m.name != id) continue;
    std::string body;
    append_model(body, m);
    co_await send_json(ctx, 200, body);
    co_return;
  }
  const error e{errc::model_not_found, "The model '" + std::string(id) + "' does not exist.",
                "model"};
  co_await send_error(ctx, e);
}

// Chat completions and embeddings: decode, admit, route, then passthrough or mock.
asio::awaitable<void> relay(request_context& ctx, openai::endpoint kind, std::string_view suffix) {
  auto probed = openai::probe_request(ctx.req.body(), kind);
  if (auto* e = std::get_if<error>(&probed)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  auto& probe = std::get<openai::request_probe>(probed);
  ctx.model = probe.model;
  ctx.stream = probe.stream && kind == openai::endpoint::chat_completions;

  if (!key_allows_model(*ctx.key, probe.model)) {
    const error e{errc::model_not_allowed, "This key may not use the model '" + probe.model + "'.",
                  "model"};
    co_await send_error(ctx, e);
    co_return;
  }
  thread_local std::vector<deployment> candidates;
  if (!ctx.rt.models.lookup(probe.model, candidates)) {
    const error e{errc::model_not_found,
                  "The model '" + probe.model + "' does not exist or you do not have access to it.",
                  "model"};
    co_await send_error(ctx, e);
    co_return;
  }
  const deployment d = model_table::pick(candidates, ctx.w.random());
  ctx.channel = d.target->name();

  if (d.target->config().type == channel_type::mock) {
    client_watch watch(ctx);
    if (kind == openai::endpoint::chat_completions) {
      co_await mock::serve_chat(ctx, *d.target, probe);
    } else {
      co_await mock::serve_embeddings(ctx, *d.target, probe);
    }
    co_return;
  }

  upstream::call c{*d.target};
  c.path = d.target->target().base_path;
  c.path += suffix;
  c.stream = ctx.stream;
  c.body = std::move(ctx.req.body());
  openai::rewrite_model(c.body, probe, d.upstream_model);
  std::optional<error> failure;
  {
    client_watch watch(ctx);
    failure = co_await upstream::forward(ctx, ctx.w.pool(), c);
  }
  if (failure && !ctx.client_gone) co_await send_error(ctx, *failure);
}

}  // namespace

asio::awaitable<void> send_error(request_context& ctx, const error& e) {
  ctx.failure = e.code;
  auto body = openai::encode_error(e);
  co_await send_json(ctx, static_cast<unsigned>(e.http_status()), body);
}

asio::awaitable<void> dispatch(request_context& ctx) {
  auto target = ctx.req.target();
  auto path = target.substr(0, target.find('?'));
  auto method = ctx.req.method();
  auto wrong_method = [&](std::string_view allowed) {
    return error{errc::method_not_allowed, fmt::format("Method {} is not allowed on {}; use {}.",
                                                       std::string(http::to_string(method)),
                                                       std::string(path), std::string(allowed))};
  };

  enum class handler { health, metrics, chat, embeddings, models, model };
  struct route {
    std::string_view path;
    http::verb method;
    handler h;
    bool authenticated;
  };
  static constexpr route routes[] = {
      {"/v1/chat/completions", http::verb::post, handler::chat, true},
      {"/v1/embeddings", http::verb::post, handler::embeddings, true},
      {"/v1/models", http::verb::get, handler::models, true},
      {"/healthz", http::verb::get, handler::health, false},
      {"/metrics", http::verb::get, handler::metrics, false},
  };
  static constexpr route model_route{"/v1/models/", http::verb::get, handler::model, true};
  const route* found = nullptr;
  for (const auto& r : routes) {
    if (path == r.path) found = &r;
  }
  if (!found && path.starts_with(model_route.path) && path.size() > model_route.path.size()) {
    found = &model_route;
  }

  // Refusals first, each in OpenAI's error format.
  std::optional<error> refused;
  if (!found) {
    refused = error{errc::not_found,
                    fmt::format("Unknown request URL: {} {}.", std::string(http::to_string(method)),
                                std::string(path))};
  } else if (method != found->method) {
    refused = wrong_method(http::to_string(found->method));
  } else if (found->authenticated) {
    authenticate(ctx, refused);
  }
  if (refused) {
    co_await send_error(ctx, *refused);
    co_return;
  }

  switch (found->h) {
    case handler::health: {
      static const std::string ok = R"({"status":"ok"})";
      co_await send_json(ctx, 200, ok);
      break;
    }
    case handler::metrics: {
      auto body = ctx.w.owner().metrics().render();
      http::fields f;
      f.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      f.set("x-request-id", ctx.request_id);
      co_await ctx.out.start(200, f, body.size(), ctx.keep_alive, body, true);
      break;
    }
    case handler::chat:
      co_await relay(ctx, openai::endpoint::chat_completions, "/chat/completions");
      break;
    case handler::embeddings:
      co_await relay(ctx, openai::endpoint::embeddings, "/embeddings");
      break;
    case handler::models:
      co_await list_models(ctx);
      break;
    case handler::model:
      co_await retrieve_model(ctx, path.substr(model_route.path.size()));
      break;
  }
}

}  // namespace sy
