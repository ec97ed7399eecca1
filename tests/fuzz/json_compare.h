// Shared by the codec fuzz targets: JSON texts compared as values, doubles within a few ulps.
// Boost 1.81 parses numbers with many digits or large exponents imprecisely, so one
// shortest-form double can read back as its neighbour: a property of the parser, not of the
// codec under test.
#pragma once

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <string>

namespace sy::fuzz {

inline bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_double() && b.is_double()) {
    double x = a.get_double(), y = b.get_double();
    return x == y || std::fabs(x - y) <= 1e-12 * std::max(std::fabs(x), std::fabs(y));
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (auto i = x.begin(), j = y.begin(); i != x.end(); ++i, ++j)
      if (i->key() != j->key() || !same_json(i->value(), j->value())) return false;
    return true;
  }
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_json(x[i], y[i])) return false;
    return true;
  }
  return a == b;
}

inline bool same_text(const std::string& a, const std::string& b) {
  if (a == b) return true;
  boost::json::parse_options o;
  o.max_depth = 1024;
  boost::system::error_code ea, eb;
  auto x = boost::json::parse(a, ea, {}, o);
  auto y = boost::json::parse(b, eb, {}, o);
  return !ea && !eb && same_json(x, y);
}

}  // namespace sy::fuzz
