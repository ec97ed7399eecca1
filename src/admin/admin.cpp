// The admin API's dispatcher: method + path to an operation, the role check every operation
// shares, and the answers and audit rows the operations build on.
#include "admin/admin.h"

#include "admin/admin_internal.h"
#include "common/json_text.h"

#include <spdlog/spdlog.h>

#include <ctime>

namespace sy::admin {
namespace detail {

response json_response(unsigned status, const boost::json::value& body) {
  return response{status, json::to_text(body)};
}

std::optional<response> refuse_parameters(const call& c, std::string_view what) {
  auto parsed = parse_query(c.req.query);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  const auto& params = std::get<std::vector<query_param>>(parsed);
  if (!params.empty()) {
    return bad_request({params.front().name, std::string(what) + " takes no parameters"});
  }
  return std::nullopt;
}

response bad_request(const invalid& why) {
  if (why.field.empty()) return error_response(400, "invalid_request", why.message);
  return error_response(400, "invalid_request", why.message, why.field);
}

response not_found(std::string_view what) {
  return error_response(404, "not_found", std::string(what) + " not found");
}

std::optional<store::db_error> audit(call& c, std::string_view action, std::string_view target,
                                     std::string_view result, const boost::json::object& changes) {
  store::audit_row row;
  row.at = c.now;
  row.actor = c.who.actor;
  row.role = c.role.empty() ? c.who.role : c.role;
  row.action = std::string(action);
  row.target = std::string(target);
  row.client_ip = c.who.client_ip;
  row.result = std::string(result);
  row.changes = json::to_text(changes);
  auto appended = c.accounts.append_audit(std::move(row));
  if (auto* e = std::get_if<store::db_error>(&appended)) return *e;
  return std::nullopt;
}

response deny(call& c, std::string_view action, std::string_view target, std::string_view message,
              std::optional<std::string_view> field) {
  // The caller is refused whether or not the row can be written (the store may be down).
  if (auto e = audit(c, action, target, "denied", {})) {
    spdlog::warn("admin: the audit row of a refused {} could not be written: {}", action,
                 e->message);
  }
  return error_response(403, "forbidden", message, field);
}

response store_failure(const store::db_error& e) {
  if (e.constraint) return error_response(400, "invalid_request", e.message);
  return error_response(500, "store_error", "the store failed: " + e.message);
}

response list_answer(boost::json::array data, const std::optional<std::string>& next_cursor) {
  boost::json::object out;
  out["data"] = std::move(data);
  if (next_cursor) {
    out["next_cursor"] = *next_cursor;
  } else {
    out["next_cursor"] = nullptr;
  }
  return json_response(200, out);
}

namespace {

// Which roles may call an operation at all; ownership is checked by the operation itself.
enum role_bit : unsigned { admins = 1, developers = 2, viewers = 4 };
constexpr unsigned everyone = admins | developers | viewers;

unsigned bit_of(std::string_view role) {
  if (role == "admin") return admins;
  if (role == "developer") return developers;
  if (role == "viewer") return viewers;
  return 0;
}

struct route {
  std::string_view method;
  std::string_view action;  // the audit action of a refusal
  unsigned roles;
  response (*run)(call&, const std::string& id);
};

struct resource {
  std::vector<route> routes;
  std::string allowed;  // for the 405 message
};

response run_create_user(call& c, const std::string&) {
  return create_user(c);
}
response run_list_users(call& c, const std::string&) {
  return list_users(c);
}
response run_create_key(call& c, const std::string&) {
  return create_key(c);
}
response run_list_keys(call& c, const std::string&) {
  return list_keys(c);
}
response run_create_channel(call& c, const std::string&) {
  return create_channel(c);
}
response run_list_channels(call& c, const std::string&) {
  return list_channels(c);
}
response run_list_audit(call& c, const std::string&) {
  return list_audit(c);
}
response run_list_budgets(call& c, const std::string&) {
  return list_budgets(c);
}
response run_read_health(call& c, const std::string&) {
  return read_health(c);
}
response run_reset_health(call& c, const std::string&) {
  return reset_health(c);
}
response run_usage_report(call& c, const std::string&) {
  return usage_report(c);
}
response run_usage_export(call& c, const std::string&) {
  return usage_export(c);
}

// The path's segments after "/admin/"; empty when the path is not under /admin/ or has an empty
// segment ("//", a trailing '/').
std::vector<std::string> segments_of(std::string_view path) {
  constexpr std::string_view root = "/admin/";
  std::vector<std::string> out;
  if (!path.starts_with(root)) return out;
  path.remove_prefix(root.size());
  while (true) {
    auto slash = path.find('/');
    auto piece = path.substr(0, slash);
    if (piece.empty()) return {};
    out.emplace_back(piece);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// The routes of a path, and the id it names ("" for collections).
std::optional<resource> resolve(const std::vector<std::string>& s, std::string& id) {
  const auto n = s.size();
  if (n == 1 && s[0] == "users") {
    return resource{{{"POST", "user.create", admins, run_create_user},
                     {"GET", "user.list", everyone, run_list_users}},
                    "GET, POST"};
  }
  if (n == 2 && s[0] == "users") {
    id = s[1];
    return resource{
        {{"GET", "user.read", everyone, get_user}, {"PATCH", "user.update", admins, update_user}},
        "GET, PATCH"};
  }
  if (n == 1 && s[0] == "keys") {
    return resource{{{"POST", "key.create", admins | developers, run_create_key},
                     {"GET", "key.list", everyone, run_list_keys}},
                    "GET, POST"};
  }
  if (n == 2 && s[0] == "keys") {
    id = s[1];
    return resource{{{"GET", "key.read", everyone, get_key},
                     {"PATCH", "key.update", admins, update_key},
                     {"DELETE", "key.revoke", admins | developers, revoke_key}},
                    "GET, PATCH, DELETE"};
  }
  if (n == 3 && s[0] == "keys" && s[2] == "rotate") {
    id = s[1];
    return resource{{{"POST", "key.rotate", admins | developers, rotate_key}}, "POST"};
  }
  // Channel settings are infrastructure: administrators only, reads included.
  if (n == 1 && s[0] == "channels") {
    return resource{{{"POST", "channel.create", admins, run_create_channel},
                     {"GET", "channel.list", admins, run_list_channels}},
                    "GET, POST"};
  }
  if (n == 2 && s[0] == "channels") {
    id = s[1];
    return resource{{{"GET", "channel.read", admins, get_channel},
                     {"PATCH", "channel.update", admins, update_channel},
                     {"DELETE", "channel.delete", admins, delete_channel}},
                    "GET, PATCH, DELETE"};
  }
  // Usage: every role; the operations narrow the others to their own user's.
  if (n == 1 && s[0] == "usage") {
    return resource{{{"GET", "usage.read", everyone, run_usage_report}}, "GET"};
  }
  if (n == 2 && s[0] == "usage" && s[1] == "export.csv") {
    return resource{{{"GET", "usage.export", everyone, run_usage_export}}, "GET"};
  }
  if (n == 1 && s[0] == "budgets") {
    return resource{{{"GET", "budget.list", everyone, run_list_budgets}}, "GET"};
  }
  // Health is infrastructure too: administrators only.
  if (n == 1 && s[0] == "health") {
    return resource{{{"GET", "health.read", admins, run_read_health}}, "GET"};
  }
  if (n == 2 && s[0] == "health" && s[1] == "reset") {
    return resource{{{"POST", "health.reset", admins, run_reset_health}}, "POST"};
  }
  if (n == 1 && s[0] == "audit") {
    return resource{{{"GET", "audit.list", admins, run_list_audit}}, "GET"};
  }
  return std::nullopt;
}

std::string effective_role(const caller& who) {
  // The master key and the command line act as administrators whatever role they were given.
  if (who.actor == "master" || who.actor == "cli") return "admin";
  return who.role;
}

std::int64_t now_of(const environment& env) {
  return env.clock ? env.clock() : static_cast<std::int64_t>(std::time(nullptr));
}

}  // namespace
}  // namespace detail

response error_response(unsigned status, std::string_view code, std::string_view message,
                        std::optional<std::string_view> field) {
  boost::json::object error;
  error["code"] = code;
  error["message"] = message;
  if (field) error["field"] = *field;
  boost::json::object body;
  body["error"] = std::move(error);
  return response{status, boost::json::serialize(body)};
}

response handle(const request& r, const caller& who, environment& env) {
  using namespace detail;
  call c{r, who, env, store::accounts(env.db, env.clock), effective_role(who), now_of(env)};
  auto segments = segments_of(r.path);
  std::string id;
  auto found = resolve(segments, id);
  if (!found) return error_response(404, "not_found", "no admin operation at " + r.path);
  for (const auto& route : found->routes) {
    if (route.method != r.method) continue;
    if (!(route.roles & bit_of(c.role))) {
      return deny(c, route.action, id,
                  "the role '" + c.role + "' may not call " + r.method + " " + r.path);
    }
    return route.run(c, id);
  }
  auto refused =
      error_response(405, "method_not_allowed",
                     r.method + " is not allowed here (allowed: " + found->allowed + ")");
  refused.allow = found->allowed;
  return refused;
}

}  // namespace sy::admin
