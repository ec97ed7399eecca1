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
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
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
  // Raw bytes as they are (no framing): for a response cut after N bytes.
  bool raw(const std::string& bytes) { return write(bytes); }
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

// Fault injection for scripted upstreams: what one response does. Build one with the helpers
// below (fault::ok, fault::status, fault::reset, ...) and queue them in a fault_plan.
struct fault {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds delay{0};      // before the first byte (cut short when the peer leaves)
  bool hang = false;                       // never answers; waits for the peer to leave
  bool reset_first = false;                // a TCP reset before any byte of the response
  std::optional<std::size_t> reset_after;  // a TCP reset after this many bytes (head included)
  std::vector<std::string> chunks;         // non-empty: a chunked stream of these pieces
  bool reset_after_chunks = false;         // the stream is reset instead of ended

  // A 200 with `body` (a completion by default).
  static fault ok(std::string body);
  static fault error(int code, std::string body = {},
                     std::vector<std::pair<std::string, std::string>> headers = {});
  // 429 with its retry-after-ms header (none when `retry_after_ms` < 0).
  static fault rate_limited(int retry_after_ms = -1);
  static fault reset();
  static fault hang_up();  // waits without answering
  static fault slow(std::chrono::milliseconds delay, std::string body);
  // A 200 event stream of `chunks`, ended (or reset after the last chunk when `cut`).
  static fault stream(std::vector<std::string> chunks, bool cut = false);
  // A whole 200 answer of `body` cut by a reset after `bytes` bytes of the response.
  static fault cut(std::string body, std::size_t bytes);
};

// Plays `f` on `out`.
void play(const fault& f, fake_responder& out);

// A thread-safe script of faults: requests take the queued faults in order, then the default.
// The plan must outlive the fake_upstream that uses its handler().
class fault_plan {
 public:
  explicit fault_plan(fault fallback = fault::ok(completion_json("m", "ok")))
      : default_(std::move(fallback)) {}

  // Queues `f` for the next `times` requests (after those already queued).
  fault_plan& then(fault f, int times = 1);
  // What every request gets once the queue is empty (and, with `clear`, from now on).
  void always(fault f, bool clear = true);
  // A per-request rule that wins over the queue when it returns a fault (e.g. by API key).
  void rule(std::function<std::optional<fault>(const fake_request&)> r);

  fake_upstream::handler handler();
  int served() const { return served_.load(); }

 private:
  fault next(const fake_request& r);

  mutable std::mutex mutex_;
  std::deque<fault> queue_;
  fault default_;
  std::function<std::optional<fault>(const fake_request&)> rule_;
  std::atomic<int> served_{0};
};

}  // namespace sy::test
