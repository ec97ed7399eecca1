#include "server/admission.h"

#include "auth/auth_guard.h"
#include "auth/replay_cache.h"
#include "billing/budget_loader.h"
#include "billing/usage_query.h"
#include "common/crypto.h"
#include "common/json.h"
#include "server/endpoints.h"
#include "server/server.h"
#include "server/usage_cost.h"
#include "store/accounts.h"
#include "store/service.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <ctime>

namespace sy {
namespace http = beast::http;

namespace {

std::int64_t unix_now() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

// The presented key: Authorization: Bearer, x-api-key, and for Gemini clients x-goog-api-key or
// ?key=.
std::string_view presented_key(request_context& ctx, std::string& storage) {
  auto key = extract_key(ctx.req[http::field::authorization], ctx.req["x-api-key"]);
  if (key.empty() && ctx.client_protocol == ir::protocol::gemini) {
    key = ctx.req["x-goog-api-key"];
    if (key.empty()) {
      storage = query_param(ctx.req.target(), "key");
      key = storage;
    }
  }
  return key;
}

// The first characters of a presented secret, for the audit log: enough to tell keys apart,
// far too few to use. Only the part a managed key shows anyway (its 7-character prefix).
std::string visible_prefix(std::string_view key) {
  std::string out(key.substr(0, 7));
  for (auto& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7e) c = '?';
  }
  return out;
}

void audit_refusal(request_context& ctx, const key_record* record, std::string_view presented,
                   std::string_view reason) {
  auto& owner = ctx.w.owner();
  auto* store = owner.store();
  if (!store) return;
  if (!owner.audit_budget().admit(0, std::chrono::steady_clock::now()).admitted) {
    owner.metrics().count_audit_dropped();
    return;
  }
  store::audit_row row;
  row.actor = record && record->user_id ? *record->user_id : record ? record->name : "anonymous";
  row.role = record ? record->role : "";
  row.action = "auth.failed";
  row.target = record && record->managed ? record->id : visible_prefix(presented);
  row.client_ip = ctx.client_ip.to_string();
  row.result = std::string(reason);
  std::string changes = R"({"path":)";
  auto target = ctx.req.target();
  json::append_quoted(changes, target.substr(0, target.find('?')));
  changes += '}';
  row.changes = std::move(changes);
  store::post_audit(*store, std::move(row), "a failed authentication");
}

refusal refuse(request_context& ctx, errc code, std::string message, metrics::refusal reason) {
  ctx.w.owner().metrics().count(reason);
  return refusal{error{code, std::move(message), {}}, reason};
}

// A failed authentication: counted, audited, charged to the client address (which may delay the
// answer or block the address from now on).
refusal failed(request_context& ctx, const key_record* record, std::string_view presented,
               errc code, std::string message, metrics::refusal reason, bool guessing) {
  auto r = refuse(ctx, code, std::move(message), reason);
  audit_refusal(ctx, record, presented, metrics::to_string(reason));
  if (guessing) {
    auto charged = ctx.w.owner().guard().failure(ctx.client_ip, std::chrono::steady_clock::now());
    r.delay = charged.delay;
  }
  return r;
}

bool all_digits(std::string_view s, std::size_t most) {
  if (s.empty() || s.size() > most) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// Unix seconds, optionally with a fraction of up to 6 digits ("1764160000.125"): a client that
// sends the same request twice within a second makes two different signatures that way.
std::optional<std::int64_t> parse_timestamp(std::string_view text) {
  auto dot = text.find('.');
  auto whole = text.substr(0, dot);
  if (!all_digits(whole, 12)) return std::nullopt;
  if (dot != std::string_view::npos && !all_digits(text.substr(dot + 1), 6)) return std::nullopt;
  std::int64_t ts = 0;
  std::from_chars(whole.data(), whole.data() + whole.size(), ts);
  return ts;
}

// x-sy-timestamp (unix seconds, within 5 minutes of now) and x-sy-signature =
// hex(HMAC-SHA256(secret, timestamp "\n" method "\n" target "\n" body)), each used once.
std::optional<std::string> check_signature(request_context& ctx, const key_record& key) {
  auto timestamp = ctx.req["x-sy-timestamp"];
  auto signature = ctx.req["x-sy-signature"];
  if (timestamp.empty() || signature.empty()) {
    return "This key requires signed requests: send x-sy-timestamp and x-sy-signature.";
  }
  auto parsed = parse_timestamp(timestamp);
  if (!parsed) return "x-sy-timestamp must be unix seconds (a fraction of up to 6 digits allowed).";
  const std::int64_t ts = *parsed;
  const auto now = unix_now();
  if (ts < now - 300 || ts > now + 300) {
    return "x-sy-timestamp is more than 5 minutes away from the gateway's clock.";
  }
  if (key.signing_secret.empty()) {
    return "This key's signing secret cannot be read by the gateway (SWITCHYARD_SECRET_KEY).";
  }
  std::string message;
  auto method = ctx.req.method_string();
  auto target = ctx.req.target();
  const auto& body = ctx.req.body();
  message.reserve(timestamp.size() + method.size() + target.size() + body.size() + 3);
  message.append(timestamp);
  message += '\n';
  message.append(method);
  message += '\n';
  message.append(target);
  message += '\n';
  message += body;
  auto expected = crypto::hmac_sha256_hex(key.signing_secret, message);
  std::string given(signature);
  for (auto& c : given)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (!crypto::constant_time_equal(expected, given)) return "The request signature is wrong.";
  if (!ctx.w.owner().replays().first_use(key.id, given, ts, now)) {
    return "This signature was already used: sign every request anew.";
  }
  return std::nullopt;
}

}  // namespace

std::optional<refusal> authenticate(request_context& ctx) {
  auto& owner = ctx.w.owner();
  std::string storage;
  auto key = presented_key(ctx, storage);
  if (key.empty()) {
    return refuse(ctx, errc::invalid_api_key,
                  "You didn't provide an API key. You need to provide your API key in an "
                  "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                  "YOUR_KEY), or in an x-api-key header.",
                  metrics::refusal::missing_key);
  }
  // A blocked address is refused before its key is even looked at, valid or not (no lock taken
  // while nobody is blocked).
  auto verdict = owner.guard().check(ctx.client_ip, std::chrono::steady_clock::now());
  if (verdict.blocked) {
    ctx.out.always("retry-after", std::to_string(verdict.retry_after.count()));
    return refuse(ctx, errc::auth_blocked,
                  fmt::format("Too many failed authentications from this address; try again in "
                              "{} seconds.",
                              verdict.retry_after.count()),
                  metrics::refusal::blocked_ip);
  }
  const key_record* record = nullptr;
  std::int64_t until = key_table::forever;
  auto* cache = ctx.auth;
  bool cached = false;
  if (cache && cache->rt.get() == &ctx.rt && cache->record && cache->key == key) {
    record = cache->record;
    until = cache->until;
    cached = true;
  } else if (auto* entry = ctx.rt.keys->find_entry(key)) {
    record = entry->record.get();
    until = entry->until;
  }
  if (!record) {
    return failed(ctx, nullptr, key, errc::invalid_api_key, "Incorrect API key provided.",
                  metrics::refusal::invalid_key, true);
  }
  if (record->managed) {
    const auto now = unix_now();
    if (now >= until) {
      // A rotated-out secret after its grace period: as good as unknown.
      return failed(ctx, record, key, errc::invalid_api_key,
                    "Incorrect API key provided: this secret was rotated out.",
                    metrics::refusal::invalid_key, true);
    }
    if (record->revoked_at) {
      return failed(ctx, record, key, errc::key_revoked, "This API key has been revoked.",
                    metrics::refusal::revoked, false);
    }
    if (!record->enabled) {
      return failed(ctx, record, key, errc::key_disabled, "This API key is disabled.",
                    metrics::refusal::disabled, false);
    }
    if (!record->owner_enabled) {
      return failed(ctx, record, key, errc::key_disabled,
                    "The user this API key belongs to is disabled.", metrics::refusal::disabled,
                    false);
    }
    if (record->expires_at && now >= *record->expires_at) {
      return failed(ctx, record, key, errc::key_expired, "This API key has expired.",
                    metrics::refusal::expired, false);
    }
    if (record->allowed_ips_broken ||
        (!record->allowed_ips.empty() && !record->allowed_ips.allows(ctx.client_ip))) {
      return failed(ctx, record, key, errc::ip_not_allowed,
                    "This API key may not be used from " + ctx.client_ip.to_string() + ".",
                    metrics::refusal::ip_not_allowed, false);
    }
    if (record->require_signature) {
      if (auto wrong = check_signature(ctx, *record)) {
        return failed(ctx, record, key, errc::invalid_signature, std::move(*wrong),
                      metrics::refusal::bad_signature, true);
      }
    }
  }
  // Cached only once every check passed: a key that fails one is looked up (and charged) again.
  if (cache && !cached && cache->rt.get() == &ctx.rt) {
    cache->key.assign(key);
    cache->record = record;
    cache->until = until;
  }
  ctx.key = record;
  return std::nullopt;
}

std::int64_t estimate_request_tokens(std::string_view body) {
  // About four bytes of JSON per token: the prompt's share. Output is charged when it is known.
  return static_cast<std::int64_t>((body.size() + 3) / 4);
}

std::optional<refusal> reserve_budget(request_context& ctx, std::int64_t max_output,
                                      std::int64_t choices) {
  const key_record* key = ctx.key;
  if (!key || (!key->budget && !key->user_budget)) return std::nullopt;
  const auto& p = price_of(ctx);
  if (!p) {
    return refuse(ctx, errc::model_not_priced,
                  fmt::format("The model '{}' has no price, and this key's spending is limited by "
                              "a budget: it cannot be used until an administrator prices it.",
                              ctx.model),
                  metrics::refusal::unpriced);
  }
  if (max_output < 0) max_output = ctx.rt.cfg.budgets.default_max_output_tokens;
  std::int64_t output = 0;
  if (__builtin_mul_overflow(max_output, std::max<std::int64_t>(choices, 1), &output)) {
    output = std::numeric_limits<std::int64_t>::max();
  }
  const auto amount = worst_case_nano_usd(*p, estimate_request_tokens(ctx.req.body()), output);
  const auto now = billing::unix_now_ms();
  const billing::budget_account* refused_by = nullptr;
  billing::budget_events events;
  auto hold = billing::budget_hold::reserve(key->budget, key->user_budget, amount, now, &refused_by,
                                            &events);
  if (hold) {
    ctx.budget = std::move(*hold);
    return std::nullopt;
  }
  const auto state = refused_by->state(now);
  if (events.first_refusal) ctx.w.owner().budget_event(state, "budget.exhausted");
  // Retrying cannot help before the budget is raised or its period ends: the SDKs are told.
  ctx.out.always("x-should-retry", "false");
  const bool user = state.scope == "user";
  std::string period = state.limit.period == billing::budget_period::total
                           ? std::string()
                           : " per " + std::string(billing::to_string(state.limit.period));
  return refuse(
      ctx, errc::insufficient_quota,
      fmt::format(
          "You exceeded your current quota: {} budget is USD {}{}, of which USD {} is "
          "spent and USD {} is held by requests in flight; this request may cost up to "
          "USD {}. Lower max_tokens, or ask an administrator to raise the budget.",
          user ? "your user's" : "this key's", billing::format_nano_usd(state.limit.limit_nano_usd),
          period, billing::format_nano_usd(state.spent_nano_usd),
          billing::format_nano_usd(state.reserved_nano_usd), billing::format_nano_usd(amount)),
      metrics::refusal::budget);
}

std::optional<refusal> admit(request_context& ctx) {
  if (!ctx.key || !ctx.key->limiter) return std::nullopt;
  auto decision = ctx.key->limiter->admit(estimate_request_tokens(ctx.req.body()),
                                          std::chrono::steady_clock::now());
  decision.snapshot.for_each_header(
      [&](std::string_view name, std::string_view value) { ctx.out.always(name, value); });
  if (decision.admitted) {
    ctx.ticket = std::move(decision.ticket);
    return std::nullopt;
  }
  auto retry = std::to_string(decision.retry_after.count());
  ctx.out.always("retry-after", retry);
  switch (decision.refused_by) {
    case limit_kind::tokens:
      return refuse(ctx, errc::token_rate_limited,
                    fmt::format("Rate limit reached for this key on tokens per minute (TPM): "
                                "limit {}. Please try again in {}s.",
                                ctx.key->limiter->limits().tpm.value_or(0), retry),
                    metrics::refusal::rate_tokens);
    case limit_kind::concurrency:
      return refuse(ctx, errc::rate_limited,
                    fmt::format("Too many concurrent requests for this key: limit {}. Please try "
                                "again in {}s.",
                                ctx.key->limiter->limits().max_concurrency.value_or(0), retry),
                    metrics::refusal::concurrency);
    case limit_kind::requests:
    default:
      return refuse(ctx, errc::rate_limited,
                    fmt::format("Rate limit reached for this key on requests per minute (RPM): "
                                "limit {}. Please try again in {}s.",
                                ctx.key->limiter->limits().rpm.value_or(0), retry),
                    metrics::refusal::rate_requests);
  }
}

}  // namespace sy
