// /admin/channels: upstream channels managed at run time (stored, their provider keys sealed)
// next to the config file's, which are listed and read but never changed here. Administrators
// only: the route table refuses the other roles before any of this runs.
//
// A channel is read and checked by parse_channel, the config file's own reader, so a managed
// channel is always one the config file would accept; the answers are channel_to_json without
// the keys, plus the fields the API adds (id, managed, api_keys_count, times).
#include "admin/admin_internal.h"

#include "config/config.h"
#include "store/channels.h"

#include <string>
#include <string_view>

namespace sy::admin::detail {
namespace {

namespace json = boost::json;

// Ids of config-file channels: "config:" + the channel's name.
constexpr std::string_view config_prefix = "config:";
// The source parse_channel names in its messages; stripped from them (the line is always 1).
constexpr std::string_view source = "channel";
// Fields of the answers a body may not set.
constexpr std::string_view read_only_fields[] = {"id", "managed", "api_keys_count", "created_at",
                                                 "updated_at"};

response read_only(const std::string& name) {
  return error_response(409, "read_only",
                        "channel '" + name + "' is defined in the config file; edit it there");
}

response secret_key_required() {
  return error_response(400, "secret_key_required",
                        "provider keys are stored encrypted, which needs SWITCHYARD_SECRET_KEY "
                        "(at least 32 characters) set for the gateway; it is not set",
                        "api_keys");
}

// "channel:1: timeouts.connect_ms: must be ..." -> "timeouts.connect_ms: must be ...".
std::string without_source(std::string_view message) {
  if (!message.starts_with(source)) return std::string(message);
  std::size_t pos = source.size();
  if (pos < message.size() && message[pos] == ':') {
    ++pos;
    while (pos < message.size() && message[pos] >= '0' && message[pos] <= '9')
      ++pos;
  }
  if (message.substr(pos).starts_with(": ")) return std::string(message.substr(pos + 2));
  return std::string(message);
}

// The top-level field of a key path: "timeouts.connect_ms" and "api_keys[1]" name "timeouts" and
// "api_keys" (the message keeps the whole path), as the other admin calls name list items.
std::string top_level(std::string_view path) {
  return std::string(path.substr(0, path.find_first_of(".[")));
}

// A field path as config messages start with it ("base_url: ...", "models.gpt: ..."), or "".
std::string leading_field(std::string_view message) {
  auto colon = message.find(": ");
  if (colon == std::string_view::npos || colon == 0) return "";
  for (char ch : message.substr(0, colon)) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                    ch == '.' || ch == '[' || ch == ']';
    if (!ok) return "";
  }
  return top_level(message.substr(0, colon));
}

invalid invalid_of(const config_error& e) {
  invalid out{top_level(e.field), without_source(e.message)};
  if (out.field.empty()) {
    // A missing key is reported on the channel itself: name it from the message.
    constexpr std::string_view missing = "missing key '";
    if (auto at = out.message.find(missing); at != std::string::npos) {
      auto start = at + missing.size();
      auto end = out.message.find('\'', start);
      if (end != std::string::npos) out.field = out.message.substr(start, end - start);
    }
  }
  return out;
}

// A refusal of the repository (a duplicate name, a key with control characters, a setting it
// checked again): 400 naming the field its message starts with.
response refused_by_store(const store::db_error& e) {
  auto message = without_source(e.message);
  return bad_request({leading_field(message), message});
}

// A path segment with its %-escapes decoded ('+' stays itself); nullopt when one is invalid.
std::optional<std::string> path_decode(std::string_view s) {
  auto hex = [](char ch) -> int {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    const int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// What the answers show of a channel's settings: never a provider key.
json::object settings_json(const channel_config& ch) {
  boost::system::error_code ec;
  auto v = json::parse(channel_to_json(ch, false), ec);
  if (ec || !v.is_object()) return json::object{};
  return std::move(v.as_object());
}

json::object channel_json(json::value id, const channel_config& ch, bool managed,
                          json::value created_at, json::value updated_at) {
  json::object out;
  out["id"] = std::move(id);
  for (auto& member : settings_json(ch))
    out[member.key()] = std::move(member.value());
  out["managed"] = managed;
  out["api_keys_count"] = ch.api_keys.size();
  out["created_at"] = std::move(created_at);
  out["updated_at"] = std::move(updated_at);
  return out;
}

json::object managed_json(const store::channel_row& r) {
  return channel_json(json::string(r.id), r.channel, true, json::string(format_time(r.created_at)),
                      json::string(format_time(r.updated_at)));
}

json::object config_json(const channel_config& ch) {
  return channel_json(json::string(std::string(config_prefix) + ch.name), ch, false, nullptr,
                      nullptr);
}

const channel_config* config_channel(const call& c, std::string_view name) {
  if (!c.env.cfg) return nullptr;
  for (const auto& ch : c.env.cfg->channels) {
    if (ch.name == name) return &ch;
  }
  return nullptr;
}

// The channel a path names: a config-file channel, or the id of a managed one.
struct target {
  std::string id;                          // decoded
  const channel_config* config = nullptr;  // set for an existing config-file channel
  bool config_id = false;                  // "config:..."
};
std::optional<target> target_of(const call& c, const std::string& raw) {
  auto id = path_decode(raw);
  if (!id) return std::nullopt;
  target out{std::move(*id)};
  if (out.id.starts_with(config_prefix)) {
    out.config_id = true;
    out.config = config_channel(c, std::string_view(out.id).substr(config_prefix.size()));
  }
  return out;
}

// A stored channel whose provider keys do not open, from its row's settings alone (the `config`
// column holds channel_to_json without the keys); api_keys_count is null. Nothing when the row is
// gone or unreadable too.
std::optional<json::object> unreadable_channel(call& c, const std::string& id) {
  auto found =
      c.env.db.query("SELECT config, created_at, updated_at FROM channels WHERE id = $1", {id});
  if (found.index() != 0) return std::nullopt;
  const auto& rows = std::get<std::vector<store::row>>(found);
  if (rows.empty()) return std::nullopt;
  boost::system::error_code ec;
  auto settings = json::parse(rows[0].text(0), ec);
  if (ec || !settings.is_object()) return std::nullopt;
  json::object out;
  out["id"] = id;
  for (auto& member : settings.as_object()) {
    if (member.key() != "api_keys") out[member.key()] = std::move(member.value());
  }
  out["managed"] = true;
  out["api_keys_count"] = nullptr;
  out["created_at"] = format_time(rows[0].integer(1));
  out["updated_at"] = format_time(rows[0].integer(2));
  return out;
}

std::optional<invalid> refuse_read_only(const json::object& body) {
  for (auto name : read_only_fields) {
    if (body.contains(name)) {
      return invalid{std::string(name), std::string(name) + " is set by the gateway (read-only)"};
    }
  }
  return std::nullopt;
}

// The body's channel through the config file's reader, with the checks it cannot make itself.
std::variant<channel_config, invalid> read_channel(const call& c, const json::object& body) {
  auto parsed = parse_channel(json::serialize(body), std::string(source));
  if (auto* e = std::get_if<config_error>(&parsed)) return invalid_of(*e);
  auto ch = std::get<channel_config>(std::move(parsed));
  if (ch.name.size() > max_name_bytes) {
    return invalid{"name", "name must be at most " + std::to_string(max_name_bytes) + " bytes"};
  }
  // Served side by side, two channels of one name would be told apart by nothing in the logs,
  // the metrics or this API.
  if (config_channel(c, ch.name)) {
    return invalid{"name", "a channel named '" + ch.name +
                               "' is defined in the config file; choose another name"};
  }
  return ch;
}

// The settings an audit row records: those given, as stored; provider keys only as a count.
json::object recorded(const json::object& given, const channel_config& ch) {
  const auto settings = settings_json(ch);
  json::object out;
  for (const auto& member : given) {
    std::string_view name = member.key();
    if (name == "api_keys" || name == "api_key") {
      out["api_keys"] = ch.api_keys.size();
      continue;
    }
    const auto* v = settings.if_contains(name);
    out[name] = v ? *v : json::value(nullptr);
  }
  return out;
}

}  // namespace

response create_channel(call& c) {
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<json::object>(parsed);
  if (auto why = refuse_read_only(body)) return bad_request(*why);
  auto read = read_channel(c, body);
  if (auto* why = std::get_if<invalid>(&read)) return bad_request(*why);
  const auto& ch = std::get<channel_config>(read);
  if (!ch.api_keys.empty() && !c.env.sealer) return secret_key_required();
  store::channels repo(c.env.db, c.env.sealer, c.env.clock);
  return in_transaction(c, [&]() -> store::result<response> {
    auto created = repo.create(ch);
    if (auto* e = std::get_if<store::db_error>(&created)) {
      if (e->constraint) return refused_by_store(*e);
      return *e;
    }
    const auto& row = std::get<store::channel_row>(created);
    auto changes = settings_json(row.channel);
    changes["api_keys"] = row.channel.api_keys.size();
    if (auto e = audit(c, "channel.create", row.id, "ok", changes)) return *e;
    return json_response(201, managed_json(row));
  });
}

response list_channels(call& c) {
  auto parsed = parse_query(c.req.query);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  // limit and cursor are checked as everywhere, but the list is one page: channels are few.
  page_request page;
  if (auto why = read_page(std::get<std::vector<query_param>>(parsed), page)) {
    return bad_request(*why);
  }
  json::array data;
  // In the order they are served: the config file's first.
  if (c.env.cfg) {
    for (const auto& ch : c.env.cfg->channels)
      data.push_back(config_json(ch));
  }
  store::channels repo(c.env.db, c.env.sealer, c.env.clock);
  auto listed = repo.list();
  if (auto* e = std::get_if<store::db_error>(&listed)) return store_failure(*e);
  for (const auto& row : std::get<std::vector<store::channel_row>>(listed))
    data.push_back(managed_json(row));
  return list_answer(std::move(data), std::nullopt);
}

response get_channel(call& c, const std::string& raw_id) {
  auto t = target_of(c, raw_id);
  if (!t) return not_found("channel " + raw_id);
  if (t->config_id) {
    if (!t->config) return not_found("channel " + t->id);
    return json_response(200, config_json(*t->config));
  }
  store::channels repo(c.env.db, c.env.sealer, c.env.clock);
  auto found = repo.get(t->id);
  if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
  const auto& row = std::get<std::optional<store::channel_row>>(found);
  if (!row) return not_found("channel " + t->id);
  return json_response(200, managed_json(*row));
}

response update_channel(call& c, const std::string& raw_id) {
  auto t = target_of(c, raw_id);
  if (!t) return not_found("channel " + raw_id);
  if (t->config_id) {
    if (!t->config) return not_found("channel " + t->id);
    return read_only(t->config->name);
  }
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<json::object>(parsed);
  if (body.empty()) return bad_request({"", "the body sets no field"});
  if (auto why = refuse_read_only(body)) return bad_request(*why);

  store::channels repo(c.env.db, c.env.sealer, c.env.clock);
  auto found = repo.get(t->id);
  if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
  const auto& current = std::get<std::optional<store::channel_row>>(found);
  if (!current) return not_found("channel " + t->id);

  // The body over the stored channel: a member replaces the stored one, null resets it to its
  // default, and `timeouts` and `mock` are merged key by key.
  boost::system::error_code ec;
  auto whole = json::parse(channel_to_json(current->channel, true), ec);
  if (ec || !whole.is_object()) return error_response(500, "internal", "cannot read the channel");
  auto& merged = whole.as_object();
  const bool sets_keys = body.contains("api_keys") || body.contains("api_key");
  if (sets_keys) merged.erase("api_keys");
  if (body.contains("type") && !body.contains("base_url")) {
    // A base_url that was the old vendor's default becomes the new vendor's.
    const vendor* old_vendor = find_vendor(current->channel.vendor);
    if (old_vendor && current->channel.base_url == old_vendor->default_base_url) {
      merged.erase("base_url");
    }
  }
  for (const auto& member : body) {
    const auto& v = member.value();
    auto* stored = merged.if_contains(member.key());
    const bool nested = member.key() == "timeouts" || member.key() == "mock";
    if (nested && v.is_object() && stored && stored->is_object()) {
      for (const auto& inner : v.get_object()) {
        if (inner.value().is_null()) {
          stored->as_object().erase(inner.key());
        } else {
          stored->as_object()[inner.key()] = inner.value();
        }
      }
    } else if (v.is_null()) {
      merged.erase(member.key());
    } else {
      merged[member.key()] = v;
    }
  }
  auto read = read_channel(c, merged);
  if (auto* why = std::get_if<invalid>(&read)) return bad_request(*why);
  const auto& ch = std::get<channel_config>(read);
  if (sets_keys && !ch.api_keys.empty() && !c.env.sealer) return secret_key_required();

  const std::string id = t->id;
  return in_transaction(c, [&]() -> store::result<response> {
    auto updated = repo.update(id, store::patch_setting_all(ch, sets_keys));
    if (auto* e = std::get_if<store::db_error>(&updated)) {
      if (e->constraint) return refused_by_store(*e);
      return *e;
    }
    const auto& row = std::get<std::optional<store::channel_row>>(updated);
    if (!row) return not_found("channel " + id);
    if (auto e = audit(c, "channel.update", id, "ok", recorded(body, row->channel))) return *e;
    return json_response(200, managed_json(*row));
  });
}

response delete_channel(call& c, const std::string& raw_id) {
  auto t = target_of(c, raw_id);
  if (!t) return not_found("channel " + raw_id);
  if (t->config_id) {
    if (!t->config) return not_found("channel " + t->id);
    return read_only(t->config->name);
  }
  store::channels repo(c.env.db, c.env.sealer, c.env.clock);
  const std::string id = t->id;
  return in_transaction(c, [&]() -> store::result<response> {
    auto found = repo.get(id);
    json::object answer;
    std::string name;
    if (auto* e = std::get_if<store::db_error>(&found)) {
      // Keys that do not open (SWITCHYARD_SECRET_KEY unset or replaced) must not pin the channel:
      // deleting it is how an operator recovers. Its answer says the key count is unknown.
      auto kept = unreadable_channel(c, id);
      if (!kept) return *e;
      answer = std::move(*kept);
      name = answer["name"].is_string() ? std::string(answer["name"].get_string()) : "";
    } else {
      const auto& row = std::get<std::optional<store::channel_row>>(found);
      if (!row) return not_found("channel " + id);
      answer = managed_json(*row);
      name = row->channel.name;
    }
    auto removed = repo.remove(id);
    if (auto* e = std::get_if<store::db_error>(&removed)) return *e;
    if (!std::get<bool>(removed)) return not_found("channel " + id);
    if (auto e = audit(c, "channel.delete", id, "ok", {{"name", name}})) return *e;
    return json_response(200, answer);
  });
}

}  // namespace sy::admin::detail
