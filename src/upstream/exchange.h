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
#include "upstream/race.h"

#include <boost/beast/http/verb.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace sy::upstream {

// Set when the client and the upstream speak different protocols: the response (or stream, or
// error) is decoded from `upstream` and re-encoded for `client` instead of relayed as bytes.
struct translation {
  ir::protocol client = ir::protocol::openai;
  ir::protocol upstream = ir::protocol::openai;
  ir::stream_options stream;  // for the client's stream encoder
};

// An upstream answer the router may act on (retry elsewhere, fall back), read whole and not yet
// sent to the client: a 400, 401, 403, 408, 413, 422, 429 or 5xx.
struct held_answer {
  unsigned status = 0;
  std::string body;                                          // up to max_held_failure bytes
  std::vector<std::pair<std::string, std::string>> headers;  // the upstream's end-to-end fields
  std::optional<std::chrono::milliseconds> retry_after;      // retry-after(-ms), when given
};

inline constexpr std::size_t max_held_failure = 1u << 20;

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
  // Failures, and 400/413/422 (a context-window or content-policy refusal, an "overloaded"
  // body), are held (see held_answer) instead of relayed, for the router to classify.
  bool hold_failures = false;
  std::optional<held_answer> held;  // set by forward when it held the answer
  // The request's own deadline (a group's timeout_ms, x-sy-timeout-ms), if sooner than the
  // channel's total timeout.
  std::optional<std::chrono::steady_clock::time_point> deadline;
  // Hedging: this call races another for the client as `racer` (0 or 1). A racer that lost
  // returns at once without touching the request's context again.
  race* racing = nullptr;
  int racer = 0;
  int key_index = -1;  // which of the channel's api_keys it carries (-1: none)
  bool lost() const { return racing && racing->lost(racer); }
};

// Whether an upstream status is held when failures are.
bool holds(unsigned status);

// Relays the upstream's response (any status) to the client through ctx.out. Returns the error
// to send the client when the exchange failed before any response byte went out.
// With c.hold_failures, a failure status is read whole into c.held instead (nothing is sent).
asio::awaitable<std::optional<error>> forward(request_context& ctx, pool& connections, call& c);

// Sends the held answer of `c` to the client: as it came (passthrough), or rewritten as the
// client protocol's error (translation).
asio::awaitable<void> relay_held(request_context& ctx, const call& c);

}  // namespace sy::upstream
