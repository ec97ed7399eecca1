// The authenticate and admit phases of a request: which key is calling, whether it may call now
// (valid, from an allowed address, signed when it must be, not from a blocked address), and
// whether its rate limits let the request in.
#pragma once

#include "common/error.h"
#include "metrics/metrics.h"
#include "server/context.h"

#include <chrono>
#include <optional>

namespace sy {

struct refusal {
  error e;
  metrics::refusal reason;
  std::chrono::milliseconds delay{0};  // hold the answer this long (failed authentication)
};

// Finds the presented key and checks it: everything but the model and the rate limits. Sets
// ctx.key on success. A refusal is counted in the metrics and, for a failed authentication,
// written to the audit log and charged to the client address.
std::optional<refusal> authenticate(request_context& ctx);

// The key's rate limits: on admission the ticket is kept in ctx (settled with the actual usage
// when the request ends) and the x-ratelimit-* headers are set on the response; a refusal
// carries retry-after and the same headers.
std::optional<refusal> admit(request_context& ctx);

// The key's and its user's spend budgets (once the deployment is picked, so its price is known):
// the request's worst case (its input estimate plus `max_output` tokens, or the configured
// default when it sets none, times `choices`) is reserved in ctx.budget, or the request is
// refused: 429 insufficient_quota when it does not fit, 403 model_not_priced when the model has
// no price (an unpriced model would let a budgeted key spend without bound).
std::optional<refusal> reserve_budget(request_context& ctx, std::int64_t max_output,
                                      std::int64_t choices);

// The estimate of a request's tokens that admission charges before usage is known.
std::int64_t estimate_request_tokens(std::string_view body);

}  // namespace sy
