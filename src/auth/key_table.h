// Gateway keys: an in-memory table from the SHA-256 of a key to its record, so the hot path
// needs no store round trip and the table never holds a key in clear.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sy {

struct key_record {
  std::string name;
  std::vector<std::string> models;  // glob patterns
  bool admin = false;               // the master key
};

using key_hash = std::array<unsigned char, 32>;

key_hash hash_key(std::string_view key);

// `*` matches any run of characters, `?` one character; everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

bool key_allows_model(const key_record& key, std::string_view model);

// Pulls the key out of `Authorization: Bearer sk-...` or `x-api-key: sk-...`.
std::string_view extract_key(std::string_view authorization, std::string_view x_api_key);

class key_table {
 public:
  void add(std::string_view key, key_record record);
  const key_record* find(std::string_view key) const;
  std::size_t size() const { return table_.size(); }

 private:
  struct hash_of_hash {
    std::size_t operator()(const key_hash& h) const noexcept {
      std::size_t v;
      static_assert(sizeof v <= sizeof h);
      __builtin_memcpy(&v, h.data(), sizeof v);
      return v;
    }
  };
  std::unordered_map<key_hash, key_record, hash_of_hash> table_;
};

}  // namespace sy
