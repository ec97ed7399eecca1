// The channels repository: upstream channels managed at run time (the admin API), typed, over a
// store connection (SQLite or PostgreSQL alike; the table is migration 1's).
//
// A row holds the channel's settings as JSON in `config` (channel_to_json without the keys; read
// back with parse_channel, so a stored channel is always one the config file would accept) and
// its upstream keys in `api_keys`: one value sealed with crypto::sealer (AES-256-GCM, the row id
// as context) of a JSON array of strings, or '' when the channel has no key. Keys are never
// stored in clear: without a sealer (SWITCHYARD_SECRET_KEY unset) a channel with keys is refused.
//
// Every call returns store::result: a db_error on failure, with `constraint` set for the
// caller's mistakes (an invalid setting, a duplicate name, keys without a sealer). A stored
// value that does not open (another SWITCHYARD_SECRET_KEY) is an error naming the channel. An
// unknown id is not an error: the optional in the answer is empty. Every change bumps the store
// revision. No exceptions. Not thread-safe: one channels (and its connection) per thread.
#pragma once

#include "config/config.h"
#include "store/sql.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace sy::crypto {
class sealer;
}

namespace sy::store {

struct channel_row {
  std::string id;               // "ch_" + 16 hex characters
  channel_config channel;       // the upstream keys in clear (opened)
  std::int64_t created_at = 0;  // unix seconds
  std::int64_t updated_at = 0;
};

// Absent = unchanged. The result is validated as a whole, as parse_channel would.
struct channel_patch {
  std::optional<std::string> name;
  std::optional<std::string> type;      // a vendor name, as `type:` ("openai", "azure", ...)
  std::optional<std::string> base_url;  // "" = the vendor's default
  std::optional<std::vector<std::string>> api_keys;  // replaces them all; empty = none
  std::optional<std::vector<model_route>> models;
  std::optional<unsigned> weight;
  std::optional<channel_timeouts> timeouts;
  std::optional<mock_options> mock;
  std::optional<std::string> ca_file;  // "" = none
  std::optional<std::string> api_version;
  std::optional<std::string> anthropic_version;
};

// A patch that sets every setting of `ch` (its keys too when `include_keys`), for a caller that
// has merged a change into a whole channel itself (for example parse_channel of the stored
// channel's JSON overlaid with the request's).
channel_patch patch_setting_all(const channel_config& ch, bool include_keys);

class channels {
 public:
  // `sealer` may be null: then channels without keys can still be stored and read. `clock`
  // gives the unix time in seconds (std::time by default; tests pass their own).
  channels(connection& db, const crypto::sealer* sealer, std::function<std::int64_t()> clock = {});

  result<channel_row> create(const channel_config& ch);
  result<std::optional<channel_row>> get(const std::string& id);
  // All of them, ordered by name. With `unreadable`, a row that does not load (its keys sealed
  // under another SWITCHYARD_SECRET_KEY) is left out and its error added there instead of
  // failing the whole list.
  result<std::vector<channel_row>> list(std::vector<db_error>* unreadable = nullptr);
  result<std::optional<channel_row>> update(const std::string& id, const channel_patch& patch);
  // false for an unknown id.
  result<bool> remove(const std::string& id);

 private:
  std::int64_t now() const;
  result<std::string> seal_keys(const std::vector<std::string>& keys, const std::string& id) const;

  connection& db_;
  const crypto::sealer* sealer_;
  std::function<std::int64_t()> clock_;
};

}  // namespace sy::store
