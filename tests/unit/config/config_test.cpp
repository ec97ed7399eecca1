// parse_config, default_config and substitute_env, with an injected environment.
#include "config/config.h"

#include "providers/channel.h"

#include <gtest/gtest.h>

#include <boost/url/parse.hpp>

#include <cstdio>
#include <fstream>
#include <map>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

env_lookup env_of(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

const env_lookup no_env = env_of({});

config must_parse(const std::string& yaml, const env_lookup& env = no_env) {
  auto result = parse_config(yaml, "test.yaml", env);
  if (auto* e = std::get_if<config_error>(&result)) {
    ADD_FAILURE() << "unexpected error: " << e->message;
    return config{};
  }
  return std::get<config>(std::move(result));
}

std::string must_fail(const std::string& yaml, const env_lookup& env = no_env) {
  auto result = parse_config(yaml, "test.yaml", env);
  if (auto* e = std::get_if<config_error>(&result)) return e->message;
  ADD_FAILURE() << "expected an error for:\n" << yaml;
  return {};
}

const channel_config* find_channel(const config& cfg, const std::string& name) {
  for (const auto& ch : cfg.channels) {
    if (ch.name == name) return &ch;
  }
  return nullptr;
}

std::string upstream_of(const channel_config& ch, const std::string& public_name) {
  for (const auto& m : ch.models) {
    if (m.public_name == public_name) return m.upstream_name;
  }
  return "<not served>";
}

TEST(config, full_shape) {
  const std::string yaml = R"(listen: "[::1]:9000"
workers: 4
master_key: sk-master-123456
limits:
  max_body_bytes: 2048
  max_header_bytes: 4096
  header_timeout_ms: 1500
  idle_timeout_ms: 2500
  drain_timeout_ms: 3500
log:
  level: debug
  access: /var/log/switchyard.log
channels:
  - name: primary
    type: openai
    base_url: https://api.example.com/v1/
    api_keys: ["${KEY_A}", "${KEY_B:-sk-fallback}", "${KEY_UNSET}", "lit-${KEY_A}"]
    models: [gpt-4o, gpt-4o-mini]
    weight: 3
    timeouts: {connect_ms: 100, first_byte_ms: 200, idle_ms: 300, total_ms: 400}
  - name: aliases
    type: openai
    base_url: http://localhost:8000
    api_key: ${LOCAL_KEY:-}
    models:
      fast: upstream-fast
      "gpt-*": "gpt-*"
  - name: fake
    type: mock
    models: demo
    mock: {latency_ms: 5, chunk_delay_ms: 6, words: 7, chunks: 8}
keys:
  - name: alice
    key: sk-alice-0001
    models: ["gpt-*", demo]
  - key: ${BOB_KEY}
)";
  auto cfg = must_parse(yaml, env_of({{"KEY_A", "sk-a"}, {"BOB_KEY", "sk-bob-00002"}}));
  EXPECT_EQ(cfg.source, "test.yaml");
  EXPECT_EQ(cfg.listen_host, "::1");
  EXPECT_EQ(cfg.listen_port, 9000);
  EXPECT_EQ(cfg.workers, 4u);
  EXPECT_EQ(cfg.master_key, "sk-master-123456");
  EXPECT_EQ(cfg.limits.max_body_bytes, 2048u);
  EXPECT_EQ(cfg.limits.max_header_bytes, 4096u);
  EXPECT_EQ(cfg.limits.header_timeout, 1500ms);
  EXPECT_EQ(cfg.limits.idle_timeout, 2500ms);
  EXPECT_EQ(cfg.limits.drain_timeout, 3500ms);
  EXPECT_EQ(cfg.log.level, "debug");
  EXPECT_EQ(cfg.log.access, "/var/log/switchyard.log");

  ASSERT_EQ(cfg.channels.size(), 3u);
  const auto& primary = cfg.channels[0];
  EXPECT_EQ(primary.name, "primary");
  EXPECT_EQ(primary.type, channel_type::openai);
  EXPECT_EQ(primary.base_url, "https://api.example.com/v1");  // trailing slash dropped
  // ${KEY_UNSET} has no default: it becomes "" and the key is dropped.
  EXPECT_EQ(primary.api_keys, (std::vector<std::string>{"sk-a", "sk-fallback", "lit-sk-a"}));
  ASSERT_EQ(primary.models.size(), 2u);
  EXPECT_EQ(primary.models[0].public_name, "gpt-4o");
  EXPECT_EQ(primary.models[0].upstream_name, "gpt-4o");
  EXPECT_EQ(primary.models[1].public_name, "gpt-4o-mini");
  EXPECT_EQ(primary.models[1].upstream_name, "gpt-4o-mini");
  EXPECT_EQ(primary.weight, 3u);
  EXPECT_EQ(primary.timeouts.connect, 100ms);
  EXPECT_EQ(primary.timeouts.first_byte, 200ms);
  EXPECT_EQ(primary.timeouts.idle, 300ms);
  EXPECT_EQ(primary.timeouts.total, 400ms);

  const auto& aliases = cfg.channels[1];
  EXPECT_EQ(aliases.name, "aliases");
  EXPECT_EQ(aliases.base_url, "http://localhost:8000");
  EXPECT_TRUE(aliases.api_keys.empty());  // ${LOCAL_KEY:-} is empty: no key for a local server
  ASSERT_EQ(aliases.models.size(), 2u);
  EXPECT_EQ(upstream_of(aliases, "fast"), "upstream-fast");
  EXPECT_EQ(upstream_of(aliases, "gpt-*"), "gpt-*");
  EXPECT_EQ(aliases.weight, 1u);                // default
  EXPECT_EQ(aliases.timeouts.connect, 5000ms);  // defaults untouched
  EXPECT_EQ(aliases.timeouts.total, 600000ms);

  const auto& fake = cfg.channels[2];
  EXPECT_EQ(fake.type, channel_type::mock);
  EXPECT_TRUE(fake.base_url.empty());
  ASSERT_EQ(fake.models.size(), 1u);  // a single scalar is a one-element list
  EXPECT_EQ(fake.models[0].public_name, "demo");
  EXPECT_EQ(fake.mock.latency, 5ms);
  EXPECT_EQ(fake.mock.chunk_delay, 6ms);
  EXPECT_EQ(fake.mock.words, 7);
  EXPECT_EQ(fake.mock.chunks, 8);

  ASSERT_EQ(cfg.keys.size(), 2u);
  EXPECT_EQ(cfg.keys[0].name, "alice");
  EXPECT_EQ(cfg.keys[0].key, "sk-alice-0001");
  EXPECT_EQ(cfg.keys[0].models, (std::vector<std::string>{"gpt-*", "demo"}));
  EXPECT_EQ(cfg.keys[1].key, "sk-bob-00002");
  EXPECT_EQ(cfg.keys[1].name, "keys[1]");  // unnamed keys are named by their position
  EXPECT_EQ(cfg.keys[1].models, (std::vector<std::string>{"*"}));
}

TEST(config, empty_document_gives_defaults) {
  auto cfg = must_parse("");
  EXPECT_EQ(cfg.source, "test.yaml");
  EXPECT_EQ(cfg.listen_host, "127.0.0.1");
  EXPECT_EQ(cfg.listen_port, 8080);
  EXPECT_EQ(cfg.workers, 0u);
  EXPECT_TRUE(cfg.channels.empty());
  EXPECT_TRUE(cfg.keys.empty());
  EXPECT_EQ(cfg.log.level, "info");
}

TEST(config, listen_forms) {
  auto a = must_parse("listen: 0.0.0.0:0\n");
  EXPECT_EQ(a.listen_host, "0.0.0.0");
  EXPECT_EQ(a.listen_port, 0);
  auto b = must_parse("listen: localhost:65535\n");
  EXPECT_EQ(b.listen_host, "localhost");
  EXPECT_EQ(b.listen_port, 65535);
  auto c = must_parse("listen: \"[::]:8443\"\n");
  EXPECT_EQ(c.listen_host, "::");
  EXPECT_EQ(c.listen_port, 8443);
  auto d = must_parse("listen: ${HOST:-127.0.0.2}:${PORT}\n", env_of({{"PORT", "7001"}}));
  EXPECT_EQ(d.listen_host, "127.0.0.2");
  EXPECT_EQ(d.listen_port, 7001);
}

TEST(config, bad_listen) {
  for (const char* bad : {"localhost", "localhost:", ":8080", "localhost:http", "localhost:65536",
                          "localhost:-1", "localhost:80x", "[]:80", "[::1]"}) {
    auto msg = must_fail(std::string("workers: 1\nlisten: \"") + bad + "\"\n");
    EXPECT_NE(msg.find("test.yaml:2: listen: "), std::string::npos) << bad << " -> " << msg;
  }
}

TEST(config, log_access_false_means_off) {
  EXPECT_EQ(must_parse("log:\n  access: false\n").log.access, "off");
  EXPECT_EQ(must_parse("log:\n  access: stderr\n").log.access, "stderr");
}

TEST(config, key_model_globs) {
  auto cfg = must_parse(R"(keys:
  - name: narrow
    key: sk-narrow-01
    models: ["gpt-4o*", "o?-mini"]
  - name: single
    key: sk-single-01
    models: text-embedding-*
)");
  ASSERT_EQ(cfg.keys.size(), 2u);
  EXPECT_EQ(cfg.keys[0].models, (std::vector<std::string>{"gpt-4o*", "o?-mini"}));
  EXPECT_EQ(cfg.keys[1].models, (std::vector<std::string>{"text-embedding-*"}));
}

TEST(config, error_unknown_top_level_key) {
  auto msg = must_fail("workers: 2\nlistn: 127.0.0.1:80\n");
  EXPECT_EQ(msg.rfind("test.yaml:2: listn: unknown key", 0), 0u) << msg;
  EXPECT_NE(msg.find("listen"), std::string::npos) << "should list the allowed keys: " << msg;
}

TEST(config, error_unknown_nested_key_names_its_path) {
  auto msg = must_fail(R"(channels:
  - name: a
    type: mock
    models: [demo]
    timeouts:
      conect_ms: 5
)");
  EXPECT_EQ(msg.rfind("test.yaml:6: channels[0].timeouts.conect_ms: unknown key", 0), 0u) << msg;
}

TEST(config, error_unknown_channel_type) {
  auto msg = must_fail(R"(channels:
  - name: a
    type: mock
    models: [demo]
  - name: b
    type: foo
    models: [demo]
)");
  EXPECT_EQ(msg.rfind("test.yaml:6: channels[1].type: unknown channel type 'foo'", 0), 0u) << msg;
}

TEST(config, error_azure_channel_without_base_url) {
  auto msg = must_fail(R"(listen: 127.0.0.1:8080
channels:
  - name: a
    type: azure
    models: [gpt-4o]
)");
  EXPECT_EQ(msg.rfind("test.yaml:3: channels[0]: missing key 'base_url'", 0), 0u) << msg;
}

TEST(config, vendor_rows_give_protocol_and_default_base_url) {
  auto cfg = must_parse(R"(channels:
  - { name: o, type: openai, models: [gpt-4o] }
  - { name: d, type: deepseek, models: [deepseek-chat] }
  - { name: a, type: anthropic, models: [claude-sonnet-4-5], anthropic_version: "2024-01-01" }
  - { name: g, type: gemini, models: [gemini-2.5-flash] }
  - { name: z, type: azure, base_url: "https://x.openai.azure.com/", api_version: "2025-01-01",
      models: [gpt-4o] }
  - { name: l, type: ollama, base_url: "http://10.0.0.2:11434/v1", models: [llama3] }
)");
  ASSERT_EQ(cfg.channels.size(), 6u);
  EXPECT_EQ(cfg.channels[0].base_url, "https://api.openai.com/v1");
  EXPECT_EQ(cfg.channels[1].type, channel_type::openai);
  EXPECT_EQ(cfg.channels[1].vendor, "deepseek");
  EXPECT_EQ(cfg.channels[1].base_url, "https://api.deepseek.com/v1");
  EXPECT_EQ(cfg.channels[2].type, channel_type::anthropic);
  EXPECT_EQ(cfg.channels[2].base_url, "https://api.anthropic.com");
  EXPECT_EQ(cfg.channels[2].anthropic_version, "2024-01-01");
  EXPECT_EQ(cfg.channels[3].type, channel_type::gemini);
  EXPECT_EQ(cfg.channels[3].base_url, "https://generativelanguage.googleapis.com");
  EXPECT_EQ(cfg.channels[4].type, channel_type::azure);
  EXPECT_EQ(cfg.channels[4].base_url, "https://x.openai.azure.com");
  EXPECT_EQ(cfg.channels[4].api_version, "2025-01-01");
  EXPECT_EQ(cfg.channels[5].base_url, "http://10.0.0.2:11434/v1");
}

TEST(config, media_fetch) {
  auto cfg = must_parse(R"(media_fetch: { max_bytes: 4096, timeout_ms: 250, allow_private: true }
)");
  EXPECT_EQ(cfg.media_fetch.max_bytes, 4096u);
  EXPECT_EQ(cfg.media_fetch.timeout, millis{250});
  EXPECT_TRUE(cfg.media_fetch.allow_private);
  auto msg = must_fail("media_fetch: { allow_private: maybe }\n");
  EXPECT_NE(msg.find("media_fetch.allow_private: expected true or false"), std::string::npos)
      << msg;
}

TEST(config, error_bad_base_url) {
  for (const char* url : {"ftp://example.com/v1", "example.com/v1", "http://", "not a url"}) {
    auto msg = must_fail(std::string(R"(channels:
  - name: a
    type: openai
    base_url: ")") + url +
                         R"("
    models: [gpt-4o]
)");
    EXPECT_EQ(
        msg.rfind("test.yaml:4: channels[0].base_url: expected an http:// or https:// URL", 0), 0u)
        << url << " -> " << msg;
  }
}

TEST(config, error_duplicate_channel_name) {
  auto msg = must_fail(R"(channels:
  - name: same
    type: mock
    models: [a]
  - name: same
    type: mock
    models: [b]
)");
  EXPECT_EQ(msg.rfind("test.yaml:5: channels[1].name: duplicate channel name 'same'", 0), 0u)
      << msg;
}

TEST(config, error_missing_models_and_empty_models) {
  // Without models of its own, a channel must be named by a group of `models:`.
  auto a = must_fail("channels:\n  - name: a\n    type: mock\n");
  EXPECT_NE(a.find("channels[0]: channel 'a' serves no model"), std::string::npos) << a;
  auto b = must_fail("channels:\n  - name: a\n    type: mock\n    models: []\n");
  EXPECT_NE(b.find("test.yaml:4: channels[0].models: "), std::string::npos) << b;
  auto c = must_fail("channels:\n  - name: a\n    type: mock\n    models: {x: \"\"}\n");
  EXPECT_NE(c.find("channels[0].models"), std::string::npos) << c;
}

TEST(config, model_groups_and_routing) {
  auto cfg = must_parse(R"(
database: none
channels:
  - { name: openai-main, type: openai, base_url: "https://api.openai.com/v1", api_keys: [a] }
  - { name: azure-east, type: openai, base_url: "https://x.example/v1" }
  - { name: claude, type: anthropic, models: [ claude-haiku ] }
models:
  smart:
    strategy: lowest_latency
    deployments:
      - { channel: openai-main, model: gpt-4o, weight: 3, priority: 0 }
      - { channel: azure-east,  model: gpt-4o, weight: 1 }
      - { channel: claude,      model: claude-sonnet-4-5, priority: 1 }
    fallbacks: [ claude-haiku ]
    context_window_fallbacks: [ long ]
    retries: 3
    timeout_ms: 60000
    hedge: { after: p95 }
  long:
    deployments: [ { channel: claude } ]
    hedge: { after_ms: 800, min_samples: 5 }
routing:
  retries: 1
  backoff_base_ms: 50
  backoff_max_ms: 2000
  breaker: { consecutive_failures: 3, error_rate: 0.25, cooldown_ms: 1000 }
)");
  ASSERT_EQ(cfg.models.size(), 2u);
  const auto& smart = cfg.models[0];
  EXPECT_EQ(smart.name, "smart");
  EXPECT_EQ(smart.strategy, route_strategy::lowest_latency);
  ASSERT_EQ(smart.deployments.size(), 3u);
  EXPECT_EQ(smart.deployments[0].channel, "openai-main");
  EXPECT_EQ(smart.deployments[0].model, "gpt-4o");
  EXPECT_EQ(smart.deployments[0].weight, 3u);
  EXPECT_EQ(smart.deployments[1].weight, 1u);
  EXPECT_EQ(smart.deployments[2].priority, 1);
  EXPECT_EQ(smart.fallbacks, std::vector<std::string>{"claude-haiku"});
  EXPECT_EQ(smart.context_window_fallbacks, std::vector<std::string>{"long"});
  EXPECT_EQ(smart.retries, 3);
  EXPECT_EQ(smart.timeout, std::chrono::milliseconds(60000));
  ASSERT_TRUE(smart.hedge);
  EXPECT_FALSE(smart.hedge->after);  // p95
  const auto& lng = cfg.models[1];
  EXPECT_EQ(lng.strategy, route_strategy::weighted);
  EXPECT_TRUE(lng.deployments[0].model.empty());  // the group's own name
  EXPECT_FALSE(lng.retries);
  ASSERT_TRUE(lng.hedge);
  EXPECT_EQ(lng.hedge->after, std::chrono::milliseconds(800));
  EXPECT_EQ(lng.hedge->min_samples, 5);
  EXPECT_EQ(cfg.routing.retries, 1);
  EXPECT_EQ(cfg.routing.max_retry_after, std::chrono::milliseconds(5000));  // the default
  EXPECT_EQ(cfg.routing.backoff_base, std::chrono::milliseconds(50));
  EXPECT_EQ(cfg.routing.breaker.consecutive_failures, 3);
  EXPECT_DOUBLE_EQ(cfg.routing.breaker.error_rate, 0.25);
  EXPECT_EQ(cfg.routing.breaker.cooldown, std::chrono::milliseconds(1000));
  // Channels named by groups need no models of their own.
  EXPECT_TRUE(cfg.channels[0].models.empty());
}

TEST(config, model_group_errors_name_the_field) {
  const std::string chans =
      "database: none\nchannels:\n  - { name: a, type: mock, models: [x] }\nmodels:\n";
  auto msg = must_fail(chans + "  g: { deployments: [ { channel: nope } ] }\n");
  EXPECT_NE(msg.find("models.g.deployments[0].channel: no channel named 'nope'"), std::string::npos)
      << msg;
  msg = must_fail(chans + "  g: { strategy: fastest, deployments: [ { channel: a } ] }\n");
  EXPECT_NE(msg.find("models.g.strategy: expected weighted"), std::string::npos) << msg;
  msg = must_fail(chans + "  g: { deployments: [] }\n");
  EXPECT_NE(msg.find("models.g.deployments"), std::string::npos) << msg;
  msg = must_fail(chans + "  g: { fallbacks: [g], deployments: [ { channel: a } ] }\n");
  EXPECT_NE(msg.find("cannot fall back to itself"), std::string::npos) << msg;
  msg = must_fail(chans + "  x: { deployments: [ { channel: a } ] }\n");
  EXPECT_NE(msg.find("models.x: a channel's models: also serves 'x'"), std::string::npos) << msg;
  msg = must_fail(chans +
                  "  g: { deployments: [ { channel: a, model: m }, { channel: a, model: m } ] }\n");
  EXPECT_NE(msg.find("duplicate deployment"), std::string::npos) << msg;
  msg = must_fail(chans + "  g: { hedge: { after: p99 }, deployments: [ { channel: a } ] }\n");
  EXPECT_NE(msg.find("models.g.hedge.after"), std::string::npos) << msg;
  msg = must_fail(chans + "  g: { retries: 11, deployments: [ { channel: a } ] }\n");
  EXPECT_NE(msg.find("models.g.retries: must be between 0 and 10"), std::string::npos) << msg;
  msg = must_fail("routing: { breaker: { error_rate: 2 } }\n");
  EXPECT_NE(msg.find("routing.breaker.error_rate"), std::string::npos) << msg;
  msg = must_fail("routing: { backoff_base_ms: 500, backoff_max_ms: 100 }\n");
  EXPECT_NE(msg.find("routing.backoff_max_ms"), std::string::npos) << msg;
  // With a database, a group may name a channel the store will hold.
  auto cfg = must_parse("models:\n  g: { deployments: [ { channel: managed-one } ] }\n");
  EXPECT_EQ(cfg.models.at(0).deployments.at(0).channel, "managed-one");
}

TEST(config, error_key_must_start_with_sk) {
  auto msg = must_fail("keys:\n  - name: a\n    key: pk-abcdefgh\n");
  EXPECT_EQ(msg.rfind("test.yaml:3: keys[0].key: a key must start with 'sk-'", 0), 0u) << msg;
  auto shortkey = must_fail("keys:\n  - key: sk-1\n");
  EXPECT_NE(shortkey.find("keys[0].key"), std::string::npos) << shortkey;
  // An unset variable makes an empty key, which is rejected rather than silently accepted.
  auto unset = must_fail("keys:\n  - key: ${NOPE}\n");
  EXPECT_NE(unset.find("keys[0].key"), std::string::npos) << unset;
}

TEST(config, error_duplicate_key) {
  auto msg = must_fail("keys:\n  - key: sk-same-0001\n  - key: sk-same-0001\n");
  EXPECT_EQ(msg.rfind("test.yaml:3: keys[1].key: duplicate key", 0), 0u) << msg;
}

TEST(config, error_non_integer_workers) {
  for (const char* bad : {"four", "2.5", "\"\"", "3x", "[1]"}) {
    auto msg = must_fail(std::string("listen: 127.0.0.1:80\nworkers: ") + bad + "\n");
    EXPECT_EQ(msg.rfind("test.yaml:2: workers: expected", 0), 0u) << bad << " -> " << msg;
  }
  auto range = must_fail("workers: -1\n");
  EXPECT_EQ(range.rfind("test.yaml:1: workers: must be between 0 and 1024", 0), 0u) << range;
  auto big = must_fail("workers: 99999999999999999999999\n");
  EXPECT_EQ(big.rfind("test.yaml:1: workers: ", 0), 0u) << big;
}

TEST(config, error_weight_and_durations_out_of_range) {
  auto w = must_fail("channels:\n  - name: a\n    type: mock\n    models: [d]\n    weight: 0\n");
  EXPECT_EQ(w.rfind("test.yaml:5: channels[0].weight: must be between 1", 0), 0u) << w;
  auto t = must_fail("limits:\n  header_timeout_ms: 0\n");
  EXPECT_EQ(t.rfind("test.yaml:2: limits.header_timeout_ms: must be between 1", 0), 0u) << t;
}

TEST(config, database_forms) {
  EXPECT_EQ(must_parse("listen: 127.0.0.1:1\n").database, "sqlite:./switchyard-data/switchyard.db");
  EXPECT_EQ(must_parse("database: sqlite:/tmp/x.db\n").database, "sqlite:/tmp/x.db");
  EXPECT_EQ(must_parse("database: postgres://u:p@h:5432/d\n").database, "postgres://u:p@h:5432/d");
  EXPECT_EQ(must_parse("database: none\n").database, "none");
  EXPECT_NE(must_fail("database: mysql://x\n").find("test.yaml:1: database: expected sqlite:"),
            std::string::npos);
  EXPECT_NE(must_fail("database: 'sqlite:'\n").find("database"), std::string::npos);
  auto d = default_config(env_of({{"SWITCHYARD_DATABASE", "sqlite:/tmp/y.db"}}));
  EXPECT_EQ(std::get<config>(d).database, "sqlite:/tmp/y.db");
}

TEST(config, error_bad_log_level_and_short_master_key) {
  auto l = must_fail("log:\n  level: loud\n");
  EXPECT_EQ(l.rfind("test.yaml:2: log.level: ", 0), 0u) << l;
  auto m = must_fail("master_key: short\n");
  EXPECT_EQ(m.rfind("test.yaml:1: master_key: ", 0), 0u) << m;
}

TEST(config, error_yaml_syntax_names_the_line) {
  auto msg = must_fail("workers: 2\nlog:\n  level: info: debug\n");
  EXPECT_EQ(msg.rfind("test.yaml:3: ", 0), 0u) << msg;
  auto flow = must_fail("workers: 2\nlisten: 127.0.0.1:80\nchannels: [\n");
  EXPECT_EQ(flow.rfind("test.yaml:", 0), 0u) << flow;
  EXPECT_EQ(flow.find("test.yaml:0:"), std::string::npos) << flow;
}

TEST(config, error_wrong_node_kinds) {
  auto a = must_fail("channels: {name: a}\n");
  EXPECT_EQ(a.rfind("test.yaml:1: channels: expected a list", 0), 0u) << a;
  auto b = must_fail("keys:\n  - key: sk-abcdefgh\n    models: {a: b}\n");
  EXPECT_EQ(b.rfind("test.yaml:3: keys[0].models: expected a list of strings", 0), 0u) << b;
  auto c = must_fail("master_key: [a, b]\n");
  EXPECT_EQ(c.rfind("test.yaml:1: master_key: expected a string", 0), 0u) << c;
}

TEST(config, load_config_file_names_the_file) {
  const std::string path = ::testing::TempDir() + "switchyard_config_test.yaml";
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << "listen: 127.0.0.1:0\nchannels:\n  - name: m\n    type: mock\n    models: [demo]\n"
           "  - name: m\n    type: mock\n    models: [demo]\n";
  }
  auto result = load_config_file(path, no_env);
  std::remove(path.c_str());
  auto* e = std::get_if<config_error>(&result);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->message.rfind(path + ":6: channels[1].name: duplicate channel name 'm'", 0), 0u)
      << e->message;
}

TEST(config, load_config_file_missing) {
  auto result = load_config_file("/nonexistent/switchyard.yaml", no_env);
  auto* e = std::get_if<config_error>(&result);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("/nonexistent/switchyard.yaml"), std::string::npos);
}

// default_config() for an environment that must give a valid config.
config defaults(const env_lookup& env) {
  auto result = default_config(env);
  if (auto* e = std::get_if<config_error>(&result)) ADD_FAILURE() << e->message;
  return std::get_if<config>(&result) ? std::get<config>(result) : config{};
}

TEST(default_config, mock_channel_only_without_provider_keys) {
  auto cfg = defaults(no_env);
  EXPECT_EQ(cfg.listen_host, "127.0.0.1");
  EXPECT_EQ(cfg.listen_port, 8080);
  EXPECT_TRUE(cfg.master_key.empty());
  ASSERT_EQ(cfg.channels.size(), 1u);
  EXPECT_EQ(cfg.channels[0].type, channel_type::mock);
  ASSERT_EQ(cfg.channels[0].models.size(), 1u);
  EXPECT_EQ(cfg.channels[0].models[0].public_name, "demo");
  EXPECT_EQ(cfg.channels[0].models[0].upstream_name, "demo");
  // An empty variable is the same as an unset one.
  EXPECT_EQ(defaults(env_of({{"OPENAI_API_KEY", ""}})).channels.size(), 1u);
}

TEST(default_config, openai_channel_from_the_environment) {
  auto cfg = defaults(env_of({{"OPENAI_API_KEY", "sk-live-123"}}));
  ASSERT_EQ(cfg.channels.size(), 2u);
  const auto* openai = find_channel(cfg, "openai");
  ASSERT_NE(openai, nullptr);
  EXPECT_EQ(openai->type, channel_type::openai);
  EXPECT_EQ(openai->base_url, "https://api.openai.com/v1");
  EXPECT_EQ(openai->api_keys, (std::vector<std::string>{"sk-live-123"}));
  EXPECT_EQ(upstream_of(*openai, "gpt-*"), "gpt-*");
  EXPECT_EQ(upstream_of(*openai, "text-embedding-*"), "text-embedding-*");
  EXPECT_NE(find_channel(cfg, "mock"), nullptr);

  auto local = defaults(
      env_of({{"OPENAI_API_KEY", "sk-x"}, {"OPENAI_BASE_URL", "http://localhost:1234/v1//"}}));
  ASSERT_EQ(local.channels.size(), 2u);
  EXPECT_EQ(local.channels[1].base_url, "http://localhost:1234/v1");
}

TEST(default_config, anthropic_and_gemini_channels_from_the_environment) {
  auto cfg = defaults(env_of({{"ANTHROPIC_API_KEY", "sk-ant-1"},
                              {"GEMINI_API_KEY", "g-1"},
                              {"GEMINI_BASE_URL", "http://127.0.0.1:9/"}}));
  const auto* ant = find_channel(cfg, "anthropic");
  ASSERT_NE(ant, nullptr);
  EXPECT_EQ(ant->type, channel_type::anthropic);
  EXPECT_EQ(ant->base_url, "https://api.anthropic.com");
  EXPECT_EQ(upstream_of(*ant, "claude-*"), "claude-*");
  const auto* gem = find_channel(cfg, "gemini");
  ASSERT_NE(gem, nullptr);
  EXPECT_EQ(gem->type, channel_type::gemini);
  EXPECT_EQ(gem->base_url, "http://127.0.0.1:9");
  EXPECT_EQ(gem->api_keys, (std::vector<std::string>{"g-1"}));
  auto bad = default_config(env_of({{"ANTHROPIC_API_KEY", "k"}, {"ANTHROPIC_BASE_URL", "x"}}));
  ASSERT_NE(std::get_if<config_error>(&bad), nullptr);
}

TEST(default_config, master_key_from_the_environment) {
  EXPECT_EQ(defaults(env_of({{"SWITCHYARD_MASTER_KEY", "sk-master-xyz"}})).master_key,
            "sk-master-xyz");
}

// OPENAI_BASE_URL gets the same check as a base_url in a file: a bad one is a configuration
// error naming the variable, never a channel that cannot be built.
TEST(default_config, a_bad_base_url_from_the_environment_is_an_error) {
  auto result = default_config(
      env_of({{"OPENAI_API_KEY", "sk-x"}, {"OPENAI_BASE_URL", "api.openai.com/v1"}}));
  auto* e = std::get_if<config_error>(&result);
  ASSERT_NE(e, nullptr);
  EXPECT_NE(e->message.find("OPENAI_BASE_URL"), std::string::npos) << e->message;
  // A channel built from an unchecked URL does not throw either.
  channel_config ch;
  ch.name = "raw";
  ch.base_url = "api.openai.com/v1";
  EXPECT_NO_THROW(channel{ch});
}

TEST(substitute_env, forms) {
  auto env = env_of({{"A", "alpha"}, {"B", "beta"}, {"EMPTY", ""}});
  EXPECT_EQ(substitute_env("${A}", env), "alpha");
  EXPECT_EQ(substitute_env("pre-${A}-${B}-post", env), "pre-alpha-beta-post");
  EXPECT_EQ(substitute_env("${A}${B}", env), "alphabeta");
  EXPECT_EQ(substitute_env("${A:-dflt}", env), "alpha");
  EXPECT_EQ(substitute_env("${NOPE:-dflt}", env), "dflt");
  EXPECT_EQ(substitute_env("${NOPE:-}", env), "");
  EXPECT_EQ(substitute_env("${NOPE:-a:-b}", env), "a:-b");   // only the first ":-" splits
  EXPECT_EQ(substitute_env("${EMPTY:-dflt}", env), "dflt");  // as in the shell, empty = unset
  EXPECT_EQ(substitute_env("${NOPE}", env), "");
  EXPECT_EQ(substitute_env("no variables", env), "no variables");
  EXPECT_EQ(substitute_env("", env), "");
}

TEST(substitute_env, literal_dollars_and_unterminated) {
  auto env = env_of({{"A", "alpha"}});
  EXPECT_EQ(substitute_env("$A", env), "$A");
  EXPECT_EQ(substitute_env("cost: 5$", env), "cost: 5$");
  EXPECT_EQ(substitute_env("$$", env), "$$");
  EXPECT_EQ(substitute_env("${A", env), "${A");
  EXPECT_EQ(substitute_env("x${", env), "x${");
  EXPECT_EQ(substitute_env("$", env), "$");
  EXPECT_EQ(substitute_env("${A}${B", env), "alpha${B");
  EXPECT_EQ(substitute_env("{A}", env), "{A}");
  EXPECT_EQ(substitute_env("$${A}", env), "$alpha");
}

TEST(substitute_env, reports_the_first_missing_variable) {
  auto env = env_of({{"A", "alpha"}});
  std::string missing;
  EXPECT_EQ(substitute_env("${A}-${X}-${Y}", env, &missing), "alpha--");
  EXPECT_EQ(missing, "X");
  std::string none;
  EXPECT_EQ(substitute_env("${A}-${X:-d}", env, &none), "alpha-d");
  EXPECT_TRUE(none.empty()) << none;
  EXPECT_EQ(substitute_env("${X}", env, nullptr), "");  // no out-parameter is fine
}

}  // namespace
}  // namespace sy::test

// ---- parse_channel and channel_to_json: one channel as JSON (the admin API) or YAML
// (Included here, with this section, to keep the file's other parts untouched.)
#include <boost/json.hpp>

#include <cstdlib>

namespace sy::test {
namespace {

using namespace std::chrono_literals;

channel_config must_parse_channel(const std::string& text) {
  auto result = parse_channel(text, "request");
  if (auto* e = std::get_if<config_error>(&result)) {
    ADD_FAILURE() << "unexpected error: " << e->message;
    return channel_config{};
  }
  return std::get<channel_config>(std::move(result));
}

config_error must_fail_channel(const std::string& text) {
  auto result = parse_channel(text, "request");
  if (auto* e = std::get_if<config_error>(&result)) return *e;
  ADD_FAILURE() << "expected an error for:\n" << text;
  return {};
}

void expect_same_channel(const channel_config& a, const channel_config& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.vendor, b.vendor);
  EXPECT_EQ(a.base_url, b.base_url);
  EXPECT_EQ(a.api_keys, b.api_keys);
  ASSERT_EQ(a.models.size(), b.models.size());
  for (std::size_t i = 0; i < a.models.size(); ++i) {
    EXPECT_EQ(a.models[i].public_name, b.models[i].public_name);
    EXPECT_EQ(a.models[i].upstream_name, b.models[i].upstream_name);
  }
  EXPECT_EQ(a.weight, b.weight);
  EXPECT_EQ(a.timeouts.connect, b.timeouts.connect);
  EXPECT_EQ(a.timeouts.first_byte, b.timeouts.first_byte);
  EXPECT_EQ(a.timeouts.idle, b.timeouts.idle);
  EXPECT_EQ(a.timeouts.total, b.timeouts.total);
  EXPECT_EQ(a.mock.latency, b.mock.latency);
  EXPECT_EQ(a.mock.chunk_delay, b.mock.chunk_delay);
  EXPECT_EQ(a.mock.words, b.mock.words);
  EXPECT_EQ(a.mock.chunks, b.mock.chunks);
  EXPECT_EQ(a.ca_file, b.ca_file);
  EXPECT_EQ(a.probe_interval, b.probe_interval);
  EXPECT_EQ(a.api_version, b.api_version);
  EXPECT_EQ(a.anthropic_version, b.anthropic_version);
}

TEST(parse_channel, reads_json_with_the_config_file_keys) {
  auto ch = must_parse_channel(
      R"({"name":"oa","type":"openai","base_url":"https://api.example.com/v1/",)"
      R"("api_keys":["sk-a","","sk-b"],"models":{"gpt-4o":"gpt-4o","fast":"gpt-4o-mini"},)"
      R"("weight":2,"timeouts":{"connect_ms":100,"first_byte_ms":200,"idle_ms":300,"total_ms":400},)"
      R"("api_version":"2025-01-01","anthropic_version":"2023-01-01"})");
  EXPECT_EQ(ch.name, "oa");
  EXPECT_EQ(ch.type, channel_type::openai);
  EXPECT_EQ(ch.vendor, "openai");
  EXPECT_EQ(ch.base_url, "https://api.example.com/v1");
  EXPECT_EQ(ch.api_keys, (std::vector<std::string>{"sk-a", "sk-b"}));  // "" dropped
  ASSERT_EQ(ch.models.size(), 2u);
  EXPECT_EQ(ch.models[0].public_name, "gpt-4o");
  EXPECT_EQ(ch.models[1].public_name, "fast");
  EXPECT_EQ(ch.models[1].upstream_name, "gpt-4o-mini");
  EXPECT_EQ(ch.weight, 2u);
  EXPECT_EQ(ch.timeouts.connect, 100ms);
  EXPECT_EQ(ch.timeouts.total, 400ms);
  EXPECT_EQ(ch.api_version, "2025-01-01");
  EXPECT_EQ(ch.anthropic_version, "2023-01-01");

  // Pretty-printed (tabs too), a list of models, one api_key, the vendor's default base_url.
  auto pretty = must_parse_channel(
      "{\n\t\"name\": \"claude\",\n\t\"type\": \"anthropic\",\n\t\"api_key\": \"sk-ant\",\n"
      "\t\"models\": [\"claude-*\", \"opus\"]\n}\n");
  EXPECT_EQ(pretty.type, channel_type::anthropic);
  EXPECT_EQ(pretty.base_url, "https://api.anthropic.com");
  EXPECT_EQ(pretty.api_keys, std::vector<std::string>{"sk-ant"});
  ASSERT_EQ(pretty.models.size(), 2u);
  EXPECT_EQ(pretty.models[1].upstream_name, "opus");
  EXPECT_EQ(pretty.weight, 1u);

  // JSON escapes.
  auto escaped =
      must_parse_channel(R"({"name":"caf\u00e9 \"q\" \/","type":"mock","models":["demo"]})");
  EXPECT_EQ(escaped.name, "caf\xc3\xa9 \"q\" /");

  // And YAML, as in the config file.
  auto yaml = must_parse_channel("name: m\ntype: mock\nmodels: demo\nmock: {words: 3}\n");
  EXPECT_EQ(yaml.type, channel_type::mock);
  EXPECT_EQ(yaml.mock.words, 3);
}

TEST(parse_channel, substitutes_no_environment_variable) {
  setenv("SY_TEST_CHANNEL_SECRET", "leaked-value", 1);
  ASSERT_TRUE(std::getenv("HOME"));
  const std::string home = std::getenv("HOME");
  auto ch = must_parse_channel(
      R"({"name":"${HOME}","type":"openai","base_url":"https://example.com/v1",)"
      R"("api_keys":["${SY_TEST_CHANNEL_SECRET}","${NOT_SET_ANYWHERE:-fallback}"],)"
      R"("models":["${HOME}"],"api_version":"${SY_TEST_CHANNEL_SECRET}"})");
  EXPECT_EQ(ch.name, "${HOME}");
  EXPECT_EQ(ch.api_keys, (std::vector<std::string>{"${SY_TEST_CHANNEL_SECRET}",
                                                   "${NOT_SET_ANYWHERE:-fallback}"}));
  EXPECT_EQ(ch.models.at(0).public_name, "${HOME}");
  EXPECT_EQ(ch.api_version, "${SY_TEST_CHANNEL_SECRET}");
  // A base_url made of a variable is not a URL: refused, and the error shows no value.
  auto e = must_fail_channel(
      R"({"name":"x","type":"openai","base_url":"${SY_TEST_CHANNEL_SECRET}","models":["m"]})");
  EXPECT_EQ(e.field, "base_url");
  EXPECT_NE(e.message.find("${SY_TEST_CHANNEL_SECRET}"), std::string::npos) << e.message;
  EXPECT_EQ(e.message.find("leaked-value"), std::string::npos) << e.message;
  auto url = must_fail_channel(
      R"({"name":"x","type":"openai","base_url":"https://${HOME}.example.com","models":["m"]})");
  EXPECT_EQ(url.field, "base_url");
  EXPECT_EQ(url.message.find(home + ".example"), std::string::npos) << url.message;
  unsetenv("SY_TEST_CHANNEL_SECRET");
  // The config file still substitutes.
  auto cfg =
      must_parse("channels: [{name: a, type: mock, models: [\"${M}\"]}]", env_of({{"M", "demo"}}));
  EXPECT_EQ(cfg.channels.at(0).models.at(0).public_name, "demo");
}

TEST(parse_channel, errors_name_the_field) {
  struct bad_case {
    std::string text;
    std::string field;
    std::string says;
  };
  const std::vector<bad_case> cases = {
      {R"({"type":"openai","models":["m"]})", "", "missing key 'name'"},
      {R"({"name":"","type":"openai","models":["m"]})", "name", "must not be empty"},
      {R"({"name":"x","type":"nope","models":["m"]})", "type", "unknown channel type 'nope'"},
      {R"({"name":"x","type":"azure","models":["m"]})", "", "missing key 'base_url'"},
      {R"({"name":"x","type":"openai","base_url":"ftp://h","models":["m"]})", "base_url",
       "expected an http:// or https:// URL"},
      {R"({"name":"x","type":"openai"})", "", "missing key 'models'"},
      {R"({"name":"x","type":"openai","models":[]})", "models", "at least one model"},
      {R"({"name":"x","type":"openai","models":[["a"]]})", "models[0]", "expected a string"},
      {R"({"name":"x","type":"openai","models":{"a":""}})", "models", "must not be empty"},
      {R"({"name":"x","type":"openai","models":["m"],"weight":0})", "weight",
       "between 1 and 1000000"},
      {R"({"name":"x","type":"openai","models":["m"],"weight":"two"})", "weight",
       "expected an integer"},
      {R"({"name":"x","type":"openai","models":["m"],"timeouts":{"connect_ms":-1}})",
       "timeouts.connect_ms", "between"},
      {R"({"name":"x","type":"openai","models":["m"],"timeouts":{"conect_ms":1}})",
       "timeouts.conect_ms", "unknown key"},
      {R"({"name":"x","type":"openai","models":["m"],"api_keys":["a",{"k":1}]})", "api_keys[1]",
       "expected a string"},
      {R"({"name":"x","type":"openai","models":["m"],"colour":"red"})", "colour", "unknown key"},
      {R"({"name":null,"type":"openai","models":["m"]})", "name", "expected a string"},
      {R"({"name":"x","type":"mock","models":["m"],"mock":{"words":0}})", "mock.words", "between"},
      {R"({"name":"x","type":"openai","models":["m"],"ca_file":"/nonexistent/ca.pem"})", "ca_file",
       "cannot read"},
      {R"(["name","x"])", "", "expected a mapping"},
      {R"("just text")", "", "expected a mapping"},
      {"", "", "expected a mapping"},
      {R"({"name":"x",)", "", ""},  // not JSON: the parser's message
  };
  for (const auto& c : cases) {
    auto e = must_fail_channel(c.text);
    EXPECT_EQ(e.field, c.field) << c.text << "\n" << e.message;
    EXPECT_NE(e.message.find(c.says), std::string::npos) << c.text << "\n" << e.message;
    EXPECT_TRUE(e.message.starts_with("request:")) << e.message;
    EXPECT_EQ(e.message.find(": :"), std::string::npos) << e.message;
    EXPECT_EQ(e.message.find(".name"), std::string::npos) << e.message;
  }
  // The line is named, as in the config file.
  auto e =
      must_fail_channel("{\n  \"name\": \"x\",\n  \"type\": \"nope\",\n  \"models\": [\"m\"]\n}");
  EXPECT_TRUE(e.message.starts_with("request:3: type: unknown channel type")) << e.message;
  // Nested too deep: an error, not a crash.
  auto deep =
      must_fail_channel("{\"models\":" + std::string(100000, '[') + std::string(100000, ']') + "}");
  EXPECT_FALSE(deep.message.empty());
}

TEST(config_error, names_the_field_of_the_config_file_too) {
  auto result = parse_config("channels:\n  - name: a\n    type: nope\n    models: [m]\n",
                             "test.yaml", no_env);
  ASSERT_TRUE(std::holds_alternative<config_error>(result));
  const auto& e = std::get<config_error>(result);
  EXPECT_EQ(e.field, "channels[0].type");
  EXPECT_TRUE(e.message.starts_with("test.yaml:3: channels[0].type: unknown channel type"))
      << e.message;
  auto limits = std::get<config_error>(parse_config("limits: {max_body_bytes: 1}", "t", no_env));
  EXPECT_EQ(limits.field, "limits.max_body_bytes");
  auto unknown = std::get<config_error>(parse_config("colour: red", "t", no_env));
  EXPECT_EQ(unknown.field, "colour");
  auto not_a_map = std::get<config_error>(parse_config("[1, 2]", "t", no_env));
  EXPECT_EQ(not_a_map.field, "");
  EXPECT_EQ(not_a_map.message, "t:1: expected a mapping");
}

TEST(channel_to_json, reads_back_to_the_same_channel) {
  const std::string pem = ::testing::TempDir() + "sy-channel-ca.pem";
  std::ofstream(pem) << "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n";
  std::vector<channel_config> channels;
  channels.push_back(must_parse_channel(
      R"({"name":"oa","type":"openai","api_keys":["sk-a","sk-\"b\\"],"models":["gpt-4o","o3*"],)"
      R"("weight":7,"timeouts":{"connect_ms":1,"first_byte_ms":2,"idle_ms":3,"total_ms":4},)"
      R"("probe":{"interval_ms":15000}})"));
  channels.push_back(must_parse_channel(
      R"({"name":"az","type":"azure","base_url":"https://r.openai.azure.com","api_key":"k",)"
      R"("models":{"gpt-4o":"my-deployment","gpt-4o-mini":"gpt-4o-mini"},)"
      R"("api_version":"2025-04-01","ca_file":")" +
      pem + R"("})"));
  channels.push_back(
      must_parse_channel(R"({"name":"m \u00e9\n","type":"mock","models":["demo"],)"
                         R"("mock":{"latency_ms":1,"chunk_delay_ms":2,"words":3,"chunks":4}})"));
  channels.push_back(must_parse_channel(
      R"({"name":"local","type":"llama.cpp","models":["*"],"anthropic_version":"x"})"));
  for (const auto& ch : channels) {
    SCOPED_TRACE(ch.name);
    const auto with_keys = channel_to_json(ch, true);
    // Valid JSON, with the keys of the config file.
    boost::system::error_code ec;
    auto v = boost::json::parse(with_keys, ec);
    ASSERT_FALSE(ec) << with_keys;
    ASSERT_TRUE(v.is_object());
    EXPECT_EQ(v.as_object().at("name").as_string(), ch.name);
    EXPECT_EQ(v.as_object().at("type").as_string(), ch.vendor);
    expect_same_channel(must_parse_channel(with_keys), ch);

    // Without keys: none of them, and otherwise the same channel.
    const auto without = channel_to_json(ch, false);
    EXPECT_EQ(channel_to_json(ch), without);  // the default
    EXPECT_FALSE(boost::json::parse(without).as_object().contains("api_keys")) << without;
    for (const auto& key : ch.api_keys)
      EXPECT_EQ(without.find(key), std::string::npos) << without;
    auto keyless = ch;
    keyless.api_keys.clear();
    expect_same_channel(must_parse_channel(without), keyless);
  }
  // The list form when no model is renamed, the map form otherwise; mock options only where they
  // mean something.
  EXPECT_EQ(channels[0].probe_interval, std::chrono::milliseconds(15000));
  EXPECT_FALSE(channels[1].probe_interval);
  EXPECT_TRUE(boost::json::parse(channel_to_json(channels[0])).as_object().at("models").is_array());
  EXPECT_TRUE(
      boost::json::parse(channel_to_json(channels[1])).as_object().at("models").is_object());
  EXPECT_FALSE(boost::json::parse(channel_to_json(channels[0])).as_object().contains("mock"));
  EXPECT_TRUE(boost::json::parse(channel_to_json(channels[2])).as_object().contains("mock"));
  EXPECT_FALSE(boost::json::parse(channel_to_json(channels[2])).as_object().contains("base_url"));
  std::remove(pem.c_str());
}

TEST(channel_to_json, names_the_vendor_of_a_channel_built_in_code) {
  // default_config's mock channel sets `type` only (its `vendor` keeps the default "openai").
  auto cfg = std::get<config>(default_config(no_env));
  const auto& mock = cfg.channels.at(0);
  ASSERT_EQ(mock.type, channel_type::mock);
  auto json = channel_to_json(mock);
  EXPECT_EQ(boost::json::parse(json).as_object().at("type").as_string(), "mock") << json;
  EXPECT_EQ(must_parse_channel(json).type, channel_type::mock);
}

}  // namespace
}  // namespace sy::test

// ---- pricing: and currency: (the prices themselves: tests/unit/billing/pricing_test.cpp)

namespace sy::test {
namespace {

config_error must_fail_with(const std::string& yaml) {
  auto result = parse_config(yaml, "test.yaml", no_env);
  if (auto* e = std::get_if<config_error>(&result)) return *e;
  ADD_FAILURE() << "expected an error for:\n" << yaml;
  return {};
}

TEST(config_pricing, global_and_channel_shapes_and_synonyms) {
  auto cfg = must_parse(R"(pricing:
  gpt-5-nano:         { input: 0.05, cached_input: 0.005, output: 0.40 }
  claude-haiku-4-5*:  { input: 1.00, cache_read: 0.10, cache_write_5m: 1.25, cache_write_1h: 2.00, output: 5.00 }
  o3:
    input: 2
    output: 8
    reasoning: 12.5
currency: { code: CNY, rate: 7.1 }
channels:
  - name: relay
    type: openai
    base_url: https://relay.example.com/v1
    models: ["*"]
    pricing:
      "gpt-*": { input: 0.1, output: 0.2 }
  - name: plain
    type: openai
    models: [gpt-4o]
)");
  ASSERT_EQ(cfg.pricing.size(), 3u);
  EXPECT_EQ(cfg.pricing[0].pattern, "gpt-5-nano");
  EXPECT_EQ(cfg.pricing[0].value,
            (price{50'000, 5'000, std::nullopt, std::nullopt, 400'000, std::nullopt}));
  EXPECT_EQ(cfg.pricing[1].pattern, "claude-haiku-4-5*");
  // cache_read is cached_input by another name.
  EXPECT_EQ(cfg.pricing[1].value,
            (price{1'000'000, 100'000, 1'250'000, 2'000'000, 5'000'000, std::nullopt}));
  EXPECT_EQ(cfg.pricing[2].value.reasoning, 12'500'000);
  EXPECT_FALSE(cfg.pricing[2].value.cached_input);
  EXPECT_EQ(cfg.currency.code, "CNY");
  EXPECT_DOUBLE_EQ(cfg.currency.rate, 7.1);
  ASSERT_EQ(cfg.channels.size(), 2u);
  ASSERT_EQ(cfg.channels[0].pricing.size(), 1u);
  EXPECT_EQ(cfg.channels[0].pricing[0].pattern, "gpt-*");
  EXPECT_EQ(cfg.channels[0].pricing[0].value.output, 200'000);
  EXPECT_TRUE(cfg.channels[1].pricing.empty());
  // Defaults: no pricing entries, USD at 1.
  auto plain = must_parse("listen: 127.0.0.1:1\n");
  EXPECT_TRUE(plain.pricing.empty());
  EXPECT_EQ(plain.currency.code, "USD");
  EXPECT_EQ(plain.currency.rate, 1.0);
  EXPECT_TRUE(must_parse("pricing:\n").pricing.empty());
  // Environment substitution applies to prices as to every scalar.
  auto env = must_parse("pricing:\n  m: { input: '${IN}', output: 1 }\n", env_of({{"IN", "0.5"}}));
  EXPECT_EQ(env.pricing.at(0).value.input, 500'000);
}

TEST(config_pricing, errors_name_the_file_line_and_key) {
  auto e = must_fail_with("pricing:\n  gpt-5: { input: 1, outptu: 2 }\n");
  EXPECT_EQ(e.field, "pricing.gpt-5.outptu");
  EXPECT_TRUE(e.message.starts_with("test.yaml:2: pricing.gpt-5.outptu: unknown key")) << e.message;

  e = must_fail_with("pricing:\n  gpt-5:\n    input: 1\n    output: -2\n");
  EXPECT_EQ(e.field, "pricing.gpt-5.output");
  EXPECT_TRUE(e.message.starts_with("test.yaml:4: pricing.gpt-5.output: expected USD per million"))
      << e.message;

  e = must_fail_with("pricing:\n  gpt-5: { input: 1e3, output: 2 }\n");
  EXPECT_EQ(e.field, "pricing.gpt-5.input");
  e = must_fail_with("pricing:\n  gpt-5: { input: 0.0000001, output: 2 }\n");
  EXPECT_EQ(e.field, "pricing.gpt-5.input");
  e = must_fail_with("pricing:\n  gpt-5: { input: abc, output: 2 }\n");
  EXPECT_EQ(e.field, "pricing.gpt-5.input");

  e = must_fail_with("pricing:\n  gpt-5: { input: 1 }\n");
  EXPECT_EQ(e.field, "pricing.gpt-5");
  EXPECT_TRUE(e.message.starts_with("test.yaml:2: pricing.gpt-5: missing key 'output'"))
      << e.message;
  e = must_fail_with("pricing:\n  gpt-5: { output: 1 }\n");
  EXPECT_NE(e.message.find("missing key 'input'"), std::string::npos) << e.message;

  e = must_fail_with(
      "pricing:\n  m: { input: 1, cached_input: 0.1, cache_read: 0.1, output: 2 }\n");
  EXPECT_EQ(e.field, "pricing.m.cache_read");
  EXPECT_NE(e.message.find("same price"), std::string::npos) << e.message;

  e = must_fail_with("pricing:\n  m: { input: 1, output: 2 }\n  m: { input: 3, output: 4 }\n");
  EXPECT_EQ(e.field, "pricing.m");
  EXPECT_TRUE(e.message.starts_with("test.yaml:3: pricing.m: duplicate model 'm'")) << e.message;

  e = must_fail_with("pricing: [gpt-5]\n");
  EXPECT_EQ(e.field, "pricing");
  e = must_fail_with("pricing:\n  gpt-5: 1.25\n");
  EXPECT_EQ(e.field, "pricing.gpt-5");
  EXPECT_NE(e.message.find("expected a mapping"), std::string::npos) << e.message;

  e = must_fail_with(R"(channels:
  - name: a
    type: openai
    models: [m]
    pricing:
      m: { input: 1, output: x }
)");
  EXPECT_EQ(e.field, "channels[0].pricing.m.output");
  EXPECT_TRUE(e.message.starts_with("test.yaml:6: channels[0].pricing.m.output: ")) << e.message;

  e = must_fail_with("currency: { code: yuan, rate: 7.1 }\n");
  EXPECT_EQ(e.field, "currency.code");
  e = must_fail_with("currency: { code: CNY, rate: 0 }\n");
  EXPECT_EQ(e.field, "currency.rate");
  e = must_fail_with("currency: { code: CNY }\n");
  EXPECT_EQ(e.field, "currency");
  e = must_fail_with("currency: { code: CNY, rate: 7, symbol: x }\n");
  EXPECT_EQ(e.field, "currency.symbol");
}

TEST(config_pricing, a_channel_keeps_its_prices_through_json) {
  auto ch = must_parse_channel(
      R"({"name":"r","type":"openai","models":["*"],)"
      R"("pricing":{"gpt-*":{"input":0.1,"cache_read":0.01,"output":0.2},)"
      R"("o3":{"input":2,"cache_write_5m":2.5,"cache_write_1h":4,"output":8,"reasoning":9.000001}}})");
  ASSERT_EQ(ch.pricing.size(), 2u);
  auto json = channel_to_json(ch);
  auto back = must_parse_channel(json);
  EXPECT_EQ(back.pricing, ch.pricing) << json;
  EXPECT_EQ(back.pricing[1].value.reasoning, 9'000'001);
  // No prices, no `pricing` member.
  auto bare = must_parse_channel(R"({"name":"b","type":"openai","models":["*"]})");
  EXPECT_FALSE(boost::json::parse(channel_to_json(bare)).as_object().contains("pricing"));
  auto err = must_fail_channel(
      R"({"name":"b","type":"openai","models":["*"],"pricing":{"m":{"input":1}}})");
  EXPECT_EQ(err.field, "pricing.m");
}

TEST(config_alerts, webhook_with_a_secret_from_the_environment) {
  auto cfg = must_parse(R"(alerts:
  webhook:
    url: https://hooks.example.com/switchyard?token=t
    secret: ${SWITCHYARD_WEBHOOK_SECRET}
    timeout_ms: 2500
    max_attempts: 3
)",
                        env_of({{"SWITCHYARD_WEBHOOK_SECRET", "whsec_0123456789abcdef"}}));
  ASSERT_TRUE(cfg.webhook.has_value());
  EXPECT_EQ(cfg.webhook->url, "https://hooks.example.com/switchyard?token=t");
  EXPECT_EQ(cfg.webhook->secret, "whsec_0123456789abcdef");
  EXPECT_EQ(cfg.webhook->timeout, 2500ms);
  EXPECT_EQ(cfg.webhook->max_attempts, 3);
  EXPECT_TRUE(cfg.webhook->ca_file.empty());

  auto defaults = must_parse(
      "alerts:\n  webhook:\n    url: http://127.0.0.1:9000/h\n    secret: 0123456789abcdef\n");
  ASSERT_TRUE(defaults.webhook.has_value());
  EXPECT_EQ(defaults.webhook->timeout, 5000ms);
  EXPECT_EQ(defaults.webhook->max_attempts, 5);
  // No section, or an empty one: no webhook.
  EXPECT_FALSE(must_parse("workers: 1\n").webhook.has_value());
  EXPECT_FALSE(must_parse("alerts:\n").webhook.has_value());
}

TEST(config_alerts, errors_name_the_field) {
  auto error_of = [](const std::string& yaml, const env_lookup& env = no_env) {
    auto result = parse_config(yaml, "test.yaml", env);
    if (auto* e = std::get_if<config_error>(&result)) return *e;
    ADD_FAILURE() << "expected an error for:\n" << yaml;
    return config_error{};
  };
  auto no_url = error_of("alerts:\n  webhook:\n    secret: 0123456789abcdef\n");
  EXPECT_EQ(no_url.field, "alerts.webhook");
  EXPECT_EQ(no_url.message, "test.yaml:3: alerts.webhook: missing key 'url'");

  auto no_secret = error_of("alerts:\n  webhook:\n    url: https://h.example.com/\n");
  EXPECT_EQ(no_secret.field, "alerts.webhook");
  EXPECT_EQ(no_secret.message, "test.yaml:3: alerts.webhook: missing key 'secret'");

  auto short_secret =
      error_of("alerts:\n  webhook:\n    url: https://h.example.com/\n    secret: short-secret\n");
  EXPECT_EQ(short_secret.field, "alerts.webhook.secret");
  EXPECT_EQ(short_secret.message,
            "test.yaml:4: alerts.webhook.secret: must have at least 16 characters");
  EXPECT_EQ(short_secret.message.find("short-secret"), std::string::npos);

  // An unset variable leaves an empty secret: the message points at the environment.
  auto unset = error_of(
      "alerts:\n  webhook:\n    url: https://h.example.com/\n"
      "    secret: ${SWITCHYARD_WEBHOOK_SECRET}\n");
  EXPECT_EQ(unset.field, "alerts.webhook.secret");
  EXPECT_NE(unset.message.find("environment variable"), std::string::npos) << unset.message;

  for (const char* url : {"ftp://h.example.com/", "h.example.com/hook", "http:///x", "http:<"}) {
    auto bad = error_of(std::string("alerts:\n  webhook:\n    url: \"") + url +
                        "\"\n    secret: 0123456789abcdef\n");
    EXPECT_EQ(bad.field, "alerts.webhook.url") << url;
    EXPECT_TRUE(bad.message.starts_with("test.yaml:3: alerts.webhook.url: ")) << bad.message;
  }

  auto unknown = error_of(
      "alerts:\n  webhook:\n    url: https://h.example.com/\n    secret: 0123456789abcdef\n"
      "    retries: 3\n");
  EXPECT_EQ(unknown.field, "alerts.webhook.retries");
  EXPECT_TRUE(unknown.message.starts_with("test.yaml:5: alerts.webhook.retries: unknown key"))
      << unknown.message;
  auto unknown_top = error_of("alerts:\n  slack: {}\n");
  EXPECT_EQ(unknown_top.field, "alerts.slack");

  auto zero_timeout = error_of(
      "alerts:\n  webhook:\n    url: https://h.example.com/\n    secret: 0123456789abcdef\n"
      "    timeout_ms: 0\n");
  EXPECT_EQ(zero_timeout.field, "alerts.webhook.timeout_ms");
  auto attempts = error_of(
      "alerts:\n  webhook:\n    url: https://h.example.com/\n    secret: 0123456789abcdef\n"
      "    max_attempts: 0\n");
  EXPECT_EQ(attempts.field, "alerts.webhook.max_attempts");
  auto ca = error_of(
      "alerts:\n  webhook:\n    url: https://h.example.com/\n    secret: 0123456789abcdef\n"
      "    ca_file: /nonexistent/ca.pem\n");
  EXPECT_EQ(ca.field, "alerts.webhook.ca_file");
}

}  // namespace
}  // namespace sy::test
