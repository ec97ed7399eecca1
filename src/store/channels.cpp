#include "store/channels.h"

#include "common/crypto.h"
#include "common/json.h"
#include "store/migrations.h"
#include "store/text.h"

#include <boost/json.hpp>

#include <ctime>

namespace sy::store {
namespace {

using rows = std::vector<row>;

constexpr std::string_view channel_columns =
    "id, name, type, config, api_keys, created_at, updated_at";

// A patch read, merged and written back again when another writer changed the row in between.
constexpr int update_attempts = 8;

std::string who(const std::string& id, const std::string& name) {
  return cat({"channel '", name, "' (", id, ")"});
}

// The settings as the config file would take them: parse_channel of their JSON. Empty keys are
// dropped (as the config file drops an unset ${VAR}); a key must fit in an HTTP header.
result<channel_config> validated(const channel_config& ch) {
  std::vector<std::string> keys;
  for (const auto& key : ch.api_keys) {
    if (key.empty()) continue;
    for (unsigned char c : key) {
      if (c < 0x20 || c == 0x7f)
        return client_error("api_keys: a key must not hold control characters");
    }
    keys.push_back(key);
  }
  auto parsed = parse_channel(channel_to_json(ch, false), "channel");
  if (auto* e = std::get_if<config_error>(&parsed)) return client_error(e->message);
  auto out = std::get<channel_config>(std::move(parsed));
  out.api_keys = std::move(keys);
  return out;
}

// The stored settings. The CA file is not opened here: a file gone missing on this host must not
// hide the channel from the admin API that can fix it (the gateway checks it when connecting).
result<channel_config> decode_config(const std::string& id, const std::string& name,
                                     const std::string& text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) {
    return db_error{cat({who(id, name), ": the stored settings are not a JSON object"})};
  }
  auto& object = v.as_object();
  std::string ca_file;
  if (const auto* f = object.if_contains("ca_file"); f && f->is_string()) {
    ca_file = std::string(f->get_string());
  }
  object.erase("ca_file");
  object.erase("api_keys");  // never written there
  auto parsed = parse_channel(boost::json::serialize(object), "channel");
  if (auto* e = std::get_if<config_error>(&parsed)) {
    return db_error{cat({who(id, name), ": invalid stored settings: ", e->message})};
  }
  auto out = std::get<channel_config>(std::move(parsed));
  out.ca_file = std::move(ca_file);
  return out;
}

}  // namespace

channel_patch patch_setting_all(const channel_config& ch, bool include_keys) {
  channel_patch p;
  p.name = ch.name;
  p.type = ch.vendor;
  p.base_url = ch.base_url;
  if (include_keys) p.api_keys = ch.api_keys;
  p.models = ch.models;
  p.weight = ch.weight;
  p.timeouts = ch.timeouts;
  p.mock = ch.mock;
  p.ca_file = ch.ca_file;
  p.api_version = ch.api_version;
  p.anthropic_version = ch.anthropic_version;
  return p;
}

channels::channels(connection& db, const crypto::sealer* sealer,
                   std::function<std::int64_t()> clock)
    : db_(db), sealer_(sealer), clock_(std::move(clock)) {}

std::int64_t channels::now() const {
  return clock_ ? clock_() : static_cast<std::int64_t>(std::time(nullptr));
}

result<std::string> channels::seal_keys(const std::vector<std::string>& keys,
                                        const std::string& id) const {
  if (keys.empty()) return std::string();
  if (!sealer_) {
    return client_error(
        "api_keys: provider keys are stored encrypted, which needs SWITCHYARD_SECRET_KEY (at least "
        "32 characters) in the gateway's environment; it is not set");
  }
  auto sealed = sealer_->seal(encode_list(keys), id);
  if (sealed.empty()) return db_error{"cannot encrypt the provider keys (OpenSSL failed)"};
  return sealed;
}

namespace {

// A row of channel_columns, its keys opened with `sealer`.
result<channel_row> decode_row(const row& r, const crypto::sealer* sealer) {
  channel_row out;
  out.id = r.text(0);
  const auto name = r.text(1);
  auto settings = decode_config(out.id, name, r.text(3));
  if (auto* e = std::get_if<db_error>(&settings)) return *e;
  out.channel = std::get<channel_config>(std::move(settings));
  out.created_at = r.integer(5);
  out.updated_at = r.integer(6);
  const auto stored = r.text(4);
  if (stored.empty()) return out;
  if (!sealer) {
    return db_error{cat({who(out.id, name),
                         ": its provider keys are stored encrypted; SWITCHYARD_SECRET_KEY must be "
                         "set to read them"})};
  }
  auto plain = sealer->open(stored, out.id);
  if (!plain) {
    return db_error{cat({who(out.id, name),
                         ": its provider keys do not decrypt: SWITCHYARD_SECRET_KEY is not the one "
                         "they were stored with (or the value was altered)"})};
  }
  auto keys = decode_list(*plain);
  if (!keys) {
    return db_error{cat({who(out.id, name), ": its provider keys are not a list of strings"})};
  }
  out.channel.api_keys = std::move(*keys);
  return out;
}

// A UNIQUE violation on insert or update: the name (ids are random).
db_error named_error(db_error e, const std::string& name) {
  if (e.constraint) e.message = cat({"name: a channel named '", name, "' already exists"});
  return e;
}

}  // namespace

result<channel_row> channels::create(const channel_config& ch) {
  auto checked = validated(ch);
  if (auto* e = std::get_if<db_error>(&checked)) return *e;
  auto id = random_id("ch_");
  if (auto* e = std::get_if<db_error>(&id)) return *e;
  channel_row out{std::get<std::string>(id), std::get<channel_config>(std::move(checked)), now(),
                  0};
  out.updated_at = out.created_at;
  auto sealed = seal_keys(out.channel.api_keys, out.id);
  if (auto* e = std::get_if<db_error>(&sealed)) return *e;
  auto inserted = db_.query(
      "INSERT INTO channels (id, name, type, config, api_keys, created_at, updated_at) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {out.id, out.channel.name, out.channel.vendor, channel_to_json(out.channel, false),
       std::get<std::string>(sealed), out.created_at, out.updated_at});
  if (auto* e = std::get_if<db_error>(&inserted)) return named_error(*e, out.channel.name);
  if (auto e = bump_revision(db_)) return *e;
  return out;
}

result<std::optional<channel_row>> channels::get(const std::string& id) {
  auto found = db_.query(cat({"SELECT ", channel_columns, " FROM channels WHERE id = $1"}), {id});
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  const auto& r = std::get<rows>(found);
  if (r.empty()) return std::optional<channel_row>{};
  auto decoded = decode_row(r[0], sealer_);
  if (auto* e = std::get_if<db_error>(&decoded)) return *e;
  return std::optional<channel_row>{std::get<channel_row>(std::move(decoded))};
}

result<std::vector<channel_row>> channels::list(std::vector<db_error>* unreadable) {
  auto found = db_.query(cat({"SELECT ", channel_columns, " FROM channels ORDER BY name"}));
  if (auto* e = std::get_if<db_error>(&found)) return *e;
  std::vector<channel_row> out;
  for (const auto& r : std::get<rows>(found)) {
    auto decoded = decode_row(r, sealer_);
    if (auto* e = std::get_if<db_error>(&decoded)) {
      if (!unreadable) return *e;
      unreadable->push_back(std::move(*e));
      continue;
    }
    out.push_back(std::get<channel_row>(std::move(decoded)));
  }
  return out;
}

result<std::optional<channel_row>> channels::update(const std::string& id,
                                                    const channel_patch& patch) {
  if (patch.type && !find_vendor(*patch.type)) {
    return client_error(cat({"type: unknown channel type '", *patch.type, "'"}));
  }
  for (int attempt = 0; attempt < update_attempts; ++attempt) {
    auto found = db_.query(cat({"SELECT ", channel_columns, " FROM channels WHERE id = $1"}), {id});
    if (auto* e = std::get_if<db_error>(&found)) return *e;
    const auto& r = std::get<rows>(found);
    if (r.empty()) return std::optional<channel_row>{};
    const std::string old_config = r[0].text(3);
    const std::string old_keys = r[0].text(4);
    auto decoded = decode_row(r[0], sealer_);
    if (auto* e = std::get_if<db_error>(&decoded)) return *e;
    auto current = std::get<channel_row>(std::move(decoded));

    const std::vector<std::string> old_plain_keys = current.channel.api_keys;
    channel_config ch = current.channel;
    if (patch.name) ch.name = *patch.name;
    if (patch.type) {
      // A base_url that was the old vendor's default becomes the new vendor's.
      const vendor* old_vendor = find_vendor(ch.vendor);
      if (!patch.base_url && old_vendor && ch.base_url == old_vendor->default_base_url) {
        ch.base_url.clear();
      }
      const vendor* v = find_vendor(*patch.type);
      ch.type = v->type;
      ch.vendor = std::string(v->name);
    }
    if (patch.base_url) ch.base_url = *patch.base_url;
    if (patch.api_keys) ch.api_keys = *patch.api_keys;
    if (patch.models) ch.models = *patch.models;
    if (patch.weight) ch.weight = *patch.weight;
    if (patch.timeouts) ch.timeouts = *patch.timeouts;
    if (patch.mock) ch.mock = *patch.mock;
    if (patch.ca_file) ch.ca_file = *patch.ca_file;
    if (patch.api_version) ch.api_version = *patch.api_version;
    if (patch.anthropic_version) ch.anthropic_version = *patch.anthropic_version;
    auto checked = validated(ch);
    if (auto* e = std::get_if<db_error>(&checked)) return *e;
    current.channel = std::get<channel_config>(std::move(checked));

    std::string keys = old_keys;
    // The same keys again keep their sealed value (a new seal would differ: a fresh nonce).
    if (patch.api_keys && current.channel.api_keys != old_plain_keys) {
      auto sealed = seal_keys(current.channel.api_keys, id);
      if (auto* e = std::get_if<db_error>(&sealed)) return *e;
      keys = std::get<std::string>(std::move(sealed));
    }
    const std::string config = channel_to_json(current.channel, false);
    if (config == old_config && keys == old_keys) return std::optional<channel_row>{current};
    current.updated_at = now();
    // Written only over the row that was read: a writer in between makes this match nothing,
    // and the patch is applied again to what that writer left.
    auto updated = db_.query(
        "UPDATE channels SET name = $2, type = $3, config = $4, api_keys = $5, updated_at = $6 "
        "WHERE id = $1 AND config = $7 AND api_keys = $8 RETURNING id",
        {id, current.channel.name, current.channel.vendor, config, keys, current.updated_at,
         old_config, old_keys});
    if (auto* e = std::get_if<db_error>(&updated)) return named_error(*e, current.channel.name);
    if (std::get<rows>(updated).empty()) continue;
    if (auto e = bump_revision(db_)) return *e;
    return std::optional<channel_row>{std::move(current)};
  }
  return db_error{cat({"channel ", id, " kept changing while being updated; try again"})};
}

result<bool> channels::remove(const std::string& id) {
  auto deleted = db_.query("DELETE FROM channels WHERE id = $1 RETURNING id", {id});
  if (auto* e = std::get_if<db_error>(&deleted)) return *e;
  if (std::get<rows>(deleted).empty()) return false;
  if (auto e = bump_revision(db_)) return *e;
  return true;
}

}  // namespace sy::store
