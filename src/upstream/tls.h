// The client side of TLS to upstreams: peer verification (system CA store, or a channel's own
// CA file), TLS 1.2 and later. SNI and host-name checks are set per connection (pool.cpp).
#pragma once

#include "common/net.h"

#include <boost/asio/ssl/context.hpp>

#include <memory>
#include <string>

namespace sy::upstream {

// `ca_file` empty: the system CA store. An unreadable file leaves the context with no trust
// anchor, so every handshake fails, visibly (the config loader already checked it exists).
std::unique_ptr<asio::ssl::context> make_client_tls_context(const std::string& ca_file = {});

}  // namespace sy::upstream
