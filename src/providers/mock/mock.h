// The built-in `mock` channel: answers like OpenAI (chat completions, streamed or not, and
// embeddings) without a network, deterministically (same request, same answer), with a
// configurable latency and length. For demos, tests and benchmarks.
#pragma once

#include "protocol/ir/ir.h"
#include "protocol/openai/request_probe.h"
#include "providers/channel.h"
#include "server/context.h"

#include <boost/asio/awaitable.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace sy::mock {

// The answer text for a request whose messages hash to `seed`: `words` words.
std::vector<std::string> answer_words(std::uint64_t seed, int words);

asio::awaitable<void> serve_chat(request_context& ctx, const channel& ch,
                                 const openai::request_probe& probe);
// The same deterministic answer as an IR response, for clients of another protocol (their
// codec encodes it). Seeded by the request's text, so the same request gets the same answer.
ir::response respond(const channel& ch, const ir::request& req);

asio::awaitable<void> serve_embeddings(request_context& ctx, const channel& ch,
                                       const openai::request_probe& probe);

}  // namespace sy::mock
