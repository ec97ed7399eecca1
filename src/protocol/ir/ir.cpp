#include "protocol/anthropic/codec.h"
#include "protocol/anthropic/stream.h"
#include "protocol/gemini/codec.h"
#include "protocol/gemini/stream.h"
#include "protocol/ir/codec.h"
#include "protocol/openai/codec.h"
#include "protocol/openai/stream.h"

namespace sy::ir {

std::string_view to_string(protocol p) {
  switch (p) {
    case protocol::openai:
      return "openai";
    case protocol::anthropic:
      return "anthropic";
    case protocol::gemini:
      return "gemini";
  }
  return "openai";
}

std::string_view to_string(finish_reason r) {
  switch (r) {
    case finish_reason::none:
      return "none";
    case finish_reason::stop:
      return "stop";
    case finish_reason::stop_sequence:
      return "stop_sequence";
    case finish_reason::length:
      return "length";
    case finish_reason::tool_calls:
      return "tool_calls";
    case finish_reason::content_filter:
      return "content_filter";
    case finish_reason::refusal:
      return "refusal";
    case finish_reason::pause:
      return "pause";
    case finish_reason::context_exceeded:
      return "context_exceeded";
    case finish_reason::error:
      return "error";
  }
  return "none";
}

void usage::merge(const usage& later) {
  auto take = [](std::int64_t& mine, std::int64_t theirs) {
    if (theirs >= 0) mine = theirs;
  };
  take(input, later.input);
  take(output, later.output);
  take(cache_read, later.cache_read);
  take(cache_write, later.cache_write);
  take(cache_write_1h, later.cache_write_1h);
  take(reasoning, later.reasoning);
}

error_kind kind_for_status(int status) {
  switch (status) {
    case 400:
    case 422:
      return error_kind::invalid_request;
    case 401:
      return error_kind::authentication;
    case 402:
      return error_kind::billing;
    case 403:
      return error_kind::permission;
    case 404:
      return error_kind::not_found;
    case 413:
      return error_kind::request_too_large;
    case 429:
      return error_kind::rate_limit;
    case 503:
    case 529:
      return error_kind::overloaded;
    case 504:
      return error_kind::timeout;
    default:
      return status >= 400 && status < 500 ? error_kind::invalid_request : error_kind::server;
  }
}

api_error from_error(const error& e) {
  const auto& i = info(e.code);
  api_error out;
  out.status = i.http_status;
  out.message = e.message;
  out.code = std::string(i.code);
  out.param = e.param;
  switch (e.code) {
    case errc::invalid_api_key:
    case errc::key_expired:
    case errc::key_revoked:
    case errc::key_disabled:
    case errc::invalid_signature:
      out.kind = error_kind::authentication;
      break;
    case errc::model_not_allowed:
    case errc::ip_not_allowed:
    case errc::model_not_priced:
      out.kind = error_kind::permission;
      break;
    case errc::rate_limited:
    case errc::token_rate_limited:
    case errc::auth_blocked:
    case errc::insufficient_quota:
      out.kind = error_kind::rate_limit;
      break;
    case errc::model_not_found:
    case errc::not_found:
    case errc::no_database:
      out.kind = error_kind::not_found;
      break;
    case errc::payload_too_large:
      out.kind = error_kind::request_too_large;
      break;
    case errc::upstream_timeout:
      out.kind = error_kind::timeout;
      break;
    case errc::unavailable:
      out.kind = error_kind::overloaded;
      break;
    case errc::upstream_unreachable:
    case errc::upstream_bad_response:
    case errc::internal:
      out.kind = error_kind::server;
      break;
    default:
      out.kind = kind_for_status(i.http_status);
  }
  return out;
}

std::vector<stream_event> to_events(const response& r) {
  std::vector<stream_event> out;
  auto add = [&](stream_event::kind k) -> stream_event& {
    out.emplace_back();
    out.back().type = k;
    return out.back();
  };
  auto& start = add(stream_event::kind::start);
  start.id = r.id;
  start.name = r.model;
  int tools = 0;
  for (const auto& p : r.parts) {
    switch (p.type) {
      case part::kind::text:
        add(stream_event::kind::text_delta).text = p.text;
        break;
      case part::kind::reasoning:
        if (!p.text.empty()) add(stream_event::kind::reasoning_delta).text = p.text;
        if (!p.signature.empty()) add(stream_event::kind::reasoning_signature).text = p.signature;
        break;
      case part::kind::redacted_reasoning:
        add(stream_event::kind::redacted_reasoning).text = p.data;
        break;
      case part::kind::tool_call: {
        auto& call = add(stream_event::kind::tool_call_start);
        call.tool_index = tools;
        call.id = p.id;
        call.name = p.name;
        auto& args = add(stream_event::kind::tool_args_delta);
        args.tool_index = tools++;
        args.text = p.arguments.empty() ? "{}" : p.arguments;
        break;
      }
      default:
        break;  // images and tool results do not occur in an assistant answer we relay
    }
  }
  if (!r.tokens.empty()) add(stream_event::kind::usage).tokens = r.tokens;
  auto& fin = add(stream_event::kind::finish);
  fin.reason = r.finish == finish_reason::none ? finish_reason::stop : r.finish;
  fin.text = r.stop_sequence;
  return out;
}

std::variant<request, error> decode_request(protocol p, std::string_view body) {
  switch (p) {
    case protocol::anthropic:
      return anthropic::decode_request(body);
    case protocol::gemini:
      return gemini::decode_request(body);
    default:
      return openai::decode_request(body);
  }
}

std::variant<std::string, error> encode_request(protocol p, const request& r,
                                                dropped_fields& dropped) {
  switch (p) {
    case protocol::anthropic:
      return anthropic::encode_request(r, dropped);
    case protocol::gemini:
      return gemini::encode_request(r, dropped);
    default:
      return openai::encode_request(r, dropped);
  }
}

std::variant<response, error> decode_response(protocol p, std::string_view body) {
  switch (p) {
    case protocol::anthropic:
      return anthropic::decode_response(body);
    case protocol::gemini:
      return gemini::decode_response(body);
    default:
      return openai::decode_response(body);
  }
}

std::string encode_response(protocol p, const response& r) {
  switch (p) {
    case protocol::anthropic:
      return anthropic::encode_response(r);
    case protocol::gemini:
      return gemini::encode_response(r);
    default:
      return openai::encode_response(r);
  }
}

api_error decode_error(protocol p, int status, std::string_view body) {
  switch (p) {
    case protocol::anthropic:
      return anthropic::decode_error(status, body);
    case protocol::gemini:
      return gemini::decode_error(status, body);
    default:
      return openai::decode_error(status, body);
  }
}

encoded_error encode_error(protocol p, const api_error& e) {
  switch (p) {
    case protocol::anthropic:
      return anthropic::encode_error(e);
    case protocol::gemini:
      return gemini::encode_error(e);
    default:
      return openai::encode_error(e);
  }
}

std::unique_ptr<stream_decoder> make_stream_decoder(protocol p) {
  switch (p) {
    case protocol::anthropic:
      return std::make_unique<anthropic::stream_decoder>();
    case protocol::gemini:
      return std::make_unique<gemini::stream_decoder>();
    default:
      return std::make_unique<openai::stream_decoder>();
  }
}

std::unique_ptr<stream_encoder> make_stream_encoder(protocol p, stream_options options) {
  switch (p) {
    case protocol::anthropic:
      return std::make_unique<anthropic::stream_encoder>(std::move(options));
    case protocol::gemini:
      return std::make_unique<gemini::stream_encoder>(std::move(options));
    default:
      return std::make_unique<openai::stream_encoder>(std::move(options));
  }
}

}  // namespace sy::ir
