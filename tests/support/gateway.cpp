#include "support/gateway.h"

#include "server/store_sync.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <poll.h>
#include <stdexcept>

namespace sy::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

gateway::gateway(const std::string& yaml, const crypto::sealer* sealer) {
  auto parsed = parse_config("listen: 127.0.0.1:0\n" + yaml, "test.yaml");
  if (auto* e = std::get_if<config_error>(&parsed)) throw std::runtime_error(e->message);
  auto& cfg = std::get<config>(parsed);
  if (cfg.workers == 0) cfg.workers = 2;
  if (cfg.webhook) webhook_ = std::make_unique<alerts::webhook_sender>(*cfg.webhook);
  server_ = std::make_unique<server>(runtime::build(cfg));
  if (webhook_) {
    server_->set_alert_sink([this](std::string_view type, std::string data) {
      webhook_->send(alerts::make_event(type, data));
    });
  }
  if (yaml.find("database:") != std::string::npos && cfg.database != "none") {
    auto opened = store::service::open(cfg.database);
    if (auto* e = std::get_if<store::db_error>(&opened)) throw std::runtime_error(e->message);
    store_ = std::move(std::get<std::unique_ptr<store::service>>(opened));
    server_->attach_store(store_.get(), sealer);
    auto writer = billing::ledger_writer::open(cfg.database, {});
    if (auto* e = std::get_if<store::db_error>(&writer)) throw std::runtime_error(e->message);
    ledger_ = std::move(std::get<std::unique_ptr<billing::ledger_writer>>(writer));
    server_->attach_ledger(ledger_.get());
    if (auto e = load_from_store(*server_, *store_, cfg, sealer)) {
      throw std::runtime_error(e->message);
    }
  } else {
    publish_without_store(*server_, cfg);
  }
  if (auto ec = server_->start()) throw std::runtime_error("start: " + ec.message());
  if (store_) {
    follow_store(*server_, *store_, {std::chrono::milliseconds(50), std::chrono::seconds(60)});
  }
}

gateway::~gateway() {
  server_->drain(std::chrono::milliseconds(2000));
  store_.reset();  // its thread publishes to the server
}

http_client::http_client(unsigned short port) : socket_(io_) {
  socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  timeval tv{15, 0};  // a hung test fails instead of hanging
  ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
}

http_response http_client::request(const std::string& method, const std::string& target,
                                   const std::string& body,
                                   const std::map<std::string, std::string>& headers) {
  http::request<http::string_body> req{http::string_to_verb(method), target, 11};
  req.set(http::field::host, "127.0.0.1");
  for (const auto& [k, v] : headers)
    req.set(k, v);
  if (!body.empty() || method == "POST") {
    if (req[http::field::content_type].empty())
      req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
  }
  http::write(socket_, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  http::read(socket_, buffer, parser);
  http_response out;
  out.status = parser.get().result_int();
  for (const auto& f : parser.get()) {
    std::string name(f.name_string());
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.headers[name] = std::string(f.value());
  }
  out.body = parser.get().body();
  if (!parser.get().keep_alive()) close();
  return out;
}

http_response http_client::post(const std::string& target, const std::string& body,
                                const std::string& key,
                                const std::map<std::string, std::string>& headers) {
  auto h = headers;
  if (!key.empty()) h["Authorization"] = "Bearer " + key;
  return request("POST", target, body, h);
}

void http_client::send_raw(const std::string& bytes) {
  asio::write(socket_, asio::buffer(bytes));
}

void http_client::send_post(const std::string& target, const std::string& body,
                            const std::string& key) {
  send_raw("POST " + target + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body);
}

bool http_client::read_until(const std::string& needle, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (raw_.find(needle) == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[8192];
    boost::system::error_code ec;
    auto n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) return raw_.find(needle) != std::string::npos;
    raw_.append(buf, n);
  }
  return true;
}

std::string http_client::read_to_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[8192];
    boost::system::error_code ec;
    auto n = socket_.read_some(asio::buffer(buf), ec);
    if (ec) break;
    raw_.append(buf, n);
  }
  return raw_;
}

void http_client::close() {
  boost::system::error_code ec;
  socket_.close(ec);
}

std::string chat_body(const std::string& model, bool stream) {
  return R"({"model":")" + model + R"(","messages":[{"role":"user","content":"Hello"}])" +
         (stream ? R"(,"stream":true)" : "") + "}";
}

}  // namespace sy::test
