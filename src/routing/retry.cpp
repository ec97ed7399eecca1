#include "routing/retry.h"

#include <algorithm>
#include <array>

namespace sy::routing {

namespace {

bool contains_any(std::string_view body, std::initializer_list<std::string_view> needles) {
  return std::any_of(needles.begin(), needles.end(),
                     [&](std::string_view n) { return body.find(n) != std::string_view::npos; });
}

}  // namespace

verdict classify(unsigned status, std::string_view body) {
  if (status < 400) return verdict::answer;
  switch (status) {
    case 401:
    case 403:
      return verdict::rejected;
    case 429:
      return verdict::rate_limited;
    case 408:
    case 500:
    case 502:
    case 503:
    case 504:
    case 529:
      return verdict::failure;
    default:
      break;
  }
  // Anthropic's overloaded_error (normally a 529); OpenAI-compatible servers that say so in
  // their own words.
  if (contains_any(body, {"overloaded_error", "\"overloaded\"", "server is overloaded"})) {
    return verdict::failure;
  }
  if (status >= 500) return verdict::broken;
  if (status == 400 || status == 413 || status == 422) {
    // OpenAI and Azure: code context_length_exceeded; Anthropic: "prompt is too long";
    // Gemini: "input token count ... exceeds the maximum number of tokens allowed".
    if (contains_any(body,
                     {"context_length_exceeded", "maximum context length", "prompt is too long",
                      "exceeds the maximum number of tokens", "context window"})) {
      return verdict::context_window;
    }
    // OpenAI: content_policy_violation; Azure: code content_filter (ResponsibleAIPolicyViolation).
    if (contains_any(body, {"content_policy_violation", "\"content_filter\"",
                            "ResponsibleAIPolicyViolation"})) {
      return verdict::content_policy;
    }
  }
  return verdict::answer;
}

std::chrono::milliseconds backoff(int n, std::chrono::milliseconds base,
                                  std::chrono::milliseconds max, std::uint64_t random) {
  const int shift = std::clamp(n - 1, 0, 30);
  auto cap = base.count() << shift;
  if (cap > max.count() || cap < base.count()) cap = max.count();
  if (cap <= 0) return std::chrono::milliseconds(0);
  return std::chrono::milliseconds(
      static_cast<std::int64_t>(random % (static_cast<std::uint64_t>(cap) + 1)));
}

}  // namespace sy::routing
