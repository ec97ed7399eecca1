// One attempt of a routed request: the per-attempt state reset before it, what its outcome
// means (routing/retry.h), and what it teaches the health of its deployment and upstream key.
#pragma once

#include "common/error.h"
#include "routing/model_table.h"
#include "routing/retry.h"
#include "server/context.h"
#include "upstream/exchange.h"

#include <chrono>
#include <optional>

namespace sy {

// Clears what an earlier attempt of this request left in ctx (first byte, usage, kept output).
void begin_attempt(request_context& ctx);

// The verdict of an attempt that ended with `failure` (nothing sent), or with the upstream's
// answer `held` (nothing sent), or neither (answered; ctx.failure when a stream was cut).
routing::verdict attempt_verdict(const request_context& ctx, const std::optional<error>& failure,
                                 const upstream::held_answer* held);

// Records the attempt on `d` and on the upstream key it used (`key_index` into the channel's
// api_keys, -1 for none; `held`: the upstream's failure answer, if any): the circuit breakers, and
// for answers the latency statistics. A key the upstream refused (401/403) is disabled, logged and
// audited once.
void record_attempt(request_context& ctx, const deployment& d, int key_index, routing::verdict v,
                    const upstream::held_answer* held,
                    std::chrono::steady_clock::time_point started);

}  // namespace sy
