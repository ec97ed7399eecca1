// HTTPS upstreams: certificates are verified (trust anchor and host name), SNI is sent, and a
// channel can trust a private CA through `ca_file`.
#include "support/gateway.h"
#include "support/tls_upstream.h"

#include <gtest/gtest.h>

namespace sy::test {
namespace {

const std::string key = "sk-test-0123456789";

std::string config(unsigned short port, const std::string& ca_file) {
  return R"(
channels:
  - name: secure
    type: openai
    base_url: https://localhost:)" +
         std::to_string(port) + R"(/v1
    models: [ m ]
)" + (ca_file.empty() ? "" : "    ca_file: " + ca_file + "\n") +
         R"(
keys:
  - key: )" +
         key + "\n";
}

TEST(tls, trusted_certificate_for_the_host_works_and_sends_sni) {
  tls_upstream up("DNS:localhost,IP:127.0.0.1", R"({"ok":true})");
  gateway gw(config(up.port(), up.ca_file()));
  http_client c(gw.port());
  auto res = c.post("/v1/chat/completions", chat_body("m"), key);
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, R"({"ok":true})");
  ASSERT_FALSE(up.server_names().empty());
  EXPECT_EQ(up.server_names().front(), "localhost");
}

TEST(tls, certificate_not_signed_by_a_trusted_ca_is_refused) {
  tls_upstream up("DNS:localhost,IP:127.0.0.1", R"({"ok":true})");
  gateway gw(config(up.port(), ""));  // system CA store: our self-signed certificate is unknown
  http_client c(gw.port());
  auto res = c.post("/v1/chat/completions", chat_body("m"), key);
  EXPECT_EQ(res.status, 502) << res.body;
  EXPECT_NE(res.body.find("upstream_unreachable"), std::string::npos);
  EXPECT_EQ(up.requests(), 0);
}

TEST(tls, certificate_for_another_host_is_refused) {
  tls_upstream up("DNS:other.example", R"({"ok":true})");
  gateway gw(config(up.port(), up.ca_file()));  // trusted, but not for "localhost"
  http_client c(gw.port());
  auto res = c.post("/v1/chat/completions", chat_body("m"), key);
  EXPECT_EQ(res.status, 502) << res.body;
  EXPECT_EQ(up.requests(), 0);
}

}  // namespace
}  // namespace sy::test
