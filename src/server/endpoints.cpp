#include "server/endpoints.h"

#include "server/estimate.h"

#include "billing/ledger.h"
#include "billing/usage_query.h"
#include "common/json.h"
#include "protocol/ir/codec.h"
#include "protocol/openai/errors.h"
#include "protocol/openai/request_probe.h"
#include "protocol/openai/stream_usage.h"
#include "providers/adapter.h"
#include "providers/mock/mock.h"
#include "routing/retry.h"
#include "routing/router.h"
#include "server/admin_endpoint.h"
#include "server/admission.h"
#include "server/attempts.h"
#include "server/estimate.h"
#include "server/server.h"
#include "store/service.h"
#include "upstream/exchange.h"
#include "upstream/media_fetch.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <ctime>

namespace sy {
namespace http = beast::http;

std::string url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string query_param(std::string_view target, std::string_view name) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {};
  auto query = target.substr(q + 1);
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      return eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

http::fields json_fields(const request_context& ctx) {
  http::fields f;
  f.set(http::field::content_type, "application/json");
  f.set("x-request-id", ctx.request_id);
  // Anthropic's SDKs read the request id from `request-id` (error.requestID, _request_id).
  if (ctx.client_protocol == ir::protocol::anthropic) f.set("request-id", ctx.request_id);
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
          if (ctx.racing) {
            ctx.racing->close(0);
            ctx.racing->close(1);
          }
          socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);  // ends a mock stream
        }));
  }

  std::shared_ptr<state> state_;
};

void append_anthropic_model(std::string& out, std::string_view name) {
  out += R"({"type":"model","id":)";
  json::append_quoted(out, name);
  out += R"(,"display_name":)";
  json::append_quoted(out, name);
  out += R"(,"created_at":"1970-01-01T00:00:00Z"})";
}

// GET /v1/models for an Anthropic client (it sends anthropic-version): Anthropic's list shape.
asio::awaitable<void> list_models_anthropic(request_context& ctx) {
  auto models = ctx.rt.models.list_for(*ctx.key);
  std::string body = R"({"data":[)";
  for (std::size_t i = 0; i < models.size(); ++i) {
    if (i) body += ',';
    append_anthropic_model(body, models[i].name);
  }
  body += R"(],"has_more":false,"first_id":)";
  body += models.empty() ? "null" : json::quoted(models.front().name);
  body += R"(,"last_id":)";
  body += models.empty() ? "null" : json::quoted(models.back().name);
  body += '}';
  co_await send_json(ctx, 200, body);
}

void append_gemini_model(std::string& out, std::string_view name) {
  out += R"({"name":)";
  json::append_quoted(out, "models/" + std::string(name));
  out += R"(,"version":"001","displayName":)";
  json::append_quoted(out, name);
  out +=
      R"(,"supportedGenerationMethods":["generateContent","streamGenerateContent","countTokens"]})";
}

// GET /v1beta/models and /v1beta/models/{model}: Gemini's shapes.
asio::awaitable<void> list_models_gemini(request_context& ctx, std::string_view one) {
  auto models = ctx.rt.models.list_for(*ctx.key);
  std::string body;
  if (one.empty()) {
    body = R"({"models":[)";
    for (std::size_t i = 0; i < models.size(); ++i) {
      if (i) body += ',';
      append_gemini_model(body, models[i].name);
    }
    body += "]}";
    co_await send_json(ctx, 200, body);
    co_return;
  }
  auto wanted = url_decode(one);
  for (const auto& m : models) {
    if (m.name != wanted) continue;
    append_gemini_model(body, m.name);
    co_await send_json(ctx, 200, body);
    co_return;
  }
  const error e{errc::model_not_found, "models/" + wanted + " is not found.", "model"};
  co_await send_error(ctx, e);
}

// Admission by model: the key may use it (403), a group serves it (404), the key's rate limits
// let it in (429). The deployment is picked per attempt (relay's attempt loop).
std::variant<const model_group*, error> admit_model(request_context& ctx, const std::string& model,
                                                    std::optional<model_group>& scratch) {
  if (!key_allows_model(*ctx.key, model)) {
    ctx.w.owner().metrics().count(metrics::refusal::model_not_allowed);
    return error{errc::model_not_allowed, "This key may not use the model '" + model + "'.",
                 "model"};
  }
  const auto* group = ctx.rt.models.find(model, scratch);
  if (!group) {
    return error{errc::model_not_found,
                 "The model '" + model + "' does not exist or you do not have access to it.",
                 "model"};
  }
  // The key's rate limits, once the request is known to be one it may make: a refused model or
  // a malformed body costs nothing.
  if (auto denied = admit(ctx)) return std::move(denied->e);
  return group;
}

// Binds the request to `d` for one attempt: the channel and upstream model it records, and,
// for a `billed` request (null for free calls such as count_tokens), its worst case reserved on
// the budgets at d's price (again only when the deployment's price may differ).
std::optional<error> bind_attempt(request_context& ctx, const deployment& d,
                                  const std::string& model, const openai::request_probe* billed) {
  const std::string_view upstream = d.upstream_model.empty() ? model : d.upstream_model;
  const bool same = ctx.channel == d.target->name() && ctx.upstream_model == upstream;
  if (!same) {
    ctx.channel = d.target->name();
    ctx.upstream_model = upstream;
    ctx.model_price.reset();
    ctx.price_known = false;
  }
  if (!billed || (same && ctx.budget.valid())) return std::nullopt;
  ctx.budget = billing::budget_hold{};  // the previous deployment's reservation, if any
  auto max_output = billed->max_output_tokens;
  // An Anthropic upstream is sent a max_tokens the client did not set: that one is the bound.
  if (max_output < 0 && d.target->config().type == channel_type::anthropic) {
    max_output = providers::default_max_tokens(ctx.upstream_model);
  }
  if (auto denied = reserve_budget(ctx, max_output, billed->choices)) {
    // Refused before any upstream was asked: no ledger row, as for the other refusals.
    ctx.channel.clear();
    ctx.upstream_model.clear();
    return std::move(denied->e);
  }
  return std::nullopt;
}

// What a client may ask of the routing of its request, by header.
struct request_controls {
  std::optional<int> retries;                        // x-sy-retries
  std::optional<std::chrono::milliseconds> timeout;  // x-sy-timeout-ms
  bool fallbacks = true;                             // x-sy-fallbacks: off
  std::optional<std::uint64_t> sticky;               // x-sy-session
};

std::variant<request_controls, error> read_controls(const request_context& ctx) {
  request_controls out;
  auto integer = [&](std::string_view name, long long min, long long max,
                     long long& value) -> std::optional<error> {
    auto it = ctx.req.find(name);
    if (it == ctx.req.end()) return std::nullopt;
    std::string text(it->value());
    char* end = nullptr;
    errno = 0;
    value = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || errno != 0 || value < min || value > max) {
      return error{errc::invalid_request,
                   fmt::format("The header {} must be an integer from {} to {}.", name, min, max)};
    }
    return std::nullopt;
  };
  long long v = -1;
  if (auto e = integer("x-sy-retries", 0, ctx.rt.cfg.routing.max_retries, v)) return *e;
  if (v >= 0) out.retries = static_cast<int>(v);
  v = -1;
  if (auto e = integer("x-sy-timeout-ms", 1, 24LL * 3600 * 1000, v)) return *e;
  if (v >= 0) out.timeout = std::chrono::milliseconds(v);
  if (auto it = ctx.req.find("x-sy-fallbacks"); it != ctx.req.end()) {
    const auto value = it->value();
    if (beast::iequals(value, "off") || beast::iequals(value, "false")) {
      out.fallbacks = false;
    } else if (!beast::iequals(value, "on") && !beast::iequals(value, "true")) {
      return error{errc::invalid_request, "The header x-sy-fallbacks must be on or off."};
    }
  }
  if (auto it = ctx.req.find("x-sy-session"); it != ctx.req.end() && !it->value().empty()) {
    out.sticky = routing::session_hash(it->value());
  }
  return out;
}

// A rough count for upstreams that have no counting endpoint: about four bytes of text per
// token. (A real tokenizer arrives with metering.)
std::int64_t estimate_tokens(const ir::request& r) {
  std::size_t bytes = 0;
  for (const auto& p : r.system)
    bytes += p.text.size();
  for (const auto& m : r.messages) {
    bytes += 4;  // role and framing
    for (const auto& p : m.parts) {
      bytes += p.text.size() + p.arguments.size() + p.name.size();
      for (const auto& c : p.content)
        bytes += c.text.size();
      if (p.type == ir::part::kind::image) bytes += 1600 * 4;  // Anthropic's ~1.6K per image
    }
  }
  for (const auto& t : r.tools)
    bytes += t.name.size() + t.description.size() + boost::json::serialize(t.parameters).size();
  return static_cast<std::int64_t>((bytes + 3) / 4);
}

// POST /v1/messages/count_tokens: Anthropic upstreams count for real (passthrough); for the
// others the count is estimated locally.
asio::awaitable<void> count_tokens(request_context& ctx) {
  auto probed = openai::probe_request(ctx.req.body(), openai::endpoint::messages);
  if (auto* e = std::get_if<error>(&probed)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  auto& probe = std::get<openai::request_probe>(probed);
  ctx.model = probe.model;
  std::optional<model_group> scratch;
  auto admitted = admit_model(ctx, probe.model, scratch);
  if (auto* e = std::get_if<error>(&admitted)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  // One attempt: counting is free, and a local estimate answers when no upstream can.
  routing::pick_request want;
  want.random = ctx.w.random();
  const auto* picked = routing::pick(*std::get<const model_group*>(admitted), want);
  if (picked) bind_attempt(ctx, *picked, probe.model, nullptr);
  if (picked && picked->target->config().type == channel_type::anthropic) {
    const deployment& d = *picked;
    upstream::call c{*d.target};
    const providers::client_headers from_client{ctx.req["anthropic-version"],
                                                ctx.req["anthropic-beta"]};
    auto out = providers::build(
        *d.target, providers::operation::count_tokens,
        d.upstream_model.empty() ? std::string_view(probe.model) : d.upstream_model, false,
        from_client);
    c.path = std::move(out.target);
    c.headers = std::move(out.headers);
    c.body = std::move(ctx.req.body());
    openai::rewrite_model(c.body, probe, d.upstream_model);
    std::optional<error> failure;
    {
      client_watch watch(ctx);
      failure = co_await upstream::forward(ctx, ctx.w.pool(), c);
    }
    if (failure && !ctx.client_gone) co_await send_error(ctx, *failure);
    co_return;
  }
  auto decoded = ir::decode_request(ir::protocol::anthropic, ctx.req.body());
  if (auto* e = std::get_if<error>(&decoded)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  auto body =
      fmt::format(R"({{"input_tokens":{}}})", estimate_tokens(std::get<ir::request>(decoded)));
  co_await send_json(ctx, 200, body);
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
    if (ctx.client_protocol == ir::protocol::anthropic) {
      append_anthropic_model(body, m.name);
    } else {
      append_model(body, m);
    }
    co_await send_json(ctx, 200, body);
    co_return;
  }
  const error e{errc::model_not_found, "The model '" + std::string(id) + "' does not exist.",
                "model"};
  co_await send_error(ctx, e);
}

// What the store thread answers for GET /v1/usage.
struct usage_answer {
  std::string body;    // the report's JSON, when `failed` is empty
  std::string failed;  // the store's error message
};

// GET /v1/usage: the caller's own key's usage (docs/endpoints.md). The ledger is summed on the
// store thread; this worker only waits for the answer.
asio::awaitable<void> serve_usage(request_context& ctx) {
  auto* store = ctx.w.owner().store();
  if (!store) {
    const error e{errc::no_database,
                  "Usage is not recorded: this gateway runs with `database: none`."};
    co_await send_error(ctx, e);
    co_return;
  }
  static const billing::usage_query_rules rules{{billing::group_by::model, billing::group_by::day},
                                                false};
  const std::string_view target(ctx.req.target().data(), ctx.req.target().size());
  const auto q = target.find('?');
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto parsed = billing::parse_usage_query(
      q == std::string_view::npos ? std::string_view{} : target.substr(q + 1), rules, now_ms);
  if (auto* bad = std::get_if<billing::usage_query_error>(&parsed)) {
    const error e{errc::invalid_request, bad->message, bad->field};
    co_await send_error(ctx, e);
    co_return;
  }
  const auto& query = std::get<billing::usage_query>(parsed);
  billing::usage_filter filter;
  if (ctx.key->managed) {
    filter.key_id = ctx.key->id;
  } else {
    filter.unmanaged_key_name = ctx.key->name;  // a config-file key (or the master key)
  }
  billing::display_currency currency;
  if (ctx.rt.cfg.currency.code != "USD") {
    currency.code = ctx.rt.cfg.currency.code;
    currency.rate = ctx.rt.cfg.currency.rate;
  }
  const auto by = query.by.value_or(billing::group_by::model);
  const auto from_ms = query.from_ms;
  const auto to_ms = query.to_ms;
  auto task = [filter = std::move(filter), currency = std::move(currency), by, from_ms,
               to_ms](store::connection& db) {
    usage_answer out;
    auto report = billing::usage(db, by, from_ms, to_ms, filter);
    if (auto* e = std::get_if<store::db_error>(&report)) {
      out.failed = e->message.empty() ? "the store failed" : e->message;
    } else {
      out.body = billing::usage_json(std::get<billing::usage_report>(report), by, from_ms, to_ms,
                                     currency);
    }
    return out;
  };
  auto answer = co_await store->run(std::move(task), asio::use_awaitable);
  if (!answer.failed.empty()) {
    spdlog::error("request {}: GET /v1/usage: the store failed: {}", ctx.request_id, answer.failed);
    const error e{errc::internal, "The usage could not be read from the store now."};
    co_await send_error(ctx, e);
    co_return;
  }
  co_await send_json(ctx, 200, answer.body);
}

// What the inbound endpoint learned before routing.
struct inbound {
  ir::protocol protocol = ir::protocol::openai;
  openai::endpoint kind = openai::endpoint::chat_completions;
  std::string model;  // the public model name the client asked for
  bool stream = false;
  bool json_array = false;  // Gemini streamGenerateContent without ?alt=sse
  openai::request_probe probe;
};

std::string new_response_id(ir::protocol p, const request_context& ctx) {
  // Derived from the request id (already random and unique): "req_<hex>" → "<prefix><hex>".
  std::string_view tail = ctx.request_id;
  if (tail.starts_with("req_")) tail.remove_prefix(4);
  switch (p) {
    case ir::protocol::anthropic:
      return "msg_" + std::string(tail);
    case ir::protocol::gemini:
      return std::string(tail);
    default:
      return "chatcmpl-" + std::string(tail);
  }
}

ir::stream_options stream_options_for(const request_context& ctx, const inbound& in) {
  ir::stream_options o;
  o.id = new_response_id(in.protocol, ctx);
  o.model = in.model;
  o.created = static_cast<std::int64_t>(std::time(nullptr));
  o.include_usage = in.probe.include_usage;
  o.json_array = in.json_array;
  return o;
}

// A mock channel answering a client of another protocol: the mock's answer goes through the
// client's codec, streamed or not.
asio::awaitable<void> serve_mock_translated(request_context& ctx, const channel& ch,
                                            const inbound& in, const ir::request& req) {
  auto answer = mock::respond(ch, req);
  answer.model = in.model;
  answer.id = new_response_id(in.protocol, ctx);
  ctx.usage = {answer.tokens.input, answer.tokens.output};
  ctx.first_byte = clock::now();
  std::string body;
  http::fields f;
  f.set("x-request-id", ctx.request_id);
  if (in.protocol == ir::protocol::anthropic) f.set("request-id", ctx.request_id);
  if (in.stream) {
    auto encoder = ir::make_stream_encoder(in.protocol, stream_options_for(ctx, in));
    for (const auto& ev : ir::to_events(answer))
      encoder->encode(ev, body);
    encoder->finish(body);
    f.set(http::field::content_type, encoder->content_type());
    f.set(http::field::cache_control, "no-cache");
  } else {
    body = ir::encode_response(in.protocol, answer);
    f.set(http::field::content_type, in.protocol == ir::protocol::gemini
                                         ? "application/json; charset=UTF-8"
                                         : "application/json");
  }
  auto ec = co_await ctx.out.start(200, f, body.size(), ctx.keep_alive, body, true);
  if (ec) ctx.client_gone = true;
}

void log_dropped(const request_context& ctx, const ir::dropped_fields& dropped, ir::protocol to) {
  if (dropped.empty()) return;
  std::string names;
  for (const auto& d : dropped) {
    if (!names.empty()) names += ", ";
    names += d;
  }
  spdlog::warn("request {}: fields {} cannot be expressed for a {} upstream and were dropped",
               ctx.request_id, names, ir::to_string(to));
}

// The upstream call of one attempt on `d` (not a mock): passthrough (the body as bytes, only the
// model rewritten; a copy, as another attempt may need the original) or translation (`decoded`
// encoded in the channel's protocol).
// `served`: the group's name (a glob deployment's upstream name).
std::variant<std::shared_ptr<upstream::call>, error> make_call(request_context& ctx,
                                                               const inbound& in,
                                                               const deployment& d,
                                                               std::string_view served,
                                                               const ir::request* decoded) {
  const auto type = d.target->config().type;
  const auto upstream_protocol = providers::protocol_of(type);
  const std::string_view upstream_model = d.upstream_model.empty() ? served : d.upstream_model;
  const providers::client_headers from_client{
      in.protocol == ir::protocol::anthropic ? std::string_view(ctx.req["anthropic-version"])
                                             : std::string_view{},
      in.protocol == ir::protocol::anthropic ? std::string_view(ctx.req["anthropic-beta"])
                                             : std::string_view{}};
  auto c = std::make_shared<upstream::call>(upstream::call{*d.target});
  c->stream = in.stream;
  if (upstream_protocol == in.protocol) {
    auto out =
        providers::build(*d.target,
                         in.kind == openai::endpoint::embeddings ? providers::operation::embeddings
                                                                 : providers::operation::chat,
                         upstream_model, in.stream, from_client, !in.json_array);
    c->path = std::move(out.target);
    c->headers = std::move(out.headers);
    c->key_index = out.key_index;
    c->body = ctx.req.body();
    if (in.protocol != ir::protocol::gemini && upstream_model != in.model) {
      openai::rewrite_model(c->body, in.probe, upstream_model);
    }
    // An OpenAI stream reports usage only when asked: ask, and hide it from a client that did
    // not (a client's own stream_options is left as it is).
    if (in.protocol == ir::protocol::openai && in.kind == openai::endpoint::chat_completions &&
        in.stream && !in.probe.has_stream_options) {
      c->hide_usage = openai::inject_include_usage(c->body);
    }
  } else {
    ir::request req = *decoded;
    req.model = std::string(upstream_model);
    req.stream = in.stream;
    const auto& vendor = d.target->config().vendor;
    req.use_max_completion_tokens = vendor == "openai" || vendor == "azure";
    if (upstream_protocol == ir::protocol::anthropic && !req.max_tokens) {
      req.max_tokens = providers::default_max_tokens(upstream_model);
    }
    ir::dropped_fields dropped;
    auto encoded = ir::encode_request(upstream_protocol, req, dropped);
    if (auto* e = std::get_if<error>(&encoded)) return std::move(*e);
    log_dropped(ctx, dropped, upstream_protocol);
    auto out = providers::build(*d.target, providers::operation::chat, upstream_model, in.stream,
                                from_client);
    c->path = std::move(out.target);
    c->headers = std::move(out.headers);
    c->key_index = out.key_index;
    c->body = std::move(std::get<std::string>(encoded));
    c->translate =
        upstream::translation{in.protocol, upstream_protocol, stream_options_for(ctx, in)};
  }
  c->hold_failures = true;
  return c;
}

// Hedging (docs/routing.md): what two racing attempts share. Held by both legs, so a leg that
// lost may end after the request did.
struct hedge_state {
  upstream::race race;
  std::shared_ptr<const runtime> snapshot;  // keeps the channels alive for a late loser
  std::array<std::shared_ptr<upstream::call>, 2> calls;
  std::array<std::optional<error>, 2> failure;
  std::array<bool, 2> done{};
  asio::steady_timer* wake = nullptr;  // the request's, while it waits
};

// One leg of a hedged attempt. After losing, it touches neither `ctx` nor the request.
asio::awaitable<void> hedge_leg(request_context& ctx, upstream::pool& pool,
                                std::shared_ptr<hedge_state> st, int i) {
  auto call = st->calls[static_cast<std::size_t>(i)];
  auto f = co_await upstream::forward(ctx, pool, *call);
  st->failure[static_cast<std::size_t>(i)] = std::move(f);
  st->done[static_cast<std::size_t>(i)] = true;
  if (st->wake) st->wake->cancel();
}

// When a hedge starts: the group's fixed `after`, or the deployment's p95 time to first byte.
std::optional<std::chrono::milliseconds> hedge_delay(const hedge_config& h, const deployment& d) {
  auto after = h.after ? h.after : d.health->ttft_percentile(95, h.min_samples);
  if (!after) return std::nullopt;
  return std::max(*after, h.min_after);
}

// The result of a hedged attempt for the attempt loop: the leg it continues with.
struct hedged_result {
  const deployment* d = nullptr;
  std::shared_ptr<upstream::call> c;
  std::optional<error> failure;
  clock::time_point started;
};

// One attempt on `d` (its call `c` built), and, when no first byte came within `after`, the same
// request on a second deployment: the first answer claims the client, the other is dropped. A
// second leg that failed is recorded here and added to `failed`.
asio::awaitable<hedged_result> hedged_attempt(request_context& ctx, const inbound& in,
                                              const model_group& group, const std::string& served,
                                              const deployment* d,
                                              std::shared_ptr<upstream::call> c,
                                              std::chrono::milliseconds after, int& attempts,
                                              const ir::request* decoded, bool media_inlined,
                                              std::vector<const deployment*>& failed) {
  auto st = std::make_shared<hedge_state>();
  if (ctx.snapshot) st->snapshot = *ctx.snapshot;
  st->calls[0] = c;
  std::array<const deployment*, 2> legs{d, nullptr};
  std::array<clock::time_point, 2> started{clock::now(), {}};
  c->racing = &st->race;
  c->racer = 0;
  st->race.on_claim = [&ctx, &legs, &attempts, &served](int w) {
    const auto& winner = *legs[static_cast<std::size_t>(w)];
    if (w == 1) {
      ctx.channel = winner.target->name();
      ctx.upstream_model = winner.upstream_model.empty() ? served : winner.upstream_model;
      ctx.model_price.reset();
      ctx.price_known = false;
      ctx.upstream_protocol = providers::protocol_of(winner.target->config().type);
    }
    ctx.out.routed(winner.id, attempts);
    ctx.hedge = legs[1] ? (w == 1 ? "won" : "lost") : "";
  };
  ctx.racing = &st->race;
  asio::steady_timer wake(ctx.w.io());
  wake.expires_after(after);
  st->wake = &wake;
  routing::inflight_guard busy0(d->health.get());
  routing::inflight_guard busy1;
  asio::co_spawn(ctx.w.io(), hedge_leg(ctx, ctx.w.pool(), st, 0), asio::detached);
  bool second = false;
  while (true) {
    const int w = st->race.winner;
    if (w >= 0 ? st->done[static_cast<std::size_t>(w)] : st->done[0] && (!legs[1] || st->done[1]))
      break;
    auto [ec] = co_await wake.async_wait(use_tuple);
    if (ec || second || st->race.winner >= 0 || st->done[0] || ctx.client_gone) continue;
    // No first byte in time: the same request on another deployment.
    second = true;
    wake.expires_at(asio::steady_timer::time_point::max());
    std::vector<const deployment*> avoid = failed;
    avoid.push_back(d);
    routing::pick_request want;
    want.random = ctx.w.random();
    want.failed = &avoid;
    const auto* d2 = routing::pick(group, want);
    if (!d2 || d2 == d || d2->target->config().type == channel_type::mock) continue;
    const bool translated = providers::protocol_of(d2->target->config().type) != in.protocol;
    if (translated &&
        (!decoded || (providers::protocol_of(d2->target->config().type) == ir::protocol::gemini &&
                      !media_inlined))) {
      continue;  // its call cannot be built without a wait: no hedge
    }
    auto made = make_call(ctx, in, *d2, served, decoded);
    if (std::holds_alternative<error>(made)) continue;
    auto c2 = std::move(std::get<std::shared_ptr<upstream::call>>(made));
    c2->deadline = c->deadline;
    c2->racing = &st->race;
    c2->racer = 1;
    st->calls[1] = c2;
    legs[1] = d2;
    started[1] = clock::now();
    busy1 = routing::inflight_guard(d2->health.get());
    ++attempts;
    ctx.attempts = attempts;
    asio::co_spawn(ctx.w.io(), hedge_leg(ctx, ctx.w.pool(), st, 1), asio::detached);
  }
  st->wake = nullptr;
  ctx.racing = nullptr;
  const int w = st->race.winner;
  // The leg the loop continues with: the winner; when nobody claimed the client (every leg
  // failed), the first, and a second that failed is recorded here.
  const int kept = w >= 0 ? w : 0;
  const int other = 1 - kept;
  if (legs[static_cast<std::size_t>(other)] && !st->race.lost(other) &&
      st->done[static_cast<std::size_t>(other)] && !ctx.client_gone) {
    const auto& oc = *st->calls[static_cast<std::size_t>(other)];
    const auto& of = st->failure[static_cast<std::size_t>(other)];
    const auto v = attempt_verdict(ctx, of, oc.held ? &*oc.held : nullptr);
    if (v != routing::verdict::answer) {
      record_attempt(ctx, *legs[static_cast<std::size_t>(other)], oc.key_index, v,
                     oc.held ? &*oc.held : nullptr, started[static_cast<std::size_t>(other)]);
      if (routing::retryable(v)) failed.push_back(legs[static_cast<std::size_t>(other)]);
    }
  }
  hedged_result out;
  out.d = legs[static_cast<std::size_t>(kept)];
  out.c = st->calls[static_cast<std::size_t>(kept)];
  out.failure = std::move(st->failure[static_cast<std::size_t>(kept)]);
  out.started = started[static_cast<std::size_t>(kept)];
  co_return out;
}

// Decode, admit, route, then passthrough (same protocol both sides), translation or mock.
asio::awaitable<void> relay(request_context& ctx, inbound& in) {
  auto kind = in.kind;
  auto probed = openai::probe_request(ctx.req.body(), kind);
  if (auto* e = std::get_if<error>(&probed)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  in.probe = std::move(std::get<openai::request_probe>(probed));
  if (in.protocol != ir::protocol::gemini) {
    in.model = in.probe.model;
    in.stream = in.probe.stream && kind != openai::endpoint::embeddings;
  }
  ctx.model = in.model;
  ctx.stream = in.stream;

  auto controls_read = read_controls(ctx);
  if (auto* e = std::get_if<error>(&controls_read)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  const auto& controls = std::get<request_controls>(controls_read);
  std::optional<model_group> scratch;
  auto admitted = admit_model(ctx, in.model, scratch);
  if (auto* e = std::get_if<error>(&admitted)) {
    co_await send_error(ctx, *e);
    co_return;
  }
  const model_group* group = std::get<const model_group*>(admitted);

  // The attempt loop (docs/routing.md): pick a deployment, try it; a failure before any byte
  // reached the client moves to another deployment (the same one after a backoff), then to the
  // group's fallbacks. Nothing is retried once the client has a byte of the answer.
  std::optional<clock::time_point> deadline;
  if (auto t = controls.timeout ? controls.timeout : group->timeout) deadline = ctx.start + *t;
  auto time_left = [&] {
    return deadline
               ? std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - clock::now())
               : std::chrono::milliseconds::max();
  };
  const auto& routing_cfg = ctx.rt.cfg.routing;
  std::optional<model_group> fallback_scratch;
  std::string served = in.model;  // the group being tried (a fallback's name after a switch)
  std::vector<const deployment*> failed;
  const std::vector<std::string>* fallbacks = &group->fallbacks;
  std::size_t next_fallback = 0;
  int attempts = 0;
  int in_group = 0;
  bool group_done = false;
  std::optional<std::chrono::milliseconds> wait_hint;  // a 429's retry-after
  bool waited = false;                                 // (waited for once per request)
  std::optional<ir::request> decoded;                  // translation: decoded once
  bool media_inlined = false;
  std::shared_ptr<upstream::call> c;
  std::optional<error> failure;
  const std::int64_t expected_output =
      in.probe.max_output_tokens > 0 ? in.probe.max_output_tokens : 256;

  while (true) {
    const deployment* d = nullptr;
    const int retries = controls.retries.value_or(group->retries);
    if (!group_done && in_group <= retries && time_left().count() > 0) {
      routing::pick_request want;
      want.random = ctx.w.random();
      want.sticky = controls.sticky;
      want.failed = &failed;
      want.expected_output = expected_output;
      if (group->strategy == route_strategy::lowest_cost) {
        want.cost = [&ctx, &served](const deployment& dep) -> std::optional<std::int64_t> {
          auto p = ctx.rt.pricing.find(dep.target->name(),
                                       dep.upstream_model.empty() ? served : dep.upstream_model);
          if (!p) return std::nullopt;
          return p->input + p->output;
        };
      }
      d = routing::pick(*group, want);
      if (!d && !waited && wait_hint && *wait_hint <= routing_cfg.max_retry_after &&
          *wait_hint < time_left()) {
        // Every deployment rests after a 429: wait as long as the upstream asked, once.
        asio::steady_timer pause(ctx.w.io(), *wait_hint);
        wait_hint.reset();
        waited = true;
        co_await pause.async_wait(use_tuple);
        if (ctx.client_gone) co_return;
        continue;
      }
      if (d && std::find(failed.begin(), failed.end(), d) != failed.end()) {
        // The same deployment again: back off first (full jitter, within the deadline).
        auto pause_for = std::min(routing::backoff(in_group, routing_cfg.backoff_base,
                                                   routing_cfg.backoff_max, ctx.w.random()),
                                  time_left());
        if (pause_for.count() > 0) {
          asio::steady_timer pause(ctx.w.io(), pause_for);
          co_await pause.async_wait(use_tuple);
          if (ctx.client_gone) co_return;
        }
      }
    }
    if (!d) {
      // This group is done: its fallbacks next (when allowed and not past the deadline).
      const model_group* next = nullptr;
      while (controls.fallbacks && time_left().count() > 0 && next_fallback < fallbacks->size()) {
        const auto& name = (*fallbacks)[next_fallback++];
        if (!key_allows_model(*ctx.key, name)) continue;
        fallback_scratch.reset();
        next = ctx.rt.models.find(name, fallback_scratch);
        if (next) {
          served = name;
          break;
        }
      }
      if (next) {
        group = next;
        failed.clear();
        in_group = 0;
        group_done = false;
        wait_hint.reset();
        continue;
      }
      if (c && c->held) {
        co_await upstream::relay_held(ctx, *c);
      } else if (failure) {
        co_await send_error(ctx, *failure);
      } else {
        const error e{errc::unavailable,
                      "No deployment of the model '" + in.model +
                          "' can take a request now (every one is failing or resting); retry "
                          "later."};
        co_await send_error(ctx, e);
      }
      co_return;
    }

    ++attempts;
    ++in_group;
    ctx.attempts = attempts;
    if (auto refused = bind_attempt(ctx, *d, served, &in.probe)) {
      co_await send_error(ctx, *refused);
      co_return;
    }
    ctx.out.routed(d->id, attempts);
    const auto type = d->target->config().type;
    const auto upstream_protocol = providers::protocol_of(type);
    ctx.upstream_protocol.reset();
    if (type != channel_type::mock) ctx.upstream_protocol = upstream_protocol;
    if (kind == openai::endpoint::embeddings && upstream_protocol != ir::protocol::openai) {
      const error e{errc::invalid_request,
                    "The model '" + in.model + "' does not support embeddings.", "model"};
      co_await send_error(ctx, e);
      co_return;
    }
    const std::string_view upstream_model = ctx.upstream_model;

    if (type == channel_type::mock && in.protocol == ir::protocol::openai) {
      client_watch watch(ctx);
      if (kind == openai::endpoint::chat_completions) {
        co_await mock::serve_chat(ctx, *d->target, in.probe);
      } else {
        co_await mock::serve_embeddings(ctx, *d->target, in.probe);
      }
      co_return;
    }

    const bool translated = upstream_protocol != in.protocol || type == channel_type::mock;
    if (translated && !decoded) {
      // Translation through the IR: decoded once, encoded for each deployment tried.
      auto result = ir::decode_request(in.protocol, ctx.req.body());
      if (auto* e = std::get_if<error>(&result)) {
        co_await send_error(ctx, *e);
        co_return;
      }
      decoded = std::move(std::get<ir::request>(result));
    }
    if (translated && upstream_protocol == ir::protocol::gemini && !media_inlined) {
      // Gemini takes no http(s) URLs for media: the gateway downloads them (once).
      auto fetch_failed = co_await upstream::inline_media(*decoded, ctx.rt.cfg.media_fetch);
      if (fetch_failed) {
        co_await send_error(ctx, *fetch_failed);
        co_return;
      }
      media_inlined = true;
    }
    if (type == channel_type::mock) {
      ir::request req = *decoded;
      req.model = std::string(upstream_model);
      req.stream = in.stream;
      client_watch watch(ctx);
      co_await serve_mock_translated(ctx, *d->target, in, req);
      co_return;
    }
    auto made = make_call(ctx, in, *d, served, decoded ? &*decoded : nullptr);
    if (auto* e = std::get_if<error>(&made)) {
      co_await send_error(ctx, *e);
      co_return;
    }
    c = std::move(std::get<std::shared_ptr<upstream::call>>(made));
    int key_index = c->key_index;
    c->hold_failures = true;
    c->deadline = deadline;
    begin_attempt(ctx);
    auto attempt_start = clock::now();
    // Hedged: the first attempt of a group with `hedge`, once its deployment's p95 is known
    // (never for a key with a budget: its reservation is for one deployment's price).
    std::optional<std::chrono::milliseconds> hedge_after;
    if (group->hedge && in_group == 1 && !ctx.budget.valid()) {
      hedge_after = hedge_delay(*group->hedge, *d);
    }
    if (!hedge_after) {
      routing::inflight_guard busy(d->health.get());
      client_watch watch(ctx);
      // (Inline rather than shared with count_tokens: a coroutine of its own costs ~440
      // instructions per relayed request.)
      failure = co_await upstream::forward(ctx, ctx.w.pool(), *c);
    } else {
      client_watch watch(ctx);
      auto hedged = co_await hedged_attempt(ctx, in, *group, served, d, c, *hedge_after, attempts,
                                            decoded ? &*decoded : nullptr, media_inlined, failed);
      d = hedged.d;
      c = std::move(hedged.c);
      failure = std::move(hedged.failure);
      attempt_start = hedged.started;
      key_index = c->key_index;
    }
    if (ctx.client_gone) break;
    const auto v = attempt_verdict(ctx, failure, c->held ? &*c->held : nullptr);
    record_attempt(ctx, *d, key_index, v, c->held ? &*c->held : nullptr, attempt_start);
    if (!failure && !c->held) break;  // answered (streamed or whole)
    if (ctx.out.started()) break;     // (a failure relayed as it came)
    if (routing::retryable(v)) {
      failed.push_back(d);
      wait_hint =
          v == routing::verdict::rate_limited && c->held ? c->held->retry_after : std::nullopt;
      continue;
    }
    const auto* special = v == routing::verdict::context_window   ? &group->context_window_fallbacks
                          : v == routing::verdict::content_policy ? &group->content_policy_fallbacks
                                                                  : nullptr;
    if (special && !special->empty() && controls.fallbacks) {
      fallbacks = special;
      next_fallback = 0;
      group_done = true;
      continue;
    }
    // An answer to relay as it is: the client's own 4xx, or a 5xx that no retry would change.
    if (c->held) {
      co_await upstream::relay_held(ctx, *c);
    } else if (failure) {
      co_await send_error(ctx, *failure);
    }
    co_return;
  }
  // Usage missing or cut short: counted here, while the request sent upstream is at hand. Not
  // when the client is about to get the gateway's error instead of the answer (an answer cut
  // while it was held for its cost headers): an error is not billed.
  const bool answered = !failure || ctx.out.started() || ctx.client_gone;
  if (answered && needs_estimate(ctx) && ctx.upstream_protocol) {
    estimate_usage(ctx, *ctx.upstream_protocol, c->body, in.stream);
  }
  if (failure && !ctx.client_gone && !ctx.out.started()) co_await send_error(ctx, *failure);
}

}  // namespace

namespace {
bool is_gemini_action(std::string_view path) {
  auto colon = path.rfind(':');
  if (colon == std::string_view::npos) return false;
  auto action = path.substr(colon + 1);
  return action == "generateContent" || action == "streamGenerateContent";
}
}  // namespace

ir::protocol protocol_for_path(std::string_view target) {
  auto path = target.substr(0, target.find('?'));
  if (path.starts_with("/v1beta/")) return ir::protocol::gemini;
  // The Gemini SDK may use API version v1: /v1/models/{model}:generateContent. (OpenAI model
  // ids may hold colons too, "ft:gpt-4o:org::x", "llama3:8b": only Gemini's actions count.)
  if (path.starts_with("/v1/models/") && is_gemini_action(path)) return ir::protocol::gemini;
  if (path == "/v1/messages" || path.starts_with("/v1/messages/")) return ir::protocol::anthropic;
  return ir::protocol::openai;
}

std::pair<unsigned, std::string> encode_gateway_error(ir::protocol p, const error& e) {
  if (p == ir::protocol::openai) {
    return {static_cast<unsigned>(e.http_status()), openai::encode_error(e)};
  }
  auto encoded = ir::encode_error(p, ir::from_error(e));
  return {static_cast<unsigned>(encoded.status), std::move(encoded.body)};
}

asio::awaitable<void> send_error(request_context& ctx, const error& e) {
  ctx.failure = e.code;
  auto [status, body] = encode_gateway_error(ctx.client_protocol, e);
  co_await send_json(ctx, status, body);
}

asio::awaitable<void> dispatch(request_context& ctx) {
  auto target = ctx.req.target();
  auto path = target.substr(0, target.find('?'));
  auto method = ctx.req.method();
  if (path == "/admin" || path.starts_with("/admin/")) {
    co_await serve_admin(ctx);
    co_return;
  }
  ctx.client_protocol = protocol_for_path(target);
  auto wrong_method = [&](std::string_view allowed) {
    return error{errc::method_not_allowed, fmt::format("Method {} is not allowed on {}; use {}.",
                                                       std::string(http::to_string(method)),
                                                       std::string(path), std::string(allowed))};
  };

  enum class handler {
    health,
    metrics,
    chat,
    embeddings,
    models,
    model,
    messages,
    count_tokens,
    gemini_models,
    gemini_model,
    gemini_generate,
    usage,
  };
  struct route {
    std::string_view path;
    http::verb method;
    handler h;
    bool authenticated;
  };
  static constexpr route routes[] = {
      {"/v1/chat/completions", http::verb::post, handler::chat, true},
      {"/v1/messages", http::verb::post, handler::messages, true},
      {"/v1/messages/count_tokens", http::verb::post, handler::count_tokens, true},
      {"/v1/embeddings", http::verb::post, handler::embeddings, true},
      {"/v1/models", http::verb::get, handler::models, true},
      {"/v1/usage", http::verb::get, handler::usage, true},
      {"/v1beta/models", http::verb::get, handler::gemini_models, true},
      {"/healthz", http::verb::get, handler::health, false},
      {"/metrics", http::verb::get, handler::metrics, false},
  };
  static constexpr route model_route{"/v1/models/", http::verb::get, handler::model, true};
  static constexpr route gemini_model_route{"/v1beta/models/", http::verb::get,
                                            handler::gemini_model, true};
  static constexpr route gemini_generate_route{"/v1beta/models/", http::verb::post,
                                               handler::gemini_generate, true};
  const route* found = nullptr;
  for (const auto& r : routes) {
    if (path == r.path) found = &r;
  }
  std::string_view tail;  // what follows a prefix route
  if (!found && path.starts_with(model_route.path) && path.size() > model_route.path.size()) {
    found = &model_route;
    tail = path.substr(model_route.path.size());
  }
  if (!found && path.starts_with(gemini_model_route.path) &&
      path.size() > gemini_model_route.path.size()) {
    tail = path.substr(gemini_model_route.path.size());
    found = tail.find(':') == std::string_view::npos ? &gemini_model_route : &gemini_generate_route;
  }
  if (found == &model_route && method == http::verb::post && is_gemini_action(path)) {
    found = &gemini_generate_route;  // /v1/models/{model}:generateContent (Gemini API v1)
  }
  // Anthropic's SDK lists models on OpenAI's path, with its version header: answer (and fail)
  // in its format.
  if (found && (found->h == handler::models || found->h == handler::model) &&
      ctx.req.find("anthropic-version") != ctx.req.end()) {
    ctx.client_protocol = ir::protocol::anthropic;
  }

  // Refusals first, each in the client protocol's error format.
  std::optional<error> refused;
  inbound in;
  in.protocol = ctx.client_protocol;
  if (!found) {
    refused = error{errc::not_found,
                    fmt::format("Unknown request URL: {} {}.", std::string(http::to_string(method)),
                                std::string(path))};
  } else if (method != found->method) {
    refused = wrong_method(http::to_string(found->method));
  } else if (found->h == handler::gemini_generate) {
    // "{model}:generateContent" or "{model}:streamGenerateContent"; the model may be
    // percent-encoded.
    auto colon = tail.rfind(':');
    auto action = tail.substr(colon + 1);
    in.model = url_decode(tail.substr(0, colon));
    in.kind = openai::endpoint::generate_content;
    if (action == "streamGenerateContent") {
      in.stream = true;
      in.json_array = query_param(target, "alt") != "sse";
    } else if (action != "generateContent") {
      refused = error{errc::not_found,
                      fmt::format("Unknown request URL: {} {}.",
                                  std::string(http::to_string(method)), std::string(path))};
    }
    if (in.model.empty())
      refused = error{errc::invalid_request, "The model name is empty.", "model"};
  }
  if (refused) {
    co_await send_error(ctx, *refused);
    co_return;
  }
  if (found->authenticated) {
    // (Rate limits are applied by route(), once the model is known to be allowed.)
    auto denied = authenticate(ctx);
    if (denied) {
      if (denied->delay.count() > 0) {
        asio::steady_timer pause(ctx.w.io(), denied->delay);
        co_await pause.async_wait(use_tuple);
      }
      co_await send_error(ctx, denied->e);
      co_return;
    }
  }

  switch (found->h) {
    case handler::health: {
      static const std::string ok = R"({"status":"ok"})";
      co_await send_json(ctx, 200, ok);
      break;
    }
    case handler::metrics: {
      auto body = ctx.w.owner().metrics().render();
      if (const auto* ledger = ctx.w.owner().ledger())
        body += billing::ledger_metrics(ledger->stats());
      http::fields f;
      f.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      f.set("x-request-id", ctx.request_id);
      co_await ctx.out.start(200, f, body.size(), ctx.keep_alive, body, true);
      break;
    }
    case handler::chat:
      in.kind = openai::endpoint::chat_completions;
      co_await relay(ctx, in);
      break;
    case handler::messages:
      in.kind = openai::endpoint::messages;
      co_await relay(ctx, in);
      break;
    case handler::gemini_generate:
      co_await relay(ctx, in);
      break;
    case handler::count_tokens:
      co_await count_tokens(ctx);
      break;
    case handler::embeddings:
      in.kind = openai::endpoint::embeddings;
      co_await relay(ctx, in);
      break;
    case handler::models:
      if (ctx.client_protocol == ir::protocol::anthropic) {
        co_await list_models_anthropic(ctx);
      } else {
        co_await list_models(ctx);
      }
      break;
    case handler::model:
      co_await retrieve_model(ctx, tail);
      break;
    case handler::gemini_models:
      co_await list_models_gemini(ctx, {});
      break;
    case handler::gemini_model:
      co_await list_models_gemini(ctx, tail);
      break;
    case handler::usage:
      co_await serve_usage(ctx);
      break;
  }
}

}  // namespace sy
