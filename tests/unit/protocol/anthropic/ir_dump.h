// Test helpers for the anthropic codec tests: a canonical text dump of IR values (to compare two
// IRs field by field with a readable diff) and JSON comparison where 1 == 1.0.
#pragma once

#include "protocol/ir/ir.h"

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace sy::test {

inline std::string dump_json(const boost::json::value& v) {
  return v.is_null() ? std::string("null") : boost::json::serialize(v);
}

inline std::string dump(const ir::part& p) {
  std::string s = "part{type=" + std::to_string(static_cast<int>(p.type));
  auto field = [&](const char* name, const std::string& v) {
    if (!v.empty())
      s += std::string(" ") + name + "=" + boost::json::serialize(boost::json::value(v));
  };
  field("text", p.text);
  field("url", p.url);
  field("media_type", p.media_type);
  field("data", p.data);
  field("detail", p.detail);
  field("id", p.id);
  field("name", p.name);
  field("arguments", p.arguments);
  field("signature", p.signature);
  if (p.is_error) s += " is_error";
  if (!p.cache_control.is_null()) s += " cache_control=" + dump_json(p.cache_control);
  if (!p.content.empty()) {
    s += " content=[";
    for (const auto& c : p.content)
      s += dump(c) + ",";
    s += "]";
  }
  return s + "}";
}

inline std::string dump(const ir::request& r) {
  std::string s;
  s += "source=" + std::string(ir::to_string(r.source)) + "\n";
  s += "model=" + r.model + "\n";
  s += "stream=" + std::to_string(r.stream) + " include_usage=" + std::to_string(r.include_usage) +
       "\n";
  for (const auto& p : r.system)
    s += "system " + dump(p) + "\n";
  for (const auto& m : r.messages) {
    s += "message role=" + std::to_string(static_cast<int>(m.who)) + " name=" + m.name + "\n";
    for (const auto& p : m.parts)
      s += "  " + dump(p) + "\n";
  }
  for (const auto& t : r.tools) {
    s += "tool " + t.name + " desc=" + t.description + " params=" + dump_json(t.parameters);
    if (t.strict) s += " strict=" + std::to_string(*t.strict);
    if (!t.cache_control.is_null()) s += " cache_control=" + dump_json(t.cache_control);
    s += "\n";
  }
  s += "choice=" + std::to_string(static_cast<int>(r.choice.type)) + " name=" + r.choice.name;
  if (r.choice.parallel) s += " parallel=" + std::to_string(*r.choice.parallel);
  s += "\n";
  if (r.max_tokens) s += "max_tokens=" + std::to_string(*r.max_tokens) + "\n";
  if (r.temperature) s += "temperature=" + std::to_string(*r.temperature) + "\n";
  if (r.top_p) s += "top_p=" + std::to_string(*r.top_p) + "\n";
  if (r.top_k) s += "top_k=" + std::to_string(*r.top_k) + "\n";
  if (r.presence_penalty) s += "presence_penalty=" + std::to_string(*r.presence_penalty) + "\n";
  if (r.frequency_penalty) s += "frequency_penalty=" + std::to_string(*r.frequency_penalty) + "\n";
  if (r.seed) s += "seed=" + std::to_string(*r.seed) + "\n";
  for (const auto& stop : r.stop)
    s += "stop=" + boost::json::serialize(boost::json::value(stop)) + "\n";
  s += "n=" + std::to_string(r.n) + "\n";
  s += "format=" + std::to_string(static_cast<int>(r.format.type)) + " name=" + r.format.name +
       " schema=" + dump_json(r.format.schema) + "\n";
  s += "reasoning effort=" + r.reasoning.effort + " enabled=" + std::to_string(r.reasoning.enabled);
  if (r.reasoning.budget_tokens) s += " budget=" + std::to_string(*r.reasoning.budget_tokens);
  s += "\n";
  s += "user=" + r.user + "\n";
  s += "extra=" + boost::json::serialize(r.extra) + "\n";
  return s;
}

inline std::string dump(const ir::usage& u) {
  return "usage{in=" + std::to_string(u.input) + " out=" + std::to_string(u.output) +
         " read=" + std::to_string(u.cache_read) + " write=" + std::to_string(u.cache_write) +
         " 1h=" + std::to_string(u.cache_write_1h) + " reasoning=" + std::to_string(u.reasoning) +
         "}";
}

inline std::string dump(const ir::response& r) {
  std::string s = "id=" + r.id + " model=" + r.model + " created=" + std::to_string(r.created) +
                  " finish=" + std::string(ir::to_string(r.finish)) +
                  " stop_sequence=" + r.stop_sequence + " " + dump(r.tokens) + "\n";
  for (const auto& p : r.parts)
    s += "  " + dump(p) + "\n";
  return s;
}

inline std::string dump(const ir::stream_event& e) {
  using k = ir::stream_event::kind;
  static const char* names[] = {"start",      "text",      "reasoning", "signature", "redacted",
                                "tool_start", "tool_args", "usage",     "finish",    "error"};
  std::string s = names[static_cast<int>(e.type)];
  switch (e.type) {
    case k::start:
      return s + " id=" + e.id + " model=" + e.name + " " + dump(e.tokens);
    case k::tool_call_start:
      return s + " #" + std::to_string(e.tool_index) + " id=" + e.id + " name=" + e.name;
    case k::tool_args_delta:
      return s + " #" + std::to_string(e.tool_index) + " " + e.text;
    case k::usage:
      return s + " " + dump(e.tokens);
    case k::finish:
      return s + " " + std::string(ir::to_string(e.reason)) + " " + e.text;
    case k::error:
      return s + " kind=" + std::to_string(static_cast<int>(e.failure.kind)) +
             " status=" + std::to_string(e.failure.status) + " " + e.failure.message;
    default:
      return s + " " + e.text;
  }
}

inline std::vector<std::string> dump(const std::vector<ir::stream_event>& events) {
  std::vector<std::string> out;
  for (const auto& e : events)
    out.push_back(dump(e));
  return out;
}

// JSON equality where numbers compare by value (1 == 1.0), as a JSON client sees them.
inline bool json_equal(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const auto* other = y.if_contains(kv.key());
      if (!other || !json_equal(kv.value(), *other)) return false;
    }
    return true;
  }
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!json_equal(x[i], y[i])) return false;
    return true;
  }
  return a == b;
}

}  // namespace sy::test
