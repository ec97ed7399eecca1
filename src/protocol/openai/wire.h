// Pieces shared by the openai codec (codec.cpp) and its stream codec (stream.cpp): JSON written
// straight into a std::string, the finish reason and usage mappings, and the error shape.
// Output is built without a DOM because a translation has a budget of microseconds.
// The non-inline functions are defined in codec.cpp (the fuzz build compiles only codec.cpp and
// stream.cpp of this directory).
#pragma once

#include "common/json.h"
#include "common/json_text.h"
#include "protocol/ir/ir.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace sy::openai::wire {

// JSON strings: the shared escaper (common/json.h).
using sy::json::append_escaped;
using sy::json::append_quoted;

// Numbers and a client's JSON written back (common/json_text.h): an integer stays an integer, a
// double takes its shortest form.
using sy::json::append_int;
using sy::json::append_number;
using sy::json::append_value;

// `"key":` with a leading comma unless `first` (then clears it).
inline void append_key(std::string& out, std::string_view key, bool& first) {
  if (!first) out += ',';
  first = false;
  out += '"';
  out += key;  // our own field names: nothing to escape
  out += "\":";
}

std::string_view finish_to_openai(ir::finish_reason r);
ir::finish_reason finish_from_openai(std::string_view s);

// {"prompt_tokens",...,"completion_tokens_details":{...}}; unknown counts are written as 0.
void append_usage(std::string& out, const ir::usage& u);
// An OpenAI usage object (also DeepSeek's prompt_cache_hit_tokens) to IR counts.
ir::usage read_usage(const boost::json::object& u);

// The inside of {"error": ...} (an object, or a bare string as some servers send) to an API
// error; `status` is the HTTP status it came with (0 inside a stream: the kind decides).
ir::api_error read_error(const boost::json::value& error, int status);

}  // namespace sy::openai::wire
