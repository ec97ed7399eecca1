// OpenAI's error body: {"error":{"message","type","param","code"}}.
#include "protocol/openai/errors.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace sy::test {
namespace {

TEST(openai_errors, exact_shape) {
  EXPECT_EQ(openai::encode_error({errc::model_not_found, "The model 'x' does not exist.", "model"}),
            R"({"error":{"message":"The model 'x' does not exist.","type":"invalid_request_error",)"
            R"("param":"model","code":"model_not_found"}})");
  EXPECT_EQ(openai::encode_error({errc::invalid_api_key, "Incorrect API key provided.", ""}),
            R"({"error":{"message":"Incorrect API key provided.","type":"invalid_request_error",)"
            R"("param":null,"code":"invalid_api_key"}})");
}

TEST(openai_errors, empty_param_and_code_are_null) {
  auto v = boost::json::parse(openai::encode_error({errc::invalid_request, "bad", ""}));
  const auto& e = v.at("error").as_object();
  EXPECT_EQ(e.size(), 4u);
  EXPECT_EQ(e.at("message").as_string(), "bad");
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_TRUE(e.at("param").is_null());
  EXPECT_TRUE(e.at("code").is_null());
  EXPECT_EQ(v.as_object().size(), 1u);
}

TEST(openai_errors, every_code_is_valid_json_with_its_catalog_entry) {
  for (int c = 0; c <= static_cast<int>(errc::internal); ++c) {
    auto code = static_cast<errc>(c);
    auto text = openai::encode_error({code, "message", "field"});
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    ASSERT_FALSE(ec) << text;
    const auto& e = v.at("error").as_object();
    EXPECT_EQ(e.at("type").as_string(), info(code).type) << text;
    EXPECT_EQ(e.at("param").as_string(), "field") << text;
    if (info(code).code.empty()) {
      EXPECT_TRUE(e.at("code").is_null()) << text;
    } else {
      EXPECT_EQ(e.at("code").as_string(), info(code).code) << text;
    }
  }
}

TEST(openai_errors, escaping) {
  const std::string message = "The model \"gpt\\4\" is\nnot here\r\n\ttab \x01 \x1f caf\xc3\xa9";
  const std::string param = "messages[0].\"content\"";
  auto text = openai::encode_error({errc::invalid_request, message, param});
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_EQ(text.find('\r'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x01'), std::string::npos) << text;
  EXPECT_NE(text.find(R"(The model \"gpt\\4\" is\nnot here\r\n\ttab \u0001 \u001f)"),
            std::string::npos)
      << text;
  auto v = boost::json::parse(text);
  EXPECT_EQ(v.at("error").at("message").as_string(), message);
  EXPECT_EQ(v.at("error").at("param").as_string(), param);
}

}  // namespace
}  // namespace sy::test
