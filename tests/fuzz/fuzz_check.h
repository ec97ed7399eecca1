// Shared by the fuzz targets: a check that survives NDEBUG (the replay build is Release) and says
// what failed before aborting, so both libFuzzer and the ctest replay report it as a crash.
#pragma once

#include <cstddef>
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(cond)                                                                 \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                      \
    }                                                                                    \
  } while (0)

namespace sy::fuzz {

// FNV-1a: derives split points and choices from the input itself, so a run is reproducible
// from the input file alone.
inline unsigned long long fnv1a(const unsigned char* data, std::size_t size) {
  unsigned long long h = 1469598103934665603ull;
  for (std::size_t i = 0; i < size; ++i) {
    h ^= data[i];
    h *= 1099511628211ull;
  }
  return h;
}

// xorshift64*: a cheap deterministic stream of chunk sizes, seeded from the input.
struct prng {
  unsigned long long s;
  explicit prng(unsigned long long seed) : s(seed ? seed : 0x9e3779b97f4a7c15ull) {}
  unsigned long long next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 2685821657736338717ull;
  }
};

}  // namespace sy::fuzz
