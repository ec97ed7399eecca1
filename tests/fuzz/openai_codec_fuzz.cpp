// Fuzz target: the openai codec (src/protocol/openai/codec.h).
//
// The input is a body, tried as a request, as a response and as an error body. Properties:
// - decode_request never crashes, and fails only with invalid_request. When it succeeds, the
//   request is encoded for all three protocols (none may crash); the openai encoding is JSON
//   that decodes again, and encoding that decoded request gives the same bytes: after one trip
//   the translation is a fixed point (what it normalises, it normalises once).
// - decode_response fails only with upstream_bad_response. When it succeeds, the response is
//   encoded for all three protocols; the openai encoding is JSON with one choice and decodes to
//   a response that encodes to the same bytes.
// - decode_error (with a status derived from the input) gives that status, a message that is
//   never empty, and an error every protocol can encode; the openai encoding is
//   {"error":{"message","type","param","code"}} with a 4xx/5xx status.
#include "common/error.h"
#include "protocol/ir/codec.h"
#include "protocol/openai/codec.h"

#include "fuzz_check.h"

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace {

namespace bj = boost::json;
using sy::ir::protocol;

constexpr protocol all_protocols[] = {protocol::openai, protocol::anthropic, protocol::gemini};

bool is_json(std::string_view text, bj::value* out = nullptr) {
  boost::system::error_code ec;
  auto v = bj::parse(text, ec);
  if (ec) return false;
  if (out) *out = std::move(v);
  return true;
}

void check_request(std::string_view body) {
  auto decoded = sy::openai::decode_request(body);
  if (auto* e = std::get_if<sy::error>(&decoded)) {
    FUZZ_CHECK(e->code == sy::errc::invalid_request);
    FUZZ_CHECK(!e->message.empty());
    return;
  }
  const auto& r = std::get<sy::ir::request>(decoded);
  for (auto p : all_protocols) {
    sy::ir::dropped_fields dropped;
    auto encoded = sy::ir::encode_request(p, r, dropped);
    if (p != protocol::openai) continue;  // the other codecs test their own output
    FUZZ_CHECK(std::holds_alternative<std::string>(encoded));
    const auto& once = std::get<std::string>(encoded);
    FUZZ_CHECK(is_json(once));
    auto again = sy::openai::decode_request(once);
    FUZZ_CHECK(std::holds_alternative<sy::ir::request>(again));
    sy::ir::dropped_fields dropped2;
    auto twice = sy::openai::encode_request(std::get<sy::ir::request>(again), dropped2);
    FUZZ_CHECK(std::holds_alternative<std::string>(twice));
    FUZZ_CHECK(std::get<std::string>(twice) == once);
  }
}

void check_response(std::string_view body) {
  auto decoded = sy::openai::decode_response(body);
  if (auto* e = std::get_if<sy::error>(&decoded)) {
    FUZZ_CHECK(e->code == sy::errc::upstream_bad_response);
    return;
  }
  const auto& r = std::get<sy::ir::response>(decoded);
  for (auto p : all_protocols)
    (void)sy::ir::encode_response(p, r);
  auto once = sy::openai::encode_response(r);
  bj::value v;
  FUZZ_CHECK(is_json(once, &v));
  FUZZ_CHECK(v.at("choices").as_array().size() == 1);
  auto again = sy::openai::decode_response(once);
  FUZZ_CHECK(std::holds_alternative<sy::ir::response>(again));
  FUZZ_CHECK(sy::openai::encode_response(std::get<sy::ir::response>(again)) == once);
}

void check_error(std::string_view body, int status) {
  auto e = sy::openai::decode_error(status, body);
  FUZZ_CHECK(e.status == status);
  FUZZ_CHECK(!e.message.empty());
  for (auto p : all_protocols) {
    (void)sy::ir::decode_error(p, status, body);
    (void)sy::ir::encode_error(p, e);
  }
  auto out = sy::openai::encode_error(e);
  FUZZ_CHECK(out.status >= 400 && out.status < 600);
  bj::value v;
  FUZZ_CHECK(is_json(out.body, &v));
  FUZZ_CHECK(v.at("error").as_object().size() == 4);
  FUZZ_CHECK(v.at("error").at("message").as_string() == e.message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_request(in);
  check_response(in);
  auto h = sy::fuzz::fnv1a(data, size);
  check_error(in, 400 + static_cast<int>(h % 200));
  return 0;
}
