// Gateway keys: an in-memory table from the SHA-256 of a key to its record, so the hot path
// needs no store round trip and the table never holds a key in clear.
#pragma once

#include "auth/cidr.h"

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace sy {

class rate_limiter;
namespace billing {
class budget_account;
}

struct key_record {
  std::string name;
  std::vector<std::string> models;  // glob patterns
  bool admin = false;               // the master key

  // Managed keys (created through the admin API or the CLI, loaded from the store). Config-file
  // keys and the master key leave these at their defaults.
  bool managed = false;
  std::string id;                         // "key_..."
  std::optional<std::string> user_id;     // the owner
  std::string role;                       // the owner's role: admin | developer | viewer
  std::vector<std::string> owner_models;  // the owner's globs bound the key's (empty: no owner)
  bool enabled = true;
  bool owner_enabled = true;
  std::optional<std::int64_t> revoked_at;  // unix seconds
  std::optional<std::int64_t> expires_at;  // unix seconds
  cidr_list allowed_ips;                   // empty = any address
  bool allowed_ips_broken = false;         // unreadable in the store: no address is allowed
  bool require_signature = false;
  std::string signing_secret;  // in clear (opened from the store); "" with require_signature:
                               // it could not be opened, nothing verifies
  // The key's rate limiter (null when it has no limits): shared by every snapshot of the key.
  std::shared_ptr<rate_limiter> limiter;
  // The key's and its owner's spend budgets (null when none), kept across snapshots like the
  // limiter. Config-file keys may have one too.
  std::shared_ptr<billing::budget_account> budget;
  std::shared_ptr<billing::budget_account> user_budget;
};

using key_hash = std::array<unsigned char, 32>;

key_hash hash_key(std::string_view key);

// `*` matches any run of characters, `?` one character; everything else literally.
bool glob_match(std::string_view pattern, std::string_view text);

bool key_allows_model(const key_record& key, std::string_view model);

// Pulls the key out of `Authorization: Bearer sk-...` or `x-api-key: sk-...`.
std::string_view extract_key(std::string_view authorization, std::string_view x_api_key);

// Parses 64 hex digits (what the store keeps) into a hash; nullopt when malformed.
std::optional<key_hash> parse_key_hash(std::string_view hex);

class key_table {
 public:
  static constexpr std::int64_t forever = std::numeric_limits<std::int64_t>::max();

  struct entry {
    std::shared_ptr<const key_record> record;
    std::int64_t until = forever;  // unix seconds: a rotated-out secret stops being accepted
  };

  void add(std::string_view key, key_record record);
  // A managed key, known by its hash only; the same record may sit under two hashes (its
  // current secret, and its previous one until the end of the rotation grace period).
  void add_hash(const key_hash& hash, std::shared_ptr<const key_record> record,
                std::int64_t until = forever);
  // The entry of `key` (its `until` not checked), or null.
  const entry* find_entry(std::string_view key) const;
  // The record of `key` if its entry is still valid at `now` (unix seconds), or null.
  const key_record* find(std::string_view key, std::int64_t now) const;
  const key_record* find(std::string_view key) const;  // at the current time
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
  std::unordered_map<key_hash, entry, hash_of_hash> table_;
};

}  // namespace sy
