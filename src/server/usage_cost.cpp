#include "server/usage_cost.h"

#include "billing/usage_query.h"

namespace sy {

usage_breakdown breakdown(const usage_counts& u) {
  auto count = [](std::int64_t v) { return std::max<std::int64_t>(v, 0); };
  usage_breakdown b;
  b.input = count(u.prompt_tokens);
  b.cached_input = count(u.cached_tokens);
  b.cache_write_1h = count(u.cache_write_1h_tokens);
  b.cache_write_5m = std::max<std::int64_t>(count(u.cache_write_tokens) - b.cache_write_1h, 0);
  b.output = count(u.completion_tokens);
  b.reasoning = count(u.reasoning_tokens);
  return b;
}

const std::optional<price>& price_of(request_context& ctx) {
  if (!ctx.price_known) {
    ctx.model_price = ctx.rt.pricing.find(ctx.channel, ctx.upstream_model);
    ctx.price_known = true;
  }
  return ctx.model_price;
}

bool has_usage(const usage_counts& u) {
  return u.prompt_tokens >= 0 || u.completion_tokens >= 0;
}

void add_cost_headers(request_context& ctx) {
  if (ctx.channel.empty() || !has_usage(ctx.usage)) return;
  const auto b = breakdown(ctx.usage);
  const auto& p = price_of(ctx);
  ctx.out.header("x-sy-request-cost",
                 p ? billing::format_nano_usd(cost_nano_usd(*p, b)) : std::string("unknown"));
  ctx.out.header("x-sy-input-tokens", std::to_string(b.input));
  ctx.out.header("x-sy-output-tokens", std::to_string(b.output));
  if (b.cached_input) ctx.out.header("x-sy-cached-input-tokens", std::to_string(b.cached_input));
  if (const auto writes = b.cache_write_5m + b.cache_write_1h) {
    ctx.out.header("x-sy-cache-write-tokens", std::to_string(writes));
  }
  if (b.reasoning) ctx.out.header("x-sy-reasoning-tokens", std::to_string(b.reasoning));
}

}  // namespace sy
