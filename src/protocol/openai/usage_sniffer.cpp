#include "protocol/openai/usage_sniffer.h"

#include <simdjson.h>

namespace sy::openai {

void usage_sniffer::read_usage(std::string_view json) {
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size(), true).get(doc) != simdjson::SUCCESS) return;
  simdjson::dom::object usage;
  if (doc["usage"].get_object().get(usage) != simdjson::SUCCESS) return;
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
  sse_.feed(bytes, [this](const sse::event& e) {
    // Only the chunk that carries usage is parsed; the others are skipped by a substring test.
    auto at = e.data.find("\"usage\"");
    if (at == std::string::npos) return;
    at = e.data.find_first_not_of(" \t\r\n:", at + 7);
    if (at != std::string::npos && e.data[at] == '{') read_usage(e.data);
  });
}

usage_counts usage_sniffer::finish() {
  if (!stream_ && !overflow_ && !body_.empty()) read_usage(body_);
  return usage_;
}

}  // namespace sy::openai
