// HMAC-SHA256 against RFC 4231, constant-time comparison, random hex, and the sealer
// (HKDF-SHA256 data key, AES-256-GCM, "sy1:" + base64(nonce || ciphertext || tag)).
#include "common/crypto.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>

namespace sy::test {
namespace {

using crypto::sealer;

const std::string secret_a = "0123456789abcdef0123456789abcdef-test";  // 37 characters
const std::string secret_b = "another secret that is long enough for the key";

sealer make_sealer(const std::string& secret) {
  auto made = sealer::from_secret(secret);
  if (auto* e = std::get_if<std::string>(&made)) {
    ADD_FAILURE() << *e;
    std::abort();
  }
  return std::get<sealer>(std::move(made));
}

std::string base64_alphabet() {
  return "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

// The bytes behind a sealed value, and a sealed value made of bytes (standard base64).
std::string decode(const std::string& sealed) {
  const auto alphabet = base64_alphabet();
  std::string text = sealed.substr(4), out;
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    buffer = (buffer << 6) | static_cast<unsigned>(alphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xff);
    }
  }
  return out;
}

std::string encode(const std::string& bytes) {
  const auto alphabet = base64_alphabet();
  std::string out = "sy1:";
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                 static_cast<unsigned char>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6)
      out += alphabet[(v >> s) & 63];
  }
  if (bytes.size() - i == 1) {
    unsigned v = static_cast<unsigned char>(bytes[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    unsigned v = (static_cast<unsigned char>(bytes[i]) << 16) |
                 (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// Sets or clears an environment variable for one test, restoring it afterwards.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~scoped_env() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(crypto_hmac, rfc4231_test_vectors) {
  // Test cases 1 to 7 of RFC 4231, HMAC-SHA-256 (case 5 is truncated to 128 bits there).
  EXPECT_EQ(crypto::hmac_sha256_hex(std::string(20, '\x0b'), "Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  EXPECT_EQ(crypto::hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  EXPECT_EQ(crypto::hmac_sha256_hex(std::string(20, '\xaa'), std::string(50, '\xdd')),
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
  std::string key4;
  for (char c = 1; c <= 25; ++c)
    key4 += c;
  EXPECT_EQ(crypto::hmac_sha256_hex(key4, std::string(50, '\xcd')),
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
  EXPECT_EQ(crypto::hmac_sha256_hex(std::string(20, '\x0c'), "Test With Truncation").substr(0, 32),
            "a3b6167473100ee06e0c796c2955552b");
  EXPECT_EQ(crypto::hmac_sha256_hex(std::string(131, '\xaa'),
                                    "Test Using Larger Than Block-Size Key - Hash Key First"),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  EXPECT_EQ(crypto::hmac_sha256_hex(
                std::string(131, '\xaa'),
                "This is a test using a larger than block-size key and a larger than block-size "
                "data. The key needs to be hashed before being used by the HMAC algorithm."),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

TEST(crypto_hmac, empty_key_and_message) {
  // Python: hmac.new(b"", b"", hashlib.sha256).hexdigest()
  EXPECT_EQ(crypto::hmac_sha256_hex("", ""),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

TEST(crypto_helpers, to_hex) {
  EXPECT_EQ(crypto::to_hex(""), "");
  EXPECT_EQ(crypto::to_hex(std::string("\x00\x01\xab\xff", 4)), "0001abff");
}

TEST(crypto_helpers, constant_time_equal) {
  EXPECT_TRUE(crypto::constant_time_equal("", ""));
  EXPECT_TRUE(crypto::constant_time_equal("abc", "abc"));
  EXPECT_FALSE(crypto::constant_time_equal("abc", "abd"));
  EXPECT_FALSE(crypto::constant_time_equal("abc", "ab"));
  EXPECT_FALSE(crypto::constant_time_equal("", "a"));
  EXPECT_TRUE(crypto::constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
  EXPECT_FALSE(crypto::constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

TEST(crypto_helpers, random_hex) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto h = crypto::random_hex(16);
    ASSERT_TRUE(h);
    ASSERT_EQ(h->size(), 32u);
    EXPECT_EQ(h->find_first_not_of("0123456789abcdef"), std::string::npos) << *h;
    seen.insert(*h);
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(crypto::random_hex(0), std::string());
}

TEST(crypto_sealer, round_trip) {
  auto s = make_sealer(secret_a);
  for (std::string plain : {std::string(), std::string("x"), std::string("sk-provider-key-123"),
                            std::string(1000, 'z'), std::string("\0\xff\n", 3)}) {
    auto sealed = s.seal(plain, "ch_0123456789abcdef");
    EXPECT_TRUE(sealer::looks_sealed(sealed)) << sealed;
    // 12-byte nonce + ciphertext of the plaintext's size + 16-byte tag.
    EXPECT_EQ(decode(sealed).size(), 12 + plain.size() + 16);
    auto opened = s.open(sealed, "ch_0123456789abcdef");
    ASSERT_TRUE(opened) << sealed;
    EXPECT_EQ(*opened, plain);
  }
  // Another sealer made from the same secret derives the same key.
  auto again = make_sealer(secret_a);
  EXPECT_EQ(again.open(s.seal("abc", "ctx"), "ctx"), "abc");
  // An empty context is allowed, and differs from a non-empty one.
  auto no_context = s.seal("abc", "");
  EXPECT_EQ(s.open(no_context, ""), "abc");
  EXPECT_FALSE(s.open(no_context, "x"));
}

TEST(crypto_sealer, opens_a_value_sealed_by_another_implementation) {
  // Made with Python's `cryptography`: key = HKDF-SHA256(secret_a, no salt,
  // info "switchyard data key v1", 32 bytes); nonce 00 01 .. 0b; AAD "ch_0123456789abcdef".
  const std::string sealed =
      "sy1:AAECAwQFBgcICQoLKyUzrC/xsn2Lf1erVpS0+w3U9zw03eYmEd3PKcJi8ra2sLtb+zQOaw==";
  auto s = make_sealer(secret_a);
  EXPECT_EQ(s.open(sealed, "ch_0123456789abcdef"), R"(["sk-test-provider-key"])");
}

TEST(crypto_sealer, another_context_or_key_does_not_open) {
  auto a = make_sealer(secret_a);
  auto b = make_sealer(secret_b);
  auto sealed = a.seal("sk-provider-key", "ch_1");
  EXPECT_FALSE(a.open(sealed, "ch_2"));
  EXPECT_FALSE(a.open(sealed, "ch_1 "));
  EXPECT_FALSE(a.open(sealed, ""));
  EXPECT_FALSE(b.open(sealed, "ch_1"));
  // A secret differing in its last character only.
  auto c = make_sealer(secret_a.substr(0, secret_a.size() - 1) + "X");
  EXPECT_FALSE(c.open(sealed, "ch_1"));
  EXPECT_TRUE(a.open(sealed, "ch_1"));
}

TEST(crypto_sealer, every_tampered_byte_fails) {
  auto s = make_sealer(secret_a);
  auto sealed = s.seal("sk-provider-key", "ctx");
  const std::string raw = decode(sealed);
  ASSERT_EQ(encode(raw), sealed);
  // Each byte of nonce, ciphertext and tag, each bit of it.
  for (std::size_t i = 0; i < raw.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string bad = raw;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_FALSE(s.open(encode(bad), "ctx")) << "byte " << i << " bit " << bit;
    }
  }
  // Each character of the text, replaced by every other base64 character (including those that
  // change only the unused bits of the last group).
  const auto alphabet = base64_alphabet();
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    for (char c : alphabet + "=") {
      if (c == sealed[i]) continue;
      std::string bad = sealed;
      bad[i] = c;
      EXPECT_FALSE(s.open(bad, "ctx")) << "character " << i << " -> " << c;
    }
  }
  // Truncated or extended.
  EXPECT_FALSE(s.open(encode(raw.substr(0, raw.size() - 1)), "ctx"));
  EXPECT_FALSE(s.open(encode(raw + "x"), "ctx"));
  EXPECT_FALSE(s.open(sealed + "AAAA", "ctx"));
  EXPECT_TRUE(s.open(sealed, "ctx"));
}

TEST(crypto_sealer, nonces_differ_between_seals) {
  auto s = make_sealer(secret_a);
  std::set<std::string> nonces, values;
  for (int i = 0; i < 200; ++i) {
    auto sealed = s.seal("same plaintext", "same context");
    values.insert(sealed);
    nonces.insert(decode(sealed).substr(0, 12));
  }
  EXPECT_EQ(values.size(), 200u);
  EXPECT_EQ(nonces.size(), 200u);
}

TEST(crypto_sealer, malformed_values_do_not_open) {
  auto s = make_sealer(secret_a);
  auto sealed = s.seal("abc", "ctx");
  EXPECT_FALSE(s.open("", "ctx"));
  EXPECT_FALSE(s.open("sy1:", "ctx"));
  EXPECT_FALSE(s.open("abc", "ctx"));
  EXPECT_FALSE(s.open(sealed.substr(4), "ctx"));           // no prefix
  EXPECT_FALSE(s.open("sy2:" + sealed.substr(4), "ctx"));  // another version
  EXPECT_FALSE(s.open("SY1:" + sealed.substr(4), "ctx"));
  EXPECT_FALSE(s.open("sy1:!!!!", "ctx"));  // not base64
  EXPECT_FALSE(s.open("sy1:AAA", "ctx"));   // not a multiple of 4
  EXPECT_FALSE(s.open("sy1:A===", "ctx"));  // too much padding
  EXPECT_FALSE(s.open("sy1:AA=A", "ctx"));  // padding inside
  EXPECT_FALSE(s.open(" " + sealed, "ctx"));
  EXPECT_FALSE(s.open(sealed + "\n", "ctx"));
  EXPECT_FALSE(s.open(sealed.substr(0, 10) + " " + sealed.substr(10), "ctx"));
  // Shorter than a nonce and a tag: 27 bytes, and 28 bytes (an empty plaintext's size, all wrong).
  EXPECT_FALSE(s.open(encode(std::string(27, 'a')), "ctx"));
  EXPECT_FALSE(s.open(encode(std::string(28, 'a')), "ctx"));
  EXPECT_FALSE(s.open(encode(""), "ctx"));
  EXPECT_TRUE(sealer::looks_sealed(sealed));
  EXPECT_FALSE(sealer::looks_sealed("sk-abc"));
}

TEST(crypto_sealer, from_secret_needs_32_characters) {
  auto short_one = sealer::from_secret(std::string(31, 'a'));
  ASSERT_TRUE(std::holds_alternative<std::string>(short_one));
  const auto& message = std::get<std::string>(short_one);
  EXPECT_NE(message.find("32"), std::string::npos) << message;
  EXPECT_EQ(message.find(std::string(31, 'a')), std::string::npos) << "the secret is not echoed";
  EXPECT_TRUE(std::holds_alternative<std::string>(sealer::from_secret("")));
  EXPECT_TRUE(std::holds_alternative<sealer>(sealer::from_secret(std::string(32, 'a'))));
}

TEST(crypto_sealer, from_env) {
  {
    scoped_env env("SWITCHYARD_SECRET_KEY", nullptr);
    EXPECT_TRUE(std::holds_alternative<std::monostate>(sealer::from_env()));
  }
  {
    scoped_env env("SWITCHYARD_SECRET_KEY", "");
    EXPECT_TRUE(std::holds_alternative<std::monostate>(sealer::from_env()));
  }
  {
    scoped_env env("SWITCHYARD_SECRET_KEY", "too short");
    auto made = sealer::from_env();
    ASSERT_TRUE(std::holds_alternative<std::string>(made));
    EXPECT_NE(std::get<std::string>(made).find("SWITCHYARD_SECRET_KEY"), std::string::npos);
    EXPECT_EQ(std::get<std::string>(made).find("too short"), std::string::npos);
  }
  {
    scoped_env env("SWITCHYARD_SECRET_KEY", secret_a.c_str());
    auto made = sealer::from_env();
    ASSERT_TRUE(std::holds_alternative<sealer>(made));
    // The same key as from_secret with that value.
    auto sealed = std::get<sealer>(made).seal("abc", "ctx");
    EXPECT_EQ(make_sealer(secret_a).open(sealed, "ctx"), "abc");
  }
}

}  // namespace
}  // namespace sy::test
