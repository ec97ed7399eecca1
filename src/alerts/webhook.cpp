#include "alerts/webhook.h"

#include "common/crypto.h"
#include "common/json.h"
#include "common/net.h"
#include "upstream/http_target.h"
#include "upstream/tls.h"

#include <openssl/ssl.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

namespace sy::alerts {
namespace http = beast::http;
namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
using steady = std::chrono::steady_clock;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string new_event_id() {
  if (auto hex = crypto::random_hex(16)) return "evt_" + *hex;
  // The CSPRNG failing is not a reason to lose an alert: an id need only be unique.
  std::random_device rd;
  std::mt19937_64 gen(rd() ^ static_cast<std::uint64_t>(steady::now().time_since_epoch().count()));
  std::string bytes(16, '\0');
  for (auto& c : bytes)
    c = static_cast<char>(gen());
  return "evt_" + crypto::to_hex(bytes);
}

using target = upstream::http_target;

std::optional<target> parse_target(std::string_view url) {
  if (check_webhook_url(url)) return std::nullopt;
  return upstream::parse_http_target(url);
}

std::string describe(std::string_view what, const boost::system::error_code& ec) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    return std::string(what) + ": timed out";
  }
  return std::string(what) + ": " + ec.message();
}

}  // namespace

std::optional<std::string> check_webhook_url(std::string_view url) {
  // The scheme first: Boost.URL 1.81 asserts on "http:<" and the like (boostorg/url#665).
  if (!url.starts_with("http://") && !url.starts_with("https://")) {
    return "expected an http:// or https:// URL";
  }
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return "not a valid URL";
  if (parsed->encoded_host().empty()) return "the URL has no host";
  if (parsed->has_port() && !parsed->port().empty() && parsed->port_number() == 0) {
    return "the URL has a bad port";
  }
  return std::nullopt;
}

std::string redact_url(std::string_view url) {
  if (check_webhook_url(url)) return "<invalid url>";
  auto parsed = boost::urls::parse_uri(url);
  return std::string(parsed->scheme()) + "://" + std::string(parsed->encoded_host_and_port()) +
         std::string(parsed->encoded_path());
}

std::string webhook_signature(std::string_view secret, std::int64_t timestamp,
                              std::string_view body) {
  std::string message = std::to_string(timestamp);
  message += '.';
  message += body;
  return "sha256=" + crypto::hmac_sha256_hex(secret, message);
}

std::string make_event(std::string_view type, std::string_view data_json) {
  std::string out = "{\"id\":";
  json::append_quoted(out, new_event_id());
  out += ",\"type\":";
  json::append_quoted(out, type);
  out += ",\"created\":" + std::to_string(unix_now());
  out += ",\"data\":";
  out += data_json.empty() ? std::string_view("{}") : data_json;
  out += '}';
  return out;
}

struct webhook_sender::impl {
  struct item {
    std::string id;
    std::string body;
  };

  explicit impl(webhook_config c)
      : cfg(std::move(c)), target_(parse_target(cfg.url)), log_url(redact_url(cfg.url)) {
    if (cfg.max_attempts < 1) cfg.max_attempts = 1;
    if (!target_) spdlog::error("webhook: the URL is not an http(s) URL; every event will fail");
    if (target_ && target_->tls) tls_ctx = upstream::make_client_tls_context(cfg.ca_file);
  }

  // The sender's one coroutine: takes the events in order and delivers each before the next.
  asio::awaitable<void> run() {
    for (;;) {
      std::optional<item> next;
      {
        std::lock_guard lock(mutex);
        if (!queue.empty()) {
          next = std::move(queue.front());
          queue.pop_front();
          busy = true;
        }
      }
      if (!next) {
        // send() cancels this wait from the io thread (asio::post), so a wake-up posted between
        // the check above and the wait below still finds the wait pending.
        wake.expires_at(steady::time_point::max());
        co_await wake.async_wait(use_tuple);
        continue;
      }
      co_await deliver(*next);
      {
        std::lock_guard lock(mutex);
        busy = false;
      }
      idle.notify_all();
    }
  }

  asio::awaitable<void> deliver(const item& it) {
    std::string last;
    auto delay = cfg.retry_initial;
    for (int attempt = 1; attempt <= cfg.max_attempts; ++attempt) {
      auto failure = co_await attempt_once(it);
      if (!failure) {
        ++delivered;
        co_return;
      }
      last = std::move(*failure);
      spdlog::debug("webhook {}: event {} attempt {}/{} failed: {}", log_url, it.id, attempt,
                    cfg.max_attempts, last);
      if (attempt == cfg.max_attempts) break;
      backoff.expires_after(delay);
      co_await backoff.async_wait(use_tuple);
      delay = std::min(delay * 2, cfg.retry_max);
    }
    ++failed;
    spdlog::warn("webhook {}: event {} not delivered after {} attempts: {}", log_url, it.id,
                 cfg.max_attempts, last);
  }

  // One POST; nullopt when the receiver answered 2xx, else why not.
  asio::awaitable<std::optional<std::string>> attempt_once(const item& it) {
    if (!target_) co_return "the URL is not an http(s) URL";
    const auto& t = *target_;
    auto executor = co_await asio::this_coro::executor;
    const auto deadline = steady::now() + cfg.timeout;
    // The resolver has no timeout of its own: a timer cancels it at the deadline. Shared, so
    // that a timer handler already queued when the lookup ends finds it still there.
    auto resolver = std::make_shared<asio::ip::tcp::resolver>(executor);
    asio::steady_timer resolve_guard(executor, deadline);
    resolve_guard.async_wait([resolver](boost::system::error_code ec) {
      if (!ec) resolver->cancel();
    });
    auto [rec, endpoints] = co_await resolver->async_resolve(t.host, t.port, use_tuple);
    resolve_guard.cancel();
    if (rec == asio::error::operation_aborted) co_return "cannot resolve the host: timed out";
    if (rec) co_return describe("cannot resolve the host", rec);
    beast::tcp_stream tcp(executor);
    tcp.expires_at(deadline);
    auto [cec, ep] = co_await tcp.async_connect(endpoints, use_tuple);
    if (cec) co_return describe("cannot connect", cec);

    http::request<http::string_body> req{http::verb::post, t.path, 11};
    req.set(http::field::host, t.host_header);
    req.set(http::field::user_agent, "switchyard");
    req.set(http::field::content_type, "application/json");
    req.set(http::field::connection, "close");
    auto timestamp = unix_now();  // per attempt: a retry is as fresh as the first try
    req.set("x-sy-timestamp", std::to_string(timestamp));
    req.set("x-sy-signature", webhook_signature(cfg.secret, timestamp, it.body));
    req.set("x-sy-delivery", it.id);
    req.body() = it.body;
    req.prepare_payload();

    if (!t.tls) co_return co_await exchange(tcp, req, deadline);
    beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), *tls_ctx);
    boost::system::error_code ip_ec;
    asio::ip::make_address(t.host, ip_ec);
    // SNI carries host names only (RFC 6066); the certificate is checked against either.
    if (ip_ec && !SSL_set_tlsext_host_name(tls.native_handle(), t.host.c_str())) {
      co_return "bad SNI name";
    }
    tls.set_verify_mode(asio::ssl::verify_peer);
    tls.set_verify_callback(asio::ssl::host_name_verification(t.host));
    beast::get_lowest_layer(tls).expires_at(deadline);
    auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, use_tuple);
    if (hec) co_return describe("TLS handshake failed", hec);
    co_return co_await exchange(tls, req, deadline);
  }

  template <class Stream>
  asio::awaitable<std::optional<std::string>> exchange(Stream& stream,
                                                       http::request<http::string_body>& req,
                                                       steady::time_point deadline) {
    beast::get_lowest_layer(stream).expires_at(deadline);
    auto [wec, wn] = co_await http::async_write(stream, req, use_tuple);
    if (wec) co_return describe("sending the event failed", wec);
    // The status is all that counts: the body is not read (the connection is not reused), so
    // a receiver may answer as much as it likes.
    beast::flat_buffer buffer;
    http::response_parser<http::empty_body> parser;
    auto [rec, rn] = co_await http::async_read_header(stream, buffer, parser, use_tuple);
    if (rec) co_return describe("reading the answer failed", rec);
    auto status = parser.get().result_int();
    if (status >= 200 && status < 300) co_return std::nullopt;
    co_return "the receiver answered " + std::to_string(status);
  }

  webhook_config cfg;
  std::optional<target> target_;
  std::string log_url;
  std::unique_ptr<asio::ssl::context> tls_ctx;  // https only

  mutable std::mutex mutex;
  std::condition_variable idle;
  std::deque<item> queue;
  bool busy = false;  // an event taken off the queue is being delivered
  bool stopping = false;

  std::atomic<std::uint64_t> queued{0}, delivered{0}, failed{0}, dropped{0};

  // Last: destroyed first, with the coroutine and the sockets it holds, while the rest lives.
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  asio::steady_timer wake{io};
  asio::steady_timer backoff{io};
  std::thread thread;
};

webhook_sender::webhook_sender(webhook_config cfg) : impl_(std::make_unique<impl>(std::move(cfg))) {
  asio::co_spawn(impl_->io, impl_->run(), asio::detached);
  impl_->thread = std::thread([io = &impl_->io] { io->run(); });
}

webhook_sender::~webhook_sender() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  flush(impl_->cfg.shutdown_timeout);
  impl_->io.stop();
  impl_->thread.join();
  std::size_t abandoned = impl_->queue.size() + (impl_->busy ? 1 : 0);
  if (abandoned > 0) {
    impl_->dropped += abandoned;
    spdlog::warn("webhook {}: stopping with {} event(s) not delivered", impl_->log_url, abandoned);
  }
}

bool webhook_sender::send(std::string event_json) {
  boost::system::error_code ec;
  auto value = boost::json::parse(event_json, ec);
  if (ec || !value.is_object()) {
    ++impl_->dropped;
    spdlog::warn("webhook {}: an event that is not a JSON object was dropped", impl_->log_url);
    return false;
  }
  std::string id;
  if (auto* v = value.as_object().if_contains("id"); v && v->is_string()) {
    id = std::string(v->as_string());
  }
  if (id.empty()) id = new_event_id();
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping || impl_->queue.size() >= impl_->cfg.max_queue) {
      ++impl_->dropped;
      return false;
    }
    impl_->queue.push_back({std::move(id), std::move(event_json)});
    ++impl_->queued;
  }
  asio::post(impl_->io, [i = impl_.get()] { i->wake.cancel(); });
  return true;
}

webhook_sender::stats webhook_sender::get_stats() const {
  return {impl_->queued.load(), impl_->delivered.load(), impl_->failed.load(),
          impl_->dropped.load()};
}

bool webhook_sender::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->idle.wait_for(lock, timeout, [&] { return impl_->queue.empty() && !impl_->busy; });
}

}  // namespace sy::alerts
