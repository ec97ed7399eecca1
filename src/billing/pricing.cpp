#include "billing/pricing.h"

#include <algorithm>
#include <limits>

namespace sy {
namespace {

// USD per MTok, written as in the vendors' tables, to micro-USD per MTok. Only for the
// constants below (all with at most 6 decimals; +0.5 absorbs the binary representation).
constexpr micro_usd_per_mtok usd(double per_mtok) {
  return static_cast<micro_usd_per_mtok>(per_mtok * 1e6 + 0.5);
}

// OpenAI: input, cached input, output. Reasoning tokens are output tokens at the output price.
constexpr price openai(double in, double cached, double out) {
  return price{usd(in), usd(cached), std::nullopt, std::nullopt, usd(out), std::nullopt};
}
// OpenAI models without a cached-input price (caching unsupported: cached tokens, if any were
// reported, are billed at the input price).
constexpr price openai_uncached(double in, double out) {
  return price{usd(in), std::nullopt, std::nullopt, std::nullopt, usd(out), std::nullopt};
}
// Anthropic: base input, cache hits, 5-minute cache writes, 1-hour cache writes, output.
constexpr price anthropic(double in, double hit, double w5m, double w1h, double out) {
  return price{usd(in), usd(hit), usd(w5m), usd(w1h), usd(out), std::nullopt};
}
// Gemini: input, context-cache reads, output (thinking tokens at the output price). Cache
// storage per hour is not a per-request cost and is not modelled.
constexpr price gemini(double in, double cached, double out) {
  return openai(in, cached, out);
}
// `base` up to `above` prompt tokens, `tier` beyond.
price long_context(price base, std::int64_t above, price tier) {
  base.long_context_above = above;
  base.long_context.push_back(std::move(tier));
  return base;
}
// OpenAI's GPT-6 / 5.6 families: above 272K input tokens the whole request is billed at twice the
// input and cached rates and 1.5 times the output rate.
price openai_272k(double in, double cached, double out) {
  return long_context(openai(in, cached, out), 272'000, openai(2 * in, 2 * cached, 1.5 * out));
}
constexpr price gemini_uncached(double in, double out) {
  return openai_uncached(in, out);
}

// The shipped table. Standard-tier list prices in USD per million tokens, read on 2026-11-26
// from the vendors' pages as stored by the project's reference search:
//   OpenAI     https://developers.openai.com/api/docs/pricing and the per-model pages
//              (https://developers.openai.com/api/docs/models/<model>); the gpt-5.1 .. gpt-5.5
//              rows as restated from that page by third-party tables (morphllm.com, June 2026;
//              nicolalazzari.ai, 2026), since the stored copy of the page itself was partial.
//   Anthropic  https://platform.claude.com/docs/en/about-claude/pricing ("Model pricing").
//              Claude 3.5 Sonnet, retired and no longer on that page: its last list price.
//   Gemini     https://ai.google.dev/gemini-api/docs/pricing (paid tier, text/image/video input;
//              Gemini 2.5 Pro's prices for prompts above 200K tokens as its long-context tier).
// Newer models, read 2026-11-26 from the vendors' model pages (platform.claude.com/docs/.../models/
// <model>/overview, developers.openai.com/api/docs/models/<model>): Claude Fable 5 / 5.1, Mythos
// 5 (priced as Fable 5), Opus 5 / 5.5, Sonnet 5 / 5.5, Haiku 5.5 (its >100K-token tier: cache
// prices by Anthropic's usual 1.25x / 2x / 0.1x of input); gpt-6.2-sol, gpt-6.1-terra,
// gpt-6-luna, gpt-5.6-luna (>272K: 2x input and cached, 1.5x output). The ids claude-opus-5-5,
// claude-sonnet-5-5 and claude-haiku-5-5 were seen on third-party pages only (a wrong id simply
// matches nothing). gpt-5.6-sol is left out (its page gave a promotional price that has ended),
// and so is every Gemini 3.x model (no official price page could be read here).
// Left out: batch/flex/priority tiers; OpenAI's cache-write prices; Gemini audio input prices;
// Anthropic long-context (1M) prices above 200K for the 4.x models (add them as a
// `long_context:` tier in the config). Config entries override any of these.
// Patterns: the alias exactly, and `<alias>-20*` for OpenAI's dated snapshots; Anthropic ids
// carry their date after the alias (claude-haiku-4-5-20251001), hence `<alias>*`. Variants not
// listed (audio, realtime, tts, image models) have no price on purpose: unknown, not wrong.
const price_entry default_table[] = {
    // OpenAI
    {"gpt-4o", openai(2.50, 1.25, 10.00)},
    {"gpt-4o-20*", openai(2.50, 1.25, 10.00)},
    {"gpt-4o-2024-05-13", openai_uncached(5.00, 15.00)},
    {"gpt-4o-mini", openai(0.15, 0.075, 0.60)},
    {"gpt-4o-mini-20*", openai(0.15, 0.075, 0.60)},
    {"gpt-4.1", openai(2.00, 0.50, 8.00)},
    {"gpt-4.1-20*", openai(2.00, 0.50, 8.00)},
    {"gpt-4.1-mini", openai(0.40, 0.10, 1.60)},
    {"gpt-4.1-mini-20*", openai(0.40, 0.10, 1.60)},
    {"gpt-4.1-nano", openai(0.10, 0.025, 0.40)},
    {"gpt-4.1-nano-20*", openai(0.10, 0.025, 0.40)},
    {"gpt-5", openai(1.25, 0.125, 10.00)},
    {"gpt-5-20*", openai(1.25, 0.125, 10.00)},
    {"gpt-5-chat-latest", openai(1.25, 0.125, 10.00)},
    {"gpt-5-mini", openai(0.25, 0.025, 2.00)},
    {"gpt-5-mini-20*", openai(0.25, 0.025, 2.00)},
    {"gpt-5-nano", openai(0.05, 0.005, 0.40)},
    {"gpt-5-nano-20*", openai(0.05, 0.005, 0.40)},
    {"gpt-5.1", openai(1.25, 0.125, 10.00)},
    {"gpt-5.1-20*", openai(1.25, 0.125, 10.00)},
    {"gpt-5.2", openai(1.75, 0.175, 14.00)},
    {"gpt-5.2-20*", openai(1.75, 0.175, 14.00)},
    {"gpt-5.4", openai(2.50, 0.25, 15.00)},
    {"gpt-5.4-20*", openai(2.50, 0.25, 15.00)},
    {"gpt-5.4-mini", openai(0.75, 0.075, 4.50)},
    {"gpt-5.4-mini-20*", openai(0.75, 0.075, 4.50)},
    {"gpt-5.4-nano", openai(0.20, 0.02, 1.25)},
    {"gpt-5.4-nano-20*", openai(0.20, 0.02, 1.25)},
    {"gpt-5.5", openai(5.00, 0.50, 30.00)},
    {"gpt-5.5-20*", openai(5.00, 0.50, 30.00)},
    {"o1", openai(15.00, 7.50, 60.00)},
    {"o1-20*", openai(15.00, 7.50, 60.00)},
    {"o3", openai(2.00, 0.50, 8.00)},
    {"o3-20*", openai(2.00, 0.50, 8.00)},
    {"o3-mini", openai(1.10, 0.55, 4.40)},
    {"o3-mini-20*", openai(1.10, 0.55, 4.40)},
    {"o4-mini", openai(1.10, 0.275, 4.40)},
    {"o4-mini-20*", openai(1.10, 0.275, 4.40)},
    {"gpt-6.2-sol", openai_272k(2.00, 0.10, 10.00)},
    {"gpt-6.1-terra", openai_272k(1.00, 0.05, 5.00)},
    {"gpt-6-luna", openai_272k(0.10, 0.01, 0.50)},
    {"gpt-5.6-luna", openai_272k(0.20, 0.02, 1.20)},
    // Anthropic
    {"claude-fable-5-1*", anthropic(10.00, 0.25, 12.50, 20.00, 50.00)},
    {"claude-fable-5*", anthropic(10.00, 1.00, 12.50, 20.00, 50.00)},
    {"claude-mythos-5*", anthropic(10.00, 1.00, 12.50, 20.00, 50.00)},
    {"claude-opus-5-5*", anthropic(4.00, 0.20, 5.00, 8.00, 20.00)},
    {"claude-opus-5*", anthropic(5.00, 0.50, 6.25, 10.00, 25.00)},
    {"claude-sonnet-5*", anthropic(2.00, 0.20, 2.50, 4.00, 10.00)},  // Sonnet 5 and 5.5
    {"claude-haiku-5-5*", long_context(anthropic(0.10, 0.01, 0.125, 0.20, 0.50), 100'000,
                                       anthropic(0.50, 0.05, 0.625, 1.00, 2.50))},
    {"claude-opus-4-7*", anthropic(5.00, 0.50, 6.25, 10.00, 25.00)},
    {"claude-opus-4-6*", anthropic(5.00, 0.50, 6.25, 10.00, 25.00)},
    {"claude-opus-4-5*", anthropic(5.00, 0.50, 6.25, 10.00, 25.00)},
    {"claude-opus-4-1*", anthropic(15.00, 1.50, 18.75, 30.00, 75.00)},
    {"claude-opus-4-0*", anthropic(15.00, 1.50, 18.75, 30.00, 75.00)},
    {"claude-opus-4-2025*", anthropic(15.00, 1.50, 18.75, 30.00, 75.00)},  // claude-opus-4-20250514
    {"claude-sonnet-4-6*", anthropic(3.00, 0.30, 3.75, 6.00, 15.00)},
    {"claude-sonnet-4-5*", anthropic(3.00, 0.30, 3.75, 6.00, 15.00)},
    {"claude-sonnet-4-0*", anthropic(3.00, 0.30, 3.75, 6.00, 15.00)},
    {"claude-sonnet-4-2025*", anthropic(3.00, 0.30, 3.75, 6.00, 15.00)},
    {"claude-3-7-sonnet*", anthropic(3.00, 0.30, 3.75, 6.00, 15.00)},
    {"claude-3-5-sonnet*", anthropic(3.00, 0.30, 3.75, 6.00, 15.00)},
    {"claude-haiku-4-5*", anthropic(1.00, 0.10, 1.25, 2.00, 5.00)},
    {"claude-3-5-haiku*", anthropic(0.80, 0.08, 1.00, 1.60, 4.00)},
    {"claude-3-opus*", anthropic(15.00, 1.50, 18.75, 30.00, 75.00)},
    {"claude-3-haiku*", anthropic(0.25, 0.03, 0.30, 0.50, 1.25)},
    // Gemini
    {"gemini-2.5-pro",
     long_context(gemini(1.25, 0.125, 10.00), 200'000, gemini(2.50, 0.25, 15.00))},
    {"gemini-2.5-flash", gemini(0.30, 0.03, 2.50)},
    {"gemini-2.5-flash-preview-09-2025", gemini(0.30, 0.03, 2.50)},
    {"gemini-2.5-flash-lite", gemini(0.10, 0.01, 0.40)},
    {"gemini-2.5-flash-lite-preview-09-2025", gemini(0.10, 0.01, 0.40)},
    {"gemini-2.0-flash", gemini(0.10, 0.025, 0.40)},
    {"gemini-2.0-flash-001", gemini(0.10, 0.025, 0.40)},
    {"gemini-2.0-flash-lite", gemini_uncached(0.075, 0.30)},
    {"gemini-2.0-flash-lite-001", gemini_uncached(0.075, 0.30)},
};

bool is_glob(std::string_view pattern) {
  return pattern.find_first_of("*?") != std::string_view::npos;
}

std::int64_t non_negative(std::int64_t v) {
  return v < 0 ? 0 : v;
}

}  // namespace

std::span<const price_entry> default_prices() {
  return default_table;
}

std::optional<micro_usd_per_mtok> parse_usd_per_mtok(std::string_view text) {
  if (text.empty()) return std::nullopt;
  micro_usd_per_mtok whole = 0;
  std::size_t i = 0;
  bool digits = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    whole = whole * 10 + (text[i] - '0');
    digits = true;
    if (whole > max_price / 1'000'000) return std::nullopt;
  }
  micro_usd_per_mtok frac = 0;
  int places = 0;
  if (i < text.size() && text[i] == '.') {
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (++places > 6) return std::nullopt;
      frac = frac * 10 + (text[i] - '0');
      digits = true;
    }
  }
  if (!digits || i != text.size()) return std::nullopt;
  for (; places < 6; ++places)
    frac *= 10;
  auto value = whole * 1'000'000 + frac;
  if (value > max_price) return std::nullopt;
  return value;
}

std::string format_usd_per_mtok(micro_usd_per_mtok value) {
  std::string out = std::to_string(value / 1'000'000);
  auto frac = value % 1'000'000;
  if (frac == 0) return out;
  std::string digits = std::to_string(frac);
  digits.insert(0, 6 - digits.size(), '0');
  while (digits.back() == '0')
    digits.pop_back();
  return out + "." + digits;
}

bool price_glob_match(std::string_view pattern, std::string_view name) {
  // Iterative matching with one backtrack point (the last '*'): linear in practice.
  std::size_t p = 0, n = 0, star = std::string_view::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

__int128 cost_pico_usd(const price& tiered, const usage_breakdown& u) {
  const std::int64_t input = non_negative(u.input);
  const price& p = tiered.rates_for(input);
  std::int64_t left = input;
  const std::int64_t cached = std::min(non_negative(u.cached_input), left);
  left -= cached;
  const std::int64_t write_5m = std::min(non_negative(u.cache_write_5m), left);
  left -= write_5m;
  const std::int64_t write_1h = std::min(non_negative(u.cache_write_1h), left);
  left -= write_1h;
  const std::int64_t output = non_negative(u.output);
  const std::int64_t reasoning = std::min(non_negative(u.reasoning), output);

  auto part = [](std::int64_t tokens, micro_usd_per_mtok rate) {
    return static_cast<__int128>(tokens) * static_cast<__int128>(rate < 0 ? 0 : rate);
  };
  __int128 total = part(left, p.input);
  total += part(cached, p.cached_input.value_or(p.input));
  total += part(write_5m, p.cache_write_5m.value_or(p.input));
  total += part(write_1h, p.cache_write_1h.value_or(p.input));
  total += part(output - reasoning, p.output);
  total += part(reasoning, p.reasoning.value_or(p.output));
  return total;
}

std::int64_t cost_nano_usd(const price& p, const usage_breakdown& u) {
  __int128 nano = (cost_pico_usd(p, u) + 500) / 1000;
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  return nano > max ? max : static_cast<std::int64_t>(nano);
}

std::int64_t worst_case_nano_usd(const price& tiered, std::int64_t input, std::int64_t output) {
  // The input is an estimate: a long-context tier counts as if the prompt may reach it.
  micro_usd_per_mtok dearest_input = 0, dearest_output = 0;
  for (const price* p :
       {&tiered, tiered.long_context.empty() ? &tiered : &tiered.long_context[0]}) {
    dearest_input =
        std::max({dearest_input, p->input, p->cached_input.value_or(p->input),
                  p->cache_write_5m.value_or(p->input), p->cache_write_1h.value_or(p->input)});
    dearest_output = std::max({dearest_output, p->output, p->reasoning.value_or(p->output)});
  }
  const __int128 pico = static_cast<__int128>(std::max<std::int64_t>(input, 0)) * dearest_input +
                        static_cast<__int128>(std::max<std::int64_t>(output, 0)) * dearest_output;
  const __int128 nano = (pico + 999) / 1000;  // rounded up: a reservation never falls short
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  return nano > max ? max : static_cast<std::int64_t>(nano);
}

std::optional<double> cost_usd(const price& p, const usage_breakdown& u) {
  // The pico-USD value converts to long double exactly below 2^64 (about USD 18 million); the
  // division then rounds in long double and once more to double.
  return static_cast<double>(static_cast<long double>(cost_pico_usd(p, u)) / 1e12L);
}

std::optional<double> cost_usd(const std::optional<price>& p, const usage_breakdown& u) {
  if (!p) return std::nullopt;
  return cost_usd(*p, u);
}

const price_entry* pricing_table::layer::match(std::string_view name) const {
  if (auto it = exact.find(std::string(name)); it != exact.end()) return &it->second;
  for (const auto& g : globs) {
    if (price_glob_match(g.pattern, name)) return &g;
  }
  return nullptr;
}

pricing_table::layer pricing_table::make_layer(std::span<const price_entry> entries) {
  layer l;
  for (const auto& e : entries) {
    if (is_glob(e.pattern)) {
      l.globs.push_back(e);
    } else {
      l.exact.emplace(e.pattern, e);  // the first of duplicates stays
    }
  }
  std::stable_sort(l.globs.begin(), l.globs.end(), [](const price_entry& a, const price_entry& b) {
    return a.pattern.size() > b.pattern.size();
  });
  return l;
}

pricing_table::pricing_table() : defaults_(make_layer(default_prices())) {}

pricing_table::pricing_table(const config& cfg) : pricing_table() {
  set_global(cfg.pricing);
  for (const auto& ch : cfg.channels) {
    if (!ch.pricing.empty()) set_channel(ch.name, ch.pricing);
  }
}

void pricing_table::set_global(const std::vector<price_entry>& entries) {
  global_ = make_layer(entries);
}

void pricing_table::set_channel(const std::string& channel,
                                const std::vector<price_entry>& entries) {
  if (entries.empty()) {
    channels_.erase(channel);
  } else {
    channels_[channel] = make_layer(entries);
  }
}

const price_entry* pricing_table::find_entry(std::string_view channel,
                                             std::string_view upstream_model) const {
  if (auto it = channels_.find(channel); it != channels_.end()) {
    if (auto* e = it->second.match(upstream_model)) return e;
  }
  if (auto* e = global_.match(upstream_model)) return e;
  return defaults_.match(upstream_model);
}

std::optional<price> pricing_table::find(std::string_view channel,
                                         std::string_view upstream_model) const {
  if (auto* e = find_entry(channel, upstream_model)) return e->value;
  return std::nullopt;
}

}  // namespace sy
