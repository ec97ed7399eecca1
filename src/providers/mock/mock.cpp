#include "providers/mock/mock.h"

#include "common/json.h"
#include "protocol/sse/sse.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/detail/base64.hpp>

#include <cmath>
#include <cstring>
#include <ctime>

namespace sy::mock {
namespace http = beast::http;
namespace {

constexpr std::string_view vocabulary[] = {
    "switchyard", "routes",        "every",   "request", "to",      "the",        "right", "model",
    "and",        "keeps",         "books",   "on",      "tokens",  "with",       "care",  "while",
    "streams",    "flow",          "through", "one",     "gateway", "quickly",    "each",  "answer",
    "is",         "deterministic", "for",     "tests",   "demos",   "benchmarks", "alike", "today"};

std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::uint64_t next(std::uint64_t& state) {
  state = state * 6364136223846793005ULL + 1442695040888963407ULL;
  return state >> 33;
}

struct chat_request {
  std::uint64_t seed = 0;
  std::int64_t prompt_tokens = 1;
  std::int64_t max_tokens = -1;
};

chat_request read_chat(std::string_view body) {
  thread_local simdjson::dom::parser parser;
  chat_request out;
  simdjson::dom::element doc;
  if (parser.parse(body.data(), body.size(), true).get(doc) != simdjson::SUCCESS) return out;
  simdjson::dom::element messages;
  if (doc["messages"].get(messages) == simdjson::SUCCESS) {
    auto text = simdjson::minify(messages);
    out.seed = fnv1a(text);
    out.prompt_tokens = std::max<std::int64_t>(1, static_cast<std::int64_t>(text.size() + 3) / 4);
  }
  std::int64_t v = 0;
  if (doc["max_completion_tokens"].get_int64().get(v) == simdjson::SUCCESS ||
      doc["max_tokens"].get_int64().get(v) == simdjson::SUCCESS) {
    out.max_tokens = v;
  }
  return out;
}

std::string usage_json(std::int64_t prompt, std::int64_t completion) {
  return fmt::format(R"({{"prompt_tokens":{},"completion_tokens":{},"total_tokens":{},)"
                     R"("prompt_tokens_details":{{"cached_tokens":0,"audio_tokens":0}},)"
                     R"("completion_tokens_details":{{"reasoning_tokens":0,"audio_tokens":0,)"
                     R"("accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}}})",
                     prompt, completion, prompt + completion);
}

asio::awaitable<void> pause(std::chrono::milliseconds d) {
  if (d.count() <= 0) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor, d);
  co_await timer.async_wait(asio::use_awaitable);
}

http::fields json_fields(const request_context& ctx) {
  http::fields f;
  f.set(http::field::content_type, "application/json");
  f.set("x-request-id", ctx.request_id);
  return f;
}

}  // namespace

std::vector<std::string> answer_words(std::uint64_t seed, int words) {
  std::vector<std::string> out;
  std::uint64_t state = seed;
  for (int i = 0; i < words; ++i) {
    std::string w(vocabulary[next(state) % std::size(vocabulary)]);
    if (i == 0) w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
    if (i + 1 == words) w += '.';
    out.push_back((i == 0 ? "" : " ") + w);
  }
  return out;
}

asio::awaitable<void> serve_chat(request_context& ctx, const channel& ch,
                                 const openai::request_probe& probe) {
  const auto& opts = ch.config().mock;
  auto req = read_chat(ctx.req.body());
  int words = opts.words;
  bool truncated = false;
  if (req.max_tokens > 0 && req.max_tokens < words) {
    words = static_cast<int>(req.max_tokens);
    truncated = true;
  }
  auto parts = answer_words(req.seed, words);
  auto finish = truncated ? "length" : "stop";
  auto id = fmt::format("chatcmpl-mock{:016x}", req.seed);
  auto created = static_cast<long long>(std::time(nullptr));
  auto model = json::quoted(probe.model);
  ctx.usage = {req.prompt_tokens, words};

  co_await pause(opts.latency);
  ctx.first_byte = clock::now();

  if (!probe.stream) {
    std::string content;
    for (const auto& p : parts)
      content += p;
    auto body = fmt::format(
        R"({{"id":"{}","object":"chat.completion","created":{},"model":{},"choices":[{{"index":0,)"
        R"("message":{{"role":"assistant","content":{},"refusal":null,"annotations":[]}},)"
        R"("logprobs":null,"finish_reason":"{}"}}],"usage":{},"service_tier":"default",)"
        R"("system_fingerprint":"fp_switchyard_mock"}})",
        id, created, model, json::quoted(content), finish, usage_json(req.prompt_tokens, words));
    auto fields = json_fields(ctx);
    auto ec = co_await ctx.out.start(200, fields, body.size(), ctx.keep_alive, body, true);
    if (ec) ctx.client_gone = true;
    co_return;
  }

  auto chunk = [&](std::string_view choices, std::string_view usage) {
    std::string out;
    sse::append_data(
        out, fmt::format(R"({{"id":"{}","object":"chat.completion.chunk","created":{},"model":{},)"
                         R"("service_tier":"default","system_fingerprint":"fp_switchyard_mock",)"
                         R"("choices":{}{}}})",
                         id, created, model, choices, usage));
    return out;
  };
  auto usage_null = probe.include_usage ? R"(,"usage":null)" : "";
  auto delta = [&](std::string_view d, std::string_view reason) {
    return fmt::format(R"([{{"index":0,"delta":{},"logprobs":null,"finish_reason":{}}}])", d,
                       reason);
  };

  http::fields f;
  f.set(http::field::content_type, "text/event-stream; charset=utf-8");
  f.set(http::field::cache_control, "no-cache");
  f.set("x-request-id", ctx.request_id);
  auto first =
      chunk(delta(R"({"role":"assistant","content":"","refusal":null})", "null"), usage_null);
  // (No temporaries inside co_await expressions: GCC 12 may destroy them before resuming.)
  auto ec = co_await ctx.out.start(200, f, std::nullopt, ctx.keep_alive, first);
  if (ec) {
    ctx.client_gone = true;
    co_return;
  }
  int chunks = std::min(opts.chunks, words);
  for (int c = 0; c < chunks; ++c) {
    std::string text;
    for (int i = c * words / chunks; i < (c + 1) * words / chunks; ++i)
      text += parts[i];
    co_await pause(opts.chunk_delay);
    auto d = std::string(R"({"content":)") + json::quoted(text) + "}";
    auto piece = chunk(delta(d, "null"), usage_null);
    ec = co_await ctx.out.write(piece);
    if (ec) {
      ctx.client_gone = true;
      co_return;
    }
  }
  std::string tail = chunk(delta("{}", json::quoted(finish)), usage_null);
  if (probe.include_usage) {
    tail += chunk("[]", ",\"usage\":" + usage_json(req.prompt_tokens, words));
  }
  tail += "data: [DONE]\n\n";
  ec = co_await ctx.out.finish(tail);
  if (ec) ctx.client_gone = true;
}

ir::response respond(const channel& ch, const ir::request& req) {
  std::string text;
  for (const auto& p : req.system)
    text += p.text;
  for (const auto& m : req.messages) {
    for (const auto& p : m.parts) {
      text += p.text;
      text += p.arguments;
      for (const auto& c : p.content)
        text += c.text;
    }
  }
  auto seed = fnv1a(text);
  int words = ch.config().mock.words;
  bool truncated = false;
  if (req.max_tokens && *req.max_tokens > 0 && *req.max_tokens < words) {
    words = static_cast<int>(*req.max_tokens);
    truncated = true;
  }
  ir::response r;
  r.id = fmt::format("mock{:016x}", seed);
  r.model = req.model;
  r.created = static_cast<std::int64_t>(std::time(nullptr));
  ir::part answer;
  for (const auto& w : answer_words(seed, words))
    answer.text += w;
  r.parts.push_back(std::move(answer));
  r.finish = truncated ? ir::finish_reason::length : ir::finish_reason::stop;
  r.tokens.input = std::max<std::int64_t>(1, static_cast<std::int64_t>(text.size() + 3) / 4);
  r.tokens.output = words;
  return r;
}

asio::awaitable<void> serve_embeddings(request_context& ctx, const channel& ch,
                                       const openai::request_probe& probe) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::vector<std::string> inputs;
  std::int64_t dimensions = 8;
  bool base64 = false;  // the openai SDKs ask for base64 unless told otherwise
  if (parser.parse(ctx.req.body().data(), ctx.req.body().size(), true).get(doc) ==
      simdjson::SUCCESS) {
    simdjson::dom::element input;
    if (doc["input"].get(input) == simdjson::SUCCESS) {
      simdjson::dom::array list;
      if (input.get_array().get(list) == simdjson::SUCCESS) {
        for (auto item : list)
          inputs.push_back(simdjson::minify(item));
      } else {
        inputs.push_back(simdjson::minify(input));
      }
    }
    std::string_view format;
    base64 =
        doc["encoding_format"].get_string().get(format) == simdjson::SUCCESS && format == "base64";
    std::int64_t d = 0;
    if (doc["dimensions"].get_int64().get(d) == simdjson::SUCCESS && d > 0 && d <= 4096) {
      dimensions = d;
    }
  }
  co_await pause(ch.config().mock.latency);
  ctx.first_byte = clock::now();
  std::string data;
  std::int64_t tokens = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::uint64_t state = fnv1a(inputs[i]);
    tokens += std::max<std::int64_t>(1, static_cast<std::int64_t>(inputs[i].size() + 3) / 4);
    std::vector<double> v(dimensions);
    double norm = 0;
    for (auto& x : v) {
      x = static_cast<double>(next(state) % 20001) / 10000.0 - 1.0;
      norm += x * x;
    }
    norm = std::sqrt(norm > 0 ? norm : 1);
    if (i) data += ',';
    data += R"({"object":"embedding","index":)" + std::to_string(i) + R"(,"embedding":)";
    if (base64) {
      // Little-endian float32s, base64-encoded, as OpenAI sends them.
      std::string raw(v.size() * sizeof(float), '\0');
      for (std::size_t k = 0; k < v.size(); ++k) {
        float f = static_cast<float>(v[k] / norm);
        std::memcpy(raw.data() + k * sizeof f, &f, sizeof f);
      }
      std::string encoded(beast::detail::base64::encoded_size(raw.size()), '\0');
      encoded.resize(beast::detail::base64::encode(encoded.data(), raw.data(), raw.size()));
      data += json::quoted(encoded);
    } else {
      data += '[';
      for (std::size_t k = 0; k < v.size(); ++k) {
        if (k) data += ',';
        data += fmt::format("{:.6f}", v[k] / norm);
      }
      data += ']';
    }
    data += '}';
  }
  ctx.usage = {tokens, 0};
  auto body = fmt::format(
      R"({{"object":"list","data":[{}],"model":{},"usage":{{"prompt_tokens":{},"total_tokens":{}}}}})",
      data, json::quoted(probe.model), tokens, tokens);
  auto fields = json_fields(ctx);
  auto ec = co_await ctx.out.start(200, fields, body.size(), ctx.keep_alive, body, true);
  if (ec) ctx.client_gone = true;
}

}  // namespace sy::mock
