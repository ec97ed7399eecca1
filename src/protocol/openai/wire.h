// Pieces shared by the openai codec (codec.cpp) and its stream codec (stream.cpp): JSON written
// straight into a std::string, the finish reason and usage mappings, and the error shape.
// Output is built without a DOM because a translation has a budget of microseconds.
// The non-inline functions are defined in codec.cpp (the fuzz build compiles only codec.cpp and
// stream.cpp of this directory).
#pragma once

#include "common/json.h"
#include "protocol/ir/ir.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sy::openai::wire {

// JSON strings: the shared escaper (common/json.h).
using sy::json::append_escaped;
using sy::json::append_quoted;

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

// A client's JSON (a schema, an unknown field) written back. Numbers keep their kind (an integer
// stays an integer); a double is written in its shortest form. The depth is the parser's limit.
inline void append_value(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out += "null";
      return;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case boost::json::kind::int64:
      append_int(out, v.get_int64());
      return;
    case boost::json::kind::uint64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, r.ptr);
      return;
    }
    case boost::json::kind::double_:
      append_number(out, v.get_double());
      return;
    case boost::json::kind::string:
      append_quoted(out, v.get_string());
      return;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_value(out, e);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_quoted(out, kv.key());
        out += ':';
        append_value(out, kv.value());
      }
      out += '}';
      return;
    }
  }
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
