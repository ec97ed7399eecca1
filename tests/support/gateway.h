// The real gateway, in-process, on 127.0.0.1 port 0, from a YAML config; and a small blocking
// HTTP client to talk to it.
#pragma once

#include "alerts/webhook.h"
#include "billing/ledger.h"
#include "config/config.h"
#include "server/runtime.h"
#include "server/server.h"
#include "store/service.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace sy::test {

class gateway {
 public:
  // `yaml` must not set `listen`; the gateway listens on 127.0.0.1:0. When `yaml` sets
  // `database:`, the store is opened (and migrated) as `serve` does: managed keys, the admin API
  // and the audit log work, and the key table follows the store (polled every 50 ms here).
  // `sealer` stands for SWITCHYARD_SECRET_KEY.
  explicit gateway(const std::string& yaml, const crypto::sealer* sealer = nullptr);
  ~gateway();

  unsigned short port() const { return server_->port(); }
  server& srv() { return *server_; }
  store::service* store() { return store_.get(); }
  billing::ledger_writer* ledger() { return ledger_.get(); }
  alerts::webhook_sender* webhook() { return webhook_.get(); }
  void drain(std::chrono::milliseconds timeout) { server_->drain(timeout); }

 private:
  std::unique_ptr<alerts::webhook_sender> webhook_;  // outlives the server
  std::unique_ptr<store::service> store_;
  std::unique_ptr<billing::ledger_writer> ledger_;
  std::unique_ptr<server> server_;
};

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

// One keep-alive connection to the gateway.
class http_client {
 public:
  explicit http_client(unsigned short port);

  http_response request(const std::string& method, const std::string& target,
                        const std::string& body = {},
                        const std::map<std::string, std::string>& headers = {});
  // POST with `Authorization: Bearer key`.
  http_response post(const std::string& target, const std::string& body, const std::string& key,
                     const std::map<std::string, std::string>& headers = {});

  // Raw access, for streams read piece by piece and abrupt disconnects.
  void send_raw(const std::string& bytes);
  // Sends a POST of `body` to `target` with `Authorization: Bearer key`, without reading the
  // response (read it with read_until / read_to_close).
  void send_post(const std::string& target, const std::string& body, const std::string& key);
  // Reads until `needle` appears in what was received (raw bytes, chunk framing included).
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout);
  // Reads until the server closes the connection.
  std::string read_to_close(std::chrono::milliseconds timeout);
  const std::string& received() const { return raw_; }
  void close();
  bool connected() const { return socket_.is_open(); }

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  std::string raw_;
};

std::string chat_body(const std::string& model, bool stream = false);

}  // namespace sy::test
