// A channel at run time: its config plus what is derived once from it (where the upstream is,
// which of its API keys goes next). Lives in the runtime snapshot; shared by all workers.
#pragma once

#include "common/net.h"
#include "config/config.h"

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>

namespace sy {

struct upstream_target {
  bool tls = false;
  std::string host;         // for connect, SNI and certificate verification
  std::string port;         // service for the resolver
  std::string host_header;  // host[:port] as the Host header wants it
  std::string base_path;    // "/v1" of https://api.openai.com/v1
  std::string pool_key;     // scheme://host:port, the key of the connection pool
  // Set when the channel has its own CA file; otherwise the pool's context (system CA store).
  std::shared_ptr<asio::ssl::context> tls_context;
};

class channel {
 public:
  explicit channel(channel_config cfg);

  const channel_config& config() const { return cfg_; }
  const std::string& name() const { return cfg_.name; }
  const upstream_target& target() const { return target_; }

  // The next upstream API key, round robin; empty when the channel has none (local servers).
  std::string_view next_api_key();

 private:
  channel_config cfg_;
  upstream_target target_;
  std::atomic<std::uint64_t> next_key_{0};
};

}  // namespace sy
