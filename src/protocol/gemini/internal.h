// Pieces the Gemini request/response codec (codec.cpp) and the stream codec (stream.cpp) share:
// part decoding, part and usage writing, finish reasons, error shapes and call ids. Private to
// protocol/gemini; both definitions live in codec.cpp (the fuzz build compiles exactly codec.cpp
// and stream.cpp of this folder, so no third .cpp).
#pragma once

#include "protocol/ir/codec.h"
#include "protocol/ir/ir.h"

#include <boost/json/object.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace sy::gemini::detail {

// JSON nesting accepted in bodies, stream events and arguments.
inline constexpr int max_depth = 512;
boost::json::parse_options parse_options();

// Gemini accepts snake_case field names as well as camelCase (proto JSON mapping): returns `key`
// in camelCase, using `buf` only when it has an underscore.
std::string_view camel(std::string_view key, std::string& buf);

enum class part_result { ok, skip, bad };

// Decodes one element of `parts`. functionCall ids are left as sent (possibly empty): requests
// and responses generate missing ones differently. On `bad`, `field` names the offending member
// relative to the part ("text", "functionCall.args") and `message` says what is wrong.
part_result decode_part(const boost::json::object& p, ir::part& out, std::string& message,
                        std::string& field, std::string& key_buf);

// Gemini streams thoughts in many parts; a thought part following a thought part without a
// signature continues the same reasoning block. Appends `p` to `parts`, merging it into the last
// part in that case.
void push_part(std::vector<ir::part>& parts, ir::part&& p);

// Response side: other client protocols carry a thought signature on a reasoning part only, so
// a signature Gemini put on a text or functionCall part moves to the reasoning part just before
// it (a new empty one when there is none or it is signed already).
void move_signatures_to_reasoning(std::vector<ir::part>& parts);

// "call_" + 24 random [a-zA-Z0-9], for functionCalls the upstream sent without an id.
std::string random_call_id();

ir::finish_reason finish_from(std::string_view reason, bool saw_call);
std::string_view finish_to(ir::finish_reason r);  // empty for none

ir::usage usage_from(const boost::json::object& meta);
// Appends `"usageMetadata":{...}` (nothing when `u` reports nothing); `comma` first if so.
void append_usage(std::string& out, const ir::usage& u, bool comma);

// Appends a part as Gemini writes it in a model content: text, thought, functionCall (with its
// id when `call_id`), inlineData/fileData. `signature` is written as thoughtSignature. Returns
// false (writing nothing) for parts Gemini cannot hold in a model turn.
bool append_model_part(std::string& out, const ir::part& p, bool call_id,
                       std::string_view signature);

// Appends the arguments JSON text as an object: compact, `{}` when empty or not an object.
void append_args(std::string& out, std::string_view arguments);

// {"error":{code,message,status}} <-> api_error.
ir::api_error error_from(int status, const boost::json::value& body);
int status_for(const ir::api_error& e);
std::string_view status_name(ir::error_kind kind);
void append_error_object(std::string& out, const ir::api_error& e);

void append_number(std::string& out, double v);
// Appends `text` as a JSON string literal; as sy::json::append_quoted, but it appends runs of
// plain characters whole (the encoders' hottest loop).
void quote(std::string& out, std::string_view text);

// Appends the tool parameters converted to Gemini's schema (schema.h); returns false, having
// appended nothing, for a schema that says nothing (an object without properties), which
// Gemini rejects as parameters.
bool append_gemini_schema(std::string& out, const boost::json::value& schema);

// JSON text of `v`: compact, doubles in their shortest form ("0.7", not Boost's "7E-1"), and
// never "Infinity" (Boost's serializer writes that for an overflowed number such as 1e999).
void append_json(std::string& out, const boost::json::value& v);
std::string to_json(const boost::json::value& v);
void append_number(std::string& out, std::int64_t v);

}  // namespace sy::gemini::detail
