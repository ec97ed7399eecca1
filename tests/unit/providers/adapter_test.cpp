// Provider adapters: request target, auth and version headers per vendor.
#include "providers/adapter.h"

#include <gtest/gtest.h>

namespace sy::test {
namespace {

channel_config at(channel_type type, const std::string& base_url, const std::string& key) {
  channel_config cfg;
  cfg.name = "up";
  cfg.type = type;
  cfg.base_url = base_url;
  if (!key.empty()) cfg.api_keys = {key};
  cfg.models = {{"m", "m"}};
  return cfg;
}

using providers::build;
using providers::operation;

TEST(adapter, openai_bearer_and_path) {
  channel ch(at(channel_type::openai, "https://api.openai.com/v1", "sk-up"));
  auto out = build(ch, operation::chat, "gpt-4o", true, {});
  EXPECT_EQ(out.target, "/v1/chat/completions");
  EXPECT_EQ(out.headers, "Authorization: Bearer sk-up\r\n");
  EXPECT_EQ(build(ch, operation::embeddings, "e", false, {}).target, "/v1/embeddings");
  EXPECT_EQ(providers::protocol_of(channel_type::openai), ir::protocol::openai);
}

TEST(adapter, openai_without_key_sends_no_auth) {
  channel ch(at(channel_type::openai, "http://127.0.0.1:11434/v1", ""));
  EXPECT_EQ(build(ch, operation::chat, "llama3", false, {}).headers, "");
}

TEST(adapter, azure_deployment_in_path_and_api_key_header) {
  auto cfg = at(channel_type::azure, "https://res.openai.azure.com", "az-key");
  cfg.api_version = "2024-10-21";
  channel ch(cfg);
  auto out = build(ch, operation::chat, "gpt-4o mini/x", false, {});
  EXPECT_EQ(out.target,
            "/openai/deployments/gpt-4o%20mini%2Fx/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(out.headers, "api-key: az-key\r\n");
  // A model named ".." cannot step out of the deployments folder.
  EXPECT_EQ(build(ch, operation::chat, "..", false, {}).target,
            "/openai/deployments/%2E%2E/chat/completions?api-version=2024-10-21");
  EXPECT_EQ(providers::protocol_of(channel_type::azure), ir::protocol::openai);
}

TEST(adapter, anthropic_headers_and_version) {
  channel ch(at(channel_type::anthropic, "https://api.anthropic.com", "sk-ant"));
  auto out = build(ch, operation::chat, "claude-x", true, {});
  EXPECT_EQ(out.target, "/v1/messages");
  EXPECT_EQ(out.headers, "x-api-key: sk-ant\r\nanthropic-version: 2023-06-01\r\n");
  // Passthrough forwards the client's version and beta flags.
  auto fwd = build(ch, operation::count_tokens, "claude-x", false,
                   {"2026-10-21", "prompt-caching-2024-07-31"});
  EXPECT_EQ(fwd.target, "/v1/messages/count_tokens");
  EXPECT_EQ(fwd.headers,
            "x-api-key: sk-ant\r\nanthropic-version: 2026-10-21\r\n"
            "anthropic-beta: prompt-caching-2024-07-31\r\n");
}

TEST(adapter, gemini_model_in_path) {
  channel ch(at(channel_type::gemini, "https://generativelanguage.googleapis.com", "g-key"));
  EXPECT_EQ(build(ch, operation::chat, "gemini-2.5-flash", false, {}).target,
            "/v1beta/models/gemini-2.5-flash:generateContent");
  EXPECT_EQ(build(ch, operation::chat, "gemini-2.5-flash", true, {}).target,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
  EXPECT_EQ(build(ch, operation::chat, "gemini-2.5-flash", true, {}, false).target,
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
  EXPECT_EQ(build(ch, operation::chat, "g", false, {}).headers, "x-goog-api-key: g-key\r\n");
}

TEST(adapter, keys_rotate) {
  auto cfg = at(channel_type::anthropic, "https://api.anthropic.com", "k1");
  cfg.api_keys.push_back("k2");
  channel ch(cfg);
  auto a = build(ch, operation::chat, "m", false, {}).headers;
  auto b = build(ch, operation::chat, "m", false, {}).headers;
  EXPECT_NE(a, b);
}

TEST(adapter, default_max_tokens) {
  EXPECT_EQ(providers::default_max_tokens("claude-sonnet-4-5-20250929"), 64000);
  EXPECT_EQ(providers::default_max_tokens("claude-opus-4-1"), 32000);
  EXPECT_EQ(providers::default_max_tokens("claude-3-5-haiku-latest"), 8192);
  EXPECT_EQ(providers::default_max_tokens("something-else"), 4096);
}

}  // namespace
}  // namespace sy::test
