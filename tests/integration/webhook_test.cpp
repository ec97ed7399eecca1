// The webhook sender against local receivers: what arrives (body, headers, a signature the
// receiver can check), retries with one delivery id, failures, order, the queue bound, shutdown,
// and https with a private CA.
#include "alerts/webhook.h"
#include "support/fake_upstream.h"
#include "support/tls_upstream.h"

#include <gtest/gtest.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <boost/json/parse.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

const std::string secret = "whsec_test_0123456789";

// What a receiver does: HMAC-SHA256(secret, timestamp + "." + raw body), straight from OpenSSL.
std::string expected_signature(const std::string& timestamp, const std::string& body) {
  std::string message = timestamp + "." + body;
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac, &len);
  static const char* digits = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

alerts::webhook_config config_for(const std::string& url) {
  alerts::webhook_config cfg;
  cfg.url = url;
  cfg.secret = secret;
  cfg.timeout = 2000ms;
  cfg.retry_initial = 10ms;
  cfg.retry_max = 40ms;
  return cfg;
}

std::string id_of(const std::string& event) {
  return std::string(boost::json::parse(event).as_object().at("id").as_string());
}

// A port on 127.0.0.1 where nothing listens (bound once, then closed).
unsigned short closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor a(
      io, boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  auto port = a.local_endpoint().port();
  a.close();
  return port;
}

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(webhook, delivers_a_signed_event) {
  fake_upstream up([](const fake_request&, fake_responder& r) { r.send(200, "{}"); });
  alerts::webhook_sender sender(config_for(up.url("/hooks/sy?token=abc")));
  auto event = alerts::make_event("budget.threshold", R"({"key":"k1","percent":80})");
  ASSERT_TRUE(sender.send(event));
  ASSERT_TRUE(sender.flush(5s));

  auto s = sender.get_stats();
  EXPECT_EQ(s.queued, 1u);
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.dropped, 0u);
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  const auto& r = reqs[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/hooks/sy?token=abc");
  EXPECT_EQ(r.body, event);
  EXPECT_EQ(r.headers.at("content-type"), "application/json");
  EXPECT_EQ(r.headers.at("user-agent"), "switchyard");
  EXPECT_EQ(r.headers.at("host"), "127.0.0.1:" + std::to_string(up.port()));
  const auto& ts = r.headers.at("x-sy-timestamp");
  EXPECT_LE(std::llabs(std::stoll(ts) - unix_now()), 5) << ts;
  EXPECT_EQ(r.headers.at("x-sy-signature"), expected_signature(ts, r.body));
  EXPECT_EQ(r.headers.at("x-sy-delivery"), id_of(event));
  EXPECT_TRUE(r.headers.at("x-sy-delivery").starts_with("evt_"));
}

TEST(webhook, retries_a_failing_receiver_with_the_same_delivery_id) {
  std::atomic<int> calls{0};
  fake_upstream up([&](const fake_request&, fake_responder& r) {
    if (++calls <= 2) {
      r.send(500, R"({"error":"busy"})");
    } else {
      r.send(204, "");
    }
  });
  alerts::webhook_sender sender(config_for(up.url("/h")));
  auto event = alerts::make_event("budget.threshold", "{}");
  ASSERT_TRUE(sender.send(event));
  ASSERT_TRUE(sender.flush(5s));

  auto s = sender.get_stats();
  EXPECT_EQ(s.delivered, 1u);
  EXPECT_EQ(s.failed, 0u);
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 3u);
  for (const auto& r : reqs) {
    EXPECT_EQ(r.headers.at("x-sy-delivery"), id_of(event));
    EXPECT_EQ(r.body, event);
    EXPECT_EQ(r.headers.at("x-sy-signature"),
              expected_signature(r.headers.at("x-sy-timestamp"), r.body));
  }
}

TEST(webhook, any_2xx_delivers_whatever_its_body) {
  std::atomic<int> calls{0};
  fake_upstream up([&](const fake_request&, fake_responder& r) {
    r.send(++calls == 1 ? 202 : 200, std::string(512 * 1024, 'x'), "text/plain");
  });
  alerts::webhook_sender sender(config_for(up.url("/h")));
  ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  ASSERT_TRUE(sender.flush(5s));
  EXPECT_EQ(sender.get_stats().delivered, 2u);
  EXPECT_EQ(up.requests().size(), 2u);
}

TEST(webhook, a_4xx_is_retried_too) {
  std::atomic<int> calls{0};
  fake_upstream up(
      [&](const fake_request&, fake_responder& r) { r.send(++calls == 1 ? 404 : 200, "{}"); });
  alerts::webhook_sender sender(config_for(up.url("/h")));
  ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  ASSERT_TRUE(sender.flush(5s));
  EXPECT_EQ(sender.get_stats().delivered, 1u);
  EXPECT_EQ(up.requests().size(), 2u);
}

TEST(webhook, gives_up_after_max_attempts_without_blocking_send) {
  auto cfg = config_for("http://127.0.0.1:" + std::to_string(closed_port()) + "/h");
  cfg.max_attempts = 3;
  alerts::webhook_sender sender(cfg);
  auto start = steady::now();
  for (int i = 0; i < 3; ++i)
    ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  EXPECT_LT(steady::now() - start, 250ms) << "send() must not wait for the network";
  ASSERT_TRUE(sender.flush(10s));
  auto s = sender.get_stats();
  EXPECT_EQ(s.queued, 3u);
  EXPECT_EQ(s.delivered, 0u);
  EXPECT_EQ(s.failed, 3u);
}

TEST(webhook, a_receiver_that_never_answers_times_out_and_fails) {
  fake_upstream up([](const fake_request&, fake_responder& r) { r.wait_peer_close(5s); });
  auto cfg = config_for(up.url("/h"));
  cfg.timeout = 200ms;
  cfg.max_attempts = 2;
  alerts::webhook_sender sender(cfg);
  ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  ASSERT_TRUE(sender.flush(5s));
  EXPECT_EQ(sender.get_stats().failed, 1u);
  EXPECT_EQ(up.requests().size(), 2u);
}

TEST(webhook, keeps_the_order_of_events) {
  fake_upstream up([](const fake_request&, fake_responder& r) { r.send(200, "{}"); });
  alerts::webhook_sender sender(config_for(up.url("/h")));
  std::vector<std::string> sent;
  for (int i = 0; i < 50; ++i) {
    sent.push_back(alerts::make_event("budget.threshold", "{\"n\":" + std::to_string(i) + "}"));
    ASSERT_TRUE(sender.send(sent.back()));
  }
  ASSERT_TRUE(sender.flush(20s));
  EXPECT_EQ(sender.get_stats().delivered, 50u);
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 50u);
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    EXPECT_EQ(reqs[i].body, sent[i]) << i;
  }
}

TEST(webhook, refuses_events_beyond_the_queue_bound_and_bad_json) {
  auto cfg = config_for("http://127.0.0.1:" + std::to_string(closed_port()) + "/h");
  cfg.max_queue = 3;
  cfg.retry_initial = 10s;  // the first event stays in its backoff
  cfg.shutdown_timeout = 100ms;
  alerts::webhook_sender sender(cfg);
  int accepted = 0;
  for (int i = 0; i < 10; ++i)
    accepted += sender.send(alerts::make_event("budget.threshold", "{}")) ? 1 : 0;
  // The queue holds 3; the sender may already have taken one off it.
  EXPECT_GE(accepted, 3);
  EXPECT_LE(accepted, 4);
  EXPECT_FALSE(sender.send("not json"));
  EXPECT_FALSE(sender.send("[1,2]"));
  auto s = sender.get_stats();
  EXPECT_EQ(s.queued, static_cast<std::uint64_t>(accepted));
  EXPECT_EQ(s.dropped, static_cast<std::uint64_t>(10 - accepted + 2));
  EXPECT_FALSE(sender.flush(50ms));
}

TEST(webhook, an_event_without_an_id_gets_one) {
  fake_upstream up([](const fake_request&, fake_responder& r) { r.send(200, "{}"); });
  alerts::webhook_sender sender(config_for(up.url("/h")));
  ASSERT_TRUE(sender.send(R"({"type":"custom"})"));
  ASSERT_TRUE(sender.flush(5s));
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].headers.at("x-sy-delivery").starts_with("evt_"));
  EXPECT_EQ(reqs[0].body, R"({"type":"custom"})");
}

TEST(webhook, destructor_with_queued_events_stops_within_its_bound) {
  auto cfg = config_for("http://127.0.0.1:" + std::to_string(closed_port()) + "/h");
  cfg.retry_initial = 5s;
  cfg.max_attempts = 100;
  cfg.shutdown_timeout = 300ms;
  auto start = steady::now();
  {
    alerts::webhook_sender sender(cfg);
    for (int i = 0; i < 20; ++i)
      ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  }
  EXPECT_LT(steady::now() - start, 2s);
}

TEST(webhook, destructor_delivers_what_is_queued) {
  fake_upstream up([](const fake_request&, fake_responder& r) { r.send(200, "{}"); });
  {
    alerts::webhook_sender sender(config_for(up.url("/h")));
    for (int i = 0; i < 5; ++i)
      ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  }
  EXPECT_EQ(up.requests().size(), 5u);
}

TEST(webhook, https_with_a_private_ca_verifies_and_sends_sni) {
  tls_upstream up("DNS:localhost,IP:127.0.0.1", R"({"ok":true})");
  auto cfg = config_for("https://localhost:" + std::to_string(up.port()) + "/h?token=t");
  cfg.ca_file = up.ca_file();
  alerts::webhook_sender sender(cfg);
  ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  ASSERT_TRUE(sender.flush(10s));
  EXPECT_EQ(sender.get_stats().delivered, 1u);
  EXPECT_EQ(up.requests(), 1);
  ASSERT_FALSE(up.server_names().empty());
  EXPECT_EQ(up.server_names().front(), "localhost");
}

TEST(webhook, https_with_an_untrusted_certificate_fails) {
  tls_upstream up("DNS:localhost,IP:127.0.0.1", R"({"ok":true})");
  auto cfg = config_for("https://localhost:" + std::to_string(up.port()) + "/h");
  cfg.max_attempts = 2;  // the system store does not know the test CA
  alerts::webhook_sender sender(cfg);
  ASSERT_TRUE(sender.send(alerts::make_event("budget.threshold", "{}")));
  ASSERT_TRUE(sender.flush(10s));
  EXPECT_EQ(sender.get_stats().failed, 1u);
  EXPECT_EQ(up.requests(), 0);
}

}  // namespace
}  // namespace sy::test
