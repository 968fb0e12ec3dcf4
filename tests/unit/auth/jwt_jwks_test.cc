// JWK and JWKS parsing: which keys are used, which are skipped and why, and
// that one bad key does not take the others down.

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <ostream>
#include <string>

#include "auth/jwt.h"
#include "jwt_test_util.h"

namespace pgw::auth {
namespace {

using jwttest::TestKey;

const TestKey& rsa() {
  static const TestKey kKey = jwttest::makeRsaKey("good");
  return kKey;
}

const TestKey& ec() {
  static const TestKey kKey = jwttest::makeEcKey("ec");
  return kKey;
}

// A P-256 point that is not on the curve: the RFC 7517 A.1 key with y changed.
constexpr std::string_view kOffCurve = R"({"kty":"EC","crv":"P-256","kid":"off-curve",)"
                                       R"("x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",)"
                                       R"("y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyA"})";

struct BadJwk {
  std::string name;
  std::string jwk;
  std::string reason;
};

void PrintTo(const BadJwk& bad, std::ostream* os) {
  *os << bad.name;
}

class RefusedJwk : public testing::TestWithParam<BadJwk> {};

TEST_P(RefusedJwk, IsSkippedWithAReasonAndTheOthersStillWork) {
  const BadJwk& bad = GetParam();
  auto single = parseJwk(bad.jwk);
  ASSERT_FALSE(single.ok()) << bad.jwk;
  EXPECT_EQ(single.error().sqlstate, "28000");
  EXPECT_NE(single.error().message.find(bad.reason), std::string::npos) << single.error().message;

  auto set = JwkSet::parse(jwttest::jwks({bad.jwk, rsa().publicJwk()}));
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_EQ(set->keys().size(), 1u);
  EXPECT_EQ(set->keys()[0].kid, "good");
  ASSERT_EQ(set->skipped().size(), 1u);
  EXPECT_TRUE(set->skipped()[0].starts_with("key #0 ")) << set->skipped()[0];
  EXPECT_NE(set->skipped()[0].find(bad.reason), std::string::npos) << set->skipped()[0];

  // The good key verifies tokens.
  JwtPolicy policy;
  policy.issuer = "https://idp";
  policy.audience = "pgwarden";
  auto now = std::chrono::system_clock::now();
  auto exp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + 300;
  std::string token = jwttest::signJws(
      rsa(), "RS256", R"({"alg":"RS256","kid":"good"})",
      R"({"iss":"https://idp","aud":"pgwarden","sub":"u","exp":)" + std::to_string(exp) + "}");
  auto verified = verifyJwt(token, *set, policy, now);
  EXPECT_TRUE(verified.ok()) << verified.error().message;
}

std::vector<BadJwk> badJwks() {
  TestKey small = jwttest::makeRsaKey("small", 1024);
  std::string ec_jwk = ec().publicJwk();
  std::string with_d = ec_jwk.substr(0, ec_jwk.size() - 1) + R"(,"d":"AAAA"})";
  std::string enc = rsa().publicJwk();
  enc.replace(enc.find(R"("use":"sig")"), 11, R"("use":"enc")");
  return {
      {"NotAnObject", R"("key")", "is not a JSON object"},
      {"NoKty", R"({"kid":"x","n":"AQAB","e":"AQAB"})", R"("kty" is missing)"},
      {"Symmetric", R"({"kty":"oct","kid":"hmac","k":"c2VjcmV0"})",
       R"(symmetric ("oct") keys are never used to verify tokens)"},
      {"UnknownKty", R"({"kty":"DSA","kid":"old"})", R"(key type "DSA" is not supported)"},
      {"PrivateMember", with_d, R"(contains private key material ("d"))"},
      {"UseEnc", enc, R"("use" is "enc", not "sig")"},
      {"KeyOpsWithoutVerify", rsa().publicJwk(R"("key_ops":["encrypt"])"),
       R"("key_ops" does not include "verify")"},
      {"EncryptionAlg", rsa().publicJwk(R"("alg":"RSA-OAEP")"),
       R"("alg" "RSA-OAEP" is not a supported signature algorithm)"},
      {"AlgDoesNotFit", ec().publicJwk(R"("alg":"RS256")"),
       R"("alg" RS256 does not fit an EC P-256 key)"},
      {"SmallRsa", small.publicJwk(), "RSA modulus has 1024 bits; 2048 to 16384 are accepted"},
      {"RsaModulusNotBase64", R"({"kty":"RSA","kid":"b","n":"!!!","e":"AQAB"})",
       R"("n" is not base64url)"},
      {"RsaNoExponent", R"({"kty":"RSA","kid":"b","n":"AQAB"})", R"("e" is missing)"},
      {"RsaEvenExponent",
       rsa().publicJwk().replace(rsa().publicJwk().find("\"e\":\"AQAB\""), 10, "\"e\":\"AQAA\""),
       R"(RSA exponent "e" is not an odd number greater than 1)"},
      {"EcP521", R"({"kty":"EC","crv":"P-521","kid":"big","x":"AA","y":"AA"})",
       R"(EC curve "P-521" is not supported (supported: P-256, P-384))"},
      {"EcShortCoordinate",
       R"({"kty":"EC","crv":"P-256","kid":"short","x":"AQ","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"})",
       "must be 32 bytes each for P-256"},
      {"EcOffCurve", std::string(kOffCurve), "EC public key is not a valid point on P-256"},
      {"OkpX25519",
       R"({"kty":"OKP","crv":"X25519","x":"3p7bfXt9wbTTW2HC7OQ1Nz-DQ8hbeGdNrfx-FG-IK08"})",
       R"(OKP curve "X25519" is not supported (supported: Ed25519))"},
      {"Ed25519ShortKey", R"({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg"})",
       R"(Ed25519 public key "x" must be 32 bytes)"},
      {"KidNotAString", R"({"kty":"OKP","crv":"Ed25519","kid":7,"x":"AA"})",
       R"("kid" is not a string)"},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, RefusedJwk, testing::ValuesIn(badJwks()),
                         [](const testing::TestParamInfo<BadJwk>& info) {
                           return info.param.name;
                         });

TEST(JwkSet, MixedKeyTypesAndOptionalMembers) {
  TestKey ed = jwttest::makeEd25519Key("ed");
  TestKey p384 = jwttest::makeEcKey("p384", "P-384");
  auto set = JwkSet::parse(
      jwttest::jwks({rsa().publicJwk(R"("alg":"RS256","x5t":"ignored")"),
                     ec().publicJwk(R"("key_ops":["verify"])"), p384.publicJwk(), ed.publicJwk()}));
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_EQ(set->keys().size(), 4u);
  EXPECT_TRUE(set->skipped().empty());
  EXPECT_EQ(set->keys()[0].type, JwkKeyType::Rsa);
  EXPECT_EQ(set->keys()[1].type, JwkKeyType::EcP256);
  EXPECT_EQ(set->keys()[2].type, JwkKeyType::EcP384);
  EXPECT_EQ(set->keys()[3].type, JwkKeyType::Ed25519);
  EXPECT_EQ(toString(set->keys()[3].type), "OKP Ed25519");
}

TEST(JwkSet, DuplicateKidOfTheSameTypeIsSkipped) {
  TestKey other = jwttest::makeEcKey("ec");  // same kid as ec(), another key
  auto set = JwkSet::parse(jwttest::jwks({ec().publicJwk(), other.publicJwk()}));
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->keys().size(), 1u);
  ASSERT_EQ(set->skipped().size(), 1u);
  EXPECT_EQ(set->skipped()[0], R"(key #1 (kid "ec"): an earlier EC P-256 key has the same kid)");
  EXPECT_TRUE(EVP_PKEY_eq(set->keys()[0].pkey.get(), ec().pkey.get()) == 1);
}

TEST(JwkSet, NoUsableKeyIsAnErrorListingTheReasons) {
  auto set = JwkSet::parse(jwttest::jwks(
      {R"({"kty":"oct","k":"c2VjcmV0"})", std::string(kOffCurve), R"({"kty":"RSA","kid":"r"})"}));
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().sqlstate, "28000");
  EXPECT_EQ(set.error().message,
            R"(the issuer's JWKS has no usable signing key: key #0 (no kid): symmetric ("oct") )"
            R"(keys are never used to verify tokens; key #1 (kid "off-curve"): EC public key is )"
            R"(not a valid point on P-256; key #2 (kid "r"): "n" is missing)");

  auto empty = JwkSet::parse(R"({"keys":[]})");
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().message, "the issuer's JWKS has no usable signing key");
}

TEST(JwkSet, DocumentShape) {
  for (std::string_view text : {"", "null", "[]", "{\"keys\":", "not json"}) {
    auto set = JwkSet::parse(text);
    ASSERT_FALSE(set.ok()) << text;
    EXPECT_EQ(set.error().message, "the issuer's JWKS is not a JSON object (RFC 7517 §5)");
  }
  for (std::string_view text : {"{}", R"({"keys":{}})", R"({"keys":"x"})"}) {
    auto set = JwkSet::parse(text);
    ASSERT_FALSE(set.ok()) << text;
    EXPECT_EQ(set.error().message, R"(the issuer's JWKS has no "keys" array (RFC 7517 §5))");
  }
}

TEST(JwkSet, SizeLimits) {
  std::string big = R"({"keys":[],"padding":")" + std::string(kMaxJwksBytes, 'x') + "\"}";
  auto set = JwkSet::parse(big);
  ASSERT_FALSE(set.ok());
  EXPECT_NE(set.error().message.find("more than 1048576"), std::string::npos);

  std::vector<std::string> many(kMaxJwksKeys + 1, ec().publicJwk());
  set = JwkSet::parse(jwttest::jwks(many));
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.error().message, "the issuer's JWKS has 101 keys, more than 100");
}

TEST(JwkSet, SelectByKidAndType) {
  TestKey kidless_ec{ec().pkey, ""};
  auto set = JwkSet::parse(jwttest::jwks({rsa().publicJwk(), kidless_ec.publicJwk()}));
  ASSERT_TRUE(set.ok());
  auto by_kid = set->select(JwsAlgorithm::Ps512, "good");
  ASSERT_TRUE(by_kid.ok());
  EXPECT_EQ((*by_kid)->kid, "good");
  auto kidless = set->select(JwsAlgorithm::Es256, "");
  ASSERT_TRUE(kidless.ok());
  EXPECT_EQ((*kidless)->type, JwkKeyType::EcP256);
  auto wrong = set->select(JwsAlgorithm::EdDsa, "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().message, "token has no key id and the issuer publishes no key for EdDSA");
  EXPECT_EQ(set->find(""), nullptr);
}

}  // namespace
}  // namespace pgw::auth
