// Fuzz target: sy::openai::usage_sniffer (src/protocol/openai/usage_sniffer.h), in both modes.
//
// The input is a response body, read as an SSE stream (stream mode) and as a JSON body (non-stream
// mode). Properties: never crashes; the usage found does not depend on how the body is cut (whole,
// in two at a point derived from the input, in pseudo-random chunks with empty feeds); in
// non-stream mode a body over max_json_body yields nothing (-1) rather than a partial parse.
#include "protocol/openai/usage_sniffer.h"

#include "fuzz_check.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct counts {
  std::int64_t prompt, completion;
  bool operator==(const counts&) const = default;
};

counts run(bool stream, const std::vector<std::string_view>& pieces) {
  sy::openai::usage_sniffer sniffer(stream);
  for (auto piece : pieces)
    sniffer.feed(piece);
  auto u = sniffer.finish();
  return {u.prompt_tokens, u.completion_tokens};
}

void check_mode(bool stream, std::string_view in, unsigned long long h) {
  const auto whole = run(stream, {in});
  std::size_t cut = h % (in.size() + 1);
  FUZZ_CHECK(run(stream, {in.substr(0, cut), in.substr(cut)}) == whole);

  sy::fuzz::prng rng(h ^ (stream ? 0x5555 : 0xaaaa));
  std::vector<std::string_view> chunks;
  for (std::size_t at = 0; at < in.size();) {
    std::size_t n = rng.next() % 17;  // 0 (an empty feed) to 16 bytes
    chunks.push_back(in.substr(at, n));
    at += n;
  }
  FUZZ_CHECK(run(stream, chunks) == whole);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto h = sy::fuzz::fnv1a(data, size);
  check_mode(true, in, h);
  check_mode(false, in, h);

  // Over the cap: the non-stream body is dropped, nothing is reported. The filler is only viewed,
  // never copied (the sniffer drops a piece that would overflow before appending it).
  static const std::string filler(sy::openai::usage_sniffer::max_json_body + 1, ' ');
  sy::openai::usage_sniffer sniffer(false);
  sniffer.feed(in);
  sniffer.feed(filler);
  sniffer.feed(in);
  auto u = sniffer.finish();
  FUZZ_CHECK(u.prompt_tokens == -1 && u.completion_tokens == -1);
  return 0;
}
