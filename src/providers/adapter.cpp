#include "providers/adapter.h"

#include <boost/url/encode.hpp>
#include <boost/url/rfc/pchars.hpp>

namespace sy::providers {

ir::protocol protocol_of(channel_type t) {
  switch (t) {
    case channel_type::anthropic:
      return ir::protocol::anthropic;
    case channel_type::gemini:
      return ir::protocol::gemini;
    default:
      return ir::protocol::openai;
  }
}

namespace {

void header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  out.append(value);
  out += "\r\n";
}

// A model name placed in a path segment: percent-encoded, so "a/b" or "x?y" cannot escape it.
std::string path_segment(std::string_view model) {
  // "." and ".." would be read as path steps ("/deployments/../chat"): their dots are encoded.
  if (model == "." || model == "..") return model.size() == 1 ? "%2E" : "%2E%2E";
  return boost::urls::encode(model, boost::urls::pchars);
}

}  // namespace

outbound build(channel& ch, operation op, std::string_view upstream_model, bool stream,
               const client_headers& from_client, bool sse) {
  const auto& cfg = ch.config();
  outbound out;
  out.target = ch.target().base_path;
  out.key_index = ch.next_key_index();
  auto key = ch.key(out.key_index);
  switch (cfg.type) {
    case channel_type::openai:
    case channel_type::mock:
      out.target += op == operation::embeddings ? "/embeddings" : "/chat/completions";
      if (!key.empty()) {
        out.headers = "Authorization: Bearer ";
        out.headers.append(key);
        out.headers += "\r\n";
      }
      break;
    case channel_type::azure:
      out.target += "/openai/deployments/";
      out.target += path_segment(upstream_model);
      out.target += op == operation::embeddings ? "/embeddings" : "/chat/completions";
      out.target += "?api-version=";
      out.target += boost::urls::encode(cfg.api_version, boost::urls::pchars);
      if (!key.empty()) header(out.headers, "api-key", key);
      break;
    case channel_type::anthropic:
      out.target += op == operation::count_tokens ? "/v1/messages/count_tokens" : "/v1/messages";
      if (!key.empty()) header(out.headers, "x-api-key", key);
      header(out.headers, "anthropic-version",
             from_client.anthropic_version.empty() ? std::string_view(cfg.anthropic_version)
                                                   : from_client.anthropic_version);
      if (!from_client.anthropic_beta.empty()) {
        header(out.headers, "anthropic-beta", from_client.anthropic_beta);
      }
      break;
    case channel_type::gemini:
      out.target += "/v1beta/models/";
      out.target += path_segment(upstream_model);
      if (op == operation::count_tokens) {
        out.target += ":countTokens";
      } else {
        out.target += !stream ? ":generateContent"
                      : sse   ? ":streamGenerateContent?alt=sse"
                              : ":streamGenerateContent";
      }
      if (!key.empty()) header(out.headers, "x-goog-api-key", key);
      break;
  }
  return out;
}

std::int64_t default_max_tokens(std::string_view model) {
  // Output limits from Anthropic's model overview; newest families first.
  struct row {
    std::string_view prefix;
    std::int64_t max;
  };
  static constexpr row table[] = {
      {"claude-opus-4-5", 64000}, {"claude-opus-4", 32000},     {"claude-sonnet-4", 64000},
      {"claude-haiku-4", 64000},  {"claude-3-7-sonnet", 64000}, {"claude-3-5", 8192},
      {"claude-3", 4096},
  };
  for (const auto& r : table) {
    if (model.substr(0, r.prefix.size()) == r.prefix) return r.max;
  }
  return 4096;
}

}  // namespace sy::providers
