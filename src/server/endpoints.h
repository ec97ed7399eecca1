// The endpoint table: path and method → handler. Handlers write the response through ctx.out.
#pragma once

#include "common/error.h"
#include "server/context.h"

#include <boost/asio/awaitable.hpp>

namespace sy {

asio::awaitable<void> dispatch(request_context& ctx);

// Writes `e` as the response, in the client protocol's error format (OpenAI's today).
// (Coroutine arguments are always named objects, never temporaries: GCC 12 can destroy a
// temporary in a co_await expression twice.)
asio::awaitable<void> send_error(request_context& ctx, const error& e);

}  // namespace sy
