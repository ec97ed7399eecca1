// sy_codec_bench: what the protocol hub's translation costs per request, per response and per
// stream chunk, for every (client protocol x upstream protocol) pair. Google Benchmark; see
// bench/README.md ("Protocol translation").
//
//   request_2KiB/<client>/<upstream>    decode a ~2 KiB chat request in the client's protocol,
//   request_64KiB/<client>/<upstream>   set what the gateway sets, encode it in the upstream's
//   response_1KiB/<client>/<upstream>   decode a ~1 KiB upstream response, encode it for the client
//   stream/<client>/<upstream>          one upstream stream, event by event: sse::parser feed +
//                                       stream_decoder.feed + stream_encoder.encode (per chunk)
//
// The OpenAI bodies are written here; the Anthropic and Gemini ones are the same conversation
// translated through the codecs at start-up (so every pair carries the same content). The
// per-item time is the `per_item` counter (CPU time); the tables at the end put them, in
// microseconds, in 3x3 matrices. Pairs with the same protocol on both sides are measured too,
// although the gateway relays those bytes without the codecs (passthrough).
//
// SY_CODEC_BENCH_DUMP=<dir> writes the bodies and streams used to <dir>/<kind>.<protocol>.
// Usual Google Benchmark flags apply: --benchmark_filter='stream/', --benchmark_repetitions=5...

#include "protocol/ir/codec.h"
#include "protocol/ir/ir.h"
#include "protocol/sse/sse.h"

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

namespace bj = boost::json;
using sy::ir::protocol;

constexpr std::array<protocol, 3> protocols = {protocol::openai, protocol::anthropic,
                                               protocol::gemini};
constexpr std::string_view model = "bench-model";

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "sy_codec_bench: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T take(std::variant<T, sy::error>&& v, const std::string& what) {
  if (auto* e = std::get_if<sy::error>(&v)) fail(what + ": " + e->message);
  return std::move(std::get<T>(v));
}

// ---- The conversation ---------------------------------------------------------------------------

// Chat-like sentences: punctuation, quotes and line breaks to escape, some non-ASCII.
constexpr std::array<std::string_view, 12> sentences = {
    "Could you look at the deployment logs from last night and tell me why the canary failed?",
    "The canary in eu-west-1 failed its health check after 4 minutes: the readiness probe got "
    "HTTP 503 from /healthz because the connection pool to the \"orders\" database was "
    "exhausted.",
    "Here is the relevant excerpt:\n\n```\n2026-11-25T23:14:07Z WARN pool: 64/64 connections "
    "busy, 312 waiting\n2026-11-25T23:14:09Z ERROR readiness: timeout after 2000 ms\n```",
    "That matches the change in PR #4821, which lowered max_connections from 128 to 64 — was "
    "that intentional?",
    "Yes, it was meant to reduce load on the primary, but we forgot the read replicas are not "
    "wired yet.",
    "Then the safest fix is to restore 128 for now, and to move the reporting queries to the "
    "replica once it is in the pool configuration.",
    "Also check the Zürich region; its latency p99 went from 180 ms to 240 ms over the same "
    "window, which could be the same cause.",
    "I will write a short incident summary: impact, timeline (UTC), root cause, the fix, and "
    "two follow-up tasks with owners.",
    "Keep it under 200 words and use bullet points; the audience is the on-call rotation, not "
    "management.",
    "Noted. Should the summary mention the customer tickets (3 of them, all from the same "
    "tenant), or keep those in the ticket system?",
    "Mention the count only, no tenant names: the summary goes to a shared channel.",
    "Understood — counts only, no names, bullet points, under 200 words, UTC times.",
};

std::string text(std::size_t seed, std::size_t count) {
  std::string s;
  for (std::size_t i = 0; i < count; ++i) {
    if (i) s += ' ';
    s += sentences[(seed + i * 5) % sentences.size()];
  }
  return s;
}

bj::object weather_tool() {
  return bj::object{
      {"type", "function"},
      {"function",
       bj::object{
           {"name", "get_weather"},
           {"description",
            "Get the current weather and a three-day forecast for a city. Use it when the user "
            "asks about weather, temperature, rain or what to wear."},
           {"parameters",
            bj::object{
                {"type", "object"},
                {"properties",
                 bj::object{
                     {"location", bj::object{{"type", "string"},
                                             {"description", "City and country, e.g. Paris, FR"}}},
                     {"unit", bj::object{{"type", "string"},
                                         {"enum", bj::array{"celsius", "fahrenheit"}},
                                         {"description", "Temperature unit"}}},
                     {"days", bj::object{{"type", "integer"}, {"minimum", 1}, {"maximum", 3}}}}},
                {"required", bj::array{"location"}}}}}}};
}

// One exchange with a tool: the user asks, the assistant calls get_weather, the tool answers,
// the assistant replies.
void tool_exchange(bj::array& messages, int n) {
  const std::string id = "call_" + std::to_string(100000 + n) + "AbCdEfGhIjKlMnOp";
  messages.push_back(bj::object{
      {"role", "user"},
      {"content", "What's the weather in Paris right now, and should I take an umbrella?"}});
  messages.push_back(bj::object{
      {"role", "assistant"},
      {"content", nullptr},
      {"tool_calls",
       bj::array{bj::object{
           {"id", id},
           {"type", "function"},
           {"function", bj::object{{"name", "get_weather"},
                                   {"arguments",
                                    R"({"location":"Paris, FR","unit":"celsius","days":1})"}}}}}}});
  messages.push_back(bj::object{
      {"role", "tool"},
      {"tool_call_id", id},
      {"content",
       R"({"location":"Paris, FR","temperature":14,"unit":"celsius","condition":"light rain",)"
       R"("precipitation_probability":0.8,"wind_kph":18,"forecast":[{"day":"tomorrow","high":16,"low":9,"condition":"showers"}]})"}});
  messages.push_back(bj::object{
      {"role", "assistant"},
      {"content",
       "It's 14 °C with light rain in Paris (80 % chance of more), and showers are expected "
       "tomorrow too — yes, take an umbrella."}});
}

// A chat request in OpenAI's form, grown with history turns until it is about `target` bytes.
std::string openai_request(std::size_t target) {
  bj::array messages;
  messages.push_back(bj::object{
      {"role", "system"},
      {"content",
       "You are Atlas, the operations assistant of an engineering team. Answer precisely and "
       "briefly; prefer bullet points for lists. When a question needs live data (weather, "
       "deployments, metrics) call the matching tool instead of guessing. Never reveal "
       "customer names. Times are UTC unless the user says otherwise."}});
  tool_exchange(messages, 0);
  auto body = [&] {
    bj::object o{
        {"model", model},        {"messages", messages}, {"tools", bj::array{weather_tool()}},
        {"tool_choice", "auto"}, {"max_tokens", 1024},   {"temperature", 0.7},
        {"top_p", 0.95},         {"user", "user-4821"}};
    return bj::serialize(o);
  };
  std::string out = body();
  // Older turns go in after the system message; the body closest to `target` is taken.
  for (std::size_t turn = 1;; ++turn) {
    bj::array more;
    if (turn % 8 == 0) {
      tool_exchange(more, static_cast<int>(turn));
    } else {
      more.push_back(bj::object{{"role", "user"}, {"content", text(turn, 1)}});
      more.push_back(bj::object{{"role", "assistant"}, {"content", text(turn + 3, 1 + turn % 3)}});
    }
    messages.insert(messages.begin() + 1, more.begin(), more.end());
    std::string next = body();
    if (next.size() >= target) {
      return next.size() - target < target - out.size() ? next : out;
    }
    out = std::move(next);
  }
}

// A ~1 KiB answer: text, a tool call, usage.
std::string openai_response() {
  bj::object o{
      {"id", "chatcmpl-BenchResponse000000000000001"},
      {"object", "chat.completion"},
      {"created", 1764110000},
      {"model", model},
      {"choices",
       bj::array{bj::object{
           {"index", 0},
           {"message",
            bj::object{
                {"role", "assistant"},
                {"content", text(1, 3)},
                {"refusal", nullptr},
                {"tool_calls",
                 bj::array{bj::object{
                     {"id", "call_Z9y8X7w6V5u4T3s2R1q0"},
                     {"type", "function"},
                     {"function",
                      bj::object{{"name", "get_weather"},
                                 {"arguments",
                                  R"({"location":"Zürich, CH","unit":"celsius","days":3})"}}}}}}}},
           {"logprobs", nullptr},
           {"finish_reason", "tool_calls"}}}},
      {"usage",
       bj::object{
           {"prompt_tokens", 512},
           {"completion_tokens", 96},
           {"total_tokens", 608},
           {"prompt_tokens_details", bj::object{{"cached_tokens", 256}, {"audio_tokens", 0}}},
           {"completion_tokens_details", bj::object{{"reasoning_tokens", 0},
                                                    {"audio_tokens", 0},
                                                    {"accepted_prediction_tokens", 0},
                                                    {"rejected_prediction_tokens", 0}}}}},
      {"service_tier", "default"},
      {"system_fingerprint", "fp_bench0001"}};
  return bj::serialize(o);
}

// A streamed answer as OpenAI sends it: role chunk, 100 text deltas, a tool call in 8 argument
// fragments, the finish chunk, the usage chunk, [DONE].
std::string openai_stream() {
  const std::string head =
      R"({"id":"chatcmpl-BenchStream00000000000000001","object":"chat.completion.chunk",)"
      R"("created":1764110000,"model":"bench-model","service_tier":"default",)"
      R"("system_fingerprint":"fp_bench0001","choices":[{"index":0,"delta":)";
  auto chunk = [&](const std::string& delta, std::string_view finish) {
    return "data: " + head + delta + R"(,"logprobs":null,"finish_reason":)" + std::string(finish) +
           R"(}],"usage":null,"obfuscation":"Xq3")" + "}\n\n";
  };
  std::string s = chunk(R"({"role":"assistant","content":"","refusal":null})", "null");
  // ~100 tokens of text, split like a tokenizer would (words with their leading space).
  std::string words = text(2, 4);
  std::size_t pos = 0;
  for (int i = 0; i < 100; ++i) {
    std::size_t next = words.find(' ', pos + 1);
    if (next == std::string::npos) next = words.size();
    std::string piece = bj::serialize(bj::value(words.substr(pos, next - pos)));
    s += chunk(R"({"content":)" + piece + "}", "null");
    pos = next < words.size() ? next : 0;
  }
  s += chunk(R"({"tool_calls":[{"index":0,"id":"call_Z9y8X7w6V5u4T3s2R1q0","type":"function",)"
             R"("function":{"name":"get_weather","arguments":""}}]})",
             "null");
  for (std::string_view frag : {R"({\")", R"(location)", R"(\":\")", R"(Zürich, CH)", R"(\",\")",
                                R"(unit\":\"celsius)", R"(\",\"days)", R"(\":3})"}) {
    s += chunk(
        R"({"tool_calls":[{"index":0,"function":{"arguments":")" + std::string(frag) + R"("}}]})",
        "null");
  }
  s += chunk("{}", R"("tool_calls")");
  s += "data: " +
       std::string(
           R"({"id":"chatcmpl-BenchStream00000000000000001","object":"chat.completion.chunk",)"
           R"("created":1764110000,"model":"bench-model","service_tier":"default",)"
           R"("system_fingerprint":"fp_bench0001","choices":[],"usage":{"prompt_tokens":512,)"
           R"("completion_tokens":131,"total_tokens":643,"prompt_tokens_details":)"
           R"({"cached_tokens":256,"audio_tokens":0},"completion_tokens_details":)"
           R"({"reasoning_tokens":0,"audio_tokens":0,"accepted_prediction_tokens":0,)"
           R"("rejected_prediction_tokens":0}},"obfuscation":"a1"})") +
       "\n\n";
  s += "data: [DONE]\n\n";
  return s;
}

// ---- The same in every protocol
// -------------------------------------------------------------------

sy::ir::stream_options stream_options_for(protocol client) {
  sy::ir::stream_options o;
  o.id = "chatcmpl-gateway0000000000000000001";
  o.model = std::string(model);
  o.created = 1764110000;
  o.include_usage = client == protocol::openai;
  return o;
}

// What the gateway does between decoding and encoding a request (server/endpoints.cpp).
void prepare(sy::ir::request& r, protocol upstream, bool stream) {
  r.model = std::string(model);
  r.stream = stream;
  if (upstream == protocol::anthropic && !r.max_tokens) r.max_tokens = 4096;
}

std::string translate_request(const std::string& openai_body, protocol to) {
  if (to == protocol::openai) return openai_body;
  auto r = take(sy::ir::decode_request(protocol::openai, openai_body), "decoding the request");
  prepare(r, to, false);
  sy::ir::dropped_fields dropped;
  return take(sy::ir::encode_request(to, r, dropped), "encoding the request");
}

std::string translate_response(const std::string& openai_body, protocol to) {
  if (to == protocol::openai) return openai_body;
  auto r = take(sy::ir::decode_response(protocol::openai, openai_body), "decoding the response");
  return sy::ir::encode_response(to, r);
}

// The upstream stream in `to`'s wire form: the OpenAI stream decoded, then encoded by `to`'s
// stream encoder (which writes what that vendor sends), then cut into one piece per event.
std::vector<std::string> upstream_stream(protocol to) {
  std::string bytes = openai_stream();
  if (to != protocol::openai) {
    sy::sse::parser parser;
    auto decoder = sy::ir::make_stream_decoder(protocol::openai);
    auto encoder = sy::ir::make_stream_encoder(to, stream_options_for(to));
    std::vector<sy::ir::stream_event> events;
    parser.feed(bytes, [&](const sy::sse::event& e) { decoder->feed(e, events); });
    bytes.clear();
    for (const auto& ev : events)
      encoder->encode(ev, bytes);
    encoder->finish(bytes);
  }
  std::vector<std::string> pieces;
  std::size_t start = 0;
  while (start < bytes.size()) {
    std::size_t lf = bytes.find("\n\n", start), crlf = bytes.find("\r\n\r\n", start);
    std::size_t end = std::min(lf == std::string::npos ? bytes.size() : lf + 2,
                               crlf == std::string::npos ? bytes.size() : crlf + 4);
    pieces.push_back(bytes.substr(start, end - start));
    start = end;
  }
  return pieces;
}

struct bodies {
  std::map<protocol, std::string> request_2k, request_64k, response;
  std::map<protocol, std::vector<std::string>> stream;
};

const bodies& data() {
  static const bodies b = [] {
    bodies b;
    const std::string small = openai_request(2048), large = openai_request(64 * 1024);
    const std::string answer = openai_response();
    for (auto p : protocols) {
      b.request_2k[p] = translate_request(small, p);
      b.request_64k[p] = translate_request(large, p);
      b.response[p] = translate_response(answer, p);
      b.stream[p] = upstream_stream(p);
    }
    return b;
  }();
  return b;
}

// ---- Benchmarks
// -----------------------------------------------------------------------------------

// CPU time per item (a request, a response, a stream chunk): the inverse of the item rate, in
// seconds; the console shows it as e.g. "9.87us".
void per_item(benchmark::State& state, double items_per_iteration) {
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * items_per_iteration));
  state.counters["per_item"] =
      benchmark::Counter(items_per_iteration, benchmark::Counter::kIsIterationInvariantRate |
                                                  benchmark::Counter::kInvert);
}

void request(benchmark::State& state, protocol client, protocol upstream, bool large) {
  const std::string& body = (large ? data().request_64k : data().request_2k).at(client);
  std::size_t out_size = 0;
  for (auto _ : state) {
    auto decoded = sy::ir::decode_request(client, body);
    auto* r = std::get_if<sy::ir::request>(&decoded);
    if (!r) {
      state.SkipWithError("decode_request failed");
      break;
    }
    prepare(*r, upstream, false);
    sy::ir::dropped_fields dropped;
    auto encoded = sy::ir::encode_request(upstream, *r, dropped);
    auto* s = std::get_if<std::string>(&encoded);
    if (!s) {
      state.SkipWithError("encode_request failed");
      break;
    }
    out_size = s->size();
    benchmark::DoNotOptimize(s->data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  per_item(state, 1);
  state.SetLabel(std::to_string(body.size()) + " B -> " + std::to_string(out_size) + " B");
}

void response(benchmark::State& state, protocol client, protocol upstream) {
  const std::string& body = data().response.at(upstream);
  std::size_t out_size = 0;
  for (auto _ : state) {
    auto decoded = sy::ir::decode_response(upstream, body);
    auto* r = std::get_if<sy::ir::response>(&decoded);
    if (!r) {
      state.SkipWithError("decode_response failed");
      break;
    }
    if (r->model.empty()) r->model = std::string(model);  // as upstream/exchange.cpp does
    if (r->id.empty()) r->id = "chatcmpl-gateway0000000000000000001";
    std::string out = sy::ir::encode_response(client, *r);
    out_size = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
  per_item(state, 1);
  state.SetLabel(std::to_string(body.size()) + " B -> " + std::to_string(out_size) + " B");
}

// One whole upstream stream per iteration, event by event as upstream/exchange.cpp relays it
// (parser, decoder and encoder made per stream, the output cleared after every chunk).
void stream(benchmark::State& state, protocol client, protocol upstream) {
  const auto& pieces = data().stream.at(upstream);
  std::size_t in_bytes = 0, out_bytes = 0;
  for (const auto& p : pieces)
    in_bytes += p.size();
  for (auto _ : state) {
    sy::sse::parser parser;
    auto decoder = sy::ir::make_stream_decoder(upstream);
    auto encoder = sy::ir::make_stream_encoder(client, stream_options_for(client));
    std::vector<sy::ir::stream_event> events;
    std::string out;
    out_bytes = 0;
    auto on_event = [&](const sy::sse::event& e) {
      if (!decoder->done()) decoder->feed(e, events);
    };
    for (const auto& piece : pieces) {
      parser.feed(piece, on_event);
      for (const auto& ev : events)
        encoder->encode(ev, out);
      events.clear();
      out_bytes += out.size();
      benchmark::DoNotOptimize(out.data());
      out.clear();
    }
    encoder->finish(out);
    out_bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in_bytes));
  per_item(state, static_cast<double>(pieces.size()));
  state.SetLabel(std::to_string(pieces.size()) + " events, " + std::to_string(in_bytes) + " B -> " +
                 std::to_string(out_bytes) + " B");
}

std::string name_of(protocol p) {
  return std::string(sy::ir::to_string(p));
}

void register_all() {
  for (auto client : protocols) {
    for (auto upstream : protocols) {
      const std::string pair = name_of(client) + "/" + name_of(upstream);
      benchmark::RegisterBenchmark(("request_2KiB/" + pair).c_str(), request, client, upstream,
                                   false);
    }
  }
  for (auto client : protocols) {
    for (auto upstream : protocols) {
      const std::string pair = name_of(client) + "/" + name_of(upstream);
      benchmark::RegisterBenchmark(("request_64KiB/" + pair).c_str(), request, client, upstream,
                                   true);
    }
  }
  for (auto client : protocols) {
    for (auto upstream : protocols) {
      const std::string pair = name_of(client) + "/" + name_of(upstream);
      benchmark::RegisterBenchmark(("response_1KiB/" + pair).c_str(), response, client, upstream);
    }
  }
  for (auto client : protocols) {
    for (auto upstream : protocols) {
      const std::string pair = name_of(client) + "/" + name_of(upstream);
      benchmark::RegisterBenchmark(("stream/" + pair).c_str(), stream, client, upstream);
    }
  }
}

// ---- Summary
// ----------------------------------------------------------------------------------------

// The console output, plus the per-item times kept for the matrices printed at the end.
class summary_reporter : public benchmark::ConsoleReporter {
 public:
  using ConsoleReporter::ConsoleReporter;
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const auto& r : runs) {
      if (r.error_occurred) continue;
      const bool single = r.run_type == Run::RT_Iteration && r.repetitions <= 1;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (!single && !median) continue;
      auto it = r.counters.find("per_item");
      if (it == r.counters.end()) continue;
      std::string name = r.run_name.function_name;
      us_[name] = it->second.value * 1e6;
    }
  }
  const std::map<std::string, double>& results() const { return us_; }

 private:
  std::map<std::string, double> us_;
};

void print_matrices(const std::map<std::string, double>& us) {
  struct table {
    const char* prefix;
    const char* title;
  };
  const table tables[] = {
      {"request_2KiB/", "request, ~2 KiB: decode (client) + encode (upstream), us per request"},
      {"request_64KiB/", "request, ~64 KiB: decode (client) + encode (upstream), us per request"},
      {"response_1KiB/", "response, ~1 KiB: decode (upstream) + encode (client), us per response"},
      {"stream/", "stream: SSE parse + decode (upstream) + encode (client), us per chunk"},
  };
  std::printf("\nPer-item CPU time in microseconds (rows: client protocol, columns: upstream)\n");
  for (const auto& t : tables) {
    bool any = false;
    for (auto c : protocols)
      for (auto u : protocols)
        any = any || us.count(t.prefix + name_of(c) + "/" + name_of(u));
    if (!any) continue;
    std::printf("\n%s\n%-16s", t.title, "client \\ up");
    for (auto u : protocols)
      std::printf(" %10s", name_of(u).c_str());
    std::printf("\n");
    for (auto c : protocols) {
      std::printf("%-16s", name_of(c).c_str());
      for (auto u : protocols) {
        auto it = us.find(t.prefix + name_of(c) + "/" + name_of(u));
        if (it == us.end())
          std::printf(" %10s", "-");
        else
          std::printf(" %10.2f", it->second);
      }
      std::printf("\n");
    }
  }
  const auto& d = data();
  std::printf("\nBody sizes (bytes)   ");
  for (auto p : protocols)
    std::printf(" %10s", name_of(p).c_str());
  std::printf("\nrequest ~2 KiB       ");
  for (auto p : protocols)
    std::printf(" %10zu", d.request_2k.at(p).size());
  std::printf("\nrequest ~64 KiB      ");
  for (auto p : protocols)
    std::printf(" %10zu", d.request_64k.at(p).size());
  std::printf("\nresponse ~1 KiB      ");
  for (auto p : protocols)
    std::printf(" %10zu", d.response.at(p).size());
  std::printf("\nstream events        ");
  for (auto p : protocols)
    std::printf(" %10zu", d.stream.at(p).size());
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (const char* dir = std::getenv("SY_CODEC_BENCH_DUMP")) {
    // Writes the bodies used, to look at them: <dir>/<kind>.<protocol>.
    const auto& d = data();
    for (auto p : protocols) {
      auto write = [&](const std::string& kind, const std::string& content) {
        std::string path = std::string(dir) + "/" + kind + "." + name_of(p);
        if (FILE* f = std::fopen(path.c_str(), "wb")) {
          std::fwrite(content.data(), 1, content.size(), f);
          std::fclose(f);
        }
      };
      write("request_2KiB", d.request_2k.at(p));
      write("request_64KiB", d.request_64k.at(p));
      write("response_1KiB", d.response.at(p));
      std::string s;
      for (const auto& piece : d.stream.at(p))
        s += piece;
      write("stream", s);
    }
  }
  data();  // build the bodies before any timing; exits with a message if a codec refuses them
  register_all();
  summary_reporter reporter(benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_matrices(reporter.results());
  benchmark::Shutdown();
  return 0;
}
