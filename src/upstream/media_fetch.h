// Downloads what a request references by URL (images, documents) for upstreams that only take
// inline bytes (Gemini). Guarded: http(s) only, a size limit, one overall timeout, at most three
// redirects, and no connection to loopback, private, link-local or otherwise internal addresses
// unless `allow_private` (the addresses are checked after resolution, and the connection goes to
// the checked address, so a DNS answer cannot swap in another one).
#pragma once

#include "common/error.h"
#include "common/net.h"
#include "config/config.h"
#include "protocol/ir/ir.h"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/address.hpp>

#include <optional>
#include <string>
#include <variant>

namespace sy::upstream {

struct fetched_media {
  std::string media_type;  // from Content-Type, else guessed from the URL's extension
  std::string data;        // base64
};

// Why a fetch failed, for the client's error message.
struct fetch_failure {
  std::string reason;
};

asio::awaitable<std::variant<fetched_media, fetch_failure>> fetch_media(
    std::string url, const media_fetch_config& cfg);

// Replaces every image or document part of `req` that holds an http(s) URL (in messages and in
// tool results) with its bytes. Returns a 400 error naming the part when a fetch fails.
asio::awaitable<std::optional<error>> inline_media(ir::request& req, const media_fetch_config& cfg);

// Whether `a` is an address a fetch must not reach unless allowed: loopback, private (RFC 1918,
// fc00::/7), link-local, carrier-grade NAT, unspecified, multicast, reserved.
bool is_internal_address(const asio::ip::address& a);

}  // namespace sy::upstream
