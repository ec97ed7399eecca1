// The main() of the fuzz targets in the normal (g++) build: runs LLVMFuzzerTestOneInput once over
// every file named on the command line, directories searched recursively. This is how ctest
// replays the seed corpora (fuzz_replay_*); libFuzzer is not needed. Arguments starting with '-'
// are ignored, so a libFuzzer command line works too.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

int run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot open %s\n", path.c_str());
    return 1;
  }
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // A copy of exactly `size` bytes on the heap, as libFuzzer passes it, so ASan (make sanitize)
  // sees any read past the end.
  std::vector<std::uint8_t> input(bytes.begin(), bytes.end());
  std::fprintf(stderr, "replay: %s (%zu bytes)\n", path.c_str(), input.size());
  static const std::uint8_t none = 0;  // libFuzzer never passes a null pointer either
  LLVMFuzzerTestOneInput(input.empty() ? &none : input.data(), input.size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t files = 0;
  int failures = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> paths;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) paths.push_back(entry.path());
      }
      std::sort(paths.begin(), paths.end());
      for (const auto& p : paths) {
        failures += run_file(p);
        ++files;
      }
    } else {
      failures += run_file(arg);
      ++files;
    }
  }
  if (files == 0) {
    std::fprintf(stderr, "replay: no input files (usage: %s <file|dir>...)\n", argv[0]);
    return 1;
  }
  std::fprintf(stderr, "replay: %zu inputs, %d unreadable\n", files, failures);
  return failures ? 1 : 0;
}
