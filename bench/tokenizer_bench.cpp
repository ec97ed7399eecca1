// sy_tokenizer_bench: the throughput of billing::count_tokens (the estimated counts of
// billing/tokenizer.h), in MB/s of UTF-8 input (bytes_per_second). Google Benchmark; see
// bench/README.md ("The tokenizer").
//
//   count/<encoding>/english    ~256 KiB of English prose (varied sentences, punctuation)
//   count/<encoding>/code       ~256 KiB of C++ / Python / JSON
//   count/<encoding>/cjk        ~256 KiB of Chinese, Japanese and Korean
//   count/<encoding>/long_piece 256 KiB of letters without a space (the heap merge)
//   encode/<encoding>/english   the same text through encode() (the ids vector)
//   first_use/<encoding>        building the vocabulary's hash table (done once per process)

#include "billing/tokenizer.h"

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

namespace {

using sy::billing::encoding;

std::string fill(const std::vector<std::string>& parts, std::size_t bytes, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s;
  while (s.size() < bytes)
    s += parts[rng() % parts.size()];
  return s;
}

const std::string& english() {
  static const std::string text = fill(
      {"The quick brown fox jumps over the lazy dog. ",
       "It was the best of times, it was the worst of times; it was the age of wisdom. ",
       "Switchyard routes every request to one of many upstream channels, and it keeps the books. ",
       "\"Don't forget,\" she said, \"we'll need 1,250 tokens by Tuesday.\"\n\n",
       "In 2024, revenue grew 17.5% to $3.2 billion (compared with $2.7 billion a year earlier). ",
       "Nevertheless, the committee's recommendations were largely ignored by the government. "},
      256 * 1024, 1);
  return text;
}

const std::string& code() {
  static const std::string text = fill(
      {"for (std::size_t i = 0; i < parts.size(); ++i) {\n    total += parts[i].rank;\n  }\n",
       "def handler(event, context):\n    body = json.loads(event[\"body\"])\n    return body\n",
       "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}\n",
       "  if (auto it = table.find(key); it != table.end()) return it->second;\n"},
      256 * 1024, 2);
  return text;
}

const std::string& cjk() {
  static const std::string text = fill(
      {"你好，世界！今天天气很好，我们去公园散步吧。", "这是一个用于检查分词器速度的测试句子。",
       "日本語のテキストです。カタカナとひらがなと漢字が混ざっています。",
       "한국어 텍스트입니다. 만나서 반갑습니다. "},
      256 * 1024, 3);
  return text;
}

const std::string& long_piece() {
  static const std::string text = [] {
    std::mt19937 rng(4);
    std::string s(256 * 1024, 'a');
    for (auto& c : s)
      c = static_cast<char>('a' + rng() % 26);
    return s;
  }();
  return text;
}

void count(benchmark::State& state, encoding e, const std::string& (*text)()) {
  const std::string& t = text();
  sy::billing::count_tokens(e, "warm up");  // the vocabulary is loaded outside the timing
  std::size_t tokens = 0;
  for (auto _ : state) {
    tokens = sy::billing::count_tokens(e, t);
    benchmark::DoNotOptimize(tokens);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size()));
  state.counters["bytes_per_token"] = static_cast<double>(t.size()) / static_cast<double>(tokens);
}

void encode_ids(benchmark::State& state, encoding e) {
  const std::string& t = english();
  sy::billing::count_tokens(e, "warm up");
  for (auto _ : state) {
    auto ids = sy::billing::encode(e, t);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * t.size()));
}

void first_use(benchmark::State& state, encoding e) {
  // The static vocabulary can be built once per process: this measures that one time.
  for (auto _ : state)
    benchmark::DoNotOptimize(sy::billing::vocabulary_size(e));
}

}  // namespace

BENCHMARK_CAPTURE(first_use, o200k_base, encoding::o200k_base)
    ->Iterations(1)
    ->Name("first_use/o200k_base");
BENCHMARK_CAPTURE(first_use, cl100k_base, encoding::cl100k_base)
    ->Iterations(1)
    ->Name("first_use/cl100k_base");
BENCHMARK_CAPTURE(count, o200k_base / english, encoding::o200k_base, english)
    ->Name("count/o200k_base/english");
BENCHMARK_CAPTURE(count, o200k_base / code, encoding::o200k_base, code)
    ->Name("count/o200k_base/code");
BENCHMARK_CAPTURE(count, o200k_base / cjk, encoding::o200k_base, cjk)->Name("count/o200k_base/cjk");
BENCHMARK_CAPTURE(count, o200k_base / long_piece, encoding::o200k_base, long_piece)
    ->Name("count/o200k_base/long_piece");
BENCHMARK_CAPTURE(count, cl100k_base / english, encoding::cl100k_base, english)
    ->Name("count/cl100k_base/english");
BENCHMARK_CAPTURE(count, cl100k_base / code, encoding::cl100k_base, code)
    ->Name("count/cl100k_base/code");
BENCHMARK_CAPTURE(count, cl100k_base / cjk, encoding::cl100k_base, cjk)
    ->Name("count/cl100k_base/cjk");
BENCHMARK_CAPTURE(count, cl100k_base / long_piece, encoding::cl100k_base, long_piece)
    ->Name("count/cl100k_base/long_piece");
BENCHMARK_CAPTURE(encode_ids, o200k_base, encoding::o200k_base)->Name("encode/o200k_base/english");
BENCHMARK_CAPTURE(encode_ids, cl100k_base, encoding::cl100k_base)
    ->Name("encode/cl100k_base/english");

BENCHMARK_MAIN();
