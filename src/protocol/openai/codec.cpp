// PLACEHOLDER until the openai codec lands: every call fails. Replaced by the real codec.
#include "protocol/openai/codec.h"

namespace sy::openai {
namespace {
error todo() { return error{errc::internal, "openai codec not implemented"}; }
}  // namespace

std::variant<ir::request, error> decode_request(std::string_view) { return todo(); }
std::variant<std::string, error> encode_request(const ir::request&, ir::dropped_fields&) {
  return todo();
}
std::variant<ir::response, error> decode_response(std::string_view) { return todo(); }
std::string encode_response(const ir::response&) { return {}; }
ir::api_error decode_error(int status, std::string_view) { return {}; }
ir::encoded_error encode_error(const ir::api_error&) { return {}; }

}  // namespace sy::openai
