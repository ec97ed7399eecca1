// Fuzz target: sy::sse::parser::feed (src/protocol/sse/sse.h).
//
// The input is a byte stream. Property: the events are the same however the stream is cut:
// whole, in two at a point derived from the input, one byte at a time, and in pseudo-random
// chunks (seeded from the input) with empty feeds mixed in. After the input, a blank line is fed
// so that an event left pending is dispatched too and compared as well.
// Also: an input without a "data" field name dispatches nothing, and the max_line guard returns
// false exactly when the unterminated tail is longer than the limit.
#include "protocol/sse/sse.h"

#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct recorded {
  std::string type, data, id;
  bool operator==(const recorded&) const = default;
};

using events = std::vector<recorded>;

// Feeds `pieces` in order, then a blank line; returns every event.
events run(const std::vector<std::string_view>& pieces) {
  sy::sse::parser parser;
  events out;
  auto on_event = [&](const sy::sse::event& e) { out.push_back({e.type, e.data, e.id}); };
  for (auto piece : pieces)
    FUZZ_CHECK(parser.feed(piece, on_event));
  FUZZ_CHECK(parser.feed("\n\n", on_event));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const auto whole = run({in});

  auto h = sy::fuzz::fnv1a(data, size);
  std::size_t cut = size ? h % (size + 1) : 0;
  FUZZ_CHECK(run({in.substr(0, cut), in.substr(cut)}) == whole);

  // Every cut at once (bounded: one feed call per byte).
  if (size <= 1024) {
    std::vector<std::string_view> bytes;
    for (std::size_t i = 0; i < size; ++i)
      bytes.push_back(in.substr(i, 1));
    FUZZ_CHECK(run(bytes) == whole);
  }

  sy::fuzz::prng rng(h);
  std::vector<std::string_view> chunks;
  for (std::size_t at = 0; at < size;) {
    std::size_t n = rng.next() % 9;  // 0 (an empty feed) to 8 bytes
    chunks.push_back(in.substr(at, n));
    at += n;
  }
  FUZZ_CHECK(run(chunks) == whole);

  // Every dispatched event has been introduced by a "data" line: an input with no "data"
  // field name anywhere dispatches nothing.
  if (in.find("data") == std::string_view::npos) FUZZ_CHECK(whole.empty());

  // The line-length guard: false exactly when the pending (unterminated) tail is too long.
  {
    sy::sse::parser parser;
    std::size_t limit = (h >> 40) % 64;
    parser.set_max_line(limit);
    auto last_break = in.find_last_of("\r\n");
    std::size_t tail = last_break == std::string_view::npos ? size : size - last_break - 1;
    bool ok = parser.feed(in, [](const sy::sse::event&) {});
    FUZZ_CHECK(ok == (tail <= limit));
  }
  return 0;
}
