// Small JSON helpers shared by the codecs.
#pragma once

#include <string>
#include <string_view>

namespace sy::json {

// Appends `text` as a JSON string literal (quotes included) to `out`.
void append_quoted(std::string& out, std::string_view text);

inline std::string quoted(std::string_view text) {
  std::string out;
  append_quoted(out, text);
  return out;
}

}  // namespace sy::json
