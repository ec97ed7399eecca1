// OpenAI's error object: {"error":{"message","type","param","code"}}.
#pragma once

#include "common/error.h"

#include <string>

namespace sy::openai {

std::string encode_error(const error& e);

}  // namespace sy::openai
