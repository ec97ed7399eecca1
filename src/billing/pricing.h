// Prices per upstream model and what a request cost. The table layers, first match wins:
//   1. the channel's own `pricing:` entries (when the request went through that channel),
//   2. the config's top-level `pricing:` entries,
//   3. the shipped defaults (default_prices()).
// Inside one layer the most specific entry wins: an exact name before any glob, then the longest
// glob pattern, then the one written first. A model no layer prices has no price: its cost is
// unknown (nullopt), never a silent zero.
#pragma once

#include "billing/price.h"
#include "config/config.h"

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sy {

// The shipped list prices (USD per million tokens, standard tier, see pricing.cpp for the
// sources and the date they were read).
std::span<const price_entry> default_prices();

// Tokens of one request, OpenAI-style: `input` counts every prompt token (cache reads and
// cache writes included), `output` every generated token (reasoning included). Anthropic's
// input_tokens + cache_read_input_tokens + cache_creation_input_tokens and Gemini's
// candidatesTokenCount + thoughtsTokenCount must be summed by the caller.
struct usage_breakdown {
  std::int64_t input = 0;
  std::int64_t cached_input = 0;    // cache reads, inside `input`
  std::int64_t cache_write_5m = 0;  // inside `input`
  std::int64_t cache_write_1h = 0;  // inside `input`
  std::int64_t output = 0;
  std::int64_t reasoning = 0;  // inside `output`
};

// The cost in pico-USD (1e-12 USD), exact: every part is tokens x micro-USD per MTok.
// Inconsistent counts from a buggy upstream are clamped, never billed twice nor negative:
// negative counts count as 0; cache reads, then 5-minute writes, then 1-hour writes are each cut
// to the input tokens not yet accounted for (so uncached input is never negative and the prompt
// is never billed for more tokens than `input`); reasoning is cut to `output`.
__int128 cost_pico_usd(const price& p, const usage_breakdown& u);

// The cost in nano-USD (1e-9 USD), rounded half up from the exact pico-USD value (saturates at
// INT64_MAX, about 9.2 billion USD): the integer to store and sum.
std::int64_t cost_nano_usd(const price& p, const usage_breakdown& u);

// The most a request of `input` prompt tokens and at most `output` generated tokens can cost at
// `p`, in nano-USD rounded up: every input token at the dearest input rate (a cache write may
// cost more than a plain read), every output token at the dearer of output and reasoning. What a
// budget reserves before the request is sent.
std::int64_t worst_case_nano_usd(const price& p, std::int64_t input, std::int64_t output);

// The cost in USD: the exact pico-USD value divided by 1e12 (the nearest double; do not sum
// these, sum cost_nano_usd). With an unknown price (nullopt), nullopt.
std::optional<double> cost_usd(const price& p, const usage_breakdown& u);
std::optional<double> cost_usd(const std::optional<price>& p, const usage_breakdown& u);

// Whether `name` matches `pattern`: '*' any run of characters (also none), '?' one character,
// everything else itself (case-sensitive).
bool price_glob_match(std::string_view pattern, std::string_view name);

class pricing_table {
 public:
  // The shipped defaults only.
  pricing_table();
  // The defaults, then cfg.pricing above them, then each channel's pricing above both.
  explicit pricing_table(const config& cfg);

  // Replaces the config layer / one channel's layer.
  void set_global(const std::vector<price_entry>& entries);
  void set_channel(const std::string& channel, const std::vector<price_entry>& entries);

  // The price for `upstream_model` served by `channel` ("" or an unknown channel: no channel
  // layer). nullopt: unknown, the caller records the cost as unknown and warns.
  std::optional<price> find(std::string_view channel, std::string_view upstream_model) const;
  // The same, returning the entry that matched (its pattern says why), or nullptr.
  const price_entry* find_entry(std::string_view channel, std::string_view upstream_model) const;

 private:
  struct layer {
    std::unordered_map<std::string, price_entry> exact;
    std::vector<price_entry> globs;  // longest pattern first; equal lengths in written order
    const price_entry* match(std::string_view name) const;
  };
  static layer make_layer(std::span<const price_entry> entries);

  layer defaults_;
  layer global_;
  std::map<std::string, layer, std::less<>> channels_;
};

}  // namespace sy
