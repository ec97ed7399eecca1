// One upstream exchange: send the request on a pooled connection, relay the response to the
// client piece by piece as it arrives, enforce connect / first-byte / idle / total timeouts.
// A reused keep-alive connection that turns out dead before any response byte is replaced by a
// fresh one once; nothing is retried after a byte has gone to the client.
#pragma once

#include "common/error.h"
#include "protocol/ir/codec.h"
#include "providers/channel.h"
#include "server/context.h"
#include "upstream/pool.h"

#include <boost/beast/http/verb.hpp>

#include <optional>
#include <string>

namespace sy::upstream {

// Set when the client and the upstream speak different protocols: the response (or stream, or
// error) is decoded from `upstream` and re-encoded for `client` instead of relayed as bytes.
struct translation {
  ir::protocol client = ir::protocol::openai;
  ir::protocol upstream = ir::protocol::openai;
  ir::stream_options stream;  // for the client's stream encoder
};

struct call {
  channel& target;
  beast::http::verb method = beast::http::verb::post;
  std::string path;     // request target, base path included
  std::string headers;  // "Name: value\r\n" lines: auth and version (providers::build)
  std::string body;     // JSON
  bool stream = false;
  std::optional<translation> translate;
  // Passthrough of an OpenAI stream whose usage the gateway asked for and the client did not:
  // the usage chunk and the "usage":null members are kept from the client.
  bool hide_usage = false;
};

// Relays the upstream's response (any status) to the client through ctx.out. Returns the error
// to send the client when the exchange failed before any response byte went out.
asio::awaitable<std::optional<error>> forward(request_context& ctx, pool& connections, call& c);

}  // namespace sy::upstream
