// /admin/users: create, list, read and update users. Only admins change users; the other roles
// see their own user only.
#include "admin/admin_internal.h"

namespace sy::admin::detail {
namespace {

std::optional<invalid> read_role(const boost::json::value& v, std::string& out) {
  if (!v.is_string() ||
      (v.get_string() != "admin" && v.get_string() != "developer" && v.get_string() != "viewer")) {
    return invalid{"role", "role must be one of admin, developer, viewer"};
  }
  out = v.get_string();
  return std::nullopt;
}

// An address, loosely: enough to catch a name typed into the wrong field.
std::optional<invalid> read_email(const boost::json::value& v, std::string& out) {
  if (!v.is_string() || v.get_string().empty() || v.get_string().size() > max_email_bytes ||
      v.get_string().find('@') == boost::json::string::npos) {
    return invalid{"email", "email must be an address (name@example.com) or null"};
  }
  out = v.get_string();
  return std::nullopt;
}

boost::json::value nullable_json(const std::optional<std::string>& s) {
  if (!s) return nullptr;
  return boost::json::string(*s);
}

}  // namespace

response create_user(call& c) {
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<boost::json::object>(parsed);
  if (auto why = refuse_unknown(
          body, {"name", "email", "role", "models", "enabled", "budget_usd", "budget_period"})) {
    return bad_request(*why);
  }
  store::new_user u;
  const auto* name = body.if_contains("name");
  if (!name) return bad_request({"name", "name is required"});
  if (auto why = read_name(*name, "name", u.name)) return bad_request(*why);
  const auto* role = body.if_contains("role");
  if (!role) return bad_request({"role", "role is required (admin, developer or viewer)"});
  if (auto why = read_role(*role, u.role)) return bad_request(*why);
  if (const auto* email = body.if_contains("email"); email && !email->is_null()) {
    std::string text;
    if (auto why = read_email(*email, text)) return bad_request(*why);
    u.email = std::move(text);
  }
  if (const auto* models = body.if_contains("models")) {
    if (auto why = read_models(*models, u.models)) return bad_request(*why);
  }
  if (const auto* enabled = body.if_contains("enabled")) {
    if (auto why = read_bool(*enabled, "enabled", u.enabled)) return bad_request(*why);
  }
  if (auto why = read_budget(body, u.budget_nano_usd, u.budget_period)) return bad_request(*why);
  return in_transaction(c, [&]() -> store::result<response> {
    auto created = c.accounts.create_user(u);
    if (auto* e = std::get_if<store::db_error>(&created)) return *e;
    const auto& row = std::get<store::user_row>(created);
    boost::json::object changes{{"name", row.name},
                                {"email", nullable_json(row.email)},
                                {"role", row.role},
                                {"models", string_array(row.models)},
                                {"enabled", row.enabled},
                                {"budget_usd", usd_or_null(row.budget_nano_usd)},
                                {"budget_period", row.budget_period}};
    if (auto e = audit(c, "user.create", row.id, "ok", changes)) return *e;
    return json_response(201, user_json(row));
  });
}

response list_users(call& c) {
  auto parsed = parse_query(c.req.query);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  page_request page;
  if (auto why = read_page(std::get<std::vector<query_param>>(parsed), page)) {
    return bad_request(*why);
  }
  boost::json::array data;
  if (!c.is_admin()) {
    // The others' list holds their own user only (the web console finds "me" this way).
    if (c.who.user_id && (!page.cursor || *c.who.user_id > *page.cursor)) {
      auto found = c.accounts.get_user(*c.who.user_id);
      if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
      if (const auto& u = std::get<std::optional<store::user_row>>(found)) {
        data.push_back(user_json(*u));
      }
    }
    return list_answer(std::move(data), std::nullopt);
  }
  auto listed = c.accounts.list_users(page.limit, page.cursor);
  if (auto* e = std::get_if<store::db_error>(&listed)) return store_failure(*e);
  auto& rows = std::get<store::page<store::user_row, std::string>>(listed);
  for (const auto& u : rows.items)
    data.push_back(user_json(u));
  return list_answer(std::move(data), rows.next);
}

response get_user(call& c, const std::string& id) {
  // Looked up first: an unknown id is 404 for every role, as for keys.
  auto found = c.accounts.get_user(id);
  if (auto* e = std::get_if<store::db_error>(&found)) return store_failure(*e);
  const auto& u = std::get<std::optional<store::user_row>>(found);
  if (!u) return not_found("user " + id);
  if (!c.is_admin() && !c.owns(id)) {
    return deny(c, "user.read", id, "only your own user can be read with the role " + c.role);
  }
  return json_response(200, user_json(*u));
}

response update_user(call& c, const std::string& id) {
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& body = std::get<boost::json::object>(parsed);
  if (auto why = refuse_unknown(
          body, {"name", "email", "role", "models", "enabled", "budget_usd", "budget_period"})) {
    return bad_request(*why);
  }
  if (body.empty()) return bad_request({"", "the body sets no field"});
  store::user_patch patch;
  boost::json::object changes;
  if (const auto* v = body.if_contains("name")) {
    std::string name;
    if (auto why = read_name(*v, "name", name)) return bad_request(*why);
    changes["name"] = name;
    patch.name = std::move(name);
  }
  if (const auto* v = body.if_contains("email")) {
    std::optional<std::string> email;
    if (!v->is_null()) {
      std::string text;
      if (auto why = read_email(*v, text)) return bad_request(*why);
      email = std::move(text);
    }
    changes["email"] = nullable_json(email);
    patch.email = std::move(email);
  }
  if (const auto* v = body.if_contains("role")) {
    std::string role;
    if (auto why = read_role(*v, role)) return bad_request(*why);
    changes["role"] = role;
    patch.role = std::move(role);
  }
  if (const auto* v = body.if_contains("models")) {
    std::vector<std::string> models;
    if (auto why = read_models(*v, models)) return bad_request(*why);
    changes["models"] = string_array(models);
    patch.models = std::move(models);
  }
  if (const auto* v = body.if_contains("enabled")) {
    bool enabled = true;
    if (auto why = read_bool(*v, "enabled", enabled)) return bad_request(*why);
    changes["enabled"] = enabled;
    patch.enabled = enabled;
  }
  if (auto why = read_budget_patch(body, patch.budget_nano_usd, patch.budget_period, changes)) {
    return bad_request(*why);
  }
  return in_transaction(c, [&]() -> store::result<response> {
    auto updated = c.accounts.update_user(id, patch);
    if (auto* e = std::get_if<store::db_error>(&updated)) return *e;
    const auto& u = std::get<std::optional<store::user_row>>(updated);
    if (!u) return not_found("user " + id);
    if (auto e = audit(c, "user.update", id, "ok", changes)) return *e;
    return json_response(200, user_json(*u));
  });
}

}  // namespace sy::admin::detail
