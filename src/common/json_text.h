// Boost.JSON values to text, with numbers as people write them.
#pragma once

#include <boost/json/fwd.hpp>

#include <string>

namespace sy::json {

// Serialises like boost::json::serialize, except that doubles take their shortest round-trip
// form ("0.1", "12.5", "0.0435") instead of Boost's exponent form ("1E-1", "1.25E1"), so amounts
// of money in the admin API read naturally. Non-finite doubles become null.
std::string to_text(const boost::json::value& v);

}  // namespace sy::json
