// A channel at run time: its config plus what is derived once from it (where the upstream is,
// which of its API keys goes next). Lives in the runtime snapshot; shared by all workers.
#pragma once

#include "common/net.h"
#include "config/config.h"
#include "routing/health.h"

#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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

  // The next upstream API key, round robin, skipping keys that rest (a 429's cooldown, an open
  // circuit) or were refused (401/403) while another is usable; empty when the channel has
  // none (local servers).
  std::string_view next_api_key() { return key(next_key_index()); }
  // The same, as an index into config().api_keys; -1 when the channel has no keys.
  int next_key_index();
  std::string_view key(int index) const {
    return index < 0 ? std::string_view{} : std::string_view(cfg_.api_keys[index]);
  }
  // Whether an upstream key may take a request now (true for a channel without keys).
  bool keys_available(std::chrono::steady_clock::time_point now) const;
  // Whether no key is available but some only rest after a 429 (none disabled or broken).
  bool keys_resting(std::chrono::steady_clock::time_point now) const;

  // The health of each upstream key, in api_keys order (set when the snapshot is built; none in
  // a channel built alone, whose keys are then always usable).
  void set_key_health(std::vector<std::shared_ptr<routing::target_health>> health) {
    key_health_ = std::move(health);
  }
  routing::target_health* key_health(int index) const {
    return index < 0 || static_cast<std::size_t>(index) >= key_health_.size()
               ? nullptr
               : key_health_[static_cast<std::size_t>(index)].get();
  }

 private:
  channel_config cfg_;
  upstream_target target_;
  std::atomic<std::uint64_t> next_key_{0};
  std::vector<std::shared_ptr<routing::target_health>> key_health_;
};

}  // namespace sy
