#include "common/json_text.h"

#include "common/json.h"

#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>

namespace sy::json {
namespace {

void append(std::string& out, const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::null:
      out += "null";
      return;
    case boost::json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case boost::json::kind::int64:
      out += std::to_string(v.get_int64());
      return;
    case boost::json::kind::uint64:
      out += std::to_string(v.get_uint64());
      return;
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";
        return;
      }
      char buf[32];
      auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, ec == std::errc() ? end : buf);
      return;
    }
    case boost::json::kind::string:
      append_quoted(out, std::string_view(v.get_string()));
      return;
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& item : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append(out, item);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& member : v.get_object()) {
        if (!first) out += ',';
        first = false;
        append_quoted(out, std::string_view(member.key()));
        out += ':';
        append(out, member.value());
      }
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string to_text(const boost::json::value& v) {
  std::string out;
  append(out, v);
  return out;
}

}  // namespace sy::json
