#include "common/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdlib>
#include <memory>

namespace sy::crypto {
namespace {

constexpr std::string_view sealed_prefix = "sy1:";
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::size_t min_secret_size = 32;
// OpenSSL takes int lengths; values this large are never secrets.
constexpr std::size_t max_size = 1u << 30;
constexpr char hkdf_info[] = "switchyard data key v1";

struct cipher_ctx_free {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using cipher_ctx = std::unique_ptr<EVP_CIPHER_CTX, cipher_ctx_free>;

struct kdf_free {
  void operator()(EVP_KDF* k) const { EVP_KDF_free(k); }
};
struct kdf_ctx_free {
  void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
};

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

// Standard base64 with padding (EVP_EncodeBlock writes no line breaks).
std::string base64_encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(in),
                          static_cast<int>(in.size()));
  out.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  return out;
}

// Strict: a multiple of 4 characters of the standard alphabet, '=' only as the last one or two.
// EVP_DecodeBlock returns whole groups of 3 bytes, the padding bytes included; they are removed.
std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::size_t pad = 0;
  if (in.back() == '=') pad = in[in.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < in.size() - pad; ++i) {
    char c = in[i];
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes_of(in),
                          static_cast<int>(in.size()));
  if (n < 0 || static_cast<std::size_t>(n) != out.size()) return std::nullopt;
  out.resize(out.size() - pad);
  // One text per value: unused bits set in the last character would decode to the same bytes.
  if (base64_encode(out) != in) return std::nullopt;
  return out;
}

bool hkdf_sha256(std::string_view secret, unsigned char* out, std::size_t out_size) {
  std::unique_ptr<EVP_KDF, kdf_free> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return false;
  std::unique_ptr<EVP_KDF_CTX, kdf_ctx_free> ctx(EVP_KDF_CTX_new(kdf.get()));
  if (!ctx) return false;
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<char*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(hkdf_info),
                                        sizeof hkdf_info - 1),
      OSSL_PARAM_construct_end(),
  };
  return EVP_KDF_derive(ctx.get(), out, out_size, params) == 1;
}

}  // namespace

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr) != 1) return {};
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

std::string hmac_sha256_hex(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  // A key of length 0 with a null pointer is refused by OpenSSL: point at a byte instead.
  static const unsigned char empty = 0;
  if (!HMAC(EVP_sha256(), key.empty() ? &empty : bytes_of(key), static_cast<int>(key.size()),
            message.empty() ? &empty : bytes_of(message), message.size(), mac, &size)) {
    return {};
  }
  return to_hex(std::string_view(reinterpret_cast<const char*>(mac), size));
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> random_hex(std::size_t n) {
  std::string bytes(n, '\0');
  if (n > 0 && RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1)
    return std::nullopt;
  auto out = to_hex(bytes);
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

std::variant<sealer, std::string> sealer::from_secret(std::string_view secret) {
  if (secret.size() < min_secret_size) {
    return std::string("SWITCHYARD_SECRET_KEY must have at least 32 characters (it has ") +
           std::to_string(secret.size()) + ")";
  }
  sealer s;
  if (!hkdf_sha256(secret, s.key_, sizeof s.key_)) {
    return std::string("cannot derive the data key from SWITCHYARD_SECRET_KEY (OpenSSL HKDF)");
  }
  return s;
}

std::variant<std::monostate, sealer, std::string> sealer::from_env() {
  const char* value = std::getenv("SWITCHYARD_SECRET_KEY");
  if (!value || !*value) return std::monostate{};
  auto made = from_secret(value);
  if (auto* e = std::get_if<std::string>(&made)) return std::move(*e);
  return std::get<sealer>(std::move(made));
}

std::string sealer::seal(std::string_view plaintext, std::string_view context) const {
  if (plaintext.size() > max_size || context.size() > max_size) return {};
  // nonce || ciphertext || tag
  std::string raw(nonce_size + plaintext.size() + tag_size, '\0');
  auto* nonce = reinterpret_cast<unsigned char*>(raw.data());
  auto* body = nonce + nonce_size;
  auto* tag = body + plaintext.size();
  if (RAND_bytes(nonce, nonce_size) != 1) return {};
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_, nonce) != 1) {
    return {};
  }
  if (!context.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes_of(context),
                                            static_cast<int>(context.size())) != 1) {
    return {};
  }
  if (!plaintext.empty() && EVP_EncryptUpdate(ctx.get(), body, &len, bytes_of(plaintext),
                                              static_cast<int>(plaintext.size())) != 1) {
    return {};
  }
  unsigned char none[16];  // GCM writes nothing at the end
  if (EVP_EncryptFinal_ex(ctx.get(), none, &len) != 1) return {};
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, tag_size, tag) != 1) return {};
  return std::string(sealed_prefix) + base64_encode(raw);
}

std::optional<std::string> sealer::open(std::string_view sealed, std::string_view context) const {
  if (!looks_sealed(sealed) || sealed.size() > 2 * max_size || context.size() > max_size) {
    return std::nullopt;
  }
  auto raw = base64_decode(sealed.substr(sealed_prefix.size()));
  if (!raw || raw->size() < nonce_size + tag_size) return std::nullopt;
  const auto* nonce = bytes_of(*raw);
  const auto* body = nonce + nonce_size;
  const std::size_t body_size = raw->size() - nonce_size - tag_size;
  unsigned char tag[tag_size];
  std::copy_n(body + body_size, tag_size, tag);
  std::string plain(body_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  cipher_ctx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key_, nonce) != 1) {
    return std::nullopt;
  }
  if (!context.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes_of(context),
                                            static_cast<int>(context.size())) != 1) {
    return std::nullopt;
  }
  if (body_size > 0 &&
      EVP_DecryptUpdate(ctx.get(), out, &len, body, static_cast<int>(body_size)) != 1) {
    return std::nullopt;
  }
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, tag_size, tag) != 1) {
    return std::nullopt;
  }
  // Only here is the tag checked: nothing decrypted is returned before.
  unsigned char none[16];  // GCM writes nothing at the end
  if (EVP_DecryptFinal_ex(ctx.get(), none, &len) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return std::nullopt;
  }
  return plain;
}

}  // namespace sy::crypto
