// Small cryptographic helpers over OpenSSL: HMAC-SHA256 for request signing, constant-time
// comparison, and the sealer that encrypts secrets the gateway must read back (upstream provider
// keys, request-signing secrets) at rest with AES-256-GCM.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace sy::crypto {

// Lower-case hex of bytes.
std::string to_hex(std::string_view bytes);

// hex(SHA-256(data)).
std::string sha256_hex(std::string_view data);

// hex(HMAC-SHA256(key, message)).
std::string hmac_sha256_hex(std::string_view key, std::string_view message);

// Equal contents, in time independent of where they differ (the lengths may leak).
bool constant_time_equal(std::string_view a, std::string_view b);

// `n` bytes from OpenSSL's CSPRNG as lower-case hex (2n characters); nullopt if it fails.
std::optional<std::string> random_hex(std::size_t n);

// AES-256-GCM with a data key derived (HKDF-SHA256) from the operator's secret
// (SWITCHYARD_SECRET_KEY). A sealed value is text: "sy1:" + base64(12-byte nonce || ciphertext ||
// 16-byte tag), a fresh random nonce each time. `context` (for example the row id) is bound as
// additional authenticated data: a sealed value copied to another row does not open there.
class sealer {
 public:
  // The secret must have at least 32 characters; otherwise the error says why.
  static std::variant<sealer, std::string> from_secret(std::string_view secret);
  // From the environment variable SWITCHYARD_SECRET_KEY: nullopt when unset or empty, an error
  // when set but too short.
  static std::variant<std::monostate, sealer, std::string> from_env();

  std::string seal(std::string_view plaintext, std::string_view context) const;
  // nullopt when the value is malformed, was sealed under another key or context, or was
  // tampered with.
  std::optional<std::string> open(std::string_view sealed, std::string_view context) const;

  static bool looks_sealed(std::string_view value) { return value.starts_with("sy1:"); }

 private:
  sealer() = default;
  unsigned char key_[32] = {};
};

}  // namespace sy::crypto
