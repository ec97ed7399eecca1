#include "providers/channel.h"

#include "upstream/tls.h"

#include <boost/url/parse.hpp>

namespace sy {

channel::channel(channel_config cfg) : cfg_(std::move(cfg)) {
  if (cfg_.base_url.empty()) return;
  auto parsed = boost::urls::parse_absolute_uri(cfg_.base_url);
  if (!parsed) return;  // the config loader refuses such URLs; a bare target fails to resolve
  const auto& url = *parsed;
  target_.tls = url.scheme() == "https";
  target_.host = std::string(url.encoded_host_address());
  if (!target_.host.empty() && target_.host.front() == '[') {
    target_.host = target_.host.substr(1, target_.host.size() - 2);
  }
  // "http://host:/v1" has an empty port, which means the default one (RFC 3986 3.2.3).
  bool has_port = url.has_port() && !url.port().empty();
  target_.port = has_port ? std::string(url.port()) : (target_.tls ? "443" : "80");
  target_.host_header =
      has_port ? std::string(url.encoded_host_and_port()) : std::string(url.encoded_host());
  target_.base_path = std::string(url.encoded_path());
  while (!target_.base_path.empty() && target_.base_path.back() == '/') {
    target_.base_path.pop_back();
  }
  target_.pool_key = std::string(url.scheme()) + "://" + target_.host + ":" + target_.port;
  if (target_.tls && !cfg_.ca_file.empty()) {
    target_.tls_context = upstream::make_client_tls_context(cfg_.ca_file);
    target_.pool_key += "#" + cfg_.ca_file;  // connections verified differently do not mix
  }
}

int channel::next_key_index() {
  const auto n = cfg_.api_keys.size();
  if (n == 0) return -1;
  const auto first = next_key_.fetch_add(1, std::memory_order_relaxed);
  if (key_health_.size() == n) {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      const auto index = (first + i) % n;
      if (key_health_[index]->breaker.allow(now)) {
        if (i > 0) next_key_.store(first + i + 1, std::memory_order_relaxed);
        return static_cast<int>(index);
      }
    }
    // None usable: a key that only rests after a 429 before one that is broken or disabled.
    for (std::size_t i = 0; i < n; ++i) {
      const auto index = (first + i) % n;
      if (key_health_[index]->breaker.only_cooling(now)) return static_cast<int>(index);
    }
  }
  // Every key rests (or none is tracked): the router only comes here when it raced a change;
  // the turn's key goes, and its outcome is recorded as usual.
  return static_cast<int>(first % n);
}

bool channel::keys_available(std::chrono::steady_clock::time_point now) const {
  if (cfg_.api_keys.empty() || key_health_.size() != cfg_.api_keys.size()) return true;
  for (const auto& h : key_health_) {
    if (h->breaker.available(now)) return true;
  }
  return false;
}

bool channel::keys_resting(std::chrono::steady_clock::time_point now) const {
  if (cfg_.api_keys.empty() || key_health_.size() != cfg_.api_keys.size()) return false;
  bool some = false;
  for (const auto& h : key_health_) {
    if (h->breaker.available(now)) return false;
    some = some || h->breaker.only_cooling(now);
  }
  return some;
}

}  // namespace sy
