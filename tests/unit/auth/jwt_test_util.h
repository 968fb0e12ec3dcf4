#pragma once
// A test-only JOSE signer: generates keys with OpenSSL, publishes them as
// JWKs, and signs compact JWS with any algorithm, including the ones the
// verifier must refuse. Its base64url is written independently of the code
// under test.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

struct evp_pkey_st;

namespace pgw::auth::jwttest {

/// base64url without padding.
std::string b64url(std::string_view raw);

struct TestKey {
  std::shared_ptr<evp_pkey_st> pkey;  ///< the private key
  std::string kid;                    ///< empty = the JWK has no kid

  /// The public JWK as JSON text: kty, crv, key members, "use":"sig", kid
  /// when set, and `extra` (e.g. `"alg":"RS256"`) spliced in when not empty.
  std::string publicJwk(std::string_view extra = {}) const;
  /// The SubjectPublicKeyInfo PEM of the public key.
  std::string publicPem() const;
};

TestKey makeRsaKey(std::string kid, int bits = 2048);
/// `curve` is "P-256" or "P-384".
TestKey makeEcKey(std::string kid, std::string_view curve = "P-256");
TestKey makeEd25519Key(std::string kid);

/// {"keys":[...]} from JWK texts.
std::string jwks(const std::vector<std::string>& jwk_texts);

/// The JOSE signature of `input` for `alg` (RS*, PS*, ES*, EdDSA); ES* as
/// R || S unless `der` (what a broken signer would send).
std::string signRaw(const TestKey& key, std::string_view alg, std::string_view input,
                    bool der = false);
/// b64url(header_json) "." b64url(payload) "." b64url(signature).
std::string signJws(const TestKey& key, std::string_view alg, std::string_view header_json,
                    std::string_view payload, bool der = false);
/// The same with HMAC-SHA-256 under `secret`.
std::string signHs256(std::string_view secret, std::string_view header_json,
                      std::string_view payload);

}  // namespace pgw::auth::jwttest
