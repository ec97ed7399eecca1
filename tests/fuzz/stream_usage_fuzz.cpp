// Fuzz target: sy::openai::usage_chunk_filter (src/protocol/openai/stream_usage.h).
//
// The input is an upstream SSE stream. Properties: never crashes; the client's stream does not
// depend on how the upstream's is cut (whole, in two at a point derived from the input, in
// pseudo-random chunks with empty feeds); the output is never longer than the input, and only
// removes bytes from it.
#include "protocol/openai/stream_usage.h"

#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::string run(const std::vector<std::string_view>& pieces) {
  sy::openai::usage_chunk_filter filter;
  std::string out;
  for (auto piece : pieces)
    filter.feed(piece, out);
  filter.finish(out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto h = sy::fuzz::fnv1a(data, size);
  const auto whole = run({in});
  FUZZ_CHECK(whole.size() <= in.size());
  std::size_t cut = h % (in.size() + 1);
  FUZZ_CHECK(run({in.substr(0, cut), in.substr(cut)}) == whole);
  sy::fuzz::prng rng(h);
  std::vector<std::string_view> chunks;
  for (std::size_t at = 0; at < in.size();) {
    std::size_t n = rng.next() % 17;  // 0 (an empty feed) to 16 bytes
    chunks.push_back(in.substr(at, n));
    at += n;
  }
  FUZZ_CHECK(run(chunks) == whole);
  // Only removals: the output is a subsequence of the input. (That a whole event holds no
  // "usage":null is not a property of arbitrary bytes: removing one occurrence can join the
  // bytes around it into another, which valid JSON, where quotes in strings are escaped, never
  // does. The unit tests check the removals on real streams.)
  std::size_t at = 0;
  for (char c : whole) {
    at = in.find(c, at);
    FUZZ_CHECK(at != std::string_view::npos);
    ++at;
  }
  return 0;
}
