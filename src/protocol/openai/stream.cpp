// OpenAI Chat Completions streams: `data: <chunk>\n\n` ... `data: [DONE]\n\n`, in both
// directions (see the hub brief, "Streams").
#include "protocol/openai/stream.h"

#include "protocol/openai/codec.h"
#include "protocol/openai/wire.h"

#include <boost/json.hpp>

#include <ctime>
#include <limits>
#include <random>

namespace sy::openai {

namespace bj = boost::json;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

std::string_view string_member(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

// For a tool call the upstream gave no id: "call_" + 24 random letters and digits, the shape
// OpenAI's own ids have.
std::string make_call_id() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::string id = "call_";
  for (int i = 0; i < 24; ++i)
    id += alphabet[rng() % (sizeof alphabet - 1)];
  return id;
}

ir::stream_event event_of(ir::stream_event::kind k) {
  ir::stream_event e;
  e.type = k;
  return e;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Decoder

stream_decoder::tool_slot& stream_decoder::slot_for(std::int64_t key, bool keyed,
                                                    std::string_view id, std::string_view name,
                                                    std::vector<ir::stream_event>& out) {
  for (auto& s : tools_) {
    if (keyed) {
      if (s.key != key) continue;
      // Some servers number every call 0: a new id under a known index is a new call.
      if (!id.empty() && id != s.id) {
        s.key = std::numeric_limits<std::int64_t>::min();
        break;
      }
      return s;
    }
    if (!id.empty() && s.id == id) return s;
  }
  // No index and no id: the continuation of the last call.
  if (!keyed && id.empty() && !tools_.empty()) return tools_.back();
  int index = static_cast<int>(tools_.size());
  tools_.push_back(
      {keyed ? key : -1 - index, index, id.empty() ? make_call_id() : std::string(id)});
  auto ev = event_of(ir::stream_event::kind::tool_call_start);
  ev.tool_index = index;
  ev.id = tools_.back().id;
  ev.name = name;
  out.push_back(std::move(ev));
  return tools_.back();
}

void stream_decoder::feed(const sse::event& ev, std::vector<ir::stream_event>& out) {
  if (done_ || failed_) return;
  std::string_view data = trim(ev.data);
  if (data.empty()) return;
  if (data == "[DONE]") {
    done_ = true;
    return;
  }
  unsigned char scratch[4096];
  bj::monotonic_resource arena(scratch, sizeof scratch);
  boost::system::error_code ec;
  bj::value root = bj::parse(data, ec, &arena);
  const auto* obj = ec ? nullptr : root.if_object();
  if (!obj) {
    auto e = event_of(ir::stream_event::kind::error);
    e.failure.status = 502;
    e.failure.kind = ir::error_kind::server;
    e.failure.message = "The upstream sent a stream event that is not a JSON object.";
    out.push_back(std::move(e));
    failed_ = true;
    return;
  }
  const bj::value* error = obj->if_contains("error");
  if (error && !(error->is_object() || error->is_string())) error = nullptr;
  if (error || string_member(*obj, "object") == "error") {
    auto e = event_of(ir::stream_event::kind::error);
    e.failure = wire::read_error(error ? *error : root, 0);
    if (e.failure.message.empty()) e.failure.message = "The upstream reported an error.";
    out.push_back(std::move(e));
    failed_ = true;
    return;
  }

  if (!started_) {
    started_ = true;
    auto s = event_of(ir::stream_event::kind::start);
    s.id = string_member(*obj, "id");
    s.name = string_member(*obj, "model");
    out.push_back(std::move(s));
  }

  std::string_view finish;
  if (const auto* choices = obj->if_contains("choices"); choices && choices->is_array()) {
    for (const auto& c : choices->get_array()) {
      const auto* co = c.if_object();
      if (!co) continue;
      // Only the first choice is relayed (the IR has one); n > 1 streams interleave others.
      if (const auto* idx = co->if_contains("index"); idx &&
                                                      !(idx->is_int64() && idx->get_int64() == 0) &&
                                                      !(idx->is_uint64() && idx->get_uint64() == 0))
        continue;
      if (const auto* f = co->if_contains("finish_reason"); f && f->is_string())
        finish = f->get_string();
      const auto* dv = co->if_contains("delta");
      const auto* delta = dv ? dv->if_object() : nullptr;
      if (!delta) continue;
      // DeepSeek's reasoning_content; vLLM and others call it `reasoning`. Some send both with
      // the same text: one is taken.
      for (std::string_view key : {"reasoning_content", "reasoning"}) {
        const auto* r = delta->if_contains(key);
        if (!r || !r->is_string() || r->get_string().empty()) continue;
        auto e = event_of(ir::stream_event::kind::reasoning_delta);
        e.text = r->get_string();
        out.push_back(std::move(e));
        break;
      }
      for (std::string_view key : {"content", "refusal"}) {
        auto text = string_member(*delta, key);
        if (text.empty()) continue;
        auto e = event_of(ir::stream_event::kind::text_delta);
        e.text = text;
        out.push_back(std::move(e));
      }
      if (const auto* tc = delta->if_contains("tool_calls"); tc && tc->is_array()) {
        for (const auto& call : tc->get_array()) {
          const auto* co2 = call.if_object();
          if (!co2) continue;
          std::int64_t key = 0;
          bool keyed = false;
          if (const auto* idx = co2->if_contains("index")) {
            if (idx->is_int64()) {
              key = idx->get_int64();
              keyed = key >= 0;
            } else if (idx->is_uint64() &&
                       idx->get_uint64() <
                           static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
              key = static_cast<std::int64_t>(idx->get_uint64());
              keyed = true;
            }
          }
          const bj::object* fn = nullptr;
          if (const auto* f = co2->if_contains("function"); f && f->is_object())
            fn = &f->get_object();
          auto& slot = slot_for(key, keyed, string_member(*co2, "id"),
                                fn ? string_member(*fn, "name") : std::string_view(), out);
          auto args = fn ? string_member(*fn, "arguments") : std::string_view();
          if (!args.empty()) {
            auto e = event_of(ir::stream_event::kind::tool_args_delta);
            e.tool_index = slot.index;
            e.text = args;
            out.push_back(std::move(e));
          }
        }
      }
      if (const auto* fc = delta->if_contains("function_call"); fc && fc->is_object()) {
        // Legacy functions API: one call, no id, no index.
        const auto& fo = fc->get_object();
        constexpr std::int64_t legacy_key = std::numeric_limits<std::int64_t>::max();
        auto& slot = slot_for(legacy_key, true, {}, string_member(fo, "name"), out);
        auto args = string_member(fo, "arguments");
        if (!args.empty()) {
          auto e = event_of(ir::stream_event::kind::tool_args_delta);
          e.tool_index = slot.index;
          e.text = args;
          out.push_back(std::move(e));
        }
      }
    }
  }
  // Usage before finish when one chunk carries both (DeepSeek, vLLM): the IR order.
  if (const auto* u = obj->if_contains("usage"); u && u->is_object()) {
    auto e = event_of(ir::stream_event::kind::usage);
    e.tokens = wire::read_usage(u->get_object());
    out.push_back(std::move(e));
  }
  if (!finish.empty()) {
    auto e = event_of(ir::stream_event::kind::finish);
    e.reason = wire::finish_from_openai(finish);
    out.push_back(std::move(e));
  }
}

// ---------------------------------------------------------------------------------------------
// Encoder

std::string_view stream_encoder::content_type() const {
  return "text/event-stream; charset=utf-8";
}

void stream_encoder::start(std::string_view id, std::string_view model, std::string& out) {
  started_ = true;
  // The client sees the model it asked for; the id is the upstream's when it gave one.
  if (id.empty()) id = options_.id;
  if (!options_.model.empty()) model = options_.model;
  std::int64_t created = options_.created ? options_.created : std::time(nullptr);
  head_ = "{\"id\":";
  wire::append_quoted(head_, id);
  head_ += R"(,"object":"chat.completion.chunk","created":)";
  wire::append_int(head_, created);
  head_ += ",\"model\":";
  wire::append_quoted(head_, model);
  prefix_ = head_;
  prefix_ += R"(,"choices":[{"index":0,"delta":)";
  open_chunk(out);
  out += R"({"role":"assistant","content":""})";
  close_chunk(out, {});
}

void stream_encoder::open_chunk(std::string& out) const {
  out += "data: ";
  out += prefix_;
}

void stream_encoder::close_chunk(std::string& out, std::string_view finish_reason) const {
  out += R"(,"logprobs":null,"finish_reason":)";
  if (finish_reason.empty()) {
    out += "null";
  } else {
    wire::append_quoted(out, finish_reason);
  }
  out += "}]";
  if (options_.include_usage) out += ",\"usage\":null";
  out += "}\n\n";
}

void stream_encoder::encode(const ir::stream_event& ev, std::string& out) {
  using kind = ir::stream_event::kind;
  if (ended_) return;
  if (ev.type == kind::error) {
    out += "data: ";
    out += encode_error(ev.failure).body;
    out += "\n\n";
    ended_ = true;
    return;
  }
  if (ev.type == kind::start) {
    if (!started_) start(ev.id, ev.name, out);
    usage_.merge(ev.tokens);  // Anthropic's message_start carries the prompt count
    return;
  }
  switch (ev.type) {
    case kind::usage:
      usage_.merge(ev.tokens);
      return;
    case kind::finish:
      reason_ = ev.reason;  // written by finish(), after which usage may still arrive
      return;
    case kind::reasoning_signature:
    case kind::redacted_reasoning:
      return;  // OpenAI has no place for them
    case kind::text_delta:
    case kind::reasoning_delta:
    case kind::tool_args_delta:
      if (ev.text.empty()) return;
      break;
    default:
      break;
  }
  if (!started_) start({}, {}, out);
  open_chunk(out);
  switch (ev.type) {
    case kind::text_delta:
      out += "{\"content\":";
      wire::append_quoted(out, ev.text);
      out += '}';
      break;
    case kind::reasoning_delta:
      out += "{\"reasoning_content\":";
      wire::append_quoted(out, ev.text);
      out += '}';
      break;
    case kind::tool_call_start:
      out += "{\"tool_calls\":[{\"index\":";
      wire::append_int(out, ev.tool_index);
      out += ",\"id\":";
      wire::append_quoted(out, ev.id);
      out += R"(,"type":"function","function":{"name":)";
      wire::append_quoted(out, ev.name);
      out += R"(,"arguments":""}}]})";
      break;
    case kind::tool_args_delta:
      out += "{\"tool_calls\":[{\"index\":";
      wire::append_int(out, ev.tool_index);
      out += R"(,"function":{"arguments":)";
      wire::append_quoted(out, ev.text);
      out += "}}]}";
      break;
    default:
      out += "{}";
  }
  close_chunk(out, {});
}

void stream_encoder::finish(std::string& out) {
  if (ended_) return;
  ended_ = true;
  if (!started_) start({}, {}, out);
  open_chunk(out);
  out += "{}";
  close_chunk(out, wire::finish_to_openai(reason_));
  if (options_.include_usage) {
    out += "data: ";
    out += head_;
    out += R"(,"choices":[],"usage":)";
    wire::append_usage(out, usage_);
    out += "}\n\n";
  }
  out += "data: [DONE]\n\n";
}

}  // namespace sy::openai
