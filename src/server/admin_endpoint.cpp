#include "server/admin_endpoint.h"

#include "admin/admin.h"
#include "server/admission.h"
#include "server/health_report.h"
#include "server/server.h"
#include "store/accounts.h"
#include "store/service.h"

#include <ctime>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace sy {
namespace http = beast::http;

namespace {

asio::awaitable<void> answer(request_context& ctx, const admin::response& r) {
  http::fields f;
  f.set(http::field::content_type, r.content_type);
  if (!r.content_disposition.empty())
    f.set(http::field::content_disposition, r.content_disposition);
  f.set("x-request-id", ctx.request_id);
  auto ec = co_await ctx.out.start(r.status, f, r.body.size(), ctx.keep_alive, r.body, true);
  if (ec) ctx.client_gone = true;
}

// Refreshes `who.role` from the store; an answer when the caller's key or user no longer holds.
std::optional<admin::response> current_role(store::connection& db, admin::caller& who) {
  store::accounts acc(db);
  auto key = acc.get_key(*who.key_id);
  auto user = acc.get_user(*who.user_id);
  auto* k = std::get_if<std::optional<store::key_row>>(&key);
  auto* u = std::get_if<std::optional<store::user_row>>(&user);
  if (!k || !u) {
    return admin::error_response(500, "store_error", "The database cannot be read now.");
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (!*k || !*u || (*k)->revoked_at || !(*k)->enabled || !(*u)->enabled ||
      ((*k)->expires_at && now >= *(*k)->expires_at)) {
    return admin::error_response(401, "unauthorized", "This key is no longer valid.");
  }
  who.role = (*u)->role;
  return std::nullopt;
}

}  // namespace

asio::awaitable<void> serve_admin(request_context& ctx) {
  auto& owner = ctx.w.owner();
  auto* store = owner.store();
  if (!store) {
    ctx.failure = errc::unavailable;
    // Named: no class temporary in a co_await expression (GCC 12).
    const auto unavailable = admin::error_response(
        503, "no_database",
        "The admin API needs a database; this gateway runs with `database: none`.");
    co_await answer(ctx, unavailable);
    co_return;
  }
  if (auto refused = authenticate(ctx)) {
    ctx.failure = refused->e.code;
    if (refused->delay.count() > 0) {
      asio::steady_timer pause(ctx.w.io(), refused->delay);
      co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    const auto& i = info(refused->e.code);
    const std::string code =
        refused->e.code == errc::invalid_api_key ? "unauthorized" : std::string(i.code);
    const auto denied =
        admin::error_response(static_cast<unsigned>(i.http_status), code, refused->e.message);
    co_await answer(ctx, denied);
    co_return;
  }
  admin::caller who;
  who.client_ip = ctx.client_ip.to_string();
  if (ctx.key->admin) {
    who.actor = "master";
    who.role = "admin";
  } else if (ctx.key->managed && ctx.key->user_id) {
    who.actor = *ctx.key->user_id;
    who.role = ctx.key->role;
    who.user_id = ctx.key->user_id;
    who.key_id = ctx.key->id;
  }
  // A config-file key or an unowned managed key has no role: admin::handle refuses it (403,
  // audited) like any other call it may not make.
  admin::request r;
  r.method = std::string(ctx.req.method_string());
  auto target = ctx.req.target();
  auto q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  r.body = std::move(ctx.req.body());
  const bool changes = r.method != "GET" && r.method != "HEAD";
  const auto* sealer = owner.sealer();
  const config* cfg = &ctx.rt.cfg;
  // Named: no class temporary in the co_await expression (GCC 12).
  auto task = [&owner, r = std::move(r), who = std::move(who), sealer, cfg,
               changes](store::connection& db) mutable {
    // The key table may lag the store by up to a poll: the caller's key and user are read again
    // here, so a key revoked or a user disabled or demoted elsewhere has no power left.
    if (who.key_id) {
      if (auto stale = current_role(db, who)) return *stale;
    }
    admin::environment env{db, sealer, cfg, {}};
    env.budgets = &owner.budgets();
    env.health = [&owner] { return health_json(*owner.current()); };
    env.reset_health = [&owner](const std::string& target) {
      return sy::reset_health(*owner.current(), target);
    };
    auto out = admin::handle(r, who, env);
    // Loaded here, on the store thread, before the answer: the caller's next request (to this
    // instance) sees the change.
    if (changes && out.status < 300) owner.reload_from_store(db);
    return out;
  };
  auto result = co_await store->run(std::move(task), asio::use_awaitable);
  if (!result.allow.empty()) ctx.out.always("allow", result.allow);
  co_await answer(ctx, result);
}

}  // namespace sy
