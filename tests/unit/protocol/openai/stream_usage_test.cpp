// Usage asked for on the client's behalf: the request member added, and the stream the client
// sees, whatever pieces it comes in.
#include "protocol/openai/stream_usage.h"

#include "../../read_fixture.h"

#include <gtest/gtest.h>

namespace sy::test {
namespace {

TEST(inject_include_usage, adds_the_member_before_the_closing_brace) {
  std::string body = R"({"model":"m","stream":true,"messages":[]})";
  ASSERT_TRUE(openai::inject_include_usage(body));
  EXPECT_EQ(body,
            R"({"model":"m","stream":true,"messages":[],"stream_options":{"include_usage":true}})");
  std::string spaced = "{ \"model\": \"m\" }\n  ";
  ASSERT_TRUE(openai::inject_include_usage(spaced));
  EXPECT_EQ(spaced, "{ \"model\": \"m\" ,\"stream_options\":{\"include_usage\":true}}\n  ");
  std::string not_object = "[1]";
  EXPECT_FALSE(openai::inject_include_usage(not_object));
  EXPECT_EQ(not_object, "[1]");
}

std::string filtered(std::string_view stream, std::size_t split) {
  openai::usage_chunk_filter f;
  std::string out;
  f.feed(stream.substr(0, split), out);
  f.feed(stream.substr(split), out);
  f.finish(out);
  return out;
}

TEST(usage_chunk_filter, the_client_sees_the_stream_it_did_not_ask_usage_for) {
  const std::string with_usage =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
      "\"finish_reason\":null}],\"usage\":null,\"obfuscation\":\"x\"}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],"
      "\"usage\":null}\n\n"
      "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,"
      "\"total_tokens\":4}}\n\n"
      "data: [DONE]\n\n";
  const std::string expected =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},"
      "\"finish_reason\":null}],\"obfuscation\":\"x\"}\n\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}"
      "\n\n"
      "data: [DONE]\n\n";
  for (std::size_t split = 0; split <= with_usage.size(); ++split) {
    ASSERT_EQ(filtered(with_usage, split), expected) << "split at " << split;
  }
  // One byte at a time.
  openai::usage_chunk_filter f;
  std::string out;
  for (char c : with_usage)
    f.feed(std::string_view(&c, 1), out);
  f.finish(out);
  EXPECT_EQ(out, expected);
}

TEST(usage_chunk_filter, a_recorded_stream_loses_exactly_its_usage) {
  const auto recorded = read_fixture("openai/chat_streaming_detailed_usage.response.sse");
  const auto whole = filtered(recorded, recorded.size());
  EXPECT_EQ(whole.find("\"usage\""), std::string::npos) << whole;
  EXPECT_EQ(whole.find("prompt_tokens"), std::string::npos);
  EXPECT_NE(whole.find("\"finish_reason\":\"length\""), std::string::npos);
  EXPECT_TRUE(whole.ends_with("data: [DONE]\n\n"));
  // One event fewer (the usage chunk), the others intact.
  auto events = [](const std::string& s) {
    std::size_t n = 0;
    for (auto at = s.find("\n\n"); at != std::string::npos; at = s.find("\n\n", at + 2))
      ++n;
    return n;
  };
  EXPECT_EQ(events(whole) + 1, events(recorded));
  for (std::size_t split = 0; split <= recorded.size(); ++split) {
    ASSERT_EQ(filtered(recorded, split), whole) << "split at " << split;
  }
}

TEST(usage_chunk_filter, an_unfinished_event_goes_out_at_the_end) {
  openai::usage_chunk_filter f;
  std::string out;
  f.feed("data: {\"choices\":[{}],\"usage\":null}", out);
  EXPECT_EQ(out, "");
  f.finish(out);
  EXPECT_EQ(out, "data: {\"choices\":[{}],\"usage\":null}");
}

}  // namespace
}  // namespace sy::test
