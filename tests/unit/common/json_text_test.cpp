#include "common/json_text.h"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <limits>

namespace sy::json {
namespace {

TEST(JsonText, DoublesInTheirShortestForm) {
  boost::json::object o{{"a", 0.1}, {"b", 10.0}, {"c", 0.0435}, {"d", 12.5}, {"e", 1e-9}};
  EXPECT_EQ(to_text(o), R"({"a":0.1,"b":10,"c":0.0435,"d":12.5,"e":1e-09})");
}

TEST(JsonText, EverythingElseAsBoostWritesIt) {
  auto v = boost::json::parse(
      R"({"s":"q\"\\\n\u0001é","i":-3,"u":18446744073709551615,"t":true,"f":false,"n":null,)"
      R"("a":[1,[],{}],"o":{"x":{"y":[null]}}})");
  EXPECT_EQ(to_text(v), boost::json::serialize(v));
  EXPECT_EQ(boost::json::parse(to_text(v)), v);
}

TEST(JsonText, NonFiniteIsNull) {
  boost::json::array a{std::numeric_limits<double>::infinity(),
                       std::numeric_limits<double>::quiet_NaN()};
  EXPECT_EQ(to_text(a), "[null,null]");
}

}  // namespace
}  // namespace sy::json
