// Ed25519 keys and EdDSA compact JWS for the development issuer.

#include "auth/jwt_sign.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <vector>

#include "auth/jwt.h"

namespace pgw::auth {
namespace {

using nlohmann::json;

constexpr std::string_view kBadKey = "28000";
constexpr std::string_view kBadArgument = "22023";
constexpr size_t kEd25519KeyBytes = 32;
constexpr size_t kEd25519SignatureBytes = 64;
constexpr size_t kKeyIdChars = 16;

constexpr std::string_view kGenerateHint =
    "create one with: openssl genpkey -algorithm ed25519 -out dev-issuer.pem";

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

std::shared_ptr<EVP_PKEY> ownKey(EVP_PKEY* pkey) {
  return std::shared_ptr<EVP_PKEY>(pkey, EVP_PKEY_free);
}

/// Never prompts: an encrypted PEM fails instead of reading a passphrase
/// from the terminal.
int noPassphrase(char*, int, int, void*) {
  return 0;
}

std::string base64UrlSha256(std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1) {
    return {};
  }
  return base64UrlEncode(std::string_view(reinterpret_cast<const char*>(digest.data()), len));
}

/// JSON text for an object built here from known-good strings.
std::string dumpJson(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Result<Ed25519SigningKey> Ed25519SigningKey::fromPkey(std::shared_ptr<EVP_PKEY> pkey) {
  if (EVP_PKEY_is_a(pkey.get(), "ED25519") != 1) {
    const char* type = EVP_PKEY_get0_type_name(pkey.get());
    return fail(kBadKey, std::string("holds a key of type ") + (type != nullptr ? type : "?") +
                             ", not an Ed25519 key; " + std::string(kGenerateHint));
  }
  std::string raw(kEd25519KeyBytes, '\0');
  size_t len = raw.size();
  const bool derived = EVP_PKEY_get_raw_public_key(
                           pkey.get(), reinterpret_cast<unsigned char*>(raw.data()), &len) == 1;
  if (!derived || len != kEd25519KeyBytes) {
    ERR_clear_error();
    return fail(kBadKey, "OpenSSL cannot derive the Ed25519 public key");
  }
  return Ed25519SigningKey(std::move(pkey), std::move(raw));
}

Result<Ed25519SigningKey> Ed25519SigningKey::fromPem(std::string_view pem) {
  if (pem.size() > kMaxSigningKeyPemBytes) {
    return fail(kBadKey, "is larger than 64 KiB, too large for an Ed25519 private key; " +
                             std::string(kGenerateHint));
  }
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(kBadKey, "OpenSSL cannot allocate a buffer");
  EVP_PKEY* pkey = PEM_read_bio_PrivateKey(bio.get(), nullptr, noPassphrase, nullptr);
  ERR_clear_error();
  if (pkey == nullptr) {
    return fail(kBadKey,
                "is not an unencrypted PEM private key (expected \"-----BEGIN PRIVATE "
                "KEY-----\"); " +
                    std::string(kGenerateHint));
  }
  return fromPkey(ownKey(pkey));
}

Result<Ed25519SigningKey> Ed25519SigningKey::loadPemFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return fail(kBadKey, path + ": is a directory, not a key file");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return fail(kBadKey, path + ": cannot open: " + std::strerror(errno));
  }
  std::vector<char> buffer(kMaxSigningKeyPemBytes + 1);
  file.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
  if (file.bad()) return fail(kBadKey, path + ": cannot read the file");
  const auto size = static_cast<size_t>(file.gcount());
  auto key = fromPem(std::string_view(buffer.data(), size));
  OPENSSL_cleanse(buffer.data(), buffer.size());
  if (!key) return fail(kBadKey, path + ": " + key.error().message);
  return key;
}

Result<Ed25519SigningKey> Ed25519SigningKey::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  if (pkey == nullptr) {
    ERR_clear_error();
    return fail(kBadKey, "OpenSSL cannot generate an Ed25519 key");
  }
  return fromPkey(ownKey(pkey));
}

Result<std::string> Ed25519SigningKey::sign(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::string signature(kEd25519SignatureBytes, '\0');
  size_t len = signature.size();
  // Ed25519 hashes internally (PureEdDSA): no digest is given.
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_.get()) != 1 ||
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1 ||
      len != kEd25519SignatureBytes) {
    ERR_clear_error();
    return fail(kBadKey, "OpenSSL cannot sign with the Ed25519 key");
  }
  return signature;
}

std::string jwkThumbprint(const Ed25519SigningKey& key) {
  // RFC 7638 §3.2: the required members only, in lexicographic order, no
  // whitespace. The values need no escaping (base64url and fixed names).
  const std::string canonical =
      R"({"crv":"Ed25519","kty":"OKP","x":")" + base64UrlEncode(key.publicKey()) + R"("})";
  return base64UrlSha256(canonical);
}

std::string keyIdFor(const Ed25519SigningKey& key) {
  return jwkThumbprint(key).substr(0, kKeyIdChars);
}

namespace {

json jwkObject(const Ed25519SigningKey& key, std::string_view kid) {
  json jwk = json::object();
  jwk["kty"] = "OKP";
  jwk["crv"] = "Ed25519";
  jwk["x"] = base64UrlEncode(key.publicKey());
  jwk["kid"] = std::string(kid);
  jwk["alg"] = "EdDSA";
  jwk["use"] = "sig";
  return jwk;
}

}  // namespace

std::string publicJwk(const Ed25519SigningKey& key, std::string_view kid) {
  return dumpJson(jwkObject(key, kid));
}

std::string publicJwks(const Ed25519SigningKey& key, std::string_view kid) {
  json set = json::object();
  set["keys"] = json::array({jwkObject(key, kid)});
  return dumpJson(set);
}

std::string toJson(const DevTokenClaims& claims) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const int64_t iat = duration_cast<seconds>(claims.issued_at.time_since_epoch()).count();
  json j = json::object();
  j["iss"] = claims.issuer;
  j["aud"] = claims.audience;
  j["sub"] = claims.subject;
  j["groups"] = claims.groups;
  if (!claims.preferred_username.empty()) j["preferred_username"] = claims.preferred_username;
  j["iat"] = iat;
  j["nbf"] = iat;
  j["exp"] = iat + claims.lifetime.count();
  if (!claims.jwt_id.empty()) j["jti"] = claims.jwt_id;
  return dumpJson(j);
}

Result<std::string> signJwt(std::string_view claims_json, const Ed25519SigningKey& key,
                            std::string_view kid) {
  if (kid.empty()) return fail(kBadArgument, "a JWT needs a key id (kid) to be signed");
  const json claims = json::parse(claims_json, nullptr, false);
  if (claims.is_discarded() || !claims.is_object()) {
    return fail(kBadArgument, "the JWT claims are not a JSON object");
  }
  json header = json::object();
  header["alg"] = "EdDSA";
  header["typ"] = "JWT";
  header["kid"] = std::string(kid);
  std::string token = base64UrlEncode(dumpJson(header));
  token += '.';
  token += base64UrlEncode(claims_json);
  auto signature = key.sign(token);
  if (!signature) return signature.takeError();
  token += '.';
  token += base64UrlEncode(*signature);
  if (token.size() > kMaxJwtBytes) {
    return fail(kBadArgument, "the signed JWT would be longer than " +
                                  std::to_string(kMaxJwtBytes) +
                                  " bytes, more than the gateway accepts; use fewer claims");
  }
  return token;
}

}  // namespace pgw::auth
