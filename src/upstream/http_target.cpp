#include "upstream/http_target.h"

#include <boost/url/parse.hpp>

namespace sy::upstream {

std::optional<http_target> parse_http_target(std::string_view url) {
  // The scheme first: Boost.URL 1.81 asserts on "http:<" and the like (boostorg/url#665).
  if (!url.starts_with("http://") && !url.starts_with("https://")) return std::nullopt;
  auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) return std::nullopt;
  http_target t;
  t.tls = parsed->scheme() == "https";
  t.host = std::string(parsed->encoded_host_address());
  if (t.host.empty()) return std::nullopt;
  if (t.host.size() >= 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
  const bool has_port = parsed->has_port() && !parsed->port().empty();
  t.port = has_port ? std::string(parsed->port()) : (t.tls ? "443" : "80");
  t.host_header =
      has_port ? std::string(parsed->encoded_host_and_port()) : std::string(parsed->encoded_host());
  t.path = std::string(parsed->encoded_path());
  if (t.path.empty()) t.path = "/";
  if (parsed->has_query()) t.path += "?" + std::string(parsed->encoded_query());
  return t;
}

}  // namespace sy::upstream
