#include "support/fake_upstream.h"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <poll.h>

namespace sy::test {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
std::string head(int status, const std::string& content_type,
                 const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " +
                    std::string(http::obsolete_reason(http::int_to_status(status))) + "\r\n";
  out += "Content-Type: " + content_type + "\r\n";
  for (const auto& [k, v] : headers)
    out += k + ": " + v + "\r\n";
  return out;
}
}  // namespace

bool fake_responder::write(const std::string& bytes) {
  if (closed_) return false;
  boost::system::error_code ec;
  asio::write(socket_, asio::buffer(bytes), ec);
  if (ec) closed_ = true;
  return !ec;
}

void fake_responder::send(int status, const std::string& body, const std::string& content_type,
                          const std::vector<std::pair<std::string, std::string>>& headers) {
  write(head(status, content_type, headers) + "Content-Length: " + std::to_string(body.size()) +
        "\r\n\r\n" + body);
}

bool fake_responder::start(int status, const std::string& content_type,
                           const std::vector<std::pair<std::string, std::string>>& headers) {
  return write(head(status, content_type, headers) + "Transfer-Encoding: chunked\r\n\r\n");
}

bool fake_responder::chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return write(size + data + "\r\n");
}

bool fake_responder::end() {
  return write("0\r\n\r\n");
}

void fake_responder::reset() {
  boost::system::error_code ec;
  socket_.set_option(asio::socket_base::linger(true, 0), ec);
  socket_.close(ec);
  closed_ = true;
}

bool fake_responder::wait_peer_close(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd p{socket_.native_handle(), POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r <= 0) continue;
    char buf[4096];
    boost::system::error_code ec;
    socket_.read_some(asio::buffer(buf), ec);
    if (ec) {
      closed_ = true;
      return true;
    }
  }
}

fake_upstream::fake_upstream(handler h) : handler_(std::move(h)), acceptor_(io_) {
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), 0);
  acceptor_.open(ep.protocol());
  acceptor_.set_option(asio::socket_base::reuse_address(true));
  acceptor_.bind(ep);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  accept_thread_ = std::thread([this] {
    int id = 0;
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      ++connections_;
      std::lock_guard lock(mutex_);
      threads_.emplace_back(
          [this, s = std::move(socket), n = ++id]() mutable { serve(std::move(s), n); });
    }
  });
}

fake_upstream::~fake_upstream() {
  stopping_ = true;
  boost::system::error_code ec;
  // Wake the accept loop with a connection of our own.
  {
    tcp::socket poke(io_);
    poke.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
  }
  accept_thread_.join();
  {
    std::lock_guard lock(mutex_);
    for (auto* s : live_)
      s->shutdown(tcp::socket::shutdown_both, ec);
  }
  for (auto& t : threads_)
    t.join();
}

void fake_upstream::serve(tcp::socket socket, int id) {
  {
    std::lock_guard lock(mutex_);
    live_.push_back(&socket);
  }
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    boost::system::error_code ec;
    http::read(socket, buffer, parser, ec);
    if (ec) break;
    auto& req = parser.get();
    fake_request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    for (const auto& f : req) {
      std::string name(f.name_string());
      for (auto& c : name)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = std::string(f.value());
    }
    r.body = req.body();
    r.connection = id;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
    }
    fake_responder responder(socket, buffer);
    handler_(r, responder);
    if (responder.closed() || responder.close_requested() || !req.keep_alive()) break;
  }
  {
    std::lock_guard lock(mutex_);
    std::erase(live_, &socket);
  }
  boost::system::error_code ec;
  socket.close(ec);
  ++closed_;
  cv_.notify_all();
}

std::vector<fake_request> fake_upstream::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

bool fake_upstream::wait_closed(int n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return cv_.wait_for(lock, timeout, [&] { return closed_.load() >= n; });
}

std::string completion_json(const std::string& model, const std::string& content) {
  return R"({"id":"chatcmpl-up1","object":"chat.completion","created":1700000000,"model":")" +
         model + R"(","choices":[{"index":0,"message":{"role":"assistant","content":")" + content +
         R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}})";
}

std::string chunk_event(const std::string& content, const char* finish) {
  std::string f = finish ? std::string("\"") + finish + "\"" : "null";
  return R"(data: {"id":"chatcmpl-up1","object":"chat.completion.chunk","created":1700000000,"model":"m","choices":[{"index":0,"delta":{"content":")" +
         content + R"("},"finish_reason":)" + f + "}]}\n\n";
}

}  // namespace sy::test
