// The pure parts of the webhook sender: signature, event envelope, URL checks and redaction.
#include "alerts/webhook.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <boost/json/parse.hpp>

#include <chrono>
#include <set>

namespace sy::test {
namespace {

// hex(HMAC-SHA256) straight from OpenSSL, not through common/crypto.h.
std::string openssl_hmac_hex(const std::string& key, const std::string& message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

TEST(webhook_signature, fixed_vector) {
  const std::string secret = "whsec_0123456789abcdef";
  const std::string body = R"({"id":"evt_1","type":"budget.threshold"})";
  // Computed independently (Python: hmac.new(secret, b"1700000000." + body, sha256)).
  const std::string expected = "0fce19129b0a208e5084ef388a4a245dfd1e63391c175584e06376daadd72473";
  EXPECT_EQ(openssl_hmac_hex(secret, "1700000000." + body), expected);
  EXPECT_EQ(alerts::webhook_signature(secret, 1700000000, body), "sha256=" + expected);
}

TEST(webhook_signature, depends_on_secret_timestamp_and_body) {
  auto base = alerts::webhook_signature("0123456789abcdef", 1, "{}");
  EXPECT_EQ(base, "sha256=" + openssl_hmac_hex("0123456789abcdef", "1.{}"));
  EXPECT_NE(base, alerts::webhook_signature("0123456789abcdeF", 1, "{}"));
  EXPECT_NE(base, alerts::webhook_signature("0123456789abcdef", 2, "{}"));
  EXPECT_NE(base, alerts::webhook_signature("0123456789abcdef", 1, "{ }"));
}

TEST(make_event, envelope) {
  auto before = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  auto text = alerts::make_event("budget.threshold", R"({"key":"k1","percent":80})");
  auto v = boost::json::parse(text).as_object();
  auto id = std::string(v.at("id").as_string());
  EXPECT_TRUE(id.starts_with("evt_")) << id;
  EXPECT_EQ(id.size(), 4u + 32u);
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos) << id;
  EXPECT_EQ(v.at("type").as_string(), "budget.threshold");
  EXPECT_GE(v.at("created").as_int64(), before);
  EXPECT_LE(v.at("created").as_int64(), before + 5);
  EXPECT_EQ(v.at("data").at("percent").as_int64(), 80);
  EXPECT_EQ(v.size(), 4u);

  auto empty = boost::json::parse(alerts::make_event("t\"q", "")).as_object();
  EXPECT_TRUE(empty.at("data").as_object().empty());
  EXPECT_EQ(empty.at("type").as_string(), "t\"q");
}

TEST(make_event, ids_are_unique) {
  std::set<std::string> ids;
  for (int i = 0; i < 200; ++i) {
    auto v = boost::json::parse(alerts::make_event("x", "{}")).as_object();
    ids.insert(std::string(v.at("id").as_string()));
  }
  EXPECT_EQ(ids.size(), 200u);
}

TEST(check_webhook_url, accepts_http_and_https_only) {
  EXPECT_FALSE(alerts::check_webhook_url("https://hooks.example.com/switchyard"));
  EXPECT_FALSE(alerts::check_webhook_url("http://127.0.0.1:9000/h?token=abc"));
  EXPECT_FALSE(alerts::check_webhook_url("https://[::1]:8443/"));
  EXPECT_TRUE(alerts::check_webhook_url(""));
  EXPECT_TRUE(alerts::check_webhook_url("ftp://example.com/"));
  EXPECT_TRUE(alerts::check_webhook_url("hooks.example.com/x"));
  EXPECT_TRUE(alerts::check_webhook_url("http:<"));
  EXPECT_TRUE(alerts::check_webhook_url("http:///path"));
  EXPECT_TRUE(alerts::check_webhook_url("http://exa mple.com/"));
  EXPECT_TRUE(alerts::check_webhook_url("http://example.com:0/"));
}

TEST(redact_url, keeps_scheme_host_port_and_path_only) {
  EXPECT_EQ(alerts::redact_url("https://user:pw@hooks.example.com/a/b?token=secret#frag"),
            "https://hooks.example.com/a/b");
  EXPECT_EQ(alerts::redact_url("http://127.0.0.1:9000/h?t=1"), "http://127.0.0.1:9000/h");
  EXPECT_EQ(alerts::redact_url("not a url"), "<invalid url>");
  // A fragment is allowed, and never sent.
  EXPECT_FALSE(alerts::check_webhook_url("https://hooks.example.com/a#frag"));
}

}  // namespace
}  // namespace sy::test
