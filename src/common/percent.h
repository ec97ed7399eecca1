// Percent-decoding of query strings (application/x-www-form-urlencoded: '+' is a space).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sy {

// nullopt when a '%' is not followed by two hex digits.
std::optional<std::string> percent_decode(std::string_view s);

}  // namespace sy
