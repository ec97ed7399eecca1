// Fuzz target: sy::openai::probe_request and rewrite_model (src/protocol/openai/request_probe.h).
//
// The input is the request body, probed as both endpoints. Properties:
// - never crashes; a failure is invalid_request (a client error), never `internal`, which would
//   mean simdjson accepted a body whose model span the hand-written scanner could not find;
// - on success the span [model_begin, model_end) lies in the body, is a JSON string literal and
//   decodes to `model`;
// - rewrite_model with another name changes the span only, the span becomes the quoted name, the
//   result is still JSON whose top-level "model" is the new name, and probing it again succeeds
//   with the new name and the same stream flags.
#include "common/error.h"
#include "common/json.h"
#include "protocol/openai/request_probe.h"

#include "fuzz_check.h"

#include <simdjson.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace {

using sy::openai::endpoint;
using sy::openai::request_probe;

simdjson::dom::parser& checker() {
  static simdjson::dom::parser parser;  // our own: probe_request has its own thread_local one
  return parser;
}

// The top-level "model" string of a JSON object, if the text is one and has it.
std::optional<std::string> top_level_model(std::string_view text) {
  simdjson::dom::element doc;
  if (checker().parse(text.data(), text.size(), true).get(doc) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string_view model;
  if (doc["model"].get_string().get(model) != simdjson::SUCCESS) return std::nullopt;
  return std::string(model);
}

// The value of a JSON string literal (quotes included), if it is one.
std::optional<std::string> decode_literal(std::string_view literal) {
  simdjson::dom::element doc;
  if (checker().parse(literal.data(), literal.size(), true).get(doc) != simdjson::SUCCESS) {
    return std::nullopt;
  }
  std::string_view value;
  if (doc.get_string().get(value) != simdjson::SUCCESS) return std::nullopt;
  return std::string(value);
}

void check_rewrite(const std::string& body, const request_probe& probe, endpoint kind,
                   std::string_view name) {
  std::string out = body;
  sy::openai::rewrite_model(out, probe, name);
  if (name.empty() || name == probe.model) {
    FUZZ_CHECK(out == body);  // documented no-op cases
    return;
  }
  const std::size_t head = probe.model_begin;
  const std::size_t tail = body.size() - probe.model_end;
  FUZZ_CHECK(out.size() >= head + tail);
  FUZZ_CHECK(out.compare(0, head, body, 0, head) == 0);
  FUZZ_CHECK(out.compare(out.size() - tail, tail, body, probe.model_end, tail) == 0);
  FUZZ_CHECK(out.compare(head, out.size() - tail - head, sy::json::quoted(name)) == 0);

  // json::quoted passes bytes >= 0x20 through, so only a UTF-8 name can give valid JSON.
  if (!simdjson::validate_utf8(name.data(), name.size())) return;
  auto model = top_level_model(out);
  FUZZ_CHECK(model.has_value());
  FUZZ_CHECK(*model == name);
  auto again = sy::openai::probe_request(out, kind);
  FUZZ_CHECK(std::holds_alternative<request_probe>(again));
  const auto& p = std::get<request_probe>(again);
  FUZZ_CHECK(p.model == name);
  FUZZ_CHECK(p.model_begin == probe.model_begin);
  FUZZ_CHECK(p.model_end == out.size() - tail);
  FUZZ_CHECK(p.stream == probe.stream);
  FUZZ_CHECK(p.include_usage == probe.include_usage);
}

void probe_as(const std::string& body, endpoint kind, const std::uint8_t* data, std::size_t size) {
  auto result = sy::openai::probe_request(body, kind);
  if (auto* err = std::get_if<sy::error>(&result)) {
    if (err->code != sy::errc::invalid_request) {
      std::fprintf(stderr, "probe_request failed with a non-client error: %s (param %s)\n",
                   err->message.c_str(), err->param.c_str());
    }
    FUZZ_CHECK(err->code == sy::errc::invalid_request);
    return;
  }
  const auto& probe = std::get<request_probe>(result);
  FUZZ_CHECK(!probe.model.empty());
  FUZZ_CHECK(probe.model_begin < probe.model_end);
  FUZZ_CHECK(probe.model_end <= body.size());
  FUZZ_CHECK(body[probe.model_begin] == '"');
  FUZZ_CHECK(body[probe.model_end - 1] == '"');
  auto literal = decode_literal(
      std::string_view(body).substr(probe.model_begin, probe.model_end - probe.model_begin));
  FUZZ_CHECK(literal.has_value());
  FUZZ_CHECK(*literal == probe.model);
  auto model = top_level_model(body);
  FUZZ_CHECK(model.has_value() && *model == probe.model);

  // New names: plain, ones that need escaping, multi-byte UTF-8, one near the old name, the old
  // name itself (a no-op), and a window of the input (any bytes: structural checks only).
  static const std::string_view fixed[] = {
      "gpt-4o-mini",
      "x",
      "quote\" back\\slash \n\r\t\b\f \x01\x1f \x7f /",
      "\xe6\xa8\xa1\xe5\x9e\x8b-\xc3\xa9-\xf0\x9f\x98\x80",
  };
  for (auto name : fixed)
    check_rewrite(body, probe, kind, name);
  check_rewrite(body, probe, kind, probe.model + "-upstream");
  check_rewrite(body, probe, kind, probe.model.substr(0, probe.model.size() / 2));
  check_rewrite(body, probe, kind, probe.model);
  check_rewrite(body, probe, kind, "");
  if (size > 0) {
    auto h = sy::fuzz::fnv1a(data, size);
    std::size_t at = h % size;
    std::size_t len = std::min<std::size_t>((h >> 32) % 40, size - at);
    check_rewrite(body, probe, kind,
                  std::string_view(reinterpret_cast<const char*>(data) + at, len));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string body(reinterpret_cast<const char*>(data), size);
  probe_as(body, endpoint::chat_completions, data, size);
  probe_as(body, endpoint::embeddings, data, size);
  return 0;
}
