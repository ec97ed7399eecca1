// The endpoint table: path and method → handler. Handlers write the response through ctx.out.
#pragma once

#include "common/error.h"
#include "protocol/ir/ir.h"
#include "server/context.h"

#include <boost/asio/awaitable.hpp>

namespace sy {

asio::awaitable<void> dispatch(request_context& ctx);

// Which protocol a client speaks, judged by the request target: /v1beta/... is Gemini,
// /v1/messages... Anthropic, anything else OpenAI.
ir::protocol protocol_for_path(std::string_view target);

// The status and body of the gateway's own error `e` in protocol `p`'s error format.
std::pair<unsigned, std::string> encode_gateway_error(ir::protocol p, const error& e);

// Writes `e` as the response, in the client protocol's error format.
// (Coroutine arguments are always named objects, never temporaries: GCC 12 can destroy a
// temporary in a co_await expression twice.)
asio::awaitable<void> send_error(request_context& ctx, const error& e);

// %XX decoding (a '+' stays a '+').
std::string url_decode(std::string_view text);
// The value of query parameter `name` in `target`, %-decoded ("" when absent).
std::string query_param(std::string_view target, std::string_view name);

}  // namespace sy
