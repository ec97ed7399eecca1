// Model lookup (exact before glob), upstream names, weighted choice and the per-key model list.
#include "routing/model_table.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

namespace sy::test {
namespace {

std::unique_ptr<channel> make_channel(const std::string& name, std::vector<model_route> models,
                                      unsigned weight = 1) {
  channel_config cfg;
  cfg.name = name;
  cfg.type = channel_type::mock;
  cfg.models = std::move(models);
  cfg.weight = weight;
  return std::make_unique<channel>(std::move(cfg));
}

std::vector<std::string> names_of(const std::vector<deployment>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds)
    out.push_back(d.target ? d.target->name() : "<null>");
  return out;
}

TEST(model_table, exact_wins_over_glob) {
  auto exact = make_channel("exact", {{"gpt-4o", "gpt-4o"}});
  auto glob = make_channel("glob", {{"gpt-*", "gpt-*"}});
  model_table table;
  table.add(*glob);  // added first: order must not matter
  table.add(*exact);

  std::vector<deployment> out;
  ASSERT_TRUE(table.lookup("gpt-4o", out));
  EXPECT_EQ(names_of(out), std::vector<std::string>{"exact"});
  EXPECT_EQ(out[0].target, exact.get());
  EXPECT_EQ(out[0].upstream_model, "gpt-4o");

  ASSERT_TRUE(table.lookup("gpt-4.1-mini", out));
  EXPECT_EQ(names_of(out), std::vector<std::string>{"glob"});
  EXPECT_TRUE(out[0].upstream_model.empty());  // a glob route forwards the requested name

  EXPECT_FALSE(table.lookup("claude-sonnet-4", out));
  EXPECT_TRUE(out.empty());  // cleared, not left with the previous result
  EXPECT_FALSE(table.lookup("", out));
}

TEST(model_table, every_matching_channel_is_a_candidate) {
  auto a = make_channel("a", {{"gpt-4o", "gpt-4o"}, {"o?-mini", "o?-mini"}}, 2);
  auto b = make_channel("b", {{"gpt-4o", "gpt-4o-2024-08-06"}, {"o*", "o*"}}, 5);
  auto c = make_channel("c", {{"demo", "demo"}});
  model_table table;
  table.add(*a);
  table.add(*b);
  table.add(*c);

  std::vector<deployment> out;
  ASSERT_TRUE(table.lookup("gpt-4o", out));
  ASSERT_EQ(names_of(out), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(out[0].weight, 2u);
  EXPECT_EQ(out[1].weight, 5u);
  EXPECT_EQ(out[0].upstream_model, "gpt-4o");
  EXPECT_EQ(out[1].upstream_model, "gpt-4o-2024-08-06");

  ASSERT_TRUE(table.lookup("o3-mini", out));
  EXPECT_EQ(names_of(out), (std::vector<std::string>{"a", "b"}));
  ASSERT_TRUE(table.lookup("o1", out));
  EXPECT_EQ(names_of(out), std::vector<std::string>{"b"});
}

TEST(model_table, upstream_name_mapping) {
  auto ch = make_channel("local", {{"fast", "Qwen/Qwen2.5-7B-Instruct"}, {"smart", "llama-70b"}});
  model_table table;
  table.add(*ch);
  std::vector<deployment> out;
  ASSERT_TRUE(table.lookup("fast", out));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].upstream_model, "Qwen/Qwen2.5-7B-Instruct");
  ASSERT_TRUE(table.lookup("smart", out));
  EXPECT_EQ(out[0].upstream_model, "llama-70b");
  EXPECT_FALSE(table.lookup("Qwen/Qwen2.5-7B-Instruct", out));  // only public names route
}

std::map<std::string, int> pick_counts(const std::vector<deployment>& ds, std::uint64_t from,
                                       std::uint64_t n) {
  std::map<std::string, int> counts;
  for (std::uint64_t i = 0; i < n; ++i)
    ++counts[model_table::pick(ds, from + i).target->name()];
  return counts;
}

TEST(model_table, pick_is_weighted) {
  auto a = make_channel("a", {{"m", "m"}}, 2);
  auto b = make_channel("b", {{"m", "m"}}, 5);
  auto c = make_channel("c", {{"m", "m"}}, 3);
  model_table table;
  table.add(*a);
  table.add(*b);
  table.add(*c);
  std::vector<deployment> ds;
  ASSERT_TRUE(table.lookup("m", ds));
  ASSERT_EQ(ds.size(), 3u);

  // Every residue of the total weight (10) once: each deployment exactly its weight.
  auto once = pick_counts(ds, 0, 10);
  EXPECT_EQ(once, (std::map<std::string, int>{{"a", 2}, {"b", 5}, {"c", 3}}));
  auto many = pick_counts(ds, 1000, 1000);
  EXPECT_EQ(many, (std::map<std::string, int>{{"a", 200}, {"b", 500}, {"c", 300}}));
  // 100 consecutive values up to the largest: every residue ten times, no overflow.
  auto high = pick_counts(ds, UINT64_MAX - 99, 100);
  EXPECT_EQ(high, (std::map<std::string, int>{{"a", 20}, {"b", 50}, {"c", 30}}));

  auto one = make_channel("one", {{"x", "x"}}, 7);
  model_table single;
  single.add(*one);
  ASSERT_TRUE(single.lookup("x", ds));
  for (std::uint64_t r : {0ull, 1ull, 6ull, 7ull, 123456789ull, ~0ull}) {
    EXPECT_EQ(&model_table::pick(ds, r), &ds.front());
  }
}

TEST(model_table, pick_with_equal_weights_is_uniform) {
  auto a = make_channel("a", {{"m", "m"}});
  auto b = make_channel("b", {{"m", "m"}});
  model_table table;
  table.add(*a);
  table.add(*b);
  std::vector<deployment> ds;
  ASSERT_TRUE(table.lookup("m", ds));
  EXPECT_EQ(pick_counts(ds, 0, 100), (std::map<std::string, int>{{"a", 50}, {"b", 50}}));
}

TEST(model_table, list_for_key) {
  auto a = make_channel("chan-a", {{"gpt-4o", "gpt-4o"}, {"gpt-4o-mini", "x"}, {"o*", "o*"}});
  auto b = make_channel("chan-b", {{"gpt-4o", "gpt-4o"}, {"demo", "demo"}, {"claude", "c"}});
  model_table table;
  table.add(*a);
  table.add(*b);

  auto names = [](const std::vector<model_table::listed_model>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms)
      out.push_back(m.name);
    return out;
  };
  key_record admin{"master", {}, true};
  auto all = table.list_for(admin);
  // Exact names only (globs are not model ids), sorted, each once.
  EXPECT_EQ(names(all), (std::vector<std::string>{"claude", "demo", "gpt-4o", "gpt-4o-mini"}));
  // owned_by: the first channel that serves the name.
  std::map<std::string, std::string> owners;
  for (const auto& m : all)
    owners[m.name] = m.owned_by;
  EXPECT_EQ(owners["gpt-4o"], "chan-a");
  EXPECT_EQ(owners["gpt-4o-mini"], "chan-a");
  EXPECT_EQ(owners["demo"], "chan-b");

  key_record gpt_only{"app", {"gpt-*"}, false};
  EXPECT_EQ(names(table.list_for(gpt_only)), (std::vector<std::string>{"gpt-4o", "gpt-4o-mini"}));
  key_record two{"app", {"demo", "claude"}, false};
  EXPECT_EQ(names(table.list_for(two)), (std::vector<std::string>{"claude", "demo"}));
  key_record nothing{"app", {"mistral-*"}, false};
  EXPECT_TRUE(table.list_for(nothing).empty());
  key_record star{"app", {"*"}, false};
  EXPECT_EQ(table.list_for(star).size(), 4u);
}

}  // namespace
}  // namespace sy::test
