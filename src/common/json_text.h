// Boost.JSON values to text, with numbers as people write them. Header-only: the codecs (and
// their fuzz builds, which compile a few files alone) use it on the data plane.
#pragma once

#include "common/json.h"

#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <string>

namespace sy::json {

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

// Serialises like boost::json::serialize, except that doubles take their shortest round-trip
// form ("0.1", "12.5", "0.0435") instead of Boost's exponent form ("1E-1", "1.25E1"), so amounts
// of money in the admin API read naturally. Non-finite doubles become null.
inline std::string to_text(const boost::json::value& v) {
  std::string out;
  append_value(out, v);
  return out;
}

}  // namespace sy::json
