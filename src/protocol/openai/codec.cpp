// The openai codec: OpenAI Chat Completions JSON <-> IR. The mapping is the hub's (protocol/ir,
// docs/protocols.md); decisions of this codec's own are commented where they are made.
#include "protocol/openai/codec.h"

#include "protocol/openai/wire.h"

#include <boost/json.hpp>

#include <cstdint>
#include <ctime>
#include <limits>
#include <optional>
#include <utility>

namespace sy::openai {

namespace bj = boost::json;

// ---------------------------------------------------------------------------------------------
// Shared with stream.cpp (wire.h)

namespace wire {

std::string_view finish_to_openai(ir::finish_reason r) {
  switch (r) {
    case ir::finish_reason::length:
    case ir::finish_reason::context_exceeded:
      return "length";
    case ir::finish_reason::tool_calls:
      return "tool_calls";
    case ir::finish_reason::content_filter:
    case ir::finish_reason::refusal:
      return "content_filter";
    default:  // stop, stop_sequence, pause, error, and `none` (a client expects a string)
      return "stop";
  }
}

ir::finish_reason finish_from_openai(std::string_view s) {
  if (s == "stop") return ir::finish_reason::stop;
  if (s == "length") return ir::finish_reason::length;
  if (s == "tool_calls" || s == "function_call") return ir::finish_reason::tool_calls;
  if (s == "content_filter") return ir::finish_reason::content_filter;
  // Compatible servers have their own ("eos", "abort"...): the answer did end.
  return ir::finish_reason::stop;
}

void append_usage(std::string& out, const ir::usage& u) {
  auto count = [](std::int64_t v) { return v < 0 ? 0 : v; };
  std::int64_t in = count(u.input), gen = count(u.output);
  std::int64_t total = in > std::numeric_limits<std::int64_t>::max() - gen
                           ? std::numeric_limits<std::int64_t>::max()
                           : in + gen;
  out += "{\"prompt_tokens\":";
  append_int(out, in);
  out += ",\"completion_tokens\":";
  append_int(out, gen);
  out += ",\"total_tokens\":";
  append_int(out, total);
  out += ",\"prompt_tokens_details\":{\"cached_tokens\":";
  append_int(out, count(u.cache_read));
  out += ",\"audio_tokens\":0},\"completion_tokens_details\":{\"reasoning_tokens\":";
  append_int(out, count(u.reasoning));
  out += ",\"audio_tokens\":0,\"accepted_prediction_tokens\":0,\"rejected_prediction_tokens\":0}}";
}

namespace {
std::int64_t count_of(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (!v) return -1;
  if (const auto* i = v->if_int64()) return *i < 0 ? -1 : *i;
  if (const auto* u = v->if_uint64())
    return *u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())
               ? -1
               : static_cast<std::int64_t>(*u);
  if (const auto* d = v->if_double())  // some servers write counts as 12.0
    return *d >= 0 && *d < 9.2e18 ? static_cast<std::int64_t>(*d) : -1;
  return -1;
}
}  // namespace

ir::usage read_usage(const bj::object& u) {
  ir::usage out;
  out.input = count_of(u, "prompt_tokens");
  out.output = count_of(u, "completion_tokens");
  if (const auto* d = u.if_contains("prompt_tokens_details"); d && d->is_object())
    out.cache_read = count_of(d->get_object(), "cached_tokens");
  if (out.cache_read < 0) out.cache_read = count_of(u, "prompt_cache_hit_tokens");  // DeepSeek
  if (const auto* d = u.if_contains("completion_tokens_details"); d && d->is_object())
    out.reasoning = count_of(d->get_object(), "reasoning_tokens");
  return out;
}

namespace {

ir::error_kind kind_of(std::string_view type, std::string_view code, int status) {
  if (code == "invalid_api_key" || type == "authentication_error")
    return ir::error_kind::authentication;
  if (code == "insufficient_quota" || type == "insufficient_quota") return ir::error_kind::quota;
  if (code == "rate_limit_exceeded" || type == "rate_limit_error" || type == "tokens" ||
      type == "requests")
    return ir::error_kind::rate_limit;
  if (code == "model_not_found") return ir::error_kind::not_found;
  if (code == "overloaded" || type == "overloaded_error") return ir::error_kind::overloaded;
  if (type == "permission_error") return ir::error_kind::permission;
  if (type == "billing_error") return ir::error_kind::billing;
  if (type == "timeout_error") return ir::error_kind::timeout;
  if (type == "invalid_request_error" || type == "BadRequestError") {
    // OpenAI uses invalid_request_error for 401, 404 and 413 too: the status tells them apart.
    return status >= 400 && status < 500 ? ir::kind_for_status(status)
                                         : ir::error_kind::invalid_request;
  }
  if (type == "server_error" || type == "api_error")
    return status >= 500 ? ir::kind_for_status(status) : ir::error_kind::server;
  return status > 0 ? ir::kind_for_status(status) : ir::error_kind::server;
}

int status_for_kind(ir::error_kind k) {
  switch (k) {
    case ir::error_kind::invalid_request:
      return 400;
    case ir::error_kind::authentication:
      return 401;
    case ir::error_kind::billing:
      return 402;
    case ir::error_kind::permission:
      return 403;
    case ir::error_kind::not_found:
      return 404;
    case ir::error_kind::request_too_large:
      return 413;
    case ir::error_kind::rate_limit:
    case ir::error_kind::quota:
      return 429;
    case ir::error_kind::server:
      return 500;
    case ir::error_kind::overloaded:
      return 503;
    case ir::error_kind::timeout:
      return 504;
  }
  return 500;
}

std::string_view string_of(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

}  // namespace

ir::api_error read_error(const bj::value& error, int status) {
  ir::api_error out;
  std::string_view type, code;
  if (const auto* s = error.if_string()) {
    out.message = *s;  // Ollama: {"error":"model 'x' not found"}
  } else if (const auto* o = error.if_object()) {
    out.message = string_of(*o, "message");
    type = string_of(*o, "type");
    code = string_of(*o, "code");
    out.code = code;
    out.param = string_of(*o, "param");
    // Inside a stream there is no HTTP status; a numeric code (vLLM) may stand for one.
    if (status <= 0) {
      if (const auto* c = o->if_contains("code");
          c && c->is_int64() && c->get_int64() >= 400 && c->get_int64() < 600)
        status = static_cast<int>(c->get_int64());
    }
  }
  out.kind = kind_of(type, code, status);
  out.status = status > 0 ? status : status_for_kind(out.kind);
  return out;
}

}  // namespace wire

namespace {

// ---------------------------------------------------------------------------------------------
// Request decoding

// Deeper than Boost's default of 32: nested JSON Schemas of tools go past it.
bj::parse_options parse_options() {
  bj::parse_options o;
  o.max_depth = 64;
  return o;
}

error bad(std::string message, std::string param) {
  return error{errc::invalid_request, std::move(message), std::move(param)};
}

error missing(std::string param) {
  std::string m = "Missing required parameter: '" + param + "'.";
  return bad(std::move(m), std::move(param));
}

error wrong_type(std::string param, std::string_view expected) {
  std::string m = "Invalid type for '" + param + "': expected " + std::string(expected) + ".";
  return bad(std::move(m), std::move(param));
}

std::string msg_path(std::size_t i, std::string_view rest = {}) {
  std::string p = "messages[" + std::to_string(i) + "]";
  p += rest;
  return p;
}

std::string index_path(std::string_view base, std::size_t i, std::string_view rest = {}) {
  std::string p(base);
  p += '[';
  p += std::to_string(i);
  p += ']';
  p += rest;
  return p;
}

// A member that is present and not null (clients send null for "not given").
const bj::value* field(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

std::optional<double> as_number(const bj::value& v) {
  if (const auto* i = v.if_int64()) return static_cast<double>(*i);
  if (const auto* u = v.if_uint64()) return static_cast<double>(*u);
  if (const auto* d = v.if_double()) return *d;
  return std::nullopt;
}

// Integers may come as 100.0 from loosely typed clients; a fraction or an overflow is an error.
std::optional<std::int64_t> as_integer(const bj::value& v) {
  if (const auto* i = v.if_int64()) return *i;
  if (const auto* u = v.if_uint64()) {
    if (*u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return static_cast<std::int64_t>(*u);
    return std::nullopt;
  }
  if (const auto* d = v.if_double()) {
    if (*d >= -9.2e18 && *d <= 9.2e18 && static_cast<double>(static_cast<std::int64_t>(*d)) == *d)
      return static_cast<std::int64_t>(*d);
  }
  return std::nullopt;
}

// "data:<media type>[;param]*;base64,<data>"
bool split_data_url(std::string_view url, std::string_view& media_type, std::string_view& data) {
  if (url.substr(0, 5) != "data:") return false;
  auto comma = url.find(',');
  if (comma == std::string_view::npos) return false;
  auto meta = url.substr(5, comma - 5);
  constexpr std::string_view b64 = ";base64";
  if (meta.size() < b64.size() || meta.substr(meta.size() - b64.size()) != b64) return false;
  media_type = meta.substr(0, meta.find(';'));
  data = url.substr(comma + 1);
  return true;
}

enum allowed_parts : unsigned {
  allow_text = 1,
  allow_image = 2,
  allow_file = 4,
  allow_refusal = 8,
};

struct decode_state {
  ir::request& r;
  // id -> name of every assistant tool call so far: a tool result learns its tool's name.
  std::vector<std::pair<std::string, std::string>> call_names;
  // Legacy function_call turns not answered yet (name, generated id), oldest first.
  std::vector<std::pair<std::string, std::string>> legacy_calls;
  int legacy_count = 0;

  std::string_view name_of_call(std::string_view id) const {
    for (const auto& [cid, name] : call_names)
      if (cid == id) return name;
    return {};
  }
};

std::optional<error> decode_image_url(const bj::object& po, std::size_t mi, std::size_t pj,
                                      ir::part& out) {
  const auto* iu = field(po, "image_url");
  std::string_view url, detail;
  if (!iu) return missing(msg_path(mi, ".content[" + std::to_string(pj) + "].image_url"));
  if (const auto* s = iu->if_string()) {
    url = *s;  // an older shape some clients still send
  } else if (const auto* o = iu->if_object()) {
    const auto* u = field(*o, "url");
    if (!u) return missing(msg_path(mi, ".content[" + std::to_string(pj) + "].image_url.url"));
    if (!u->is_string())
      return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "].image_url.url"),
                        "a string");
    url = u->get_string();
    if (const auto* d = field(*o, "detail")) {
      if (!d->is_string())
        return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "].image_url.detail"),
                          "a string");
      detail = d->get_string();
    }
  } else {
    return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "].image_url"), "an object");
  }
  out.type = ir::part::kind::image;
  if (url.substr(0, 5) == "data:") {
    std::string_view media, data;
    if (!split_data_url(url, media, data))
      return bad("Invalid image data URL: expected data:<media type>;base64,<data>.",
                 msg_path(mi, ".content[" + std::to_string(pj) + "].image_url.url"));
    // A PDF sent as an image URL is a document (what Anthropic and Gemini call it).
    if (media == "application/pdf") out.type = ir::part::kind::document;
    out.media_type = media;
    out.data = data;
  } else {
    out.url = url;
  }
  out.detail = detail;
  return std::nullopt;
}

// {"type":"file","file":{"file_data":"data:application/pdf;base64,...","filename":...}}: the IR's
// document part. A file_id refers to OpenAI's file store, which no other upstream can read.
std::optional<error> decode_file(const bj::object& po, std::size_t mi, std::size_t pj,
                                 ir::part& out) {
  auto path = [&](std::string_view rest) {
    return msg_path(mi, ".content[" + std::to_string(pj) + "].file" + std::string(rest));
  };
  const auto* f = field(po, "file");
  if (!f) return missing(path(""));
  if (!f->is_object()) return wrong_type(path(""), "an object");
  const auto& fo = f->get_object();
  const auto* fd = field(fo, "file_data");
  if (!fd) {
    if (field(fo, "file_id"))
      return bad("File ids cannot be translated for this model's provider: send file_data.",
                 path(".file_id"));
    return missing(path(".file_data"));
  }
  if (!fd->is_string()) return wrong_type(path(".file_data"), "a string");
  std::string_view text = fd->get_string(), media, data;
  if (text.substr(0, 5) == "data:") {
    if (!split_data_url(text, media, data))
      return bad("Invalid file data URL: expected data:<media type>;base64,<data>.",
                 path(".file_data"));
  } else {
    media = "application/pdf";  // bare base64: the only file type chat completions takes
    data = text;
  }
  out.type = media.substr(0, 6) == "image/" ? ir::part::kind::image : ir::part::kind::document;
  out.media_type = media;
  out.data = data;
  return std::nullopt;
}

std::optional<error> decode_part(const bj::value& pv, std::size_t mi, std::size_t pj,
                                 unsigned allowed, std::vector<ir::part>& out) {
  const auto* po = pv.if_object();
  if (!po) return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "]"), "an object");
  const auto* tv = field(*po, "type");
  if (!tv) return missing(msg_path(mi, ".content[" + std::to_string(pj) + "].type"));
  if (!tv->is_string())
    return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "].type"), "a string");
  std::string_view type = tv->get_string();
  ir::part p;
  if (type == "text" && (allowed & allow_text)) {
    const auto* t = field(*po, "text");
    if (!t) return missing(msg_path(mi, ".content[" + std::to_string(pj) + "].text"));
    if (!t->is_string())
      return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "].text"), "a string");
    p.text = t->get_string();
  } else if (type == "refusal" && (allowed & allow_refusal)) {
    // An assistant's earlier refusal: for the model it is what the assistant said.
    const auto* t = field(*po, "refusal");
    if (!t) return missing(msg_path(mi, ".content[" + std::to_string(pj) + "].refusal"));
    if (!t->is_string())
      return wrong_type(msg_path(mi, ".content[" + std::to_string(pj) + "].refusal"), "a string");
    p.text = t->get_string();
  } else if (type == "image_url" && (allowed & allow_image)) {
    if (auto e = decode_image_url(*po, mi, pj, p)) return e;
  } else if (type == "file" && (allowed & allow_file)) {
    if (auto e = decode_file(*po, mi, pj, p)) return e;
  } else {
    return bad("Unsupported content part type '" + std::string(type) + "' in this message.",
               msg_path(mi, ".content[" + std::to_string(pj) + "].type"));
  }
  out.push_back(std::move(p));
  return std::nullopt;
}

// Content as a string (one text part) or an array of parts.
std::optional<error> decode_content(const bj::value& content, std::size_t mi, unsigned allowed,
                                    std::vector<ir::part>& out) {
  if (const auto* s = content.if_string()) {
    ir::part p;
    p.text = *s;
    out.push_back(std::move(p));
    return std::nullopt;
  }
  const auto* a = content.if_array();
  if (!a) return wrong_type(msg_path(mi, ".content"), "a string or an array of content parts");
  out.reserve(out.size() + a->size());
  for (std::size_t j = 0; j < a->size(); ++j)
    if (auto e = decode_part((*a)[j], mi, j, allowed, out)) return e;
  return std::nullopt;
}

// Arguments are JSON text; a client that sends them as an object gets them serialized.
std::optional<error> read_arguments(const bj::object& fn, std::string param, std::string& out) {
  const auto* a = field(fn, "arguments");
  if (!a) return std::nullopt;
  if (const auto* s = a->if_string()) {
    out = *s;
  } else if (a->is_object()) {
    out = bj::serialize(*a);
  } else {
    return wrong_type(std::move(param), "a string");
  }
  return std::nullopt;
}

std::optional<error> decode_tool_calls(const bj::value& v, std::size_t mi, decode_state& st,
                                       ir::message& m) {
  const auto* a = v.if_array();
  if (!a) return wrong_type(msg_path(mi, ".tool_calls"), "an array");
  for (std::size_t k = 0; k < a->size(); ++k) {
    auto path = [&](std::string_view rest) {
      return msg_path(mi, ".tool_calls[" + std::to_string(k) + "]" + std::string(rest));
    };
    const auto* co = (*a)[k].if_object();
    if (!co) return wrong_type(path(""), "an object");
    if (const auto* t = field(*co, "type"); t && !(t->is_string() && t->get_string() == "function"))
      return bad("Unsupported tool call type: only function calls can be translated.",
                 path(".type"));
    const auto* id = field(*co, "id");
    if (!id) return missing(path(".id"));
    if (!id->is_string()) return wrong_type(path(".id"), "a string");
    const auto* fn = field(*co, "function");
    if (!fn) return missing(path(".function"));
    if (!fn->is_object()) return wrong_type(path(".function"), "an object");
    const auto* name = field(fn->get_object(), "name");
    if (!name) return missing(path(".function.name"));
    if (!name->is_string()) return wrong_type(path(".function.name"), "a string");
    ir::part p;
    p.type = ir::part::kind::tool_call;
    p.id = id->get_string();
    p.name = name->get_string();
    if (auto e = read_arguments(fn->get_object(), path(".function.arguments"), p.arguments))
      return e;
    st.call_names.emplace_back(p.id, p.name);
    m.parts.push_back(std::move(p));
  }
  return std::nullopt;
}

// The members of a message that mean something, found in one pass over it (null = absent).
struct message_fields {
  const bj::value* role = nullptr;
  const bj::value* content = nullptr;
  const bj::value* name = nullptr;
  const bj::value* tool_calls = nullptr;
  const bj::value* tool_call_id = nullptr;
  const bj::value* reasoning = nullptr;  // reasoning_content, else reasoning
  const bj::value* function_call = nullptr;
  std::string_view reasoning_key;
};

message_fields fields_of(const bj::object& mo) {
  message_fields f;
  for (const auto& kv : mo) {
    const bj::value* v = &kv.value();
    if (v->is_null()) continue;
    std::string_view k = kv.key();
    if (k == "role") {
      f.role = v;
    } else if (k == "content") {
      f.content = v;
    } else if (k == "name") {
      f.name = v;
    } else if (k == "tool_calls") {
      f.tool_calls = v;
    } else if (k == "tool_call_id") {
      f.tool_call_id = v;
    } else if (k == "reasoning_content" || (k == "reasoning" && !f.reasoning)) {
      // DeepSeek's reasoning_content; some servers call it `reasoning` (reasoning_content wins).
      f.reasoning = v;
      f.reasoning_key = k;
    } else if (k == "function_call") {
      f.function_call = v;
    }
  }
  return f;
}

std::optional<error> read_name(const message_fields& f, std::size_t mi, std::string& out) {
  if (!f.name) return std::nullopt;
  if (!f.name->is_string()) return wrong_type(msg_path(mi, ".name"), "a string");
  out = f.name->get_string();
  return std::nullopt;
}

std::optional<error> decode_message(const bj::value& mv, std::size_t mi, decode_state& st) {
  const auto* mo = mv.if_object();
  if (!mo) return wrong_type(msg_path(mi), "an object");
  const message_fields f = fields_of(*mo);
  if (!f.role) return missing(msg_path(mi, ".role"));
  if (!f.role->is_string()) return wrong_type(msg_path(mi, ".role"), "a string");
  std::string_view role = f.role->get_string();
  const auto* content = f.content;
  ir::request& r = st.r;

  if (role == "system" || role == "developer") {
    // Merged into ir.system wherever they stand; a system message's `name` has no IR field.
    if (!content) return missing(msg_path(mi, ".content"));
    return decode_content(*content, mi, allow_text, r.system);
  }
  if (role == "user") {
    if (!content) return missing(msg_path(mi, ".content"));
    ir::message m;
    m.who = ir::role::user;
    if (auto e = read_name(f, mi, m.name)) return e;
    if (auto e = decode_content(*content, mi, allow_text | allow_image | allow_file, m.parts))
      return e;
    r.messages.push_back(std::move(m));
    return std::nullopt;
  }
  if (role == "assistant") {
    ir::message m;
    m.who = ir::role::assistant;
    if (auto e = read_name(f, mi, m.name)) return e;
    // Reasoning comes first: the model thought before it answered.
    if (f.reasoning) {
      if (!f.reasoning->is_string())
        return wrong_type(msg_path(mi, "." + std::string(f.reasoning_key)), "a string");
      if (!f.reasoning->get_string().empty()) {
        ir::part p;
        p.type = ir::part::kind::reasoning;
        p.text = f.reasoning->get_string();
        m.parts.push_back(std::move(p));
      }
    }
    if (content) {
      // An empty string is how many clients write "no text" next to tool_calls: no part.
      if (!(content->is_string() && content->get_string().empty()))
        if (auto e = decode_content(*content, mi, allow_text | allow_refusal, m.parts)) return e;
    }
    if (f.tool_calls)
      if (auto e = decode_tool_calls(*f.tool_calls, mi, st, m)) return e;
    if (const auto* fc = f.function_call) {
      // Legacy functions API: no call id on the wire, so one is made up and handed to the
      // "function" message that answers it (matched by name, oldest first).
      if (!fc->is_object()) return wrong_type(msg_path(mi, ".function_call"), "an object");
      const auto* name = field(fc->get_object(), "name");
      if (!name) return missing(msg_path(mi, ".function_call.name"));
      if (!name->is_string()) return wrong_type(msg_path(mi, ".function_call.name"), "a string");
      ir::part p;
      p.type = ir::part::kind::tool_call;
      p.id = "call_fn_" + std::to_string(st.legacy_count++);
      p.name = name->get_string();
      if (auto e = read_arguments(fc->get_object(), msg_path(mi, ".function_call.arguments"),
                                  p.arguments))
        return e;
      st.call_names.emplace_back(p.id, p.name);
      st.legacy_calls.emplace_back(p.name, p.id);
      m.parts.push_back(std::move(p));
    }
    r.messages.push_back(std::move(m));
    return std::nullopt;
  }
  if (role == "tool" || role == "function") {
    ir::part p;
    p.type = ir::part::kind::tool_result;
    if (role == "tool") {
      if (!f.tool_call_id) return missing(msg_path(mi, ".tool_call_id"));
      if (!f.tool_call_id->is_string())
        return wrong_type(msg_path(mi, ".tool_call_id"), "a string");
      p.id = f.tool_call_id->get_string();
      if (auto e = read_name(f, mi, p.name)) return e;
      if (p.name.empty()) p.name = st.name_of_call(p.id);
    } else {
      if (!f.name) return missing(msg_path(mi, ".name"));
      if (auto e = read_name(f, mi, p.name)) return e;
      auto& pending = st.legacy_calls;
      auto it = pending.begin();
      while (it != pending.end() && it->first != p.name)
        ++it;
      if (it != pending.end()) {
        p.id = it->second;
        pending.erase(it);
      } else {
        p.id = "call_fn_" + std::to_string(st.legacy_count++);
      }
    }
    // A result without content is an empty one.
    if (content) {
      if (auto e = decode_content(*content, mi, allow_text | allow_image, p.content)) return e;
    } else {
      p.content.emplace_back();
    }
    ir::message m;
    m.who = ir::role::tool;
    m.parts.push_back(std::move(p));
    r.messages.push_back(std::move(m));
    return std::nullopt;
  }
  return bad("Invalid value: '" + std::string(role) +
                 "'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', "
                 "and 'developer'.",
             msg_path(mi, ".role"));
}

// One function definition: {name, description, parameters, strict}.
std::optional<error> decode_function(const bj::object& fo, const std::string& path,
                                     ir::request& r) {
  ir::tool t;
  const auto* name = field(fo, "name");
  if (!name) return missing(path + ".name");
  if (!name->is_string()) return wrong_type(path + ".name", "a string");
  t.name = name->get_string();
  if (const auto* d = field(fo, "description")) {
    if (!d->is_string()) return wrong_type(path + ".description", "a string");
    t.description = d->get_string();
  }
  if (const auto* p = field(fo, "parameters")) {
    if (!p->is_object()) return wrong_type(path + ".parameters", "an object");
    t.parameters = bj::value(*p, bj::storage_ptr());
  }
  if (const auto* s = field(fo, "strict")) {
    if (!s->is_bool()) return wrong_type(path + ".strict", "a boolean");
    t.strict = s->get_bool();
  }
  r.tools.push_back(std::move(t));
  return std::nullopt;
}

std::optional<error> decode_tools(const bj::value& v, ir::request& r) {
  const auto* a = v.if_array();
  if (!a) return wrong_type("tools", "an array");
  r.tools.reserve(a->size());
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto* to = (*a)[i].if_object();
    if (!to) return wrong_type(index_path("tools", i), "an object");
    if (const auto* t = field(*to, "type"); t && !(t->is_string() && t->get_string() == "function"))
      return bad("Unsupported tool type: only function tools can be translated.",
                 index_path("tools", i, ".type"));
    const auto* fn = field(*to, "function");
    if (!fn) return missing(index_path("tools", i, ".function"));
    if (!fn->is_object()) return wrong_type(index_path("tools", i, ".function"), "an object");
    if (auto e = decode_function(fn->get_object(), index_path("tools", i, ".function"), r))
      return e;
  }
  return std::nullopt;
}

// Legacy `functions`: [{name, description, parameters}], the same tools.
std::optional<error> decode_functions(const bj::value& v, ir::request& r) {
  const auto* a = v.if_array();
  if (!a) return wrong_type("functions", "an array");
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto* fo = (*a)[i].if_object();
    if (!fo) return wrong_type(index_path("functions", i), "an object");
    if (auto e = decode_function(*fo, index_path("functions", i), r)) return e;
  }
  return std::nullopt;
}

std::optional<error> decode_tool_choice(const bj::value& v, std::string_view param,
                                        ir::tool_choice& c) {
  if (const auto* s = v.if_string()) {
    if (*s == "auto") {
      c.type = ir::tool_choice::kind::auto_;
    } else if (*s == "none") {
      c.type = ir::tool_choice::kind::none;
    } else if (*s == "required" && param == "tool_choice") {
      c.type = ir::tool_choice::kind::required;
    } else {
      return bad("Invalid value: '" + std::string(*s) +
                     "'. Supported values are: 'none', 'auto', and 'required'.",
                 std::string(param));
    }
    return std::nullopt;
  }
  const auto* o = v.if_object();
  if (!o) return wrong_type(std::string(param), "a string or an object");
  const bj::object* named = o;  // legacy function_call: {"name": ...}
  if (param == "tool_choice") {
    const auto* t = field(*o, "type");
    if (!t || !t->is_string() || t->get_string() != "function")
      return bad("Unsupported tool_choice: use 'none', 'auto', 'required' or a function.",
                 std::string(param) + ".type");
    const auto* fn = field(*o, "function");
    if (!fn) return missing(std::string(param) + ".function");
    if (!fn->is_object()) return wrong_type(std::string(param) + ".function", "an object");
    named = &fn->get_object();
  }
  const auto* name = field(*named, "name");
  std::string name_path =
      std::string(param) + (param == "tool_choice" ? ".function.name" : ".name");
  if (!name) return missing(name_path);
  if (!name->is_string()) return wrong_type(name_path, "a string");
  c.type = ir::tool_choice::kind::named;
  c.name = name->get_string();
  return std::nullopt;
}

std::optional<error> decode_response_format(const bj::value& v, ir::response_format& f) {
  const auto* o = v.if_object();
  if (!o) return wrong_type("response_format", "an object");
  const auto* t = field(*o, "type");
  if (!t) return missing("response_format.type");
  if (!t->is_string()) return wrong_type("response_format.type", "a string");
  std::string_view type = t->get_string();
  if (type == "text") {
    f.type = ir::response_format::kind::text;
  } else if (type == "json_object") {
    f.type = ir::response_format::kind::json_object;
  } else if (type == "json_schema") {
    f.type = ir::response_format::kind::json_schema;
    const auto* js = field(*o, "json_schema");
    if (!js) return missing("response_format.json_schema");
    if (!js->is_object()) return wrong_type("response_format.json_schema", "an object");
    const auto& jo = js->get_object();
    if (const auto* n = field(jo, "name")) {
      if (!n->is_string()) return wrong_type("response_format.json_schema.name", "a string");
      f.name = n->get_string();
    }
    if (const auto* s = field(jo, "schema")) f.schema = bj::value(*s, bj::storage_ptr());
    if (const auto* s = field(jo, "strict")) {
      if (!s->is_bool()) return wrong_type("response_format.json_schema.strict", "a boolean");
      f.strict = s->get_bool();
    }
  } else {
    return bad("Invalid value: '" + std::string(type) +
                   "'. Supported values are: 'text', 'json_object', and 'json_schema'.",
               "response_format.type");
  }
  return std::nullopt;
}

std::optional<error> decode_stop(const bj::value& v, std::vector<std::string>& stop) {
  if (const auto* s = v.if_string()) {
    stop.emplace_back(*s);
    return std::nullopt;
  }
  const auto* a = v.if_array();
  if (!a) return wrong_type("stop", "a string or an array of strings");
  for (std::size_t i = 0; i < a->size(); ++i) {
    const auto* s = (*a)[i].if_string();
    if (!s) return wrong_type(index_path("stop", i), "a string");
    stop.emplace_back(*s);
  }
  return std::nullopt;
}

std::optional<error> read_double(const bj::value& v, const char* param,
                                 std::optional<double>& out) {
  auto d = as_number(v);
  if (!d) return wrong_type(param, "a number");
  out = *d;
  return std::nullopt;
}

std::optional<error> read_int(const bj::value& v, const char* param,
                              std::optional<std::int64_t>& out) {
  auto i = as_integer(v);
  if (!i) return wrong_type(param, "an integer");
  out = *i;
  return std::nullopt;
}

std::optional<error> read_bool(const bj::value& v, const char* param, bool& out) {
  if (!v.is_bool()) return wrong_type(param, "a boolean");
  out = v.get_bool();
  return std::nullopt;
}

std::optional<error> read_string(const bj::value& v, const char* param, std::string& out) {
  if (!v.is_string()) return wrong_type(param, "a string");
  out = v.get_string();
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Request encoding

using wire::append_escaped;
using wire::append_int;
using wire::append_key;
using wire::append_number;
using wire::append_quoted;
using wire::append_value;

void add_dropped(ir::dropped_fields& dropped, std::string_view name) {
  for (const auto& d : dropped)
    if (d == name) return;
  dropped.emplace_back(name);
}

void append_data_url(std::string& out, const ir::part& p) {
  out += "\"data:";
  append_escaped(out, p.media_type);
  out += ";base64,";
  append_escaped(out, p.data);
  out += '"';
}

// An image part as an image_url content part.
void append_image(std::string& out, const ir::part& p) {
  out += R"({"type":"image_url","image_url":{"url":)";
  if (p.url.empty()) {
    append_data_url(out, p);
  } else {
    append_quoted(out, p.url);
  }
  if (!p.detail.empty()) {
    out += ",\"detail\":";
    append_quoted(out, p.detail);
  }
  out += "}}";
}

// An inline document as a file content part. The IR keeps no file name; OpenAI asks for one
// with file_data, so one is made up from the media type.
void append_file(std::string& out, const ir::part& p) {
  out += R"({"type":"file","file":{"filename":)";
  out += p.media_type == "application/pdf" ? "\"document.pdf\"" : "\"document\"";
  out += ",\"file_data\":";
  append_data_url(out, p);
  out += "}}";
}

// Content parts of a user message (or of a system message: text only).
// Returns whether anything was written.
bool append_content_part(std::string& out, const ir::part& p, bool& first,
                         ir::dropped_fields& dropped) {
  switch (p.type) {
    case ir::part::kind::text:
      break;
    case ir::part::kind::image:
      if (!first) out += ',';
      first = false;
      append_image(out, p);
      return true;
    case ir::part::kind::document:
      if (!p.url.empty()) return false;  // noted by the caller
      if (!first) out += ',';
      first = false;
      append_file(out, p);
      return true;
    default:
      return false;
  }
  if (!first) out += ',';
  first = false;
  out += R"({"type":"text","text":)";
  append_quoted(out, p.text);
  out += '}';
  return true;
}

// Whether append_content_part writes `p`.
bool is_content_part(const ir::part& p) {
  return p.type == ir::part::kind::text || p.type == ir::part::kind::image ||
         (p.type == ir::part::kind::document && p.url.empty());
}

// "content": a string when it is exactly one text part (the common form, and the only one some
// compatible servers take), else an array of parts.
void append_user_content(std::string& out, const std::vector<ir::part>& parts,
                         ir::dropped_fields& dropped) {
  const ir::part* only = nullptr;
  std::size_t n = 0;
  for (const auto& p : parts) {
    if (p.type == ir::part::kind::document && !p.url.empty())
      add_dropped(dropped, "document url");  // OpenAI takes files inline only
    if (!is_content_part(p)) continue;
    only = &p;
    ++n;
  }
  if (n == 0) {
    out += "\"\"";
    return;
  }
  if (n == 1 && only->type == ir::part::kind::text) {
    append_quoted(out, only->text);
    return;
  }
  out += '[';
  bool first = true;
  for (const auto& p : parts)
    append_content_part(out, p, first, dropped);
  out += ']';
}

void note_part_losses(const ir::part& p, ir::dropped_fields& dropped) {
  if (!p.cache_control.is_null()) add_dropped(dropped, "cache_control");
}

// One {"role":"tool"} message per tool result. Images in a result cannot go in a tool message
// (text only there): they follow in a user message so the model still sees them.
void append_tool_results(std::string& out, const std::vector<ir::part>& parts, bool& first_msg,
                         ir::dropped_fields& dropped) {
  bool images = false;
  for (const auto& p : parts) {
    if (p.type != ir::part::kind::tool_result) continue;
    note_part_losses(p, dropped);
    if (p.is_error) add_dropped(dropped, "is_error");
    if (!first_msg) out += ',';
    first_msg = false;
    out += R"({"role":"tool","tool_call_id":)";
    append_quoted(out, p.id);
    out += ",\"content\":";
    std::size_t texts = 0;
    for (const auto& c : p.content) {
      if (c.type == ir::part::kind::text) ++texts;
      if (c.type == ir::part::kind::document && !c.url.empty())
        add_dropped(dropped, "document url");
      if (c.type != ir::part::kind::text && is_content_part(c)) images = true;
    }
    if (texts <= 1) {
      std::string_view text;
      for (const auto& c : p.content)
        if (c.type == ir::part::kind::text) text = c.text;
      append_quoted(out, text);
    } else {
      out += '[';
      bool first = true;
      for (const auto& c : p.content)
        if (c.type == ir::part::kind::text) append_content_part(out, c, first, dropped);
      out += ']';
    }
    out += '}';
  }
  if (!images) return;
  out += R"(,{"role":"user","content":[)";
  bool first = true;
  for (const auto& p : parts) {
    if (p.type != ir::part::kind::tool_result) continue;
    for (const auto& c : p.content)
      if (c.type != ir::part::kind::text) append_content_part(out, c, first, dropped);
  }
  out += "]}";
}

// `,"tool_calls":[...]` of an assistant message (request history or response) from the
// tool-call parts among `parts`.
void append_tool_calls(std::string& out, const std::vector<ir::part>& parts) {
  out += ",\"tool_calls\":[";
  bool first = true;
  for (const auto& p : parts) {
    if (p.type != ir::part::kind::tool_call) continue;
    if (!first) out += ',';
    first = false;
    out += "{\"id\":";
    append_quoted(out, p.id);
    out += R"(,"type":"function","function":{"name":)";
    append_quoted(out, p.name);
    out += ",\"arguments\":";
    append_quoted(out, p.arguments.empty() ? std::string_view("{}") : p.arguments);
    out += "}}";
  }
  out += ']';
}

void append_assistant(std::string& out, const ir::message& m, ir::dropped_fields& dropped) {
  // Text parts joined into one string: DeepSeek and older compatible servers take nothing else
  // for an assistant turn, and nothing is lost for the model.
  std::string text, reasoning;
  bool has_calls = false;
  for (const auto& p : m.parts) {
    note_part_losses(p, dropped);
    if (p.type == ir::part::kind::text) {
      text += p.text;
    } else if (p.type == ir::part::kind::reasoning) {
      reasoning += p.text;
    } else if (p.type == ir::part::kind::redacted_reasoning) {
      add_dropped(dropped, "redacted_reasoning");
    } else if (p.type == ir::part::kind::tool_call) {
      has_calls = true;
    }
  }
  out += R"({"role":"assistant","content":)";
  if (has_calls && text.empty()) {
    out += "null";
  } else {
    append_quoted(out, text);
  }
  if (!m.name.empty()) {
    out += ",\"name\":";
    append_quoted(out, m.name);
  }
  if (!reasoning.empty()) {
    out += ",\"reasoning_content\":";
    append_quoted(out, reasoning);
  }
  if (has_calls) append_tool_calls(out, m.parts);
  out += '}';
}

void append_messages(std::string& out, const ir::request& r, ir::dropped_fields& dropped) {
  out += "\"messages\":[";
  bool first_msg = true;
  std::size_t system_texts = 0;
  for (const auto& p : r.system) {
    note_part_losses(p, dropped);
    if (p.type == ir::part::kind::text) ++system_texts;
  }
  if (system_texts > 0) {
    first_msg = false;
    out += R"({"role":"system","content":)";
    if (system_texts == 1) {
      for (const auto& p : r.system)
        if (p.type == ir::part::kind::text) append_quoted(out, p.text);
    } else {
      out += '[';
      bool first = true;
      for (const auto& p : r.system)
        if (p.type == ir::part::kind::text) append_content_part(out, p, first, dropped);
      out += ']';
    }
    out += '}';
  }
  for (const auto& m : r.messages) {
    // Tool results travel as tool messages whatever the role that holds them (they come first
    // in an Anthropic user turn, so they are written first).
    bool has_results = false, has_other = false;
    for (const auto& p : m.parts) {
      if (p.type == ir::part::kind::tool_result)
        has_results = true;
      else
        has_other = true;
    }
    if (has_results) append_tool_results(out, m.parts, first_msg, dropped);
    if (m.who == ir::role::tool) continue;  // anything else in a tool turn has no OpenAI form
    if (m.who == ir::role::user && has_results && !has_other) continue;
    if (!first_msg) out += ',';
    first_msg = false;
    if (m.who == ir::role::assistant) {
      append_assistant(out, m, dropped);
      continue;
    }
    out += R"({"role":"user","content":)";
    for (const auto& p : m.parts)
      note_part_losses(p, dropped);
    append_user_content(out, m.parts, dropped);
    if (!m.name.empty()) {
      out += ",\"name\":";
      append_quoted(out, m.name);
    }
    out += '}';
  }
  out += ']';
}

std::string_view effort_for_budget(std::int64_t budget) {
  if (budget <= 1024) return "minimal";
  if (budget <= 2048) return "low";
  if (budget <= 8192) return "medium";
  return "high";
}

// reasoning_effort for the request, or empty. An OpenAI client's own value goes back as it came
// ("none" included). From another protocol only when thinking was asked for: models without
// reasoning refuse the field, and a budget of 0 (Gemini) means "no thinking"; a budget of -1
// (Gemini's "dynamic") leaves the effort to the model.
std::string_view effort_to_write(const ir::request& r) {
  const auto& rc = r.reasoning;
  if (r.source == ir::protocol::openai) return rc.effort;
  if (!rc.enabled) return {};
  if (rc.budget_tokens)
    return *rc.budget_tokens > 0 ? effort_for_budget(*rc.budget_tokens) : std::string_view();
  return rc.effort;
}

// About the size of the encoding, so the output grows once (escapes may add a little).
std::size_t size_hint(const ir::request& r) {
  std::size_t n = 512 + r.model.size();
  for (const auto& p : r.system)
    n += 40 + p.text.size();
  for (const auto& m : r.messages) {
    for (const auto& p : m.parts) {
      n += 64 + p.text.size() + p.data.size() + p.url.size() + p.arguments.size();
      for (const auto& c : p.content)
        n += 48 + c.text.size() + c.data.size() + c.url.size();
    }
  }
  for (const auto& t : r.tools)
    n += 384 + t.description.size();
  return n;
}

// Top-level names this encoder writes itself: an `extra` member of the same name is not
// written twice (a hand-built IR could hold one).
bool is_modelled(std::string_view key) {
  static constexpr std::string_view names[] = {"model",
                                               "messages",
                                               "stream",
                                               "stream_options",
                                               "max_tokens",
                                               "max_completion_tokens",
                                               "temperature",
                                               "top_p",
                                               "presence_penalty",
                                               "frequency_penalty",
                                               "seed",
                                               "stop",
                                               "n",
                                               "user",
                                               "response_format",
                                               "reasoning_effort",
                                               "tools",
                                               "tool_choice",
                                               "parallel_tool_calls",
                                               "functions",
                                               "function_call"};
  for (auto n : names)
    if (n == key) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Response decoding

error bad_upstream(std::string message) {
  return error{errc::upstream_bad_response, std::move(message), {}};
}

void append_tool_call_part(std::vector<ir::part>& parts, const bj::object& call) {
  ir::part p;
  p.type = ir::part::kind::tool_call;
  if (const auto* id = call.if_contains("id"); id && id->is_string()) p.id = id->get_string();
  const bj::object* fn = &call;  // legacy function_call is the function object itself
  if (const auto* f = call.if_contains("function"); f && f->is_object()) fn = &f->get_object();
  if (const auto* n = fn->if_contains("name"); n && n->is_string()) p.name = n->get_string();
  if (const auto* a = fn->if_contains("arguments")) {
    if (a->is_string())
      p.arguments = a->get_string();
    else if (a->is_object())
      p.arguments = bj::serialize(*a);
  }
  parts.push_back(std::move(p));
}

}  // namespace

std::variant<ir::request, error> decode_request(std::string_view body) {
  // Parsed into a scratch arena: the DOM lives only as long as this call; what the IR keeps as
  // JSON (schemas, unknown fields) is copied out into default storage.
  unsigned char scratch[8192];
  bj::monotonic_resource arena(scratch, sizeof scratch);
  boost::system::error_code ec;
  bj::value root = bj::parse(body, ec, &arena, parse_options());
  if (ec)
    return bad("We could not parse the JSON body of your request. The body must be valid JSON.",
               {});
  const auto* obj = root.if_object();
  if (!obj) return bad("The request body must be a JSON object.", {});

  ir::request r;
  r.source = ir::protocol::openai;
  decode_state st{r, {}, {}, 0};
  const bj::value *messages = nullptr, *tools = nullptr, *functions = nullptr,
                  *tool_choice = nullptr, *function_call = nullptr, *max_tokens = nullptr,
                  *max_completion_tokens = nullptr, *stream_options = nullptr;
  bool has_model = false;

  for (const auto& kv : *obj) {
    std::string_view key = kv.key();
    const bj::value& v = kv.value();
    std::optional<error> e;
    if (key == "model") {
      if (!v.is_string()) return wrong_type("model", "a string");
      r.model = v.get_string();
      has_model = true;
      continue;
    }
    if (key == "messages") {
      messages = &v;
      continue;
    }
    if (v.is_null()) {
      // null means "not given" for every optional field we model; unknown ones keep it.
      if (!is_modelled(key)) r.extra.emplace(key, v);
      continue;
    }
    if (key == "stream") {
      e = read_bool(v, "stream", r.stream);
    } else if (key == "stream_options") {
      stream_options = &v;
    } else if (key == "max_tokens") {
      max_tokens = &v;
    } else if (key == "max_completion_tokens") {
      max_completion_tokens = &v;
    } else if (key == "temperature") {
      e = read_double(v, "temperature", r.temperature);
    } else if (key == "top_p") {
      e = read_double(v, "top_p", r.top_p);
    } else if (key == "presence_penalty") {
      e = read_double(v, "presence_penalty", r.presence_penalty);
    } else if (key == "frequency_penalty") {
      e = read_double(v, "frequency_penalty", r.frequency_penalty);
    } else if (key == "seed") {
      e = read_int(v, "seed", r.seed);
    } else if (key == "n") {
      std::optional<std::int64_t> n;
      e = read_int(v, "n", n);
      if (!e && (*n < 1 || *n > std::numeric_limits<int>::max()))
        e = bad("Invalid value for 'n': expected an integer of at least 1.", "n");
      if (!e) r.n = static_cast<int>(*n);
    } else if (key == "stop") {
      e = decode_stop(v, r.stop);
    } else if (key == "user") {
      e = read_string(v, "user", r.user);
    } else if (key == "response_format") {
      e = decode_response_format(v, r.format);
    } else if (key == "reasoning_effort") {
      e = read_string(v, "reasoning_effort", r.reasoning.effort);
      // "none" (GPT-5.1) asks for no reasoning: the effort is kept, thinking is not enabled.
      r.reasoning.enabled = !r.reasoning.effort.empty() && r.reasoning.effort != "none";
    } else if (key == "tools") {
      tools = &v;
    } else if (key == "functions") {
      functions = &v;
    } else if (key == "tool_choice") {
      tool_choice = &v;
    } else if (key == "function_call") {
      function_call = &v;
    } else if (key == "parallel_tool_calls") {
      bool b = false;
      e = read_bool(v, "parallel_tool_calls", b);
      r.choice.parallel = b;
    } else {
      r.extra.emplace(key, v);
    }
    if (e) return std::move(*e);
  }

  if (!has_model) return bad("You must provide a model parameter.", "model");
  if (!messages) return missing("messages");
  const auto* ma = messages->if_array();
  if (!ma) return wrong_type("messages", "an array");
  if (ma->empty())
    return bad(
        "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an "
        "empty array instead.",
        "messages");
  r.messages.reserve(ma->size());
  for (std::size_t i = 0; i < ma->size(); ++i)
    if (auto e = decode_message((*ma)[i], i, st)) return std::move(*e);

  // max_completion_tokens supersedes max_tokens (OpenAI deprecated the latter).
  if (max_completion_tokens) {
    if (auto e = read_int(*max_completion_tokens, "max_completion_tokens", r.max_tokens))
      return std::move(*e);
  } else if (max_tokens) {
    if (auto e = read_int(*max_tokens, "max_tokens", r.max_tokens)) return std::move(*e);
  }
  if (stream_options) {
    const auto* so = stream_options->if_object();
    if (!so) return wrong_type("stream_options", "an object");
    if (const auto* iu = field(*so, "include_usage"))
      if (auto e = read_bool(*iu, "stream_options.include_usage", r.include_usage))
        return std::move(*e);
  }
  if (tools)
    if (auto e = decode_tools(*tools, r)) return std::move(*e);
  if (functions)
    if (auto e = decode_functions(*functions, r)) return std::move(*e);
  if (tool_choice) {
    if (auto e = decode_tool_choice(*tool_choice, "tool_choice", r.choice)) return std::move(*e);
  } else if (function_call) {
    if (auto e = decode_tool_choice(*function_call, "function_call", r.choice))
      return std::move(*e);
  }
  return r;
}

std::variant<std::string, error> encode_request(const ir::request& r, ir::dropped_fields& dropped) {
  std::string out;
  out.reserve(size_hint(r));
  out += "{\"model\":";
  append_quoted(out, r.model);
  out += ',';
  append_messages(out, r, dropped);

  bool first = false;  // "model" came first: every key takes a comma
  if (r.stream) {
    // The gateway counts tokens from the usage chunk, whatever the client asked for.
    out += R"(,"stream":true,"stream_options":{"include_usage":true})";
  }
  std::string_view effort = effort_to_write(r);
  if (r.max_tokens) {
    // Reasoning models refuse max_tokens; max_completion_tokens is what they take.
    append_key(
        out,
        effort.empty() && !r.use_max_completion_tokens ? "max_tokens" : "max_completion_tokens",
        first);
    append_int(out, *r.max_tokens);
  }
  auto number = [&](std::string_view key, const std::optional<double>& v) {
    if (!v) return;
    append_key(out, key, first);
    append_number(out, *v);
  };
  number("temperature", r.temperature);
  number("top_p", r.top_p);
  number("presence_penalty", r.presence_penalty);
  number("frequency_penalty", r.frequency_penalty);
  if (r.top_k) add_dropped(dropped, "top_k");
  if (r.seed) {
    append_key(out, "seed", first);
    append_int(out, *r.seed);
  }
  if (!r.stop.empty()) {
    append_key(out, "stop", first);
    out += '[';
    for (std::size_t i = 0; i < r.stop.size(); ++i) {
      if (i) out += ',';
      append_quoted(out, r.stop[i]);
    }
    out += ']';
  }
  if (r.n != 1) {
    append_key(out, "n", first);
    append_int(out, r.n);
  }
  if (!r.user.empty()) {
    append_key(out, "user", first);
    append_quoted(out, r.user);
  }
  switch (r.format.type) {
    case ir::response_format::kind::text:
      break;
    case ir::response_format::kind::json_object:
      append_key(out, "response_format", first);
      out += R"({"type":"json_object"})";
      break;
    case ir::response_format::kind::json_schema:
      append_key(out, "response_format", first);
      out += R"({"type":"json_schema","json_schema":{"name":)";
      // OpenAI requires a name; other protocols have none to give.
      append_quoted(out, r.format.name.empty() ? std::string_view("response") : r.format.name);
      if (!r.format.schema.is_null()) {
        out += ",\"schema\":";
        append_value(out, r.format.schema);
      }
      if (r.format.strict) {
        out += ",\"strict\":";
        out += *r.format.strict ? "true" : "false";
      }
      out += "}}";
      break;
  }
  if (!effort.empty()) {
    append_key(out, "reasoning_effort", first);
    append_quoted(out, effort);
  }
  if (!r.tools.empty()) {
    append_key(out, "tools", first);
    out += '[';
    for (std::size_t i = 0; i < r.tools.size(); ++i) {
      const auto& t = r.tools[i];
      if (!t.cache_control.is_null()) add_dropped(dropped, "cache_control");
      if (i) out += ',';
      out += R"({"type":"function","function":{"name":)";
      append_quoted(out, t.name);
      if (!t.description.empty()) {
        out += ",\"description\":";
        append_quoted(out, t.description);
      }
      if (!t.parameters.is_null()) {
        out += ",\"parameters\":";
        append_value(out, t.parameters);
      }
      if (t.strict) {
        out += ",\"strict\":";
        out += *t.strict ? "true" : "false";
      }
      out += "}}";
    }
    out += ']';
    // OpenAI refuses tool_choice and parallel_tool_calls without tools, so they go only here.
    switch (r.choice.type) {
      case ir::tool_choice::kind::unset:
        break;
      case ir::tool_choice::kind::auto_:
        append_key(out, "tool_choice", first);
        out += "\"auto\"";
        break;
      case ir::tool_choice::kind::none:
        append_key(out, "tool_choice", first);
        out += "\"none\"";
        break;
      case ir::tool_choice::kind::required:
        append_key(out, "tool_choice", first);
        out += "\"required\"";
        break;
      case ir::tool_choice::kind::named:
        append_key(out, "tool_choice", first);
        out += R"({"type":"function","function":{"name":)";
        append_quoted(out, r.choice.name);
        out += "}}";
        break;
    }
    if (r.choice.parallel) {
      append_key(out, "parallel_tool_calls", first);
      out += *r.choice.parallel ? "true" : "false";
    }
  }
  for (const auto& kv : r.extra) {
    if (r.source != ir::protocol::openai) {
      add_dropped(dropped, kv.key());
      continue;
    }
    if (is_modelled(kv.key())) continue;
    out += ',';
    append_quoted(out, kv.key());
    out += ':';
    append_value(out, kv.value());
  }
  out += '}';
  return out;
}

std::variant<ir::response, error> decode_response(std::string_view body) {
  unsigned char scratch[8192];
  bj::monotonic_resource arena(scratch, sizeof scratch);
  boost::system::error_code ec;
  bj::value root = bj::parse(body, ec, &arena, parse_options());
  if (ec) return bad_upstream("The upstream's response is not valid JSON.");
  const auto* obj = root.if_object();
  if (!obj) return bad_upstream("The upstream's response is not a JSON object.");
  if (obj->contains("error") && !obj->contains("choices"))
    return bad_upstream("The upstream answered with an error object and a success status.");
  const auto* choices = obj->if_contains("choices");
  if (!choices || !choices->is_array())
    return bad_upstream("The upstream's response has no choices array.");

  ir::response r;
  if (const auto* v = obj->if_contains("id"); v && v->is_string()) r.id = v->get_string();
  if (const auto* v = obj->if_contains("model"); v && v->is_string()) r.model = v->get_string();
  if (const auto* v = obj->if_contains("created")) {
    if (auto c = as_integer(*v)) r.created = *c;
  }
  if (const auto* u = obj->if_contains("usage"); u && u->is_object())
    r.tokens = wire::read_usage(u->get_object());

  const auto& ca = choices->get_array();
  // n > 1 is not in the IR: the first choice is the answer.
  const bj::object* choice = nullptr;
  for (const auto& c : ca) {
    const auto* co = c.if_object();
    if (!co) return bad_upstream("The upstream's response has a choice that is not an object.");
    if (!choice) choice = co;
    const auto* idx = co->if_contains("index");
    if (idx && as_integer(*idx) == 0) {
      choice = co;
      break;
    }
  }
  if (!choice) return r;  // no choice at all: nothing was generated

  if (const auto* f = choice->if_contains("finish_reason"); f && f->is_string())
    r.finish = wire::finish_from_openai(f->get_string());
  const auto* mv = choice->if_contains("message");
  if (!mv || mv->is_null()) return r;
  const auto* msg = mv->if_object();
  if (!msg) return bad_upstream("The upstream's choice has a message that is not an object.");

  for (std::string_view key : {"reasoning_content", "reasoning"}) {
    const auto* rc = msg->if_contains(key);
    if (!rc || !rc->is_string()) continue;
    if (!rc->get_string().empty()) {
      ir::part p;
      p.type = ir::part::kind::reasoning;
      p.text = rc->get_string();
      r.parts.push_back(std::move(p));
    }
    break;
  }
  if (const auto* c = msg->if_contains("content")) {
    if (const auto* s = c->if_string()) {
      if (!s->empty()) {
        ir::part p;
        p.text = *s;
        r.parts.push_back(std::move(p));
      }
    } else if (const auto* a = c->if_array()) {
      for (const auto& item : *a) {
        const auto* io = item.if_object();
        if (!io) continue;
        const auto* t = io->if_contains("text");
        if (!t || !t->is_string()) continue;
        ir::part p;
        p.text = t->get_string();
        r.parts.push_back(std::move(p));
      }
    }
  }
  // A structured-output refusal is what the assistant said instead of the JSON.
  if (const auto* rf = msg->if_contains("refusal");
      rf && rf->is_string() && !rf->get_string().empty()) {
    ir::part p;
    p.text = rf->get_string();
    r.parts.push_back(std::move(p));
  }
  if (const auto* tc = msg->if_contains("tool_calls"); tc && tc->is_array()) {
    for (const auto& c : tc->get_array())
      if (const auto* co = c.if_object()) append_tool_call_part(r.parts, *co);
  }
  if (const auto* fc = msg->if_contains("function_call"); fc && fc->is_object()) {
    append_tool_call_part(r.parts, fc->get_object());
    if (r.parts.back().id.empty()) r.parts.back().id = "call_fn_0";
  }
  return r;
}

std::string encode_response(const ir::response& r) {
  std::string out;
  out.reserve(512);
  out += "{\"id\":";
  append_quoted(out, r.id);
  out += R"(,"object":"chat.completion","created":)";
  append_int(out, r.created);
  out += ",\"model\":";
  append_quoted(out, r.model);
  out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
  std::string text, reasoning;
  bool has_calls = false;
  for (const auto& p : r.parts) {
    if (p.type == ir::part::kind::text) {
      text += p.text;
    } else if (p.type == ir::part::kind::reasoning) {
      reasoning += p.text;
    } else if (p.type == ir::part::kind::tool_call) {
      has_calls = true;
    }
  }
  if (has_calls && text.empty()) {
    out += "null";
  } else {
    append_quoted(out, text);
  }
  out += R"(,"refusal":null,"annotations":[])";
  if (has_calls) append_tool_calls(out, r.parts);
  if (!reasoning.empty()) {
    out += ",\"reasoning_content\":";
    append_quoted(out, reasoning);
  }
  out += R"(},"logprobs":null,"finish_reason":)";
  append_quoted(out, wire::finish_to_openai(r.finish));
  out += "}],\"usage\":";
  wire::append_usage(out, r.tokens);
  out += ",\"system_fingerprint\":null}";
  return out;
}

ir::api_error decode_error(int status, std::string_view body) {
  ir::api_error out;
  out.kind = ir::kind_for_status(status);
  boost::system::error_code ec;
  bj::value root = bj::parse(body, ec);
  if (const auto* o = ec ? nullptr : root.if_object()) {
    if (const auto* e = o->if_contains("error"); e && (e->is_object() || e->is_string())) {
      out = wire::read_error(*e, status);
    } else if (o->contains("message")) {
      // vLLM and others: {"object":"error","message","type","param","code"} at the top.
      out = wire::read_error(root, status);
    } else if (const auto* d = o->if_contains("detail"); d && d->is_string()) {
      out = wire::read_error(*d, status);  // FastAPI-based servers
    }
  }
  out.status = status;
  // Never pass on a body we cannot read (an HTML error page): a short message instead.
  if (out.message.empty())
    out.message = "The upstream returned HTTP " + std::to_string(status) + ".";
  return out;
}

ir::encoded_error encode_error(const ir::api_error& e) {
  struct row {
    int status;
    std::string_view type;
    std::string_view code;  // empty: the error's own code, or null
  };
  row t{500, "server_error", {}};
  switch (e.kind) {
    case ir::error_kind::invalid_request:
      t = {400, "invalid_request_error", {}};
      break;
    case ir::error_kind::authentication:
      t = {401, "authentication_error", "invalid_api_key"};
      break;
    case ir::error_kind::billing:
      t = {402, "billing_error", {}};
      break;
    case ir::error_kind::permission:
      t = {403, "permission_error", {}};
      break;
    case ir::error_kind::not_found:
      t = {404, "invalid_request_error", {}};
      break;
    case ir::error_kind::request_too_large:
      t = {413, "invalid_request_error", {}};
      break;
    case ir::error_kind::rate_limit:
      t = {429, "rate_limit_error", "rate_limit_exceeded"};
      break;
    case ir::error_kind::quota:
      t = {429, "insufficient_quota", "insufficient_quota"};
      break;
    case ir::error_kind::server:
      t = {e.status >= 500 && e.status < 600 ? e.status : 500, "server_error", {}};
      break;
    case ir::error_kind::overloaded:
      t = {503, "server_error", "overloaded"};
      break;
    case ir::error_kind::timeout:
      t = {504, "timeout_error", {}};
      break;
  }
  std::string_view code = t.code.empty() ? std::string_view(e.code) : t.code;
  if (code.empty() && e.kind == ir::error_kind::not_found &&
      (e.param == "model" || e.message.find("model") != std::string::npos))
    code = "model_not_found";  // what the OpenAI SDKs and clients look for
  std::string_view message = e.message;
  if (message.empty()) message = "The request failed.";

  ir::encoded_error out;
  out.status = t.status;
  out.body.reserve(96 + message.size());
  out.body += "{\"error\":{\"message\":";
  append_quoted(out.body, message);
  out.body += ",\"type\":";
  append_quoted(out.body, t.type);
  out.body += ",\"param\":";
  if (e.param.empty())
    out.body += "null";
  else
    append_quoted(out.body, e.param);
  out.body += ",\"code\":";
  if (code.empty())
    out.body += "null";
  else
    append_quoted(out.body, code);
  out.body += "}}";
  return out;
}

}  // namespace sy::openai
