// A TLS upstream for integration tests: a self-signed certificate made at start (for the names
// given), written to a PEM file a channel can name as its `ca_file`, and a blocking HTTPS server
// on 127.0.0.1 that answers every request with one fixed JSON body and records the SNI name.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sy::test {

class tls_upstream {
 public:
  // `subject_alt_names` as OpenSSL writes them: "DNS:localhost,IP:127.0.0.1".
  tls_upstream(const std::string& subject_alt_names, std::string body);
  ~tls_upstream();

  unsigned short port() const { return port_; }
  const std::string& ca_file() const { return ca_file_; }
  std::vector<std::string> server_names() const;  // SNI of each handshake that got that far
  int requests() const { return requests_.load(); }

 private:
  void serve(boost::asio::ip::tcp::socket socket);

  std::string body_;
  std::string ca_file_;
  boost::asio::io_context io_;
  boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_server};
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  unsigned short port_ = 0;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_{0};
  mutable std::mutex mutex_;
  std::vector<std::string> names_;
};

}  // namespace sy::test
