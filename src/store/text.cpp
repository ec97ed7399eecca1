#include "store/text.h"

#include "common/json.h"

#include <openssl/rand.h>

#include <boost/json.hpp>

namespace sy::store {

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string out;
  for (auto part : parts)
    out.append(part);
  return out;
}

db_error client_error(std::string message) {
  return db_error{std::move(message), true};
}

result<std::string> random_id(std::string_view prefix) {
  unsigned char bytes[8];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return db_error{"the random generator failed"};
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(prefix);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::string encode_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    json::append_quoted(out, items[i]);
  }
  out += ']';
  return out;
}

std::optional<std::vector<std::string>> decode_list(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& item : v.get_array()) {
    if (!item.is_string()) return std::nullopt;
    out.emplace_back(item.get_string());
  }
  return out;
}

}  // namespace sy::store
