#include "support/fake_upstream.h"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>

#include <poll.h>

#include <thread>

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

fault fault::ok(std::string body) {
  fault f;
  f.body = std::move(body);
  return f;
}

fault fault::error(int code, std::string body,
                   std::vector<std::pair<std::string, std::string>> headers) {
  fault f;
  f.status = code;
  f.body = body.empty() ? R"({"error":{"message":"scripted failure )" + std::to_string(code) +
                              R"(","type":"server_error","code":null}})"
                        : std::move(body);
  f.headers = std::move(headers);
  return f;
}

fault fault::rate_limited(int retry_after_ms) {
  std::vector<std::pair<std::string, std::string>> h;
  if (retry_after_ms >= 0) h.emplace_back("retry-after-ms", std::to_string(retry_after_ms));
  return error(
      429,
      R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})",
      std::move(h));
}

fault fault::reset() {
  fault f;
  f.reset_first = true;
  return f;
}

fault fault::hang_up() {
  fault f;
  f.hang = true;
  return f;
}

fault fault::slow(std::chrono::milliseconds delay, std::string body) {
  fault f = ok(std::move(body));
  f.delay = delay;
  return f;
}

fault fault::stream(std::vector<std::string> chunks, bool cut) {
  fault f;
  f.content_type = "text/event-stream";
  f.chunks = std::move(chunks);
  f.reset_after_chunks = cut;
  return f;
}

fault fault::cut(std::string body, std::size_t bytes) {
  fault f = ok(std::move(body));
  f.reset_after = bytes;
  return f;
}

void play(const fault& f, fake_responder& out) {
  using namespace std::chrono_literals;
  if (f.hang) {
    out.wait_peer_close(30s);
    out.reset();
    return;
  }
  if (f.delay.count() > 0 && out.wait_peer_close(f.delay)) return;  // the gateway gave up
  if (f.reset_first) return out.reset();
  if (!f.chunks.empty()) {
    if (!out.start(f.status, f.content_type, f.headers)) return;
    for (const auto& c : f.chunks) {
      if (!out.chunk(c)) return;
    }
    if (f.reset_after_chunks) return out.reset();
    out.end();
    return;
  }
  if (f.reset_after) {
    std::string whole = "HTTP/1.1 " + std::to_string(f.status) + " " +
                        std::string(http::obsolete_reason(http::int_to_status(f.status))) +
                        "\r\nContent-Type: " + f.content_type + "\r\n";
    for (const auto& [k, v] : f.headers)
      whole += k + ": " + v + "\r\n";
    whole += "Content-Length: " + std::to_string(f.body.size()) + "\r\n\r\n" + f.body;
    out.raw(whole.substr(0, std::min(*f.reset_after, whole.size())));
    return out.reset();
  }
  out.send(f.status, f.body, f.content_type, f.headers);
}

fault_plan& fault_plan::then(fault f, int times) {
  std::lock_guard lock(mutex_);
  for (int i = 0; i < times; ++i)
    queue_.push_back(f);
  return *this;
}

void fault_plan::always(fault f, bool clear) {
  std::lock_guard lock(mutex_);
  default_ = std::move(f);
  if (clear) queue_.clear();
}

void fault_plan::rule(std::function<std::optional<fault>(const fake_request&)> r) {
  std::lock_guard lock(mutex_);
  rule_ = std::move(r);
}

fault fault_plan::next(const fake_request& r) {
  std::lock_guard lock(mutex_);
  if (rule_) {
    if (auto f = rule_(r)) return *f;
  }
  if (queue_.empty()) return default_;
  auto f = std::move(queue_.front());
  queue_.pop_front();
  return f;
}

fake_upstream::handler fault_plan::handler() {
  return [this](const fake_request& r, fake_responder& out) {
    auto f = next(r);
    ++served_;
    play(f, out);
  };
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
