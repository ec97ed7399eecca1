#include "providers/channel.h"

#include <boost/url/parse.hpp>

namespace sy {

channel::channel(channel_config cfg) : cfg_(std::move(cfg)) {
  if (cfg_.base_url.empty()) return;
  // Validated by the config loader, so a parse failure here is a programming error.
  auto url = boost::urls::parse_absolute_uri(cfg_.base_url).value();
  target_.tls = url.scheme() == "https";
  target_.host = std::string(url.encoded_host_address());
  if (!target_.host.empty() && target_.host.front() == '[') {
    target_.host = target_.host.substr(1, target_.host.size() - 2);
  }
  target_.port = url.has_port() ? std::string(url.port()) : (target_.tls ? "443" : "80");
  target_.host_header = std::string(url.encoded_host_and_port());
  target_.base_path = std::string(url.encoded_path());
  while (!target_.base_path.empty() && target_.base_path.back() == '/') {
    target_.base_path.pop_back();
  }
  target_.pool_key = std::string(url.scheme()) + "://" + target_.host + ":" + target_.port;
}

std::string_view channel::next_api_key() {
  if (cfg_.api_keys.empty()) return {};
  auto i = next_key_.fetch_add(1, std::memory_order_relaxed);
  return cfg_.api_keys[i % cfg_.api_keys.size()];
}

}  // namespace sy
