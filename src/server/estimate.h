// Token counts the gateway makes itself when the upstream's are missing or cut short: the client
// went away mid-stream (OpenAI's usage chunk never came), the upstream died mid-answer, or a
// server never reports usage. The request and what was generated are counted with the BPE
// tokenizer of the upstream model (billing/tokenizer.h) and the ledger row is marked estimated.
#pragma once

#include "billing/tokenizer.h"
#include "protocol/ir/ir.h"
#include "server/context.h"

#include <cstdint>
#include <string_view>

namespace sy {

// The prompt tokens of `r`: the text of its system prompt, messages, tool calls and results
// and tool definitions, plus OpenAI's framing (3 per message, 3 to prime the reply) and a flat
// 765 per image or document (a 512x512 high-detail image on OpenAI's scale).
std::int64_t estimate_prompt_tokens(billing::encoding e, const ir::request& r);

// Whether the request's usage must be estimated: the upstream answered (2xx) and either reported
// no usage, or the answer was cut short (client gone, upstream failed mid-answer).
bool needs_estimate(const request_context& ctx);

// Fills in ctx.usage where it is missing or short: the prompt from `request_body` (in the
// upstream's protocol) when the upstream did not count it, the output as the larger of what it
// reported and what ctx.generated holds (scaled up when the cap cut it). Sets ctx.estimated when
// anything was counted here.
void estimate_usage(request_context& ctx, ir::protocol upstream, std::string_view request_body,
                    bool stream);

}  // namespace sy
