// The published JOSE examples: RFC 7515 Appendix A.2 (RS256) and A.3 (ES256),
// RFC 7517 Appendix A.1 and B (key sets), RFC 8037 Appendix A (Ed25519);
// and the base64url / SHA-256 helpers.

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <string>

#include "auth/jwt.h"
#include "auth/scram.h"
#include "jwt_test_util.h"

namespace pgw::auth {
namespace {

using namespace std::chrono;

// --- RFC 7515 Appendix A ------------------------------------------------------

// A.2.1: the RSA public key (the private members are left out: a JWKS never
// carries them) and the complete JWS.
constexpr std::string_view kRfc7515RsaJwk =
    R"({"kty":"RSA",)"
    R"("n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddx)"
    R"(HmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMs)"
    R"(D1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSH)"
    R"(SXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdV)"
    R"(MTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8)"
    R"(NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",)"
    R"("e":"AQAB"})";
constexpr std::string_view kRfc7515Payload =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
    "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
constexpr std::string_view kRfc7515PayloadText =
    "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n \"http://example.com/is_root\":true}";
const std::string kRfc7515Rs256 =
    "eyJhbGciOiJSUzI1NiJ9." + std::string(kRfc7515Payload) +
    ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
    "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
    "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
    "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
    "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
    "p0igcN_IoypGlUPQGe77Rw";

// A.3.1: the EC P-256 public key and the complete JWS.
constexpr std::string_view kRfc7515EcJwk = R"({"kty":"EC","crv":"P-256",)"
                                           R"("x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
                                           R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"})";
const std::string kRfc7515Es256 = "eyJhbGciOiJFUzI1NiJ9." + std::string(kRfc7515Payload) +
                                  ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8I"
                                  "SlSApmWQxfKTUJqPP3-Kg6NU1Q";

Jwk parsedKey(std::string_view text) {
  auto key = parseJwk(text);
  EXPECT_TRUE(key.ok()) << key.error().message;
  return key.ok() ? *key : Jwk{};
}

TEST(Rfc7515, A2Rs256Verifies) {
  Jwk key = parsedKey(kRfc7515RsaJwk);
  ASSERT_EQ(key.type, JwkKeyType::Rsa);
  EXPECT_TRUE(key.kid.empty());
  auto payload = verifyJws(kRfc7515Rs256, key);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ(*payload, kRfc7515PayloadText);
}

TEST(Rfc7515, A3Es256Verifies) {
  Jwk key = parsedKey(kRfc7515EcJwk);
  ASSERT_EQ(key.type, JwkKeyType::EcP256);
  auto payload = verifyJws(kRfc7515Es256, key);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ(*payload, kRfc7515PayloadText);
}

TEST(Rfc7515, HeadersEncodeAsPublished) {
  EXPECT_EQ(base64UrlEncode(R"({"alg":"RS256"})"), "eyJhbGciOiJSUzI1NiJ9");
  EXPECT_EQ(base64UrlEncode(R"({"alg":"ES256"})"), "eyJhbGciOiJFUzI1NiJ9");
  EXPECT_EQ(base64UrlEncode(kRfc7515PayloadText), kRfc7515Payload);
  auto decoded = base64UrlDecode(kRfc7515Payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, kRfc7515PayloadText);
}

TEST(Rfc7515, ChangedPayloadDoesNotVerify) {
  // "joe" -> "jod" inside the payload, signatures unchanged.
  for (const auto& [token, jwk] :
       {std::pair{kRfc7515Rs256, kRfc7515RsaJwk}, std::pair{kRfc7515Es256, kRfc7515EcJwk}}) {
    std::string changed = token;
    std::string original_payload = "." + std::string(kRfc7515Payload) + ".";
    std::string other_payload = "." +
                                base64UrlEncode(
                                    "{\"iss\":\"jod\",\r\n \"exp\":1300819380,"
                                    "\r\n \"http://example.com/is_root\":true}") +
                                ".";
    changed.replace(changed.find(original_payload), original_payload.size(), other_payload);
    auto payload = verifyJws(changed, parsedKey(jwk));
    ASSERT_FALSE(payload.ok());
    EXPECT_EQ(payload.error().sqlstate, "28P01");
    EXPECT_EQ(payload.error().message, "token signature does not verify with the key without kid");
  }
}

TEST(Rfc7515, SignaturesDoNotCrossKeys) {
  // The RS256 example with the EC key: the algorithm does not fit the key.
  auto payload = verifyJws(kRfc7515Rs256, parsedKey(kRfc7515EcJwk));
  ASSERT_FALSE(payload.ok());
  EXPECT_EQ(payload.error().sqlstate, "28000");
  EXPECT_NE(payload.error().message.find("cannot be used with the key without kid: it is an "
                                         "EC P-256 key"),
            std::string::npos)
      << payload.error().message;
}

TEST(Rfc7515, A2AsAJwtIsCheckedForClaims) {
  // The example is a JWT: iss "joe", exp 1300819380, no aud.
  auto keys = JwkSet::parse(R"({"keys":[)" + std::string(kRfc7515RsaJwk) + "]}");
  ASSERT_TRUE(keys.ok()) << keys.error().message;
  JwtPolicy policy;
  policy.issuer = "joe";
  policy.audience = "pgwarden";
  policy.algorithms = {JwsAlgorithm::Rs256};
  system_clock::time_point before_exp{seconds(1300819380 - 3600)};
  auto verified = verifyJwt(kRfc7515Rs256, *keys, policy, before_exp);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().sqlstate, "28P01");
  EXPECT_EQ(verified.error().message, R"(token has no audience (aud); expected "pgwarden")");

  system_clock::time_point later{seconds(1300819380 + 3600)};
  verified = verifyJwt(kRfc7515Rs256, *keys, policy, later);
  ASSERT_FALSE(verified.ok());
  EXPECT_EQ(verified.error().message,
            "token expired at 2011-03-22T18:43:00Z (now 2011-03-22T19:43:00Z, clock skew 60s)");
}

// --- RFC 8037 Appendix A ------------------------------------------------------

// A.2: the public key; A.4: the JWS of "Example of Ed25519 signing".
constexpr std::string_view kRfc8037Jwk =
    R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})";
constexpr std::string_view kRfc8037SigningInput =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
constexpr std::string_view kRfc8037Signature =
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

TEST(Rfc8037, A4Ed25519Verifies) {
  Jwk key = parsedKey(kRfc8037Jwk);
  ASSERT_EQ(key.type, JwkKeyType::Ed25519);
  auto payload =
      verifyJws(std::string(kRfc8037SigningInput) + "." + std::string(kRfc8037Signature), key);
  ASSERT_TRUE(payload.ok()) << payload.error().message;
  EXPECT_EQ(*payload, "Example of Ed25519 signing");
}

TEST(Rfc8037, A1PrivateKeyReproducesTheSignature) {
  // Ed25519 is deterministic: signing A.5's input with A.1's private key must
  // give A.4's signature, and the key must derive A.2's public key. This
  // checks the transcription of the vectors, not only the verifier.
  auto seed = base64UrlDecode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A");
  ASSERT_TRUE(seed.ok());
  EVP_PKEY* raw = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                               reinterpret_cast<const unsigned char*>(seed->data()),
                                               seed->size());
  ASSERT_NE(raw, nullptr);
  jwttest::TestKey key{std::shared_ptr<evp_pkey_st>(raw, EVP_PKEY_free), ""};
  EXPECT_NE(key.publicJwk().find("\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\""),
            std::string::npos);
  EXPECT_EQ(jwttest::b64url(jwttest::signRaw(key, "EdDSA", kRfc8037SigningInput)),
            kRfc8037Signature);
}

TEST(Rfc8037, ChangedSignaturesAreRefused) {
  Jwk key = parsedKey(kRfc8037Jwk);
  // Twelve characters in the middle replaced: same length, wrong signature.
  std::string changed(kRfc8037Signature);
  changed.replace(changed.find("jg5BhVsPt9g7"), 12, "VCW7ciPsyrHQ");
  std::string token = std::string(kRfc8037SigningInput) + "." + changed;
  auto payload = verifyJws(token, key);
  ASSERT_FALSE(payload.ok());
  EXPECT_EQ(payload.error().sqlstate, "28P01");
  EXPECT_EQ(payload.error().message, "token signature does not verify with the key without kid");

  // A mis-transcription in circulation: 87 characters, 65 bytes.
  token = std::string(kRfc8037SigningInput) + "." +
          "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGVCW7ciPsyrHQzdr3RqXOu-bhDMw";
  payload = verifyJws(token, key);
  ASSERT_FALSE(payload.ok());
  EXPECT_EQ(payload.error().sqlstate, "28000");
  EXPECT_EQ(payload.error().message,
            "token signature has 65 bytes; EdDSA with the key without kid needs 64");
}

// --- RFC 7517 Appendix A.1 and B ----------------------------------------------

constexpr std::string_view kRfc7517PublicSet = R"({"keys":
  [
    {"kty":"EC",
     "crv":"P-256",
     "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
     "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
     "use":"enc",
     "kid":"1"},

    {"kty":"RSA",
     "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
     "e":"AQAB",
     "alg":"RS256",
     "kid":"2011-04-29"}
  ]
})";

TEST(Rfc7517, A1SetKeepsTheSigningKeyAndSkipsTheEncryptionKey) {
  auto set = JwkSet::parse(kRfc7517PublicSet);
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_EQ(set->keys().size(), 1u);
  const Jwk& rsa = set->keys()[0];
  EXPECT_EQ(rsa.kid, "2011-04-29");
  EXPECT_EQ(rsa.type, JwkKeyType::Rsa);
  ASSERT_TRUE(rsa.alg.has_value());
  EXPECT_EQ(*rsa.alg, JwsAlgorithm::Rs256);
  EXPECT_EQ(EVP_PKEY_get_bits(rsa.pkey.get()), 2048);
  ASSERT_EQ(set->skipped().size(), 1u);
  EXPECT_EQ(set->skipped()[0], R"(key #0 (kid "1"): "use" is "enc", not "sig")");

  EXPECT_EQ(set->find("2011-04-29"), &rsa);
  EXPECT_EQ(set->find("1"), nullptr);
  auto selected = set->select(JwsAlgorithm::Rs256, "2011-04-29");
  ASSERT_TRUE(selected.ok());
  EXPECT_EQ(*selected, &rsa);
  // The JWK's "alg" binds the key to RS256.
  auto pss = set->select(JwsAlgorithm::Ps256, "2011-04-29");
  ASSERT_FALSE(pss.ok());
  EXPECT_EQ(pss.error().sqlstate, "28000");
  EXPECT_EQ(pss.error().message,
            R"(token algorithm "PS256" cannot be used with key "2011-04-29": its "alg" is RS256)");
}

TEST(Rfc7517, A1RsaModulusMatchesTheRfc7638Thumbprint) {
  // RFC 7638 §3.1 computes the thumbprint of this very key; matching it
  // checks the transcription of "n".
  auto set = JwkSet::parse(kRfc7517PublicSet);
  ASSERT_TRUE(set.ok());
  std::string n = std::string(kRfc7517PublicSet.substr(kRfc7517PublicSet.find("0vx7ag"), 342));
  std::string canonical = R"({"e":"AQAB","kty":"RSA","n":")" + n + "\"}";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(canonical.data(), canonical.size(), digest, &len, EVP_sha256(), nullptr), 1);
  EXPECT_EQ(jwttest::b64url(std::string_view(reinterpret_cast<char*>(digest), len)),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
}

TEST(Rfc7517, A1EcKeyIsAValidP256Point) {
  auto key = parseJwk(R"({"kty":"EC","crv":"P-256",)"
                      R"("x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",)"
                      R"("y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"1"})");
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->type, JwkKeyType::EcP256);
  EXPECT_EQ(key->kid, "1");
}

// Appendix B: an RSA signing key with its X.509 certificate chain.
constexpr std::string_view kRfc7517X5cKey =
    R"({"kty":"RSA",
 "use":"sig",
 "kid":"1b94c",
 "n":"vrjOfz9Ccdgx5nQudyhdoR17V-IubWMeOZCwX_jj0hgAsz2J_pqYW08PLbK_PdiVGKPrqzmDIsLI7sA25VEnHU1uCLNwBuUiCO11_-7dYbsr4iJmG0Qu2j8DsVyT1azpJC_NG84Ty5KKthuCaPod7iI7w0LK9orSMhBEwwZDCxTWq4aYWAchc8t-emd9qOvWtVMDC2BXksRngh6X5bUYLy6AyHKvj-nUy1wgzjYQDwHMTplCoLtU-o-8SNnZ1tmRoGE9uJkBLdh5gFENabWnU5m1ZqZPdwS-qo-meMvVfJb6jJVWRpl2SUtCnYG2C32qvbWbjZ_jBPD5eunqsIo1vQ",
 "e":"AQAB",
 "x5c":
  ["MIIDQjCCAiqgAwIBAgIGATz/FuLiMA0GCSqGSIb3DQEBBQUAMGIxCzAJBgNVBAYTAlVTMQswCQYDVQQIEwJDTzEPMA0GA1UEBxMGRGVudmVyMRwwGgYDVQQKExNQaW5nIElkZW50aXR5IENvcnAuMRcwFQYDVQQDEw5CcmlhbiBDYW1wYmVsbDAeFw0xMzAyMjEyMzI5MTVaFw0xODA4MTQyMjI5MTVaMGIxCzAJBgNVBAYTAlVTMQswCQYDVQQIEwJDTzEPMA0GA1UEBxMGRGVudmVyMRwwGgYDVQQKExNQaW5nIElkZW50aXR5IENvcnAuMRcwFQYDVQQDEw5CcmlhbiBDYW1wYmVsbDCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAL64zn8/QnHYMeZ0LncoXaEde1fiLm1jHjmQsF/449IYALM9if6amFtPDy2yvz3YlRij66s5gyLCyO7ANuVRJx1NbgizcAblIgjtdf/u3WG7K+IiZhtELto/A7Fck9Ws6SQvzRvOE8uSirYbgmj6He4iO8NCyvaK0jIQRMMGQwsU1quGmFgHIXPLfnpnfajr1rVTAwtgV5LEZ4Iel+W1GC8ugMhyr4/p1MtcIM42EA8BzE6ZQqC7VPqPvEjZ2dbZkaBhPbiZAS3YeYBRDWm1p1OZtWamT3cEvqqPpnjL1XyW+oyVVkaZdklLQp2Btgt9qr21m42f4wTw+Xrp6rCKNb0CAwEAATANBgkqhkiG9w0BAQUFAAOCAQEAh8zGlfSlcI0o3rYDPBB07aXNswb4ECNIKG0CETTUxmXl9KUL+9gGlqCz5iWLOgWsnrcKcY0vXPG9J1r9AqBNTqNgHq2G03X09266X5CpOe1zFo+Owb1zxtp3PehFdfQJ610CDLEaS9V9Rqp17hCyybEpOGVwe8fnk+fbEL2Bo3UPGrpsHzUoaGpDftmWssZkhpBJKVMJyf/RuP2SmmaIzmnw9JiSlYhzo4tpzd5rFXhjRbg4zW9C+2qok+2+qDM1iJ684gPHMIY8aLWrdgQTxkumGmTqgawR+N5MDtdPTEQ0XfIBc2cJEUyMTY5MPvACWpkA6SdS4xSvdXK3IVfOWA=="]
})";

TEST(Rfc7517, BKeyEqualsItsCertificatesKey) {
  auto set = JwkSet::parse("{\"keys\":[" + std::string(kRfc7517X5cKey) + "]}");
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_EQ(set->keys().size(), 1u);
  const Jwk& key = set->keys()[0];
  EXPECT_EQ(key.kid, "1b94c");
  EXPECT_EQ(key.type, JwkKeyType::Rsa);
  EXPECT_FALSE(key.alg.has_value());
  EXPECT_TRUE(set->skipped().empty());

  // The gateway ignores x5c; the test reads the certificate to check that the
  // key built from "n" and "e" is the certificate's key.
  std::string_view text = kRfc7517X5cKey;
  size_t start = text.find("[\"") + 2;
  auto der = base64Decode(text.substr(start, text.find("\"]") - start));
  ASSERT_TRUE(der.ok());
  const auto* p = reinterpret_cast<const unsigned char*>(der->data());
  X509* cert = d2i_X509(nullptr, &p, static_cast<long>(der->size()));
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert), key.pkey.get()), 1);
  X509_free(cert);
}

// --- Helpers ------------------------------------------------------------------

TEST(Base64Url, DecodesStrictly) {
  EXPECT_EQ(*base64UrlDecode(""), "");
  EXPECT_EQ(*base64UrlDecode("QQ"), "A");
  EXPECT_EQ(*base64UrlDecode("QUI"), "AB");
  EXPECT_EQ(*base64UrlDecode("QUJD"), "ABC");
  EXPECT_EQ(*base64UrlDecode("-_8"), "\xfb\xff");
  for (std::string_view bad : {"Q", "QQ=", "QQ==", "QR", "QUJ", "+/8", "QU JD", "QUJD\n", "QU.J"}) {
    auto decoded = base64UrlDecode(bad);
    ASSERT_FALSE(decoded.ok()) << bad;
    EXPECT_EQ(decoded.error().message, "invalid base64url data");
  }
}

TEST(Base64Url, RoundTripsEveryLength) {
  std::string raw;
  for (int i = 0; i < 70; ++i) {
    EXPECT_EQ(base64UrlEncode(raw), jwttest::b64url(raw));
    auto back = base64UrlDecode(base64UrlEncode(raw));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, raw);
    raw.push_back(static_cast<char>(i * 37 + 200));
  }
}

TEST(Sha256Hex, MatchesFips180Examples) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(JwsAlgorithmNames, RoundTrip) {
  for (std::string_view name :
       {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}) {
    auto alg = parseJwsAlgorithm(name);
    ASSERT_TRUE(alg.has_value()) << name;
    EXPECT_EQ(toString(*alg), name);
  }
  for (std::string_view name : {"none", "HS256", "rs256", "ES512", "Ed25519", ""}) {
    EXPECT_FALSE(parseJwsAlgorithm(name).has_value()) << name;
  }
}

}  // namespace
}  // namespace pgw::auth
