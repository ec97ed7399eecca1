// The SSE parser against the WHATWG rules and recorded vendor streams, fed whole, split at every
// byte and one byte at a time.
#include "protocol/sse/sse.h"

#include "../../read_fixture.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <string>
#include <vector>

namespace sy::test {
namespace {

// One event as a comparable, printable string.
std::string describe(const sse::event& e) {
  return "type=[" + e.type + "] id=[" + e.id + "] data=[" + e.data + "]";
}

using events = std::vector<std::string>;

events feed_chunks(const std::vector<std::string_view>& chunks, sse::parser& p) {
  events out;
  for (auto chunk : chunks) {
    EXPECT_TRUE(p.feed(chunk, [&](const sse::event& e) { out.push_back(describe(e)); }));
  }
  return out;
}

events parse_whole(std::string_view text) {
  sse::parser p;
  return feed_chunks({text}, p);
}

events parse_split(std::string_view text, std::size_t k) {
  sse::parser p;
  return feed_chunks({text.substr(0, k), text.substr(k)}, p);
}

events parse_bytewise(std::string_view text) {
  sse::parser p;
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < text.size(); ++i)
    bytes.push_back(text.substr(i, 1));
  return feed_chunks(bytes, p);
}

// Every split point and one byte at a time give `expected`; stops at the first difference.
void expect_same_at_every_split(std::string_view text, const events& expected,
                                const std::string& what) {
  for (std::size_t k = 0; k <= text.size(); ++k) {
    auto got = parse_split(text, k);
    if (got != expected) {
      std::size_t i = 0;
      while (i < got.size() && i < expected.size() && got[i] == expected[i])
        ++i;
      ADD_FAILURE() << what << ": split at byte " << k << " of " << text.size() << " gives "
                    << got.size() << " events, expected " << expected.size()
                    << "; first difference at event " << i << ": "
                    << (i < got.size() ? got[i] : "<none>") << " vs "
                    << (i < expected.size() ? expected[i] : "<none>");
      return;
    }
  }
  EXPECT_EQ(parse_bytewise(text), expected) << what << ": one byte at a time";
}

// An independent reading of the recorded streams, which only use "name: value" lines and blank
// line separators: split on blank lines; a block with no trailing blank line is incomplete.
events reference_parse(std::string text) {
  std::string lf;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      lf += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      lf += text[i];
    }
  }
  events out;
  std::size_t start = 0;
  for (auto end = lf.find("\n\n"); end != std::string::npos; end = lf.find("\n\n", start)) {
    sse::event e;
    std::string block = lf.substr(start, end - start);
    std::size_t line_start = 0;
    while (line_start <= block.size()) {
      auto nl = block.find('\n', line_start);
      if (nl == std::string::npos) nl = block.size();
      std::string line = block.substr(line_start, nl - line_start);
      if (line.rfind("data: ", 0) == 0) {
        if (!e.data.empty()) e.data += '\n';
        e.data += line.substr(6);
      }
      if (line.rfind("event: ", 0) == 0) e.type = line.substr(7);
      line_start = nl + 1;
    }
    out.push_back(describe(e));
    start = end + 2;
  }
  return out;
}

std::string replace_lf(const std::string& text, const std::string& with) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += with;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<sse::event> parse_events(std::string_view text) {
  std::vector<sse::event> out;
  sse::parser p;
  p.feed(text, [&](const sse::event& e) { out.push_back(e); });
  return out;
}

struct recording {
  std::string path;
  std::size_t events;  // complete events in the file
};

const recording recordings[] = {
    {"openai/chat_streaming.response.sse", 51},
    {"openai/chat_streaming_detailed_usage.response.sse", 4},
    {"openai/stream_tool_call_single.response.sse", 11},
    {"anthropic/messages_stream_tool_use.turn1.response.sse", 16},
    // No line break after the last event (message_stop): 9 events, 8 complete.
    {"anthropic/sdk_fixtures/basic_response.sse", 8},
    // CRLF framing.
    {"gemini/raw_sdk_mocks/streaming-success-basic-reply-long.txt", 6},
};

TEST(sse, recorded_streams_whole_split_and_bytewise) {
  for (const auto& r : recordings) {
    auto text = read_fixture(r.path);
    ASSERT_FALSE(text.empty()) << r.path;
    auto expected = reference_parse(text);
    ASSERT_EQ(expected.size(), r.events) << r.path;
    auto whole = parse_whole(text);
    ASSERT_EQ(whole, expected) << r.path;
    expect_same_at_every_split(text, expected, r.path);
  }
}

TEST(sse, recorded_streams_with_crlf_and_cr_line_endings) {
  for (const auto* path : {"openai/chat_streaming.response.sse",
                           "anthropic/messages_stream_tool_use.turn1.response.sse"}) {
    auto lf = read_fixture(path);
    auto expected = parse_whole(lf);
    ASSERT_FALSE(expected.empty());
    expect_same_at_every_split(replace_lf(lf, "\r\n"), expected, std::string(path) + " (CRLF)");
    expect_same_at_every_split(replace_lf(lf, "\r"), expected, std::string(path) + " (CR)");
  }
}

TEST(sse, openai_stream_content) {
  auto all = parse_events(read_fixture("openai/chat_streaming.response.sse"));
  ASSERT_EQ(all.size(), 51u);
  for (std::size_t i = 0; i + 1 < all.size(); ++i) {
    EXPECT_TRUE(all[i].type.empty());
    auto v = boost::json::parse(all[i].data);
    EXPECT_EQ(v.at("object").as_string(), "chat.completion.chunk") << i;
    EXPECT_EQ(v.at("id").as_string(), "chatcmpl-C4HqHBe4xca0k0EzsCnf1t6V3YFXp") << i;
  }
  EXPECT_EQ(all.back().data, "[DONE]");
}

TEST(sse, anthropic_event_types_match_their_payloads) {
  for (const auto* path : {"anthropic/messages_stream_tool_use.turn1.response.sse",
                           "anthropic/sdk_fixtures/basic_response.sse"}) {
    auto all = parse_events(read_fixture(path));
    ASSERT_FALSE(all.empty()) << path;
    EXPECT_EQ(all.front().type, "message_start") << path;
    for (const auto& e : all) {
      // Anthropic pads the JSON with spaces ("...}             }"); it is still one JSON value.
      auto v = boost::json::parse(e.data);
      EXPECT_EQ(v.at("type").as_string(), e.type) << path;
    }
  }
  // The SDK fixture has no line break after message_stop: that event is not complete.
  auto basic = parse_events(read_fixture("anthropic/sdk_fixtures/basic_response.sse"));
  ASSERT_FALSE(basic.empty());
  EXPECT_EQ(basic.back().type, "message_delta");
}

TEST(sse, gemini_crlf_data_has_no_carriage_returns) {
  auto all =
      parse_events(read_fixture("gemini/raw_sdk_mocks/streaming-success-basic-reply-long.txt"));
  ASSERT_EQ(all.size(), 6u);
  for (const auto& e : all) {
    EXPECT_EQ(e.data.find('\r'), std::string::npos);
    EXPECT_TRUE(boost::json::parse(e.data).as_object().contains("candidates"));
  }
}

TEST(sse, line_endings) {
  const events one = {"type=[] id=[] data=[a]", "type=[] id=[] data=[b]"};
  EXPECT_EQ(parse_whole("data: a\n\ndata: b\n\n"), one);
  EXPECT_EQ(parse_whole("data: a\r\n\r\ndata: b\r\n\r\n"), one);
  EXPECT_EQ(parse_whole("data: a\r\rdata: b\r\r"), one);
  // Mixed, and "\n\r" is two line endings, not one.
  EXPECT_EQ(parse_whole("data: a\r\n\ndata: b\n\r"), one);
  EXPECT_EQ(parse_whole("data: a\n\rdata: b\r\r\n"), one);
  for (std::string_view text : {"data: a\r\n\r\ndata: b\r\n\r\n", "data: a\r\rdata: b\r\r",
                                "data: a\n\rdata: b\r\r\n", "data: a\r\n\ndata: b\n\r"}) {
    expect_same_at_every_split(text, one, std::string(text));
  }
  // A CRLF split between two feeds is one line ending, not two: the lines stay in one event.
  expect_same_at_every_split("data: a\r\ndata: b\r\n\r\n", {"type=[] id=[] data=[a\nb]"},
                             "CRLF inside an event");
  expect_same_at_every_split("event: x\r\nid: 1\r\ndata: y\r\n\r\n", {"type=[x] id=[1] data=[y]"},
                             "CRLF after event and id");
  // A CR at the end of one feed and another CR at the start of the next: two line endings.
  sse::parser p;
  EXPECT_EQ(feed_chunks({"data: a\r", "\r\n", "data: b\r", "\n", "\r\n"}, p), one);
}

TEST(sse, multi_line_data_and_comments) {
  EXPECT_EQ(parse_whole("data: first\ndata: second\ndata:\ndata: third\n\n"),
            events{"type=[] id=[] data=[first\nsecond\n\nthird]"});
  EXPECT_EQ(parse_whole(": keep-alive\n\n:\n\n"), events{});
  EXPECT_EQ(parse_whole("data: a\n: comment between\ndata: b\n\n"),
            events{"type=[] id=[] data=[a\nb]"});
  EXPECT_EQ(parse_whole(":data: not data\n\n"), events{});
}

TEST(sse, field_parsing) {
  EXPECT_EQ(parse_whole("data:x\n\n"), events{"type=[] id=[] data=[x]"});
  EXPECT_EQ(parse_whole("data:  x\n\n"), events{"type=[] id=[] data=[ x]"});  // one space only
  EXPECT_EQ(parse_whole("data\n\n"), events{"type=[] id=[] data=[]"});
  EXPECT_EQ(parse_whole("data:\n\n"), events{"type=[] id=[] data=[]"});
  EXPECT_EQ(parse_whole("data: a: b\n\n"), events{"type=[] id=[] data=[a: b]"});
  // Unknown fields and wrong case are ignored; without data there is no event.
  EXPECT_EQ(parse_whole("retry: 100\nfoo: bar\nData: x\n\n"), events{});
  EXPECT_EQ(parse_whole("data: x\nretry: 100\nDATA: y\n\n"), events{"type=[] id=[] data=[x]"});
}

TEST(sse, event_type_and_id) {
  EXPECT_EQ(parse_whole("event: message_start\nid: 7\ndata: {}\n\n"
                        "data: next\n\n"
                        "id: 8\nevent: ping\n\n"
                        "event:delta\ndata: d\n\n"),
            (events{"type=[message_start] id=[7] data=[{}]",
                    // The type is reset after each event; the id is the stream's last event id.
                    "type=[] id=[7] data=[next]",
                    // "event: ping" without data dispatches nothing and does not leak.
                    "type=[delta] id=[8] data=[d]"}));
  EXPECT_EQ(parse_whole("event: a\nevent: b\ndata: x\n\n"), events{"type=[b] id=[] data=[x]"});
}

TEST(sse, incomplete_event_is_not_emitted) {
  EXPECT_EQ(parse_whole("data: a\n"), events{});
  EXPECT_EQ(parse_whole("data: a"), events{});
  EXPECT_EQ(parse_whole("data: a\r"), events{});
  EXPECT_EQ(parse_whole("data: a\n\ndata: b\n"), events{"type=[] id=[] data=[a]"});
  // ...until the blank line arrives.
  sse::parser p;
  EXPECT_EQ(feed_chunks({"data: a\n"}, p), events{});
  EXPECT_EQ(feed_chunks({"\n"}, p), events{"type=[] id=[] data=[a]"});
}

TEST(sse, max_line_guard) {
  auto ignore = [](const sse::event&) {};
  sse::parser p;
  p.set_max_line(16);
  EXPECT_TRUE(p.feed("data: 0123456789", ignore));  // 16 bytes pending: at the limit
  EXPECT_FALSE(p.feed("a", ignore));                // 17: over

  sse::parser q;
  q.set_max_line(16);
  EXPECT_TRUE(q.feed("data: 01234\n", ignore));
  EXPECT_TRUE(q.feed("data: 01234", ignore));
  EXPECT_TRUE(q.feed("56789\n", ignore));  // the line ended: nothing is pending any more
  EXPECT_TRUE(q.feed("data: 0123456789", ignore));

  sse::parser r;
  r.set_max_line(8);
  EXPECT_FALSE(r.feed("data: a\n\ndata: 0123456789", ignore));  // the pending tail counts

  // Under the default limit a long line split across many feeds is reassembled.
  std::string big(1 << 20, 'x');
  std::string text = "data: " + big + "\n\n";
  sse::parser s;
  std::vector<sse::event> got;
  for (std::size_t i = 0; i < text.size(); i += 4096) {
    EXPECT_TRUE(s.feed(std::string_view(text).substr(i, 4096),
                       [&](const sse::event& e) { got.push_back(e); }));
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].data, big);
}

TEST(sse, append_data) {
  std::string out = "x";
  sse::append_data(out, R"({"a":"b c"})");
  EXPECT_EQ(out, "xdata: {\"a\":\"b c\"}\n\n");
  std::string stream;
  sse::append_data(stream, "one");
  sse::append_data(stream, "");
  sse::append_data(stream, "[DONE]");
  EXPECT_EQ(stream, "data: one\n\ndata: \n\ndata: [DONE]\n\n");
  const events expected = {"type=[] id=[] data=[one]", "type=[] id=[] data=[]",
                           "type=[] id=[] data=[[DONE]]"};
  EXPECT_EQ(parse_whole(stream), expected);
  expect_same_at_every_split(stream, expected, "append_data round trip");
}

}  // namespace
}  // namespace sy::test
