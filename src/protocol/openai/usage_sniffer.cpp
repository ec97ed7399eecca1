#include "protocol/openai/usage_sniffer.h"

#include <cstring>

namespace sy::openai {

namespace {

// The span of the object value of the last `"usage": {...}` in `json`, or empty. Only that small
// object is parsed, not the whole response (a chat completion can be megabytes of text).
std::string_view usage_object(std::string_view json) {
  for (auto at = json.rfind("\"usage\""); at != std::string_view::npos;
       at = at == 0 ? std::string_view::npos : json.rfind("\"usage\"", at - 1)) {
    auto i = json.find_first_not_of(" \t\r\n", at + 7);
    if (i == std::string_view::npos || json[i] != ':') continue;
    i = json.find_first_not_of(" \t\r\n", i + 1);
    if (i == std::string_view::npos || json[i] != '{') continue;
    int depth = 0;
    for (auto j = i; j < json.size(); ++j) {
      char c = json[j];
      if (c == '"') {
        for (++j; j < json.size() && json[j] != '"'; ++j) {
          if (json[j] == '\\') ++j;
        }
      } else if (c == '{') {
        ++depth;
      } else if (c == '}' && --depth == 0) {
        return json.substr(i, j - i + 1);
      }
    }
  }
  return {};
}

// memmem, not std::string::find: the latter stops at every '"' of a JSON text to compare.
std::size_t find_usage_key(std::string_view text, std::size_t from) {
  static constexpr std::string_view key = "\"usage\"";
  if (from >= text.size()) return std::string_view::npos;
  const void* hit = ::memmem(text.data() + from, text.size() - from, key.data(), key.size());
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data())
             : std::string_view::npos;
}

}  // namespace

void usage_sniffer::read_usage(std::string_view json) {
  // The usage object is small and flat where it matters; its two counters are read by a
  // scanner of its top-level members. (A general JSON parser cost more than the whole relay
  // of the request around it.)
  auto object = usage_object(json);
  if (object.empty()) return;
  std::size_t i = 1;  // past '{'
  auto skip_ws = [&] {
    while (i < object.size() && (object[i] == ' ' || object[i] == '\n' || object[i] == '\r' ||
                                 object[i] == '\t' || object[i] == ',')) {
      ++i;
    }
  };
  auto skip_string = [&] {
    for (++i; i < object.size() && object[i] != '"'; ++i) {
      if (object[i] == '\\') ++i;
    }
    ++i;
  };
  for (skip_ws(); i < object.size() && object[i] == '"'; skip_ws()) {
    auto key_start = i + 1;
    skip_string();
    auto key = object.substr(key_start, i - 1 - key_start);
    skip_ws();
    if (i >= object.size() || object[i] != ':') return;
    ++i;
    while (i < object.size() && (object[i] == ' ' || object[i] == '\n' || object[i] == '\t'))
      ++i;
    if (i >= object.size()) return;
    char c = object[i];
    if (c >= '0' && c <= '9') {
      std::int64_t v = 0;
      while (i < object.size() && object[i] >= '0' && object[i] <= '9' && v < (1LL << 53)) {
        v = v * 10 + (object[i++] - '0');
      }
      if (key == "prompt_tokens") usage_.prompt_tokens = v;
      if (key == "completion_tokens") usage_.completion_tokens = v;
      while (i < object.size() && object[i] != ',' && object[i] != '}')
        ++i;
    } else if (c == '"') {
      skip_string();
    } else if (c == '{' || c == '[') {
      int depth = 0;
      for (; i < object.size(); ++i) {
        if (object[i] == '"') {
          skip_string();
          --i;
        } else if (object[i] == '{' || object[i] == '[') {
          ++depth;
        } else if ((object[i] == '}' || object[i] == ']') && --depth == 0) {
          ++i;
          break;
        }
      }
    } else {
      while (i < object.size() && object[i] != ',' && object[i] != '}')
        ++i;  // null, true...
    }
  }
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
