// The anthropic codec of the protocol hub: Anthropic Messages (POST /v1/messages) <-> IR.
// Stateless; see protocol/ir/codec.h for the contract and docs/protocols.md for the mapping.
#pragma once

#include "common/error.h"
#include "protocol/ir/codec.h"
#include "protocol/ir/ir.h"

#include <string>
#include <string_view>
#include <variant>

namespace sy::anthropic {

// The ir.extra key under which decode_request keeps Anthropic server tools (entries of `tools`
// whose `type` is not "custom": web_search_20250305, bash_20250124, code_execution...), which
// the IR's function tools cannot hold: an array of {"at": <position in tools>, "tool": <the tool
// object, verbatim>}. encode_request writes them back at their positions; the other protocols'
// encoders drop them, naming this key in `dropped`, like any other extra field.
inline constexpr std::string_view server_tools_key = "$anthropic_server_tools";

// decode_request keeps the members of `output_config` other than `format` (e.g. "effort") in
// ir.extra["output_config"]; encode_request merges them back next to the format.
//
// The JSON values a decoded request holds (tool schemas, cache_control, extra) live, for bodies
// up to 256 KiB, in the body's parse arena (a Boost.JSON monotonic_resource, shared by reference
// count) rather than on the heap: copies of them allocate from that arena too, so an ir::request
// is used by one thread at a time; the arena goes with the last value that uses it.

std::variant<ir::request, error> decode_request(std::string_view body);
std::variant<std::string, error> encode_request(const ir::request& r, ir::dropped_fields& dropped);
std::variant<ir::response, error> decode_response(std::string_view body);
std::string encode_response(const ir::response& r);
ir::api_error decode_error(int status, std::string_view body);
ir::encoded_error encode_error(const ir::api_error& e);

}  // namespace sy::anthropic
