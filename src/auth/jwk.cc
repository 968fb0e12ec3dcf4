// JSON Web Keys (RFC 7517) and key sets, turned into OpenSSL 3 keys; the
// base64url and SHA-256 helpers under them.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "auth/jwt.h"
#include "auth/jwt_detail.h"

namespace pgw::auth {
namespace {

using nlohmann::json;

/// RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used". The upper
/// bound keeps a hostile JWKS from making each verification arbitrarily slow.
constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 16384;
constexpr size_t kMaxRsaExponentBytes = 8;
constexpr size_t kMaxQuoted = 128;

/// OpenSSL only fails a digest on allocation failure or a broken provider.
[[noreturn]] void cryptoFailure(const char* what) {
  std::fprintf(stderr, "pgwarden: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

struct BnFree {
  void operator()(BIGNUM* bn) const { BN_free(bn); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* bld) const { OSSL_PARAM_BLD_free(bld); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* params) const { OSSL_PARAM_free(params); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using PkeyPtr = std::shared_ptr<EVP_PKEY>;

Error badKey(std::string message) {
  return fail("28000", std::move(message));
}

int base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

struct AlgorithmName {
  JwsAlgorithm alg;
  std::string_view name;
};
constexpr std::array<AlgorithmName, 9> kAlgorithmNames = {{
    {JwsAlgorithm::Rs256, "RS256"},
    {JwsAlgorithm::Rs384, "RS384"},
    {JwsAlgorithm::Rs512, "RS512"},
    {JwsAlgorithm::Ps256, "PS256"},
    {JwsAlgorithm::Ps384, "PS384"},
    {JwsAlgorithm::Ps512, "PS512"},
    {JwsAlgorithm::Es256, "ES256"},
    {JwsAlgorithm::Es384, "ES384"},
    {JwsAlgorithm::EdDsa, "EdDSA"},
}};

/// Builds a public key of OpenSSL type `type_name` from `bld`; nullptr when
/// OpenSSL refuses the parameters (e.g. an EC point not on the curve).
PkeyPtr keyFromData(const char* type_name, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(
      EVP_PKEY_CTX_new_from_name(nullptr, type_name, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    ERR_clear_error();
    return nullptr;
  }
  return PkeyPtr(pkey, EVP_PKEY_free);
}

/// A string member, or nullptr when it is absent; an error when it is present
/// but not a string.
Result<const std::string*> optionalString(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return static_cast<const std::string*>(nullptr);
  const auto* text = it->get_ptr<const json::string_t*>();
  if (text == nullptr) return badKey(std::string("\"") + name + "\" is not a string");
  return text;
}

/// The bytes of a required base64url member (RFC 7518 §6: n, e, x, y).
Result<std::string> bytesMember(const json& jwk, const char* name) {
  auto text = optionalString(jwk, name);
  if (!text) return text.takeError();
  if (*text == nullptr) return badKey(std::string("\"") + name + "\" is missing");
  auto raw = base64UrlDecode(**text);
  if (!raw || raw->empty()) return badKey(std::string("\"") + name + "\" is not base64url");
  return raw;
}

BnPtr toBignum(const std::string& bytes) {
  return BnPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(bytes.data()),
                         static_cast<int>(bytes.size()), nullptr));
}

/// RFC 7518 §6.3.1: "n" and "e", unsigned big-endian.
Result<PkeyPtr> rsaKey(const json& jwk) {
  auto n = bytesMember(jwk, "n");
  if (!n) return n.takeError();
  auto e = bytesMember(jwk, "e");
  if (!e) return e.takeError();
  if (n->size() > kMaxRsaBits / 8 + 1) {
    return badKey("RSA modulus is larger than " + std::to_string(kMaxRsaBits) + " bits");
  }
  if (e->size() > kMaxRsaExponentBytes) return badKey("RSA exponent \"e\" is larger than 64 bits");
  BnPtr n_bn = toBignum(*n);
  BnPtr e_bn = toBignum(*e);
  if (!n_bn || !e_bn) cryptoFailure("BN_bin2bn");
  int bits = BN_num_bits(n_bn.get());
  if (bits < kMinRsaBits || bits > kMaxRsaBits) {
    return badKey("RSA modulus has " + std::to_string(bits) + " bits; " +
                  std::to_string(kMinRsaBits) + " to " + std::to_string(kMaxRsaBits) +
                  " are accepted (RFC 7518 §3.3)");
  }
  if (!BN_is_odd(n_bn.get())) return badKey("RSA modulus \"n\" is even");
  if (!BN_is_odd(e_bn.get()) || BN_is_one(e_bn.get())) {
    return badKey("RSA exponent \"e\" is not an odd number greater than 1");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n_bn.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e_bn.get()) != 1) {
    cryptoFailure("OSSL_PARAM_BLD");
  }
  PkeyPtr pkey = keyFromData("RSA", bld.get());
  if (!pkey) return badKey("OpenSSL refuses the RSA public key");
  return pkey;
}

/// RFC 7518 §6.2.1: "crv", and "x" and "y" as full-length coordinates.
Result<PkeyPtr> ecKey(const json& jwk, JwkKeyType& type) {
  auto crv = optionalString(jwk, "crv");
  if (!crv) return crv.takeError();
  if (*crv == nullptr) return badKey("\"crv\" is missing");
  const char* group = nullptr;
  size_t coordinate_size = 0;
  if (**crv == "P-256") {
    group = "prime256v1";
    coordinate_size = 32;
    type = JwkKeyType::EcP256;
  } else if (**crv == "P-384") {
    group = "secp384r1";
    coordinate_size = 48;
    type = JwkKeyType::EcP384;
  } else {
    return badKey("EC curve " + detail::quote(**crv) +
                  " is not supported (supported: P-256, P-384)");
  }
  auto x = bytesMember(jwk, "x");
  if (!x) return x.takeError();
  auto y = bytesMember(jwk, "y");
  if (!y) return y.takeError();
  if (x->size() != coordinate_size || y->size() != coordinate_size) {
    return badKey("EC coordinates \"x\" and \"y\" must be " + std::to_string(coordinate_size) +
                  " bytes each for " + **crv + " (RFC 7518 §6.2.1.2)");
  }
  std::string point = "\x04" + *x + *y;  // SEC 1 uncompressed point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    cryptoFailure("OSSL_PARAM_BLD");
  }
  PkeyPtr pkey = keyFromData("EC", bld.get());
  bool valid = false;
  if (pkey) {
    std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(
        EVP_PKEY_CTX_new_from_pkey(nullptr, pkey.get(), nullptr));
    valid = check && EVP_PKEY_public_check(check.get()) == 1;
    ERR_clear_error();
  }
  if (!valid) return badKey("EC public key is not a valid point on " + **crv);
  return pkey;
}

/// RFC 8037 §2: "crv" "Ed25519" and the 32-byte public key "x".
Result<PkeyPtr> okpKey(const json& jwk) {
  auto crv = optionalString(jwk, "crv");
  if (!crv) return crv.takeError();
  if (*crv == nullptr) return badKey("\"crv\" is missing");
  if (**crv != "Ed25519") {
    return badKey("OKP curve " + detail::quote(**crv) + " is not supported (supported: Ed25519)");
  }
  auto x = bytesMember(jwk, "x");
  if (!x) return x.takeError();
  if (x->size() != 32) return badKey("Ed25519 public key \"x\" must be 32 bytes");
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, x->data(),
                                               x->size()) != 1) {
    cryptoFailure("OSSL_PARAM_BLD");
  }
  PkeyPtr pkey = keyFromData("ED25519", bld.get());
  if (!pkey) return badKey("OpenSSL refuses the Ed25519 public key");
  return pkey;
}

/// RFC 7517 §4 member checks, then the key material by "kty".
Result<Jwk> importJwk(const json& object) {
  if (!object.is_object()) return badKey("is not a JSON object");
  auto kty = optionalString(object, "kty");
  if (!kty) return kty.takeError();
  if (*kty == nullptr) return badKey("\"kty\" is missing");
  if (**kty == "oct") return badKey("symmetric (\"oct\") keys are never used to verify tokens");

  Jwk key;
  auto kid = optionalString(object, "kid");
  if (!kid) return kid.takeError();
  if (*kid != nullptr) key.kid = **kid;

  for (const char* member : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (object.contains(member)) {
      return badKey(std::string("contains private key material (\"") + member +
                    "\"); an issuer must publish only public keys");
    }
  }
  auto use = optionalString(object, "use");
  if (!use) return use.takeError();
  if (*use != nullptr && **use != "sig") {
    return badKey("\"use\" is " + detail::quote(**use) + ", not \"sig\"");
  }
  if (auto ops = object.find("key_ops"); ops != object.end()) {
    if (!ops->is_array()) return badKey("\"key_ops\" is not an array");
    bool verify = false;
    for (const json& op : *ops) {
      if (!op.is_string()) return badKey("\"key_ops\" has a member that is not a string");
      verify = verify || op == "verify";
    }
    if (!verify) return badKey("\"key_ops\" does not include \"verify\"");
  }
  auto alg = optionalString(object, "alg");
  if (!alg) return alg.takeError();
  if (*alg != nullptr) {
    key.alg = parseJwsAlgorithm(**alg);
    if (!key.alg) {
      return badKey("\"alg\" " + detail::quote(**alg) + " is not a supported signature algorithm");
    }
  }

  auto pkey = [&]() -> Result<PkeyPtr> {
    if (**kty == "RSA") {
      key.type = JwkKeyType::Rsa;
      return rsaKey(object);
    }
    if (**kty == "EC") return ecKey(object, key.type);
    if (**kty == "OKP") {
      key.type = JwkKeyType::Ed25519;
      return okpKey(object);
    }
    return badKey("key type " + detail::quote(**kty) +
                  " is not supported (supported: RSA, EC, OKP)");
  }();
  if (!pkey) return pkey.takeError();
  key.pkey = std::move(*pkey);
  if (key.alg && !detail::algorithmFits(*key.alg, key.type)) {
    return badKey("\"alg\" " + std::string(toString(*key.alg)) + " does not fit an " +
                  std::string(toString(key.type)) + " key");
  }
  return key;
}

}  // namespace

// --- Helpers ------------------------------------------------------------------

namespace detail {

std::string quote(std::string_view value) {
  bool cut = value.size() > kMaxQuoted;
  json text = std::string(value.substr(0, cut ? kMaxQuoted : value.size()));
  std::string out = text.dump(-1, ' ', false, json::error_handler_t::replace);
  if (cut) out += "...";
  return out;
}

bool algorithmFits(JwsAlgorithm alg, JwkKeyType type) {
  switch (alg) {
    case JwsAlgorithm::Rs256:
    case JwsAlgorithm::Rs384:
    case JwsAlgorithm::Rs512:
    case JwsAlgorithm::Ps256:
    case JwsAlgorithm::Ps384:
    case JwsAlgorithm::Ps512:
      return type == JwkKeyType::Rsa;
    case JwsAlgorithm::Es256:
      return type == JwkKeyType::EcP256;
    case JwsAlgorithm::Es384:
      return type == JwkKeyType::EcP384;
    case JwsAlgorithm::EdDsa:
      return type == JwkKeyType::Ed25519;
  }
  return false;
}

std::string describeKey(const Jwk& key) {
  return key.kid.empty() ? "the key without kid" : "key " + quote(key.kid);
}

Status checkKeyFits(JwsAlgorithm alg, const Jwk& key) {
  std::string why;
  if (!algorithmFits(alg, key.type)) {
    why = "it is an " + std::string(toString(key.type)) + " key";
  } else if (key.alg && *key.alg != alg) {
    why = "its \"alg\" is " + std::string(toString(*key.alg));
  } else {
    return {};
  }
  return badKey("token algorithm " + quote(toString(alg)) + " cannot be used with " +
                describeKey(key) + ": " + why);
}

}  // namespace detail

std::string_view toString(JwsAlgorithm alg) {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    if (entry.alg == alg) return entry.name;
  }
  return "unknown";
}

std::optional<JwsAlgorithm> parseJwsAlgorithm(std::string_view name) {
  for (const AlgorithmName& entry : kAlgorithmNames) {
    if (entry.name == name) return entry.alg;
  }
  return std::nullopt;
}

std::string_view toString(JwkKeyType type) {
  switch (type) {
    case JwkKeyType::Rsa:
      return "RSA";
    case JwkKeyType::EcP256:
      return "EC P-256";
    case JwkKeyType::EcP384:
      return "EC P-384";
    case JwkKeyType::Ed25519:
      return "OKP Ed25519";
  }
  return "unknown";
}

std::string sha256Hex(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    cryptoFailure("SHA-256");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0x0f]);
  }
  return out;
}

std::string base64UrlEncode(std::string_view raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((raw.size() * 4 + 2) / 3);
  auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<unsigned char>(raw[i])); };
  size_t i = 0;
  for (; i + 3 <= raw.size(); i += 3) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    for (int shift : {18, 12, 6, 0}) out.push_back(kAlphabet[(v >> shift) & 0x3f]);
  }
  if (raw.size() - i == 1) {
    uint32_t v = byte(i) << 16;
    for (int shift : {18, 12}) out.push_back(kAlphabet[(v >> shift) & 0x3f]);
  } else if (raw.size() - i == 2) {
    uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    for (int shift : {18, 12, 6}) out.push_back(kAlphabet[(v >> shift) & 0x3f]);
  }
  return out;
}

Result<std::string> base64UrlDecode(std::string_view text) {
  auto invalid = [] { return fail("28000", "invalid base64url data"); };
  if (text.size() % 4 == 1) return invalid();  // 6 bits cannot end a byte
  std::string out;
  out.reserve(text.size() / 4 * 3 + 2);
  uint32_t pending = 0;  // bits not yet emitted, at most 6
  int pending_bits = 0;
  for (char c : text) {
    int v = base64UrlValue(c);
    if (v < 0) return invalid();
    pending = (pending << 6) | static_cast<uint32_t>(v);
    pending_bits += 6;
    if (pending_bits >= 8) {
      pending_bits -= 8;
      out.push_back(static_cast<char>((pending >> pending_bits) & 0xff));
      pending &= (1u << pending_bits) - 1;
    }
  }
  if (pending != 0) return invalid();  // non-zero unused bits: not the canonical encoding
  return out;
}

// --- Keys ---------------------------------------------------------------------

Result<Jwk> parseJwk(std::string_view text) {
  if (text.size() > kMaxJwksBytes) return badKey("the JWK is larger than the JWKS size limit");
  json object = json::parse(text.begin(), text.end(), nullptr, false);
  if (object.is_discarded()) return badKey("the JWK is not valid JSON");
  auto key = importJwk(object);
  if (!key) return badKey("the JWK " + key.error().message);
  return key;
}

Result<JwkSet> JwkSet::parse(std::string_view text) {
  if (text.size() > kMaxJwksBytes) {
    return badKey("the issuer's JWKS is " + std::to_string(text.size()) + " bytes, more than " +
                  std::to_string(kMaxJwksBytes));
  }
  json document = json::parse(text.begin(), text.end(), nullptr, false);
  if (document.is_discarded() || !document.is_object()) {
    return badKey("the issuer's JWKS is not a JSON object (RFC 7517 §5)");
  }
  auto keys = document.find("keys");
  if (keys == document.end() || !keys->is_array()) {
    return badKey("the issuer's JWKS has no \"keys\" array (RFC 7517 §5)");
  }
  if (keys->size() > kMaxJwksKeys) {
    return badKey("the issuer's JWKS has " + std::to_string(keys->size()) + " keys, more than " +
                  std::to_string(kMaxJwksKeys));
  }
  JwkSet set;
  size_t index = 0;
  for (const json& element : *keys) {
    std::string where = "key #" + std::to_string(index++);
    auto kid = element.is_object() ? element.find("kid") : element.end();
    if (element.is_object() && kid != element.end() && kid->is_string()) {
      where += " (kid " + detail::quote(kid->get_ref<const std::string&>()) + ")";
    } else {
      where += " (no kid)";
    }
    auto key = importJwk(element);
    if (!key) {
      set.skipped_.push_back(where + ": " + key.error().message);
      continue;
    }
    bool duplicate = false;
    for (const Jwk& earlier : set.keys_) {
      duplicate =
          duplicate || (!key->kid.empty() && earlier.kid == key->kid && earlier.type == key->type);
    }
    if (duplicate) {
      set.skipped_.push_back(where + ": an earlier " + std::string(toString(key->type)) +
                             " key has the same kid");
      continue;
    }
    set.keys_.push_back(std::move(*key));
  }
  if (set.keys_.empty()) {
    std::string message = "the issuer's JWKS has no usable signing key";
    for (size_t i = 0; i < set.skipped_.size(); ++i) {
      message += (i == 0 ? ": " : "; ") + set.skipped_[i];
    }
    return badKey(std::move(message));
  }
  return set;
}

const Jwk* JwkSet::find(std::string_view kid) const {
  if (kid.empty()) return nullptr;
  for (const Jwk& key : keys_) {
    if (key.kid == kid) return &key;
  }
  return nullptr;
}

Result<const Jwk*> JwkSet::select(JwsAlgorithm alg, std::string_view kid) const {
  std::string alg_name(toString(alg));
  if (!kid.empty()) {
    const Jwk* same_kid = nullptr;
    for (const Jwk& key : keys_) {
      if (key.kid != kid) continue;
      if (detail::checkKeyFits(alg, key)) return &key;
      same_kid = &key;
    }
    if (same_kid != nullptr) return detail::checkKeyFits(alg, *same_kid).error();
    std::string known;
    size_t listed = 0;
    for (const Jwk& key : keys_) {
      if (key.kid.empty()) continue;
      if (listed == 10) {
        known += ", ...";
        break;
      }
      known += (listed++ == 0 ? "" : ", ") + detail::quote(key.kid);
    }
    return badKey("token key id " + detail::quote(kid) + " is not one of the issuer's keys (" +
                  (known.empty() ? "none has a kid" : known) +
                  "); the token may be signed with a key the issuer no longer publishes");
  }
  const Jwk* only = nullptr;
  size_t candidates = 0;
  for (const Jwk& key : keys_) {
    if (!detail::checkKeyFits(alg, key)) continue;
    only = &key;
    ++candidates;
  }
  if (candidates == 1) return only;
  if (candidates == 0) {
    return badKey("token has no key id and the issuer publishes no key for " + alg_name);
  }
  return badKey("token has no key id and the issuer publishes several keys for " + alg_name + " (" +
                std::to_string(candidates) + "); the token must name its key (kid)");
}

}  // namespace pgw::auth
