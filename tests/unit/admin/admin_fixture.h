// What the admin tests share: an admin::handle answer with its JSON parsed, and accessors for
// the fields the tests read.
#pragma once

#include "admin/admin.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <string_view>

namespace sy::test {

struct answer {
  unsigned status = 0;
  boost::json::value body;
  std::string text;
  std::string allow;

  const boost::json::object& obj() const { return body.as_object(); }
  std::string str(std::string_view name) const {
    const auto* v = obj().if_contains(name);
    return v && v->is_string() ? std::string(v->get_string()) : std::string();
  }
  const boost::json::value& at(std::string_view name) const { return obj().at(name); }
  std::string error_code() const {
    const auto* e = obj().if_contains("error");
    return e ? std::string(e->at("code").as_string()) : std::string();
  }
  std::string error_field() const {
    const auto* e = obj().if_contains("error");
    if (!e) return "<no error>";
    const auto* f = e->as_object().if_contains("field");
    return f ? std::string(f->as_string()) : std::string("<no field>");
  }
  const boost::json::array& data() const { return obj().at("data").as_array(); }
};

// The answer of `r`; a body that is not a JSON object fails the test (and reads as {}).
inline answer answer_of(const admin::response& r) {
  answer out;
  out.status = r.status;
  out.text = r.body;
  out.allow = r.allow;
  boost::system::error_code ec;
  out.body = boost::json::parse(r.body, ec);
  EXPECT_FALSE(ec) << "not JSON: " << r.body;
  EXPECT_TRUE(out.body.is_object()) << r.body;
  if (!out.body.is_object()) out.body = boost::json::object{};
  return out;
}

}  // namespace sy::test
