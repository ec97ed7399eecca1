// billing/tokenizer.h: known ids (from js-tiktoken 1.0.21, the reference of tests/tokenizer),
// the model -> encoding table, invalid UTF-8, long pieces, threads. The exhaustive comparison
// with the reference is the tokenizer_reference ctest (tests/tokenizer).
#include "billing/tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace sy::test {
namespace {

using billing::count_tokens;
using billing::decode;
using billing::encode;
using billing::encoding;
using ids = std::vector<std::uint32_t>;

constexpr encoding o200k = encoding::o200k_base;
constexpr encoding cl100k = encoding::cl100k_base;

struct fixture {
  std::string text;
  ids o200k_ids;
  ids cl100k_ids;
};

const std::vector<fixture>& fixtures() {
  static const std::vector<fixture> f = {
      {"hello world", {24912, 2375}, {15339, 1917}},
      {"Hello, world!", {13225, 11, 2375, 0}, {9906, 11, 1917, 0}},
      {"I'm HE'LL", {15390, 18638, 6, 7454}, {40, 2846, 11947, 6, 4178}},
      {"  x\r\n\r\n  y ", {220, 1215, 1414, 220, 342, 220}, {220, 865, 881, 220, 379, 220}},
      {"12345678", {7633, 19354, 4388}, {4513, 10961, 2495}},
      {"你好，世界", {177519, 979, 28428}, {57668, 53901, 3922, 3574, 244, 98220}},
      {"👨‍👩‍👧",
       {28823, 101, 2524, 28823, 102, 2524, 28823, 100},
       {9468, 239, 101, 378, 235, 9468, 239, 102, 378, 235, 9468, 239, 100}},
      {"<|endoftext|>", {27, 91, 419, 1440, 919, 91, 29}, {27, 91, 8862, 728, 428, 91, 29}},
      {"def f(x):\n    return x**2\n",
       {1314, 285, 4061, 1883, 271, 622, 1215, 410, 17, 198},
       {755, 282, 2120, 997, 262, 471, 865, 334, 17, 198}},
      {"naïve Café", {1503, 9954, 737, 58639}, {3458, 38672, 588, 66771}},
  };
  return f;
}

TEST(tokenizer, known_ids) {
  for (const auto& f : fixtures()) {
    EXPECT_EQ(encode(o200k, f.text), f.o200k_ids) << f.text;
    EXPECT_EQ(encode(cl100k, f.text), f.cl100k_ids) << f.text;
    EXPECT_EQ(count_tokens(o200k, f.text), f.o200k_ids.size()) << f.text;
    EXPECT_EQ(count_tokens(cl100k, f.text), f.cl100k_ids.size()) << f.text;
    EXPECT_EQ(decode(o200k, f.o200k_ids), f.text);
    EXPECT_EQ(decode(cl100k, f.cl100k_ids), f.text);
  }
}

TEST(tokenizer, empty_text_has_no_tokens) {
  EXPECT_TRUE(encode(o200k, "").empty());
  EXPECT_EQ(count_tokens(cl100k, ""), 0u);
}

TEST(tokenizer, vocabulary_sizes) {
  EXPECT_EQ(billing::vocabulary_size(o200k), 199998u);
  EXPECT_EQ(billing::vocabulary_size(cl100k), 100256u);
}

TEST(tokenizer, decode_ignores_ids_outside_the_vocabulary) {
  EXPECT_EQ(decode(cl100k, ids{15339, 100257, 4000000000u, 1917}), "hello world");
}

TEST(tokenizer, every_byte_is_a_token) {
  for (unsigned c = 0; c < 256; ++c) {
    std::string s(1, static_cast<char>(c));
    EXPECT_EQ(encode(o200k, s).size(), 1u) << c;
    EXPECT_EQ(encode(cl100k, s).size(), 1u) << c;
    EXPECT_EQ(decode(o200k, encode(o200k, s)), s);
  }
}

TEST(tokenizer, invalid_utf8_is_counted_byte_by_byte_without_crashing) {
  const std::vector<std::string> inputs = {
      "\xff",
      "\xc3",                                // truncated 2-byte sequence at the end
      "abc\xe4\xb8",                         // truncated 3-byte sequence
      "\xc0\xaf slash",                      // overlong '/'
      "\xed\xa0\x80 surrogate",              // UTF-8-encoded surrogate
      "\xf4\x90\x80\x80 beyond U+10FFFF",    // > U+10FFFF
      "\x80\x80\x80\x80 continuation only",  //
      "word\xffword\xfe\xfe  \xff\n\xff",
      std::string("nul\0inside", 10),
  };
  for (const auto& s : inputs) {
    for (encoding e : {o200k, cl100k}) {
      ids t = encode(e, s);
      EXPECT_FALSE(t.empty());
      EXPECT_EQ(count_tokens(e, s), t.size());
      EXPECT_EQ(decode(e, t), s);  // every byte is still in some token
    }
  }
  // Random bytes.
  std::mt19937 rng(42);
  for (int k = 0; k < 500; ++k) {
    std::string s(rng() % 200, '\0');
    for (auto& c : s)
      c = static_cast<char>(rng());
    for (encoding e : {o200k, cl100k})
      EXPECT_EQ(decode(e, encode(e, s)), s);
  }
}

TEST(tokenizer, long_pieces_are_not_quadratic) {
  // Texts without a space are one piece per class run: 200 KB of letters is one piece.
  std::string letters;
  std::mt19937 rng(7);
  while (letters.size() < 200'000)
    letters += static_cast<char>('a' + rng() % 26);
  const std::string punct(100'000, '!');
  const std::string cjk = [] {
    std::string s;
    while (s.size() < 100'000)
      s += "漢字かな";
    return s;
  }();
  auto start = std::chrono::steady_clock::now();
  for (const std::string* s : std::initializer_list<const std::string*>{&letters, &punct, &cjk}) {
    for (encoding e : {o200k, cl100k}) {
      ids t = encode(e, *s);
      EXPECT_GT(t.size(), 0u);
      EXPECT_LT(t.size(), s->size());
      EXPECT_EQ(decode(e, t), *s);
    }
  }
  // 0.4 s in a release build, some seconds under ASan (the heap merge); a quadratic merge would
  // take hours.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60));
}

TEST(tokenizer, counts_agree_across_threads) {
  std::string text;
  for (int i = 0; i < 200; ++i)
    text += "The quick brown fox, 你好，世界! 1234567 ";
  const std::size_t o = count_tokens(o200k, text), c = count_tokens(cl100k, text);
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        failures[t] += count_tokens(o200k, text) != o;
        failures[t] += count_tokens(cl100k, text) != c;
      }
    });
  }
  for (auto& th : threads)
    th.join();
  for (int f : failures)
    EXPECT_EQ(f, 0);
}

TEST(encoding_for_model, openai_models) {
  for (const char* m :
       {"gpt-4o", "gpt-4o-mini-2024-07-18", "GPT-4O", "gpt-4.1-nano", "gpt-4.5-preview", "gpt-5",
        "gpt-5-mini", "gpt-5.1", "o1", "o1-mini", "o3-pro", "o4-mini", "chatgpt-4o-latest",
        "gpt-oss-120b", "openai/gpt-4o", "openai/o3"}) {
    EXPECT_EQ(billing::encoding_for_model(m), o200k) << m;
  }
  for (const char* m : {"gpt-4", "gpt-4-0613", "gpt-4-turbo", "GPT-4-32K", "gpt-3.5-turbo",
                        "gpt-35-turbo", "text-embedding-3-small", "text-embedding-ada-002",
                        "openai/gpt-4-turbo", "azure/gpt-35-turbo-16k", "OpenAI/GPT-3.5-Turbo"}) {
    EXPECT_EQ(billing::encoding_for_model(m), cl100k) << m;
  }
}

TEST(encoding_for_model, other_models_approximate_with_o200k) {
  for (const char* m : {"claude-sonnet-4-5", "anthropic/claude-3-haiku", "gemini-2.5-pro",
                        "llama-3.1-70b", "deepseek-chat", "", "unknown"}) {
    EXPECT_EQ(billing::encoding_for_model(m), o200k) << m;
  }
  EXPECT_EQ(billing::encoding_name(o200k), "o200k_base");
  EXPECT_EQ(billing::encoding_name(cl100k), "cl100k_base");
}

}  // namespace
}  // namespace sy::test
