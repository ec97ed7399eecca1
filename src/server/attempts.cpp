#include "server/attempts.h"

#include "common/json.h"
#include "server/server.h"
#include "store/accounts.h"
#include "store/service.h"

#include <spdlog/spdlog.h>

namespace sy {

void begin_attempt(request_context& ctx) {
  ctx.first_byte.reset();
  ctx.usage = {};
  ctx.generated.clear();
  ctx.generated_raw = false;
  ctx.generated_dropped = 0;
  ctx.estimated = false;
}

routing::verdict attempt_verdict(const request_context& ctx, const std::optional<error>& failure,
                                 const upstream::held_answer* held) {
  if (failure) return routing::verdict::failure;  // connect, reset, timeout, malformed
  if (held) return routing::classify(held->status, held->body);
  if (ctx.failure) return routing::verdict::failure;  // a stream the upstream broke off
  return routing::verdict::answer;
}

namespace {

void audit_key_disabled(request_context& ctx, const deployment& d, int key_index, unsigned status) {
  const auto fingerprint = key_fingerprint(d.target->key(key_index));
  spdlog::warn(
      "routing: channel {}: upstream key #{} ({}) was refused ({}): disabled until the "
      "channel's keys change or an admin enables it",
      d.target->name(), key_index, fingerprint, status);
  auto* store = ctx.w.owner().store();
  if (!store) return;
  store::audit_row row;
  row.actor = "gateway";
  row.role = "system";
  row.action = "upstream_key.disabled";
  row.target = d.target->name() + "#" + fingerprint;
  row.result = std::to_string(status);
  std::string changes = R"({"channel":)";
  json::append_quoted(changes, d.target->name());
  changes += R"(,"key_index":)" + std::to_string(key_index) + R"(,"fingerprint":)";
  json::append_quoted(changes, fingerprint);
  changes += R"(,"request_id":)";
  json::append_quoted(changes, ctx.request_id);
  changes += '}';
  row.changes = std::move(changes);
  store::post_audit(*store, std::move(row), "a disabled upstream key");
}

}  // namespace

void record_attempt(request_context& ctx, const deployment& d, int key_index, routing::verdict v,
                    const upstream::held_answer* held,
                    std::chrono::steady_clock::time_point started) {
  using routing::outcome;
  using routing::verdict;
  const auto now = std::chrono::steady_clock::now();
  auto* key = d.target->key_health(key_index);
  auto& deployment_breaker = d.health->breaker;
  switch (v) {
    case verdict::answer:
    case verdict::context_window:
    case verdict::content_policy:
      // (Not on the key: a key is judged only by 429s and 401/403, which never open a circuit
      // that a success would close.)
      deployment_breaker.record(outcome::success, now);
      if (ctx.first_byte) {
        using std::chrono::duration_cast;
        using std::chrono::microseconds;
        const auto output = std::max<std::int64_t>(ctx.usage.completion_tokens, 0);
        d.health->observe(duration_cast<microseconds>(*ctx.first_byte - started),
                          duration_cast<microseconds>(now - started), output);
      }
      return;
    case verdict::failure:
    case verdict::broken:
      // The deployment's (model, region) failure, not the key's: a key is only judged by what
      // concerns it (429, 401/403), so one failing model does not shut the key off for the
      // channel's other models.
      deployment_breaker.record(outcome::failure, now);
      return;
    case verdict::rate_limited:
      // Busy, not broken: the key rests (a keyless channel: the deployment).
      (key ? key->breaker : deployment_breaker)
          .record(outcome::rate_limited, now, held ? held->retry_after : std::nullopt);
      return;
    case verdict::rejected: {
      if (!key) {
        deployment_breaker.record(outcome::failure, now);
        return;
      }
      const bool was_disabled = key->breaker.state(now).disabled;
      key->breaker.record(outcome::rejected, now);
      if (!was_disabled) audit_key_disabled(ctx, d, key_index, held ? held->status : 0);
      return;
    }
  }
}

}  // namespace sy
