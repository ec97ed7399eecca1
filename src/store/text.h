// What the repositories over the store (accounts, channels) share when they build SQL and read
// rows: joining SQL pieces, caller errors, random ids, lists of strings stored as JSON text.
// Internal to src/store.
#pragma once

#include "store/sql.h"

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sy::store {

// Joins pieces of text (GCC 12 warns falsely about chains of std::string operator+).
std::string cat(std::initializer_list<std::string_view> parts);

// A mistake of the caller's (a constraint): the API answers it 400, not 500.
db_error client_error(std::string message);

// `prefix` + 16 hex characters from OpenSSL's CSPRNG.
result<std::string> random_id(std::string_view prefix);

// A list of strings as a JSON array, and back: nullopt when the text is not an array of strings.
std::string encode_list(const std::vector<std::string>& items);
std::optional<std::vector<std::string>> decode_list(std::string_view text);

}  // namespace sy::store
