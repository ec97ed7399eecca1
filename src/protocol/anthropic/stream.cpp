// Anthropic Messages streams: `event: <type>\ndata: <json>\n\n`, message_start first, then
// content blocks (start, deltas, stop) with consecutive indexes, message_delta (stop reason and
// cumulative usage), message_stop. The decoder reads them into IR events; the encoder writes
// them from IR events in the order the official SDKs' accumulators expect.
#include "protocol/anthropic/stream.h"

#include <boost/json.hpp>

namespace sy::anthropic {
namespace bj = boost::json;

namespace {

std::string_view view(const bj::string& s) {
  return {s.data(), s.size()};
}

std::string_view string_member(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? view(v->get_string()) : std::string_view{};
}

const bj::object* object_member(const bj::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? v->if_object() : nullptr;
}

std::int64_t index_member(const bj::object& o) {
  const auto* v = o.if_contains("index");
  if (v && v->is_int64()) return v->get_int64();
  if (v && v->is_uint64()) return static_cast<std::int64_t>(v->get_uint64() >> 1);
  return -1;
}

ir::stream_event& add(std::vector<ir::stream_event>& out, ir::stream_event::kind k) {
  out.emplace_back();
  out.back().type = k;
  return out.back();
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Decoder

const stream_decoder::open_block* stream_decoder::find(std::int64_t index) const {
  if (index < 0 || index >= static_cast<std::int64_t>(blocks_.size())) return nullptr;
  const auto& b = blocks_[static_cast<std::size_t>(index)];
  return b.kind == block::none ? nullptr : &b;
}

void stream_decoder::emit_usage(std::vector<ir::stream_event>& out) {
  add(out, ir::stream_event::kind::usage).tokens = usage_.to_ir();
}

void stream_decoder::feed(const sse::event& ev, std::vector<ir::stream_event>& out) {
  using k = ir::stream_event::kind;
  if (done_ || ev.type == "ping") return;
  // Events are small: parsed in a stack buffer, without touching the heap.
  unsigned char buffer[4096];
  bj::monotonic_resource mr(buffer, sizeof buffer);
  boost::system::error_code ec;
  bj::value v = bj::parse(ev.data, ec, &mr);
  if (ec || !v.is_object()) {
    auto& e = add(out, k::error);
    e.failure.status = 502;
    e.failure.kind = ir::error_kind::server;
    e.failure.message = "the upstream sent a malformed stream event";
    return;
  }
  const auto& o = v.get_object();
  std::string_view type = string_member(o, "type");
  if (type.empty()) type = ev.type;

  if (type == "content_block_delta") {  // the most frequent event first
    const auto* delta = object_member(o, "delta");
    if (!delta) return;
    const open_block* b = find(index_member(o));
    std::string_view dt = string_member(*delta, "type");
    if (dt == "text_delta") {
      auto text = string_member(*delta, "text");
      if (!text.empty() && (!b || b->kind == block::text)) add(out, k::text_delta).text = text;
    } else if (dt == "thinking_delta") {
      auto text = string_member(*delta, "thinking");
      if (!text.empty() && (!b || b->kind == block::thinking))
        add(out, k::reasoning_delta).text = text;
    } else if (dt == "signature_delta") {
      auto sig = string_member(*delta, "signature");
      if (!sig.empty() && (!b || b->kind == block::thinking))
        add(out, k::reasoning_signature).text = sig;
    } else if (dt == "input_json_delta") {
      // The first fragment is always "": nothing to pass on. Deltas of server tool blocks
      // (kind other) are not the client's tool calls.
      auto json = string_member(*delta, "partial_json");
      if (!json.empty() && b && b->kind == block::tool) {
        auto& e = add(out, k::tool_args_delta);
        e.tool_index = b->tool_index;
        e.text = json;
      }
    }
  } else if (type == "content_block_start") {
    const auto* cb = object_member(o, "content_block");
    open_block b{block::other, -1};
    std::string_view bt = cb ? string_member(*cb, "type") : std::string_view{};
    if (bt == "text") {
      b.kind = block::text;
      auto text = string_member(*cb, "text");
      if (!text.empty()) add(out, k::text_delta).text = text;
    } else if (bt == "thinking") {
      b.kind = block::thinking;
      auto text = string_member(*cb, "thinking");
      if (!text.empty()) add(out, k::reasoning_delta).text = text;
      auto sig = string_member(*cb, "signature");
      if (!sig.empty()) add(out, k::reasoning_signature).text = sig;
    } else if (bt == "redacted_thinking") {
      add(out, k::redacted_reasoning).text = string_member(*cb, "data");
    } else if (bt == "tool_use") {
      b.kind = block::tool;
      b.tool_index = tools_++;
      auto& e = add(out, k::tool_call_start);
      e.tool_index = b.tool_index;
      e.id = string_member(*cb, "id");
      e.name = string_member(*cb, "name");
      const auto* input = cb->if_contains("input");
      if (input && input->is_object() && !input->get_object().empty()) {
        auto& args = add(out, k::tool_args_delta);
        args.tool_index = b.tool_index;
        wire::append_value(args.text, *input);
      }
    }
    std::int64_t index = index_member(o);
    if (index >= 0 && index < max_blocks) {
      if (index >= static_cast<std::int64_t>(blocks_.size()))
        blocks_.resize(static_cast<std::size_t>(index) + 1);
      blocks_[static_cast<std::size_t>(index)] = b;
    }
  } else if (type == "message_start") {
    const auto* m = object_member(o, "message");
    auto& e = add(out, k::start);
    if (m) {
      e.id = string_member(*m, "id");
      e.name = string_member(*m, "model");
      if (const auto* u = object_member(*m, "usage")) {
        usage_.read(*u);
        e.tokens = usage_.to_ir();
        emit_usage(out);
      }
    }
  } else if (type == "message_delta") {
    if (const auto* u = object_member(o, "usage")) {
      usage_.read(*u);
      emit_usage(out);
    }
    const auto* delta = object_member(o, "delta");
    const auto* reason = delta ? delta->if_contains("stop_reason") : nullptr;
    if (reason && reason->is_string()) {
      auto& e = add(out, k::finish);
      e.reason = wire::finish_from(view(reason->get_string()));
      e.text = string_member(*delta, "stop_sequence");
    }
  } else if (type == "message_stop") {
    done_ = true;
  } else if (type == "error") {
    auto& e = add(out, k::error);
    e.failure.kind = ir::error_kind::server;
    if (const auto* err = object_member(o, "error")) {
      wire::kind_from_type(string_member(*err, "type"), e.failure.kind);
      e.failure.message = string_member(*err, "message");
    }
    if (e.failure.message.empty()) e.failure.message = "the upstream stream failed";
    e.failure.status = wire::status_for(e.failure);
  }
  // ping (as JSON), content_block_stop and unknown events carry nothing for the IR.
}

// ---------------------------------------------------------------------------------------------
// Encoder

std::string_view stream_encoder::content_type() const {
  return "text/event-stream; charset=utf-8";
}

void stream_encoder::begin(std::string_view type, std::string& out) {
  out += "event: ";
  out += type;
  out += "\ndata: {\"type\":\"";
  out += type;
  out += '"';
}

void stream_encoder::start(const ir::stream_event* ev, std::string& out) {
  started_ = true;
  ir::usage tokens;
  if (ev) {
    tokens = ev->tokens;
    usage_.merge(ev->tokens);
  }
  std::string_view id = ev && !ev->id.empty() ? std::string_view(ev->id) : options_.id;
  // The model the client asked for, as Anthropic answers with the model of the request.
  std::string_view model = options_.model;
  if (model.empty() && ev) model = ev->name;
  begin("message_start", out);
  out += R"(,"message":{"id":)";
  wire::append_quoted(out, id);
  out += R"(,"type":"message","role":"assistant","model":)";
  wire::append_quoted(out, model);
  out += R"(,"content":[],"stop_reason":null,"stop_sequence":null,"usage":{)";
  wire::append_usage_members(out, tokens, 1);
  out += "}}}\n\nevent: ping\ndata: {\"type\":\"ping\"}\n\n";
}

void stream_encoder::open(block kind, std::string_view content_block, std::string& out) {
  close(out);
  open_ = kind;
  ++index_;
  begin("content_block_start", out);
  out += R"(,"index":)";
  wire::append_int(out, index_);
  out += R"(,"content_block":)";
  out += content_block;
  out += "}\n\n";
}

void stream_encoder::signature(std::string_view text, std::string& out) {
  begin("content_block_delta", out);
  out += R"(,"index":)";
  wire::append_int(out, index_);
  out += R"(,"delta":{"type":"signature_delta","signature":)";
  wire::append_quoted(out, text);
  out += "}}\n\n";
  signed_ = true;
}

void stream_encoder::close(std::string& out) {
  if (open_ == block::none) return;
  if (open_ == block::thinking && !signed_) {
    // Every thinking block ends with its signature, as Anthropic's own streams do; an upstream
    // without signatures gives an empty one.
    signature("", out);
  }
  signed_ = false;
  begin("content_block_stop", out);
  out += R"(,"index":)";
  wire::append_int(out, index_);
  out += "}\n\n";
  open_ = block::none;
  open_tool_ = -1;
}

void stream_encoder::encode(const ir::stream_event& ev, std::string& out) {
  using k = ir::stream_event::kind;
  if (ended_) return;
  switch (ev.type) {
    case k::start:
      if (!started_) start(&ev, out);
      return;
    case k::usage:
      usage_.merge(ev.tokens);
      return;
    case k::finish:
      reason_ = ev.reason;
      stop_sequence_ = ev.text;
      return;
    case k::error:
      // The SDKs raise on an error event; nothing may follow it.
      out += "event: error\ndata: ";
      wire::append_error(out, ev.failure);
      out += "\n\n";
      ended_ = true;
      return;
    default:
      break;
  }
  if (!started_) start(nullptr, out);

  auto delta = [&](std::string_view type, std::string_view field, std::string_view text,
                   int index) {
    begin("content_block_delta", out);
    out += R"(,"index":)";
    wire::append_int(out, index);
    out += R"(,"delta":{"type":")";
    out += type;
    out += R"(",")";
    out += field;
    out += R"(":)";
    wire::append_quoted(out, text);
    out += "}}\n\n";
  };

  switch (ev.type) {
    case k::text_delta:
      if (ev.text.empty()) return;
      if (open_ != block::text) open(block::text, R"({"type":"text","text":""})", out);
      delta("text_delta", "text", ev.text, index_);
      return;
    case k::reasoning_delta:
      if (ev.text.empty()) return;
      // A signature ends a thinking block: more reasoning after it is a block of its own.
      if (open_ != block::thinking || signed_)
        open(block::thinking, R"({"type":"thinking","thinking":"","signature":""})", out);
      delta("thinking_delta", "thinking", ev.text, index_);
      return;
    case k::reasoning_signature:
      // Written at once (not kept for the block's stop): a stream that fails next keeps it.
      if (open_ != block::thinking || signed_)
        open(block::thinking, R"({"type":"thinking","thinking":"","signature":""})", out);
      signature(ev.text, out);
      return;
    case k::redacted_reasoning: {
      std::string block = R"({"type":"redacted_thinking","data":)";
      wire::append_quoted(block, ev.text);
      block += '}';
      open(block::redacted, block, out);
      close(out);
      return;
    }
    case k::tool_call_start: {
      std::string block = R"({"type":"tool_use","id":)";
      wire::append_tool_id(block, ev.id);
      block += R"(,"name":)";
      wire::append_quoted(block, ev.name);
      block += R"(,"input":{}})";
      open(block::tool, block, out);
      open_tool_ = ev.tool_index;
      tool_blocks_[ev.tool_index] = index_;
      return;
    }
    case k::tool_args_delta: {
      if (ev.text.empty()) return;
      int index = -1;
      if (open_ == block::tool && open_tool_ == ev.tool_index) {
        index = index_;
      } else {
        // Arguments of a call whose block is already closed (an upstream interleaving parallel
        // calls): the SDKs' accumulators apply deltas by index, so they still land right.
        if (auto it = tool_blocks_.find(ev.tool_index); it != tool_blocks_.end())
          index = it->second;
      }
      if (index >= 0) delta("input_json_delta", "partial_json", ev.text, index);
      return;
    }
    default:
      return;
  }
}

void stream_encoder::finish(std::string& out) {
  if (ended_) return;
  ended_ = true;
  if (!started_) start(nullptr, out);
  close(out);
  begin("message_delta", out);
  out += R"(,"delta":{"stop_reason":")";
  out += wire::stop_reason_for(reason_, !tool_blocks_.empty());
  out += R"(","stop_sequence":)";
  if (reason_ == ir::finish_reason::stop_sequence && !stop_sequence_.empty()) {
    wire::append_quoted(out, stop_sequence_);
  } else {
    out += "null";
  }
  out += R"(},"usage":{)";
  wire::append_usage_members(out, usage_);
  out += "}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
}

}  // namespace sy::anthropic
