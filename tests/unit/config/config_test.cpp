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
  auto a = must_fail("channels:\n  - name: a\n    type: mock\n");
  EXPECT_NE(a.find("channels[0]: missing key 'models'"), std::string::npos) << a;
  auto b = must_fail("channels:\n  - name: a\n    type: mock\n    models: []\n");
  EXPECT_NE(b.find("test.yaml:4: channels[0].models: "), std::string::npos) << b;
  auto c = must_fail("channels:\n  - name: a\n    type: mock\n    models: {x: \"\"}\n");
  EXPECT_NE(c.find("channels[0].models"), std::string::npos) << c;
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
