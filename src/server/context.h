// The state of one request as it moves through its phases (authenticate, decode, route,
// exchange, relay, log). Owned by the session; every phase reads and fills it.
#pragma once

#include "auth/key_table.h"
#include "billing/budget.h"
#include "common/error.h"
#include "limits/rate_limiter.h"
#include "protocol/ir/ir.h"
#include "protocol/openai/usage_sniffer.h"
#include "server/response_writer.h"
#include "server/runtime.h"
#include "upstream/race.h"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <optional>
#include <string>

namespace sy {

class worker;
using clock = std::chrono::steady_clock;

// The last key a connection authenticated with: a keep-alive connection almost always presents
// the same key again, and comparing it costs far less than hashing it. It holds the snapshot its
// record belongs to: the session drops the entry when the worker's snapshot changes, and holding
// it means an old snapshot's memory is never reused while the entry points into it.
struct auth_cache {
  std::string key;
  std::shared_ptr<const runtime> rt;  // the snapshot `record` belongs to
  const key_record* record = nullptr;
  std::int64_t until = key_table::forever;  // a rotated-out secret's end of grace

  // Called by the session before each request.
  void follow(const std::shared_ptr<const runtime>& current) {
    if (rt == current) return;
    rt = current;
    record = nullptr;
    key.clear();
  }
};

struct request_context {
  worker& w;
  const runtime& rt;
  beast::tcp_stream& client;
  beast::flat_buffer& client_buffer;  // pipelined bytes read while a response is relayed
  beast::http::request<beast::http::string_body>& req;
  response_writer out;
  const asio::ip::address& client_ip;  // the peer of the connection

  std::string request_id;
  bool keep_alive = true;
  // The protocol the client speaks: errors the gateway makes are written in it.
  ir::protocol client_protocol = ir::protocol::openai;
  // The protocol of the channel the request was routed to (translated when it differs).
  std::optional<ir::protocol> upstream_protocol;
  clock::time_point start = clock::now();
  std::optional<clock::time_point> first_byte;  // first response byte from the upstream

  // Filled as the phases learn them, for the access log and metrics.
  const key_record* key = nullptr;
  std::string model;
  std::string channel;
  std::string upstream_model;  // the name the channel was asked for (after the model map)
  int attempts = 0;            // upstream attempts (retries and failovers included)
  bool stream = false;
  usage_counts usage;
  std::optional<errc> failure;  // the gateway's own error, if it ended in one
  // What was generated, kept (capped at generated_cap bytes, 256 KiB) for an estimate in case the
  // upstream reports no usage: the answer's text (translated relays) or the upstream's raw bytes
  // (passthrough, `generated_raw`). `generated_dropped` counts the bytes beyond the cap.
  std::string generated;
  bool generated_raw = false;
  std::uint64_t generated_dropped = 0;
  bool estimated = false;  // ctx.usage was counted by the gateway's tokenizer (server/estimate.h)
  static constexpr std::size_t generated_cap = 256u << 10;
  void keep_generated(std::string_view bytes) {
    const std::size_t room = generated_cap - std::min(generated_cap, generated.size());
    const std::size_t kept = std::min(room, bytes.size());
    generated.append(bytes.substr(0, kept));
    generated_dropped += bytes.size() - kept;
  }

  auth_cache* auth = nullptr;   // owned by the session
  rate_ticket ticket;           // the admitted request's share of its key's limits
  billing::budget_hold budget;  // its worst-case cost, reserved on its key's and user's budgets
  // The price of `upstream_model` on `channel`, looked up once (server/usage_cost.h price_of):
  // the budget, the cost headers, the ledger and the access log all use this one.
  std::optional<price> model_price;
  bool price_known = false;

  // Set while an upstream connection is in use, so a client that goes away can drop it at once.
  beast::tcp_stream* upstream = nullptr;
  upstream::race* racing = nullptr;  // while two hedged attempts race (both are dropped)
  std::string_view hedge;            // "won" / "lost" when the request was hedged (access log)
  // The snapshot the request started with (held by the session), for work that may outlive
  // the request (a hedged attempt that lost).
  const std::shared_ptr<const runtime>* snapshot = nullptr;
  bool client_gone = false;
};

}  // namespace sy
