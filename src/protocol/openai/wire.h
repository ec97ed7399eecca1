// Pieces shared by the openai codec (codec.cpp) and its stream codec (stream.cpp): JSON written
// straight into a std::string, the finish reason and usage mappings, and the error shape.
// Output is built without a DOM because a translation has a budget of microseconds.
// The non-inline functions are defined in codec.cpp (the fuzz build compiles only codec.cpp and
// stream.cpp of this directory).
#pragma once

#include "protocol/ir/ir.h"

#include <boost/json/object.hpp>
#include <boost/json/serializer.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>

namespace sy::openai::wire {

// Appends `text` escaped as the inside of a JSON string literal (no quotes). Runs of plain bytes
// are copied at once; only '"', '\\' and control characters are escaped.
inline void append_escaped(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789abcdef";
  const char* run = text.data();
  const char* end = run + text.size();
  for (const char* p = run; p != end; ++p) {
    auto c = static_cast<unsigned char>(*p);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(run, static_cast<std::size_t>(p - run));
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
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 15];
    }
    run = p + 1;
  }
  out.append(run, static_cast<std::size_t>(end - run));
}

inline void append_quoted(std::string& out, std::string_view text) {
  out += '"';
  append_escaped(out, text);
  out += '"';
}

inline void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// The shortest text that reads back as the same double ("1", "0.7", "1e-07"), so a temperature
// of 1 is written as 1 and not as 1E0. JSON has no NaN or infinity: those become null.
inline void append_number(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  if (v == 0) v = 0;  // -0 reads back as the integer 0: write it so
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// A client's JSON (a schema, an unknown field) written back verbatim.
inline void append_value(std::string& out, const boost::json::value& v) {
  boost::json::serializer sr;
  sr.reset(&v);
  char buf[1024];
  while (!sr.done())
    out.append(sr.read(buf));
}

// `"key":` with a leading comma unless `first` (then clears it).
inline void append_key(std::string& out, std::string_view key, bool& first) {
  if (!first) out += ',';
  first = false;
  out += '"';
  out += key;  // our own field names: nothing to escape
  out += "\":";
}

std::string_view finish_to_openai(ir::finish_reason r);
ir::finish_reason finish_from_openai(std::string_view s);

// {"prompt_tokens",...,"completion_tokens_details":{...}}; unknown counts are written as 0.
void append_usage(std::string& out, const ir::usage& u);
// An OpenAI usage object (also DeepSeek's prompt_cache_hit_tokens) to IR counts.
ir::usage read_usage(const boost::json::object& u);

// The inside of {"error": ...} (an object, or a bare string as some servers send) to an API
// error; `status` is the HTTP status it came with (0 inside a stream: the kind decides).
ir::api_error read_error(const boost::json::value& error, int status);

}  // namespace sy::openai::wire
