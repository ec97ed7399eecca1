#include "server/estimate.h"

#include "billing/tokenizer.h"
#include "protocol/ir/codec.h"
#include "protocol/sse/sse.h"
#include "server/usage_cost.h"

#include <boost/json.hpp>

#include <optional>

namespace sy {
namespace {

constexpr std::int64_t tokens_per_message = 3;  // OpenAI's framing of each message
constexpr std::int64_t reply_priming = 3;       // and of the reply
constexpr std::int64_t tokens_per_image = 765;  // a 512x512 high-detail image (85 + 4 x 170)

// Texts longer than this are counted on their first max_counted bytes and scaled: an estimate
// runs on a worker thread, and a 32 MiB prompt must not hold it for a second.
constexpr std::size_t max_counted = 256u << 10;

std::int64_t count(billing::encoding e, std::string_view text) {
  if (text.empty()) return 0;
  if (text.size() <= max_counted) return static_cast<std::int64_t>(billing::count_tokens(e, text));
  const auto sample = billing::count_tokens(e, text.substr(0, max_counted));
  return static_cast<std::int64_t>(static_cast<double>(sample) * static_cast<double>(text.size()) /
                                   static_cast<double>(max_counted));
}

// When an answer cannot be decoded (cut mid-JSON: a Gemini array stream, a non-streamed body
// longer than the bytes kept), about four bytes of it per token: rough, never zero.
constexpr std::int64_t bytes_per_token = 4;

std::int64_t count_parts(billing::encoding e, const std::vector<ir::part>& parts) {
  std::int64_t n = 0;
  for (const auto& p : parts) {
    switch (p.type) {
      case ir::part::kind::image:
      case ir::part::kind::document:
        n += tokens_per_image;
        break;
      case ir::part::kind::tool_call:
        n += count(e, p.name) + count(e, p.arguments);
        break;
      case ir::part::kind::tool_result:
        n += count(e, p.name) + count_parts(e, p.content);
        break;
      case ir::part::kind::redacted_reasoning:
        break;  // opaque to the tokenizer
      default:
        n += count(e, p.text);
    }
  }
  return n;
}

// The generated text of a whole upstream answer (streamed or not) in protocol `p`; nullopt when
// nothing of it decodes (a body cut mid-JSON).
std::optional<std::string> text_of_answer(ir::protocol p, std::string_view bytes, bool stream) {
  std::string text;
  bool decoded = false;
  auto collect = [&](const ir::stream_event& ev) {
    using k = ir::stream_event::kind;
    decoded = true;
    if (ev.type == k::text_delta || ev.type == k::reasoning_delta ||
        ev.type == k::tool_args_delta) {
      text += ev.text;
    } else if (ev.type == k::tool_call_start) {
      text += ev.name;
    }
  };
  const auto first = bytes.find_first_not_of(" \t\r\n");
  const bool array = first != std::string_view::npos && bytes[first] == '[';
  if (stream && !array) {
    sse::parser parser;
    auto decoder = ir::make_stream_decoder(p);
    std::vector<ir::stream_event> events;
    parser.feed(bytes, [&](const sse::event& e) {
      if (!decoder->done()) decoder->feed(e, events);
    });
    for (const auto& ev : events)
      collect(ev);
  } else {
    auto decode_one = [&](std::string_view json) {
      auto decoded_response = ir::decode_response(p, json);
      if (auto* r = std::get_if<ir::response>(&decoded_response)) {
        decoded = true;
        for (const auto& ev : ir::to_events(*r))
          collect(ev);
      }
    };
    if (array) {
      // Gemini's stream without ?alt=sse: one JSON array of responses.
      boost::system::error_code ec;
      auto parsed = boost::json::parse(bytes, ec);
      if (!ec && parsed.is_array()) {
        for (const auto& item : parsed.get_array())
          decode_one(boost::json::serialize(item));
      }
    } else {
      decode_one(bytes);
    }
  }
  if (!decoded) return std::nullopt;
  return text;
}

}  // namespace

std::int64_t estimate_prompt_tokens(billing::encoding e, const ir::request& r) {
  std::int64_t n = reply_priming;
  if (!r.system.empty()) n += tokens_per_message + count_parts(e, r.system);
  for (const auto& m : r.messages)
    n += tokens_per_message + count_parts(e, m.parts);
  for (const auto& t : r.tools) {
    n +=
        count(e, t.name) + count(e, t.description) + count(e, boost::json::serialize(t.parameters));
  }
  return n;
}

bool needs_estimate(const request_context& ctx) {
  if (!ctx.first_byte || ctx.channel.empty()) return false;
  if (ctx.out.started() && ctx.out.status() >= 300) return false;  // an error is not billed
  return !has_usage(ctx.usage) || ctx.client_gone || ctx.failure.has_value();
}

void estimate_usage(request_context& ctx, ir::protocol upstream, std::string_view request_body,
                    bool stream) {
  const auto e = billing::encoding_for_model(ctx.upstream_model);
  if (ctx.usage.prompt_tokens < 0) {
    auto decoded = ir::decode_request(upstream, request_body);
    if (auto* r = std::get_if<ir::request>(&decoded)) {
      ctx.usage.prompt_tokens = estimate_prompt_tokens(e, *r);
    } else {
      ctx.usage.prompt_tokens = count(e, request_body);
    }
    ctx.estimated = true;
  }
  std::int64_t output = 0;
  if (!ctx.generated_raw) {
    output = count(e, ctx.generated);
  } else if (auto text = text_of_answer(upstream, ctx.generated, stream)) {
    output = count(e, *text);
  } else {
    output = static_cast<std::int64_t>(ctx.generated.size()) / bytes_per_token;
  }
  if (ctx.generated_dropped > 0 && !ctx.generated.empty()) {
    // Only the first generated_cap bytes were kept: the rest is counted at their rate.
    const double kept = static_cast<double>(ctx.generated.size());
    output = static_cast<std::int64_t>(static_cast<double>(output) *
                                       (kept + static_cast<double>(ctx.generated_dropped)) / kept);
  }
  if (output > ctx.usage.completion_tokens) {
    ctx.usage.completion_tokens = output;
    ctx.estimated = true;
  }
}

}  // namespace sy
