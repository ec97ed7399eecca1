// Gemini generateContent <-> IR. The mapping is docs/protocols.md; what Gemini adds to it:
// - Field names may be camelCase or snake_case on the way in (the API takes both); we write
//   camelCase.
// - The model and the stream flag are in the URL, not the body.
// - Fields the IR does not model are kept in ir.extra for a Gemini upstream: top-level ones
//   under their own name, unknown generationConfig / toolConfig members as
//   "generationConfig.<name>" / "toolConfig.<name>", tools other than functionDeclarations
//   (googleSearch, codeExecution, ...) as "tools.<kind>". Another protocol's encoder reports
//   those names as dropped, which says exactly what was lost.
// - Thought signatures: a request keeps each on the part that carried it; a response moves it to
//   a reasoning part (the only place other protocols carry one), and encoding a request of
//   another protocol moves a reasoning part's signature to the part after the thoughts, where
//   Gemini wants it. Consecutive thought parts are one reasoning block.
// - A tool result whose text is a JSON object is sent as functionResponse.response itself
//   (Gemini reads an object without "output" as the output), so {"output": 42} round-trips.
#include "protocol/gemini/codec.h"

#include "common/json.h"

#include "protocol/gemini/internal.h"
#include "protocol/gemini/schema.h"

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <unordered_map>

namespace sy::gemini {

namespace bj = boost::json;
using detail::camel;

namespace {

bool as_double(const bj::value& v, double& out) {
  if (v.is_double()) {
    out = v.get_double();
  } else if (v.is_int64()) {
    out = static_cast<double>(v.get_int64());
  } else if (v.is_uint64()) {
    out = static_cast<double>(v.get_uint64());
  } else {
    return false;
  }
  return true;
}

bool as_int(const bj::value& v, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
    return true;
  }
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return false;
    out = static_cast<std::int64_t>(v.get_uint64());
    return true;
  }
  if (v.is_double()) {
    double d = v.get_double();
    // JavaScript clients send 40 as 40, but a computed 40.0 is fine too.
    if (!(d >= -9.0e18 && d <= 9.0e18) || std::trunc(d) != d) return false;
    out = static_cast<std::int64_t>(d);
    return true;
  }
  return false;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// Token counts come from outside: a sum of two must not overflow.
std::int64_t add(std::int64_t a, std::int64_t b) {
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max()
                                                          : a + b;
}

bool has_upper(std::string_view s) {
  for (char c : s)
    if (c >= 'A' && c <= 'Z') return true;
  return false;
}

bool is_null_type(std::string_view t) {
  return t.size() == 4 && (t[0] | 0x20) == 'n' && (t[1] | 0x20) == 'u' && (t[2] | 0x20) == 'l' &&
         (t[3] | 0x20) == 'l';
}

bool is_image_type(std::string_view media_type) {
  return media_type.starts_with("image/");
}

// Shared by requests and responses: the part's media fields.
bool read_media(const bj::value& v, bool file, ir::part& out, std::string& message,
                std::string& field, std::string& key_buf) {
  const char* name = file ? "fileData" : "inlineData";
  if (!v.is_object()) {
    message = std::string(name) + " must be an object";
    field = name;
    return false;
  }
  const bj::value* mime = nullptr;
  const bj::value* payload = nullptr;
  for (const auto& m : v.get_object()) {
    auto k = camel(m.key(), key_buf);
    if (k == "mimeType") {
      mime = &m.value();
    } else if (k == (file ? "fileUri" : "data")) {
      payload = &m.value();
    }
  }
  const char* payload_name = file ? "fileUri" : "data";
  if (!payload || !payload->is_string()) {
    message = std::string(name) + "." + payload_name + " must be a string";
    field = std::string(name) + "." + payload_name;
    return false;
  }
  if (mime && !mime->is_string()) {
    message = std::string(name) + ".mimeType must be a string";
    field = std::string(name) + ".mimeType";
    return false;
  }
  if (mime) out.media_type = mime->get_string();
  if (file) {
    out.url = payload->get_string();
  } else {
    out.data = payload->get_string();
  }
  bool image =
      out.media_type.empty() ? !(file && out.url.ends_with(".pdf")) : is_image_type(out.media_type);
  out.type = image ? ir::part::kind::image : ir::part::kind::document;
  return true;
}

// functionResponse.response -> tool result text: its "output" (or "result") string when it has
// one, else the whole object as JSON text. Gemini: "If output and error keys are not specified,
// then whole response is treated as function output".
void read_function_response(const bj::object& fr, ir::part& out, std::string& message,
                            std::string& field, std::string& key_buf, bool& ok) {
  ok = true;
  out.type = ir::part::kind::tool_result;
  const bj::value* response = nullptr;
  const bj::value* media = nullptr;
  bool named = false;
  for (const auto& m : fr) {
    auto k = camel(m.key(), key_buf);
    if (k == "name") {
      if (!m.value().is_string()) break;
      out.name = m.value().get_string();
      named = true;
    } else if (k == "id") {
      if (m.value().is_string()) out.id = m.value().get_string();
    } else if (k == "response") {
      response = &m.value();
    } else if (k == "parts") {
      media = &m.value();
    }
  }
  // Gemini refuses a functionResponse without its name (and every encoder needs it).
  if (!named) {
    message = "functionResponse.name must be a string";
    field = "functionResponse.name";
    ok = false;
    return;
  }
  ir::part text;
  text.type = ir::part::kind::text;
  if (response && !response->is_null()) {
    if (!response->is_object()) {
      message = "functionResponse.response must be an object";
      field = "functionResponse.response";
      ok = false;
      return;
    }
    const auto& obj = response->get_object();
    const bj::value* output = obj.if_contains("output");
    if (!output) output = obj.if_contains("result");
    const bj::value* err = obj.if_contains("error");
    if (output && output->is_string()) {
      text.text = output->get_string();
    } else if (!output && err && err->is_string()) {
      text.text = err->get_string();
      out.is_error = true;
    } else {
      text.text = detail::to_json(obj);
      out.is_error = !output && err;
    }
  } else {
    text.text = "{}";
  }
  out.content.push_back(std::move(text));
  // Multimodal function responses (Gemini 3): their media become content parts of the result.
  if (media && media->is_array()) {
    for (const auto& mp : media->get_array()) {
      if (!mp.is_object()) continue;
      for (const auto& m : mp.get_object()) {
        auto k = camel(m.key(), key_buf);
        if (k == "inlineData" || k == "fileData") {
          ir::part p;
          if (!read_media(m.value(), k == "fileData", p, message, field, key_buf)) {
            field = "functionResponse.parts." + field;
            ok = false;
            return;
          }
          out.content.push_back(std::move(p));
        }
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Shared with stream.cpp (internal.h)

namespace detail {

bj::parse_options parse_options() {
  bj::parse_options opt;
  // Tool schemas and arguments nest deeper than Boost's default of 32 allows. The parser keeps
  // its own stack; what recurses over the result here is bounded by this depth.
  opt.max_depth = max_depth;
  return opt;
}

std::string_view camel(std::string_view key, std::string& buf) {
  if (key.find('_') == std::string_view::npos) return key;
  buf.clear();
  bool up = false;
  for (char c : key) {
    if (c == '_') {
      up = !buf.empty();
      continue;
    }
    buf += up && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    up = false;
  }
  return buf;
}

part_result decode_part(const bj::object& p, ir::part& out, std::string& message,
                        std::string& field, std::string& key_buf) {
  const bj::value* text = nullptr;
  const bj::value* thought = nullptr;
  const bj::value* signature = nullptr;
  const bj::value* inline_data = nullptr;
  const bj::value* file_data = nullptr;
  const bj::value* call = nullptr;
  const bj::value* response = nullptr;
  for (const auto& m : p) {
    auto k = camel(m.key(), key_buf);
    if (k == "text") {
      text = &m.value();
    } else if (k == "thought") {
      thought = &m.value();
    } else if (k == "thoughtSignature") {
      signature = &m.value();
    } else if (k == "inlineData") {
      inline_data = &m.value();
    } else if (k == "fileData") {
      file_data = &m.value();
    } else if (k == "functionCall") {
      call = &m.value();
    } else if (k == "functionResponse") {
      response = &m.value();
    }
    // executableCode, codeExecutionResult, videoMetadata...: nothing in the IR holds them.
  }
  if (signature && !signature->is_string()) {
    message = "thoughtSignature must be a string";
    field = "thoughtSignature";
    return part_result::bad;
  }
  if (thought && !thought->is_bool()) {
    message = "thought must be a boolean";
    field = "thought";
    return part_result::bad;
  }
  bool is_thought = thought && thought->get_bool();
  if (call) {
    if (!call->is_object()) {
      message = "functionCall must be an object";
      field = "functionCall";
      return part_result::bad;
    }
    const auto& c = call->get_object();
    out.type = ir::part::kind::tool_call;
    const bj::value* args = nullptr;
    bool named = false;
    for (const auto& m : c) {
      auto k = camel(m.key(), key_buf);
      if (k == "name" && m.value().is_string()) {
        out.name = m.value().get_string();
        named = true;
      } else if (k == "id" && m.value().is_string()) {
        out.id = m.value().get_string();
      } else if (k == "args") {
        args = &m.value();
      }
    }
    if (!named) {
      message = "functionCall.name must be a string";
      field = "functionCall.name";
      return part_result::bad;
    }
    if (args && !args->is_null()) {
      if (!args->is_object()) {
        message = "functionCall.args must be an object";
        field = "functionCall.args";
        return part_result::bad;
      }
      out.arguments = to_json(*args);
    } else {
      out.arguments = "{}";
    }
  } else if (response) {
    if (!response->is_object()) {
      message = "functionResponse must be an object";
      field = "functionResponse";
      return part_result::bad;
    }
    bool ok = true;
    read_function_response(response->get_object(), out, message, field, key_buf, ok);
    if (!ok) return part_result::bad;
  } else if (text) {
    if (!text->is_string()) {
      message = "text must be a string";
      field = "text";
      return part_result::bad;
    }
    out.type = is_thought ? ir::part::kind::reasoning : ir::part::kind::text;
    out.text = text->get_string();
  } else if (inline_data || file_data) {
    if (!read_media(inline_data ? *inline_data : *file_data, !inline_data, out, message, field,
                    key_buf))
      return part_result::bad;
  } else if (signature || is_thought) {
    // {"thoughtSignature": "..."} alone (or with an empty thought): Gemini's signature carrier.
    out.type = is_thought ? ir::part::kind::reasoning : ir::part::kind::text;
  } else {
    return part_result::skip;
  }
  if (signature) out.signature = signature->get_string();
  return part_result::ok;
}

void push_part(std::vector<ir::part>& parts, ir::part&& p) {
  if (p.type == ir::part::kind::reasoning && !parts.empty()) {
    auto& last = parts.back();
    if (last.type == ir::part::kind::reasoning && last.signature.empty()) {
      last.text += p.text;
      last.signature = std::move(p.signature);
      return;
    }
  }
  parts.push_back(std::move(p));
}

void move_signatures_to_reasoning(std::vector<ir::part>& parts) {
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto& p = parts[i];
    if (p.signature.empty() || p.type == ir::part::kind::reasoning) continue;
    if (i > 0 && parts[i - 1].type == ir::part::kind::reasoning && parts[i - 1].signature.empty()) {
      parts[i - 1].signature = std::move(p.signature);
      p.signature.clear();
      continue;
    }
    ir::part r;
    r.type = ir::part::kind::reasoning;
    r.signature = std::move(p.signature);
    p.signature.clear();
    parts.insert(parts.begin() + static_cast<std::ptrdiff_t>(i), std::move(r));
    ++i;
  }
}

std::string random_call_id() {
  static constexpr char alphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  id.resize(5 + 24);
  std::uint64_t bits = 0;
  for (int i = 0; i < 24; ++i) {
    if (i % 8 == 0) bits = rng();  // 8 draws of 62 values from 64 bits: 6 bits each suffices
    id[5 + i] = alphabet[(bits & 63) % 62];
    bits >>= 6;
  }
  return id;
}

ir::finish_reason finish_from(std::string_view r, bool saw_call) {
  using fr = ir::finish_reason;
  if (r == "STOP") return saw_call ? fr::tool_calls : fr::stop;
  if (r == "MAX_TOKENS") return fr::length;
  if (r == "SAFETY" || r == "RECITATION" || r == "LANGUAGE" || r == "BLOCKLIST" ||
      r == "PROHIBITED_CONTENT" || r == "SPII" || r == "IMAGE_SAFETY" ||
      r == "IMAGE_PROHIBITED_CONTENT" || r == "IMAGE_RECITATION")
    return fr::content_filter;
  return fr::error;  // OTHER, MALFORMED_FUNCTION_CALL, FINISH_REASON_UNSPECIFIED, newer ones
}

std::string_view finish_to(ir::finish_reason r) {
  using fr = ir::finish_reason;
  switch (r) {
    case fr::none:
      return {};
    case fr::stop:
    case fr::stop_sequence:
    case fr::tool_calls:
    case fr::pause:
      return "STOP";
    case fr::length:
    case fr::context_exceeded:
      return "MAX_TOKENS";
    case fr::content_filter:
    case fr::refusal:
      return "SAFETY";
    case fr::error:
      return "OTHER";
  }
  return "STOP";
}

ir::usage usage_from(const bj::object& meta) {
  ir::usage u;
  std::int64_t prompt = -1, candidates = -1, thoughts = -1, cached = -1, tool_prompt = -1;
  std::string key_buf;
  for (const auto& m : meta) {
    auto k = camel(m.key(), key_buf);
    std::int64_t v;
    if (!as_int(m.value(), v) || v < 0) continue;
    if (k == "promptTokenCount") {
      prompt = v;
    } else if (k == "candidatesTokenCount") {
      candidates = v;
    } else if (k == "thoughtsTokenCount") {
      thoughts = v;
    } else if (k == "cachedContentTokenCount") {
      cached = v;
    } else if (k == "toolUsePromptTokenCount") {
      tool_prompt = v;
    }
  }
  // Search grounding's prompt tokens are billed as input and counted in totalTokenCount.
  if (prompt >= 0 || tool_prompt >= 0)
    u.input = add(std::max<std::int64_t>(prompt, 0), std::max<std::int64_t>(tool_prompt, 0));
  if (candidates >= 0 || thoughts >= 0)
    u.output = add(std::max<std::int64_t>(candidates, 0), std::max<std::int64_t>(thoughts, 0));
  u.reasoning = thoughts;
  u.cache_read = cached;
  return u;
}

void append_number(std::string& out, std::int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_number(std::string& out, double v) {
  // The parser turns 1e999 into infinity, which JSON cannot say: the largest double instead
  // (NaN cannot come from JSON). -0 would read back as the integer 0.
  if (std::isnan(v) || v == 0) v = 0;
  if (std::isinf(v)) v = std::copysign(std::numeric_limits<double>::max(), v);
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void quote(std::string& out, std::string_view text) {
  sy::json::append_quoted(out, text);
}

void append_json(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      out += "null";
      break;
    case bj::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case bj::kind::int64:
      append_number(out, v.get_int64());
      break;
    case bj::kind::uint64: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, r.ptr);
      break;
    }
    case bj::kind::double_:
      append_number(out, v.get_double());
      break;
    case bj::kind::string:
      detail::quote(out, v.get_string());
      break;
    case bj::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_json(out, e);
      }
      out += ']';
      break;
    }
    case bj::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& m : v.get_object()) {
        if (!first) out += ',';
        first = false;
        detail::quote(out, m.key());
        out += ':';
        append_json(out, m.value());
      }
      out += '}';
      break;
    }
  }
}

std::string to_json(const bj::value& v) {
  std::string out;
  append_json(out, v);
  return out;
}

void append_usage(std::string& out, const ir::usage& u, bool comma) {
  if (u.input < 0 && u.output < 0) return;
  if (comma) out += ',';
  out += "\"usageMetadata\":{";
  bool first = true;
  auto field = [&](std::string_view name, std::int64_t v) {
    if (!first) out += ',';
    first = false;
    out += '"';
    out += name;
    out += "\":";
    append_number(out, v);
  };
  std::int64_t input = std::max<std::int64_t>(u.input, 0);
  std::int64_t output = std::max<std::int64_t>(u.output, 0);
  std::int64_t thoughts = std::clamp<std::int64_t>(u.reasoning, 0, output);
  if (u.input >= 0) field("promptTokenCount", input);
  if (u.output >= 0) field("candidatesTokenCount", output - thoughts);
  if (thoughts > 0) field("thoughtsTokenCount", thoughts);
  if (u.cache_read > 0) field("cachedContentTokenCount", u.cache_read);
  field("totalTokenCount", add(input, output));
  out += '}';
}

void append_args(std::string& out, std::string_view arguments) {
  std::size_t at = arguments.find_first_not_of(" \t\r\n");
  if (at != std::string_view::npos && arguments[at] == '{') {
    unsigned char buf[2048];
    bj::monotonic_resource mr(buf, sizeof buf);
    bj::error_code ec;
    auto v = bj::parse(arguments, ec, &mr, parse_options());
    if (!ec && v.is_object()) {
      // Serialized, not copied: the text may hold line breaks, which SSE framing cannot carry.
      append_json(out, v);
      return;
    }
  }
  out += "{}";
}

bool append_model_part(std::string& out, const ir::part& p, bool call_id,
                       std::string_view signature) {
  using k = ir::part::kind;
  switch (p.type) {
    case k::text:
      if (p.text.empty() && signature.empty()) return false;
      out += "{\"text\":";
      detail::quote(out, p.text);
      break;
    case k::reasoning:
      if (p.text.empty() && signature.empty()) return false;
      out += "{\"text\":";
      detail::quote(out, p.text);
      out += ",\"thought\":true";
      break;
    case k::tool_call:
      out += "{\"functionCall\":{";
      if (call_id && !p.id.empty()) {
        out += "\"id\":";
        detail::quote(out, p.id);
        out += ',';
      }
      out += "\"name\":";
      detail::quote(out, p.name);
      out += ",\"args\":";
      append_args(out, p.arguments);
      out += '}';
      break;
    case k::image:
    case k::document:
      if (p.url.empty()) {
        out += "{\"inlineData\":{\"mimeType\":";
        detail::quote(out, p.media_type);
        out += ",\"data\":";
        detail::quote(out, p.data);
        out += '}';
      } else {
        out += "{\"fileData\":{";
        if (!p.media_type.empty()) {
          out += "\"mimeType\":";
          detail::quote(out, p.media_type);
          out += ',';
        }
        out += "\"fileUri\":";
        detail::quote(out, p.url);
        out += '}';
      }
      break;
    default:
      return false;
  }
  if (!signature.empty()) {
    out += ",\"thoughtSignature\":";
    detail::quote(out, signature);
  }
  out += '}';
  return true;
}

std::string_view status_name(ir::error_kind kind) {
  using ek = ir::error_kind;
  switch (kind) {
    case ek::invalid_request:
    case ek::request_too_large:
      return "INVALID_ARGUMENT";
    case ek::authentication:
      return "UNAUTHENTICATED";
    case ek::billing:
    case ek::permission:
      return "PERMISSION_DENIED";
    case ek::not_found:
      return "NOT_FOUND";
    case ek::rate_limit:
    case ek::quota:
      return "RESOURCE_EXHAUSTED";
    case ek::server:
      return "INTERNAL";
    case ek::overloaded:
      return "UNAVAILABLE";
    case ek::timeout:
      return "DEADLINE_EXCEEDED";
  }
  return "INTERNAL";
}

int status_for(const ir::api_error& e) {
  using ek = ir::error_kind;
  switch (e.kind) {
    case ek::invalid_request:
      return 400;
    case ek::authentication:
      return 401;
    case ek::billing:
    case ek::permission:
      return 403;
    case ek::not_found:
      return 404;
    case ek::request_too_large:
      return 413;
    case ek::rate_limit:
    case ek::quota:
      return 429;
    case ek::server:
      return e.status >= 500 && e.status <= 599 ? e.status : 500;
    case ek::overloaded:
      return 503;
    case ek::timeout:
      return 504;
  }
  return 500;
}

void append_error_object(std::string& out, const ir::api_error& e) {
  out += "{\"error\":{\"code\":";
  append_number(out, static_cast<std::int64_t>(status_for(e)));
  out += ",\"message\":";
  detail::quote(out, e.message);
  out += ",\"status\":\"";
  out += status_name(e.kind);
  out += "\"}}";
}

ir::api_error error_from(int status, const bj::value& body) {
  ir::api_error e;
  e.status = status;
  e.kind = ir::kind_for_status(status);
  const bj::value* v = &body;
  // Some Gemini front ends wrap the error in a JSON array (gemini-cli issue #14831).
  if (v->is_array() && !v->get_array().empty()) v = &v->get_array()[0];
  const bj::value* err = v->is_object() ? v->get_object().if_contains("error") : nullptr;
  if (err && err->is_string()) {
    e.message = err->get_string();
    if (e.message.empty()) e.message = "upstream returned HTTP " + std::to_string(status);
    return e;
  }
  if (!err || !err->is_object()) {
    e.message = "upstream returned HTTP " + std::to_string(status);
    return e;
  }
  const auto& o = err->get_object();
  if (auto* m = o.if_contains("message"); m && m->is_string()) e.message = m->get_string();
  if (e.message.empty()) e.message = "upstream returned HTTP " + std::to_string(status);
  if (auto* s = o.if_contains("status"); s && s->is_string()) {
    std::string_view n = s->get_string();
    using ek = ir::error_kind;
    if (n == "INVALID_ARGUMENT" || n == "FAILED_PRECONDITION" || n == "OUT_OF_RANGE") {
      e.kind = status == 413 ? ek::request_too_large : ek::invalid_request;
    } else if (n == "UNAUTHENTICATED") {
      e.kind = ek::authentication;
    } else if (n == "PERMISSION_DENIED") {
      e.kind = ek::permission;
    } else if (n == "NOT_FOUND") {
      e.kind = ek::not_found;
    } else if (n == "RESOURCE_EXHAUSTED") {
      e.kind = ek::rate_limit;
    } else if (n == "INTERNAL" || n == "UNKNOWN" || n == "DATA_LOSS") {
      e.kind = ek::server;
    } else if (n == "UNAVAILABLE") {
      e.kind = ek::overloaded;
    } else if (n == "DEADLINE_EXCEEDED") {
      e.kind = ek::timeout;
    }
  }
  if (auto* d = o.if_contains("details"); d && d->is_array()) {
    for (const auto& item : d->get_array()) {
      if (!item.is_object()) continue;
      const auto& io = item.get_object();
      // AI Studio answers a bad key with 400 INVALID_ARGUMENT; every other protocol calls that
      // an authentication error, and their SDKs raise the matching exception for it.
      if (auto* r = io.if_contains("reason");
          r && r->is_string() && r->get_string() == "API_KEY_INVALID") {
        e.kind = ir::error_kind::authentication;
        e.code = "invalid_api_key";
      }
      if (auto* fv = io.if_contains("fieldViolations");
          fv && fv->is_array() && !fv->get_array().empty() && e.param.empty()) {
        const auto& first = fv->get_array()[0];
        if (first.is_object()) {
          if (auto* f = first.get_object().if_contains("field"); f && f->is_string())
            e.param = f->get_string();
        }
      }
    }
  }
  return e;
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Schemas

namespace {

bool known_format(std::string_view f) {
  return f == "enum" || f == "date-time" || f == "int32" || f == "int64" || f == "float" ||
         f == "double";
}

// Keywords of Gemini's Schema that are copied as they are.
bool plain_keyword(std::string_view k) {
  static constexpr std::string_view kept[] = {
      "title",     "description", "nullable",      "required",        "minItems", "maxItems",
      "minLength", "maxLength",   "minProperties", "maxProperties",   "pattern",  "example",
      "default",   "minimum",     "maximum",       "propertyOrdering"};
  return std::find(std::begin(kept), std::end(kept), k) != std::end(kept);
}

std::string json_pointer_token(std::string_view t) {
  std::string out;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] == '~' && i + 1 < t.size() && (t[i + 1] == '0' || t[i + 1] == '1')) {
      out += t[i + 1] == '0' ? '~' : '/';
      ++i;
    } else {
      out += t[i];
    }
  }
  return out;
}

const bj::value* resolve_ref(const bj::value& root, std::string_view ref) {
  if (!ref.starts_with("#")) return nullptr;  // remote references: nothing to fetch them with
  ref.remove_prefix(1);
  const bj::value* at = &root;
  while (!ref.empty()) {
    if (ref[0] != '/') return nullptr;
    ref.remove_prefix(1);
    auto slash = ref.find('/');
    auto token = json_pointer_token(ref.substr(0, slash));
    ref = slash == std::string_view::npos ? std::string_view{} : ref.substr(slash);
    if (at->is_object()) {
      at = at->get_object().if_contains(token);
    } else if (at->is_array()) {
      std::size_t i = 0;
      auto r = std::from_chars(token.data(), token.data() + token.size(), i);
      if (r.ec != std::errc{} || r.ptr != token.data() + token.size() ||
          i >= at->get_array().size())
        return nullptr;
      at = &at->get_array()[i];
    } else {
      return nullptr;
    }
    if (!at) return nullptr;
  }
  return at;
}

class schema_converter {
 public:
  schema_converter(const bj::value& root, bj::storage_ptr sp) : root_(root), sp_(std::move(sp)) {}

  void spend() { --budget_; }

  // `depth` counts schema levels (properties, items, anyOf...), so that inlining cannot nest
  // the output deeper than max_schema_depth.
  bj::value convert(const bj::value& in, int ref_depth, int depth) {
    --budget_;
    if (!in.is_object()) return bj::object(sp_);  // `true` / `false` schemas: Gemini has none
    if (depth > max_schema_depth) return bj::object({{"type", "object"}}, sp_);
    const auto& o = in.get_object();
    bj::object out(sp_);
    bool nullable = false;
    if (auto* ref = o.if_contains("$ref"); ref && ref->is_string()) {
      const bj::value* target = resolve_ref(root_, ref->get_string());
      if (target && ref_depth < max_ref_depth && budget_ > 0 && afford(*target)) {
        auto inlined = convert(*target, ref_depth + 1, depth);
        if (inlined.is_object()) merge(out, inlined.get_object(), nullable);
      } else {
        out["type"] = "object";  // recursive or unresolvable: any object
      }
    }
    for (const auto& m : o) {
      std::string_view k = m.key();
      const bj::value& v = m.value();
      if (k == "type") {
        type(v, out, nullable);
      } else if (k == "properties") {
        if (!v.is_object()) continue;
        bj::object props(sp_);
        for (const auto& p : v.get_object())
          props[p.key()] = convert(p.value(), ref_depth, depth + 1);
        if (!props.empty()) out["properties"] = std::move(props);
      } else if (k == "items") {
        if (v.is_array()) {  // draft-04 tuple form: Gemini has one item schema
          if (!v.get_array().empty())
            out["items"] = convert(v.get_array()[0], ref_depth, depth + 1);
        } else {
          out["items"] = convert(v, ref_depth, depth + 1);
        }
      } else if (k == "anyOf" || k == "oneOf") {
        if (v.is_array()) any_of(v.get_array(), out, nullable, ref_depth, depth);
      } else if (k == "allOf") {
        if (!v.is_array()) continue;
        for (const auto& sub : v.get_array()) {
          auto c = convert(sub, ref_depth, depth + 1);
          if (c.is_object()) merge(out, c.get_object(), nullable);
        }
      } else if (k == "enum") {
        if (v.is_array()) enum_values(v.get_array(), out, nullable);
      } else if (k == "const") {
        if (v.is_null()) {
          nullable = true;
        } else if (!o.contains("enum")) {
          bj::array e(sp_);
          e.push_back(v.is_string() ? v : bj::value(detail::to_json(v)));
          out["enum"] = std::move(e);
        }
      } else if (k == "format") {
        if (v.is_string() && known_format(v.get_string())) out["format"] = v;
      } else if (k == "nullable") {
        if (v.is_bool() && v.get_bool()) nullable = true;
      } else if (plain_keyword(k)) {
        out[k] = v;
      }
      // Everything else ($schema, $id, $defs, additionalProperties, strict, examples,
      // $comment, patternProperties, not, ...) Gemini rejects: dropped.
    }
    if (nullable) out["nullable"] = true;
    return out;
  }

 private:
  void type(const bj::value& v, bj::object& out, bool& nullable) {
    if (v.is_string()) {
      auto t = lowercase(v.get_string());
      if (t == "null") {
        nullable = true;
      } else {
        out["type"] = t;
      }
      return;
    }
    if (!v.is_array()) return;
    bj::array types(sp_);
    for (const auto& t : v.get_array()) {
      if (!t.is_string()) continue;
      auto name = lowercase(t.get_string());
      if (name == "null") {
        nullable = true;
      } else {
        types.emplace_back(name);
      }
    }
    if (types.size() == 1) {
      out["type"] = std::move(types[0]);
    } else if (types.size() > 1) {
      bj::array branches(sp_);
      for (auto& t : types)
        branches.push_back(bj::object({{"type", std::move(t)}}, sp_));
      out["anyOf"] = std::move(branches);
    }
  }

  static bool is_null_branch(const bj::value& b) {
    if (!b.is_object()) return false;
    const auto& o = b.get_object();
    return o.size() == 1 && o.contains("nullable");  // what {"type":"null"} converts to
  }

  void any_of(const bj::array& in, bj::object& out, bool& nullable, int ref_depth, int depth) {
    bj::array branches(sp_);
    for (const auto& b : in) {
      auto c = convert(b, ref_depth, depth + 1);
      if (is_null_branch(c)) {
        nullable = true;
      } else {
        branches.push_back(std::move(c));
      }
    }
    if (branches.size() == 1 && branches[0].is_object()) {
      merge(out, branches[0].get_object(), nullable);
    } else if (!branches.empty()) {
      out["anyOf"] = std::move(branches);
    }
  }

  void enum_values(const bj::array& in, bj::object& out, bool& nullable) {
    bj::array values(sp_);
    for (const auto& v : in) {
      if (v.is_null()) {
        nullable = true;
      } else if (v.is_string()) {
        values.push_back(v);
      } else {
        values.emplace_back(detail::to_json(v));
      }
    }
    if (!values.empty()) out["enum"] = std::move(values);
  }

  // allOf / a single anyOf branch: keys the node does not have yet; properties and required
  // are unions.
  // `nullable` is gathered, not copied: it is written once, last, which keeps the output a
  // fixed point of from_gemini_schema + to_gemini_schema.
  static void merge(bj::object& out, const bj::object& in, bool& nullable) {
    for (const auto& m : in) {
      if (m.key() == "nullable") {
        nullable = nullable || (m.value().is_bool() && m.value().get_bool());
        continue;
      }
      auto* mine = out.if_contains(m.key());
      if (!mine) {
        out[m.key()] = m.value();
      } else if (m.key() == "properties" && mine->is_object() && m.value().is_object()) {
        for (const auto& p : m.value().get_object())
          if (!mine->get_object().contains(p.key())) mine->get_object()[p.key()] = p.value();
      } else if (m.key() == "required" && mine->is_array() && m.value().is_array()) {
        for (const auto& r : m.value().get_array())
          if (std::find(mine->get_array().begin(), mine->get_array().end(), r) ==
              mine->get_array().end())
            mine->get_array().push_back(r);
      }
    }
  }

  // Each inlining copies its target: a few references to a big definition must not turn a
  // small body into gigabytes. Sizes are measured once per target.
  bool afford(const bj::value& target) {
    auto [it, fresh] = sizes_.try_emplace(&target, 0);
    if (fresh) it->second = static_cast<long>(bj::serialize(target).size());
    bytes_ -= it->second;
    return bytes_ >= 0;
  }

  const bj::value& root_;
  bj::storage_ptr sp_;  // where the converted tree is built
  // Bounds the work $ref inlining can cause: past it, references become {"type":"object"}.
  long budget_ = 10000;
  long bytes_ = 2L << 20;
  std::unordered_map<const bj::value*, long> sizes_;
};

// to_gemini_schema written straight out, for the encoder: most schemas are plain (properties,
// items, enums of strings, descriptions) and need no tree to be built. A node that is not plain
// ($ref, anyOf, allOf, const, type lists...) is converted by schema_converter, whose output it
// matches byte for byte on plain nodes.
class schema_writer {
 public:
  schema_writer(std::string& out, const bj::value& root)
      : out_(out), converter_(root, bj::storage_ptr(&arena_)) {}

  void write(const bj::value& node, int depth) {
    if (node.is_object() && !plain(node.get_object()) && depth <= max_schema_depth) {
      detail::append_json(out_, converter_.convert(node, 0, depth));
      return;
    }
    converter_.spend();  // as convert() would: the same budget, spent in the same order
    if (!node.is_object()) {
      out_ += "{}";
      return;
    }
    if (depth > max_schema_depth) {
      out_ += R"({"type":"object"})";
      return;
    }
    const auto& o = node.get_object();
    out_ += '{';
    bool first = true;
    bool nullable = false;
    auto key = [&](std::string_view k) {
      if (!first) out_ += ',';
      first = false;
      detail::quote(out_, k);
      out_ += ':';
    };
    for (const auto& m : o) {
      std::string_view k = m.key();
      const bj::value& v = m.value();
      if (k == "type") {
        if (!v.is_string()) continue;
        key(k);
        std::string_view t = v.get_string();
        if (has_upper(t)) {
          detail::quote(out_, lowercase(t));
        } else {
          detail::quote(out_, t);
        }
      } else if (k == "properties") {
        if (!v.is_object() || v.get_object().empty()) continue;
        key(k);
        out_ += '{';
        bool first_property = true;
        for (const auto& p : v.get_object()) {
          if (!first_property) out_ += ',';
          first_property = false;
          detail::quote(out_, p.key());
          out_ += ':';
          write(p.value(), depth + 1);
        }
        out_ += '}';
      } else if (k == "items") {
        key(k);
        write(v, depth + 1);
      } else if (k == "enum") {
        if (!v.is_array() || v.get_array().empty()) continue;
        key(k);
        detail::append_json(out_, v);
      } else if (k == "format") {
        if (!v.is_string() || !known_format(v.get_string())) continue;
        key(k);
        detail::append_json(out_, v);
      } else if (k == "nullable") {
        if (v.is_bool() && v.get_bool()) nullable = true;
      } else if (plain_keyword(k)) {
        key(k);
        detail::append_json(out_, v);
      }
    }
    if (nullable) {
      key("nullable");
      out_ += "true";
    }
    out_ += '}';
  }

 private:
  static bool plain(const bj::object& o) {
    for (const auto& m : o) {
      std::string_view k = m.key();
      const bj::value& v = m.value();
      if (k == "$ref" || k == "anyOf" || k == "oneOf" || k == "allOf" || k == "const") return false;
      if (k == "type" && (v.is_array() || (v.is_string() && is_null_type(v.get_string()))))
        return false;
      if (k == "items" && v.is_array()) return false;
      if (k == "enum" && v.is_array()) {
        for (const auto& e : v.get_array())
          if (!e.is_string()) return false;
      }
    }
    return true;
  }

  std::string& out_;
  unsigned char buf_[4096];
  bj::monotonic_resource arena_{buf_, sizeof buf_};
  schema_converter converter_;  // one for the whole schema: one budget
};

// Builds in default storage: the result outlives the parsed body it reads from.
bj::value from_gemini(const bj::value& in) {
  if (!in.is_object()) return bj::value(in, bj::storage_ptr());
  bj::object out;
  out.reserve(in.get_object().size());
  bool nullable = false;
  for (const auto& m : in.get_object()) {
    std::string_view k = m.key();
    const bj::value& v = m.value();
    if (k == "type" && v.is_string()) {
      out["type"] = lowercase(v.get_string());
    } else if (k == "nullable") {
      nullable = v.is_bool() && v.get_bool();
    } else if (k == "properties" && v.is_object()) {
      bj::object props;
      for (const auto& p : v.get_object())
        props[p.key()] = from_gemini(p.value());
      out["properties"] = std::move(props);
    } else if (k == "items") {
      out["items"] = from_gemini(v);
    } else if (k == "anyOf" && v.is_array()) {
      bj::array branches;
      for (const auto& b : v.get_array())
        branches.push_back(from_gemini(b));
      out["anyOf"] = std::move(branches);
    } else {
      out[k] = v;
    }
  }
  if (nullable) {
    auto* t = out.if_contains("type");
    if (t && t->is_string()) {
      bj::array both{*t, "null"};
      *t = std::move(both);
    } else {
      out["nullable"] = true;  // no type to widen: keep Gemini's flag
    }
  }
  return out;
}

}  // namespace

bj::value to_gemini_schema(const bj::value& schema) {
  schema_converter c(schema, {});
  return c.convert(schema, 0, 0);
}

namespace detail {

bool append_gemini_schema(std::string& out, const bj::value& schema) {
  std::size_t mark = out.size();
  schema_writer w(out, schema);
  w.write(schema, 0);
  // Gemini rejects an OBJECT with empty properties: a tool without arguments has no parameters.
  std::string_view written = std::string_view(out).substr(mark);
  if (written == "{}" || written == R"({"type":"object"})") {
    out.resize(mark);
    return false;
  }
  return true;
}

}  // namespace detail

bj::value from_gemini_schema(const bj::value& schema) {
  return from_gemini(schema);
}

// ---------------------------------------------------------------------------------------------
// Requests

namespace {

error bad_request(std::string message, std::string param) {
  return error{errc::invalid_request, std::move(message), std::move(param)};
}

std::string effort_for_budget(std::int64_t budget) {
  if (budget <= 0) return {};
  if (budget <= 1024) return "minimal";
  if (budget <= 2048) return "low";
  if (budget <= 8192) return "medium";
  return "high";
}

std::int64_t budget_for_effort(std::string_view effort) {
  if (effort == "none") return 0;
  if (effort == "minimal") return 1024;
  if (effort == "low") return 2048;
  if (effort == "medium") return 8192;
  return 24576;  // high, and anything above it (xhigh, max)
}

class request_reader {
 public:
  explicit request_reader(ir::request& r) : r_(r) {}

  std::optional<error> read(const bj::object& body) {
    const bj::value* contents = nullptr;
    for (const auto& m : body) {
      auto k = camel(m.key(), key_buf_);
      const bj::value& v = m.value();
      if (k == "contents") {
        contents = &v;
      } else if (k == "systemInstruction") {
        if (auto e = system(v)) return e;
      } else if (k == "tools") {
        if (auto e = tools(v)) return e;
      } else if (k == "toolConfig") {
        if (auto e = tool_config(v)) return e;
      } else if (k == "generationConfig") {
        if (auto e = generation_config(v)) return e;
      } else if (k == "safetySettings" || k == "cachedContent") {
        r_.extra[k] = v;
      } else if (m.key().find('.') != bj::string_view::npos) {
        // No Gemini field has a dot, and extra keys with one are ours ("generationConfig.x").
        return bad_request("unknown field " + std::string(m.key()), std::string(m.key()));
      } else {
        r_.extra[m.key()] = v;
      }
    }
    if (!contents) return bad_request("contents is required", "contents");
    return this->contents(*contents);
  }

 private:
  std::optional<error> contents(const bj::value& v) {
    if (!v.is_array()) return bad_request("contents must be an array", "contents");
    const auto& arr = v.get_array();
    r_.messages.reserve(arr.size());
    for (std::size_t i = 0; i < arr.size(); ++i)
      if (auto e = content(arr[i], i)) return e;
    return std::nullopt;
  }

  static std::string at(std::size_t i) { return "contents[" + std::to_string(i) + "]"; }
  static std::string at(std::size_t i, std::size_t j) {
    return at(i) + ".parts[" + std::to_string(j) + "]";
  }

  std::optional<error> content(const bj::value& v, std::size_t i) {
    if (!v.is_object()) return bad_request("each content must be an object", at(i));
    const bj::value* parts = nullptr;
    bool model = false;
    for (const auto& m : v.get_object()) {
      auto k = camel(m.key(), key_buf_);
      if (k == "role") {
        if (!m.value().is_string()) return bad_request("role must be a string", at(i) + ".role");
        std::string_view role = m.value().get_string();
        if (role == "model") {
          model = true;
        } else if (role != "user" && role != "function" && !role.empty()) {
          return bad_request("role must be \"user\" or \"model\"", at(i) + ".role");
        }
      } else if (k == "parts") {
        parts = &m.value();
      }
    }
    if (!parts) return std::nullopt;
    if (!parts->is_array()) return bad_request("parts must be an array", at(i) + ".parts");
    const auto& arr = parts->get_array();
    ir::message* current = nullptr;
    for (std::size_t j = 0; j < arr.size(); ++j) {
      if (!arr[j].is_object()) return bad_request("each part must be an object", at(i, j));
      ir::part p;
      std::string message, field;
      auto res = detail::decode_part(arr[j].get_object(), p, message, field, key_buf_);
      if (res == detail::part_result::bad) return bad_request(message, at(i, j) + "." + field);
      if (res == detail::part_result::skip) continue;
      ir::role who = ir::role::user;
      if (p.type == ir::part::kind::tool_call) {
        if (!model)
          return bad_request("functionCall parts belong in a model content",
                             at(i, j) + ".functionCall");
        if (p.id.empty()) p.id = "call_" + std::to_string(calls_.size());
        calls_.push_back({p.id, p.name, false});
      } else if (p.type == ir::part::kind::tool_result) {
        if (model)
          return bad_request("functionResponse parts belong in a user content",
                             at(i, j) + ".functionResponse");
        match(p);
        who = ir::role::tool;
      }
      if (model) who = ir::role::assistant;
      // A user content mixing functionResponse and other parts becomes a tool message and a
      // user message, in the order the parts came.
      if (!current || current->who != who) {
        r_.messages.emplace_back();
        current = &r_.messages.back();
        current->who = who;
        current->parts.reserve(arr.size() - j);
      }
      detail::push_part(current->parts, std::move(p));
    }
    return std::nullopt;
  }

  // A functionResponse without an id answers the earliest earlier functionCall of that name
  // that has no answer yet.
  void match(ir::part& p) {
    if (!p.id.empty()) {
      for (auto& c : calls_)
        if (c.id == p.id && !c.answered) {
          c.answered = true;
          if (p.name.empty()) p.name = c.name;
          break;
        }
      return;
    }
    for (auto& c : calls_) {
      if (!c.answered && c.name == p.name) {
        c.answered = true;
        p.id = c.id;
        return;
      }
    }
    p.id = "call_unmatched_" + std::to_string(unmatched_++);
  }

  std::optional<error> system(const bj::value& v) {
    if (v.is_string()) {  // the SDKs accept a bare string; be as lenient
      ir::part p;
      p.text = v.get_string();
      r_.system.push_back(std::move(p));
      return std::nullopt;
    }
    if (!v.is_object())
      return bad_request("systemInstruction must be an object", "systemInstruction");
    const bj::value* parts = nullptr;
    for (const auto& m : v.get_object())
      if (camel(m.key(), key_buf_) == "parts") parts = &m.value();
    if (!parts) return std::nullopt;
    if (!parts->is_array())
      return bad_request("systemInstruction.parts must be an array", "systemInstruction.parts");
    const auto& arr = parts->get_array();
    for (std::size_t j = 0; j < arr.size(); ++j) {
      const bj::value* text =
          arr[j].is_object() ? arr[j].get_object().if_contains("text") : nullptr;
      if (!arr[j].is_object())
        return bad_request("each part must be an object",
                           "systemInstruction.parts[" + std::to_string(j) + "]");
      if (!text) continue;  // only text is a system prompt everywhere else
      if (!text->is_string())
        return bad_request("text must be a string",
                           "systemInstruction.parts[" + std::to_string(j) + "].text");
      ir::part p;
      p.text = text->get_string();
      r_.system.push_back(std::move(p));
    }
    return std::nullopt;
  }

  std::optional<error> tools(const bj::value& v) {
    if (!v.is_array()) return bad_request("tools must be an array", "tools");
    const auto& arr = v.get_array();
    for (std::size_t i = 0; i < arr.size(); ++i) {
      std::string path = "tools[" + std::to_string(i) + "]";
      if (!arr[i].is_object()) return bad_request("each tool must be an object", path);
      for (const auto& m : arr[i].get_object()) {
        auto k = camel(m.key(), key_buf_);
        if (k != "functionDeclarations") {
          r_.extra[std::string("tools.") + std::string(k)] = m.value();
          continue;
        }
        if (!m.value().is_array())
          return bad_request("functionDeclarations must be an array",
                             path + ".functionDeclarations");
        const auto& decls = m.value().get_array();
        for (std::size_t j = 0; j < decls.size(); ++j)
          if (auto e =
                  declaration(decls[j], path + ".functionDeclarations[" + std::to_string(j) + "]"))
            return e;
      }
    }
    return std::nullopt;
  }

  std::optional<error> declaration(const bj::value& v, const std::string& path) {
    if (!v.is_object()) return bad_request("each function declaration must be an object", path);
    ir::tool t;
    bool named = false;
    for (const auto& m : v.get_object()) {
      auto k = camel(m.key(), key_buf_);
      const bj::value& f = m.value();
      if (k == "name") {
        if (!f.is_string()) return bad_request("name must be a string", path + ".name");
        t.name = f.get_string();
        named = true;
      } else if (k == "description") {
        if (!f.is_string())
          return bad_request("description must be a string", path + ".description");
        t.description = f.get_string();
      } else if (k == "parameters") {
        if (!f.is_null() && !f.is_object())
          return bad_request("parameters must be an object", path + ".parameters");
        if (t.parameters.is_null() && !f.is_null()) t.parameters = from_gemini_schema(f);
      } else if (k == "parametersJsonSchema") {
        if (!f.is_null() && !f.is_object())
          return bad_request("parametersJsonSchema must be an object",
                             path + ".parametersJsonSchema");
        if (!f.is_null()) t.parameters = f;  // raw JSON Schema: wins over `parameters`
      }
    }
    if (!named) return bad_request("name is required", path + ".name");
    r_.tools.push_back(std::move(t));
    return std::nullopt;
  }

  std::optional<error> tool_config(const bj::value& v) {
    if (!v.is_object()) return bad_request("toolConfig must be an object", "toolConfig");
    for (const auto& m : v.get_object()) {
      auto k = camel(m.key(), key_buf_);
      if (k != "functionCallingConfig") {
        r_.extra[std::string("toolConfig.") + std::string(k)] = m.value();
        continue;
      }
      if (!m.value().is_object())
        return bad_request("functionCallingConfig must be an object",
                           "toolConfig.functionCallingConfig");
      std::string_view mode;
      const bj::array* names = nullptr;
      for (const auto& f : m.value().get_object()) {
        auto fk = camel(f.key(), key_buf_);
        if (fk == "mode" && f.value().is_string()) {
          mode = f.value().get_string();
        } else if (fk == "allowedFunctionNames" && f.value().is_array()) {
          names = &f.value().get_array();
        }
      }
      using ck = ir::tool_choice::kind;
      if (mode == "AUTO" || mode == "VALIDATED") {
        r_.choice.type = ck::auto_;
      } else if (mode == "NONE") {
        r_.choice.type = ck::none;
      } else if (mode == "ANY") {
        // One allowed name is a named choice; several cannot be said in the IR: any tool.
        if (names && names->size() == 1 && (*names)[0].is_string()) {
          r_.choice.type = ck::named;
          r_.choice.name = (*names)[0].get_string();
        } else {
          r_.choice.type = ck::required;
        }
      }
    }
    return std::nullopt;
  }

  std::optional<error> generation_config(const bj::value& v) {
    if (!v.is_object())
      return bad_request("generationConfig must be an object", "generationConfig");
    const bj::value* mime = nullptr;
    const bj::value* schema = nullptr;
    const bj::value* json_schema = nullptr;
    std::string key_buf;  // key_buf_ may back `k` of the loop while a member is read
    for (const auto& m : v.get_object()) {
      auto k = camel(m.key(), key_buf);
      const bj::value& f = m.value();
      auto param = [&] { return "generationConfig." + std::string(m.key()); };
      auto number = [&](std::optional<double>& out) -> std::optional<error> {
        double d;
        if (!as_double(f, d)) return bad_request(std::string(k) + " must be a number", param());
        out = d;
        return std::nullopt;
      };
      auto integer = [&](std::optional<std::int64_t>& out) -> std::optional<error> {
        std::int64_t n;
        if (!as_int(f, n)) return bad_request(std::string(k) + " must be an integer", param());
        out = n;
        return std::nullopt;
      };
      std::optional<error> e;
      if (f.is_null()) continue;
      if (k == "temperature") {
        e = number(r_.temperature);
      } else if (k == "topP") {
        e = number(r_.top_p);
      } else if (k == "topK") {
        e = integer(r_.top_k);
      } else if (k == "maxOutputTokens") {
        e = integer(r_.max_tokens);
      } else if (k == "seed") {
        e = integer(r_.seed);
      } else if (k == "presencePenalty") {
        e = number(r_.presence_penalty);
      } else if (k == "frequencyPenalty") {
        e = number(r_.frequency_penalty);
      } else if (k == "candidateCount") {
        std::optional<std::int64_t> n;
        e = integer(n);
        if (n) r_.n = static_cast<int>(std::clamp<std::int64_t>(*n, 1, 1 << 20));
      } else if (k == "stopSequences") {
        if (!f.is_array()) return bad_request("stopSequences must be an array", param());
        for (const auto& s : f.get_array()) {
          if (!s.is_string()) return bad_request("stopSequences must hold strings", param());
          r_.stop.emplace_back(s.get_string());
        }
      } else if (k == "responseMimeType") {
        if (!f.is_string()) return bad_request("responseMimeType must be a string", param());
        mime = &f;
      } else if (k == "responseSchema") {
        schema = &f;
      } else if (k == "responseJsonSchema") {
        json_schema = &f;
      } else if (k == "thinkingConfig") {
        e = thinking(f);
      } else {
        r_.extra["generationConfig." + std::string(k)] = f;
      }
      if (e) return e;
    }
    std::string_view mime_type;
    if (mime) mime_type = mime->get_string();
    if (mime_type == "application/json") {
      if (json_schema) {
        r_.format.type = ir::response_format::kind::json_schema;
        r_.format.schema = *json_schema;
      } else if (schema) {
        r_.format.type = ir::response_format::kind::json_schema;
        r_.format.schema = from_gemini_schema(*schema);
      } else {
        r_.format.type = ir::response_format::kind::json_object;
      }
    } else {
      // text/x.enum and friends: nothing in the IR says them; a Gemini upstream gets them back.
      if (mime && mime_type != "text/plain") r_.extra["generationConfig.responseMimeType"] = *mime;
      if (schema) r_.extra["generationConfig.responseSchema"] = *schema;
      if (json_schema) r_.extra["generationConfig.responseJsonSchema"] = *json_schema;
    }
    return std::nullopt;
  }

  std::optional<error> thinking(const bj::value& v) {
    if (!v.is_object())
      return bad_request("thinkingConfig must be an object", "generationConfig.thinkingConfig");
    auto& rc = r_.reasoning;
    std::string key_buf;
    for (const auto& m : v.get_object()) {
      auto k = camel(m.key(), key_buf);
      const bj::value& f = m.value();
      if (k == "thinkingBudget") {
        std::int64_t n;
        if (!as_int(f, n))
          return bad_request("thinkingBudget must be an integer",
                             "generationConfig.thinkingConfig.thinkingBudget");
        rc.budget_tokens = n;
        rc.effort = effort_for_budget(n);
        rc.enabled = n != 0;  // -1 is "dynamic": thinking on, the model picks the budget
      } else if (k == "includeThoughts") {
        if (!f.is_bool())
          return bad_request("includeThoughts must be a boolean",
                             "generationConfig.thinkingConfig.includeThoughts");
        rc.include_thoughts = f.get_bool();
        if (rc.include_thoughts) rc.enabled = true;
      } else if (k == "thinkingLevel") {
        if (!f.is_string())
          return bad_request("thinkingLevel must be a string",
                             "generationConfig.thinkingConfig.thinkingLevel");
        auto level = lowercase(f.get_string());
        if (level != "thinking_level_unspecified") {
          if (!rc.budget_tokens) rc.effort = level;
          rc.enabled = true;
        }
      }
    }
    return std::nullopt;
  }

  struct call_seen {
    std::string id;
    std::string name;
    bool answered = false;
  };

  ir::request& r_;
  std::vector<call_seen> calls_;
  std::size_t unmatched_ = 0;
  std::string key_buf_;
};

// Writes the contents array: consecutive messages of the same Gemini role share one content,
// and a message left with no parts writes nothing.
class contents_writer {
 public:
  explicit contents_writer(std::string& out) : out_(out) {}

  void begin_part(std::string_view role) {
    if (role == role_) {
      out_ += ',';
      return;
    }
    if (!role_.empty()) out_ += "]},";
    out_ += "{\"role\":\"";
    out_ += role;
    out_ += "\",\"parts\":[";
    role_ = role;
  }
  // Undoes begin_part when the part turned out to write nothing.
  void close() {
    if (!role_.empty()) out_ += "]}";
  }
  std::string_view role() const { return role_; }

 private:
  std::string& out_;
  std::string_view role_;
};

// A tool result's functionResponse.response: a JSON object result is passed as the object
// itself (Gemini reads an object without "output" as the output), anything else as
// {"output": text}, or {"error": text} for a failed call.
void append_function_response(std::string& out, const ir::part& p, const std::string& name) {
  std::string joined;
  std::string_view text;
  std::size_t texts = 0;
  for (const auto& c : p.content) {
    if (c.type != ir::part::kind::text) continue;
    if (texts++ == 0) {
      text = c.text;
    } else {
      if (texts == 2) joined = text;
      joined += '\n';
      joined += c.text;
      text = joined;
    }
  }
  out += "{\"functionResponse\":{\"name\":";
  detail::quote(out, name);
  out += ",\"response\":";
  std::size_t at = text.find_first_not_of(" \t\r\n");
  if (at != std::string_view::npos && text[at] == '{') {
    bj::error_code ec;
    auto v = bj::parse(text, ec, {}, detail::parse_options());
    if (!ec && v.is_object() && (!p.is_error || v.get_object().contains("error"))) {
      detail::append_json(out, v);
      out += "}}";
      return;
    }
  }
  out += p.is_error ? "{\"error\":" : "{\"output\":";
  detail::quote(out, text);
  out += "}}}";
}

void append_key(std::string& out, bool& first, std::string_view key) {
  if (!first) out += ',';
  first = false;
  out += '"';
  out += key;
  out += "\":";
}

void add_dropped(ir::dropped_fields& dropped, std::string_view name) {
  if (std::find(dropped.begin(), dropped.end(), name) == dropped.end()) dropped.emplace_back(name);
}

}  // namespace

std::variant<ir::request, error> decode_request(std::string_view body) {
  // The parsed body lives only for this call: one arena, released at once (Boost skips the
  // per-node destruction for it). What the IR keeps is copied out of it into its own storage.
  unsigned char buf[16384];
  bj::monotonic_resource arena(buf, sizeof buf);
  bj::error_code ec;
  bj::value v = bj::parse(body, ec, &arena, detail::parse_options());
  if (ec) return bad_request("request body is not valid JSON", "");
  if (!v.is_object()) return bad_request("request body must be a JSON object", "");
  ir::request r;
  r.source = ir::protocol::gemini;
  request_reader reader(r);
  if (auto e = reader.read(v.get_object())) return *e;
  return r;
}

std::variant<std::string, error> encode_request(const ir::request& r, ir::dropped_fields& dropped) {
  if (r.n > 1)
    return bad_request("n > 1 is not supported with a Gemini upstream (candidateCount)", "n");
  const bool own = r.source == ir::protocol::gemini;
  std::string out;
  out.reserve(4096);
  out += "{\"contents\":[";
  contents_writer contents(out);
  // tool call id -> name, for functionResponse.name when a result does not carry it.
  std::vector<std::pair<std::string_view, std::string_view>> call_names;
  bool cache_control = false;
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    const auto& m = r.messages[i];
    const bool model = m.who == ir::role::assistant;
    std::string_view role = model ? "model" : "user";
    std::string_view carried;  // a reasoning signature moved onto the next part
    for (std::size_t j = 0; j < m.parts.size(); ++j) {
      const auto& p = m.parts[j];
      using k = ir::part::kind;
      if (!p.cache_control.is_null()) cache_control = true;
      if (p.type == k::tool_result) {
        std::string_view name = p.name;
        if (name.empty()) {
          for (auto it = call_names.rbegin(); it != call_names.rend(); ++it)
            if (it->first == p.id) {
              name = it->second;
              break;
            }
        }
        if (name.empty())
          return bad_request("tool result " + p.id +
                                 " answers no earlier tool call; Gemini needs the function name",
                             "messages[" + std::to_string(i) + "]");
        contents.begin_part("user");
        append_function_response(out, p, std::string(name));
        // Images a tool returned: Gemini takes them as parts next to the response.
        for (const auto& c : p.content) {
          if (c.type != k::image && c.type != k::document) continue;
          contents.begin_part("user");
          detail::append_model_part(out, c, false, {});
        }
        continue;
      }
      if (p.type == k::redacted_reasoning) {
        add_dropped(dropped, "redacted_reasoning");
        continue;
      }
      if (!model && (p.type == k::tool_call || p.type == k::reasoning)) continue;
      if (p.type == k::tool_call) call_names.emplace_back(p.id, p.name);
      std::string_view signature = p.signature;
      if (!carried.empty() && p.type != k::reasoning) {
        if (signature.empty()) signature = carried;
        carried = {};
      }
      // A signature that reached us on a reasoning part of another protocol (Anthropic carries
      // it on the thinking block) belongs, for Gemini, on the part that follows the thoughts:
      // Gemini 3 rejects a functionCall of the current turn without its signature.
      if (!own && p.type == k::reasoning && !p.signature.empty() && j + 1 < m.parts.size() &&
          (m.parts[j + 1].type == k::tool_call ||
           (m.parts[j + 1].type == k::text && !m.parts[j + 1].text.empty())) &&
          m.parts[j + 1].signature.empty()) {
        carried = p.signature;
        signature = {};
      }
      // begin_part writes the separator: only call it for a part that writes something.
      bool empty_text =
          (p.type == k::text || p.type == k::reasoning) && p.text.empty() && signature.empty();
      if (empty_text) continue;
      contents.begin_part(role);
      detail::append_model_part(out, p, false, signature);
    }
  }
  contents.close();
  out += ']';
  if (cache_control) add_dropped(dropped, "cache_control");

  bool has_system = false;
  for (const auto& p : r.system) {
    if (!p.cache_control.is_null()) add_dropped(dropped, "cache_control");
    if (p.text.empty()) continue;
    out += has_system ? ",{\"text\":" : ",\"systemInstruction\":{\"parts\":[{\"text\":";
    detail::quote(out, p.text);
    out += '}';
    has_system = true;
  }
  if (has_system) out += "]}";

  // tools
  bool tools_open = false;
  auto open_tools = [&] {
    out += tools_open ? "," : ",\"tools\":[";
    tools_open = true;
  };
  if (!r.tools.empty()) {
    open_tools();
    out += "{\"functionDeclarations\":[";
    bool strict = false;
    for (std::size_t i = 0; i < r.tools.size(); ++i) {
      const auto& t = r.tools[i];
      if (i) out += ',';
      out += "{\"name\":";
      detail::quote(out, t.name);
      if (!t.description.empty()) {
        out += ",\"description\":";
        detail::quote(out, t.description);
      }
      if (t.parameters.is_object()) {
        std::size_t mark = out.size();
        out += ",\"parameters\":";
        if (!detail::append_gemini_schema(out, t.parameters)) out.resize(mark);
      }
      out += '}';
      if (t.strict.value_or(false)) strict = true;
      if (!t.cache_control.is_null()) add_dropped(dropped, "cache_control");
    }
    out += "]}";
    if (strict) add_dropped(dropped, "strict");
  }
  if (own) {
    for (const auto& e : r.extra) {
      std::string_view key = e.key();
      if (!key.starts_with("tools.")) continue;
      open_tools();
      out += '{';
      detail::quote(out, key.substr(6));
      out += ':';
      detail::append_json(out, e.value());
      out += '}';
    }
  }
  if (tools_open) out += ']';

  // toolConfig
  {
    bool first = true;
    auto open = [&] {
      if (first)
        out += ",\"toolConfig\":{";
      else
        out += ',';
      first = false;
    };
    using ck = ir::tool_choice::kind;
    // Gemini refuses a function calling config without function declarations ("Function calling
    // config is set without function_declarations"); without tools the choice means nothing.
    if (r.choice.type != ck::unset && !r.tools.empty()) {
      open();
      out += "\"functionCallingConfig\":{\"mode\":\"";
      switch (r.choice.type) {
        case ck::none:
          out += "NONE\"";
          break;
        case ck::required:
          out += "ANY\"";
          break;
        case ck::named:
          out += "ANY\"";
          if (!r.choice.name.empty()) {
            out += ",\"allowedFunctionNames\":[";
            detail::quote(out, r.choice.name);
            out += ']';
          }
          break;
        default:
          out += "AUTO\"";
      }
      out += '}';
    }
    if (own) {
      for (const auto& e : r.extra) {
        std::string_view key = e.key();
        if (!key.starts_with("toolConfig.")) continue;
        open();
        detail::quote(out, key.substr(11));
        out += ':';
        detail::append_json(out, e.value());
      }
    }
    if (!first) out += '}';
    if (r.choice.parallel == false) add_dropped(dropped, "parallel_tool_calls");
  }

  // generationConfig
  {
    std::string g;
    bool first = true;
    if (!r.stop.empty()) {
      append_key(g, first, "stopSequences");
      g += '[';
      for (std::size_t i = 0; i < r.stop.size(); ++i) {
        if (i) g += ',';
        detail::quote(g, r.stop[i]);
      }
      g += ']';
    }
    auto number = [&](std::string_view key, const std::optional<double>& v) {
      if (!v) return;
      append_key(g, first, key);
      detail::append_number(g, *v);
    };
    auto integer = [&](std::string_view key, const std::optional<std::int64_t>& v) {
      if (!v) return;
      append_key(g, first, key);
      detail::append_number(g, *v);
    };
    number("temperature", r.temperature);
    number("topP", r.top_p);
    integer("topK", r.top_k);
    integer("maxOutputTokens", r.max_tokens);
    number("presencePenalty", r.presence_penalty);
    number("frequencyPenalty", r.frequency_penalty);
    integer("seed", r.seed);
    using fk = ir::response_format::kind;
    if (r.format.type != fk::text) {
      append_key(g, first, "responseMimeType");
      g += "\"application/json\"";
      if (r.format.type == fk::json_schema && !r.format.schema.is_null()) {
        append_key(g, first, "responseJsonSchema");
        detail::append_json(g, r.format.schema);
      }
    }
    const auto& rc = r.reasoning;
    // A Gemini client's thinkingLevel comes back as one; every other effort becomes a budget.
    bool level = own && !rc.budget_tokens && !rc.effort.empty();
    std::optional<std::int64_t> budget = rc.budget_tokens;
    if (!budget && !level && !rc.effort.empty()) budget = budget_for_effort(rc.effort);
    bool include = rc.include_thoughts || (!own && rc.enabled && budget != 0);
    if (budget || level || include) {
      append_key(g, first, "thinkingConfig");
      g += '{';
      bool tf = true;
      if (budget) {
        append_key(g, tf, "thinkingBudget");
        detail::append_number(g, *budget);
      }
      if (level) {
        append_key(g, tf, "thinkingLevel");
        detail::quote(g, rc.effort);
      }
      if (include) {
        append_key(g, tf, "includeThoughts");
        g += "true";
      }
      g += '}';
    }
    if (own) {
      for (const auto& e : r.extra) {
        std::string_view key = e.key();
        if (!key.starts_with("generationConfig.")) continue;
        key.remove_prefix(17);
        // A client's responseMimeType the IR could not model, unless the IR's format wrote one.
        if (key == "responseMimeType" && r.format.type != fk::text) continue;
        if (!first) g += ',';
        first = false;
        detail::quote(g, key);  // the client's name: it may need escaping
        g += ':';
        detail::append_json(g, e.value());
      }
    }
    if (!first) {
      out += ",\"generationConfig\":{";
      out += g;
      out += '}';
    }
  }

  if (!r.user.empty()) add_dropped(dropped, "user");
  for (const auto& e : r.extra) {
    std::string_view key = e.key();
    if (!own) {
      add_dropped(dropped, key);
      continue;
    }
    if (key.starts_with("tools.") || key.starts_with("toolConfig.") ||
        key.starts_with("generationConfig."))
      continue;
    out += ',';
    detail::quote(out, key);
    out += ':';
    detail::append_json(out, e.value());
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Responses

namespace {

error bad_response(std::string message) {
  return error{errc::upstream_bad_response, std::move(message), ""};
}

}  // namespace

std::variant<ir::response, error> decode_response(std::string_view body) {
  bj::error_code ec;
  unsigned char buf[8192];
  bj::monotonic_resource arena(buf, sizeof buf);
  bj::value v = bj::parse(body, ec, &arena, detail::parse_options());
  if (ec || !v.is_object()) return bad_response("Gemini response is not a JSON object");
  const auto& o = v.get_object();
  if (o.contains("error")) return bad_response("Gemini response holds an error object");
  ir::response r;
  std::string key_buf;
  const bj::value* candidates = nullptr;
  const bj::value* feedback = nullptr;
  for (const auto& m : o) {
    auto k = camel(m.key(), key_buf);
    const bj::value& f = m.value();
    if (k == "candidates") {
      candidates = &f;
    } else if (k == "usageMetadata" && f.is_object()) {
      r.tokens = detail::usage_from(f.get_object());
    } else if (k == "modelVersion" && f.is_string()) {
      r.model = f.get_string();
    } else if (k == "responseId" && f.is_string()) {
      r.id = f.get_string();
    } else if (k == "promptFeedback") {
      feedback = &f;
    }
  }
  const bj::object* candidate = nullptr;
  if (candidates) {
    if (!candidates->is_array()) return bad_response("Gemini response: candidates is not an array");
    if (!candidates->get_array().empty()) {
      const auto& c0 = candidates->get_array()[0];
      if (!c0.is_object()) return bad_response("Gemini response: a candidate is not an object");
      candidate = &c0.get_object();
    }
  }
  if (!candidate) {
    // A prompt blocked outright: promptFeedback.blockReason and no candidates.
    if (feedback && feedback->is_object() && feedback->get_object().contains("blockReason"))
      r.finish = ir::finish_reason::content_filter;
    return r;
  }
  bool saw_call = false;
  std::string_view reason;
  for (const auto& m : *candidate) {
    auto k = camel(m.key(), key_buf);
    if (k == "finishReason" && m.value().is_string()) {
      reason = m.value().get_string();
    } else if (k == "content" && m.value().is_object()) {
      const auto* parts = m.value().get_object().if_contains("parts");
      if (!parts || !parts->is_array()) continue;
      for (const auto& pv : parts->get_array()) {
        if (!pv.is_object()) return bad_response("Gemini response: a part is not an object");
        ir::part p;
        std::string message, field;
        auto res = detail::decode_part(pv.get_object(), p, message, field, key_buf);
        if (res == detail::part_result::bad) return bad_response("Gemini response: " + message);
        if (res == detail::part_result::skip || p.type == ir::part::kind::tool_result) continue;
        if (p.type == ir::part::kind::tool_call) {
          saw_call = true;
          if (p.id.empty()) p.id = detail::random_call_id();
        }
        detail::push_part(r.parts, std::move(p));
      }
    }
  }
  detail::move_signatures_to_reasoning(r.parts);
  if (!reason.empty()) r.finish = detail::finish_from(reason, saw_call);
  return r;
}

std::string encode_response(const ir::response& r) {
  std::string out;
  out.reserve(512);
  out += "{\"candidates\":[{";
  const std::size_t no_content = out.size();
  out += "\"content\":{\"parts\":[";
  bool first = true;
  for (const auto& p : r.parts) {
    std::size_t mark = out.size();
    if (!first) out += ',';
    if (detail::append_model_part(out, p, true, p.signature)) {
      first = false;
    } else {
      out.resize(mark);
    }
  }
  if (first) {
    // Nothing to say (a blocked or empty answer): like Gemini, no content rather than an empty
    // one, which a client would keep and send back.
    out.resize(no_content);
  } else {
    out += "],\"role\":\"model\"},";
  }
  auto reason = detail::finish_to(r.finish);
  if (!reason.empty()) {
    out += "\"finishReason\":\"";
    out += reason;
    out += "\",";
  }
  out += "\"index\":0}]";
  detail::append_usage(out, r.tokens, true);
  if (!r.model.empty()) {
    out += ",\"modelVersion\":";
    detail::quote(out, r.model);
  }
  if (!r.id.empty()) {
    out += ",\"responseId\":";
    detail::quote(out, r.id);
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

ir::api_error decode_error(int status, std::string_view body) {
  bj::error_code ec;
  bj::value v = bj::parse(body, ec);
  if (ec) v = nullptr;  // an HTML page from a proxy: never relay it, say what happened
  return detail::error_from(status, v);
}

ir::encoded_error encode_error(const ir::api_error& e) {
  ir::encoded_error out;
  out.status = detail::status_for(e);
  detail::append_error_object(out.body, e);
  return out;
}

}  // namespace sy::gemini
