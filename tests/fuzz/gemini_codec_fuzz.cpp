// Fuzz target: the gemini codec (src/protocol/gemini/codec.h) and its schema conversion
// (src/protocol/gemini/schema.h).
//
// The input is a body, tried as a request, as a response, as an error body and as a schema.
// Properties:
// - decode_request never crashes and fails only with invalid_request (a message, always). When
//   it succeeds, the request is encoded for all three protocols (none may crash). The gemini
//   encoding either refuses (invalid_request, only for candidateCount > 1) or is JSON that
//   decodes again, and encoding that decoded request gives the same bytes: after one trip the
//   translation is a fixed point.
// - decode_response fails only with upstream_bad_response. When it succeeds, the response is
//   encoded for all three protocols; the gemini encoding is JSON with one candidate that
//   decodes to a response encoding to the same bytes.
// - decode_error (with a status derived from the input) keeps that status and always has a
//   message; every protocol encodes it; the gemini encoding is {"error":{code,message,status}}
//   with a 4xx/5xx code equal to the HTTP status.
// - to_gemini_schema on any JSON value terminates with an object whose serialization is bounded
//   (the $ref budgets), and converting its from_gemini_schema image again gives the same schema;
//   the encoder's streaming writer (append_gemini_schema) writes exactly that schema.
#include "common/error.h"
#include "protocol/gemini/codec.h"
#include "protocol/gemini/internal.h"
#include "protocol/gemini/schema.h"
#include "protocol/ir/codec.h"

#include "fuzz_check.h"
#include "json_compare.h"

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
  bj::parse_options opt;
  opt.max_depth = 1024;
  auto v = bj::parse(text, ec, {}, opt);
  if (ec) return false;
  if (out) *out = std::move(v);
  return true;
}

void check_request(std::string_view body) {
  auto decoded = sy::gemini::decode_request(body);
  if (auto* e = std::get_if<sy::error>(&decoded)) {
    FUZZ_CHECK(e->code == sy::errc::invalid_request);
    FUZZ_CHECK(!e->message.empty());
    return;
  }
  const auto& r = std::get<sy::ir::request>(decoded);
  FUZZ_CHECK(r.model.empty() && !r.stream);
  for (auto p : all_protocols) {
    sy::ir::dropped_fields dropped;
    (void)sy::ir::encode_request(p, r, dropped);
  }
  sy::ir::dropped_fields dropped;
  auto encoded = sy::gemini::encode_request(r, dropped);
  FUZZ_CHECK(dropped.empty());  // a Gemini request keeps all it has for a Gemini upstream
  if (auto* e = std::get_if<sy::error>(&encoded)) {
    FUZZ_CHECK(e->code == sy::errc::invalid_request && e->param == "n" && r.n > 1);
    return;
  }
  const auto& once = std::get<std::string>(encoded);
  bj::value v;
  FUZZ_CHECK(is_json(once, &v));
  FUZZ_CHECK(v.is_object() && v.at("contents").is_array());
  auto again = sy::gemini::decode_request(once);
  FUZZ_CHECK(std::holds_alternative<sy::ir::request>(again));
  sy::ir::dropped_fields dropped2;
  auto twice = sy::gemini::encode_request(std::get<sy::ir::request>(again), dropped2);
  FUZZ_CHECK(std::holds_alternative<std::string>(twice));
  FUZZ_CHECK(sy::fuzz::same_text(std::get<std::string>(twice), once));
}

void check_response(std::string_view body) {
  auto decoded = sy::gemini::decode_response(body);
  if (auto* e = std::get_if<sy::error>(&decoded)) {
    FUZZ_CHECK(e->code == sy::errc::upstream_bad_response);
    FUZZ_CHECK(!e->message.empty());
    return;
  }
  const auto& r = std::get<sy::ir::response>(decoded);
  for (auto p : all_protocols)
    (void)sy::ir::encode_response(p, r);
  auto once = sy::gemini::encode_response(r);
  bj::value v;
  FUZZ_CHECK(is_json(once, &v));
  FUZZ_CHECK(v.at("candidates").as_array().size() == 1);
  auto again = sy::gemini::decode_response(once);
  FUZZ_CHECK(std::holds_alternative<sy::ir::response>(again));
  FUZZ_CHECK(
      sy::fuzz::same_text(sy::gemini::encode_response(std::get<sy::ir::response>(again)), once));
}

void check_error(std::string_view body, int status) {
  auto e = sy::gemini::decode_error(status, body);
  FUZZ_CHECK(e.status == status);
  FUZZ_CHECK(!e.message.empty());
  for (auto p : all_protocols) {
    (void)sy::ir::decode_error(p, status, body);
    (void)sy::ir::encode_error(p, e);
  }
  auto out = sy::gemini::encode_error(e);
  FUZZ_CHECK(out.status >= 400 && out.status < 600);
  bj::value v;
  FUZZ_CHECK(is_json(out.body, &v));
  const auto& err = v.at("error").as_object();
  FUZZ_CHECK(err.size() == 3);
  FUZZ_CHECK(err.at("code").as_int64() == out.status);
  FUZZ_CHECK(err.at("message").as_string() == e.message);
  auto back = sy::gemini::decode_error(out.status, out.body);
  FUZZ_CHECK(back.message == e.message);
}

void check_schema(std::string_view body) {
  bj::value schema;
  if (!is_json(body, &schema)) return;
  auto once = sy::gemini::to_gemini_schema(schema);
  FUZZ_CHECK(once.is_object());
  auto text = bj::serialize(once);
  FUZZ_CHECK(text.size() <= 8 * body.size() + (4u << 20));
  auto twice = sy::gemini::to_gemini_schema(sy::gemini::from_gemini_schema(once));
  FUZZ_CHECK(bj::serialize(twice) == text);
  // The encoder's streaming writer says the same, except that it leaves out a schema that says
  // nothing.
  if (!schema.is_object()) return;
  std::string written;
  auto expected = sy::gemini::detail::to_json(once);
  if (sy::gemini::detail::append_gemini_schema(written, schema)) {
    FUZZ_CHECK(written == expected);
  } else {
    FUZZ_CHECK(written.empty());
    FUZZ_CHECK(expected == "{}" || expected == R"({"type":"object"})");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_request(in);
  check_response(in);
  auto h = sy::fuzz::fnv1a(data, size);
  check_error(in, 400 + static_cast<int>(h % 200));
  check_schema(in);
  return 0;
}
