#include "common/error.h"

namespace sy {

const error_info& info(errc code) {
  using s = error_source;
  static const error_info table[] = {
      /* invalid_request       */ {400, "invalid_request_error", "", s::client},
      /* invalid_api_key       */ {401, "invalid_request_error", "invalid_api_key", s::client},
      /* key_expired           */ {401, "invalid_request_error", "key_expired", s::client},
      /* key_revoked           */ {401, "invalid_request_error", "key_revoked", s::client},
      /* key_disabled          */ {401, "invalid_request_error", "key_disabled", s::client},
      /* invalid_signature     */ {401, "invalid_request_error", "invalid_signature", s::client},
      /* ip_not_allowed        */ {403, "permission_error", "ip_not_allowed", s::client},
      /* model_not_allowed     */ {403, "permission_error", "model_not_allowed", s::client},
      /* rate_limited          */ {429, "requests", "rate_limit_exceeded", s::client},
      /* token_rate_limited    */ {429, "tokens", "rate_limit_exceeded", s::client},
      /* auth_blocked          */ {429, "requests", "too_many_failed_authentications", s::client},
      /* insufficient_quota    */ {429, "insufficient_quota", "insufficient_quota", s::client},
      /* model_not_priced      */ {403, "permission_error", "model_not_priced", s::client},
      /* model_not_found       */ {404, "invalid_request_error", "model_not_found", s::client},
      /* not_found             */ {404, "invalid_request_error", "unknown_url", s::client},
      /* method_not_allowed    */ {405, "invalid_request_error", "method_not_allowed", s::client},
      /* payload_too_large     */ {413, "invalid_request_error", "request_too_large", s::client},
      /* headers_too_large     */ {431, "invalid_request_error", "headers_too_large", s::client},
      /* upstream_unreachable  */ {502, "upstream_error", "upstream_unreachable", s::upstream},
      /* upstream_timeout      */ {504, "upstream_error", "upstream_timeout", s::upstream},
      /* upstream_bad_response */ {502, "upstream_error", "upstream_bad_response", s::upstream},
      /* unavailable           */ {503, "server_error", "service_unavailable", s::internal},
      /* no_database           */ {404, "invalid_request_error", "no_database", s::client},
      /* internal              */ {500, "server_error", "internal_error", s::internal},
  };
  return table[static_cast<int>(code)];
}

}  // namespace sy
