// Helpers of the Gemini codec tests.
#pragma once

#include "protocol/ir/ir.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <string_view>

namespace sy::test::gemini_util {

inline boost::json::value parse(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  EXPECT_FALSE(ec) << "not JSON: " << text;
  return v;
}

// Structural equality where every number compares by value (1, 1.0 and 1u are equal): the
// encoders write doubles in their shortest form.
inline bool json_equal(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& ao = a.get_object();
    const auto& bo = b.get_object();
    if (ao.size() != bo.size()) return false;
    for (const auto& m : ao) {
      const auto* other = bo.if_contains(m.key());
      if (!other || !json_equal(m.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& aa = a.get_array();
    const auto& ba = b.get_array();
    if (aa.size() != ba.size()) return false;
    for (std::size_t i = 0; i < aa.size(); ++i)
      if (!json_equal(aa[i], ba[i])) return false;
    return true;
  }
  return a == b;
}

inline std::string kind_name(ir::part::kind k) {
  switch (k) {
    case ir::part::kind::text:
      return "text";
    case ir::part::kind::image:
      return "image";
    case ir::part::kind::document:
      return "document";
    case ir::part::kind::tool_call:
      return "tool_call";
    case ir::part::kind::tool_result:
      return "tool_result";
    case ir::part::kind::reasoning:
      return "reasoning";
    case ir::part::kind::redacted_reasoning:
      return "redacted_reasoning";
  }
  return "?";
}

// A readable, complete rendering of a part, for comparing IR values in assertions.
inline std::string describe(const ir::part& p) {
  std::string s = kind_name(p.type) + "{";
  auto field = [&](const char* name, const std::string& v) {
    if (!v.empty()) s += std::string(name) + "=" + v + " ";
  };
  field("text", p.text);
  field("url", p.url);
  field("media_type", p.media_type);
  field("data", p.data);
  field("detail", p.detail);
  field("id", p.id);
  field("name", p.name);
  field("arguments", p.arguments);
  field("signature", p.signature);
  if (p.is_error) s += "is_error ";
  if (!p.content.empty()) {
    s += "content=[";
    for (const auto& c : p.content)
      s += describe(c) + ",";
    s += "]";
  }
  return s + "}";
}

inline std::string describe(const ir::usage& u) {
  return "usage{in=" + std::to_string(u.input) + " out=" + std::to_string(u.output) +
         " cr=" + std::to_string(u.cache_read) + " cw=" + std::to_string(u.cache_write) +
         " cw1h=" + std::to_string(u.cache_write_1h) + " r=" + std::to_string(u.reasoning) + "}";
}

}  // namespace sy::test::gemini_util
