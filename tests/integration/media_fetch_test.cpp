// Downloading media referenced by URL (for Gemini upstreams): limits, redirects, and the refusal
// of internal addresses.
#include "upstream/media_fetch.h"
#include "support/fake_upstream.h"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

namespace sy::test {
namespace {

using result = std::variant<upstream::fetched_media, upstream::fetch_failure>;

result run_fetch(const std::string& url, const media_fetch_config& cfg) {
  asio::io_context ioc;
  result out = upstream::fetch_failure{"never ran"};
  asio::co_spawn(ioc, upstream::fetch_media(url, cfg), [&](std::exception_ptr e, result r) {
    if (!e) out = std::move(r);
  });
  ioc.run();
  return out;
}

media_fetch_config allowing_loopback() {
  media_fetch_config cfg;
  cfg.allow_private = true;
  cfg.timeout = std::chrono::milliseconds(5000);
  return cfg;
}

TEST(media_fetch, downloads_and_base64_encodes) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    if (r.target == "/cat.png") out.send(200, std::string("\x89PNG\r\n\x1a\n", 8), "image/png");
  });
  auto got = run_fetch(up.url("/cat.png"), allowing_loopback());
  ASSERT_EQ(up.requests().size(), 1u);
  EXPECT_EQ(up.requests()[0].headers["host"], "127.0.0.1:" + std::to_string(up.port()));
  ASSERT_TRUE(std::holds_alternative<upstream::fetched_media>(got))
      << std::get<upstream::fetch_failure>(got).reason;
  auto& media = std::get<upstream::fetched_media>(got);
  EXPECT_EQ(media.media_type, "image/png");
  EXPECT_EQ(media.data, "iVBORw0KGgo=");
}

TEST(media_fetch, guesses_the_type_from_the_extension) {
  fake_upstream up([](const fake_request&, fake_responder& out) {
    out.send(200, "GIF89a", "application/octet-stream");
  });
  auto got = run_fetch(up.url("/a/b.gif?x=1"), allowing_loopback());
  ASSERT_TRUE(std::holds_alternative<upstream::fetched_media>(got));
  EXPECT_EQ(std::get<upstream::fetched_media>(got).media_type, "image/gif");
}

TEST(media_fetch, follows_redirects) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    if (r.target == "/old") {
      out.send(302, "", "text/plain", {{"Location", "/new.jpg"}});
    } else {
      out.send(200, "jpeg", "image/jpeg");
    }
  });
  auto got = run_fetch(up.url("/old"), allowing_loopback());
  ASSERT_TRUE(std::holds_alternative<upstream::fetched_media>(got));
  EXPECT_EQ(std::get<upstream::fetched_media>(got).data, "anBlZw==");
  EXPECT_EQ(up.requests().size(), 2u);
}

TEST(media_fetch, refuses_loopback_unless_allowed) {
  fake_upstream up(
      [](const fake_request&, fake_responder& out) { out.send(200, "x", "image/png"); });
  media_fetch_config cfg;  // allow_private = false
  auto got = run_fetch(up.url("/x.png"), cfg);
  ASSERT_TRUE(std::holds_alternative<upstream::fetch_failure>(got));
  EXPECT_NE(std::get<upstream::fetch_failure>(got).reason.find("internal address"),
            std::string::npos);
  EXPECT_TRUE(up.requests().empty());
}

TEST(media_fetch, size_limit_and_status) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    if (r.target == "/big.png") {
      out.send(200, std::string(5000, 'x'), "image/png");
    } else {
      out.send(404, "no", "text/plain");
    }
  });
  auto cfg = allowing_loopback();
  cfg.max_bytes = 4096;
  auto big = run_fetch(up.url("/big.png"), cfg);
  ASSERT_TRUE(std::holds_alternative<upstream::fetch_failure>(big));
  EXPECT_NE(std::get<upstream::fetch_failure>(big).reason.find("larger than 4096"),
            std::string::npos);
  auto missing = run_fetch(up.url("/none.png"), cfg);
  ASSERT_TRUE(std::holds_alternative<upstream::fetch_failure>(missing));
  EXPECT_EQ(std::get<upstream::fetch_failure>(missing).reason, "the server answered 404");
  auto scheme = run_fetch("ftp://example.com/a.png", cfg);
  ASSERT_TRUE(std::holds_alternative<upstream::fetch_failure>(scheme));
}

TEST(media_fetch, inline_media_rewrites_url_parts) {
  fake_upstream up(
      [](const fake_request&, fake_responder& out) { out.send(200, "abc", "image/webp"); });
  ir::request req;
  ir::message m;
  ir::part text;
  text.text = "what is this";
  ir::part image;
  image.type = ir::part::kind::image;
  image.url = up.url("/i.webp");
  m.parts = {text, image};
  req.messages.push_back(m);
  asio::io_context ioc;
  std::optional<error> failure{error{errc::internal, "never ran"}};
  auto cfg = allowing_loopback();
  asio::co_spawn(ioc, upstream::inline_media(req, cfg),
                 [&](std::exception_ptr e, std::optional<error> r) {
                   if (!e) failure = std::move(r);
                 });
  ioc.run();
  ASSERT_FALSE(failure) << failure->message;
  const auto& p = req.messages[0].parts[1];
  EXPECT_TRUE(p.url.empty());
  EXPECT_EQ(p.media_type, "image/webp");
  EXPECT_EQ(p.data, "YWJj");
}

TEST(media_fetch, internal_addresses) {
  auto internal = [](const char* a) {
    return upstream::is_internal_address(asio::ip::make_address(a));
  };
  for (auto a :
       {"127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254",
        "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"}) {
    EXPECT_TRUE(internal(a)) << a;
  }
  for (auto a : {"8.8.8.8", "172.32.0.1", "1.1.1.1", "2606:4700::1111", "100.128.0.1",
                 "::ffff:8.8.8.8", "2002:808:808::1"}) {
    EXPECT_FALSE(internal(a)) << a;
  }
}

}  // namespace
}  // namespace sy::test

namespace sy::test {
namespace {

TEST(media_fetch, a_request_may_refer_to_at_most_16_files) {
  ir::request req;
  ir::message m;
  for (int i = 0; i < 17; ++i) {
    ir::part image;
    image.type = ir::part::kind::image;
    image.url = "http://example.invalid/" + std::to_string(i) + ".png";
    m.parts.push_back(image);
  }
  req.messages.push_back(m);
  asio::io_context ioc;
  std::optional<error> failure;
  media_fetch_config cfg;
  asio::co_spawn(ioc, upstream::inline_media(req, cfg),
                 [&](std::exception_ptr e, std::optional<error> r) {
                   if (!e) failure = std::move(r);
                 });
  ioc.run();
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->param, "messages[0].content[16]");
  EXPECT_NE(failure->message.find("at most 16"), std::string::npos);
}

}  // namespace
}  // namespace sy::test
