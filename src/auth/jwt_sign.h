#pragma once
/// Signing side of JWTs, for the development issuer (`identity.dev_issuer`,
/// docs/config.md): an Ed25519 private key read from a PEM file, its public
/// JWK (RFC 8037 §2) with the RFC 7638 thumbprint as key id, and compact
/// EdDSA JWS (RFC 7515 §7.1, RFC 8037 §3.1) that auth::verifyJwt accepts.
///
/// Production tokens come from a real identity provider; this exists so that
/// `pgwarden demo` and `pgwarden token mint` can show the OIDC path end to end
/// without one. Nothing here prints, logs or returns private key material, and
/// no error message quotes the PEM text.
///
/// References: https://www.rfc-editor.org/rfc/rfc7515 (JWS),
/// https://www.rfc-editor.org/rfc/rfc7638 (JWK thumbprint),
/// https://www.rfc-editor.org/rfc/rfc8032 (Ed25519),
/// https://www.rfc-editor.org/rfc/rfc8037 (OKP keys and EdDSA in JOSE).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY; only jwt_sign.cc looks inside.

namespace pgw::auth {

/// Private key files larger than this are refused before parsing.
inline constexpr size_t kMaxSigningKeyPemBytes = 64 * 1024;

/// An Ed25519 private key, immutable once loaded; safe to share between
/// threads (signing does not modify it).
class Ed25519SigningKey {
 public:
  /// Parses an unencrypted PEM private key: PKCS#8 "PRIVATE KEY", as written
  /// by `openssl genpkey -algorithm ed25519`. 28000 when the text is not such
  /// a key (another key type, encrypted, damaged); the message names the
  /// problem, never the text.
  static Result<Ed25519SigningKey> fromPem(std::string_view pem);
  /// Reads and parses `path`; errors name the file and what to do.
  static Result<Ed25519SigningKey> loadPemFile(const std::string& path);
  /// A new random key (for tests; the demo writes its key with openssl).
  static Result<Ed25519SigningKey> generate();

  /// The 32-byte public key (RFC 8032 §5.1.5), the JWK's "x" before base64url.
  const std::string& publicKey() const { return public_key_; }

  /// The 64-byte Ed25519 signature of `data` (RFC 8032 §5.1.6; deterministic).
  Result<std::string> sign(std::string_view data) const;

 private:
  Ed25519SigningKey(std::shared_ptr<evp_pkey_st> pkey, std::string public_key)
      : pkey_(std::move(pkey)), public_key_(std::move(public_key)) {}
  static Result<Ed25519SigningKey> fromPkey(std::shared_ptr<evp_pkey_st> pkey);

  std::shared_ptr<evp_pkey_st> pkey_;
  std::string public_key_;
};

/// The RFC 7638 thumbprint of the key's public JWK: base64url of the SHA-256
/// of `{"crv":"Ed25519","kty":"OKP","x":"<x>"}` (43 characters).
std::string jwkThumbprint(const Ed25519SigningKey& key);

/// The key id the dev issuer publishes and puts in its tokens: the first 16
/// characters of jwkThumbprint(), so a new key gets a new kid and a verifier
/// that cached the old key set refetches it.
std::string keyIdFor(const Ed25519SigningKey& key);

/// The public JWK as JSON text: {"kty":"OKP","crv":"Ed25519","x":...,
/// "kid":<kid>,"alg":"EdDSA","use":"sig"}. Holds no private member.
std::string publicJwk(const Ed25519SigningKey& key, std::string_view kid);

/// A JWK Set (RFC 7517 §5) holding only publicJwk(key, kid).
std::string publicJwks(const Ed25519SigningKey& key, std::string_view kid);

/// The claims of a token the dev issuer mints (RFC 7519 §4.1, plus the
/// `groups` and `preferred_username` claims identity.oidc reads by default).
struct DevTokenClaims {
  std::string issuer;                               ///< iss
  std::string audience;                             ///< aud (one string)
  std::string subject;                              ///< sub
  std::vector<std::string> groups;                  ///< groups (always an array, maybe empty)
  std::string preferred_username;                   ///< omitted when empty
  std::chrono::system_clock::time_point issued_at;  ///< iat and nbf, in whole seconds
  std::chrono::seconds lifetime{0};                 ///< exp = iat + lifetime
  std::string jwt_id;                               ///< jti; omitted when empty
};

/// The claims as a JSON object for signJwt. Text that is not valid UTF-8 is
/// replaced by U+FFFD rather than refused.
std::string toJson(const DevTokenClaims& claims);

/// Signs `claims_json`, which must be a JSON object (the JWT claims set, used
/// byte for byte as the payload), as a compact JWS with the protected header
/// {"alg":"EdDSA","typ":"JWT","kid":<kid>}. 22023 when `claims_json` is not
/// a JSON object or `kid` is empty; the message never quotes the claims.
Result<std::string> signJwt(std::string_view claims_json, const Ed25519SigningKey& key,
                            std::string_view kid);

}  // namespace pgw::auth
