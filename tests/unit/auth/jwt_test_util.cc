#include "jwt_test_util.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdlib>
#include <stdexcept>

namespace pgw::auth::jwttest {
namespace {

void require(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test signer: OpenSSL ") + what + " failed");
}

std::string bnBytes(const EVP_PKEY* pkey, const char* param, size_t pad) {
  BIGNUM* bn = nullptr;
  require(EVP_PKEY_get_bn_param(pkey, param, &bn) == 1, "EVP_PKEY_get_bn_param");
  size_t size = pad != 0 ? pad : static_cast<size_t>(BN_num_bytes(bn));
  std::string out(size, '\0');
  int written =
      BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(size));
  BN_free(bn);
  require(written == static_cast<int>(size), "BN_bn2binpad");
  return out;
}

const EVP_MD* digestFor(std::string_view alg) {
  std::string_view bits = alg.substr(2);
  if (bits == "256") return EVP_sha256();
  if (bits == "384") return EVP_sha384();
  if (bits == "512") return EVP_sha512();
  return nullptr;
}

TestKey own(EVP_PKEY* pkey, std::string kid) {
  require(pkey != nullptr, "key generation");
  return TestKey{std::shared_ptr<evp_pkey_st>(pkey, EVP_PKEY_free), std::move(kid)};
}

}  // namespace

std::string b64url(std::string_view raw) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned bits = 0;
  int count = 0;
  for (unsigned char c : raw) {
    bits = (bits << 8) | c;
    count += 8;
    while (count >= 6) {
      count -= 6;
      out.push_back(kAlphabet[(bits >> count) & 0x3f]);
    }
  }
  if (count > 0) out.push_back(kAlphabet[(bits << (6 - count)) & 0x3f]);
  return out;
}

std::string TestKey::publicJwk(std::string_view extra) const {
  std::string members;
  if (EVP_PKEY_is_a(pkey.get(), "RSA")) {
    members = R"("kty":"RSA","n":")" + b64url(bnBytes(pkey.get(), OSSL_PKEY_PARAM_RSA_N, 0)) +
              R"(","e":")" + b64url(bnBytes(pkey.get(), OSSL_PKEY_PARAM_RSA_E, 0)) + "\"";
  } else if (EVP_PKEY_is_a(pkey.get(), "EC")) {
    size_t size = static_cast<size_t>(EVP_PKEY_get_bits(pkey.get()) + 7) / 8;
    std::string crv = size == 32 ? "P-256" : "P-384";
    members = R"("kty":"EC","crv":")" + crv + R"(","x":")" +
              b64url(bnBytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_X, size)) + R"(","y":")" +
              b64url(bnBytes(pkey.get(), OSSL_PKEY_PARAM_EC_PUB_Y, size)) + "\"";
  } else {
    std::string x(32, '\0');
    size_t len = x.size();
    require(EVP_PKEY_get_raw_public_key(pkey.get(), reinterpret_cast<unsigned char*>(x.data()),
                                        &len) == 1,
            "EVP_PKEY_get_raw_public_key");
    members = R"("kty":"OKP","crv":"Ed25519","x":")" + b64url(x) + "\"";
  }
  std::string out = "{" + members + R"(,"use":"sig")";
  if (!kid.empty()) out += R"(,"kid":")" + kid + "\"";
  if (!extra.empty()) out += "," + std::string(extra);
  return out + "}";
}

std::string TestKey::publicPem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  require(bio != nullptr && PEM_write_bio_PUBKEY(bio, pkey.get()) == 1, "PEM_write_bio_PUBKEY");
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<size_t>(len));
  BIO_free(bio);
  return pem;
}

TestKey makeRsaKey(std::string kid, int bits) {
  return own(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)), std::move(kid));
}

TestKey makeEcKey(std::string kid, std::string_view curve) {
  std::string group(curve);
  return own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", group.c_str()), std::move(kid));
}

TestKey makeEd25519Key(std::string kid) {
  return own(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"), std::move(kid));
}

std::string jwks(const std::vector<std::string>& jwk_texts) {
  std::string out = R"({"keys":[)";
  for (size_t i = 0; i < jwk_texts.size(); ++i) out += (i == 0 ? "" : ",") + jwk_texts[i];
  return out + "]}";
}

std::string signRaw(const TestKey& key, std::string_view alg, std::string_view input, bool der) {
  const EVP_MD* md = alg == "EdDSA" ? nullptr : digestFor(alg);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pctx = nullptr;
  require(ctx != nullptr && EVP_DigestSignInit(ctx, &pctx, md, nullptr, key.pkey.get()) == 1,
          "EVP_DigestSignInit");
  if (alg.starts_with("PS")) {
    require(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1 &&
                EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1,
            "PSS parameters");
  }
  const auto* in = reinterpret_cast<const unsigned char*>(input.data());
  size_t len = 0;
  require(EVP_DigestSign(ctx, nullptr, &len, in, input.size()) == 1, "EVP_DigestSign");
  std::string sig(len, '\0');
  require(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &len, in,
                         input.size()) == 1,
          "EVP_DigestSign");
  EVP_MD_CTX_free(ctx);
  sig.resize(len);
  if (!alg.starts_with("ES") || der) return sig;

  size_t half = alg == "ES256" ? 32 : 48;
  const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  require(parsed != nullptr, "d2i_ECDSA_SIG");
  std::string raw(2 * half, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  require(BN_bn2binpad(ECDSA_SIG_get0_r(parsed), out, static_cast<int>(half)) > 0 &&
              BN_bn2binpad(ECDSA_SIG_get0_s(parsed), out + half, static_cast<int>(half)) > 0,
          "BN_bn2binpad");
  ECDSA_SIG_free(parsed);
  return raw;
}

std::string signJws(const TestKey& key, std::string_view alg, std::string_view header_json,
                    std::string_view payload, bool der) {
  std::string input = b64url(header_json) + "." + b64url(payload);
  return input + "." + b64url(signRaw(key, alg, input, der));
}

std::string signHs256(std::string_view secret, std::string_view header_json,
                      std::string_view payload) {
  std::string input = b64url(header_json) + "." + b64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  require(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac,
               &len) != nullptr,
          "HMAC");
  return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac), len));
}

}  // namespace pgw::auth::jwttest
