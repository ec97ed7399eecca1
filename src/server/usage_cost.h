// A request's usage as the books count it, its price and its cost: shared by the logging phase
// (ledger row, budgets, access log) and the response headers of non-streamed answers.
#pragma once

#include "billing/pricing.h"
#include "server/context.h"

#include <optional>

namespace sy {

// The request's usage as the pricing table counts it (OpenAI-style: cached and cache-write
// tokens inside input, reasoning inside output).
usage_breakdown breakdown(const usage_counts& u);

// The request's price (nullopt: none), looked up on its first use and kept in ctx.
const std::optional<price>& price_of(request_context& ctx);

// Whether the upstream reported any usage.
bool has_usage(const usage_counts& u);

// x-sy-request-cost (USD, exact decimal; "unknown" without a price) and the token counts
// (x-sy-input-tokens, x-sy-output-tokens, and x-sy-cached-input-tokens, x-sy-cache-write-tokens,
// x-sy-reasoning-tokens when not zero), on the response about to start. Nothing when the
// upstream reported no usage or no channel served the request.
void add_cost_headers(request_context& ctx);

}  // namespace sy
