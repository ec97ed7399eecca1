// The Anthropic Messages codec: requests, responses and errors <-> IR. The mapping is in
// docs/protocols.md; the choices it leaves open are explained where they are made.
#include "protocol/anthropic/codec.h"

#include "common/json.h"

#include "protocol/anthropic/wire.h"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace sy::anthropic {
namespace bj = boost::json;

// ---------------------------------------------------------------------------------------------
// wire.h

namespace wire {

ir::finish_reason finish_from(std::string_view s) {
  using f = ir::finish_reason;
  if (s == "end_turn") return f::stop;
  if (s == "tool_use") return f::tool_calls;
  if (s == "max_tokens") return f::length;
  if (s == "stop_sequence") return f::stop_sequence;
  if (s == "refusal") return f::refusal;
  if (s == "pause_turn") return f::pause;
  if (s == "model_context_window_exceeded") return f::context_exceeded;
  return f::stop;
}

std::string_view stop_reason_for(ir::finish_reason r, bool has_tool_calls) {
  using f = ir::finish_reason;
  switch (r) {
    case f::stop_sequence:
      return "stop_sequence";
    case f::length:
      return "max_tokens";
    case f::tool_calls:
      return "tool_use";
    case f::content_filter:
    case f::refusal:
      return "refusal";
    case f::pause:
      return "pause_turn";
    case f::context_exceeded:
      return "model_context_window_exceeded";
    case f::none:
    case f::stop:
    case f::error:
      break;
  }
  return has_tool_calls ? "tool_use" : "end_turn";
}

bool kind_from_type(std::string_view t, ir::error_kind& kind) {
  using k = ir::error_kind;
  if (t == "invalid_request_error") {
    kind = k::invalid_request;
  } else if (t == "authentication_error") {
    kind = k::authentication;
  } else if (t == "billing_error") {
    kind = k::billing;
  } else if (t == "permission_error") {
    kind = k::permission;
  } else if (t == "not_found_error") {
    kind = k::not_found;
  } else if (t == "request_too_large") {
    kind = k::request_too_large;
  } else if (t == "rate_limit_error") {
    kind = k::rate_limit;
  } else if (t == "api_error") {
    kind = k::server;
  } else if (t == "overloaded_error") {
    kind = k::overloaded;
  } else if (t == "timeout_error") {
    kind = k::timeout;
  } else {
    return false;
  }
  return true;
}

std::string_view type_for(ir::error_kind kind) {
  using k = ir::error_kind;
  switch (kind) {
    case k::invalid_request:
      return "invalid_request_error";
    case k::authentication:
      return "authentication_error";
    case k::billing:
      return "billing_error";
    case k::permission:
      return "permission_error";
    case k::not_found:
      return "not_found_error";
    case k::request_too_large:
      return "request_too_large";
    case k::rate_limit:
    case k::quota:
      return "rate_limit_error";
    case k::server:
      return "api_error";
    case k::overloaded:
      return "overloaded_error";
    case k::timeout:
      return "timeout_error";
  }
  return "api_error";
}

int status_for(const ir::api_error& e) {
  using k = ir::error_kind;
  switch (e.kind) {
    case k::invalid_request:
      return 400;
    case k::authentication:
      return 401;
    case k::billing:
      return 402;
    case k::permission:
      return 403;
    case k::not_found:
      return 404;
    case k::request_too_large:
      return 413;
    case k::rate_limit:
    case k::quota:
      return 429;
    case k::server:
      return e.status >= 500 && e.status <= 599 ? e.status : 500;
    case k::overloaded:
      return 529;
    case k::timeout:
      return 504;
  }
  return 500;
}

void append_error(std::string& out, const ir::api_error& e) {
  out += R"({"type":"error","error":{"type":")";
  out += type_for(e.kind);
  out += R"(","message":)";
  wire::append_quoted(out, e.message);
  out += "}}";
}

namespace {
bool read_count(const bj::value& v, std::int64_t& out) {
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    out = static_cast<std::int64_t>(
        std::min<std::uint64_t>(v.get_uint64(), std::numeric_limits<std::int64_t>::max()));
  } else if (v.is_double() && std::isfinite(v.get_double()) && v.get_double() >= 0 &&
             v.get_double() < 9e18) {
    out = static_cast<std::int64_t>(v.get_double());
  } else {
    return false;
  }
  if (out < 0) out = 0;  // counts are never negative; -1 is reserved for "not reported"
  return true;
}
}  // namespace

void raw_usage::read(const bj::object& usage) {
  for (const auto& kv : usage) {
    std::string_view key = kv.key();
    if (key == "input_tokens") {
      read_count(kv.value(), input);
    } else if (key == "output_tokens") {
      read_count(kv.value(), output);
    } else if (key == "cache_read_input_tokens") {
      read_count(kv.value(), cache_read);
    } else if (key == "cache_creation_input_tokens") {
      read_count(kv.value(), cache_write);
    } else if (key == "cache_creation" && kv.value().is_object()) {
      if (const auto* h = kv.value().get_object().if_contains("ephemeral_1h_input_tokens"))
        read_count(*h, cache_write_1h);
    }
  }
}

namespace {
// Sum of two counts (-1 = none) that cannot overflow, whatever an upstream reports.
std::int64_t add_counts(std::int64_t a, std::int64_t b) {
  a = std::max<std::int64_t>(a, 0);
  b = std::max<std::int64_t>(b, 0);
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max()
                                                          : a + b;
}
}  // namespace

ir::usage raw_usage::to_ir() const {
  ir::usage u;
  if (input >= 0 || cache_read >= 0 || cache_write >= 0)
    u.input = add_counts(add_counts(input, cache_read), cache_write);
  u.output = output;
  u.cache_read = cache_read;
  u.cache_write = cache_write;
  u.cache_write_1h = cache_write_1h;
  return u;
}

void append_usage_members(std::string& out, const ir::usage& u, std::int64_t output_override) {
  std::int64_t read = std::max<std::int64_t>(u.cache_read, 0);
  std::int64_t write = std::max<std::int64_t>(u.cache_write, 0);
  // Counts from elsewhere may disagree (cache reads above the total): never below 0.
  std::int64_t input = std::max<std::int64_t>(u.input, 0);
  input = input > read ? input - read : 0;
  input = input > write ? input - write : 0;
  out += R"("input_tokens":)";
  append_int(out, input);
  out += R"(,"cache_creation_input_tokens":)";
  append_int(out, write);
  out += R"(,"cache_read_input_tokens":)";
  append_int(out, read);
  out += R"(,"output_tokens":)";
  append_int(out, output_override >= 0 ? output_override : std::max<std::int64_t>(u.output, 0));
}

void append_int(std::string& out, std::int64_t v) {
  char buf[24];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_double(std::string& out, double v) {
  if (!std::isfinite(v) || v == 0) v = 0;  // and -0 as 0
  char buf[32];
  auto res = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, res.ptr);
}

void append_quoted(std::string& out, std::string_view text) {
  sy::json::append_quoted(out, text);
}

void append_tool_id(std::string& out, std::string_view id, std::string_view if_empty) {
  if (id.empty()) id = if_empty;
  out += '"';
  if (id.empty()) {
    // Random, not derived from anything: it only has to be unique within the conversation.
    static constexpr char alnum[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    thread_local std::uint64_t state =
        std::random_device{}() ^ (static_cast<std::uint64_t>(std::random_device{}()) << 32);
    out += "toolu_";
    for (int i = 0; i < 24; ++i) {
      state ^= state << 13;
      state ^= state >> 7;
      state ^= state << 17;
      out += alnum[(state >> 33) % 62];
    }
  } else {
    std::size_t at = out.size();
    out += id;
    for (std::size_t i = at; i < out.size(); ++i) {
      char c = out[i];
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '_' || c == '-';
      if (!ok) out[i] = '_';
    }
  }
  out += '"';
}

void append_value(std::string& out, const bj::value& v) {
  switch (v.kind()) {
    case bj::kind::null:
      out += "null";
      break;
    case bj::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      break;
    case bj::kind::int64:
      append_int(out, v.get_int64());
      break;
    case bj::kind::uint64: {
      char buf[24];
      auto res = std::to_chars(buf, buf + sizeof buf, v.get_uint64());
      out.append(buf, res.ptr);
      break;
    }
    case bj::kind::double_:
      append_double(out, v.get_double());
      break;
    case bj::kind::string:
      wire::append_quoted(out, {v.get_string().data(), v.get_string().size()});
      break;
    case bj::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& x : v.get_array()) {
        if (!first) out += ',';
        first = false;
        append_value(out, x);
      }
      out += ']';
      break;
    }
    case bj::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& kv : v.get_object()) {
        if (!first) out += ',';
        first = false;
        wire::append_quoted(out, kv.key());
        out += ':';
        append_value(out, kv.value());
      }
      out += '}';
      break;
    }
  }
}

}  // namespace wire

// ---------------------------------------------------------------------------------------------
// Shared helpers

namespace {

constexpr std::string_view output_config_key = "output_config";

// Client bodies nest deeper than Boost.JSON's default limit of 32 in real tool schemas.
bj::parse_options parse_limits() {
  bj::parse_options o;
  o.max_depth = 256;
  return o;
}

std::string_view view(const bj::string& s) {
  return {s.data(), s.size()};
}

void assign(std::string& out, const bj::string& s) {
  out.assign(s.data(), s.size());
}

void append_json(std::string& out, const bj::value& v) {
  wire::append_value(out, v);
}

std::string to_text(const bj::value& v) {
  std::string out;
  wire::append_value(out, v);
  return out;
}

// "prefix[i]" or "prefix[i].member": a field path for an error, built only when failing.
std::string at(std::string_view prefix, std::size_t i, std::string_view member = {}) {
  std::string s(prefix);
  s += '[';
  s += std::to_string(i);
  s += ']';
  if (!member.empty()) {
    s += '.';
    s += member;
  }
  return s;
}

error invalid(std::string param, std::string_view what) {
  std::string message = param;
  message += ": ";
  message += what;
  return error{errc::invalid_request, std::move(message), std::move(param)};
}

error bad_upstream(std::string message) {
  return error{errc::upstream_bad_response, std::move(message), {}};
}

bool read_int(const bj::value& v, std::int64_t& out) {
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
  if (v.is_double()) {  // 1024.0 is an integer to a JavaScript client
    double d = v.get_double();
    if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e15) return false;
    out = static_cast<std::int64_t>(d);
    return true;
  }
  return false;
}

bool read_number(const bj::value& v, double& out) {
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

// A string member of `o`: absent or null leaves `out` unchanged; false when of another type.
bool read_string(const bj::object& o, std::string_view key, std::string& out) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return true;
  if (!v->is_string()) return false;
  assign(out, v->get_string());
  return true;
}

// A required string member.
const bj::string* required_string(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? &v->get_string() : nullptr;
}

// Moves `src` into `dst` together with its storage (the request's parse arena). A move
// assignment would keep dst's default storage and copy the whole tree into it.
template <class T>
void adopt(T& dst, T& src) {
  std::destroy_at(&dst);
  std::construct_at(&dst, std::move(src));
}
template <class T>
void adopt(T& dst, T&& src) {
  adopt(dst, src);
}

void take_cache_control(bj::object& o, ir::part& p) {
  if (auto* v = o.if_contains("cache_control"); v && !v->is_null()) adopt(p.cache_control, *v);
}

// Base64 for document blocks with a plain-text source: the IR holds document bytes as base64.
constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out((in.size() + 2) / 3 * 4, '=');
  auto byte = [&](std::size_t i) {
    return static_cast<unsigned>(static_cast<unsigned char>(in[i]));
  };
  std::size_t i = 0, o = 0;
  for (; i + 2 < in.size(); i += 3, o += 4) {
    unsigned n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out[o] = b64_alphabet[(n >> 18) & 63];
    out[o + 1] = b64_alphabet[(n >> 12) & 63];
    out[o + 2] = b64_alphabet[(n >> 6) & 63];
    out[o + 3] = b64_alphabet[n & 63];
  }
  if (i < in.size()) {
    unsigned n = byte(i) << 16;
    if (i + 1 < in.size()) n |= byte(i + 1) << 8;
    out[o] = b64_alphabet[(n >> 18) & 63];
    out[o + 1] = b64_alphabet[(n >> 12) & 63];
    if (i + 1 < in.size()) out[o + 2] = b64_alphabet[(n >> 6) & 63];
  }
  return out;
}

// Lenient: skips whitespace and stops at '=' or the first byte outside the alphabet.
std::string base64_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size() / 4 * 3);
  unsigned acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      v = 62;
    } else if (c == '/' || c == '_') {
      v = 63;
    } else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') {
      continue;
    } else {
      break;
    }
    acc = (acc << 6) | static_cast<unsigned>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 0 : (c >> 5) == 6 ? 1 : (c >> 4) == 14 ? 2 : (c >> 3) == 30 ? 3 : 9;
    if (n == 9 || i + n >= s.size()) return false;
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t k = 1; k <= n; ++k) {
      auto d = static_cast<unsigned char>(s[i + k]);
      if ((d >> 6) != 2) return false;
      cp = (cp << 6) | (d & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8 (nor valid in JSON).
    if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

// Anthropic requires a media type on base64 sources; other protocols may not have given one
// (an OpenAI data URL always has one, but a bare payload may not): the four image formats
// Anthropic accepts are recognised by their first bytes.
// Anthropic also refuses an image whose bytes are not of the type declared, which OpenAI lets
// pass: for images the bytes decide when they are recognised.
std::string_view media_type_of(const ir::part& p) {
  if (p.type == ir::part::kind::image) {
    std::string_view data = p.data;
    if (data.starts_with("iVBORw0KGgo")) return "image/png";
    if (data.starts_with("/9j/")) return "image/jpeg";
    if (data.starts_with("R0lGOD")) return "image/gif";
    if (data.starts_with("UklGR")) return "image/webp";
  }
  if (!p.media_type.empty()) return p.media_type;
  return p.type == ir::part::kind::document ? "application/pdf" : "image/png";
}

// Tool call arguments as the JSON object Anthropic wants: the text itself when it is one, "{}"
// when empty. Anything else fails: guessing would call the tool with arguments nobody sent.
bool object_text(std::string_view arguments, std::string_view& out) {
  std::size_t b = arguments.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) {
    out = "{}";
    return true;
  }
  if (arguments[b] != '{') return false;
  unsigned char buffer[4096];
  bj::monotonic_resource mr(buffer, sizeof buffer);
  boost::system::error_code ec;
  auto v = bj::parse(arguments, ec, &mr, parse_limits());
  if (ec || !v.is_object()) return false;
  out = arguments;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Request decoding

std::optional<error> read_source(bj::object& b, ir::part& p, std::string_view prefix,
                                 std::size_t j) {
  auto* src = b.if_contains("source");
  if (!src || !src->is_object()) return invalid(at(prefix, j, "source"), "must be an object");
  auto& s = src->get_object();
  const auto* type = required_string(s, "type");
  std::string_view t = type ? view(*type) : std::string_view{};
  if (t == "base64" || (t == "text" && p.type == ir::part::kind::document)) {
    const auto* data = required_string(s, "data");
    if (!data) return invalid(at(prefix, j, "source.data"), "must be a string");
    if (!read_string(s, "media_type", p.media_type))
      return invalid(at(prefix, j, "source.media_type"), "must be a string");
    if (t == "base64") {
      assign(p.data, *data);
    } else {
      // A plain-text document travels as text/plain bytes, which every protocol can carry;
      // the encoder turns it back into a text source.
      p.media_type = "text/plain";
      p.data = base64_encode(view(*data));
    }
  } else if (t == "url") {
    const auto* url = required_string(s, "url");
    if (!url) return invalid(at(prefix, j, "source.url"), "must be a string");
    assign(p.url, *url);
  } else {
    return invalid(at(prefix, j, "source.type"), p.type == ir::part::kind::document
                                                     ? R"(must be "base64", "url" or "text")"
                                                     : R"(must be "base64" or "url")");
  }
  return std::nullopt;
}

// One content block. `nested`: inside a tool_result, where only text, images and documents go.
std::optional<error> read_block(bj::value& v, ir::part& p, std::string_view prefix, std::size_t j,
                                bool nested) {
  using k = ir::part::kind;
  if (!v.is_object()) return invalid(at(prefix, j), "must be an object");
  auto& b = v.get_object();
  const auto* type = required_string(b, "type");
  if (!type) return invalid(at(prefix, j, "type"), "must be a string");
  std::string_view t = view(*type);
  if (t == "text") {
    const auto* text = required_string(b, "text");
    if (!text) return invalid(at(prefix, j, "text"), "must be a string");
    p.type = k::text;
    assign(p.text, *text);
  } else if (t == "image" || t == "document") {
    p.type = t == "image" ? k::image : k::document;
    if (auto e = read_source(b, p, prefix, j)) return e;
  } else if (t == "tool_use" && !nested) {
    const auto* id = required_string(b, "id");
    if (!id) return invalid(at(prefix, j, "id"), "must be a string");
    const auto* name = required_string(b, "name");
    if (!name) return invalid(at(prefix, j, "name"), "must be a string");
    p.type = k::tool_call;
    assign(p.id, *id);
    assign(p.name, *name);
    const auto* input = b.if_contains("input");
    if (!input || input->is_null()) {
      p.arguments = "{}";
    } else if (input->is_object()) {
      p.arguments = to_text(*input);
    } else {
      return invalid(at(prefix, j, "input"), "must be an object");
    }
  } else if (t == "tool_result" && !nested) {
    const auto* id = required_string(b, "tool_use_id");
    if (!id) return invalid(at(prefix, j, "tool_use_id"), "must be a string");
    p.type = k::tool_result;
    assign(p.id, *id);
    if (auto* c = b.if_contains("content"); c && !c->is_null()) {
      if (c->is_string()) {
        p.content.emplace_back();
        assign(p.content.back().text, c->get_string());
      } else if (c->is_array()) {
        auto& items = c->get_array();
        std::string inner = at(prefix, j, "content");
        p.content.resize(items.size());
        for (std::size_t n = 0; n < items.size(); ++n)
          if (auto e = read_block(items[n], p.content[n], inner, n, true)) return e;
      } else {
        return invalid(at(prefix, j, "content"), "must be a string or an array");
      }
    }
    if (const auto* is_error = b.if_contains("is_error"); is_error && !is_error->is_null()) {
      if (!is_error->is_bool()) return invalid(at(prefix, j, "is_error"), "must be a boolean");
      p.is_error = is_error->get_bool();
    }
  } else if (t == "thinking" && !nested) {
    const auto* thinking = required_string(b, "thinking");
    if (!thinking) return invalid(at(prefix, j, "thinking"), "must be a string");
    p.type = k::reasoning;
    assign(p.text, *thinking);
    if (!read_string(b, "signature", p.signature))
      return invalid(at(prefix, j, "signature"), "must be a string");
  } else if (t == "redacted_thinking" && !nested) {
    const auto* data = required_string(b, "data");
    if (!data) return invalid(at(prefix, j, "data"), "must be a string");
    p.type = k::redacted_reasoning;
    assign(p.data, *data);
  } else {
    // Server tool blocks (server_tool_use, web_search_tool_result...), search results and
    // container uploads have no IR form; refusing beats losing them silently.
    return invalid(at(prefix, j, "type"), nested ? R"(must be "text", "image" or "document")"
                                                 : "unsupported content block type");
  }
  take_cache_control(b, p);
  return std::nullopt;
}

std::optional<error> read_messages(bj::value& v, ir::request& r) {
  if (!v.is_array()) return invalid("messages", "must be an array");
  auto& list = v.get_array();
  r.messages.reserve(list.size() + 1);
  bool any_result = false;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) return invalid(at("messages", i), "must be an object");
    auto& m = list[i].get_object();
    const auto* role = required_string(m, "role");
    std::string_view who = role ? view(*role) : std::string_view{};
    if (who != "user" && who != "assistant")
      return invalid(at("messages", i, "role"), R"(must be "user" or "assistant")");
    auto* content = m.if_contains("content");
    if (!content) return invalid(at("messages", i, "content"), "field required");
    ir::message msg;
    msg.who = who == "user" ? ir::role::user : ir::role::assistant;
    if (content->is_string()) {
      msg.parts.emplace_back();
      assign(msg.parts.back().text, content->get_string());
    } else if (content->is_array()) {
      auto& blocks = content->get_array();
      std::string prefix = at("messages", i, "content");
      msg.parts.resize(blocks.size());
      for (std::size_t j = 0; j < blocks.size(); ++j)
        if (auto e = read_block(blocks[j], msg.parts[j], prefix, j, false)) return e;
    } else {
      return invalid(at("messages", i, "content"), "must be a string or an array");
    }
    bool has_result = false;
    if (msg.who == ir::role::user) {
      for (const auto& p : msg.parts)
        has_result |= p.type == ir::part::kind::tool_result;
    }
    if (!has_result) {
      r.messages.push_back(std::move(msg));
      continue;
    }
    // A user turn answering tool calls: the results become a tool message, what else the turn
    // holds a user message after it (docs/protocols.md).
    any_result = true;
    ir::message results{ir::role::tool, {}, {}};
    ir::message rest{ir::role::user, {}, {}};
    for (auto& p : msg.parts)
      (p.type == ir::part::kind::tool_result ? results : rest).parts.push_back(std::move(p));
    r.messages.push_back(std::move(results));
    if (!rest.parts.empty()) r.messages.push_back(std::move(rest));
  }
  if (!any_result) return std::nullopt;
  // Tool results carry the tool's name in the IR (Gemini needs it): the call it answers is in
  // an earlier assistant turn.
  for (std::size_t i = 0; i < r.messages.size(); ++i) {
    if (r.messages[i].who != ir::role::tool) continue;
    for (auto& p : r.messages[i].parts) {
      for (std::size_t back = i; back-- > 0 && p.name.empty();) {
        if (r.messages[back].who != ir::role::assistant) continue;
        for (const auto& call : r.messages[back].parts) {
          if (call.type == ir::part::kind::tool_call && call.id == p.id) {
            p.name = call.name;
            break;
          }
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<error> read_system(bj::value& v, ir::request& r) {
  if (v.is_null()) return std::nullopt;
  if (v.is_string()) {
    r.system.emplace_back();
    assign(r.system.back().text, v.get_string());
    return std::nullopt;
  }
  if (!v.is_array()) return invalid("system", "must be a string or an array");
  auto& blocks = v.get_array();
  r.system.resize(blocks.size());
  for (std::size_t j = 0; j < blocks.size(); ++j) {
    if (!blocks[j].is_object()) return invalid(at("system", j), "must be an object");
    auto& b = blocks[j].get_object();
    const auto* type = required_string(b, "type");
    if (!type || view(*type) != "text")
      return invalid(at("system", j, "type"), R"(must be "text")");
    const auto* text = required_string(b, "text");
    if (!text) return invalid(at("system", j, "text"), "must be a string");
    assign(r.system[j].text, *text);
    take_cache_control(b, r.system[j]);
  }
  return std::nullopt;
}

std::optional<error> read_tools(bj::value& v, ir::request& r) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_array()) return invalid("tools", "must be an array");
  auto& list = v.get_array();
  r.tools.reserve(list.size());
  bj::array server(v.storage());
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_object()) return invalid(at("tools", i), "must be an object");
    auto& t = list[i].get_object();
    if (const auto* type = t.if_contains("type"); type && !type->is_null()) {
      if (!type->is_string()) return invalid(at("tools", i, "type"), "must be a string");
      if (view(type->get_string()) != "custom") {
        bj::object entry(v.storage());
        entry.emplace("at", static_cast<std::int64_t>(i));
        entry.emplace("tool", std::move(list[i]));
        server.emplace_back(std::move(entry));
        continue;
      }
    }
    ir::tool tool;
    const auto* name = required_string(t, "name");
    if (!name) return invalid(at("tools", i, "name"), "must be a string");
    assign(tool.name, *name);
    if (!read_string(t, "description", tool.description))
      return invalid(at("tools", i, "description"), "must be a string");
    if (auto* schema = t.if_contains("input_schema"); schema && !schema->is_null()) {
      if (!schema->is_object()) return invalid(at("tools", i, "input_schema"), "must be an object");
      adopt(tool.parameters, *schema);
    }
    if (const auto* strict = t.if_contains("strict"); strict && !strict->is_null()) {
      if (!strict->is_bool()) return invalid(at("tools", i, "strict"), "must be a boolean");
      tool.strict = strict->get_bool();
    }
    if (auto* cc = t.if_contains("cache_control"); cc && !cc->is_null())
      adopt(tool.cache_control, *cc);
    r.tools.push_back(std::move(tool));
  }
  if (!server.empty()) r.extra.emplace(server_tools_key, std::move(server));
  return std::nullopt;
}

std::optional<error> read_tool_choice(const bj::value& v, ir::request& r) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_object()) return invalid("tool_choice", "must be an object");
  const auto& o = v.get_object();
  const auto* type = required_string(o, "type");
  std::string_view t = type ? view(*type) : std::string_view{};
  using k = ir::tool_choice::kind;
  if (t == "auto") {
    r.choice.type = k::auto_;
  } else if (t == "any") {
    r.choice.type = k::required;
  } else if (t == "none") {
    r.choice.type = k::none;
  } else if (t == "tool") {
    const auto* name = required_string(o, "name");
    if (!name) return invalid("tool_choice.name", "must be a string");
    r.choice.type = k::named;
    assign(r.choice.name, *name);
  } else {
    return invalid("tool_choice.type", R"(must be "auto", "any", "tool" or "none")");
  }
  if (const auto* d = o.if_contains("disable_parallel_tool_use"); d && !d->is_null()) {
    if (!d->is_bool()) return invalid("tool_choice.disable_parallel_tool_use", "must be a boolean");
    r.choice.parallel = !d->get_bool();
  }
  return std::nullopt;
}

std::string_view effort_for_budget(std::int64_t budget) {
  if (budget <= 1024) return "minimal";
  if (budget <= 2048) return "low";
  if (budget <= 8192) return "medium";
  return "high";
}

std::int64_t budget_for_effort(std::string_view effort) {
  if (effort == "minimal") return 1024;
  if (effort == "low") return 2048;
  if (effort == "medium") return 8192;
  if (effort == "high" || effort == "xhigh" || effort == "max") return 24576;
  return 8192;
}

std::optional<error> read_thinking(const bj::value& v, ir::request& r) {
  if (v.is_null()) return std::nullopt;
  if (!v.is_object()) return invalid("thinking", "must be an object");
  const auto& o = v.get_object();
  const auto* type = required_string(o, "type");
  std::string_view t = type ? view(*type) : std::string_view{};
  if (t == "enabled") {
    std::int64_t budget = 0;
    const auto* b = o.if_contains("budget_tokens");
    if (!b || !read_int(*b, budget) || budget < 0)
      return invalid("thinking.budget_tokens", "must be a non-negative integer");
    r.reasoning.enabled = true;
    r.reasoning.budget_tokens = budget;
    r.reasoning.effort = effort_for_budget(budget);
  } else if (t == "adaptive") {
    // The model picks its own budget: reasoning on, no budget (the encoder writes "adaptive"
    // back for an Anthropic-sourced request).
    r.reasoning.enabled = true;
  } else if (t != "disabled") {
    return invalid("thinking.type", R"(must be "enabled", "adaptive" or "disabled")");
  }
  return std::nullopt;
}

// output_config.format / the legacy output_format: {"type":"json_schema","schema":{...}}.
std::optional<error> read_format(bj::value& v, std::string_view param, ir::request& r) {
  if (v.is_null()) return std::nullopt;
  std::string type_param = std::string(param) + ".type";
  if (!v.is_object()) return invalid(std::string(param), "must be an object");
  auto& o = v.get_object();
  const auto* type = required_string(o, "type");
  if (!type || view(*type) != "json_schema") return invalid(type_param, R"(must be "json_schema")");
  auto* schema = o.if_contains("schema");
  if (!schema || !schema->is_object())
    return invalid(std::string(param) + ".schema", "must be an object");
  r.format.type = ir::response_format::kind::json_schema;
  adopt(r.format.schema, *schema);
  return std::nullopt;
}

}  // namespace

std::variant<ir::request, error> decode_request(std::string_view body) {
  // One arena for the whole parse: no allocation per node, nor a free per node when the tree
  // goes. The IR keeps the parts it needs (schemas, cache_control, extra) in the same arena, so
  // the arena lives as long as the IR: a large body (inline images) is parsed on the heap
  // instead, where its strings are freed once copied out.
  bj::storage_ptr storage;
  if (body.size() <= 256 * 1024)
    storage = bj::make_shared_resource<bj::monotonic_resource>(body.size() * 2 + 1024);
  boost::system::error_code ec;
  bj::value root = bj::parse(body, ec, storage, parse_limits());
  if (ec) return error{errc::invalid_request, "the request body is not valid JSON", {}};
  if (!root.is_object())
    return error{errc::invalid_request, "the request body must be a JSON object", {}};

  ir::request r;
  r.source = ir::protocol::anthropic;
  adopt(r.extra, bj::object(root.storage()));
  bool have_model = false, have_messages = false;
  bj::value* output_config = nullptr;
  bj::value* output_format = nullptr;
  for (auto& kv : root.get_object()) {
    std::string_view key = kv.key();
    bj::value& v = kv.value();
    std::optional<error> e;
    if (key == "model") {
      if (!v.is_string()) return invalid("model", "must be a string");
      assign(r.model, v.get_string());
      have_model = true;
    } else if (key == "messages") {
      e = read_messages(v, r);
      have_messages = true;
    } else if (key == "system") {
      e = read_system(v, r);
    } else if (key == "max_tokens") {
      std::int64_t n = 0;
      if (!v.is_null()) {
        if (!read_int(v, n) || n < 0)
          return invalid("max_tokens", "must be a non-negative integer");
        r.max_tokens = n;
      }
    } else if (key == "temperature" || key == "top_p") {
      double d = 0;
      if (!v.is_null()) {
        if (!read_number(v, d)) return invalid(std::string(key), "must be a number");
        (key == "temperature" ? r.temperature : r.top_p) = d;
      }
    } else if (key == "top_k") {
      std::int64_t n = 0;
      if (!v.is_null()) {
        if (!read_int(v, n)) return invalid("top_k", "must be an integer");
        r.top_k = n;
      }
    } else if (key == "stop_sequences") {
      if (v.is_null()) continue;
      if (!v.is_array()) return invalid("stop_sequences", "must be an array");
      const auto& list = v.get_array();
      r.stop.reserve(list.size());
      for (std::size_t i = 0; i < list.size(); ++i) {
        if (!list[i].is_string()) return invalid(at("stop_sequences", i), "must be a string");
        r.stop.emplace_back(view(list[i].get_string()));
      }
    } else if (key == "stream") {
      if (!v.is_null() && !v.is_bool()) return invalid("stream", "must be a boolean");
      r.stream = v.is_bool() && v.get_bool();
    } else if (key == "tools") {
      e = read_tools(v, r);
    } else if (key == "tool_choice") {
      e = read_tool_choice(v, r);
    } else if (key == "thinking") {
      e = read_thinking(v, r);
    } else if (key == "metadata") {
      if (v.is_null()) continue;
      if (!v.is_object()) return invalid("metadata", "must be an object");
      if (!read_string(v.get_object(), "user_id", r.user))
        return invalid("metadata.user_id", "must be a string");
    } else if (key == "output_config") {
      output_config = &v;
    } else if (key == "output_format") {
      output_format = &v;
    } else {
      r.extra.emplace(key, std::move(v));
    }
    if (e) return std::move(*e);
  }
  if (!have_model) return invalid("model", "field required");
  if (!have_messages) return invalid("messages", "field required");

  if (output_config && !output_config->is_null()) {
    if (!output_config->is_object()) return invalid("output_config", "must be an object");
    auto& o = output_config->get_object();
    bj::object rest(root.storage());
    for (auto& kv : o) {
      if (kv.key() == "format") {
        if (auto e = read_format(kv.value(), "output_config.format", r)) return std::move(*e);
      } else {
        rest.emplace(kv.key(), std::move(kv.value()));
      }
    }
    if (!rest.empty()) r.extra.emplace(output_config_key, std::move(rest));
  }
  if (output_format && r.format.type == ir::response_format::kind::text) {
    if (auto e = read_format(*output_format, "output_format", r)) return std::move(*e);
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Request encoding

namespace {

std::string_view role_name(ir::role who) {
  return who == ir::role::assistant ? "assistant" : "user";  // tool results go in user turns
}

// Whether `p` becomes a block: empty text is dropped (Anthropic rejects it), and so is
// reasoning without a signature (Anthropic rejects a thinking block it cannot verify).
bool emits(const ir::part& p) {
  switch (p.type) {
    case ir::part::kind::text:
      return !p.text.empty();
    case ir::part::kind::reasoning:
      return !p.signature.empty();
    default:
      return true;
  }
}

std::size_t count_blocks(const ir::message& m) {
  std::size_t n = 0;
  for (const auto& p : m.parts)
    n += emits(p) ? 1 : 0;
  return n;
}

void append_cache_control(std::string& out, const bj::value& cc) {
  if (cc.is_null()) return;
  out += R"(,"cache_control":)";
  append_json(out, cc);
}

// A thinking block (text + signature), or a redacted one (opaque data): the same in requests
// (history) and responses.
void append_thinking_block(std::string& out, const ir::part& p) {
  if (p.type == ir::part::kind::redacted_reasoning) {
    out += R"({"type":"redacted_thinking","data":)";
    wire::append_quoted(out, p.data);
  } else {
    out += R"({"type":"thinking","thinking":)";
    wire::append_quoted(out, p.text);
    out += R"(,"signature":)";
    wire::append_quoted(out, p.signature);
  }
  out += '}';
}

void append_text_block(std::string& out, const ir::part& p) {
  out += R"({"type":"text","text":)";
  wire::append_quoted(out, p.text);
  append_cache_control(out, p.cache_control);
  out += '}';
}

void append_source_block(std::string& out, const ir::part& p) {
  bool document = p.type == ir::part::kind::document;
  out +=
      document ? R"({"type":"document","source":{"type":)" : R"({"type":"image","source":{"type":)";
  if (!p.url.empty()) {
    out += R"("url","url":)";
    wire::append_quoted(out, p.url);
  } else if (std::string text;
             document && p.media_type == "text/plain" && valid_utf8(text = base64_decode(p.data))) {
    out += R"("text","media_type":"text/plain","data":)";
    wire::append_quoted(out, text);
  } else {
    out += R"("base64","media_type":)";
    wire::append_quoted(out, media_type_of(p));
    out += R"(,"data":)";
    wire::append_quoted(out, p.data);
  }
  out += '}';
  append_cache_control(out, p.cache_control);
  out += '}';
}

// A call without an id (and its result) in a history from another protocol: a fixed stand-in,
// so that the pair still matches.
constexpr std::string_view missing_id = "toolu_missing";

// Writes the block for `p` (emits(p) is true). Fails only on tool arguments that are not a
// JSON object; `param` names the part for that error.
std::optional<error> append_block(std::string& out, const ir::part& p, std::size_t i,
                                  std::size_t j) {
  using k = ir::part::kind;
  switch (p.type) {
    case k::text:
      append_text_block(out, p);
      break;
    case k::image:
    case k::document:
      append_source_block(out, p);
      break;
    case k::tool_call: {
      std::string_view input;
      if (!object_text(p.arguments, input))
        return invalid(at(at("messages", i, "parts"), j, "arguments"),
                       "tool call arguments must be a JSON object");
      out += R"({"type":"tool_use","id":)";
      wire::append_tool_id(out, p.id, missing_id);
      out += R"(,"name":)";
      wire::append_quoted(out, p.name);
      out += R"(,"input":)";
      out += input;
      append_cache_control(out, p.cache_control);
      out += '}';
      break;
    }
    case k::tool_result: {
      out += R"({"type":"tool_result","tool_use_id":)";
      wire::append_tool_id(out, p.id, missing_id);
      const auto& c = p.content;
      if (c.size() == 1 && c[0].type == k::text && c[0].cache_control.is_null()) {
        out += R"(,"content":)";
        wire::append_quoted(out, c[0].text);
      } else {
        bool first = true;
        for (const auto& item : c) {
          if (item.type == k::text && !item.text.empty()) {
            out += first ? R"(,"content":[)" : ",";
            append_text_block(out, item);
          } else if (item.type == k::image || item.type == k::document) {
            out += first ? R"(,"content":[)" : ",";
            append_source_block(out, item);
          } else {
            continue;  // nothing else may go inside a tool result
          }
          first = false;
        }
        if (!first) out += ']';
      }
      if (p.is_error) out += R"(,"is_error":true)";
      append_cache_control(out, p.cache_control);
      out += '}';
      break;
    }
    case k::reasoning:
    case k::redacted_reasoning:
      append_thinking_block(out, p);
      break;
  }
  return std::nullopt;
}

std::optional<error> append_messages(std::string& out, const ir::request& r) {
  const auto& ms = r.messages;
  out += R"(,"messages":[)";
  bool first_turn = true;
  for (std::size_t i = 0; i < ms.size();) {
    std::size_t blocks = count_blocks(ms[i]);
    if (blocks == 0) {
      ++i;
      continue;
    }
    // One turn: this message and the following ones of the same Anthropic role (messages left
    // empty do not separate turns), because Anthropic wants user and assistant to alternate.
    std::string_view role = role_name(ms[i].who);
    std::size_t end = i + 1;
    for (; end < ms.size(); ++end) {
      std::size_t n = count_blocks(ms[end]);
      if (n == 0) continue;
      if (role_name(ms[end].who) != role) break;
      blocks += n;
    }
    out += first_turn ? R"({"role":")" : R"(,{"role":")";
    first_turn = false;
    out += role;
    out += R"(","content":)";
    const ir::part* only = nullptr;
    if (blocks == 1) {
      for (std::size_t m = i; m < end && !only; ++m)
        for (const auto& p : ms[m].parts)
          if (emits(p)) {
            only = &p;
            break;
          }
    }
    if (only && only->type == ir::part::kind::text && only->cache_control.is_null()) {
      wire::append_quoted(out, only->text);
    } else {
      // Tool results first: Anthropic requires them at the head of the turn after the calls.
      out += '[';
      bool first = true;
      for (int pass = 0; pass < 2; ++pass) {
        for (std::size_t m = i; m < end; ++m) {
          for (std::size_t j = 0; j < ms[m].parts.size(); ++j) {
            const auto& p = ms[m].parts[j];
            bool result = p.type == ir::part::kind::tool_result;
            if (result != (pass == 0) || !emits(p)) continue;
            if (!first) out += ',';
            first = false;
            if (auto e = append_block(out, p, m, j)) return e;
          }
        }
      }
      out += ']';
    }
    out += '}';
    i = end;
  }
  out += ']';
  return std::nullopt;
}

void append_tool(std::string& out, const ir::tool& t, bool native) {
  out += R"({"name":)";
  wire::append_quoted(out, t.name);
  if (!t.description.empty()) {
    out += R"(,"description":)";
    wire::append_quoted(out, t.description);
  }
  out += R"(,"input_schema":)";
  if (t.parameters.is_object() && t.parameters.get_object().contains("type")) {
    append_json(out, t.parameters);
  } else if (t.parameters.is_object()) {
    // Anthropic wants the top-level "type":"object" that OpenAI and Gemini let clients omit.
    std::size_t mark = out.size();
    append_json(out, t.parameters);
    out.insert(mark + 1,
               t.parameters.get_object().empty() ? R"("type":"object")" : R"("type":"object",)");
  } else {
    out += R"({"type":"object","properties":{}})";
  }
  // Anthropic's strict mode needs a model with structured outputs; OpenAI clients (the Agents
  // SDK) send strict:true by habit, so only an Anthropic client's own flag is passed on.
  if (native && t.strict) out += *t.strict ? R"(,"strict":true)" : R"(,"strict":false)";
  append_cache_control(out, t.cache_control);
  out += '}';
}

void append_tools(std::string& out, const ir::request& r, const bj::array* server, bool native) {
  // Server tools go back to the positions they had; custom tools fill the others in order.
  std::vector<std::pair<std::int64_t, const bj::value*>> placed;
  if (server) {
    for (const auto& entry : *server) {
      const auto* o = entry.if_object();
      const auto* where = o ? o->if_contains("at") : nullptr;
      const auto* tool = o ? o->if_contains("tool") : nullptr;
      std::int64_t pos = 0;
      if (where && tool && tool->is_object() && read_int(*where, pos))
        placed.emplace_back(pos, tool);
    }
  }
  if (r.tools.empty() && placed.empty()) return;
  out += R"(,"tools":[)";
  std::size_t custom = 0, next = 0;
  for (std::int64_t pos = 0; custom < r.tools.size() || next < placed.size(); ++pos) {
    if (pos) out += ',';
    if (next < placed.size() && (custom == r.tools.size() || placed[next].first <= pos)) {
      append_json(out, *placed[next++].second);
    } else {
      append_tool(out, r.tools[custom++], native);
    }
  }
  out += ']';
}

// Whether the last assistant turn calls tools without a thinking block Anthropic would accept.
bool unthought_tool_turn(const ir::request& r) {
  for (auto m = r.messages.rbegin(); m != r.messages.rend(); ++m) {
    if (m->who != ir::role::assistant || count_blocks(*m) == 0) continue;
    bool calls = false, thought = false;
    for (const auto& p : m->parts) {
      calls |= p.type == ir::part::kind::tool_call;
      thought |= (p.type == ir::part::kind::reasoning && emits(p)) ||
                 p.type == ir::part::kind::redacted_reasoning;
    }
    return calls && !thought;
  }
  return false;
}

}  // namespace

std::variant<std::string, error> encode_request(const ir::request& r, ir::dropped_fields& dropped) {
  if (r.n > 1)
    return error{errc::invalid_request,
                 "n: Anthropic returns one completion; n > 1 is not supported", "n"};
  const bool native = r.source == ir::protocol::anthropic;

  std::size_t estimate = 512 + r.model.size();
  for (const auto& m : r.messages)
    for (const auto& p : m.parts)
      estimate += 64 + p.text.size() + p.data.size() + p.arguments.size();
  for (const auto& p : r.system)
    estimate += 32 + p.text.size();
  std::string out;
  out.reserve(estimate + r.tools.size() * 512);

  // Thinking: a budget if the IR has one, else one from the effort; "adaptive" only when an
  // Anthropic client asked for it (older models reject it).
  std::int64_t budget = 0;  // 0: no thinking budget
  bool adaptive = false;
  const auto& rc = r.reasoning;
  if (rc.budget_tokens && *rc.budget_tokens != 0) {
    // Gemini's -1 means "dynamic": Anthropic has no such budget, so the medium one.
    budget = *rc.budget_tokens > 0 ? *rc.budget_tokens : budget_for_effort("medium");
  } else if (rc.budget_tokens) {
    // 0: thinking off.
  } else if (!rc.effort.empty() && rc.effort != "none") {
    budget = budget_for_effort(rc.effort);
  } else if (rc.enabled) {
    if (native) {
      adaptive = true;
    } else {
      budget = budget_for_effort("medium");
    }
  }
  if (budget && !native && unthought_tool_turn(r)) {
    // With thinking on, Anthropic refuses a tool-use turn that does not start with its
    // (signed) thinking, which a history from another protocol cannot have: thinking goes.
    budget = 0;
    dropped.emplace_back("reasoning");
  }
  std::int64_t max_tokens = r.max_tokens.value_or(4096);
  if (budget) {
    budget = std::clamp<std::int64_t>(budget, 1024, std::numeric_limits<std::int32_t>::max());
    if (max_tokens <= budget) max_tokens = budget + 4096;
  }

  out += R"({"model":)";
  wire::append_quoted(out, r.model);
  out += R"(,"max_tokens":)";
  wire::append_int(out, max_tokens);

  // System: a string when it is one plain block, else text blocks.
  const bool json_object =
      r.format.type == ir::response_format::kind::json_object ||
      (r.format.type == ir::response_format::kind::json_schema && !r.format.schema.is_object());
  static const ir::part json_instruction = [] {
    ir::part p;
    p.text = "Respond with a single JSON object and nothing else.";
    return p;
  }();
  std::size_t system_n = json_object ? 1 : 0;
  const ir::part* system_only = json_object ? &json_instruction : nullptr;
  for (const auto& p : r.system) {
    if (p.text.empty()) continue;
    ++system_n;
    system_only = &p;
  }
  if (system_n == 1 && system_only->cache_control.is_null()) {
    out += R"(,"system":)";
    wire::append_quoted(out, system_only->text);
  } else if (system_n > 0) {
    out += R"(,"system":[)";
    bool first = true;
    for (const auto& p : r.system) {
      if (p.text.empty()) continue;
      if (!first) out += ',';
      first = false;
      append_text_block(out, p);
    }
    if (json_object) {
      if (!first) out += ',';
      append_text_block(out, json_instruction);
    }
    out += ']';
  }
  if (json_object) dropped.emplace_back("response_format");

  if (auto e = append_messages(out, r)) return std::move(*e);

  const bj::array* server = nullptr;
  if (native) {
    if (const auto* v = r.extra.if_contains(server_tools_key)) server = v->if_array();
  }
  append_tools(out, r, server, native);
  if (!native) {
    for (const auto& t : r.tools) {
      if (t.strict) {
        dropped.emplace_back("tools.strict");
        break;
      }
    }
  }

  using ck = ir::tool_choice::kind;
  const auto& choice = r.choice;
  if (choice.type != ck::unset) {
    out += R"(,"tool_choice":{"type":)";
    switch (choice.type) {
      case ck::none:
        out += R"("none")";
        break;
      case ck::required:
        out += R"("any")";
        break;
      case ck::named:
        out += R"("tool","name":)";
        wire::append_quoted(out, choice.name);
        break;
      default:
        out += R"("auto")";
    }
    if (choice.parallel && choice.type != ck::none)
      out += *choice.parallel ? R"(,"disable_parallel_tool_use":false)"
                              : R"(,"disable_parallel_tool_use":true)";
    out += '}';
  } else if (choice.parallel == false && (!r.tools.empty() || server)) {
    out += R"(,"tool_choice":{"type":"auto","disable_parallel_tool_use":true})";
  }

  // Anthropic refuses a stop sequence of whitespace only (OpenAI takes "\n"): those are left out.
  bool first_stop = true, blank_stop = false;
  for (const auto& stop : r.stop) {
    if (stop.find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
      blank_stop = true;
      continue;
    }
    out += first_stop ? R"(,"stop_sequences":[)" : ",";
    first_stop = false;
    wire::append_quoted(out, stop);
  }
  if (!first_stop) out += ']';
  if (blank_stop) dropped.emplace_back("stop");
  if (r.temperature) {
    out += R"(,"temperature":)";
    // OpenAI's range is 0..2, Anthropic's 0..1: a higher value would be refused outright.
    wire::append_double(out, native ? *r.temperature : std::min(*r.temperature, 1.0));
  }
  if (r.top_p) {
    out += R"(,"top_p":)";
    wire::append_double(out, *r.top_p);
  }
  if (r.top_k) {
    out += R"(,"top_k":)";
    wire::append_int(out, *r.top_k);
  }
  if (!r.user.empty()) {
    out += R"(,"metadata":{"user_id":)";
    wire::append_quoted(out, r.user);
    out += '}';
  }
  if (budget) {
    out += R"(,"thinking":{"type":"enabled","budget_tokens":)";
    wire::append_int(out, budget);
    out += '}';
  } else if (adaptive) {
    out += R"(,"thinking":{"type":"adaptive"})";
  }

  const bj::object* config_rest = nullptr;
  if (native) {
    if (const auto* v = r.extra.if_contains(output_config_key)) config_rest = v->if_object();
  }
  const bool schema = r.format.type == ir::response_format::kind::json_schema && !json_object;
  if (schema || (config_rest && !config_rest->empty())) {
    out += R"(,"output_config":{)";
    bool first = true;
    if (schema) {
      out += R"("format":{"type":"json_schema","schema":)";
      append_json(out, r.format.schema);
      out += '}';
      first = false;
    }
    if (config_rest) {
      for (const auto& kv : *config_rest) {
        if (kv.key() == "format" && schema) continue;
        if (!first) out += ',';
        first = false;
        wire::append_quoted(out, kv.key());
        out += ':';
        append_json(out, kv.value());
      }
    }
    out += '}';
  }
  if (r.stream) out += R"(,"stream":true)";

  if (r.presence_penalty) dropped.emplace_back("presence_penalty");
  if (r.frequency_penalty) dropped.emplace_back("frequency_penalty");
  if (r.seed) dropped.emplace_back("seed");
  for (const auto& m : r.messages) {
    if (!m.name.empty()) {
      dropped.emplace_back("messages.name");
      break;
    }
  }
  for (const auto& kv : r.extra) {
    if (!native) {
      dropped.emplace_back(kv.key());
      continue;
    }
    if (kv.key() == server_tools_key || kv.key() == output_config_key) continue;
    out += ',';
    wire::append_quoted(out, kv.key());
    out += ':';
    append_json(out, kv.value());
  }
  out += '}';
  return out;
}

// ---------------------------------------------------------------------------------------------
// Responses

std::variant<ir::response, error> decode_response(std::string_view body) {
  // The IR response keeps no JSON: the tree lives in an arena that starts on the stack.
  unsigned char buffer[8192];
  bj::monotonic_resource mr(buffer, sizeof buffer);
  boost::system::error_code ec;
  bj::value root = bj::parse(body, ec, &mr, parse_limits());
  if (ec || !root.is_object()) return bad_upstream("the upstream response is not a JSON object");
  auto& o = root.get_object();
  if (const auto* t = required_string(o, "type"); t && view(*t) == "error")
    return bad_upstream("the upstream answered with an error object");
  auto* content = o.if_contains("content");
  if (!content || !content->is_array())
    return bad_upstream("the upstream response has no content array");

  ir::response r;
  if (!read_string(o, "id", r.id) || !read_string(o, "model", r.model))
    return bad_upstream("the upstream response has a malformed id or model");
  auto& blocks = content->get_array();
  r.parts.reserve(blocks.size());
  for (auto& v : blocks) {
    auto* b = v.if_object();
    if (!b) return bad_upstream("the upstream response has a malformed content block");
    const auto* type = required_string(*b, "type");
    std::string_view t = type ? view(*type) : std::string_view{};
    ir::part p;
    bool ok = true;
    if (t == "text") {
      p.type = ir::part::kind::text;
      ok = read_string(*b, "text", p.text);
    } else if (t == "thinking") {
      p.type = ir::part::kind::reasoning;
      ok = read_string(*b, "thinking", p.text) && read_string(*b, "signature", p.signature);
    } else if (t == "redacted_thinking") {
      p.type = ir::part::kind::redacted_reasoning;
      ok = read_string(*b, "data", p.data);
    } else if (t == "tool_use") {
      p.type = ir::part::kind::tool_call;
      ok = read_string(*b, "id", p.id) && read_string(*b, "name", p.name);
      const auto* input = b->if_contains("input");
      p.arguments = input && input->is_object() ? to_text(*input) : "{}";
    } else {
      continue;  // server tool blocks and the like: nothing another protocol could show
    }
    if (!ok) return bad_upstream("the upstream response has a malformed content block");
    r.parts.push_back(std::move(p));
  }
  if (const auto* s = o.if_contains("stop_reason"); s && s->is_string())
    r.finish = wire::finish_from(view(s->get_string()));
  if (!read_string(o, "stop_sequence", r.stop_sequence))
    return bad_upstream("the upstream response has a malformed stop_sequence");
  if (const auto* u = o.if_contains("usage"); u && u->is_object()) {
    wire::raw_usage raw;
    raw.read(u->get_object());
    r.tokens = raw.to_ir();
  }
  return r;
}

std::string encode_response(const ir::response& r) {
  std::string out;
  std::size_t estimate = 384 + r.id.size() + r.model.size();
  for (const auto& p : r.parts)
    estimate += 64 + p.text.size() + p.arguments.size() + p.signature.size() + p.data.size();
  out.reserve(estimate);
  out += R"({"id":)";
  wire::append_quoted(out, r.id);
  out += R"(,"type":"message","role":"assistant","model":)";
  wire::append_quoted(out, r.model);
  out += R"(,"content":[)";
  bool first = true;
  bool has_tool_calls = false;
  for (const auto& p : r.parts) {
    using k = ir::part::kind;
    if (p.type == k::text && p.text.empty()) continue;
    if (p.type != k::text && p.type != k::reasoning && p.type != k::redacted_reasoning &&
        p.type != k::tool_call)
      continue;  // images and the like have no place in an Anthropic reply
    if (!first) out += ',';
    first = false;
    switch (p.type) {
      case k::text:
        out += R"({"type":"text","text":)";
        wire::append_quoted(out, p.text);
        out += '}';
        break;
      case k::reasoning:
      case k::redacted_reasoning:
        append_thinking_block(out, p);
        break;
      default: {
        has_tool_calls = true;
        std::string_view input;
        // Arguments that are not a JSON object (a model cut off mid-call) cannot be a tool_use
        // input; the call is kept with empty input rather than failing the whole reply.
        if (!object_text(p.arguments, input)) input = "{}";
        out += R"({"type":"tool_use","id":)";
        wire::append_tool_id(out, p.id);
        out += R"(,"name":)";
        wire::append_quoted(out, p.name);
        out += R"(,"input":)";
        out += input;
        out += '}';
      }
    }
  }
  out += R"(],"stop_reason":")";
  out += wire::stop_reason_for(r.finish, has_tool_calls);
  out += R"(","stop_sequence":)";
  if (r.finish == ir::finish_reason::stop_sequence && !r.stop_sequence.empty()) {
    wire::append_quoted(out, r.stop_sequence);
  } else {
    out += "null";
  }
  out += R"(,"usage":{)";
  wire::append_usage_members(out, r.tokens);
  std::int64_t write = std::max<std::int64_t>(r.tokens.cache_write, 0);
  std::int64_t hour = std::min(std::max<std::int64_t>(r.tokens.cache_write_1h, 0), write);
  out += R"(,"cache_creation":{"ephemeral_5m_input_tokens":)";
  wire::append_int(out, write - hour);
  out += R"(,"ephemeral_1h_input_tokens":)";
  wire::append_int(out, hour);
  out += "}}}";
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors

ir::api_error decode_error(int status, std::string_view body) {
  ir::api_error e;
  e.status = status;
  e.kind = ir::kind_for_status(status);
  unsigned char buffer[4096];
  bj::monotonic_resource mr(buffer, sizeof buffer);
  boost::system::error_code ec;
  bj::value root = bj::parse(body, ec, &mr);
  const bj::object* o = !ec ? root.if_object() : nullptr;
  if (o) {
    const auto* inner = o->if_contains("error");
    if (inner && inner->is_object()) {
      const auto& err = inner->get_object();
      read_string(err, "message", e.message);
      if (const auto* t = required_string(err, "type")) wire::kind_from_type(view(*t), e.kind);
      // A spend limit is a quota, not a rate: waiting a minute will not help.
      if (const auto* d = err.if_contains("details"); d && d->is_object()) {
        const auto* code = required_string(d->get_object(), "error_code");
        if (code && view(*code) == "enforced_spend_limit_reached") e.kind = ir::error_kind::quota;
      }
    } else if (inner && inner->is_string()) {
      assign(e.message, inner->get_string());
    } else {
      read_string(*o, "message", e.message);
    }
  }
  if (e.message.empty()) {
    // Never the body itself: a non-JSON error is usually a proxy's HTML page.
    e.message = "the upstream returned HTTP " + std::to_string(status);
    e.message += o ? " with an unrecognised error body" : " with a non-JSON body";
  }
  return e;
}

ir::encoded_error encode_error(const ir::api_error& e) {
  ir::encoded_error out;
  out.status = wire::status_for(e);
  out.body.reserve(64 + e.message.size());
  wire::append_error(out.body, e);
  return out;
}

}  // namespace sy::anthropic
