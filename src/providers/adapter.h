// Provider adapters (DESIGN.md §2): for a channel, which protocol it speaks, and the request
// target and headers of a call to it — the model in the path for Gemini and Azure, each
// vendor's auth header and version header. One function per concern; vendors are data
// (providers/vendors.h).
#pragma once

#include "protocol/ir/ir.h"
#include "providers/channel.h"

#include <string>
#include <string_view>

namespace sy::providers {

ir::protocol protocol_of(channel_type t);

enum class operation { chat, embeddings, count_tokens };

struct outbound {
  std::string target;   // path and query, base path included
  std::string headers;  // "Name: value\r\n" lines: auth and version headers
  int key_index = -1;   // which of the channel's api_keys it carries (-1: none)
};

struct client_headers {
  std::string_view anthropic_version;  // forwarded on Anthropic passthrough
  std::string_view anthropic_beta;     // forwarded to Anthropic upstreams (allow-listed header)
};

// Builds the target and headers of a call to `ch` for `upstream_model`; takes the channel's
// next API key.
// `sse` = false asks Gemini for its JSON-array stream instead of SSE (Gemini passthrough for a
// client that asked for the array).
outbound build(channel& ch, operation op, std::string_view upstream_model, bool stream,
               const client_headers& from_client, bool sse = true);

// The output limit Anthropic requires in every request, when the client gave none: the model's
// documented maximum for the families we know, else a conservative default.
std::int64_t default_max_tokens(std::string_view upstream_model);

}  // namespace sy::providers
