// The relay against scripted upstreams: byte-exact passthrough, streaming as it arrives,
// upstream failures (stall, slow first byte, reset, refused), pooling and disconnects.
#include "support/fake_upstream.h"
#include "support/gateway.h"

#include <gtest/gtest.h>

#include <future>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <thread>

namespace sy::test {
namespace {

using namespace std::chrono_literals;
const std::string key = "sk-test-0123456789";

std::string config_for(const fake_upstream& up, const std::string& extra_channel = "",
                       const std::string& timeouts = "") {
  return R"(
channels:
  - name: up
    type: openai
    base_url: )" +
         up.url() + R"(
    api_keys: [ "sk-upstream-a", "sk-upstream-b" ]
    models: { gpt-test: gpt-test-2024, "glob-*": "glob-*" }
)" + (timeouts.empty() ? "" : "    timeouts: " + timeouts + "\n") +
         extra_channel + R"(
keys:
  - name: app
    key: )" +
         key + R"(
    models: [ "*" ]
)";
}

TEST(passthrough, body_goes_upstream_byte_for_byte_but_the_model) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    out.send(200, completion_json("gpt-test-2024", "hi there"), "application/json",
             {{"x-ratelimit-remaining-requests", "99"}, {"x-request-id", "upstream-id"}});
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  const std::string body =
      "{ \"messages\" : [{\"role\":\"user\",\"content\":\"Hi \\\"model\\\": x\"}],\n"
      "  \"model\":  \"gpt-test\" , \"temperature\":0.25,\"metadata\":{\"model\":\"keep\"}}";
  auto res = client.post("/v1/chat/completions", body, key, {{"x-request-id", "client-id-1"}});
  ASSERT_EQ(res.status, 200) << res.body;
  EXPECT_EQ(res.body, completion_json("gpt-test-2024", "hi there"));
  EXPECT_EQ(res.header("x-request-id"), "client-id-1");
  EXPECT_EQ(res.header("x-upstream-request-id"), "upstream-id");
  EXPECT_EQ(res.header("x-ratelimit-remaining-requests"), "99");

  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 1u);
  std::string expected = body;
  expected.replace(expected.find("\"gpt-test\""), 10, "\"gpt-test-2024\"");
  EXPECT_EQ(reqs[0].body, expected);
  EXPECT_EQ(reqs[0].target, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer sk-upstream-a");
  EXPECT_EQ(reqs[0].headers["x-request-id"], "client-id-1");
}

TEST(passthrough, api_keys_rotate_and_the_connection_is_reused) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    out.send(200, completion_json("gpt-test-2024", "ok"));
  });
  gateway gw(config_for(up) + "workers: 1\n");
  http_client client(gw.port());
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(client.post("/v1/chat/completions", chat_body("gpt-test"), key).status, 200);
  }
  auto reqs = up.requests();
  ASSERT_EQ(reqs.size(), 4u);
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer sk-upstream-a");
  EXPECT_EQ(reqs[1].headers["authorization"], "Bearer sk-upstream-b");
  EXPECT_EQ(reqs[2].headers["authorization"], "Bearer sk-upstream-a");
  EXPECT_EQ(up.connections(), 1) << "keep-alive pool not reused";
}

TEST(passthrough, a_pooled_connection_the_upstream_closed_is_replaced) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    out.send(200, completion_json("gpt-test-2024", "ok"));
    out.close_after();  // keep-alive promised, then closed: a stale pooled connection
  });
  gateway gw(config_for(up) + "workers: 1\n");
  http_client client(gw.port());
  for (int i = 0; i < 3; ++i) {
    auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
    ASSERT_EQ(res.status, 200) << "request " << i << ": " << res.body;
  }
  EXPECT_EQ(up.connections(), 3);
}

TEST(passthrough, upstream_error_status_and_body_pass_back) {
  const std::string err =
      R"({"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}})";
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.send(429, err, "application/json", {{"retry-after", "7"}});
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
  EXPECT_EQ(res.status, 429);
  EXPECT_EQ(res.body, err);
  EXPECT_EQ(res.header("retry-after"), "7");
}

TEST(passthrough, glob_routes_keep_the_requested_name) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    out.send(200, completion_json("x", "ok"));
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  ASSERT_EQ(client.post("/v1/chat/completions", chat_body("glob-abc"), key).status, 200);
  EXPECT_EQ(up.requests().at(0).body, chat_body("glob-abc"));
}

TEST(passthrough, embeddings_are_relayed) {
  fake_upstream up([](const fake_request& r, fake_responder& out) {
    out.send(
        200,
        R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.5]}],"model":"e","usage":{"prompt_tokens":1,"total_tokens":1}})");
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.post("/v1/embeddings", R"({"model":"gpt-test","input":"hi"})", key);
  ASSERT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("[0.5]"), std::string::npos);
  EXPECT_EQ(up.requests().at(0).target, "/v1/embeddings");
  EXPECT_EQ(up.requests().at(0).body, R"({"model":"gpt-test-2024","input":"hi"})");
}

TEST(streaming, chunks_are_forwarded_as_they_arrive) {
  // The upstream sends its second chunk only after the client has seen the first: a gateway
  // that buffers the stream deadlocks here and the test fails on its timeout.
  std::promise<void> client_saw_first;
  auto seen = client_saw_first.get_future();
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(chunk_event("first"));
    if (seen.wait_for(10s) != std::future_status::ready) return out.reset();
    out.chunk(chunk_event("second", "stop"));
    out.chunk("data: [DONE]\n\n");
    out.end();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  client.send_post("/v1/chat/completions", chat_body("gpt-test", true), key);
  ASSERT_TRUE(client.read_until("\"first\"", 5s)) << client.received();
  EXPECT_NE(client.received().find("text/event-stream"), std::string::npos);
  EXPECT_NE(client.received().find("Transfer-Encoding: chunked"), std::string::npos);
  EXPECT_EQ(client.received().find("second"), std::string::npos);
  client_saw_first.set_value();
  ASSERT_TRUE(client.read_until("0\r\n\r\n", 5s)) << client.received();
  EXPECT_NE(client.received().find("data: [DONE]"), std::string::npos);
  // The connection stays usable.
  auto next = client.request("GET", "/healthz");
  EXPECT_EQ(next.status, 200);
}

TEST(streaming, client_disconnect_closes_the_upstream_connection) {
  std::promise<bool> upstream_saw_close;
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(chunk_event("one"));
    // Stall: nothing more is sent; the gateway must hang up when its client does.
    upstream_saw_close.set_value(out.wait_peer_close(10s));
  });
  gateway gw(config_for(up));
  {
    http_client client(gw.port());
    client.send_post("/v1/chat/completions", chat_body("gpt-test", true), key);
    ASSERT_TRUE(client.read_until("\"one\"", 5s));
    client.close();
  }
  auto closed = upstream_saw_close.get_future();
  ASSERT_EQ(closed.wait_for(8s), std::future_status::ready);
  EXPECT_TRUE(closed.get());
}

TEST(streaming, reset_mid_stream_ends_with_an_error_event) {
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(chunk_event("partial"));
    out.reset();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  client.send_post("/v1/chat/completions", chat_body("gpt-test", true), key);
  auto raw = client.read_to_close(5s);
  EXPECT_NE(raw.find("partial"), std::string::npos);
  EXPECT_NE(raw.find("\"error\""), std::string::npos) << raw;
  EXPECT_NE(raw.find("upstream_unreachable"), std::string::npos) << raw;
  // The gateway is still serving.
  http_client again(gw.port());
  EXPECT_EQ(again.request("GET", "/healthz").status, 200);
}

TEST(streaming, idle_timeout_between_chunks_ends_the_stream) {
  std::promise<void> release;
  auto released = release.get_future();
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.start(200, "text/event-stream");
    out.chunk(chunk_event("a"));
    released.wait_for(10s);  // silent far longer than idle_ms
  });
  gateway gw(config_for(up, "", "{ idle_ms: 200 }"));
  http_client client(gw.port());
  client.send_post("/v1/chat/completions", chat_body("gpt-test", true), key);
  auto raw = client.read_to_close(8s);
  release.set_value();
  EXPECT_NE(raw.find("upstream_timeout"), std::string::npos) << raw;
}

TEST(streaming, total_timeout_ends_a_stream_that_never_stops) {
  std::atomic<bool> stop{false};
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.start(200, "text/event-stream");
    // A chunk every 20 ms, never silent long enough for idle_ms, never done.
    for (int i = 0; i < 500 && !stop && out.chunk(chunk_event("tick")); ++i) {
      std::this_thread::sleep_for(20ms);
    }
  });
  gateway gw(config_for(up, "", "{ idle_ms: 5000, total_ms: 300 }"));
  http_client client(gw.port());
  client.send_post("/v1/chat/completions", chat_body("gpt-test", true), key);
  auto raw = client.read_to_close(8s);
  stop = true;
  EXPECT_NE(raw.find("tick"), std::string::npos);
  EXPECT_NE(raw.find("upstream_timeout"), std::string::npos) << raw;
}

TEST(failures, stalled_upstream_gives_504) {
  std::promise<void> release;
  auto released = release.get_future();
  fake_upstream up([&](const fake_request& r, fake_responder& out) { released.wait_for(10s); });
  gateway gw(config_for(up, "", "{ first_byte_ms: 200 }"));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
  release.set_value();
  EXPECT_EQ(res.status, 504);
  EXPECT_NE(res.body.find("\"code\":\"upstream_timeout\""), std::string::npos) << res.body;
}

TEST(failures, slow_first_byte_within_the_limit_succeeds) {
  std::promise<void> release;
  auto released = release.get_future().share();
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    released.wait_for(300ms);  // slow, but well inside first_byte_ms
    out.send(200, completion_json("gpt-test-2024", "late"));
  });
  gateway gw(config_for(up, "", "{ first_byte_ms: 5000 }"));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
  release.set_value();
  EXPECT_EQ(res.status, 200);
  EXPECT_NE(res.body.find("late"), std::string::npos);
}

TEST(failures, unreachable_upstream_gives_502) {
  // A port that is bound but not listening refuses connections, and stays ours for the whole
  // test, so no test running in parallel can start listening on it.
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket holder(io);
  holder.open(boost::asio::ip::tcp::v4());
  holder.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  unsigned short dead_port = holder.local_endpoint().port();
  gateway gw(R"(
channels:
  - name: dead
    type: openai
    base_url: http://127.0.0.1:)" +
             std::to_string(dead_port) + R"(/v1
    models: [ gpt-test ]
keys:
  - key: )" + key +
             "\n");
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
  EXPECT_EQ(res.status, 502);
  EXPECT_NE(res.body.find("\"code\":\"upstream_unreachable\""), std::string::npos) << res.body;
}

TEST(failures, connect_timeout_gives_504) {
  // A listener that never accepts, with its accept queue full: the kernel drops further SYNs,
  // so a connect to it hangs until the gateway's connect timeout.
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor full(io);
  full.open(boost::asio::ip::tcp::v4());
  full.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
  full.listen(0);
  auto port = full.local_endpoint().port();
  std::vector<int> fillers;  // raw non-blocking connects (asio's connect would wait)
  for (int i = 0; i < 8; ++i) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);  // in progress or done
    fillers.push_back(fd);
  }
  struct closer {
    std::vector<int>& fds;
    ~closer() {
      for (int fd : fds)
        ::close(fd);
    }
  } close_fillers{fillers};
  gateway gw(R"(
channels:
  - name: full
    type: openai
    base_url: http://127.0.0.1:)" +
             std::to_string(port) + R"(/v1
    models: [ gpt-test ]
    timeouts: { connect_ms: 300 }
keys:
  - key: )" + key +
             "\n");
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
  EXPECT_EQ(res.status, 504) << res.body;
  EXPECT_NE(res.body.find("connect timed out"), std::string::npos) << res.body;
}

TEST(failures, malformed_upstream_response_gives_502) {
  fake_upstream up([&](const fake_request& r, fake_responder& out) {
    out.chunk("this is not http");  // raw garbage on the wire
    out.reset();
  });
  gateway gw(config_for(up));
  http_client client(gw.port());
  auto res = client.post("/v1/chat/completions", chat_body("gpt-test"), key);
  EXPECT_EQ(res.status, 502) << res.body;
}

TEST(routing, weighted_random_spreads_over_channels) {
  std::atomic<int> a{0}, b{0};
  fake_upstream up_a([&](const fake_request&, fake_responder& out) {
    ++a;
    out.send(200, completion_json("m", "a"));
  });
  fake_upstream up_b([&](const fake_request&, fake_responder& out) {
    ++b;
    out.send(200, completion_json("m", "b"));
  });
  gateway gw(R"(
channels:
  - { name: a, type: openai, base_url: ")" +
             up_a.url() + R"(", models: [ m ], weight: 1 }
  - { name: b, type: openai, base_url: ")" +
             up_b.url() + R"(", models: [ m ], weight: 3 }
keys:
  - key: )" + key +
             "\n");
  http_client client(gw.port());
  for (int i = 0; i < 200; ++i) {
    ASSERT_EQ(client.post("/v1/chat/completions", chat_body("m"), key).status, 200);
  }
  // Expected 50 / 150; the bounds are > 6 standard deviations wide.
  EXPECT_GT(a.load(), 10);
  EXPECT_GT(b.load(), a.load());
  EXPECT_EQ(a + b, 200);
}

}  // namespace
}  // namespace sy::test
