// Fuzz target: sy::glob_match, sy::extract_key and the key table (src/auth/key_table.h).
//
// The input is two strings separated by the first '\n' (no '\n': the second is empty). They are
// used as (pattern, text) for glob_match, compared with a straightforward dynamic-programming
// matcher, and as (Authorization, x-api-key) for extract_key, compared with a reference written
// from the documented rule. Also: a pattern matches itself, "*" matches everything, and a key
// added to a key_table is found again (and a different one is not).
#include "auth/key_table.h"

#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

// Reference matcher: match[i][j] = pattern[0, i) matches text[0, j).
bool reference_glob(std::string_view pattern, std::string_view text) {
  std::vector<char> prev(text.size() + 1, 0), cur(text.size() + 1, 0);
  prev[0] = 1;
  for (std::size_t i = 1; i <= pattern.size(); ++i) {
    char p = pattern[i - 1];
    cur[0] = p == '*' && prev[0];
    for (std::size_t j = 1; j <= text.size(); ++j) {
      if (p == '*') {
        cur[j] = prev[j] || cur[j - 1];
      } else {
        cur[j] = prev[j - 1] && (p == '?' || p == text[j - 1]);
      }
    }
    prev.swap(cur);
  }
  return prev[text.size()];
}

std::string_view reference_trim(std::string_view s) {
  std::size_t b = 0, e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\t'))
    ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t'))
    --e;
  return s.substr(b, e - b);
}

// "Authorization: Bearer <key>" (scheme case-insensitive) wins when it carries a key after the
// scheme; otherwise the x-api-key header; both trimmed of spaces and tabs.
std::string_view reference_extract(std::string_view authorization, std::string_view x_api_key) {
  auto a = reference_trim(authorization);
  if (a.size() > 7) {
    std::string scheme(a.substr(0, 7));
    for (auto& c : scheme) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    if (scheme == "bearer ") return reference_trim(a.substr(7));
  }
  return reference_trim(x_api_key);
}

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto nl = in.find('\n');
  std::string_view first = in.substr(0, nl);
  std::string_view second = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);

  // glob_match
  bool got = sy::glob_match(first, second);
  if (first.size() <= 1024 && second.size() <= 1024) {
    bool want = reference_glob(first, second);
    if (got != want) {
      std::fprintf(stderr, "glob_match(\"%.*s\", \"%.*s\") = %d, expected %d\n",
                   static_cast<int>(first.size()), first.data(), static_cast<int>(second.size()),
                   second.data(), got, want);
    }
    FUZZ_CHECK(got == want);
  }
  FUZZ_CHECK(sy::glob_match(first, first));
  FUZZ_CHECK(sy::glob_match(second, second));
  FUZZ_CHECK(sy::glob_match("*", second));
  FUZZ_CHECK(sy::glob_match("", second) == second.empty());

  // extract_key
  auto key = sy::extract_key(first, second);
  FUZZ_CHECK(inside(key, first) || inside(key, second));
  FUZZ_CHECK(key.empty() || (key.front() != ' ' && key.front() != '\t' && key.back() != ' ' &&
                             key.back() != '\t'));
  FUZZ_CHECK(key == reference_extract(first, second));

  // key_table
  sy::key_table table;
  table.add(first, sy::key_record{"first", {std::string(second)}, false});
  FUZZ_CHECK(table.size() == 1);
  const auto* found = table.find(first);
  if (first.empty()) {
    FUZZ_CHECK(found == nullptr);  // the empty key never authenticates
  } else {
    FUZZ_CHECK(found != nullptr && found->name == "first");
    FUZZ_CHECK(sy::key_allows_model(*found, second));  // its only pattern is `second` itself
  }
  if (second != first) FUZZ_CHECK(table.find(second) == nullptr);
  return 0;
}
