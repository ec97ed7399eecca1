// A scriptable upstream for integration tests: a synchronous HTTP/1.1 server on 127.0.0.1, port
// 0, one thread per connection, whose handler decides per request what to do: answer, stream
// chunks, stall, reset the connection. It records what it received and when its peers left.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sy::test {

struct fake_request {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  int connection = 0;  // which connection it came on, from 1
};

class fake_responder {
 public:
  fake_responder(boost::asio::ip::tcp::socket& s, boost::beast::flat_buffer& buffer)
      : socket_(s), buffer_(buffer) {}

  // A whole response with Content-Length.
  void send(int status, const std::string& body,
            const std::string& content_type = "application/json",
            const std::vector<std::pair<std::string, std::string>>& headers = {});
  // A chunked response, one piece at a time.
  bool start(int status, const std::string& content_type,
             const std::vector<std::pair<std::string, std::string>>& headers = {});
  bool chunk(const std::string& data);
  bool end();
  // Ends the connection with a TCP reset (SO_LINGER 0).
  void reset();
  // Closes the connection after this response (no Connection: close header sent).
  void close_after() { close_after_ = true; }
  // Blocks until the peer closes the connection, or `timeout`. True if it did.
  bool wait_peer_close(std::chrono::milliseconds timeout);

  bool closed() const { return closed_; }
  bool close_requested() const { return close_after_; }

 private:
  bool write(const std::string& bytes);
  boost::asio::ip::tcp::socket& socket_;
  boost::beast::flat_buffer& buffer_;
  bool closed_ = false;
  bool close_after_ = false;
};

class fake_upstream {
 public:
  using handler = std::function<void(const fake_request&, fake_responder&)>;

  explicit fake_upstream(handler h);
  ~fake_upstream();

  unsigned short port() const { return port_; }
  std::string url(const std::string& path = "/v1") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  std::vector<fake_request> requests() const;
  int connections() const { return connections_.load(); }
  int closed_connections() const { return closed_.load(); }
  // Waits until at least `n` connections have ended.
  bool wait_closed(int n, std::chrono::milliseconds timeout);

 private:
  void serve(boost::asio::ip::tcp::socket socket, int id);

  handler handler_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::thread accept_thread_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<fake_request> requests_;
  std::vector<std::thread> threads_;
  std::vector<boost::asio::ip::tcp::socket*> live_;
  std::atomic<int> connections_{0};
  std::atomic<int> closed_{0};
  std::atomic<bool> stopping_{false};
};

// Canned OpenAI bodies.
std::string completion_json(const std::string& model, const std::string& content);
std::string chunk_event(const std::string& content, const char* finish = nullptr);

}  // namespace sy::test
