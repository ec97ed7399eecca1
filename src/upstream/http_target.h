// Where an http(s) URL points, in the parts a client request needs: for the gateway's own
// outgoing requests (media downloads for Gemini, alert webhooks).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sy::upstream {

struct http_target {
  bool tls = false;
  std::string host;         // without brackets: what the resolver, SNI and verification take
  std::string port;         // the URL's, or 443 / 80
  std::string path;         // with the query; "/" when empty
  std::string host_header;  // host[:port] as written, IPv6 in brackets, as the Host header wants
};

// http://... or https://... with a host; nullopt for any other URL.
std::optional<http_target> parse_http_target(std::string_view url);

}  // namespace sy::upstream
