// Usage read from Anthropic and Gemini responses relayed as bytes (passthrough), streamed or
// not, whatever the pieces.
#include "protocol/ir/usage_reader.h"

#include "../../read_fixture.h"

#include <gtest/gtest.h>

namespace sy::test {
namespace {

ir::usage read_in_pieces(ir::protocol p, bool stream, const std::string& body, std::size_t n) {
  ir::usage_reader r(p, stream);
  for (std::size_t at = 0; at < body.size(); at += n)
    r.feed(std::string_view(body).substr(at, n));
  return r.finish();
}

TEST(usage_reader, anthropic_stream) {
  auto body = read_fixture("anthropic/messages_stream_tool_use.turn1.response.sse");
  for (std::size_t n : {body.size(), std::size_t{1}, std::size_t{7}}) {
    auto u = read_in_pieces(ir::protocol::anthropic, true, body, n);
    EXPECT_EQ(u.input, 656) << n;  // from message_start
    EXPECT_EQ(u.output, 74) << n;  // message_delta's count is cumulative: the last wins
    EXPECT_EQ(u.cache_read, 0) << n;
  }
}

TEST(usage_reader, anthropic_body) {
  auto body = read_fixture("anthropic/messages_text_and_tool_use.turn1.response.json");
  auto u = read_in_pieces(ir::protocol::anthropic, false, body, 100);
  EXPECT_EQ(u.input, 701);
  EXPECT_EQ(u.output, 93);
}

TEST(usage_reader, gemini_stream_and_body) {
  auto stream = read_fixture("gemini/streamGenerateContent_text.response.ASSEMBLED.sse");
  auto s = read_in_pieces(ir::protocol::gemini, true, stream, 5);
  EXPECT_EQ(s.input, 6);
  EXPECT_EQ(s.output, 377);
  auto body = read_fixture("gemini/generateContent_system_instruction.response.json");
  auto b = read_in_pieces(ir::protocol::gemini, false, body, body.size());
  EXPECT_EQ(b.input, 9);
  EXPECT_EQ(b.output, 21);  // candidates + thoughts
  EXPECT_EQ(b.reasoning, 20);
}

TEST(usage_reader, gemini_json_array_stream) {
  const std::string body =
      R"([{"candidates":[{"content":{"parts":[{"text":"a"}],"role":"model"}}],)"
      R"("usageMetadata":{"promptTokenCount":4,"totalTokenCount":4}},)"
      "\r\n"
      R"({"candidates":[{"content":{"parts":[{"text":"b"}],"role":"model"},"finishReason":"STOP"}],)"
      R"("usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"totalTokenCount":6}}])";
  auto u = read_in_pieces(ir::protocol::gemini, false, body, 3);
  EXPECT_EQ(u.input, 4);
  EXPECT_EQ(u.output, 2);
}

TEST(usage_reader, nothing_reported_and_bodies_over_the_cap) {
  auto none = read_in_pieces(ir::protocol::anthropic, false, R"({"type":"error"})", 4);
  EXPECT_TRUE(none.empty());
  ir::usage_reader big(ir::protocol::gemini, false);
  big.feed(std::string(ir::usage_reader::max_json_body, ' '));
  big.feed(R"({"usageMetadata":{"promptTokenCount":1}})");
  EXPECT_TRUE(big.finish().empty());
}

}  // namespace
}  // namespace sy::test
