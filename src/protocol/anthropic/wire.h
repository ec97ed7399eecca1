// Pieces of the Anthropic wire format shared by the codec (codec.cpp) and the stream codec
// (stream.cpp): stop reasons, error types, usage counts and small writers. Defined in codec.cpp
// (the fuzz build compiles exactly codec.cpp and stream.cpp of this protocol).
#pragma once

#include "protocol/ir/ir.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace sy::anthropic::wire {

// stop_reason <-> IR (docs/protocols.md "Finish reasons"). An unknown reason reads as stop.
ir::finish_reason finish_from(std::string_view stop_reason);
// `has_tool_calls`: a reply that carries tool calls ends with "tool_use" whatever the upstream
// said, because Anthropic clients run tools only on that stop reason.
std::string_view stop_reason_for(ir::finish_reason r, bool has_tool_calls);

// error.type <-> IR kind (docs/protocols.md "Errors").
bool kind_from_type(std::string_view type, ir::error_kind& kind);
std::string_view type_for(ir::error_kind kind);
int status_for(const ir::api_error& e);
// {"type":"error","error":{"type","message"}}
void append_error(std::string& out, const ir::api_error& e);

// Anthropic's usage counts as they come: input_tokens excludes cache reads and writes.
// -1 = not reported (yet).
struct raw_usage {
  std::int64_t input = -1;
  std::int64_t cache_read = -1;
  std::int64_t cache_write = -1;
  std::int64_t cache_write_1h = -1;
  std::int64_t output = -1;

  // Takes the counts `usage` (a usage object) reports; others keep their value.
  void read(const boost::json::object& usage);
  // OpenAI-shaped (ir.h conventions).
  ir::usage to_ir() const;
};

// "input_tokens":..,"cache_creation_input_tokens":..,"cache_read_input_tokens":..,
// "output_tokens":.. (no braces), Anthropic-shaped from IR counts; unknown counts are 0.
// `output_override` >= 0 replaces the output count (message_start writes 1).
void append_usage_members(std::string& out, const ir::usage& u, std::int64_t output_override = -1);

// `text` as a JSON string literal, like sy::json::append_quoted but copying runs of plain bytes
// at once (prompts are long and rarely need escapes; this is most of an encoder's time).
void append_quoted(std::string& out, std::string_view text);

// Any JSON value, compactly; numbers in their shortest round-trip form (Boost.JSON would write
// 2.5 as "2.5E0", which then shows in the arguments text an OpenAI client gets).
void append_value(std::string& out, const boost::json::value& v);

// A tool_use id as a JSON string. Anthropic refuses ids outside ^[a-zA-Z0-9_-]+$ when a turn is
// sent back, and other vendors' ids may hold '.', ':' or '|': those bytes become '_' (the same
// way in requests, responses and streams, so a call and its result still pair up). An empty id
// becomes `if_empty`, or a fresh random "toolu_..." id when that is empty too.
void append_tool_id(std::string& out, std::string_view id, std::string_view if_empty = {});

void append_int(std::string& out, std::int64_t v);
// Shortest round-trip form ("0.7", not "7E-1"); non-finite values are written as 0.
void append_double(std::string& out, double v);

}  // namespace sy::anthropic::wire
