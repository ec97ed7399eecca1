// The catalog of errors a request can end with. Every error the gateway produces itself comes
// from here, so status codes and machine-readable codes stay consistent across endpoints and,
// later, across client protocols (each protocol codec renders an `error` in its own format).
#pragma once

#include <string>
#include <string_view>

namespace sy {

enum class errc {
  invalid_request,        // malformed JSON, missing or mistyped field
  invalid_api_key,        // no key, or a key we do not know
  key_expired,            // a managed key past its expires_at
  key_revoked,            // a revoked key
  key_disabled,           // a disabled key, or a key whose owner is disabled
  invalid_signature,      // a key that requires HMAC signing, and the signature is wrong
  ip_not_allowed,         // the client address is outside the key's allow-list
  model_not_allowed,      // the key may not use this model
  rate_limited,           // the key's requests per minute, or its concurrent requests
  token_rate_limited,     // the key's tokens per minute
  auth_blocked,           // too many failed authentications from this address
  insufficient_quota,     // the key's or its user's budget cannot cover the request
  model_not_priced,       // a key with a budget asked for a model without a price
  model_not_found,        // no channel serves this model
  not_found,              // unknown path
  method_not_allowed,     // known path, wrong method
  payload_too_large,      // body over limits.max_body_bytes
  headers_too_large,      // header block over the 16 KiB limit
  upstream_unreachable,   // connect/TLS/reset before a response
  upstream_timeout,       // connect, first-byte, idle or total timeout
  upstream_bad_response,  // the upstream answered something that is not HTTP
  unavailable,            // draining, or no deployment can take the request
  no_database,            // a feature that needs the store, on a gateway with `database: none`
  internal,               // a bug: caught by the session's catch-all
};

// Where an error came from: decides who is blamed in logs and whether a retry may help.
enum class error_source { client, upstream, internal };

struct error_info {
  int http_status;
  std::string_view type;  // OpenAI's error.type
  std::string_view code;  // OpenAI's error.code (empty = null)
  error_source source;
};

const error_info& info(errc code);

struct error {
  errc code;
  std::string message;
  std::string param;  // the offending request field, if any

  int http_status() const { return info(code).http_status; }
};

}  // namespace sy
