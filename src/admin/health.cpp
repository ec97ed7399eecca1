// /admin/health: the serving gateway's view of its deployments and upstream keys (built by the
// server: server/health_report.h), and POST /admin/health/reset to close a circuit or re-enable
// a key that a 401/403 disabled. Administrators only.
#include "admin/admin_internal.h"

namespace sy::admin::detail {

response read_health(call& c) {
  if (auto refused = refuse_parameters(c, "GET /admin/health")) return *refused;
  if (!c.env.health) {
    return error_response(404, "not_found",
                          "health is known to a running gateway: ask it (GET /admin/health)");
  }
  response r;
  r.body = c.env.health();
  return r;
}

response reset_health(call& c) {
  auto parsed = parse_object(c.req.body, false);
  if (auto* why = std::get_if<invalid>(&parsed)) return bad_request(*why);
  auto& body = std::get<boost::json::object>(parsed);
  if (auto unknown = refuse_unknown(body, {"target"})) return bad_request(*unknown);
  const auto* target = body.if_contains("target");
  if (!target || !target->is_string() || target->get_string().empty()) {
    return bad_request({"target", "expected the id of a deployment or key of GET /admin/health"});
  }
  const std::string id(target->get_string());
  if (!c.env.reset_health) {
    return error_response(404, "not_found", "health is known to a running gateway");
  }
  if (!c.env.reset_health(id)) return not_found("health target " + id);
  if (auto e = audit(c, "health.reset", id, "ok", {})) return store_failure(*e);
  return json_response(200, boost::json::object{{"target", id}, {"reset", true}});
}

}  // namespace sy::admin::detail
