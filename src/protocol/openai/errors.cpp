#include "protocol/openai/errors.h"

#include "common/json.h"

namespace sy::openai {

std::string encode_error(const error& e) {
  const auto& i = info(e.code);
  std::string out = R"({"error":{"message":)";
  json::append_quoted(out, e.message);
  out += R"(,"type":)";
  json::append_quoted(out, i.type);
  out += R"(,"param":)";
  if (e.param.empty()) {
    out += "null";
  } else {
    json::append_quoted(out, e.param);
  }
  out += R"(,"code":)";
  if (i.code.empty()) {
    out += "null";
  } else {
    json::append_quoted(out, i.code);
  }
  out += "}}";
  return out;
}

}  // namespace sy::openai
