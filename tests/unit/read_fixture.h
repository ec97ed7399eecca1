// Reads a recorded body from tests/fixtures (SY_FIXTURES) byte for byte.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace sy::test {

inline std::string read_fixture(const std::string& relative_path) {
  std::ifstream in(std::string(SY_FIXTURES) + "/" + relative_path, std::ios::binary);
  if (!in) {
    ADD_FAILURE() << "cannot open fixture " << relative_path;
    return {};
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace sy::test
