// The gemini codec of the protocol hub: Gemini generateContent
// (POST /v1beta/models/{model}:generateContent) <-> IR. The model and the stream flag live in the
// URL, so decode_request leaves them to the caller and encode_request does not write them.
// Stateless; see protocol/ir/codec.h for the contract and docs/protocols.md for the mapping.
#pragma once

#include "common/error.h"
#include "protocol/ir/codec.h"
#include "protocol/ir/ir.h"

#include <string>
#include <string_view>
#include <variant>

namespace sy::gemini {

std::variant<ir::request, error> decode_request(std::string_view body);
std::variant<std::string, error> encode_request(const ir::request& r, ir::dropped_fields& dropped);
std::variant<ir::response, error> decode_response(std::string_view body);
std::string encode_response(const ir::response& r);
ir::api_error decode_error(int status, std::string_view body);
ir::encoded_error encode_error(const ir::api_error& e);

}  // namespace sy::gemini
