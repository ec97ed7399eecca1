#include "protocol/openai/usage_sniffer.h"

#include <simdjson.h>

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
  thread_local simdjson::dom::parser parser;
  thread_local std::string padded;
  auto object = usage_object(json);
  if (object.empty()) return;
  padded.assign(object);
  padded.reserve(object.size() + simdjson::SIMDJSON_PADDING);
  simdjson::dom::object usage;
  if (parser.parse(padded.data(), padded.size(), false).get_object().get(usage) !=
      simdjson::SUCCESS) {
    return;
  }
  std::int64_t v = 0;
  if (usage["prompt_tokens"].get_int64().get(v) == simdjson::SUCCESS) usage_.prompt_tokens = v;
  if (usage["completion_tokens"].get_int64().get(v) == simdjson::SUCCESS) {
    usage_.completion_tokens = v;
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
