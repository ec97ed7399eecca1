// A model's list price, as the config and the shipped table write it. Kept apart from pricing.h
// so that config/config.h can hold prices without depending on the table or the config itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy {

// Prices are integers in micro-USD per million tokens (USD/MTok x 1e6), which is also pico-USD
// per token: every list price (at most 6 decimal places in USD/MTok) is exact, and a cost is an
// exact integer product (see cost_pico_usd in pricing.h).
using micro_usd_per_mtok = std::int64_t;

struct price {
  micro_usd_per_mtok input = 0;                      // uncached prompt tokens
  std::optional<micro_usd_per_mtok> cached_input;    // cache reads; absent: the input price
  std::optional<micro_usd_per_mtok> cache_write_5m;  // Anthropic 5-minute writes; absent: input
  std::optional<micro_usd_per_mtok> cache_write_1h;  // Anthropic 1-hour writes; absent: input
  micro_usd_per_mtok output = 0;
  std::optional<micro_usd_per_mtok> reasoning;  // absent: the output price, as vendors bill it
  // A dearer tier for long prompts: a request whose prompt (input, cache reads and writes
  // included) has more than `long_context_above` tokens is billed wholly at long_context[0]'s
  // rates (Gemini 2.5 Pro above 200K tokens). Empty: one tier. (A vector: `price` is incomplete
  // here; it holds one price at most.)
  std::int64_t long_context_above = 0;
  std::vector<price> long_context;

  // The rates a prompt of `input_tokens` is billed at.
  const price& rates_for(std::int64_t input_tokens) const {
    return !long_context.empty() && input_tokens > long_context_above ? long_context.front()
                                                                      : *this;
  }

  friend bool operator==(const price&, const price&) = default;
};

// One row of a pricing table: an upstream model name or a glob over it ('*' any run, '?' one
// character).
struct price_entry {
  std::string pattern;
  price value;

  friend bool operator==(const price_entry&, const price_entry&) = default;
};

// The largest price accepted: USD 1,000,000 per million tokens.
inline constexpr micro_usd_per_mtok max_price = 1'000'000LL * 1'000'000LL;

// "1.25" -> 1250000. A plain non-negative decimal with at most 6 decimal places and at most
// max_price; anything else (signs, exponents, "1e3", "", ".", "1.2345678") -> nullopt.
std::optional<micro_usd_per_mtok> parse_usd_per_mtok(std::string_view text);

// 1250000 -> "1.25": the shortest decimal that parse_usd_per_mtok reads back to the same value.
std::string format_usd_per_mtok(micro_usd_per_mtok value);

}  // namespace sy
