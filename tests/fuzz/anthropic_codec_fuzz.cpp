// Fuzz target: the Anthropic Messages codec (src/protocol/anthropic/codec.h).
//
// The input is a body, read as a client request, as an upstream response and as an error body.
// Properties:
// - decode_request fails only with invalid_request, and a failure naming a field starts its
//   message with that field; on success encode_request runs for all three protocols, fails only
//   with invalid_request, and the Anthropic encoding is JSON that decodes again and encodes to the
//   same bytes (one round normalises: the encoding is a fixpoint), but for doubles Boost's
//   parser reads back a few ulps off;
// - decode_response fails only with upstream_bad_response; on success encode_response (all three
//   protocols) runs, and the Anthropic encoding decodes again and encodes to the same bytes;
// - decode_error always has a message and keeps the status; encode_error gives JSON that decodes
//   back to the same kind (quota reads back as rate_limit: Anthropic has one type for both).
#include "protocol/anthropic/codec.h"
#include "protocol/ir/codec.h"

#include "fuzz_check.h"
#include "json_compare.h"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

namespace ir = sy::ir;

using sy::fuzz::same_json;
using sy::fuzz::same_text;

bool is_json(std::string_view text) {
  boost::system::error_code ec;
  boost::json::parse_options o;
  o.max_depth = 1024;
  boost::json::parse(text, ec, {}, o);
  return !ec;
}

void check_request(std::string_view body) {
  auto decoded = sy::anthropic::decode_request(body);
  if (auto* e = std::get_if<sy::error>(&decoded)) {
    FUZZ_CHECK(e->code == sy::errc::invalid_request);
    FUZZ_CHECK(!e->message.empty());
    FUZZ_CHECK(std::string_view(e->message).substr(0, e->param.size()) == e->param);
    return;
  }
  const auto& r = std::get<ir::request>(decoded);
  FUZZ_CHECK(r.source == ir::protocol::anthropic);
  for (auto p : {ir::protocol::openai, ir::protocol::gemini}) {
    ir::dropped_fields dropped;
    auto out = ir::encode_request(p, r, dropped);
    if (auto* e = std::get_if<sy::error>(&out))
      FUZZ_CHECK(e->code != sy::errc::upstream_bad_response);
  }
  ir::dropped_fields dropped;
  auto out = sy::anthropic::encode_request(r, dropped);
  if (auto* e = std::get_if<sy::error>(&out)) {
    FUZZ_CHECK(e->code == sy::errc::invalid_request);
    return;
  }
  const auto& first = std::get<std::string>(out);
  FUZZ_CHECK(is_json(first));
  // Anthropic to Anthropic loses nothing, but blank stop sequences Anthropic would refuse.
  FUZZ_CHECK(dropped.empty() || (dropped.size() == 1 && dropped[0] == "stop"));
  auto again = sy::anthropic::decode_request(first);
  FUZZ_CHECK(std::holds_alternative<ir::request>(again));
  auto second = sy::anthropic::encode_request(std::get<ir::request>(again), dropped);
  FUZZ_CHECK(std::holds_alternative<std::string>(second));
  FUZZ_CHECK(same_text(std::get<std::string>(second), first));
}

void check_response(std::string_view body) {
  auto decoded = sy::anthropic::decode_response(body);
  if (auto* e = std::get_if<sy::error>(&decoded)) {
    FUZZ_CHECK(e->code == sy::errc::upstream_bad_response);
    return;
  }
  const auto& r = std::get<ir::response>(decoded);
  ir::encode_response(ir::protocol::openai, r);
  ir::encode_response(ir::protocol::gemini, r);
  auto first = sy::anthropic::encode_response(r);
  FUZZ_CHECK(is_json(first));
  auto again = sy::anthropic::decode_response(first);
  FUZZ_CHECK(std::holds_alternative<ir::response>(again));
  FUZZ_CHECK(same_text(sy::anthropic::encode_response(std::get<ir::response>(again)), first));
}

void check_error(int status, std::string_view body) {
  auto e = sy::anthropic::decode_error(status, body);
  FUZZ_CHECK(e.status == status);
  FUZZ_CHECK(!e.message.empty());
  auto out = sy::anthropic::encode_error(e);
  FUZZ_CHECK(out.status >= 400 && out.status <= 599);
  FUZZ_CHECK(is_json(out.body));
  auto back = sy::anthropic::decode_error(out.status, out.body);
  FUZZ_CHECK(back.kind == (e.kind == ir::error_kind::quota ? ir::error_kind::rate_limit : e.kind));
  FUZZ_CHECK(back.message == e.message);
  for (auto p : {ir::protocol::openai, ir::protocol::gemini})
    ir::encode_error(p, e);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_request(in);
  check_response(in);
  static constexpr int statuses[] = {400, 401, 402, 403, 404, 413, 429, 500, 502, 503, 504, 529};
  check_error(statuses[sy::fuzz::fnv1a(data, size) % std::size(statuses)], in);
  return 0;
}
