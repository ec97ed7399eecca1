#include "common/json.h"

#include <cstdint>
#include <cstring>

namespace sy::json {
namespace {

// Whether one of the 8 bytes in `w` needs escaping in a JSON string: below 0x20, '"' or '\\'
// (the "has a byte less than n" bit trick; it may flag a clean word, never misses a dirty one).
bool word_needs_escape(std::uint64_t w) {
  constexpr std::uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  auto zero_byte = [](std::uint64_t x) { return (x - ones) & ~x & highs; };
  std::uint64_t control = (w - ones * 0x20) & ~w & highs;
  return (control | zero_byte(w ^ (ones * '"')) | zero_byte(w ^ (ones * '\\'))) != 0;
}

}  // namespace

void append_escaped(std::string& out, std::string_view text) {
  // Runs that need no escape (most text has none) are found 8 bytes at a time and copied whole.
  static constexpr char hex[] = "0123456789abcdef";
  const char* run = text.data();
  const char* p = run;
  const char* const end = run + text.size();
  while (p != end) {
    if (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (!word_needs_escape(w)) {
        p += 8;
        continue;
      }
    }
    auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++p;
      continue;
    }
    out.append(run, p);
    run = ++p;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default: {
        const char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        out.append(u, 6);
      }
    }
  }
  out.append(run, end);
}

void append_quoted(std::string& out, std::string_view text) {
  out.reserve(out.size() + text.size() + 2);
  out += '"';
  append_escaped(out, text);
  out += '"';
}

}  // namespace sy::json
