// Where a channel's upstream is (parsed once from base_url) and API key rotation.
#include "providers/channel.h"

#include <gtest/gtest.h>

namespace sy::test {
namespace {

channel_config openai_at(const std::string& base_url, std::vector<std::string> keys = {}) {
  channel_config cfg;
  cfg.name = "up";
  cfg.type = channel_type::openai;
  cfg.base_url = base_url;
  cfg.api_keys = std::move(keys);
  cfg.models = {{"m", "m"}};
  return cfg;
}

TEST(channel, https_default_port) {
  channel ch(openai_at("https://api.openai.com/v1"));
  const auto& t = ch.target();
  EXPECT_TRUE(t.tls);
  EXPECT_EQ(t.host, "api.openai.com");
  EXPECT_EQ(t.port, "443");
  EXPECT_EQ(t.host_header, "api.openai.com");
  EXPECT_EQ(t.base_path, "/v1");
  EXPECT_EQ(t.pool_key, "https://api.openai.com:443");
  EXPECT_EQ(ch.name(), "up");
}

TEST(channel, http_default_and_explicit_port) {
  channel plain(openai_at("http://example.com"));
  EXPECT_FALSE(plain.target().tls);
  EXPECT_EQ(plain.target().port, "80");
  EXPECT_EQ(plain.target().base_path, "");
  EXPECT_EQ(plain.target().pool_key, "http://example.com:80");

  channel local(openai_at("http://localhost:8000/openai/v1/"));
  const auto& t = local.target();
  EXPECT_FALSE(t.tls);
  EXPECT_EQ(t.host, "localhost");
  EXPECT_EQ(t.port, "8000");
  EXPECT_EQ(t.host_header, "localhost:8000");
  EXPECT_EQ(t.base_path, "/openai/v1");  // no trailing slash: endpoints append "/chat/..."
  EXPECT_EQ(t.pool_key, "http://localhost:8000");

  channel tls_port(openai_at("https://gw.example.com:8443/v1"));
  EXPECT_TRUE(tls_port.target().tls);
  EXPECT_EQ(tls_port.target().port, "8443");
  EXPECT_EQ(tls_port.target().host_header, "gw.example.com:8443");
}

TEST(channel, ipv6_host) {
  channel ch(openai_at("http://[::1]:8080/v1"));
  const auto& t = ch.target();
  EXPECT_EQ(t.host, "::1");  // no brackets: this goes to the resolver
  EXPECT_EQ(t.port, "8080");
  EXPECT_EQ(t.host_header, "[::1]:8080");
  EXPECT_EQ(t.base_path, "/v1");

  channel tls(openai_at("https://[2001:db8::1]/v1"));
  EXPECT_EQ(tls.target().host, "2001:db8::1");
  EXPECT_EQ(tls.target().port, "443");
  EXPECT_EQ(tls.target().host_header, "[2001:db8::1]");
}

// BUG (src/providers/channel.cpp, channel::channel): an empty port ("http://example.com:/v1",
// valid per RFC 3986 3.2.3 and equivalent to no port) passes the config check but gives
// target().port == "" (the resolver then fails) and host_header "example.com:".
TEST(channel, empty_port_means_default_port) {
  channel ch(openai_at("http://example.com:/v1"));
  EXPECT_EQ(ch.target().port, "80");  // actual: ""
  EXPECT_EQ(ch.target().host, "example.com");
  EXPECT_EQ(ch.target().base_path, "/v1");
}

TEST(channel, mock_has_no_target) {
  channel_config cfg;
  cfg.name = "mock";
  cfg.type = channel_type::mock;
  cfg.models = {{"demo", "demo"}};
  channel ch(cfg);
  EXPECT_TRUE(ch.target().host.empty());
  EXPECT_TRUE(ch.next_api_key().empty());
}

TEST(channel, next_api_key_round_robin) {
  channel ch(openai_at("https://api.openai.com/v1", {"sk-a", "sk-b", "sk-c"}));
  std::vector<std::string> got;
  for (int i = 0; i < 7; ++i)
    got.emplace_back(ch.next_api_key());
  EXPECT_EQ(got,
            (std::vector<std::string>{"sk-a", "sk-b", "sk-c", "sk-a", "sk-b", "sk-c", "sk-a"}));

  channel one(openai_at("https://api.openai.com/v1", {"sk-only"}));
  EXPECT_EQ(one.next_api_key(), "sk-only");
  EXPECT_EQ(one.next_api_key(), "sk-only");

  channel none(openai_at("http://localhost:8000/v1"));
  EXPECT_EQ(none.next_api_key(), "");
}

}  // namespace
}  // namespace sy::test
