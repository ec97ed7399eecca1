// The upstream vendors Switchyard knows by name, as rows of data: which wire protocol each
// speaks and where its API lives by default. An OpenAI-compatible vendor is only a row here;
// `type: openai` with a base_url reaches any other.
#pragma once

#include <span>
#include <string_view>

namespace sy {

// How a channel's requests are built: the protocol plus the vendor's URL and auth scheme.
enum class channel_type { openai, azure, anthropic, gemini, mock };

struct vendor {
  std::string_view name;              // the config's `type:` value
  channel_type type;                  // what builds its requests
  std::string_view default_base_url;  // empty: base_url is required
};

std::span<const vendor> vendors();
const vendor* find_vendor(std::string_view name);

}  // namespace sy
