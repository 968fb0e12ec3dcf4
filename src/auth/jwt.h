#pragma once
/// Verification of OIDC access tokens: JSON Web Tokens (RFC 7519) signed as
/// JWS compact serialization (RFC 7515) with a public key from the issuer's
/// JSON Web Key Set (RFC 7517, RFC 7518, RFC 8037).
///
/// Pure functions of bytes and a clock: nothing here fetches anything. The
/// caller owns discovery and JWKS fetching, picks the issuer's key set and
/// policy, and passes `now`. The usual flow for a password that looks like a
/// JWT:
///
///   1. peekIssuer(token)      -> pick the configured issuer (routing only)
///   2. decodeJwtHeader(token) -> kid; if `keys.find(kid)` misses, refetch
///                                the JWKS once (key rotation) before step 3
///   3. verifyJwt(token, keys, policy, now) -> Subject for the session
///
/// Errors carry SQLSTATE 28000 (invalid_authorization_specification) when the
/// token cannot be accepted as a credential at all: malformed compact form,
/// base64url or JSON, a claim of the wrong JSON type, an algorithm that is
/// refused or does not fit the key, an unknown key id. They carry 28P01
/// (invalid_password) when a well-formed token fails a check: the signature,
/// expiry, not-before, issue time, lifetime, issuer, audience, a required
/// claim. Messages name the check and the claim values involved; they never
/// quote the token, its signature, or any claim the message is not about.
///
/// Only asymmetric algorithms exist here: `none` and every HS* (HMAC) are
/// refused whatever the policy says, so a public key can never be misused as
/// an HMAC secret (RFC 8725 §2.1, §3.1). Header members `jku`, `x5u`, `jwk`
/// and `x5c` are ignored: keys come only from the configured issuer's JWKS.
///
/// References: https://www.rfc-editor.org/rfc/rfc7515 (JWS),
/// https://www.rfc-editor.org/rfc/rfc7517 (JWK), https://www.rfc-editor.org/rfc/rfc7518
/// (JWA), https://www.rfc-editor.org/rfc/rfc7519 (JWT), https://www.rfc-editor.org/rfc/rfc8037
/// (EdDSA), https://www.rfc-editor.org/rfc/rfc8725 (JWT BCP),
/// https://www.rfc-editor.org/rfc/rfc9068 (JWT access tokens).

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/subject.h"
#include "common/result.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY; only jwk.cc and jwt.cc look inside.

namespace pgw::auth {

/// Tokens longer than this are refused before any decoding.
inline constexpr size_t kMaxJwtBytes = 16 * 1024;
/// JWKS documents longer than this, or with more keys, are refused.
inline constexpr size_t kMaxJwksBytes = 1024 * 1024;
inline constexpr size_t kMaxJwksKeys = 100;

/// The JWS signature algorithms the gateway verifies: RFC 7518 §3.1 (RS*, PS*,
/// ES256, ES384) and RFC 8037 §3.1 (EdDSA, with Ed25519 keys only).
enum class JwsAlgorithm { Rs256, Rs384, Rs512, Ps256, Ps384, Ps512, Es256, Es384, EdDsa };

/// The JOSE name: "RS256", "PS256", "ES256", "EdDSA", ...
std::string_view toString(JwsAlgorithm alg);
/// The algorithm with this JOSE name (case-sensitive, as RFC 7515 §4.1.1
/// says); nullopt for anything else, including "none" and "HS256".
std::optional<JwsAlgorithm> parseJwsAlgorithm(std::string_view name);

/// The public key types a JWK may hold here.
enum class JwkKeyType { Rsa, EcP256, EcP384, Ed25519 };

/// "RSA", "EC P-256", "EC P-384", "OKP Ed25519".
std::string_view toString(JwkKeyType type);

/// One public signing key from a JWK (RFC 7517 §4).
struct Jwk {
  std::string kid;  ///< "kid"; empty when the JWK has none
  JwkKeyType type = JwkKeyType::Rsa;
  /// The JWK's "alg" (RFC 7517 §4.4): when set, the key verifies only tokens
  /// signed with exactly this algorithm.
  std::optional<JwsAlgorithm> alg;
  /// The OpenSSL key, immutable once built; safe to share between threads.
  std::shared_ptr<evp_pkey_st> pkey;
};

/// Parses one public JWK. Accepted: kty "RSA" (n, e; modulus 2048 to 16384
/// bits), "EC" (crv "P-256" or "P-384", full-length x and y on the curve),
/// "OKP" (crv "Ed25519", x). Refused (28000, the message says why): symmetric
/// ("oct") keys, any private member ("d", "p", ...), "use" other than "sig",
/// "key_ops" without "verify", an "alg" that is not a signature algorithm
/// above or does not fit the key type.
Result<Jwk> parseJwk(std::string_view json);

/// An issuer's key set (RFC 7517 §5), immutable once parsed.
class JwkSet {
 public:
  /// An empty set: every lookup misses.
  JwkSet() = default;

  /// Parses a JWKS document: a JSON object with a "keys" array. A key that
  /// parseJwk refuses is skipped and the reason kept in skipped(); a later key
  /// with the kid and type of an earlier one is skipped as a duplicate. The set
  /// is refused (28000) when the document is not a JWKS, is larger than
  /// kMaxJwksBytes or kMaxJwksKeys, or has no usable key; that message lists
  /// the reasons.
  static Result<JwkSet> parse(std::string_view json);

  const std::vector<Jwk>& keys() const { return keys_; }
  /// Why keys were skipped, one line each, e.g.
  /// `key #0 (kid "1"): "use" is "enc", not "sig"`. For the operator's log.
  const std::vector<std::string>& skipped() const { return skipped_; }

  /// The first key with this kid; nullptr when there is none. A miss for a
  /// token's kid is the caller's cue to refetch the JWKS (OIDC Core §10.1.1).
  const Jwk* find(std::string_view kid) const;

  /// The key that must verify a token signed with `alg` and carrying `kid`
  /// (empty = the token has no kid): the key with that kid whose type fits
  /// `alg`; for a token without kid, the only key of a fitting type. 28000
  /// when the kid is unknown, the kid's key does not fit `alg`, or a kid-less
  /// token leaves zero or several candidates.
  Result<const Jwk*> select(JwsAlgorithm alg, std::string_view kid) const;

 private:
  std::vector<Jwk> keys_;
  std::vector<std::string> skipped_;
};

/// The JOSE header members the caller needs before verification.
struct JwtHeader {
  std::string alg;  ///< as written, not yet checked against any policy
  std::string kid;  ///< empty when absent
  std::string typ;  ///< empty when absent
};

/// Checks the compact form (3 base64url parts, RFC 7515 §7.1) and decodes the
/// header, WITHOUT verifying anything: for choosing a key, never for trusting.
/// 28000 when malformed or when "alg" is missing.
Result<JwtHeader> decodeJwtHeader(std::string_view token);

/// The unverified "iss" claim, ONLY for routing a token to the configured
/// issuer whose keys and policy then verify it; never an identity. 28000 when
/// the token is malformed or has no string "iss".
Result<std::string> peekIssuer(std::string_view token);

/// Verifies a JWS compact serialization with one key and returns the decoded
/// payload, which need not be a JWT (RFC 7515 Appendix A, RFC 8037 Appendix
/// A). Checks: size, compact form, header JSON with "alg", no "crit", the
/// algorithm is one of JwsAlgorithm and fits the key (type and the JWK's
/// "alg"), and the signature. ES* signatures are raw R || S (RFC 7518 §3.4).
/// PS* use MGF1 with the signature's hash (§3.5); any salt length verifies,
/// as signers differ there and the salt does not change what is proven.
Result<std::string> verifyJws(std::string_view token, const Jwk& key);

/// What the gateway accepts from one issuer.
struct JwtPolicy {
  std::string issuer;    ///< "iss" must equal this exactly; must not be empty
  std::string audience;  ///< "aud" (string or array) must contain this; must not be empty
  /// Algorithms accepted from this issuer, a subset of JwsAlgorithm.
  std::vector<JwsAlgorithm> algorithms = {JwsAlgorithm::Rs256, JwsAlgorithm::Ps256,
                                          JwsAlgorithm::Es256, JwsAlgorithm::EdDsa};
  /// Claim paths below: a claim name, or a dotted path into nested objects
  /// ("realm_access.roles"). A top-level claim whose name contains dots
  /// ("https://example.com/groups") wins over the nested reading.
  /// The groups claim: an array of strings or one string; missing = no
  /// groups; empty path = never read groups.
  std::string groups_claim = "groups";
  /// The claim that identifies the caller (Subject::id); must be a non-empty string.
  std::string subject_claim = "sub";
  /// Tried in order for Subject::display_name; the first non-empty string
  /// wins, else the subject id is used.
  std::vector<std::string> display_name_claims = {"preferred_username", "name", "email"};
  /// Claim path -> the exact string it must have; nullopt = must exist.
  std::map<std::string, std::optional<std::string>> required_claims;
  /// When set, exp - iat must not exceed it, and "iat" becomes mandatory.
  std::optional<std::chrono::seconds> max_lifetime;
  /// Tolerance for exp, nbf and iat against `now`.
  std::chrono::seconds clock_skew{60};
};

/// A token that passed every check.
struct VerifiedJwt {
  /// method Oidc; id, display_name and groups per the policy; issuer = "iss";
  /// expires_at = "exp".
  Subject subject;
  std::optional<std::chrono::system_clock::time_point> issued_at;  ///< "iat" when present
  std::string kid;  ///< the key that verified it; empty for a kid-less key
  JwsAlgorithm alg = JwsAlgorithm::Rs256;
};

/// Verifies an access token against the issuer's keys and policy at time
/// `now`. Order: size and compact form; header ("alg" not none/HS*, supported,
/// in policy.algorithms; no "crit"; "typ", when present, JWT or at+jwt per
/// RFC 9068 §2.1); key selection (JwkSet::select); signature over
/// "header.payload"; then the claims of RFC 7519 §4.1: "exp" (required),
/// "nbf", "iat" (optional; not in the future beyond the skew), lifetime,
/// "iss", "aud", the required claims, subject and groups.
Result<VerifiedJwt> verifyJwt(std::string_view token, const JwkSet& keys, const JwtPolicy& policy,
                              std::chrono::system_clock::time_point now);

/// Lowercase hex SHA-256 of `data` (service tokens are stored this way).
std::string sha256Hex(std::string_view data);
/// base64url without padding (RFC 4648 §5, RFC 7515 §2).
std::string base64UrlEncode(std::string_view raw);
/// Strict base64url: URL-safe alphabet only, no padding, no whitespace, zero
/// unused bits (one encoding per value). 28000 "invalid base64url data".
Result<std::string> base64UrlDecode(std::string_view text);

}  // namespace pgw::auth
