// Small JSON helpers shared by the codecs.
#pragma once

#include <string>
#include <string_view>

namespace sy::json {

// Appends `text` as a JSON string literal (quotes included) to `out`. UTF-8 passes through as
// is; '"', '\\' and control characters are escaped. Shared by every codec: it is on the path of
// every translated byte, so clean runs are scanned 8 bytes at a time.
void append_quoted(std::string& out, std::string_view text);
// The same without the quotes.
void append_escaped(std::string& out, std::string_view text);

inline std::string quoted(std::string_view text) {
  std::string out;
  append_quoted(out, text);
  return out;
}

}  // namespace sy::json
