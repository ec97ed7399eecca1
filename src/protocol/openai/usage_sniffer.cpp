#include "protocol/openai/usage_sniffer.h"

#include <cstring>

namespace sy::openai {

namespace {

// memmem, not std::string::find: the latter stops at every '"' of a JSON text to compare.
std::size_t find_usage_key(std::string_view text, std::size_t from) {
  static constexpr std::string_view key = "\"usage\"";
  if (from >= text.size()) return std::string_view::npos;
  const void* hit = ::memmem(text.data() + from, text.size() - from, key.data(), key.size());
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data())
             : std::string_view::npos;
}

// Where the object value of the last `"usage": {` in `json` starts, or npos. Occurrences are
// found front to back with memmem (a backward rfind compares at every byte).
std::size_t usage_object(std::string_view json) {
  std::size_t found = std::string_view::npos;
  for (auto at = find_usage_key(json, 0); at != std::string_view::npos;
       at = find_usage_key(json, at + 7)) {
    auto i = json.find_first_not_of(" \t\r\n", at + 7);
    if (i == std::string_view::npos || json[i] != ':') continue;
    i = json.find_first_not_of(" \t\r\n", i + 1);
    if (i != std::string_view::npos && json[i] == '{') found = i;
  }
  return found;
}

// The integer value of the first member named `key` (quotes included) in `text`, or -1.
std::int64_t integer_member(std::string_view text, std::string_view key) {
  const void* hit = ::memmem(text.data(), text.size(), key.data(), key.size());
  if (!hit) return -1;
  auto i = static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) + key.size();
  auto skip_ws = [&] {
    while (i < text.size() &&
           (text[i] == ' ' || text[i] == '\t' || text[i] == '\r' || text[i] == '\n')) {
      ++i;
    }
  };
  skip_ws();
  if (i >= text.size() || text[i] != ':') return -1;
  ++i;
  skip_ws();
  if (i >= text.size() || text[i] < '0' || text[i] > '9') return -1;
  std::int64_t v = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9' && v < (1LL << 53)) {
    v = v * 10 + (text[i++] - '0');
  }
  return v;
}

}  // namespace

void usage_sniffer::read_usage(std::string_view json) {
  // Only the usage object's two counters are read, by key, from where the object starts: a
  // general JSON parse of the response cost more than the rest of its relay. The counters'
  // names are exact, quotes included, so "prompt_tokens_details" does not match.
  auto at = usage_object(json);
  if (at == std::string_view::npos) return;
  // Only a complete object counts (a body cut short reports nothing).
  std::size_t end = at;
  for (int depth = 0; end < json.size(); ++end) {
    char c = json[end];
    if (c == '"') {
      for (++end; end < json.size() && json[end] != '"'; ++end) {
        if (json[end] == '\\') ++end;
      }
    } else if (c == '{') {
      ++depth;
    } else if (c == '}' && --depth == 0) {
      break;
    }
  }
  if (end >= json.size()) return;
  auto object = json.substr(at, end - at + 1);
  if (auto v = integer_member(object, "\"prompt_tokens\""); v >= 0) usage_.prompt_tokens = v;
  if (auto v = integer_member(object, "\"completion_tokens\""); v >= 0) {
    usage_.completion_tokens = v;
  }
  // Inside prompt_tokens_details and completion_tokens_details: each name occurs once.
  if (auto v = integer_member(object, "\"cached_tokens\""); v >= 0) usage_.cached_tokens = v;
  if (auto v = integer_member(object, "\"reasoning_tokens\""); v >= 0) usage_.reasoning_tokens = v;
}

void usage_sniffer::feed(std::string_view bytes) {
  if (!stream_) {
    if (overflow_) return;
    if (body_.size() + bytes.size() > max_json_body) {
      overflow_ = true;
      body_.clear();
      return;
    }
    body_.append(bytes);
    return;
  }
  if (overflow_) return;
  bool ok = sse_.feed(bytes, [this](const sse::event& e) {
    // Only a chunk with a usage object is parsed; the others are skipped by a substring test.
    for (auto at = find_usage_key(e.data, 0); at != std::string::npos;
         at = find_usage_key(e.data, at + 7)) {
      auto next = e.data.find_first_not_of(" \t\r\n", at + 7);
      if (next == std::string::npos || e.data[next] != ':') continue;
      next = e.data.find_first_not_of(" \t\r\n", next + 1);
      if (next != std::string::npos && e.data[next] == '{') {
        read_usage(e.data);
        return;
      }
    }
  });
  if (!ok) overflow_ = true;  // a "stream" with no line breaks: stop looking, keep relaying
}

usage_counts usage_sniffer::finish() {
  if (!stream_ && !overflow_ && !body_.empty()) read_usage(body_);
  return usage_;
}

}  // namespace sy::openai
