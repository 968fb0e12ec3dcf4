#pragma once
/// Sealing of secrets kept at rest (the passwords of connections registered
/// over the API) with the master key `state.master_key`: AES-256-GCM, a fresh
/// random 96-bit nonce per seal (NIST SP 800-38D §8.2.2), and associated data
/// that binds a sealed value to where it belongs (e.g. the connection and
/// credential name), so that a value copied to another row does not open.
///
/// Sealed form: standard base64 (RFC 4648 §4, padded) of
///
///   version (1 byte, 0x01) || nonce (12 bytes) || ciphertext || tag (16 bytes)
///
/// The version byte is authenticated too (it is part of the associated data).
/// Thread-safe: every call uses its own cipher context.

#include <array>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::review {

class SecretBox {
 public:
  static constexpr size_t kKeyBytes = 32;

  /// `master_key`: 32 raw bytes, or 64 hex digits (`openssl rand -hex 32`).
  /// Errors (code "400") say which form is expected, never echo the key.
  static Result<SecretBox> fromKey(std::string_view master_key);

  SecretBox(const SecretBox&) = default;
  SecretBox& operator=(const SecretBox&) = default;
  /// Wipes the key.
  ~SecretBox();

  /// Encrypts `plaintext`; `associated_data` is authenticated, not stored.
  /// Throws std::runtime_error only if OpenSSL's random generator or cipher
  /// fails (there is no safe way to seal then).
  std::string seal(std::string_view plaintext, std::string_view associated_data) const;

  /// Decrypts what seal() produced with the same key and associated data.
  /// Errors (code "400"): not base64, too short, unknown version, or the
  /// authentication failed (tampered, other key, other associated data);
  /// "500" if OpenSSL itself fails. The message never holds any part of the
  /// plaintext or the key.
  Result<std::string> open(std::string_view sealed, std::string_view associated_data) const;

 private:
  explicit SecretBox(const std::array<unsigned char, kKeyBytes>& key) : key_(key) {}
  std::array<unsigned char, kKeyBytes> key_{};
};

}  // namespace pgw::review
