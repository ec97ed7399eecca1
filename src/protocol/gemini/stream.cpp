// Gemini streamGenerateContent <-> IR stream events. Gemini sends every event as a whole
// GenerateContentResponse: text and thoughts in pieces, each functionCall complete in one part,
// usageMetadata (running totals) on every event and finishReason on the last one.
#include "protocol/gemini/stream.h"

#include "protocol/gemini/internal.h"

#include <boost/json.hpp>

namespace sy::gemini {

namespace bj = boost::json;

namespace {

bool same_usage(const ir::usage& a, const ir::usage& b) {
  return a.input == b.input && a.output == b.output && a.cache_read == b.cache_read &&
         a.cache_write == b.cache_write && a.cache_write_1h == b.cache_write_1h &&
         a.reasoning == b.reasoning;
}

bool complete_object(std::string_view text) {
  bj::error_code ec;
  auto v = bj::parse(text, ec, {}, detail::parse_options());
  return !ec && v.is_object();
}

std::string_view trim(std::string_view s) {
  auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

}  // namespace

void stream_decoder::fail(std::string message, std::vector<ir::stream_event>& out) {
  ir::stream_event ev;
  ev.type = ir::stream_event::kind::error;
  ev.failure.status = 502;
  ev.failure.kind = ir::error_kind::server;
  ev.failure.message = std::move(message);
  out.push_back(std::move(ev));
  done_ = true;
}

void stream_decoder::feed(const sse::event& ev, std::vector<ir::stream_event>& out) {
  if (done_) return;
  auto data = trim(ev.data);
  if (data.empty()) return;
  // The parsed event lives only for this call: a stack buffer serves most of them.
  unsigned char buf[4096];
  bj::monotonic_resource mr(buf, sizeof buf);
  bj::error_code ec;
  bj::value v = bj::parse(data, ec, bj::storage_ptr(&mr), detail::parse_options());
  if (ec) return fail("Gemini stream event is not JSON", out);
  if (v.is_array()) {  // an error wrapped in an array, or a piece of the JSON-array form
    for (const auto& item : v.get_array()) {
      if (done_) break;
      if (item.is_object()) object(item, out);
    }
    return;
  }
  if (!v.is_object()) return fail("Gemini stream event is not a JSON object", out);
  object(v, out);
}

void stream_decoder::object(const bj::value& v, std::vector<ir::stream_event>& out) {
  using sk = ir::stream_event::kind;
  const auto& o = v.get_object();
  if (const auto* err = o.if_contains("error")) {
    int status = 500;
    if (err->is_object()) {
      if (const auto* code = err->get_object().if_contains("code"); code && code->is_int64()) {
        auto c = code->get_int64();
        if (c >= 400 && c <= 599) status = static_cast<int>(c);
      }
    }
    ir::stream_event ev;
    ev.type = sk::error;
    ev.failure = detail::error_from(status, v);
    out.push_back(std::move(ev));
    done_ = true;
    return;
  }

  const bj::value* candidates = nullptr;
  const bj::value* feedback = nullptr;
  ir::usage tokens;
  bool has_usage = false;
  std::string_view id, model;
  for (const auto& m : o) {
    auto k = detail::camel(m.key(), key_buf_);
    const auto& f = m.value();
    if (k == "candidates") {
      candidates = &f;
    } else if (k == "usageMetadata" && f.is_object()) {
      tokens = detail::usage_from(f.get_object());
      has_usage = !tokens.empty();
    } else if (k == "responseId" && f.is_string()) {
      id = f.get_string();
    } else if (k == "modelVersion" && f.is_string()) {
      model = f.get_string();
    } else if (k == "promptFeedback") {
      feedback = &f;
    }
  }
  if (!started_) {
    ir::stream_event ev;
    ev.type = sk::start;
    ev.id = id;
    ev.name = model;
    if (has_usage) {
      ev.tokens = tokens;
      reported_ = tokens;
    }
    out.push_back(std::move(ev));
    started_ = true;
  }

  // Only the first candidate (index 0) is relayed; with candidateCount > 1 the others are
  // interleaved in the same stream.
  const bj::object* candidate = nullptr;
  if (candidates && candidates->is_array()) {
    for (const auto& c : candidates->get_array()) {
      if (!c.is_object()) continue;
      const auto* index = c.get_object().if_contains("index");
      if (!index || (index->is_int64() && index->get_int64() == 0)) {
        candidate = &c.get_object();
        break;
      }
    }
  }
  std::string_view reason;
  if (candidate) {
    for (const auto& m : *candidate) {
      auto k = detail::camel(m.key(), key_buf_);
      if (k == "finishReason" && m.value().is_string()) {
        reason = m.value().get_string();
        continue;
      }
      if (k != "content" || !m.value().is_object()) continue;
      const auto* parts = m.value().get_object().if_contains("parts");
      if (!parts || !parts->is_array()) continue;
      for (const auto& pv : parts->get_array()) {
        if (!pv.is_object()) continue;
        ir::part p;
        std::string message, field;
        auto res = detail::decode_part(pv.get_object(), p, message, field, key_buf_);
        if (res != detail::part_result::ok) continue;  // one odd part does not end the stream
        using pk = ir::part::kind;
        auto signature = [&] {
          if (p.signature.empty()) return;
          ir::stream_event ev;
          ev.type = sk::reasoning_signature;
          ev.text = std::move(p.signature);
          out.push_back(std::move(ev));
        };
        switch (p.type) {
          case pk::reasoning:
            if (!p.text.empty()) {
              ir::stream_event ev;
              ev.type = sk::reasoning_delta;
              ev.text = std::move(p.text);
              out.push_back(std::move(ev));
            }
            signature();
            break;
          case pk::text:
            // A signature on the first part after the thoughts closes the reasoning block,
            // so it goes first.
            signature();
            if (!p.text.empty()) {
              ir::stream_event ev;
              ev.type = sk::text_delta;
              ev.text = std::move(p.text);
              out.push_back(std::move(ev));
            }
            break;
          case pk::tool_call: {
            signature();
            saw_call_ = true;
            ir::stream_event start;
            start.type = sk::tool_call_start;
            start.tool_index = tool_index_;
            start.id = p.id.empty() ? detail::random_call_id() : std::move(p.id);
            start.name = std::move(p.name);
            out.push_back(std::move(start));
            ir::stream_event args;
            args.type = sk::tool_args_delta;
            args.tool_index = tool_index_++;
            args.text = std::move(p.arguments);
            out.push_back(std::move(args));
            break;
          }
          default:
            break;  // inline images: the IR stream has no event for media
        }
      }
    }
  }
  if (has_usage && !same_usage(tokens, reported_)) {
    ir::stream_event ev;
    ev.type = sk::usage;
    ev.tokens = tokens;
    reported_ = tokens;
    out.push_back(std::move(ev));
  }
  ir::finish_reason finish = ir::finish_reason::none;
  if (!reason.empty()) {
    finish = detail::finish_from(reason, saw_call_);
  } else if (!candidate && feedback && feedback->is_object() &&
             feedback->get_object().contains("blockReason")) {
    finish = ir::finish_reason::content_filter;  // the prompt was blocked: nothing follows
  }
  if (finish != ir::finish_reason::none) {
    ir::stream_event ev;
    ev.type = sk::finish;
    ev.reason = finish;
    out.push_back(std::move(ev));
    done_ = true;
  }
}

// ---------------------------------------------------------------------------------------------

std::string_view stream_encoder::content_type() const {
  return options_.json_array ? "application/json; charset=UTF-8" : "text/event-stream";
}

void stream_encoder::begin_object(std::string& out) {
  if (options_.json_array) {
    out += opened_ ? ",\r\n" : "[";
  } else {
    out += "data: ";
  }
  opened_ = true;
}

void stream_encoder::end_object(std::string& out) {
  if (!options_.json_array) out += "\r\n\r\n";
}

void stream_encoder::begin_candidate(std::string& out) {
  begin_object(out);
  out += "{\"candidates\":[{\"content\":{\"parts\":[";
}

void stream_encoder::end_candidate(std::string& out, bool last) {
  out += "],\"role\":\"model\"}";
  if (last) {
    out += ',';
    append_finish(out);
  }
  out += ",\"index\":0}]";
  end_response(out, last);
}

void stream_encoder::append_finish(std::string& out) {
  auto reason = detail::finish_to(reason_);
  // A stream that ended cleanly without a reason still needs one: the SDK's chat keeps a
  // streamed turn in its history only when some chunk had a finishReason.
  if (reason.empty()) reason = "STOP";
  out += "\"finishReason\":\"";
  out += reason;
  out += '"';
}

void stream_encoder::end_response(std::string& out, bool last) {
  if (last) detail::append_usage(out, tokens_, true);
  out += ",\"modelVersion\":";
  detail::quote(out, model_.empty() ? options_.model : model_);
  out += ",\"responseId\":";
  detail::quote(out, id_.empty() ? options_.id : id_);
  out += '}';
  end_object(out);
}

void stream_encoder::append_held(std::string& out) {
  switch (held_) {
    case held::text:
      out += "{\"text\":";
      detail::quote(out, held_text_);
      out += '}';
      break;
    case held::thought:
      out += "{\"text\":";
      detail::quote(out, held_text_);
      out += ",\"thought\":true}";
      break;
    case held::signature:
      // An empty thought part of its own: a Gemini client keeps it in its history, and our
      // request decoder folds it into the thought parts before it (one signed reasoning block).
      out += "{\"text\":\"\",\"thought\":true,\"thoughtSignature\":";
      detail::quote(out, held_text_);
      out += '}';
      break;
    case held::call:
      out += "{\"functionCall\":{";
      if (!call_id_.empty()) {
        out += "\"id\":";
        detail::quote(out, call_id_);
        out += ',';
      }
      out += "\"name\":";
      detail::quote(out, call_name_);
      out += ",\"args\":";
      detail::append_args(out, held_text_);
      out += "}}";
      break;
    case held::none:
      break;
  }
}

void stream_encoder::flush_held(std::string& out) {
  if (held_ == held::none) return;
  begin_candidate(out);
  append_held(out);
  end_candidate(out, false);
  held_ = held::none;
}

void stream_encoder::hold(std::string& out, held what, std::string_view text) {
  flush_held(out);
  held_ = what;
  held_text_.assign(text);
}

void stream_encoder::send_now(std::string& out, held what, std::string_view text) {
  hold(out, what, text);
  flush_held(out);
}

void stream_encoder::encode(const ir::stream_event& ev, std::string& out) {
  if (failed_ || finished_) return;
  using sk = ir::stream_event::kind;
  switch (ev.type) {
    case sk::start:
      if (!ev.id.empty()) id_ = ev.id;
      if (!ev.name.empty()) model_ = ev.name;
      tokens_.merge(ev.tokens);
      break;
    // Text goes out at once (holding it back until the next event would delay every delta by
    // one event); only a function call waits, for its arguments to be complete. The finish
    // reason then comes in a last chunk of its own, without content.
    case sk::text_delta:
      // Gemini never sends an empty text part, and refuses one sent back as history.
      if (!ev.text.empty()) send_now(out, held::text, ev.text);
      break;
    case sk::reasoning_delta:
      if (!ev.text.empty()) send_now(out, held::thought, ev.text);
      break;
    case sk::reasoning_signature:
      if (!ev.text.empty()) send_now(out, held::signature, ev.text);
      break;
    case sk::redacted_reasoning:
      break;  // opaque Anthropic data: a Gemini client could do nothing with it
    case sk::tool_call_start:
      hold(out, held::call, {});
      call_id_ = ev.id;
      call_name_ = ev.name;
      break;
    case sk::tool_args_delta:
      if (held_ == held::call) held_text_ += ev.text;
      break;
    case sk::usage:
      tokens_.merge(ev.tokens);
      break;
    case sk::finish:
      reason_ = ev.reason;
      break;
    case sk::error:
      // What is held is complete and goes out, except a call whose arguments were cut short.
      if (held_ == held::call && !complete_object(held_text_)) held_ = held::none;
      flush_held(out);
      begin_object(out);
      detail::append_error_object(out, ev.failure);
      end_object(out);
      failed_ = true;
      break;
  }
}

void stream_encoder::finish(std::string& out) {
  if (finished_) return;
  finished_ = true;
  if (!failed_) {
    if (held_ != held::none) {
      // A function call held for its arguments rides with the finish reason.
      begin_candidate(out);
      append_held(out);
      held_ = held::none;
      end_candidate(out, true);
    } else {
      // Nothing to say: a last chunk without content (an empty text part would be refused if
      // the client sent it back).
      begin_object(out);
      out += "{\"candidates\":[{";
      append_finish(out);
      out += ",\"index\":0}]";
      end_response(out, true);
    }
  }
  if (options_.json_array) out += ']';
}

}  // namespace sy::gemini
