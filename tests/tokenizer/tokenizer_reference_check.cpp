// The tokenizer's exactness test (ctest: tokenizer_reference): every case of the corpus that
// reference.cjs encoded with js-tiktoken must give exactly the same ids here, for o200k_base and
// cl100k_base, and decode back to its bytes.
//
//   tokenizer_reference_check <reference file>
#include "billing/tokenizer.h"

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

using sy::billing::encoding;

struct reader {
  std::string data;
  std::size_t pos = 0;
  bool ok = true;

  std::uint32_t u32() {
    if (pos + 4 > data.size()) {
      ok = false;
      return 0;
    }
    auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
    pos += 4;
    return p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t{p[3]} << 24);
  }
  std::string_view bytes(std::size_t n) {
    if (pos + n > data.size()) {
      ok = false;
      return {};
    }
    std::string_view v(data.data() + pos, n);
    pos += n;
    return v;
  }
};

std::string escaped(std::string_view s, std::size_t max = 200) {
  std::string out;
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    unsigned char c = s[i];
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string ids_text(const std::vector<std::uint32_t>& ids, std::size_t from) {
  std::string out;
  for (std::size_t i = from; i < ids.size() && i < from + 8; ++i) {
    out += std::to_string(ids[i]) + " ";
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <reference file>\n", argv[0]);
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot open %s\n", argv[1]);
    return 2;
  }
  reader r{std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>())};
  const std::uint32_t cases = r.u32();
  const encoding encodings[] = {encoding::o200k_base, encoding::cl100k_base};
  std::size_t matched[2] = {0, 0}, tokens[2] = {0, 0}, shown = 0;
  for (std::uint32_t c = 0; c < cases && r.ok; ++c) {
    std::string_view text = r.bytes(r.u32());
    for (int k = 0; k < 2; ++k) {
      std::vector<std::uint32_t> want(r.u32());
      for (auto& id : want)
        id = r.u32();
      if (!r.ok) break;
      tokens[k] += want.size();
      std::vector<std::uint32_t> got = sy::billing::encode(encodings[k], text);
      bool same = got == want && sy::billing::count_tokens(encodings[k], text) == want.size() &&
                  sy::billing::decode(encodings[k], got) == text;
      if (same) {
        ++matched[k];
      } else if (shown++ < 20) {
        std::size_t i = 0;
        while (i < got.size() && i < want.size() && got[i] == want[i])
          ++i;
        std::fprintf(
            stderr, "MISMATCH %s case %u: \"%s\"\n  at token %zu: want %s\n              got  %s\n",
            std::string(sy::billing::encoding_name(encodings[k])).c_str(), c, escaped(text).c_str(),
            i, ids_text(want, i).c_str(), ids_text(got, i).c_str());
      }
    }
  }
  if (!r.ok) {
    std::fprintf(stderr, "%s: truncated reference file\n", argv[1]);
    return 2;
  }
  for (int k = 0; k < 2; ++k) {
    std::printf("%s: %zu/%u cases exactly equal to js-tiktoken (%zu tokens)\n",
                std::string(sy::billing::encoding_name(encodings[k])).c_str(), matched[k], cases,
                tokens[k]);
  }
  return matched[0] == cases && matched[1] == cases ? 0 : 1;
}
