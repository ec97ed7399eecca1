// Model groups (exact before glob, upstream names, `models:` groups and their tiers), the
// strategies that pick a deployment, health-aware picking, sticky sessions, and the per-key
// model list.
#include "routing/model_table.h"
#include "routing/retry.h"
#include "routing/router.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

channel_config channel_cfg(const std::string& name, std::vector<model_route> models,
                           unsigned weight = 1, std::vector<std::string> keys = {}) {
  channel_config cfg;
  cfg.name = name;
  cfg.type = channel_type::mock;
  cfg.models = std::move(models);
  cfg.weight = weight;
  cfg.api_keys = std::move(keys);
  return cfg;
}

// A table over channels (and optional `models:` groups), with its own registry.
struct fixture {
  std::vector<std::unique_ptr<channel>> channels;
  routing::health_registry health;
  model_table table;
  config cfg;

  explicit fixture(std::vector<channel_config> chans, std::vector<model_group_config> groups = {},
                   routing::breaker_options o = {})
      : health(o) {
    for (auto& c : chans)
      channels.push_back(std::make_unique<channel>(std::move(c)));
    cfg.models = std::move(groups);
    table.build(cfg, channels, health);
  }
  const model_group* find(std::string_view m) {
    scratch.reset();
    return table.find(m, scratch);
  }
  std::optional<model_group> scratch;
};

std::vector<std::string> names_of(const model_group& g) {
  std::vector<std::string> out;
  for (const auto& d : g.deployments)
    out.push_back(d.target->name());
  return out;
}

TEST(model_table, exact_wins_over_glob) {
  fixture f(
      {channel_cfg("glob", {{"gpt-*", "gpt-*"}}), channel_cfg("exact", {{"gpt-4o", "gpt-4o"}})});
  const auto* g = f.find("gpt-4o");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(names_of(*g), std::vector<std::string>{"exact"});
  EXPECT_EQ(g->deployments[0].upstream_model, "gpt-4o");
  EXPECT_EQ(g->deployments[0].id, "exact/gpt-4o");

  g = f.find("gpt-4.1-mini");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(names_of(*g), std::vector<std::string>{"glob"});
  EXPECT_TRUE(g->deployments[0].upstream_model.empty());  // the requested name goes upstream
  EXPECT_EQ(g->name, "gpt-4.1-mini");

  EXPECT_EQ(f.find("claude-sonnet-4"), nullptr);
  EXPECT_EQ(f.find(""), nullptr);
}

TEST(model_table, every_matching_channel_is_a_deployment) {
  fixture f({channel_cfg("a", {{"gpt-4o", "gpt-4o"}, {"o?-mini", "o?-mini"}}, 2),
             channel_cfg("b", {{"gpt-4o", "gpt-4o-2024-08-06"}, {"o*", "o*"}}, 5),
             channel_cfg("c", {{"demo", "demo"}})});
  const auto* g = f.find("gpt-4o");
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(names_of(*g), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(g->deployments[0].weight, 2u);
  EXPECT_EQ(g->deployments[1].weight, 5u);
  EXPECT_EQ(g->deployments[1].upstream_model, "gpt-4o-2024-08-06");
  EXPECT_EQ(g->strategy, route_strategy::weighted);
  EXPECT_FALSE(g->configured);
  EXPECT_EQ(names_of(*f.find("o3-mini")), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(names_of(*f.find("o1")), std::vector<std::string>{"b"});
  EXPECT_EQ(f.find("Qwen"), nullptr);
}

TEST(model_table, configured_groups_have_tiers_and_settings) {
  model_group_config smart;
  smart.name = "smart";
  smart.strategy = route_strategy::round_robin;
  smart.deployments = {
      {"claude", "claude-x", 1, 1}, {"a", "gpt-4o", 3, 0}, {"b", "", 1, 0}, {"nowhere", "m", 1, 0}};
  smart.fallbacks = {"cheap"};
  smart.retries = 4;
  smart.timeout = 1500ms;
  fixture f({channel_cfg("a", {}), channel_cfg("b", {}), channel_cfg("claude", {})}, {smart});
  const auto* g = f.find("smart");
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->configured);
  // Tier 0 first, in the order written; the unknown channel is left out and reported.
  EXPECT_EQ(names_of(*g), (std::vector<std::string>{"a", "b", "claude"}));
  EXPECT_EQ(g->deployments[1].upstream_model, "smart");  // no model: the group's name
  EXPECT_EQ(g->deployments[2].priority, 1);
  EXPECT_EQ(g->retries, 4);
  EXPECT_EQ(g->timeout, 1500ms);
  EXPECT_EQ(g->fallbacks, std::vector<std::string>{"cheap"});
  ASSERT_EQ(f.table.missing().size(), 1u);
  EXPECT_NE(f.table.missing()[0].find("nowhere"), std::string::npos);
}

TEST(model_table, health_is_kept_by_id_across_rebuilds) {
  routing::health_registry health;
  std::vector<std::unique_ptr<channel>> channels;
  channels.push_back(
      std::make_unique<channel>(channel_cfg("a", {{"m", "m"}}, 1, {"sk-1", "sk-2"})));
  config cfg;
  model_table first;
  first.build(cfg, channels, health);
  model_table second;
  second.build(cfg, channels, health);
  std::optional<model_group> s1, s2;
  EXPECT_EQ(first.find("m", s1)->deployments[0].health,
            second.find("m", s2)->deployments[0].health);
  // Each upstream key has its own target, named by a fingerprint, never the key.
  auto all = health.all();
  std::set<std::string> ids;
  for (const auto& [id, h] : all)
    ids.insert(id);
  EXPECT_TRUE(ids.count("deployment:a/m"));
  EXPECT_TRUE(ids.count("key:a#" + key_fingerprint("sk-1")));
  EXPECT_TRUE(ids.count("key:a#" + key_fingerprint("sk-2")));
  for (const auto& id : ids)
    EXPECT_EQ(id.find("sk-"), std::string::npos);
  EXPECT_EQ(key_fingerprint("sk-1").size(), 8u);
}

std::map<std::string, int> pick_counts(const model_group& g, std::uint64_t from, std::uint64_t n) {
  std::map<std::string, int> counts;
  for (std::uint64_t i = 0; i < n; ++i) {
    routing::pick_request r;
    r.random = from + i;
    ++counts[routing::pick(g, r)->target->name()];
  }
  return counts;
}

TEST(router, weighted_pick_follows_the_weights) {
  fixture f({channel_cfg("a", {{"m", "m"}}, 2), channel_cfg("b", {{"m", "m"}}, 5),
             channel_cfg("c", {{"m", "m"}}, 3)});
  const auto& g = *f.find("m");
  EXPECT_EQ(pick_counts(g, 0, 10), (std::map<std::string, int>{{"a", 2}, {"b", 5}, {"c", 3}}));
  EXPECT_EQ(pick_counts(g, 1000, 1000),
            (std::map<std::string, int>{{"a", 200}, {"b", 500}, {"c", 300}}));
  EXPECT_EQ(pick_counts(g, UINT64_MAX - 99, 100),
            (std::map<std::string, int>{{"a", 20}, {"b", 50}, {"c", 30}}));
}

TEST(router, open_circuits_are_skipped_and_tiers_fall_through) {
  routing::breaker_options o;
  o.consecutive_failures = 1;
  model_group_config gc;
  gc.name = "g";
  gc.deployments = {{"a", "m", 1, 0}, {"b", "m", 1, 0}, {"c", "m", 1, 1}};
  fixture f({channel_cfg("a", {}), channel_cfg("b", {}), channel_cfg("c", {})}, {gc}, o);
  const auto& g = *f.find("g");
  const auto now = routing::steady::now();
  auto picks = [&] {
    std::set<std::string> seen;
    for (std::uint64_t i = 0; i < 40; ++i) {
      routing::pick_request r;
      r.random = i;
      r.now = now;
      const auto* d = routing::pick(g, r);
      seen.insert(d ? d->target->name() : "none");
    }
    return seen;
  };
  EXPECT_EQ(picks(), (std::set<std::string>{"a", "b"}));  // tier 1 is not used while 0 is healthy
  g.deployments[0].health->breaker.record(routing::outcome::failure, now);
  EXPECT_EQ(picks(), std::set<std::string>{"b"});
  g.deployments[1].health->breaker.record(routing::outcome::failure, now);
  EXPECT_EQ(picks(), std::set<std::string>{"c"});  // tier 0 all open: tier 1
  g.deployments[2].health->breaker.record(routing::outcome::failure, now);
  EXPECT_EQ(picks(), std::set<std::string>{"none"});
}

TEST(router, failed_deployments_are_avoided_then_retried) {
  fixture f({channel_cfg("a", {{"m", "m"}}), channel_cfg("b", {{"m", "m"}})});
  const auto& g = *f.find("m");
  std::vector<const deployment*> failed{&g.deployments[0]};
  for (std::uint64_t i = 0; i < 20; ++i) {
    routing::pick_request r;
    r.random = i;
    r.failed = &failed;
    EXPECT_EQ(routing::pick(g, r), &g.deployments[1]);
  }
  failed.push_back(&g.deployments[1]);
  routing::pick_request r;
  r.failed = &failed;
  EXPECT_NE(routing::pick(g, r), nullptr);  // all failed once: the same ones again
}

TEST(router, a_channel_whose_keys_all_rest_is_not_usable) {
  fixture f({channel_cfg("a", {{"m", "m"}}, 1, {"sk-1", "sk-2"}), channel_cfg("b", {{"m", "m"}})});
  const auto& g = *f.find("m");
  const auto now = routing::steady::now();
  auto* a = f.channels[0].get();
  a->key_health(0)->breaker.record(routing::outcome::rate_limited, now, 60s);
  // One key rests: the channel is usable, and its next key is the other one.
  EXPECT_TRUE(routing::usable(g.deployments[0], now));
  EXPECT_EQ(a->next_api_key(), "sk-2");
  EXPECT_EQ(a->next_api_key(), "sk-2");
  a->key_health(1)->breaker.record(routing::outcome::rejected, now);
  EXPECT_FALSE(routing::usable(g.deployments[0], now));
  for (std::uint64_t i = 0; i < 10; ++i) {
    routing::pick_request r;
    r.random = i;
    r.now = now;
    EXPECT_EQ(routing::pick(g, r)->target->name(), "b");
  }
}

TEST(router, round_robin_and_least_inflight) {
  model_group_config gc;
  gc.name = "g";
  gc.strategy = route_strategy::round_robin;
  gc.deployments = {{"a", "m", 1, 0}, {"b", "m", 1, 0}, {"c", "m", 1, 0}};
  fixture f({channel_cfg("a", {}), channel_cfg("b", {}), channel_cfg("c", {})}, {gc});
  const auto& g = *f.find("g");
  std::vector<std::string> order;
  for (int i = 0; i < 6; ++i)
    order.push_back(routing::pick(g, {})->target->name());
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "a", "b", "c"}));

  model_group_config lc = gc;
  lc.name = "l";
  lc.strategy = route_strategy::least_inflight;
  fixture f2({channel_cfg("a", {}), channel_cfg("b", {}), channel_cfg("c", {})}, {lc});
  const auto& l = *f2.find("l");
  l.deployments[0].health->inflight = 3;
  l.deployments[1].health->inflight = 1;
  l.deployments[2].health->inflight = 2;
  for (std::uint64_t i = 0; i < 10; ++i) {
    routing::pick_request r;
    r.random = i;
    EXPECT_EQ(routing::pick(l, r)->target->name(), "b");
  }
}

TEST(router, lowest_latency_prefers_the_fast_one_and_explores) {
  model_group_config gc;
  gc.name = "g";
  gc.strategy = route_strategy::lowest_latency;
  gc.deployments = {{"slow", "m", 1, 0}, {"fast", "m", 1, 0}};
  fixture f({channel_cfg("slow", {}), channel_cfg("fast", {})}, {gc});
  const auto& g = *f.find("g");
  // Unobserved first.
  routing::pick_request r;
  r.random = 1;
  EXPECT_EQ(routing::pick(g, r)->target->name(), "slow");
  g.deployments[0].health->observe(400ms, 2000ms, 100);
  EXPECT_EQ(routing::pick(g, r)->target->name(), "fast");
  g.deployments[1].health->observe(50ms, 300ms, 100);
  std::map<std::string, int> counts;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    routing::pick_request q;
    q.random = i * 7919;
    ++counts[routing::pick(g, q)->target->name()];
  }
  EXPECT_GT(counts["fast"], 900);
  EXPECT_GT(counts["slow"], 0);  // exploration keeps measuring it
}

TEST(router, lowest_cost_uses_the_price) {
  model_group_config gc;
  gc.name = "g";
  gc.strategy = route_strategy::lowest_cost;
  gc.deployments = {{"dear", "m", 1, 0}, {"cheap", "m", 1, 0}, {"unpriced", "m", 1, 0}};
  fixture f({channel_cfg("dear", {}), channel_cfg("cheap", {}), channel_cfg("unpriced", {})}, {gc});
  const auto& g = *f.find("g");
  for (std::uint64_t i = 0; i < 10; ++i) {
    routing::pick_request r;
    r.random = i;
    r.cost = [](const deployment& d) -> std::optional<std::int64_t> {
      if (d.target->name() == "dear") return 10;
      if (d.target->name() == "cheap") return 2;
      return std::nullopt;
    };
    EXPECT_EQ(routing::pick(g, r)->target->name(), "cheap");
  }
}

TEST(router, sticky_sessions_stay_while_healthy) {
  routing::breaker_options o;
  o.consecutive_failures = 1;
  fixture f({channel_cfg("a", {{"m", "m"}}), channel_cfg("b", {{"m", "m"}}),
             channel_cfg("c", {{"m", "m"}})},
            {}, o);
  const auto& g = *f.find("m");
  std::map<std::string, int> spread;
  for (int s = 0; s < 300; ++s) {
    const auto session = routing::session_hash("session-" + std::to_string(s));
    routing::pick_request r;
    r.sticky = session;
    const auto* first = routing::pick(g, r);
    ++spread[first->target->name()];
    for (std::uint64_t i = 0; i < 5; ++i) {
      routing::pick_request again;
      again.sticky = session;
      again.random = i;
      EXPECT_EQ(routing::pick(g, again), first);
    }
  }
  for (const auto& [name, n] : spread)
    EXPECT_GT(n, 60) << name;  // sessions spread over all three
  // A deployment that fails: its sessions move, the others stay.
  const auto now = routing::steady::now();
  std::map<int, const deployment*> before;
  for (int s = 0; s < 100; ++s) {
    routing::pick_request r;
    r.sticky = routing::session_hash("s" + std::to_string(s));
    r.now = now;
    before[s] = routing::pick(g, r);
  }
  g.deployments[0].health->breaker.record(routing::outcome::failure, now);
  for (int s = 0; s < 100; ++s) {
    routing::pick_request r;
    r.sticky = routing::session_hash("s" + std::to_string(s));
    r.now = now;
    const auto* d = routing::pick(g, r);
    if (before[s] != &g.deployments[0]) {
      EXPECT_EQ(d, before[s]);
    }
    EXPECT_NE(d, &g.deployments[0]);
  }
}

TEST(model_table, list_for_key) {
  model_group_config smart;
  smart.name = "smart";
  smart.deployments = {{"chan-a", "gpt-4o", 1, 0}};
  fixture f({channel_cfg("chan-a", {{"gpt-4o", "gpt-4o"}, {"gpt-4o-mini", "x"}, {"o*", "o*"}}),
             channel_cfg("chan-b", {{"gpt-4o", "gpt-4o"}, {"demo", "demo"}, {"claude", "c"}})},
            {smart});
  auto names = [](const std::vector<model_table::listed_model>& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms)
      out.push_back(m.name);
    return out;
  };
  key_record admin{"master", {}, true};
  auto all = f.table.list_for(admin);
  EXPECT_EQ(names(all),
            (std::vector<std::string>{"claude", "demo", "gpt-4o", "gpt-4o-mini", "smart"}));
  std::map<std::string, std::string> owners;
  for (const auto& m : all)
    owners[m.name] = m.owned_by;
  EXPECT_EQ(owners["gpt-4o"], "chan-a");
  EXPECT_EQ(owners["demo"], "chan-b");
  key_record gpt_only{"app", {"gpt-*"}, false};
  EXPECT_EQ(names(f.table.list_for(gpt_only)), (std::vector<std::string>{"gpt-4o", "gpt-4o-mini"}));
  key_record nothing{"app", {"mistral-*"}, false};
  EXPECT_TRUE(f.table.list_for(nothing).empty());
}

TEST(retry, classify_upstream_answers) {
  using routing::verdict;
  EXPECT_EQ(routing::classify(200, ""), verdict::answer);
  EXPECT_EQ(routing::classify(404, R"({"error":{"code":"model_not_found"}})"), verdict::answer);
  EXPECT_EQ(routing::classify(400, R"({"error":{"message":"bad"}})"), verdict::answer);
  for (unsigned s : {408u, 500u, 502u, 503u, 504u, 529u})
    EXPECT_EQ(routing::classify(s, ""), verdict::failure) << s;
  EXPECT_EQ(routing::classify(501, ""), verdict::broken);
  EXPECT_EQ(routing::classify(429, ""), verdict::rate_limited);
  EXPECT_EQ(routing::classify(401, ""), verdict::rejected);
  EXPECT_EQ(routing::classify(403, ""), verdict::rejected);
  EXPECT_EQ(
      routing::classify(
          400, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})"),
      verdict::failure);
  EXPECT_EQ(routing::classify(400, R"({"error":{"code":"context_length_exceeded"}})"),
            verdict::context_window);
  EXPECT_EQ(
      routing::classify(
          400,
          R"({"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}})"),
      verdict::context_window);
  EXPECT_EQ(
      routing::classify(
          400,
          R"({"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}})"),
      verdict::context_window);
  EXPECT_EQ(routing::classify(400, R"({"error":{"code":"content_policy_violation"}})"),
            verdict::content_policy);
  EXPECT_EQ(routing::classify(400, R"({"error":{"code":"content_filter","status":400}})"),
            verdict::content_policy);
}

TEST(retry, backoff_is_full_jitter_capped) {
  using ms = std::chrono::milliseconds;
  for (std::uint64_t r = 0; r < 1000; ++r) {
    EXPECT_LE(routing::backoff(1, ms(100), ms(5000), r), ms(100));
    EXPECT_LE(routing::backoff(3, ms(100), ms(5000), r), ms(400));
    EXPECT_LE(routing::backoff(40, ms(100), ms(5000), r), ms(5000));
  }
  std::set<std::int64_t> seen;
  for (std::uint64_t r = 0; r < 1000; ++r)
    seen.insert(routing::backoff(4, ms(100), ms(5000), r * 2654435761u).count());
  EXPECT_GT(seen.size(), 100u);  // spread, not a fixed step
}

}  // namespace
}  // namespace sy::test
