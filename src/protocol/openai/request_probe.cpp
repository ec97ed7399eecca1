#include "protocol/openai/request_probe.h"

#include "common/json.h"

#include <simdjson.h>

namespace sy::openai {
namespace {

error bad(std::string message, std::string param = {}) {
  return error{errc::invalid_request, std::move(message), std::move(param)};
}

std::size_t skip_ws(std::string_view s, std::size_t i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t'))
    ++i;
  return i;
}

// End of the string literal starting at s[i] == '"' (one past the closing quote).
std::size_t skip_string(std::string_view s, std::size_t i) {
  for (++i; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      return i + 1;
    }
  }
  return s.size();
}

// End of the JSON value starting at s[i]; the document is known to be valid.
std::size_t skip_value(std::string_view s, std::size_t i) {
  if (s[i] == '"') return skip_string(s, i);
  if (s[i] == '{' || s[i] == '[') {
    int depth = 0;
    while (i < s.size()) {
      char c = s[i];
      if (c == '"') {
        i = skip_string(s, i);
        continue;
      }
      if (c == '{' || c == '[') ++depth;
      if (c == '}' || c == ']') {
        if (--depth == 0) return i + 1;
      }
      ++i;
    }
    return i;
  }
  while (i < s.size() && s[i] != ',' && s[i] != '}' && s[i] != ']' && s[i] != ' ' && s[i] != '\n' &&
         s[i] != '\r' && s[i] != '\t') {
    ++i;
  }
  return i;
}

// Whether the raw key literal s[b, e) (quotes included) spells `name`, escapes decoded.
bool key_is(std::string_view raw, std::string_view name) {
  raw = raw.substr(1, raw.size() - 2);
  if (raw.find('\\') == std::string_view::npos) return raw == name;
  std::string decoded;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 >= raw.size()) {
      decoded += raw[i];
      continue;
    }
    char c = raw[++i];
    if (c == 'u' && i + 4 < raw.size()) {
      unsigned v = std::stoul(std::string(raw.substr(i + 1, 4)), nullptr, 16);
      decoded += v < 0x80 ? static_cast<char>(v) : '\x01';  // non-ASCII never equals a name
      i += 4;
    } else {
      decoded += c == 'n' ? '\n' : c == 't' ? '\t' : c == 'r' ? '\r' : c;
    }
  }
  return decoded == name;
}

// Finds the span of the top-level "model" value of a valid JSON object.
bool find_model_span(std::string_view s, std::size_t& begin, std::size_t& end) {
  std::size_t i = skip_ws(s, 0);
  if (i >= s.size() || s[i] != '{') return false;
  i = skip_ws(s, i + 1);
  while (i < s.size() && s[i] == '"') {
    auto key_end = skip_string(s, i);
    bool is_model = key_is(s.substr(i, key_end - i), "model");
    i = skip_ws(s, key_end);
    i = skip_ws(s, i + 1);  // ':'
    auto value_end = skip_value(s, i);
    if (is_model) {
      begin = i;
      end = value_end;
      return true;
    }
    i = skip_ws(s, value_end);
    if (i < s.size() && s[i] == ',') i = skip_ws(s, i + 1);
  }
  return false;
}

// A non-negative integer count, or `out` unchanged.
void read_count(simdjson::dom::element v, std::int64_t& out) {
  std::int64_t n = 0;
  if (v.get_int64().get(n) == simdjson::SUCCESS && n >= 0) out = n;
}
void read_count(simdjson::simdjson_result<simdjson::dom::element> v, std::int64_t& out) {
  simdjson::dom::element e;
  if (v.get(e) == simdjson::SUCCESS) read_count(e, out);
}

}  // namespace

std::variant<request_probe, error> probe_request(std::string_view body, endpoint kind) {
  // One parser per thread, reused: it keeps its buffers between requests.
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  // Copying into a padded buffer (realloc_if_needed) costs an aligned allocation per call; a
  // thread_local buffer keeps its capacity across requests.
  thread_local std::string padded;
  padded.assign(body);
  padded.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  if (parser.parse(padded.data(), padded.size(), false).get(doc) != simdjson::SUCCESS) {
    if (kind != endpoint::chat_completions && kind != endpoint::embeddings) {
      return bad("The request body is not valid JSON.");
    }
    return bad(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
        "using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was "
        "sent was not valid JSON.)");
  }
  simdjson::dom::object obj;
  if (doc.get_object().get(obj) != simdjson::SUCCESS) {
    return bad("The request body must be a JSON object.");
  }
  request_probe probe;
  std::int64_t max_completion = -1, max_tokens = -1;
  int models = 0;
  bool has_messages = false, has_input = false;
  for (auto field : obj) {
    auto key = field.key;
    if (key == "model") {
      ++models;
      std::string_view model;
      if (field.value.get_string().get(model) != simdjson::SUCCESS) {
        return bad("Invalid type for 'model': expected a string.", "model");
      }
      probe.model = std::string(model);
    } else if (key == "stream") {
      bool stream = false;
      if (!field.value.is_null() && field.value.get_bool().get(stream) != simdjson::SUCCESS) {
        return bad("Invalid type for 'stream': expected a boolean.", "stream");
      }
      probe.stream = stream;
    } else if (key == "stream_options") {
      probe.has_stream_options = true;
      simdjson::dom::object options;
      if (field.value.get_object().get(options) == simdjson::SUCCESS) {
        bool include = false;
        if (options["include_usage"].get_bool().get(include) == simdjson::SUCCESS) {
          probe.include_usage = include;
        }
      }
    } else if (key == "messages") {
      simdjson::dom::array messages;
      if (field.value.get_array().get(messages) != simdjson::SUCCESS) {
        return bad("Invalid type for 'messages': expected an array.", "messages");
      }
      if (messages.size() == 0) {
        return bad("Invalid 'messages': empty array. Expected an array with minimum length 1.",
                   "messages");
      }
      has_messages = true;
    } else if (key == "input") {
      has_input = true;
    } else if (key == "max_completion_tokens") {
      read_count(field.value, max_completion);
    } else if (key == "max_tokens") {
      read_count(field.value, max_tokens);
    } else if (key == "n") {
      read_count(field.value, probe.choices);
    } else if (key == "generationConfig") {
      simdjson::dom::object config;
      if (field.value.get_object().get(config) == simdjson::SUCCESS) {
        read_count(config["maxOutputTokens"], max_tokens);
        read_count(config["candidateCount"], probe.choices);
      }
    }
  }
  probe.max_output_tokens = max_completion >= 0 ? max_completion : max_tokens;
  if (probe.choices < 1) probe.choices = 1;
  if (kind == endpoint::generate_content) return probe;  // the model is in the path
  if (models == 0 || probe.model.empty()) {
    return bad("you must provide a model parameter", "model");
  }
  if (models > 1) return bad("Duplicate key 'model' in the request body.", "model");
  if ((kind == endpoint::chat_completions || kind == endpoint::messages) && !has_messages) {
    return bad("Missing required parameter: 'messages'.", "messages");
  }
  if (kind == endpoint::embeddings && !has_input) {
    return bad("Missing required parameter: 'input'.", "input");
  }
  if (!find_model_span(body, probe.model_begin, probe.model_end)) {
    return error{errc::internal, "could not locate the model field", "model"};
  }
  return probe;
}

void rewrite_model(std::string& body, const request_probe& probe, std::string_view upstream_model) {
  if (upstream_model.empty() || upstream_model == probe.model) return;
  body.replace(probe.model_begin, probe.model_end - probe.model_begin,
               json::quoted(upstream_model));
}

}  // namespace sy::openai
