// The pricing table (lookups, layers, the shipped defaults) and the cost arithmetic, with one
// worked example per vendor (the same numbers as docs/billing.md).
#include "billing/pricing.h"

#include <gtest/gtest.h>

#include <set>
#include <variant>

namespace sy::test {
namespace {

constexpr micro_usd_per_mtok usd(double per_mtok) {
  return static_cast<micro_usd_per_mtok>(per_mtok * 1e6 + 0.5);
}

price flat(double in, double out) {
  return price{usd(in), {}, {}, {}, usd(out), {}};
}

config must_parse(const std::string& yaml) {
  auto result = parse_config(yaml, "test.yaml", env_lookup{});
  if (auto* e = std::get_if<config_error>(&result)) {
    ADD_FAILURE() << e->message;
    return config{};
  }
  return std::get<config>(std::move(result));
}

// ---- prices as text

TEST(parse_usd_per_mtok, exact_decimals) {
  EXPECT_EQ(parse_usd_per_mtok("1.25"), 1'250'000);
  EXPECT_EQ(parse_usd_per_mtok("0.005"), 5'000);
  EXPECT_EQ(parse_usd_per_mtok("0.000001"), 1);
  EXPECT_EQ(parse_usd_per_mtok("0"), 0);
  EXPECT_EQ(parse_usd_per_mtok("15"), 15'000'000);
  EXPECT_EQ(parse_usd_per_mtok(".5"), 500'000);
  EXPECT_EQ(parse_usd_per_mtok("2."), 2'000'000);
  EXPECT_EQ(parse_usd_per_mtok("1000000"), max_price);
}

TEST(parse_usd_per_mtok, refuses_what_is_not_a_plain_price) {
  for (const char* bad : {"", ".", "-1", "+1", "1e3", "0.0000001", "1,5", "abc", "1.2.3", " 1",
                          "1000000.000001", "99999999999999999999"}) {
    EXPECT_FALSE(parse_usd_per_mtok(bad)) << bad;
  }
}

TEST(format_usd_per_mtok, shortest_and_reads_back) {
  EXPECT_EQ(format_usd_per_mtok(1'250'000), "1.25");
  EXPECT_EQ(format_usd_per_mtok(5'000), "0.005");
  EXPECT_EQ(format_usd_per_mtok(15'000'000), "15");
  EXPECT_EQ(format_usd_per_mtok(0), "0");
  EXPECT_EQ(format_usd_per_mtok(1), "0.000001");
  for (micro_usd_per_mtok v : std::initializer_list<micro_usd_per_mtok>{0, 1, 10, 75'000, 275'000,
                                                                        18'750'000, max_price}) {
    EXPECT_EQ(parse_usd_per_mtok(format_usd_per_mtok(v)), v) << v;
  }
}

// ---- globs

TEST(price_glob_match, stars_and_question_marks) {
  EXPECT_TRUE(price_glob_match("claude-haiku-4-5*", "claude-haiku-4-5"));
  EXPECT_TRUE(price_glob_match("claude-haiku-4-5*", "claude-haiku-4-5-20251001"));
  EXPECT_FALSE(price_glob_match("claude-haiku-4-5*", "claude-haiku-4"));
  EXPECT_TRUE(price_glob_match("*", ""));
  EXPECT_TRUE(price_glob_match("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(price_glob_match("a*b*c", "aXXbYY"));
  EXPECT_TRUE(price_glob_match("o?-mini", "o4-mini"));
  EXPECT_FALSE(price_glob_match("o?-mini", "o-mini"));
  EXPECT_TRUE(price_glob_match("gpt-5", "gpt-5"));
  EXPECT_FALSE(price_glob_match("gpt-5", "GPT-5"));  // case-sensitive
  EXPECT_FALSE(price_glob_match("gpt-4o-20*", "gpt-4o-mini-2024-07-18"));
}

// ---- the table

TEST(pricing_table, exact_name_beats_any_glob) {
  pricing_table t;
  // Both "gpt-4o-2024-05-13" (exact) and "gpt-4o-20*" match: the exact one is the older price.
  auto p = t.find("", "gpt-4o-2024-05-13");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->input, usd(5.00));
  EXPECT_EQ(p->output, usd(15.00));
  EXPECT_EQ(t.find("", "gpt-4o-2024-08-06")->input, usd(2.50));

  t.set_global({{"my-*", flat(9, 9)}, {"my-model", flat(1, 2)}});
  EXPECT_EQ(t.find("", "my-model")->input, usd(1));
  EXPECT_EQ(t.find("", "my-model-2")->input, usd(9));
}

TEST(pricing_table, longest_glob_wins_then_the_first_written) {
  pricing_table t;
  t.set_global({{"c*", flat(1, 1)},
                {"claude-*", flat(2, 2)},
                {"claude-haiku-*", flat(3, 3)},
                {"x?z*", flat(4, 4)},
                {"x*yz", flat(5, 5)}});
  EXPECT_EQ(t.find("", "claude-haiku-9")->input, usd(3));
  EXPECT_EQ(t.find("", "claude-sonnet-9")->input, usd(2));
  EXPECT_EQ(t.find("", "cohere")->input, usd(1));
  // Two patterns of the same length: the one written first.
  EXPECT_EQ(t.find("", "xyzyz")->input, usd(4));
  EXPECT_EQ(t.find("", "xyz")->input, usd(4));
  EXPECT_EQ(t.find("", "x-yz")->input, usd(5));
  EXPECT_EQ(t.find_entry("", "claude-haiku-9")->pattern, "claude-haiku-*");
}

TEST(pricing_table, channel_beats_global_beats_default) {
  auto cfg = must_parse(R"(
pricing:
  gpt-5-nano: { input: 0.04, cached_input: 0.004, output: 0.30 }
  claude-*:   { input: 7, output: 70 }
channels:
  - name: cheap
    type: openai
    base_url: https://relay.example.com/v1
    models: ["*"]
    pricing:
      gpt-5-nano: { input: 0.01, output: 0.10 }
      "*":        { input: 0.5, output: 0.5 }
  - name: plain
    type: openai
    models: ["*"]
)");
  pricing_table t(cfg);
  // The channel's own entry.
  EXPECT_EQ(t.find("cheap", "gpt-5-nano")->input, usd(0.01));
  // A channel's glob beats a more specific global or default entry: its layer is consulted first.
  EXPECT_EQ(t.find("cheap", "gpt-4o")->input, usd(0.5));
  EXPECT_EQ(t.find("cheap", "claude-haiku-4-5")->input, usd(0.5));
  // Other channels and no channel: the global layer, then the defaults.
  EXPECT_EQ(t.find("plain", "gpt-5-nano")->input, usd(0.04));
  EXPECT_EQ(t.find("plain", "gpt-5-nano")->cached_input, usd(0.004));
  EXPECT_EQ(t.find("", "gpt-5-nano")->input, usd(0.04));
  EXPECT_EQ(t.find("", "claude-haiku-4-5")->input, usd(7));  // a global glob beats a default
  EXPECT_EQ(t.find("plain", "gpt-5")->input, usd(1.25));     // the shipped price
  EXPECT_EQ(t.find("nope", "gpt-5")->input, usd(1.25));
  // Replacing and removing a channel's layer.
  t.set_channel("cheap", {});
  EXPECT_EQ(t.find("cheap", "gpt-4o")->input, usd(2.50));
}

TEST(pricing_table, unknown_model_has_no_price_and_no_cost) {
  pricing_table t;
  EXPECT_FALSE(t.find("", "llama-3-70b"));
  EXPECT_FALSE(t.find("", "gpt-4o-audio-preview"));  // a variant priced apart: not guessed
  EXPECT_FALSE(t.find("", ""));
  EXPECT_EQ(t.find_entry("", "llama-3-70b"), nullptr);
  usage_breakdown u{.input = 100, .output = 10};
  EXPECT_FALSE(cost_usd(t.find("", "llama-3-70b"), u));
  EXPECT_TRUE(cost_usd(t.find("", "gpt-5"), u));
}

TEST(default_prices, cover_the_popular_models_once_each) {
  std::set<std::string> patterns;
  for (const auto& e : default_prices()) {
    EXPECT_TRUE(patterns.insert(e.pattern).second) << "duplicate " << e.pattern;
    EXPECT_GT(e.value.input, 0) << e.pattern;
    EXPECT_GT(e.value.output, 0) << e.pattern;
  }
  pricing_table t;
  for (const char* model : {"gpt-4o",
                            "gpt-4o-mini",
                            "gpt-4o-mini-2024-07-18",
                            "gpt-4.1",
                            "gpt-4.1-mini",
                            "gpt-4.1-nano",
                            "gpt-4.1-2025-04-14",
                            "gpt-5",
                            "gpt-5-mini",
                            "gpt-5-nano",
                            "gpt-5-2025-08-07",
                            "gpt-5-mini-2025-08-07",
                            "o3",
                            "o3-2025-04-16",
                            "o4-mini",
                            "o4-mini-2025-04-16",
                            "claude-opus-4-1-20250805",
                            "claude-opus-4-20250514",
                            "claude-opus-4-5",
                            "claude-sonnet-4-5-20250929",
                            "claude-sonnet-4-20250514",
                            "claude-haiku-4-5",
                            "claude-haiku-4-5-20251001",
                            "claude-3-7-sonnet-20250219",
                            "claude-3-5-sonnet-20241022",
                            "claude-3-5-haiku-20241022",
                            "gemini-2.5-pro",
                            "gemini-2.5-flash",
                            "gemini-2.5-flash-lite",
                            "gemini-2.0-flash",
                            "claude-sonnet-5",
                            "claude-opus-5",
                            "claude-fable-5-1",
                            "gpt-6.2-sol"}) {
    EXPECT_TRUE(t.find("", model)) << model;
  }
  // Longer globs win among the newer Claude models, and Haiku 5.5 has its 100K tier.
  EXPECT_EQ(t.find("", "claude-fable-5-1")->cached_input, usd(0.25));
  EXPECT_EQ(t.find("", "claude-fable-5")->cached_input, usd(1.00));
  EXPECT_EQ(t.find("", "claude-opus-5-5")->input, usd(4.00));
  EXPECT_EQ(t.find("", "claude-opus-5")->input, usd(5.00));
  const auto haiku_5_5 = *t.find("", "claude-haiku-5-5");
  EXPECT_EQ(haiku_5_5.long_context_above, 100'000);
  EXPECT_EQ(haiku_5_5.rates_for(100'001).output, usd(2.50));
  EXPECT_EQ(t.find("", "gpt-6.2-sol")->rates_for(300'000).output, usd(15.00));
  // A few list prices, and that the most specific entry picked them.
  auto mini = *t.find("", "gpt-5-mini-2025-08-07");
  EXPECT_EQ(mini.input, usd(0.25));
  EXPECT_EQ(mini.cached_input, usd(0.025));
  EXPECT_EQ(mini.output, usd(2.00));
  EXPECT_EQ(t.find("", "gpt-4.1-nano-2025-04-14")->input, usd(0.10));
  EXPECT_EQ(t.find("", "gemini-2.5-flash-lite")->input, usd(0.10));
  EXPECT_EQ(t.find("", "gemini-2.5-flash")->input, usd(0.30));
  EXPECT_EQ(t.find("", "claude-opus-4-1")->output, usd(75.00));
  EXPECT_EQ(t.find("", "claude-opus-4-5-20251101")->output, usd(25.00));
  auto haiku = *t.find("", "claude-haiku-4-5-20251001");
  EXPECT_EQ(haiku, (price{usd(1.00), usd(0.10), usd(1.25), usd(2.00), usd(5.00), {}}));
}

// ---- cost

// OpenAI gpt-5 ($1.25 input, $0.125 cached, $10 output): 12,000 prompt tokens of which 8,000
// cached; 3,000 completion tokens of which 2,000 reasoning.
//   4,000 x 1.25 + 8,000 x 0.125 + 1,000 x 10 + 2,000 x 10 = 5,000 + 1,000 + 10,000 + 20,000
//   = 36,000 USD per million tokens -> $0.036
TEST(cost, openai_cached_input_and_reasoning_inside_output) {
  pricing_table t;
  auto p = *t.find("", "gpt-5");
  usage_breakdown u{.input = 12'000, .cached_input = 8'000, .output = 3'000, .reasoning = 2'000};
  EXPECT_EQ(cost_pico_usd(p, u), static_cast<__int128>(36'000'000'000LL));
  EXPECT_EQ(cost_nano_usd(p, u), 36'000'000);
  EXPECT_DOUBLE_EQ(*cost_usd(p, u), 0.036);
  // Reasoning is not billed again on top of output: the same cost without the split.
  EXPECT_EQ(cost_nano_usd(p, {.input = 12'000, .cached_input = 8'000, .output = 3'000}),
            36'000'000);
}

// Anthropic claude-sonnet-4-5 ($3 input, $0.30 cache hits, $3.75 5m writes, $6 1h writes, $15
// output): input_tokens 1,000, cache_read_input_tokens 20,000, cache_creation 4,000 (5m) +
// 2,000 (1h), output_tokens 500. The prompt is 27,000 tokens.
//   1,000 x 3 + 20,000 x 0.30 + 4,000 x 3.75 + 2,000 x 6 + 500 x 15
//   = 3,000 + 6,000 + 15,000 + 12,000 + 7,500 = 43,500 -> $0.0435
TEST(cost, anthropic_cache_read_and_both_cache_writes) {
  pricing_table t;
  auto p = *t.find("", "claude-sonnet-4-5-20250929");
  usage_breakdown u{.input = 27'000,
                    .cached_input = 20'000,
                    .cache_write_5m = 4'000,
                    .cache_write_1h = 2'000,
                    .output = 500};
  EXPECT_EQ(cost_nano_usd(p, u), 43'500'000);
  EXPECT_DOUBLE_EQ(*cost_usd(p, u), 0.0435);
}

// Gemini gemini-2.5-flash ($0.30 input, $0.03 cached, $2.50 output): promptTokenCount 10,000 of
// which cachedContentTokenCount 4,000; candidatesTokenCount 800 + thoughtsTokenCount 1,200.
//   6,000 x 0.30 + 4,000 x 0.03 + (800 + 1,200) x 2.50 = 1,800 + 120 + 5,000 = 6,920 -> $0.00692
TEST(cost, gemini_thinking_tokens_at_the_output_price) {
  pricing_table t;
  auto p = *t.find("", "gemini-2.5-flash");
  usage_breakdown u{.input = 10'000, .cached_input = 4'000, .output = 2'000, .reasoning = 1'200};
  EXPECT_EQ(cost_nano_usd(p, u), 6'920'000);
  EXPECT_DOUBLE_EQ(*cost_usd(p, u), 0.00692);
}

TEST(cost, missing_cache_and_reasoning_prices_fall_back) {
  // No cached/cache-write price: the input price. No reasoning price: the output price.
  price p = flat(2, 8);
  usage_breakdown u{.input = 1'000,
                    .cached_input = 100,
                    .cache_write_5m = 100,
                    .cache_write_1h = 100,
                    .output = 500,
                    .reasoning = 400};
  EXPECT_EQ(cost_nano_usd(p, u), 1'000 * 2'000 + 500 * 8'000);
  // A reasoning price of its own applies to the reasoning tokens only.
  p.reasoning = usd(20);
  EXPECT_EQ(cost_nano_usd(p, u), 1'000 * 2'000 + 100 * 8'000 + 400 * 20'000);
}

TEST(cost, inconsistent_counts_are_clamped_never_negative_nor_double) {
  pricing_table t;
  auto p = *t.find("", "gpt-5");  // 1.25 / 0.125 / 10
  // More cached than prompt tokens (a buggy upstream): the cached count is cut to the prompt,
  // nothing is uncached, nothing negative: 10,000 x 0.125 = 1,250 -> $0.00125.
  EXPECT_EQ(cost_nano_usd(p, {.input = 10'000, .cached_input = 20'000}), 1'250'000);
  // Cache writes past what the reads left are cut too (Anthropic prices).
  auto s = *t.find("", "claude-sonnet-4-5");
  // input 1,000: 600 reads (x0.30), 400 of the 5m writes (x3.75), no room for 1h writes.
  EXPECT_EQ(
      cost_nano_usd(
          s, {.input = 1'000, .cached_input = 600, .cache_write_5m = 900, .cache_write_1h = 900}),
      600 * 300 + 400 * 3'750);
  // More reasoning than output: all output is reasoning, billed once.
  EXPECT_EQ(cost_nano_usd(p, {.output = 100, .reasoning = 1'000}), 100 * 10'000);
  // Negative counts count as nothing.
  EXPECT_EQ(cost_nano_usd(p, {.input = -5, .cached_input = -5, .output = -1, .reasoning = -1}), 0);
  EXPECT_EQ(cost_nano_usd(p, {.input = 1'000, .cached_input = -500}), 1'000 * 1'250);
}

TEST(cost, rounding_and_range) {
  // Sub-nano costs round half up from the exact pico-USD value.
  price tiny{usd(0.0005), {}, {}, {}, usd(0.0004), {}};
  EXPECT_EQ(cost_pico_usd(tiny, {.input = 1}), 500);
  EXPECT_EQ(cost_nano_usd(tiny, {.input = 1}), 1);
  EXPECT_EQ(cost_nano_usd(tiny, {.output = 1}), 0);
  EXPECT_DOUBLE_EQ(*cost_usd(tiny, {.input = 1}), 5e-10);
  // No overflow at the extremes: int64 tokens at the highest price saturate nano-USD.
  price top{max_price, {}, {}, {}, max_price, {}};
  usage_breakdown huge{.input = INT64_MAX, .output = INT64_MAX};
  EXPECT_GT(cost_pico_usd(top, huge), 0);
  EXPECT_EQ(cost_nano_usd(top, huge), INT64_MAX);
  // A million tokens at $1.25 is exactly $1.25.
  EXPECT_EQ(*cost_usd(price{usd(1.25), {}, {}, {}, 0, {}}, {.input = 1'000'000}), 1.25);
  EXPECT_EQ(cost_nano_usd(price{}, {.input = 5, .output = 5}), 0);  // free is 0, not unknown
}

}  // namespace
}  // namespace sy::test

namespace sy {
namespace {

TEST(worst_case_nano_usd, dearest_rates_rounded_up) {
  // claude-sonnet-4-5: input 3, 1-hour writes 6 (the dearest input rate), output 15.
  price p{3'000'000, 300'000, 3'750'000, 6'000'000, 15'000'000, std::nullopt};
  // 1,000 input at $6/MTok = $0.006; 500 output at $15/MTok = $0.0075.
  EXPECT_EQ(worst_case_nano_usd(p, 1000, 500), 13'500'000);
  // A priced reasoning rate above output is the dearer one.
  price r{1'000'000, std::nullopt, std::nullopt, std::nullopt, 2'000'000, 8'000'000};
  EXPECT_EQ(worst_case_nano_usd(r, 0, 1000), 8'000'000);  // 1,000 x $8/MTok = $0.008
  // 1 token at $0.0005/MTok is 0.5 nano-USD: rounded up to 1, never down to 0.
  price nano{500, std::nullopt, std::nullopt, std::nullopt, 0, std::nullopt};
  EXPECT_EQ(worst_case_nano_usd(nano, 1, 0), 1);
  EXPECT_EQ(worst_case_nano_usd(nano, -5, -5), 0);
  // Saturates instead of wrapping.
  price dear{max_price, std::nullopt, std::nullopt, std::nullopt, max_price, std::nullopt};
  EXPECT_EQ(worst_case_nano_usd(dear, std::numeric_limits<std::int64_t>::max(), 1),
            std::numeric_limits<std::int64_t>::max());
  // Never below the real cost of any split of the same counts.
  usage_breakdown u{1000, 300, 200, 100, 500, 200};
  EXPECT_GE(worst_case_nano_usd(p, 1000, 500), cost_nano_usd(p, u));
}

}  // namespace
}  // namespace sy

namespace sy::test {
namespace {

TEST(long_context, a_long_prompt_is_billed_wholly_at_the_dearer_tier) {
  // The shipped Gemini 2.5 Pro: $1.25 / $0.125 / $10 up to 200K prompt tokens, then $2.50 /
  // $0.25 / $15.
  pricing_table t;
  auto p = t.find("", "gemini-2.5-pro");
  ASSERT_TRUE(p);
  usage_breakdown at_limit{200'000, 0, 0, 0, 1'000, 0};
  EXPECT_EQ(cost_nano_usd(*p, at_limit), 250'000'000 + 10'000'000);  // $0.25 + $0.01
  usage_breakdown above{200'001, 100'001, 0, 0, 1'000, 0};  // cached tokens count toward it
  // 100,000 uncached x $2.50 + 100,001 cached x $0.25 + 1,000 x $15.
  EXPECT_EQ(cost_pico_usd(*p, above), static_cast<__int128>(100'000) * 2'500'000 +
                                          static_cast<__int128>(100'001) * 250'000 +
                                          static_cast<__int128>(1'000) * 15'000'000);
  // A budget's worst case takes the dearer tier's rates whatever the estimate.
  EXPECT_EQ(worst_case_nano_usd(*p, 1'000, 1'000), 2'500'000 + 15'000'000);  // $0.0025 + $0.015
}

TEST(long_context, configured_under_a_model_and_kept_by_channel_json) {
  auto cfg = must_parse(R"(
pricing:
  claude-sonnet-4-5*:
    input: 3
    cache_read: 0.30
    output: 15
    long_context: { above: 200000, input: 6, cache_read: 0.60, cache_write_5m: 7.50, output: 22.50 }
channels:
  - name: c
    type: openai
    base_url: http://127.0.0.1:1/v1
    api_key: k
    models: ["*"]
    pricing:
      m: { input: 1, output: 2, long_context: { above: 10, input: 3, output: 4 } }
)");
  pricing_table t(cfg);
  auto p = t.find("", "claude-sonnet-4-5-20250929");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->long_context_above, 200'000);
  ASSERT_EQ(p->long_context.size(), 1u);
  EXPECT_EQ(p->long_context[0].input, 6'000'000);
  EXPECT_EQ(p->long_context[0].cached_input, 600'000);
  EXPECT_EQ(p->long_context[0].cache_write_5m, 7'500'000);
  EXPECT_EQ(p->long_context[0].output, 22'500'000);
  // The channel's JSON (admin API, store) reads back to the same price.
  const auto json = channel_to_json(cfg.channels[0]);
  EXPECT_NE(json.find(R"("long_context":{"above":10,"input":3,"output":4})"), std::string::npos)
      << json;
  auto again = parse_channel(json, "store");
  ASSERT_TRUE(std::holds_alternative<channel_config>(again));
  EXPECT_EQ(std::get<channel_config>(again).pricing, cfg.channels[0].pricing);
  // Errors name the field.
  for (const char* bad :
       {"pricing: { m: { input: 1, output: 2, long_context: { input: 3, output: 4 } } }",
        "pricing: { m: { input: 1, output: 2, long_context: { above: 0, input: 3, output: 4 } } }",
        "pricing: { m: { input: 1, output: 2, long_context: { above: 5, input: 3, output: 4, "
        "long_context: {} } } }"}) {
    auto r = parse_config(bad, "t.yaml", env_lookup{});
    ASSERT_TRUE(std::holds_alternative<config_error>(r)) << bad;
    EXPECT_NE(std::get<config_error>(r).message.find("long_context"), std::string::npos)
        << std::get<config_error>(r).message;
  }
}

}  // namespace
}  // namespace sy::test
