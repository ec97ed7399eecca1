// sy_fake_upstream: a fast, fixed-answer OpenAI and Anthropic upstream for the benchmarks in
// bench/.
//
// It has to be cheap enough that the proxy in front of it, not the fake itself, is what a benchmark
// measures. So: one io_context per thread, each with its own SO_REUSEPORT acceptor (the kernel
// spreads connections, nothing is shared between threads); every response is serialized once at
// start-up and written with a single async_write; the only per-request allocations are Beast's
// parser (header fields and the body string).
//
//   POST /v1/chat/completions   chat.completion JSON, or an SSE stream of chat.completion.chunk
//                               events when the body says "stream": true
//   POST /v1/messages           Anthropic Messages: a message JSON, or an SSE stream of
//                               message_start ... message_stop events when "stream": true; the
//                               same reply, in the same number of text deltas and as many bytes
//                               as the OpenAI answers (padded with spaces after the JSON, as
//                               Anthropic pads its stream events), so that a translated run
//                               compares with the passthrough one
//   POST /v1/embeddings         a fixed embedding list
//   GET  /healthz               200
//   GET  /stats                 {"answered":N,"failed":N}: the chat, messages and embeddings
//                               requests answered so far, and how many of them got the 503
//   anything else               404 with an OpenAI-style error object
//
// For the routing benchmark it can also misbehave, both off by default (and then costing nothing):
//   --fail-rate F   answers that fraction of the chat and messages requests with a 503 and the
//                   vendor's error object instead, chosen by a pseudo-random generator seeded from
//                   --seed (one sequence per thread: the same run of draws on every start, though
//                   which request draws which depends on how the kernel spreads the connections)
//   --delay-ms N    waits N ms (a timer, the thread serves others meanwhile) before answering a
//                   chat, messages or embeddings request, failed ones included

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sy::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t header_limit = 64 * 1024;
constexpr std::uint64_t body_limit = std::uint64_t{4} << 20;

// ---- Fixed responses ---------------------------------------------------------------------------

constexpr std::string_view model_name = "bench-model";
constexpr std::string_view created_at = "1700000000";

// One response, serialized twice: for a connection that stays open and for one that closes.
struct canned {
  std::string keep_alive;
  std::string close;

  const std::string& pick(bool keep) const { return keep ? keep_alive : close; }
};

// The vendor-specific response header lines.
enum class vendor { openai, anthropic };

std::string head(std::string_view status, std::string_view content_type, bool keep_alive,
                 vendor v) {
  std::string h;
  h.append("HTTP/1.1 ").append(status).append("\r\n");
  h.append("Server: sy-fake-upstream\r\n");
  h.append("Date: Tue, 14 Nov 2023 22:13:20 GMT\r\n");
  h.append("Content-Type: ").append(content_type).append("\r\n");
  if (v == vendor::anthropic) {
    h.append("request-id: req_011CBench000000000000000000\r\n");
    h.append("anthropic-organization-id: 00000000-0000-0000-0000-000000000000\r\n");
  } else {
    h.append("x-request-id: req_bench0000000000000000000000\r\n");
    h.append("openai-processing-ms: 1\r\n");
  }
  h.append(keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
  return h;
}

canned fixed_length(std::string_view status, std::string_view content_type, std::string_view body,
                    vendor v = vendor::openai) {
  canned c;
  for (bool keep : {true, false}) {
    std::string r = head(status, content_type, keep, v);
    r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n");
    r.append(body);
    (keep ? c.keep_alive : c.close) = std::move(r);
  }
  return c;
}

// Server-sent events, one HTTP chunk per event, as OpenAI and Anthropic send them. An event is
// its data (OpenAI), or "event: <type>\ndata: <data>" (Anthropic) when it starts with "event: ".
canned chunked_events(const std::vector<std::string>& events, vendor v = vendor::openai) {
  std::string body;
  for (const auto& e : events) {
    std::string data = (e.starts_with("event: ") ? e : "data: " + e) + "\n\n";
    char hex[16];
    auto [end, ec] = std::to_chars(hex, hex + sizeof hex, data.size(), 16);
    body.append(hex, end).append("\r\n").append(data).append("\r\n");
  }
  body.append("0\r\n\r\n");
  canned c;
  for (bool keep : {true, false}) {
    std::string r = head("200 OK", "text/event-stream; charset=utf-8", keep, v);
    r.append("Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n");
    r.append(body);
    (keep ? c.keep_alive : c.close) = std::move(r);
  }
  return c;
}

std::string usage_json() {
  return R"({"prompt_tokens":19,"completion_tokens":10,"total_tokens":29,)"
         R"("prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},)"
         R"("completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,)"
         R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}})";
}

std::string chat_json() {
  std::string s;
  s.append(R"({"id":"chatcmpl-bench000000000000000000000001","object":"chat.completion",)");
  s.append(R"("created":)")
      .append(created_at)
      .append(R"(,"model":")")
      .append(model_name)
      .append("\",");
  s.append(R"("choices":[{"index":0,"message":{"role":"assistant",)");
  s.append(R"("content":"Hello! This is a fixed reply.","refusal":null},)");
  s.append(R"("logprobs":null,"finish_reason":"stop"}],)");
  s.append(R"("usage":)").append(usage_json()).append(",");
  s.append(R"("service_tier":"default","system_fingerprint":"fp_bench"})");
  return s;
}

constexpr std::string_view reply_pieces[] = {"Hello", "! This", " is a", " fixed reply."};

std::vector<std::string> chat_stream_events() {
  const std::string prefix = std::string(R"({"id":"chatcmpl-bench000000000000000000000001",)") +
                             R"("object":"chat.completion.chunk","created":)" +
                             std::string(created_at) + R"(,"model":")" + std::string(model_name) +
                             R"(","service_tier":"default","system_fingerprint":"fp_bench",)";
  auto choice = [&](std::string_view delta, std::string_view finish) {
    return prefix + R"("choices":[{"index":0,"delta":)" + std::string(delta) +
           R"(,"logprobs":null,"finish_reason":)" + std::string(finish) + R"(}],"usage":null})";
  };
  std::vector<std::string> events;
  events.push_back(choice(R"({"role":"assistant","content":"","refusal":null})", "null"));
  for (std::string_view piece : reply_pieces)
    events.push_back(choice(std::string(R"({"content":")") + std::string(piece) + "\"}", "null"));
  events.push_back(choice("{}", R"("stop")"));
  events.push_back(prefix + R"("choices":[],"usage":)" + usage_json() + "}");
  events.push_back("[DONE]");
  return events;
}

// ---- Anthropic Messages ----

std::string anthropic_usage(std::string_view output_tokens) {
  return std::string(
             R"({"input_tokens":19,"cache_creation_input_tokens":0,)"
             R"("cache_read_input_tokens":0,"cache_creation":{"ephemeral_5m_input_tokens":0,)"
             R"("ephemeral_1h_input_tokens":0},"output_tokens":)") +
         std::string(output_tokens) + R"(,"service_tier":"standard"})";
}

// The message object, padded with spaces after the JSON to `target_bytes` (the size of the
// OpenAI answer): the same reply in fewer bytes would flatter the translated path.
std::string messages_json(std::size_t target_bytes) {
  std::string s;
  s.append(R"({"model":")").append(model_name).append("\",");
  s.append(R"("id":"msg_01BenchBenchBenchBench0001","type":"message","role":"assistant",)");
  s.append(R"("content":[{"type":"text","text":"Hello! This is a fixed reply."}],)");
  s.append(R"("stop_reason":"end_turn","stop_sequence":null,)");
  s.append(R"("usage":)").append(anthropic_usage("10")).append("}");
  if (s.size() < target_bytes) s.append(target_bytes - s.size(), ' ');
  return s;
}

// Anthropic pads each event's data with spaces after the JSON (a length side-channel guard); the
// padding here brings the stream to the size of the OpenAI one.
std::vector<std::string> messages_stream_events(std::size_t target_bytes) {
  std::vector<std::pair<std::string, std::string>> ev;  // type, data
  auto add = [&](std::string_view type, std::string data) {
    ev.emplace_back(std::string(type), std::move(data));
  };
  add("message_start",
      std::string(R"({"type":"message_start","message":{"model":")") + std::string(model_name) +
          R"(","id":"msg_01BenchBenchBenchBench0001","type":"message","role":"assistant",)"
          R"("content":[],"stop_reason":null,"stop_sequence":null,"usage":)" +
          anthropic_usage("1") + "}}");
  add("content_block_start",
      R"({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})");
  add("ping", R"({"type": "ping"})");
  for (std::string_view piece : reply_pieces)
    add("content_block_delta",
        R"({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":")" +
            std::string(piece) + "\"}}");
  add("content_block_stop", R"({"type":"content_block_stop","index":0})");
  add("message_delta",
      R"({"type":"message_delta","delta":{"stop_reason":"end_turn","stop_sequence":null},)"
      R"("usage":{"input_tokens":19,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,)"
      R"("output_tokens":10}})");
  add("message_stop", R"({"type":"message_stop"})");
  std::size_t bytes = 0;
  for (const auto& [type, data] : ev)
    bytes += type.size() + data.size() + 16;  // "event: ", "\ndata: ", "\n\n"
  const std::size_t pad = bytes < target_bytes ? (target_bytes - bytes) / ev.size() : 0;
  std::vector<std::string> events;
  for (auto& [type, data] : ev)
    events.push_back("event: " + type + "\ndata: " + data + std::string(pad, ' '));
  return events;
}

std::string embeddings_json() {
  std::string s = R"({"object":"list","data":[{"object":"embedding","index":0,"embedding":[)";
  unsigned state = 12345;  // deterministic, embedding-looking values in (-0.1, 0.1)
  for (int i = 0; i < 64; ++i) {
    if (i) s.push_back(',');
    state = state * 1103515245u + 12345u;
    const int v = static_cast<int>((state >> 8) % 2001) - 1000;
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.7f", v / 10000.0);
    s.append(buf);
  }
  s.append(R"(]}],"model":"bench-embedding","usage":{"prompt_tokens":8,"total_tokens":8}})");
  return s;
}

// The SSE body bytes of a list of events (what chunked_events frames).
std::size_t sse_bytes(const std::vector<std::string>& events) {
  std::size_t n = 0;
  for (const auto& e : events)
    n += e.size() + 8;  // "data: ", "\n\n"
  return n;
}

struct responses {
  canned chat = fixed_length("200 OK", "application/json", chat_json());
  canned chat_stream = chunked_events(chat_stream_events());
  canned messages = fixed_length("200 OK", "application/json", messages_json(chat_json().size()),
                                 vendor::anthropic);
  canned messages_stream =
      chunked_events(messages_stream_events(sse_bytes(chat_stream_events())), vendor::anthropic);
  canned embeddings = fixed_length("200 OK", "application/json", embeddings_json());
  canned health = fixed_length("200 OK", "application/json", R"({"status":"ok"})");
  canned not_found = fixed_length(
      "404 Not Found", "application/json",
      R"({"error":{"message":"Invalid URL: the fake upstream serves POST /v1/chat/completions, )"
      R"(POST /v1/messages, POST /v1/embeddings, GET /healthz and GET /stats.",)"
      R"("type":"invalid_request_error",)"
      R"("param":null,"code":"unknown_url"}})");
  canned bad_request = fixed_length("400 Bad Request", "application/json",
                                    R"({"error":{"message":"Malformed or oversized HTTP request.",)"
                                    R"("type":"invalid_request_error","param":null,"code":null}})");
  // --fail-rate's answers, as each vendor words an outage.
  canned chat_unavailable = fixed_length(
      "503 Service Unavailable", "application/json",
      R"({"error":{"message":"The server is overloaded or not ready yet.","type":"server_error",)"
      R"("param":null,"code":null}})");
  canned messages_unavailable =
      fixed_length("503 Service Unavailable", "application/json",
                   R"({"type":"error","error":{"type":"api_error","message":"Internal server )"
                   R"(error"},"request_id":"req_011CBench000000000000000000"})",
                   vendor::anthropic);
};

// ---- Request handling --------------------------------------------------------------------------

// True when the JSON body has "stream" followed by true, whitespace allowed around the colon.
// A substring scan is enough here: the benchmark clients send small, well-formed bodies.
bool wants_stream(std::string_view body) {
  constexpr std::string_view key = "\"stream\"";
  for (auto pos = body.find(key); pos != std::string_view::npos; pos = body.find(key, pos + 1)) {
    auto i = pos + key.size();
    auto skip_ws = [&] {
      while (i < body.size() &&
             (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n'))
        ++i;
    };
    skip_ws();
    if (i >= body.size() || body[i] != ':') continue;
    ++i;
    skip_ws();
    if (body.substr(i, 4) == "true") return true;
  }
  return false;
}

enum class kind { chat, messages, embeddings, health, stats, not_found };

kind classify(const http::request<http::string_body>& req) {
  std::string_view target = req.target();
  if (auto q = target.find('?'); q != std::string_view::npos) target = target.substr(0, q);
  const auto method = req.method();
  if (method == http::verb::post && target == "/v1/chat/completions") return kind::chat;
  if (method == http::verb::post && target == "/v1/messages") return kind::messages;
  if (method == http::verb::post && target == "/v1/embeddings") return kind::embeddings;
  if (method == http::verb::get && target == "/healthz") return kind::health;
  if (method == http::verb::get && target == "/stats") return kind::stats;
  return kind::not_found;
}

// What --fail-rate and --delay-ms ask for (both off by default).
struct misbehaviour {
  std::uint64_t fail_below = 0;  // a draw (53 random bits) below this fails: fail rate * 2^53
  std::chrono::milliseconds delay{0};
};

// One thread's own state: its generator, and its counters (atomic only so that GET /stats,
// served by any thread, may read them; each is written by its own thread alone).
struct alignas(64) worker {
  std::uint64_t random_state = 0;
  std::atomic<std::uint64_t> answered{0};
  std::atomic<std::uint64_t> failed{0};

  // SplitMix64, 53 bits of it.
  std::uint64_t draw() {
    std::uint64_t x = (random_state += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return (x ^ (x >> 31)) >> 11;
  }
  void count(std::atomic<std::uint64_t>& c) {
    c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
};

struct server {
  responses r;
  misbehaviour bad;
  std::vector<std::unique_ptr<worker>> workers;
};

std::string stats_response(const server& s, bool keep) {
  std::uint64_t answered = 0, failed = 0;
  for (const auto& w : s.workers) {
    answered += w->answered.load(std::memory_order_relaxed);
    failed += w->failed.load(std::memory_order_relaxed);
  }
  const std::string body =
      R"({"answered":)" + std::to_string(answered) + R"(,"failed":)" + std::to_string(failed) + "}";
  return fixed_length("200 OK", "application/json", body).pick(keep);
}

asio::awaitable<void> session(tcp::socket sock, const server& s, worker& w) {
  const responses& r = s.r;
  beast::flat_buffer buffer;  // reused across the requests of one connection
  std::string dynamic;        // GET /stats
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(body_limit);
    auto [ec, n] = co_await http::async_read(sock, buffer, parser, use_tuple);
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof &&
          ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
        co_await asio::async_write(sock, asio::buffer(r.bad_request.close), use_tuple);
      }
      break;
    }
    const auto& req = parser.get();
    const bool keep = req.keep_alive();
    const kind k = classify(req);
    const canned* answer = &r.not_found;
    switch (k) {
      case kind::chat:
        answer = wants_stream(req.body()) ? &r.chat_stream : &r.chat;
        break;
      case kind::messages:
        answer = wants_stream(req.body()) ? &r.messages_stream : &r.messages;
        break;
      case kind::embeddings:
        answer = &r.embeddings;
        break;
      case kind::health:
        answer = &r.health;
        break;
      default:
        break;
    }
    const bool model_call = k == kind::chat || k == kind::messages || k == kind::embeddings;
    if (model_call) {
      w.count(w.answered);
      if (s.bad.fail_below != 0 && k != kind::embeddings && w.draw() < s.bad.fail_below) {
        w.count(w.failed);
        answer = k == kind::chat ? &r.chat_unavailable : &r.messages_unavailable;
      }
      if (s.bad.delay.count() > 0) {
        asio::steady_timer timer(co_await asio::this_coro::executor, s.bad.delay);
        co_await timer.async_wait(use_tuple);
      }
    }
    const std::string* out = &answer->pick(keep);
    if (k == kind::stats) {
      dynamic = stats_response(s, keep);
      out = &dynamic;
    }
    auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(*out), use_tuple);
    if (wec || !keep) break;
  }
  boost::system::error_code ignored;
  sock.shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, const server& s, worker& w) {
  for (;;) {
    auto [ec, sock] = co_await acceptor.async_accept(use_tuple);
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // e.g. EMFILE under a connection storm: keep accepting
    }
    boost::system::error_code ignored;
    sock.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(acceptor.get_executor(), session(std::move(sock), s, w), asio::detached);
  }
}

// ---- Command line ------------------------------------------------------------------------------

struct options {
  std::string host = "127.0.0.1";
  unsigned short port = 0;
  unsigned threads = std::max(1u, std::thread::hardware_concurrency());
  double fail_rate = 0;        // --fail-rate: the fraction of chat and messages requests failed
  unsigned long delay_ms = 0;  // --delay-ms: the wait before each model answer
  std::uint64_t seed = 1;      // --seed: of the --fail-rate draws
};

[[noreturn]] void usage(int code) {
  std::fprintf(
      code ? stderr : stdout,
      "usage: sy_fake_upstream [--host 127.0.0.1] [--port 0] [--threads N]\n"
      "                        [--fail-rate 0.0] [--delay-ms 0] [--seed 1]\n"
      "  A fixed-answer OpenAI and Anthropic upstream for benchmarks. --port 0 picks a free port;\n"
      "  the bound address is printed as 'listening on http://HOST:PORT'.\n"
      "  --fail-rate F  answer that fraction (0 to 1) of the chat and messages requests with a\n"
      "                 503 and an error object, drawn pseudo-randomly from --seed\n"
      "  --delay-ms N   wait N ms before each chat, messages or embeddings answer (a timer: the\n"
      "                 thread serves other connections meanwhile)\n"
      "  GET /stats answers {\"answered\":N,\"failed\":N}, the model requests counted so far.\n");
  std::exit(code);
}

options parse(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-h" || a == "--help") usage(0);
    if (i + 1 >= argc) usage(2);
    std::string_view v = argv[++i];
    auto bad_value = [&] {
      std::fprintf(stderr, "sy_fake_upstream: bad value for %s: %s\n", argv[i - 1], argv[i]);
      std::exit(2);
    };
    auto number = [&](std::uint64_t max) {
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc{} || p != v.data() + v.size() || n > max) bad_value();
      return n;
    };
    if (a == "--host")
      o.host = v;
    else if (a == "--port")
      o.port = static_cast<unsigned short>(number(65535));
    else if (a == "--threads")
      o.threads = static_cast<unsigned>(std::max<std::uint64_t>(1, number(1024)));
    else if (a == "--fail-rate") {
      double f = -1;
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), f);
      if (ec != std::errc{} || p != v.data() + v.size() || !(f >= 0 && f <= 1)) bad_value();
      o.fail_rate = f;
    } else if (a == "--delay-ms")
      o.delay_ms = number(600000);
    else if (a == "--seed")
      o.seed = number(UINT64_MAX);
    else
      usage(2);
  }
  return o;
}

int run(int argc, char** argv) {
  const options opt = parse(argc, argv);
  server s;
  // 2^53 draws: a fail rate of 1 fails every request (every draw is below 2^53).
  s.bad.fail_below = static_cast<std::uint64_t>(opt.fail_rate * 9007199254740992.0);
  s.bad.delay = std::chrono::milliseconds(opt.delay_ms);
  for (unsigned i = 0; i < opt.threads; ++i) {
    s.workers.push_back(std::make_unique<worker>());
    s.workers.back()->random_state = opt.seed * 0x2545f4914f6cdd1dULL + i;
  }

  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  tcp::endpoint endpoint(asio::ip::make_address(opt.host), opt.port);
  if (opt.port != 0) {
    // SO_REUSEPORT would let us share a port that another server of the same user already holds:
    // bind once without it to fail loudly instead.
    asio::io_context probe_context;
    tcp::acceptor probe(probe_context);
    probe.open(endpoint.protocol());
    probe.set_option(asio::socket_base::reuse_address(true));
    probe.bind(endpoint);
  }
  for (unsigned i = 0; i < opt.threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    auto acc = std::make_unique<tcp::acceptor>(*contexts.back());
    acc->open(endpoint.protocol());
    acc->set_option(asio::socket_base::reuse_address(true));
    int one = 1;
    if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0)
      throw boost::system::system_error(errno, boost::system::system_category(), "SO_REUSEPORT");
    acc->bind(endpoint);
    acc->listen(asio::socket_base::max_listen_connections);
    // With --port 0 the first bind picks the port; the other threads join it.
    if (i == 0) endpoint = acc->local_endpoint();
    asio::co_spawn(*contexts.back(), accept_loop(*acc, s, *s.workers[i]), asio::detached);
    acceptors.push_back(std::move(acc));
  }

  asio::signal_set signals(*contexts.front(), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code&, int) {
    for (auto& c : contexts)
      c->stop();
  });

  const auto addr = endpoint.address();
  std::printf("listening on http://%s%s%s:%u (%u threads", addr.is_v6() ? "[" : "",
              addr.to_string().c_str(), addr.is_v6() ? "]" : "", endpoint.port(), opt.threads);
  if (opt.fail_rate > 0) std::printf(", failing %g of the requests", opt.fail_rate);
  if (opt.delay_ms > 0) std::printf(", answering after %lu ms", opt.delay_ms);
  std::printf(")\n");
  std::fflush(stdout);

  std::vector<std::thread> threads;
  for (unsigned i = 1; i < opt.threads; ++i)
    threads.emplace_back([&c = *contexts[i]] { c.run(); });
  contexts.front()->run();
  for (auto& c : contexts)
    c->stop();
  for (auto& t : threads)
    t.join();
  return 0;
}

}  // namespace
}  // namespace sy::bench

int main(int argc, char** argv) {
  try {
    return sy::bench::run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sy_fake_upstream: %s\n", e.what());
    return 1;
  }
}
