// /admin/keys: create, list, read, update, revoke and rotate gateway keys. Admins manage every
// key; developers create, list, read, rotate and revoke their own; viewers list and read theirs.
#include "admin/admin_internal.h"

#include "common/crypto.h"

namespace sy::admin::detail {
namespace {

// The signing secret's size: 32 random bytes, given to the client as 64 hex characters.
constexpr std::size_t signing_secret_bytes = 32;

response secret_key_required() {
  return error_response(400, "secret_key_required",
                        "require_signature needs the signing secret stored encrypted: set "
                        "SWITCHYARD_SECRET_KEY (at least 32 characters) and restart",
                        "require_signature");
}

response key_revoked(const std::string& id) {
  return error_response(409, "key_revoked", "key " + id + " is revoked; create a new key");
}

// A fresh signing secret and its sealed form, bound to the key's id (the key table opens it with
// the same id).
struct signing_secret {
  std::string plain;
  std::string sealed;
};
std::optional<signing_secret> make_signing_secret(const crypto::sealer& sealer,
                                                  const std::string& key_id) {
  auto plain = crypto::random_hex(signing_secret_bytes);
  if (!plain) return std::nullopt;
  auto sealed = sealer.seal(*plain, key_id);
  if (sealed.empty()) return std::nullopt;
  return signing_secret{std::move(*plain), std::move(sealed)};
}

response crypto_failed() {
  return error_response(500, "internal", "the signing secret could not be made (OpenSSL failed)");
}

// Loads a key the caller may act on, or the answer refusing it.
std::variant<store::key_row, response> key_for(call& c, const std::string& id,
                                               std::string_view action) {
  auto found = c.accounts.get_key(id);
  if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
  auto& k = std::get<std::optional<store::key_row>>(found);
  if (!k) return not_found("key " + id);
  if (!c.is_admin() && !c.owns(k->user_id)) {
    return deny(c, action, id, "only your own keys are open to the role " + c.role);
  }
  return std::move(*k);
}

// What an audit row records of a key: its settings, never a secret (a signing secret is recorded
// as require_signature: true).
boost::json::object key_settings(const store::key_row& k) {
  auto out = key_json(k);
  for (auto name : {"id", "prefix", "revoked_at", "created_at", "updated_at"})
    out.erase(name);
  return out;
}

std::optional<invalid> read_owner(const boost::json::value& v, std::optional<std::string>& out) {
  if (v.is_null()) {
    out.reset();
    return std::nullopt;
  }
  if (!v.is_string() || v.get_string().empty()) {
    return invalid{"user_id", "user_id must be a user's id or null"};
  }
  out = std::string(v.get_string());
  return std::nullopt;
}

// Every requested pattern within one of the owner's.
std::optional<std::string> outside_bounds(const std::vector<std::string>& requested,
                                          const std::vector<std::string>& bounds) {
  for (const auto& pattern : requested) {
    bool within = false;
    for (const auto& bound : bounds)
      within = within || glob_covers(bound, pattern);
    if (!within) return pattern;
  }
  return std::nullopt;
}

}  // namespace

response create_key(call& c) {
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<boost::json::object>(parsed);
  if (auto why = refuse_unknown(body, {"name", "user_id", "models", "expires_at", "enabled", "rpm",
                                       "tpm", "max_concurrency", "allowed_ips", "require_signature",
                                       "metadata", "budget_usd", "budget_period"})) {
    return bad_request(*why);
  }
  store::new_key k;
  const auto* name = body.if_contains("name");
  if (!name) return bad_request({"name", "name is required"});
  if (auto why = read_name(*name, "name", k.name)) return bad_request(*why);
  // Without user_id the key belongs to the caller's user (none for the master key and the CLI).
  k.user_id = c.who.user_id;
  if (const auto* v = body.if_contains("user_id")) {
    if (auto why = read_owner(*v, k.user_id)) return bad_request(*why);
  }
  std::optional<std::vector<std::string>> models;
  if (const auto* v = body.if_contains("models")) {
    models.emplace();
    if (auto why = read_models(*v, *models)) return bad_request(*why);
  }
  if (const auto* v = body.if_contains("expires_at"); v && !v->is_null()) {
    std::int64_t t = 0;
    if (auto why = read_expiry(*v, c.now, t)) return bad_request(*why);
    k.expires_at = t;
  }
  if (const auto* v = body.if_contains("enabled")) {
    if (auto why = read_bool(*v, "enabled", k.enabled)) return bad_request(*why);
  }
  for (auto [field, out] : {std::pair{"rpm", &k.rpm}, std::pair{"tpm", &k.tpm},
                            std::pair{"max_concurrency", &k.max_concurrency}}) {
    if (const auto* v = body.if_contains(field); v && !v->is_null()) {
      std::int64_t n = 0;
      if (auto why = read_positive(*v, field, n)) return bad_request(*why);
      *out = n;
    }
  }
  if (const auto* v = body.if_contains("allowed_ips")) {
    if (auto why = read_cidrs(*v, k.allowed_ips)) return bad_request(*why);
  }
  bool require_signature = false;
  if (const auto* v = body.if_contains("require_signature")) {
    if (auto why = read_bool(*v, "require_signature", require_signature)) return bad_request(*why);
  }
  if (const auto* v = body.if_contains("metadata")) {
    if (auto why = read_metadata(*v, k.metadata)) return bad_request(*why);
  }
  if (auto why = read_budget(body, k.budget_nano_usd, k.budget_period)) return bad_request(*why);
  if (require_signature && !c.env.sealer) return secret_key_required();

  if (!c.is_admin() && (!k.user_id || !c.owns(k.user_id))) {
    return deny(c, "key.create", k.user_id.value_or(""),
                "developers create keys for their own user only", "user_id");
  }
  if (k.user_id) {
    auto found = c.accounts.get_user(*k.user_id);
    if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
    const auto& owner = std::get<std::optional<store::user_row>>(found);
    if (!owner) {
      if (!c.is_admin()) return deny(c, "key.create", *k.user_id, "your user no longer exists");
      return bad_request({"user_id", "no user has the id " + *k.user_id});
    }
    if (!models) {
      models = owner->models;
    } else if (!c.is_admin()) {
      if (auto outside = outside_bounds(*models, owner->models)) {
        return deny(c, "key.create", *k.user_id,
                    "the model pattern '" + *outside + "' is outside your user's models", "models");
      }
    }
  }
  if (models) k.models = std::move(*models);

  std::optional<std::string> signing;
  if (require_signature) {
    signing = crypto::random_hex(signing_secret_bytes);
    if (!signing) return crypto_failed();
  }
  return in_transaction(c, [&]() -> store::result<response> {
    // The key's id is made by the insert, and the sealed secret is bound to it: so the secret is
    // added by a second statement of the same transaction.
    auto created = c.accounts.create_key(k);
    if (auto* e = std::get_if<store::db_error>(&created)) return *e;
    auto& made = std::get<store::created_key>(created);
    if (signing) {
      auto sealed = c.env.sealer->seal(*signing, made.row.id);
      if (sealed.empty()) return crypto_failed();
      store::key_patch patch;
      patch.signing_secret.emplace(std::move(sealed));
      auto updated = c.accounts.update_key(made.row.id, patch);
      if (auto* e = std::get_if<store::db_error>(&updated)) return *e;
      auto& row = std::get<std::optional<store::key_row>>(updated);
      if (!row) return store::db_error{"the new key vanished"};
      made.row = std::move(*row);
    }
    if (auto e = audit(c, "key.create", made.row.id, "ok", key_settings(made.row))) return *e;
    auto answer = key_json(made.row);
    answer["key"] = made.secret;
    if (signing) answer["signing_secret"] = *signing;
    return json_response(201, answer);
  });
}

response list_keys(call& c) {
  auto parsed = parse_query(c.req.query);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& params = std::get<std::vector<query_param>>(parsed);
  page_request page;
  if (auto why = read_page(params, page, {"user_id"})) return bad_request(*why);
  std::optional<std::string> owner;
  if (const auto* v = find_param(params, "user_id"); v && !v->empty()) owner = *v;
  if (!c.is_admin()) {
    if (owner && !c.owns(owner)) {
      return deny(c, "key.list", *owner, "only your own keys are open to the role " + c.role,
                  "user_id");
    }
    if (!c.who.user_id) return list_answer({}, std::nullopt);
    owner = c.who.user_id;
  }
  auto listed = c.accounts.list_keys(owner, page.limit, page.cursor);
  if (auto* e = std::get_if<store::db_error>(&listed)) return store_failure(*e);
  auto& rows = std::get<store::page<store::key_row, std::string>>(listed);
  boost::json::array data;
  for (const auto& k : rows.items)
    data.push_back(key_json(k));
  return list_answer(std::move(data), rows.next);
}

response get_key(call& c, const std::string& id) {
  auto found = key_for(c, id, "key.read");
  if (auto* refused = std::get_if<response>(&found)) return std::move(*refused);
  return json_response(200, key_json(std::get<store::key_row>(found)));
}

response update_key(call& c, const std::string& id) {
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<boost::json::object>(parsed);
  if (body.contains("user_id")) {
    return bad_request({"user_id", "a key's user cannot change; create a key for the other user"});
  }
  if (auto why = refuse_unknown(
          body, {"name", "models", "expires_at", "enabled", "rpm", "tpm", "max_concurrency",
                 "allowed_ips", "require_signature", "metadata", "budget_usd", "budget_period"})) {
    return bad_request(*why);
  }
  if (body.empty()) return bad_request({"", "the body sets no field"});
  store::key_patch patch;
  boost::json::object changes;
  if (const auto* v = body.if_contains("name")) {
    std::string name;
    if (auto why = read_name(*v, "name", name)) return bad_request(*why);
    changes["name"] = name;
    patch.name = std::move(name);
  }
  if (const auto* v = body.if_contains("models")) {
    std::vector<std::string> models;
    if (auto why = read_models(*v, models)) return bad_request(*why);
    changes["models"] = string_array(models);
    patch.models = std::move(models);
  }
  if (const auto* v = body.if_contains("expires_at")) {
    auto& set = patch.expires_at.emplace();
    if (!v->is_null()) {
      std::int64_t t = 0;
      if (auto why = read_expiry(*v, c.now, t)) return bad_request(*why);
      set = t;
    }
    changes["expires_at"] = time_or_null(set);
  }
  if (const auto* v = body.if_contains("enabled")) {
    bool enabled = true;
    if (auto why = read_bool(*v, "enabled", enabled)) return bad_request(*why);
    changes["enabled"] = enabled;
    patch.enabled = enabled;
  }
  for (auto [field, out] : {std::pair{"rpm", &patch.rpm}, std::pair{"tpm", &patch.tpm},
                            std::pair{"max_concurrency", &patch.max_concurrency}}) {
    const auto* v = body.if_contains(field);
    if (!v) continue;
    auto& set = out->emplace();
    if (v->is_null()) {
      changes[field] = nullptr;
      continue;
    }
    std::int64_t n = 0;
    if (auto why = read_positive(*v, field, n)) return bad_request(*why);
    set = n;
    changes[field] = n;
  }
  if (const auto* v = body.if_contains("allowed_ips")) {
    std::vector<std::string> cidrs;
    if (auto why = read_cidrs(*v, cidrs)) return bad_request(*why);
    changes["allowed_ips"] = string_array(cidrs);
    patch.allowed_ips = std::move(cidrs);
  }
  std::optional<bool> require_signature;
  if (const auto* v = body.if_contains("require_signature")) {
    bool on = false;
    if (auto why = read_bool(*v, "require_signature", on)) return bad_request(*why);
    changes["require_signature"] = on;
    require_signature = on;
  }
  if (const auto* v = body.if_contains("metadata")) {
    std::string metadata;
    if (auto why = read_metadata(*v, metadata)) return bad_request(*why);
    changes["metadata"] = *v;
    patch.metadata = std::move(metadata);
  }
  if (auto why = read_budget_patch(body, patch.budget_nano_usd, patch.budget_period, changes)) {
    return bad_request(*why);
  }
  if (require_signature.value_or(false) && !c.env.sealer) return secret_key_required();

  auto found = key_for(c, id, "key.update");
  if (auto* refused = std::get_if<response>(&found)) return std::move(*refused);
  if (std::get<store::key_row>(found).revoked_at) return key_revoked(id);
  std::optional<signing_secret> signing;
  if (require_signature) {
    // true issues a new secret (also when the key had one: that is how it is changed), false
    // drops it.
    auto& set = patch.signing_secret.emplace();
    if (*require_signature) {
      signing = make_signing_secret(*c.env.sealer, id);
      if (!signing) return crypto_failed();
      set = signing->sealed;
    }
  }
  return in_transaction(c, [&]() -> store::result<response> {
    auto updated = c.accounts.update_key(id, patch);
    if (auto* e = std::get_if<store::db_error>(&updated)) return *e;
    const auto& k = std::get<std::optional<store::key_row>>(updated);
    if (!k) return not_found("key " + id);
    if (auto e = audit(c, "key.update", id, "ok", changes)) return *e;
    auto answer = key_json(*k);
    if (signing) answer["signing_secret"] = signing->plain;
    return json_response(200, answer);
  });
}

response revoke_key(call& c, const std::string& id) {
  auto found = key_for(c, id, "key.revoke");
  if (auto* refused = std::get_if<response>(&found)) return std::move(*refused);
  return in_transaction(c, [&]() -> store::result<response> {
    auto revoked = c.accounts.revoke_key(id);
    if (auto* e = std::get_if<store::db_error>(&revoked)) return *e;
    const auto& k = std::get<std::optional<store::key_row>>(revoked);
    if (!k) return not_found("key " + id);
    boost::json::object changes{{"enabled", false}, {"revoked_at", time_or_null(k->revoked_at)}};
    if (auto e = audit(c, "key.revoke", id, "ok", changes)) return *e;
    return json_response(200, key_json(*k));
  });
}

response rotate_key(call& c, const std::string& id) {
  auto parsed = parse_object(c.req.body, true);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<boost::json::object>(parsed);
  if (auto why = refuse_unknown(body, {"grace_seconds"})) return bad_request(*why);
  std::int64_t grace = default_grace_seconds;
  if (const auto* v = body.if_contains("grace_seconds")) {
    const bool integer = v->is_int64() || v->is_uint64();
    const std::int64_t n = v->is_int64() ? v->get_int64() : -1;
    if (!integer || n < 0 || n > max_grace_seconds) {
      return bad_request({"grace_seconds", "grace_seconds must be an integer from 0 to " +
                                               std::to_string(max_grace_seconds) + " (30 days)"});
    }
    grace = n;
  }
  auto found = key_for(c, id, "key.rotate");
  if (auto* refused = std::get_if<response>(&found)) return std::move(*refused);
  if (std::get<store::key_row>(found).revoked_at) return key_revoked(id);
  return in_transaction(c, [&]() -> store::result<response> {
    auto rotated = c.accounts.rotate_key(id, grace);
    if (auto* e = std::get_if<store::db_error>(&rotated)) return *e;
    const auto& secret = std::get<std::optional<std::string>>(rotated);
    if (!secret) return not_found("key " + id);
    if (auto e = audit(c, "key.rotate", id, "ok", {{"grace_seconds", grace}})) return *e;
    boost::json::object answer{{"id", id}, {"key", *secret}, {"prefix", secret->substr(0, 7)}};
    answer["previous_valid_until"] =
        grace > 0 ? boost::json::value(format_time(c.now + grace)) : boost::json::value(nullptr);
    return json_response(200, answer);
  });
}

}  // namespace sy::admin::detail
