// JWS compact serialization (RFC 7515), signature verification with OpenSSL 3,
// and the JWT claim checks (RFC 7519) for OIDC access tokens.

#include "auth/jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

#include "auth/jwt_detail.h"

namespace pgw::auth {
namespace {

using nlohmann::json;
using Clock = std::chrono::system_clock;
using detail::quote;

/// The latest NumericDate accepted (2255-03-14): system_clock counts
/// nanoseconds in 64 bits and ends in 2262, so later dates cannot be compared.
constexpr double kMaxNumericDate = 9'000'000'000.0;
constexpr size_t kMaxListedAudiences = 10;

/// The token cannot be accepted as a credential at all.
Error malformed(std::string message) {
  return fail("28000", std::move(message));
}
/// A well-formed token failed a check.
Error rejected(std::string message) {
  return fail("28P01", std::move(message));
}

[[noreturn]] void cryptoFailure(const char* what) {
  std::fprintf(stderr, "pgwarden: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* sig) const { ECDSA_SIG_free(sig); }
};

/// A token split at its dots and decoded (RFC 7515 §7.1).
struct CompactJws {
  std::string_view signing_input;  ///< "header.payload": what the signature covers
  json header;
  std::string payload;
  std::string signature;
};

Result<CompactJws> parseCompact(std::string_view token) {
  if (token.size() > kMaxJwtBytes) {
    return malformed("token is " + std::to_string(token.size()) +
                     " bytes, more than the limit of " + std::to_string(kMaxJwtBytes));
  }
  if (token.empty()) return malformed("token is empty");
  auto dots = std::count(token.begin(), token.end(), '.');
  if (dots == 4) {
    return malformed(
        "token is an encrypted JWT (JWE, 5 parts); only signed JWTs (JWS, 3 parts) are accepted");
  }
  if (dots != 2) {
    return malformed(
        "token is not a JWT: expected 3 dot-separated parts (header.payload.signature), found " +
        std::to_string(dots + 1));
  }
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  constexpr std::string_view kBase64Hint = " (RFC 7515 §2: URL-safe alphabet, no padding)";
  auto header = base64UrlDecode(token.substr(0, first));
  if (!header) return malformed("token header is not valid base64url" + std::string(kBase64Hint));
  auto payload = base64UrlDecode(token.substr(first + 1, second - first - 1));
  if (!payload) return malformed("token payload is not valid base64url" + std::string(kBase64Hint));
  auto signature = base64UrlDecode(token.substr(second + 1));
  if (!signature) {
    return malformed("token signature is not valid base64url" + std::string(kBase64Hint));
  }

  CompactJws jws;
  jws.signing_input = token.substr(0, second);
  jws.header = json::parse(header->begin(), header->end(), nullptr, false);
  if (jws.header.is_discarded() || !jws.header.is_object()) {
    return malformed("token header is not a JSON object");
  }
  jws.payload = std::move(*payload);
  jws.signature = std::move(*signature);
  return jws;
}

Result<JwtHeader> headerFields(const json& header) {
  JwtHeader fields;
  for (auto [name, field] : {std::pair{"alg", &fields.alg}, std::pair{"kid", &fields.kid},
                             std::pair{"typ", &fields.typ}}) {
    auto it = header.find(name);
    if (it == header.end()) continue;
    const auto* text = it->get_ptr<const json::string_t*>();
    if (text == nullptr)
      return malformed(std::string("token header \"") + name + "\" is not a string");
    *field = *text;
  }
  if (fields.alg.empty()) return malformed("token header has no \"alg\" (RFC 7515 §4.1.1)");
  return fields;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string algorithmList(const std::vector<JwsAlgorithm>& algorithms) {
  if (algorithms.empty()) return "none configured";
  std::string out;
  for (JwsAlgorithm alg : algorithms) {
    if (!out.empty()) out += ", ";
    out += toString(alg);
  }
  return out;
}

const std::vector<JwsAlgorithm>& allAlgorithms() {
  static const std::vector<JwsAlgorithm> kAll = {
      JwsAlgorithm::Rs256, JwsAlgorithm::Rs384, JwsAlgorithm::Rs512,
      JwsAlgorithm::Ps256, JwsAlgorithm::Ps384, JwsAlgorithm::Ps512,
      JwsAlgorithm::Es256, JwsAlgorithm::Es384, JwsAlgorithm::EdDsa};
  return kAll;
}

/// The header's algorithm, if it is in `allowed`; never none or HMAC. Also
/// refuses "crit": no extension is implemented (RFC 7515 §4.1.11).
Result<JwsAlgorithm> acceptedAlgorithm(const json& header, std::string_view alg,
                                       const std::vector<JwsAlgorithm>& allowed) {
  std::string refused = "token algorithm " + quote(alg) + " is not allowed";
  std::string list = " (allowed: " + algorithmList(allowed) + ")";
  std::string lower = lowercase(alg);
  if (lower == "none") return malformed(refused + ": unsigned tokens are never accepted" + list);
  if (lower.starts_with("hs")) {
    return malformed(refused + ": shared-secret (HMAC) algorithms are never accepted" + list);
  }
  auto parsed = parseJwsAlgorithm(alg);
  if (!parsed) return malformed(refused + ": the gateway does not support it" + list);
  if (std::find(allowed.begin(), allowed.end(), *parsed) == allowed.end()) {
    return malformed(refused + list);
  }
  if (header.contains("crit")) {
    return malformed(
        "token header has \"crit\" (critical extensions, RFC 7515 §4.1.11), which the gateway "
        "does not implement");
  }
  return *parsed;
}

const EVP_MD* digestOf(JwsAlgorithm alg) {
  switch (alg) {
    case JwsAlgorithm::Rs256:
    case JwsAlgorithm::Ps256:
    case JwsAlgorithm::Es256:
      return EVP_sha256();
    case JwsAlgorithm::Rs384:
    case JwsAlgorithm::Ps384:
    case JwsAlgorithm::Es384:
      return EVP_sha384();
    case JwsAlgorithm::Rs512:
    case JwsAlgorithm::Ps512:
      return EVP_sha512();
    case JwsAlgorithm::EdDsa:
      return nullptr;  // Ed25519 hashes internally
  }
  return nullptr;
}

bool isPss(JwsAlgorithm alg) {
  return alg == JwsAlgorithm::Ps256 || alg == JwsAlgorithm::Ps384 || alg == JwsAlgorithm::Ps512;
}

/// RFC 7518 §3.4: the JWS carries R || S, each as long as the curve order;
/// OpenSSL verifies the DER ECDSA-Sig-Value.
std::string ecdsaRawToDer(std::string_view raw) {
  auto half = static_cast<int>(raw.size() / 2);
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  std::unique_ptr<ECDSA_SIG, EcdsaSigFree> sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes, half, nullptr);
  BIGNUM* s = BN_bin2bn(bytes + half, half, nullptr);
  if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    cryptoFailure("ECDSA_SIG");
  }
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) cryptoFailure("i2d_ECDSA_SIG");
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) cryptoFailure("i2d_ECDSA_SIG");
  return der;
}

/// Verifies `signature` over `input`; the caller has checked that `alg` fits `key`.
Status verifySignature(JwsAlgorithm alg, const Jwk& key, std::string_view input,
                       std::string_view signature) {
  size_t expected = 0;
  switch (key.type) {
    case JwkKeyType::Rsa:
      expected = static_cast<size_t>(EVP_PKEY_get_size(key.pkey.get()));
      break;
    case JwkKeyType::EcP256:
      expected = 64;
      break;
    case JwkKeyType::EcP384:
      expected = 96;
      break;
    case JwkKeyType::Ed25519:
      expected = 64;
      break;
  }
  if (signature.size() != expected) {
    return malformed("token signature has " + std::to_string(signature.size()) + " bytes; " +
                     std::string(toString(alg)) + " with " + detail::describeKey(key) + " needs " +
                     std::to_string(expected) +
                     (key.type == JwkKeyType::EcP256 || key.type == JwkKeyType::EcP384
                          ? " (R || S, RFC 7518 §3.4, not DER)"
                          : ""));
  }
  std::string der;
  if (key.type == JwkKeyType::EcP256 || key.type == JwkKeyType::EcP384) {
    der = ecdsaRawToDer(signature);
    signature = der;
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx) cryptoFailure("EVP_MD_CTX_new");
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  bool ok = EVP_DigestVerifyInit(ctx.get(), &pctx, digestOf(alg), nullptr, key.pkey.get()) == 1;
  if (ok && isPss(alg)) {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1 &&
         EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, digestOf(alg)) == 1;
  }
  ok =
      ok && EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                             signature.size(), reinterpret_cast<const unsigned char*>(input.data()),
                             input.size()) == 1;
  ERR_clear_error();  // a failed verification leaves errors other OpenSSL users would see
  if (!ok) return rejected("token signature does not verify with " + detail::describeKey(key));
  return {};
}

Result<json> payloadObject(const std::string& payload) {
  json claims = json::parse(payload.begin(), payload.end(), nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) {
    return malformed("token payload is not a JSON object (a JWT claims set, RFC 7519 §7.2)");
  }
  return claims;
}

/// A claim by name, or by dotted path into nested objects when no top-level
/// claim has the whole name.
const json* findClaim(const json& claims, std::string_view path) {
  if (auto it = claims.find(std::string(path)); it != claims.end()) return &*it;
  const json* node = &claims;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    if (!node->is_object()) return nullptr;
    auto it = node->find(std::string(path.substr(start, dot - start)));
    if (it == node->end()) return nullptr;
    node = &*it;
    if (dot == std::string_view::npos) return node;
    start = dot + 1;
  }
}

std::string formatTime(Clock::time_point t) {
  std::time_t seconds = Clock::to_time_t(t);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

/// RFC 7519 §2 NumericDate: seconds since the epoch, a JSON number; nullopt
/// when the claim is absent.
Result<std::optional<Clock::time_point>> numericDate(const json& claims, const char* name) {
  auto it = claims.find(name);
  if (it == claims.end()) return std::optional<Clock::time_point>();
  std::string claim = std::string("token claim \"") + name + "\"";
  if (!it->is_number()) return malformed(claim + " is not a number (RFC 7519 NumericDate)");
  double value = it->get<double>();
  if (!std::isfinite(value) || value < 0 || value > kMaxNumericDate) {
    return malformed(claim + " is outside the supported range (1970 to 2255)");
  }
  return std::optional<Clock::time_point>(
      Clock::time_point(std::chrono::seconds(static_cast<int64_t>(std::floor(value)))));
}

std::string nowAndSkew(Clock::time_point now, std::chrono::seconds skew) {
  return " (now " + formatTime(now) + ", clock skew " + std::to_string(skew.count()) + "s)";
}

/// exp, nbf, iat and the lifetime (RFC 7519 §4.1.4 to §4.1.6).
Status checkTimes(const json& claims, const JwtPolicy& policy, Clock::time_point now,
                  VerifiedJwt& out) {
  auto exp = numericDate(claims, "exp");
  if (!exp) return exp.takeError();
  auto nbf = numericDate(claims, "nbf");
  if (!nbf) return nbf.takeError();
  auto iat = numericDate(claims, "iat");
  if (!iat) return iat.takeError();
  const auto skew = policy.clock_skew;

  if (!*exp) return rejected("token has no expiry (exp); only tokens that expire are accepted");
  if (now >= **exp + skew) {
    return rejected("token expired at " + formatTime(**exp) + nowAndSkew(now, skew));
  }
  if (*nbf && now + skew < **nbf) {
    return rejected("token is not valid before " + formatTime(**nbf) + nowAndSkew(now, skew));
  }
  if (*iat && **iat > now + skew) {
    return rejected("token was issued in the future, at " + formatTime(**iat) +
                    nowAndSkew(now, skew) + "; check the clocks of the gateway and the issuer");
  }
  if (policy.max_lifetime) {
    std::string limit = std::to_string(policy.max_lifetime->count()) + "s";
    if (!*iat) {
      return rejected(
          "token has no issue time (iat), which is required to check the maximum "
          "token lifetime of " +
          limit);
    }
    auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(**exp - **iat);
    if (lifetime > *policy.max_lifetime) {
      return rejected("token lifetime " + std::to_string(lifetime.count()) + "s (issued " +
                      formatTime(**iat) + ", expires " + formatTime(**exp) +
                      ") exceeds the maximum of " + limit);
    }
  }
  out.subject.expires_at = **exp;
  out.issued_at = *iat;
  return {};
}

/// iss (RFC 7519 §4.1.1) and aud (§4.1.3).
Status checkIssuerAndAudience(const json& claims, const JwtPolicy& policy, VerifiedJwt& out) {
  auto iss = claims.find("iss");
  if (iss == claims.end()) {
    return rejected("token has no issuer (iss); expected " + quote(policy.issuer));
  }
  const auto* issuer = iss->get_ptr<const json::string_t*>();
  if (issuer == nullptr) return malformed("token claim \"iss\" is not a string");
  if (*issuer != policy.issuer) {
    return rejected("token issuer " + quote(*issuer) + " is not the expected " +
                    quote(policy.issuer));
  }
  out.subject.issuer = *issuer;

  auto aud = claims.find("aud");
  if (aud == claims.end()) {
    return rejected("token has no audience (aud); expected " + quote(policy.audience));
  }
  std::vector<std::string_view> audiences;
  if (const auto* one = aud->get_ptr<const json::string_t*>()) {
    audiences.push_back(*one);
  } else if (aud->is_array()) {
    for (const json& entry : *aud) {
      const auto* text = entry.get_ptr<const json::string_t*>();
      if (text == nullptr) {
        return malformed("token claim \"aud\" must be a string or an array of strings");
      }
      audiences.push_back(*text);
    }
  } else {
    return malformed("token claim \"aud\" must be a string or an array of strings");
  }
  if (std::find(audiences.begin(), audiences.end(), policy.audience) != audiences.end()) return {};
  std::string listed = "[";
  for (size_t i = 0; i < audiences.size() && i < kMaxListedAudiences; ++i) {
    listed += (i == 0 ? "" : ", ") + quote(audiences[i]);
  }
  listed += audiences.size() > kMaxListedAudiences ? ", ...]" : "]";
  return rejected("token audience " + listed + " does not include " + quote(policy.audience));
}

/// Required claims, subject, display name and groups.
Status readIdentity(const json& claims, const JwtPolicy& policy, VerifiedJwt& out) {
  for (const auto& [name, required] : policy.required_claims) {
    const json* claim = findClaim(claims, name);
    if (claim == nullptr)
      return rejected("token has no claim " + quote(name) + ", which is required");
    if (!required) continue;
    const auto* text = claim->get_ptr<const json::string_t*>();
    if (text == nullptr) {
      return rejected("token claim " + quote(name) + " is not a string; required " +
                      quote(*required));
    }
    if (*text != *required) {
      return rejected("token claim " + quote(name) + " is " + quote(*text) + ", required " +
                      quote(*required));
    }
  }

  const json* subject = findClaim(claims, policy.subject_claim);
  if (subject == nullptr) {
    return rejected("token has no subject claim " + quote(policy.subject_claim));
  }
  const auto* id = subject->get_ptr<const json::string_t*>();
  if (id == nullptr)
    return malformed("token claim " + quote(policy.subject_claim) + " is not a string");
  if (id->empty())
    return rejected("token subject claim " + quote(policy.subject_claim) + " is empty");
  out.subject.id = *id;

  out.subject.display_name = *id;
  for (const std::string& name : policy.display_name_claims) {
    const json* claim = findClaim(claims, name);
    const auto* text = claim ? claim->get_ptr<const json::string_t*>() : nullptr;
    if (text != nullptr && !text->empty()) {
      out.subject.display_name = *text;
      break;
    }
  }

  const json* groups =
      policy.groups_claim.empty() ? nullptr : findClaim(claims, policy.groups_claim);
  if (groups == nullptr || groups->is_null()) return {};
  std::string shape =
      "token claim " + quote(policy.groups_claim) + " must be a string or an array of strings";
  if (const auto* one = groups->get_ptr<const json::string_t*>()) {
    out.subject.groups.push_back(*one);
    return {};
  }
  if (!groups->is_array()) return malformed(shape);
  for (const json& entry : *groups) {
    const auto* text = entry.get_ptr<const json::string_t*>();
    if (text == nullptr) return malformed(shape);
    out.subject.groups.push_back(*text);
  }
  return {};
}

}  // namespace

Result<JwtHeader> decodeJwtHeader(std::string_view token) {
  auto jws = parseCompact(token);
  if (!jws) return jws.takeError();
  return headerFields(jws->header);
}

Result<std::string> peekIssuer(std::string_view token) {
  auto jws = parseCompact(token);
  if (!jws) return jws.takeError();
  auto claims = payloadObject(jws->payload);
  if (!claims) return claims.takeError();
  auto iss = claims->find("iss");
  if (iss == claims->end() || !iss->is_string()) {
    return malformed("token has no issuer (iss) naming who issued it");
  }
  return iss->get<std::string>();
}

Result<std::string> verifyJws(std::string_view token, const Jwk& key) {
  auto jws = parseCompact(token);
  if (!jws) return jws.takeError();
  auto header = headerFields(jws->header);
  if (!header) return header.takeError();
  auto alg = acceptedAlgorithm(jws->header, header->alg, allAlgorithms());
  if (!alg) return alg.takeError();
  if (auto fits = detail::checkKeyFits(*alg, key); !fits) return fits.takeError();
  if (auto verified = verifySignature(*alg, key, jws->signing_input, jws->signature); !verified) {
    return verified.takeError();
  }
  return std::move(jws->payload);
}

Result<VerifiedJwt> verifyJwt(std::string_view token, const JwkSet& keys, const JwtPolicy& policy,
                              std::chrono::system_clock::time_point now) {
  if (policy.issuer.empty() || policy.audience.empty()) {
    return malformed(
        "the gateway's OIDC settings lack an issuer or audience, so no token can be accepted");
  }
  auto jws = parseCompact(token);
  if (!jws) return jws.takeError();
  auto header = headerFields(jws->header);
  if (!header) return header.takeError();
  auto alg = acceptedAlgorithm(jws->header, header->alg, policy.algorithms);
  if (!alg) return alg.takeError();
  if (std::string typ = lowercase(header->typ); !typ.empty() && typ != "jwt" && typ != "at+jwt" &&
                                                typ != "application/jwt" &&
                                                typ != "application/at+jwt") {
    return malformed("token type (typ) " + quote(header->typ) +
                     " is not an access token (expected JWT or at+jwt, RFC 9068 §2.1)");
  }
  auto key = keys.select(*alg, header->kid);
  if (!key) return key.takeError();
  if (auto verified = verifySignature(*alg, **key, jws->signing_input, jws->signature); !verified) {
    return verified.takeError();
  }

  auto claims = payloadObject(jws->payload);
  if (!claims) return claims.takeError();
  VerifiedJwt out;
  out.subject.method = AuthMethod::Oidc;
  out.kid = (*key)->kid;
  out.alg = *alg;
  if (auto ok = checkTimes(*claims, policy, now, out); !ok) return ok.takeError();
  if (auto ok = checkIssuerAndAudience(*claims, policy, out); !ok) return ok.takeError();
  if (auto ok = readIdentity(*claims, policy, out); !ok) return ok.takeError();
  return out;
}

}  // namespace pgw::auth
