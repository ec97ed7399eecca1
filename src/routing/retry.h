// What an upstream's answer means for the attempt loop (retry, cool a key down, fall back, or
// relay it), and how long to wait before trying the same deployment again.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace sy::routing {

enum class verdict {
  answer,          // relay it: the upstream works (2xx, or a 4xx about the request itself)
  failure,         // 408, 500, 502, 503, 504, 529, "overloaded": retried, counts against health
  broken,          // another 5xx (501, 505, ...): counts against health, relayed as it is
  rate_limited,    // 429: the upstream key rests for its retry-after; retried elsewhere
  rejected,        // 401, 403: the upstream refused the gateway's key; disabled, retried elsewhere
  context_window,  // 400/413/422 saying the prompt exceeds the model's context window
  content_policy,  // 400/422 saying the content was filtered by the vendor's policy
};

// The verdict of an upstream answer with `status` and (for failures held whole) its `body`.
verdict classify(unsigned status, std::string_view body);

// Whether another attempt may help after `v`.
inline bool retryable(verdict v) {
  return v == verdict::failure || v == verdict::rate_limited || v == verdict::rejected;
}

// Exponential backoff with full jitter before retry number `n` (1 for the first retry):
// uniform in [0, min(max, base * 2^(n-1))].
std::chrono::milliseconds backoff(int n, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max, std::uint64_t random);

}  // namespace sy::routing
