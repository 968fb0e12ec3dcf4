// verifyJwt with keys generated for the test: every algorithm, every claim
// check, every refusal. Each refusal checks the SQLSTATE, what the message
// says, and that the message does not quote the token.

#include "auth/jwt.h"

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>

#include "jwt_test_util.h"

namespace pgw::auth {
namespace {

using namespace std::chrono;
using jwttest::TestKey;
using nlohmann::json;

constexpr std::string_view kIssuer = "https://idp.example.com/realms/acme";
constexpr std::string_view kAudience = "pgwarden";

// 2026-11-24T10:05:12Z
const system_clock::time_point kNow =
    sys_days{year{2026} / 11 / 24} + hours(10) + minutes(5) + seconds(12);

int64_t epoch(system_clock::time_point t) {
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

struct Keys {
  TestKey rsa = jwttest::makeRsaKey("rsa-1");
  TestKey rsa2 = jwttest::makeRsaKey("rsa-2");
  TestKey ec = jwttest::makeEcKey("ec-1");
  TestKey ec384 = jwttest::makeEcKey("ec384-1", "P-384");
  TestKey ed = jwttest::makeEd25519Key("ed-1");
};

/// RSA key generation is slow under the sanitizers: once per test binary.
const Keys& keys() {
  static const Keys kKeys;
  return kKeys;
}

JwkSet keySet(const std::vector<const TestKey*>& members) {
  std::vector<std::string> texts;
  for (const TestKey* key : members) texts.push_back(key->publicJwk());
  auto set = JwkSet::parse(jwttest::jwks(texts));
  EXPECT_TRUE(set.ok()) << set.error().message;
  return set.ok() ? std::move(*set) : JwkSet{};
}

/// The issuer's published keys: one of each type.
const JwkSet& issuerKeys() {
  static const JwkSet kSet = keySet({&keys().rsa, &keys().ec, &keys().ec384, &keys().ed});
  return kSet;
}

json claims() {
  return json{{"iss", kIssuer},
              {"aud", kAudience},
              {"sub", "user-123"},
              {"exp", epoch(kNow + hours(1))},
              {"iat", epoch(kNow - minutes(1))},
              {"preferred_username", "alice"},
              {"email", "alice@example.com"},
              {"groups", {"dev", "ops"}}};
}

json header(std::string_view alg, const TestKey& key) {
  json h{{"alg", alg}, {"typ", "JWT"}};
  if (!key.kid.empty()) h["kid"] = key.kid;
  return h;
}

std::string sign(const TestKey& key, std::string_view alg, const json& payload) {
  return jwttest::signJws(key, alg, header(alg, key).dump(), payload.dump());
}

std::string sign(const json& payload) {
  return sign(keys().rsa, "RS256", payload);
}

JwtPolicy policy() {
  JwtPolicy p;
  p.issuer = kIssuer;
  p.audience = kAudience;
  return p;
}

Result<VerifiedJwt> verify(std::string_view token, const JwtPolicy& p = policy()) {
  return verifyJwt(token, issuerKeys(), p, kNow);
}

/// The refusal carries `sqlstate`, mentions `fragment`, and quotes no part of
/// the token (the header, payload and signature segments, or all of it).
template <class T>
void expectRefused(const Result<T>& result, std::string_view sqlstate, std::string_view fragment,
                   std::string_view token) {
  ASSERT_FALSE(result.ok()) << "accepted: " << token.substr(0, 80);
  const Error& error = result.error();
  EXPECT_EQ(error.sqlstate, sqlstate) << error.message;
  EXPECT_NE(error.message.find(fragment), std::string::npos)
      << "message: " << error.message << "\nexpected to contain: " << fragment;
  if (!token.empty()) {
    EXPECT_EQ(error.message.find(token), std::string::npos) << error.message;
  }
  size_t start = 0;
  while (start <= token.size()) {
    size_t dot = token.find('.', start);
    std::string_view part = token.substr(start, dot == std::string_view::npos ? dot : dot - start);
    if (part.size() >= 8) {
      EXPECT_EQ(error.message.find(part), std::string::npos)
          << "message quotes a token segment: " << error.message;
    }
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
}

// --- Success per algorithm ----------------------------------------------------

struct AlgCase {
  std::string_view alg;
  const TestKey& (*key)();
  JwsAlgorithm expected;
};

const TestKey& rsaKey() {
  return keys().rsa;
}
const TestKey& ecKey() {
  return keys().ec;
}
const TestKey& ec384Key() {
  return keys().ec384;
}
const TestKey& edKey() {
  return keys().ed;
}

void PrintTo(const AlgCase& c, std::ostream* os) {
  *os << c.alg;
}

class EveryAlgorithm : public testing::TestWithParam<AlgCase> {};

TEST_P(EveryAlgorithm, VerifiesAndBuildsTheSubject) {
  const AlgCase& c = GetParam();
  JwtPolicy p = policy();
  p.algorithms = {c.expected};
  std::string token = sign(c.key(), c.alg, claims());
  auto verified = verify(token, p);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  const Subject& s = verified->subject;
  EXPECT_EQ(s.method, AuthMethod::Oidc);
  EXPECT_EQ(s.issuer, kIssuer);
  EXPECT_EQ(s.id, "user-123");
  EXPECT_EQ(s.display_name, "alice");
  EXPECT_EQ(s.groups, (std::vector<std::string>{"dev", "ops"}));
  ASSERT_TRUE(s.expires_at.has_value());
  EXPECT_EQ(*s.expires_at, kNow + hours(1));
  ASSERT_TRUE(verified->issued_at.has_value());
  EXPECT_EQ(*verified->issued_at, kNow - minutes(1));
  EXPECT_EQ(verified->kid, c.key().kid);
  EXPECT_EQ(verified->alg, c.expected);
}

INSTANTIATE_TEST_SUITE_P(Table, EveryAlgorithm,
                         testing::Values(AlgCase{"RS256", rsaKey, JwsAlgorithm::Rs256},
                                         AlgCase{"RS384", rsaKey, JwsAlgorithm::Rs384},
                                         AlgCase{"RS512", rsaKey, JwsAlgorithm::Rs512},
                                         AlgCase{"PS256", rsaKey, JwsAlgorithm::Ps256},
                                         AlgCase{"PS384", rsaKey, JwsAlgorithm::Ps384},
                                         AlgCase{"PS512", rsaKey, JwsAlgorithm::Ps512},
                                         AlgCase{"ES256", ecKey, JwsAlgorithm::Es256},
                                         AlgCase{"ES384", ec384Key, JwsAlgorithm::Es384},
                                         AlgCase{"EdDSA", edKey, JwsAlgorithm::EdDsa}),
                         [](const testing::TestParamInfo<AlgCase>& info) {
                           return std::string(info.param.alg);
                         });

TEST(VerifyJwt, DefaultPolicyAcceptsRs256Ps256Es256EdDsa) {
  EXPECT_TRUE(verify(sign(keys().rsa, "RS256", claims())).ok());
  EXPECT_TRUE(verify(sign(keys().rsa, "PS256", claims())).ok());
  EXPECT_TRUE(verify(sign(keys().ec, "ES256", claims())).ok());
  EXPECT_TRUE(verify(sign(keys().ed, "EdDSA", claims())).ok());
  std::string token = sign(keys().rsa, "RS512", claims());
  expectRefused(verify(token), "28000",
                R"(token algorithm "RS512" is not allowed (allowed: RS256, PS256, ES256, EdDSA))",
                token);
}

TEST(VerifyJwt, AlgorithmOutsideThePolicyIsRefused) {
  JwtPolicy p = policy();
  p.algorithms = {JwsAlgorithm::Rs256};
  std::string token = sign(keys().ec, "ES256", claims());
  auto result = verify(token, p);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28000", "", token));
  EXPECT_EQ(result.error().message, R"(token algorithm "ES256" is not allowed (allowed: RS256))");
}

TEST(VerifyJwt, AccessTokenTypesAreAccepted) {
  for (std::string_view typ : {"JWT", "jwt", "at+jwt", "application/at+jwt"}) {
    json h = header("RS256", keys().rsa);
    h["typ"] = typ;
    EXPECT_TRUE(verify(jwttest::signJws(keys().rsa, "RS256", h.dump(), claims().dump())).ok())
        << typ;
  }
  json h = header("RS256", keys().rsa);
  h.erase("typ");
  EXPECT_TRUE(verify(jwttest::signJws(keys().rsa, "RS256", h.dump(), claims().dump())).ok());
}

// --- Time claims --------------------------------------------------------------

TEST(VerifyJwt, ExpiredTokenSaysWhenAndNow) {
  json c = claims();
  c["exp"] = epoch(sys_days{year{2026} / 11 / 24} + hours(10));
  std::string token = sign(c);
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28P01", "token expired", token));
  EXPECT_EQ(result.error().message,
            "token expired at 2026-11-24T10:00:00Z (now 2026-11-24T10:05:12Z, clock skew 60s)");
}

TEST(VerifyJwt, ExpiryWithinTheClockSkewIsAccepted) {
  json c = claims();
  c["exp"] = epoch(kNow - seconds(59));
  EXPECT_TRUE(verify(sign(c)).ok());
  c["exp"] = epoch(kNow - seconds(60));
  expectRefused(verify(sign(c)), "28P01", "token expired at 2026-11-24T10:04:12Z", sign(c));
  JwtPolicy strict = policy();
  strict.clock_skew = seconds(0);
  c["exp"] = epoch(kNow);
  expectRefused(verify(sign(c), strict), "28P01", "clock skew 0s", sign(c));
}

TEST(VerifyJwt, MissingOrNonNumericExpiry) {
  json c = claims();
  c.erase("exp");
  std::string token = sign(c);
  expectRefused(verify(token), "28P01", "token has no expiry (exp)", token);

  c["exp"] = std::to_string(epoch(kNow + hours(1)));
  token = sign(c);
  expectRefused(verify(token), "28000", R"(token claim "exp" is not a number)", token);

  c["exp"] = true;
  expectRefused(verify(sign(c)), "28000", R"(token claim "exp" is not a number)", sign(c));
  c["exp"] = 1e300;
  expectRefused(verify(sign(c)), "28000", R"(token claim "exp" is outside the supported range)",
                sign(c));
  c["exp"] = -5;
  expectRefused(verify(sign(c)), "28000", "outside the supported range", sign(c));
}

TEST(VerifyJwt, FractionalNumericDatesAreAccepted) {
  json c = claims();
  c["exp"] = static_cast<double>(epoch(kNow + hours(1))) + 0.5;
  auto verified = verify(sign(c));
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(*verified->subject.expires_at, kNow + hours(1));
}

TEST(VerifyJwt, NotYetValid) {
  json c = claims();
  c["nbf"] = epoch(kNow + minutes(5));
  std::string token = sign(c);
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28P01", "", token));
  EXPECT_EQ(result.error().message,
            "token is not valid before 2026-11-24T10:10:12Z (now 2026-11-24T10:05:12Z, clock skew "
            "60s)");
  c["nbf"] = epoch(kNow + seconds(60));
  EXPECT_TRUE(verify(sign(c)).ok());
  c["nbf"] = "soon";
  expectRefused(verify(sign(c)), "28000", R"(token claim "nbf" is not a number)", sign(c));
}

TEST(VerifyJwt, IssuedInTheFuture) {
  json c = claims();
  c["iat"] = epoch(kNow + minutes(10));
  std::string token = sign(c);
  expectRefused(verify(token), "28P01",
                "token was issued in the future, at 2026-11-24T10:15:12Z (now "
                "2026-11-24T10:05:12Z, clock skew 60s)",
                token);
  c["iat"] = epoch(kNow + seconds(30));
  EXPECT_TRUE(verify(sign(c)).ok());
  c.erase("iat");
  auto verified = verify(sign(c));
  ASSERT_TRUE(verified.ok());
  EXPECT_FALSE(verified->issued_at.has_value());
}

TEST(VerifyJwt, LifetimeOverTheMaximum) {
  JwtPolicy p = policy();
  p.max_lifetime = hours(1);
  json c = claims();
  c["iat"] = epoch(kNow - minutes(1));
  c["exp"] = epoch(kNow + hours(2));
  std::string token = sign(c);
  expectRefused(verify(token, p), "28P01",
                "token lifetime 7260s (issued 2026-11-24T10:04:12Z, expires "
                "2026-11-24T12:05:12Z) exceeds the maximum of 3600s",
                token);
  c["exp"] = epoch(kNow + minutes(59));
  EXPECT_TRUE(verify(sign(c), p).ok());
  c.erase("iat");
  token = sign(c);
  expectRefused(verify(token, p), "28P01", "token has no issue time (iat)", token);
  EXPECT_TRUE(verify(token).ok());  // no maximum, no iat needed
}

// --- Issuer and audience ------------------------------------------------------

TEST(VerifyJwt, WrongIssuer) {
  json c = claims();
  c["iss"] = "https://evil.example.com";
  std::string token = sign(c);
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28P01", "", token));
  EXPECT_EQ(result.error().message,
            R"(token issuer "https://evil.example.com" is not the expected )"
            R"("https://idp.example.com/realms/acme")");
  c.erase("iss");
  expectRefused(verify(sign(c)), "28P01", "token has no issuer (iss)", sign(c));
  c["iss"] = json::array({kIssuer});
  expectRefused(verify(sign(c)), "28000", R"(token claim "iss" is not a string)", sign(c));
}

TEST(VerifyJwt, WrongAudience) {
  json c = claims();
  c["aud"] = "other";
  std::string token = sign(c);
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28P01", "", token));
  EXPECT_EQ(result.error().message, R"(token audience ["other"] does not include "pgwarden")");

  c["aud"] = {"account", "other"};
  expectRefused(verify(sign(c)), "28P01",
                R"(token audience ["account", "other"] does not include "pgwarden")", sign(c));
  c.erase("aud");
  expectRefused(verify(sign(c)), "28P01", R"(token has no audience (aud); expected "pgwarden")",
                sign(c));
  c["aud"] = 7;
  expectRefused(verify(sign(c)), "28000", R"("aud" must be a string or an array of strings)",
                sign(c));
  c["aud"] = {"pgwarden", 7};
  expectRefused(verify(sign(c)), "28000", R"("aud" must be a string or an array of strings)",
                sign(c));
}

TEST(VerifyJwt, AudienceArrayContainingUsIsAccepted) {
  json c = claims();
  c["aud"] = {"account", "pgwarden"};
  EXPECT_TRUE(verify(sign(c)).ok());
}

TEST(VerifyJwt, HostileClaimValuesAreEscapedAndCut) {
  json c = claims();
  c["iss"] = "evil\n2026-11-24 LOG:  fake line \x01" + std::string(300, 'x');
  std::string token = sign(c);
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(
      result, "28P01", R"(token issuer "evil\n2026-11-24 LOG:  fake line \u0001)", token));
  EXPECT_EQ(result.error().message.find('\n'), std::string::npos);
  EXPECT_EQ(result.error().message.find(std::string(200, 'x')), std::string::npos);
}

TEST(VerifyJwt, PolicyWithoutIssuerOrAudienceAcceptsNothing) {
  JwtPolicy p = policy();
  p.audience.clear();
  std::string token = sign(claims());
  expectRefused(verify(token, p), "28000", "lack an issuer or audience", token);
}

// --- Identity: subject, display name, groups, required claims -----------------

TEST(VerifyJwt, GroupsFromANestedClaim) {
  JwtPolicy p = policy();
  p.groups_claim = "realm_access.roles";
  json c = claims();
  c["realm_access"] = {{"roles", {"admin", "auditor"}}};
  auto verified = verify(sign(c), p);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject.groups, (std::vector<std::string>{"admin", "auditor"}));

  c.erase("realm_access");
  verified = verify(sign(c), p);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->subject.groups.empty());
}

TEST(VerifyJwt, GroupsClaimShapes) {
  json c = claims();
  c["groups"] = "solo";
  auto verified = verify(sign(c));
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->subject.groups, (std::vector<std::string>{"solo"}));

  c.erase("groups");
  verified = verify(sign(c));
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->subject.groups.empty());

  c["groups"] = {"dev", 42};
  expectRefused(verify(sign(c)), "28000",
                R"(token claim "groups" must be a string or an array of strings)", sign(c));
  c["groups"] = {{"name", "dev"}};
  expectRefused(verify(sign(c)), "28000", "must be a string or an array of strings", sign(c));

  JwtPolicy p = policy();
  p.groups_claim.clear();
  verified = verify(sign(c), p);
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->subject.groups.empty());
}

TEST(VerifyJwt, NamespacedClaimWithDotsIsReadWhole) {
  JwtPolicy p = policy();
  p.groups_claim = "https://pgwarden.example.com/groups";
  json c = claims();
  c["https://pgwarden.example.com/groups"] = {"ci"};
  auto verified = verify(sign(c), p);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject.groups, (std::vector<std::string>{"ci"}));
}

TEST(VerifyJwt, DisplayNameFallsBackInOrder) {
  json c = claims();
  c.erase("preferred_username");
  auto verified = verify(sign(c));
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->subject.display_name, "alice@example.com");

  c.erase("email");
  c["name"] = "";
  verified = verify(sign(c));
  ASSERT_TRUE(verified.ok());
  EXPECT_EQ(verified->subject.display_name, "user-123");
}

TEST(VerifyJwt, SubjectClaim) {
  json c = claims();
  c.erase("sub");
  std::string token = sign(c);
  expectRefused(verify(token), "28P01", R"(token has no subject claim "sub")", token);
  c["sub"] = "";
  expectRefused(verify(sign(c)), "28P01", R"(token subject claim "sub" is empty)", sign(c));
  c["sub"] = 12345;
  expectRefused(verify(sign(c)), "28000", R"(token claim "sub" is not a string)", sign(c));

  JwtPolicy p = policy();
  p.subject_claim = "oid";
  c["oid"] = "00000000-aaaa";
  auto verified = verify(sign(c), p);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject.id, "00000000-aaaa");
}

TEST(VerifyJwt, RequiredClaims) {
  JwtPolicy p = policy();
  p.required_claims = {{"tenant", "acme"}, {"email_verified", std::nullopt}};
  json c = claims();
  c["tenant"] = "acme";
  c["email_verified"] = true;
  EXPECT_TRUE(verify(sign(c), p).ok());

  c["tenant"] = "other";
  expectRefused(verify(sign(c), p), "28P01", R"(token claim "tenant" is "other", required "acme")",
                sign(c));
  c["tenant"] = 1;
  expectRefused(verify(sign(c), p), "28P01", R"(token claim "tenant" is not a string)", sign(c));
  c.erase("tenant");
  expectRefused(verify(sign(c), p), "28P01", R"(token has no claim "tenant", which is required)",
                sign(c));
  c["tenant"] = "acme";
  c.erase("email_verified");
  expectRefused(verify(sign(c), p), "28P01", R"(token has no claim "email_verified")", sign(c));

  p.required_claims = {{"realm_access.tier", "gold"}};
  c["realm_access"] = {{"tier", "gold"}};
  EXPECT_TRUE(verify(sign(c), p).ok());
}

// --- Algorithm attacks --------------------------------------------------------

TEST(VerifyJwt, AlgNoneIsRefused) {
  for (std::string_view none : {"none", "None", "NONE"}) {
    std::string token = jwttest::b64url(json{{"alg", none}, {"kid", "rsa-1"}}.dump()) + "." +
                        jwttest::b64url(claims().dump()) + ".";
    JwtPolicy p = policy();
    expectRefused(verify(token, p), "28000", "unsigned tokens are never accepted", token);
    // With a genuine signature appended it is still unsigned by its own header.
    std::string signed_token = token + jwttest::b64url(jwttest::signRaw(
                                           keys().rsa, "RS256", token.substr(0, token.size() - 1)));
    expectRefused(verify(signed_token), "28000", "is not allowed", signed_token);
  }
  std::string token =
      jwttest::b64url(R"({"alg":"none"})") + "." + jwttest::b64url(claims().dump()) + ".";
  auto result = verify(token);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.error().message,
            R"(token algorithm "none" is not allowed: unsigned tokens are never accepted )"
            R"((allowed: RS256, PS256, ES256, EdDSA))");
}

TEST(VerifyJwt, Hs256SignedWithThePublicKeyIsRefused) {
  // The classic confusion: an HMAC keyed with the RSA public key, which anyone
  // can fetch from the JWKS; a verifier that let the header pick the algorithm
  // would accept it.
  const TestKey& rsa = keys().rsa;
  std::string header_json = json{{"alg", "HS256"}, {"kid", rsa.kid}, {"typ", "JWT"}}.dump();
  for (const std::string& secret : {rsa.publicPem(), rsa.publicJwk()}) {
    std::string token = jwttest::signHs256(secret, header_json, claims().dump());
    auto result = verify(token);
    ASSERT_NO_FATAL_FAILURE(
        expectRefused(result, "28000",
                      R"(token algorithm "HS256" is not allowed: shared-secret (HMAC) algorithms )"
                      R"(are never accepted)",
                      token));
    EXPECT_FALSE(verifyJws(token, issuerKeys().keys()[0]).ok());
  }
}

TEST(VerifyJwt, AlgorithmMustFitTheKeyType) {
  // RS256 is allowed, but kid "ec-1" is an EC key.
  json h = header("RS256", keys().rsa);
  h["kid"] = "ec-1";
  std::string token = jwttest::signJws(keys().rsa, "RS256", h.dump(), claims().dump());
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28000", "", token));
  EXPECT_EQ(result.error().message,
            R"(token algorithm "RS256" cannot be used with key "ec-1": it is an EC P-256 key)");

  // ES256 with the P-384 key, EdDSA with an RSA key.
  h = header("ES256", keys().ec384);
  token = jwttest::signJws(keys().ec, "ES256", h.dump(), claims().dump());
  expectRefused(verify(token), "28000", "it is an EC P-384 key", token);
  h = header("EdDSA", keys().rsa);
  token = jwttest::signJws(keys().ed, "EdDSA", h.dump(), claims().dump());
  expectRefused(verify(token), "28000", "it is an RSA key", token);
}

TEST(VerifyJwt, KeyBoundToAnAlgorithmRefusesOthers) {
  JwkSet set = [] {
    auto parsed = JwkSet::parse(jwttest::jwks({keys().rsa.publicJwk(R"("alg":"RS256")")}));
    EXPECT_TRUE(parsed.ok());
    return std::move(*parsed);
  }();
  EXPECT_TRUE(verifyJwt(sign(keys().rsa, "RS256", claims()), set, policy(), kNow).ok());
  std::string token = sign(keys().rsa, "PS256", claims());
  expectRefused(verifyJwt(token, set, policy(), kNow), "28000",
                R"(cannot be used with key "rsa-1": its "alg" is RS256)", token);
}

TEST(VerifyJwt, UnsupportedAlgorithmAndCriticalHeader) {
  json h = header("ES512", keys().ec);
  std::string token = jwttest::signJws(keys().ec, "ES256", h.dump(), claims().dump());
  expectRefused(verify(token), "28000",
                R"(token algorithm "ES512" is not allowed: the gateway does not support it)",
                token);

  h = header("RS256", keys().rsa);
  h["crit"] = {"exp"};
  h["exp"] = 1;
  token = jwttest::signJws(keys().rsa, "RS256", h.dump(), claims().dump());
  expectRefused(verify(token), "28000", R"(token header has "crit")", token);

  h = header("RS256", keys().rsa);
  h["typ"] = "dpop+jwt";
  token = jwttest::signJws(keys().rsa, "RS256", h.dump(), claims().dump());
  expectRefused(verify(token), "28000", R"(token type (typ) "dpop+jwt" is not an access token)",
                token);
}

// --- Tampering ----------------------------------------------------------------

class Tampering : public testing::TestWithParam<AlgCase> {};

TEST_P(Tampering, ChangedPayloadOrSignatureDoesNotVerify) {
  const AlgCase& c = GetParam();
  JwtPolicy p = policy();
  p.algorithms = {c.expected};
  std::string token = sign(c.key(), c.alg, claims());
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);

  json other = claims();
  other["sub"] = "admin";
  std::string forged =
      token.substr(0, first + 1) + jwttest::b64url(other.dump()) + token.substr(second);
  std::string expected = "token signature does not verify with key \"" + c.key().kid + "\"";
  auto result = verify(forged, p);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28P01", "", forged));
  EXPECT_EQ(result.error().message, expected);

  std::string flipped = token;
  char& ch = flipped[second + 1];  // all six bits of the first character are used
  ch = ch == 'A' ? 'B' : 'A';
  expectRefused(verify(flipped, p), "28P01", expected, flipped);
}

INSTANTIATE_TEST_SUITE_P(Table, Tampering,
                         testing::Values(AlgCase{"RS256", rsaKey, JwsAlgorithm::Rs256},
                                         AlgCase{"PS256", rsaKey, JwsAlgorithm::Ps256},
                                         AlgCase{"ES256", ecKey, JwsAlgorithm::Es256},
                                         AlgCase{"ES384", ec384Key, JwsAlgorithm::Es384},
                                         AlgCase{"EdDSA", edKey, JwsAlgorithm::EdDsa}),
                         [](const testing::TestParamInfo<AlgCase>& info) {
                           return std::string(info.param.alg);
                         });

TEST(VerifyJwt, SignatureByAnotherKeyWithTheSameKid) {
  json h = header("RS256", keys().rsa);  // kid rsa-1, signed by rsa-2
  std::string token = jwttest::signJws(keys().rsa2, "RS256", h.dump(), claims().dump());
  expectRefused(verify(token), "28P01", R"(token signature does not verify with key "rsa-1")",
                token);
}

TEST(VerifyJwt, DerEcdsaSignatureIsRefusedWithAHint) {
  std::string token = jwttest::signJws(keys().ec, "ES256", header("ES256", keys().ec).dump(),
                                       claims().dump(), /*der=*/true);
  expectRefused(verify(token), "28000", "needs 64 (R || S, RFC 7518 §3.4, not DER)", token);
}

// --- Key selection ------------------------------------------------------------

TEST(VerifyJwt, UnknownKid) {
  json h = header("RS256", keys().rsa);
  h["kid"] = "rotated-away";
  std::string token = jwttest::signJws(keys().rsa, "RS256", h.dump(), claims().dump());
  expectRefused(verify(token), "28000",
                R"(token key id "rotated-away" is not one of the issuer's keys ("rsa-1", "ec-1", )"
                R"("ec384-1", "ed-1"))",
                token);
  EXPECT_EQ(issuerKeys().find("rotated-away"), nullptr);
  ASSERT_NE(issuerKeys().find("ec-1"), nullptr);
  EXPECT_EQ(issuerKeys().find("ec-1")->type, JwkKeyType::EcP256);
}

TEST(VerifyJwt, KidlessTokenWithOneFittingKey) {
  TestKey kidless_rsa{keys().rsa.pkey, ""};
  std::string token = sign(kidless_rsa, "RS256", claims());
  // Several keys, but only one RSA key: it is the one.
  auto verified = verify(token);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->kid, "rsa-1");

  // A key without kid in a one-key set.
  JwkSet one = keySet({&kidless_rsa});
  verified = verifyJwt(token, one, policy(), kNow);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->kid, "");
}

TEST(VerifyJwt, KidlessTokenWithSeveralFittingKeys) {
  TestKey kidless_rsa{keys().rsa.pkey, ""};
  std::string token = sign(kidless_rsa, "RS256", claims());
  JwkSet two = keySet({&keys().rsa, &keys().rsa2});
  expectRefused(verifyJwt(token, two, policy(), kNow), "28000",
                "token has no key id and the issuer publishes several keys for RS256 (2)", token);

  JwkSet none = keySet({&keys().ec});
  expectRefused(verifyJwt(token, none, policy(), kNow), "28000",
                "token has no key id and the issuer publishes no key for RS256", token);
}

TEST(VerifyJwt, EmptyKeySetVerifiesNothing) {
  std::string token = sign(claims());
  expectRefused(verifyJwt(token, JwkSet{}, policy(), kNow), "28000",
                "is not one of the issuer's keys", token);
}

// --- Malformed tokens ---------------------------------------------------------

struct Malformed {
  std::string name;
  std::string token;
  std::string mentions;
};

void PrintTo(const Malformed& m, std::ostream* os) {
  *os << m.name;
}

class MalformedToken : public testing::TestWithParam<Malformed> {};

TEST_P(MalformedToken, IsRefusedWith28000) {
  const Malformed& m = GetParam();
  expectRefused(verify(m.token), "28000", m.mentions, m.token);
}

std::vector<Malformed> malformedTokens() {
  const TestKey& rsa = keys().rsa;
  std::string good = sign(claims());
  size_t first = good.find('.');
  size_t second = good.find('.', first + 1);
  std::string h = good.substr(0, first);
  std::string p = good.substr(first + 1, second - first - 1);
  std::string s = good.substr(second + 1);
  std::string rsa_header = header("RS256", rsa).dump();
  json exp_string = claims();
  exp_string["exp"] = "1900000000";
  return {
      {"Empty", "", "token is empty"},
      {"TwoParts", h + "." + p,
       "expected 3 dot-separated parts (header.payload.signature), found 2"},
      {"OnePart", h, "found 1"},
      {"FourParts", good + "." + s, "found 4"},
      {"FiveParts", good + ".abc.def", "encrypted JWT (JWE, 5 parts)"},
      {"PlusInHeader", "+" + good.substr(1), "token header is not valid base64url"},
      {"SlashInPayload", h + "." + p.substr(0, 4) + "/" + p.substr(5) + "." + s,
       "token payload is not valid base64url"},
      {"PaddedSignature", good + "==", "token signature is not valid base64url"},
      {"PaddedHeader", jwttest::b64url("{\"alg\":\"RS256\"}") + "=." + p + "." + s,
       "token header is not valid base64url"},
      {"WhitespaceInToken", h + ". " + p + "." + s, "token payload is not valid base64url"},
      {"TrailingNewline", good + "\n", "token signature is not valid base64url"},
      {"NonJsonHeader", jwttest::b64url("not json") + "." + p + "." + s,
       "token header is not a JSON object"},
      {"ArrayHeader", jwttest::b64url(R"(["RS256"])") + "." + p + "." + s,
       "token header is not a JSON object"},
      {"NoAlg", jwttest::signJws(rsa, "RS256", R"({"kid":"rsa-1"})", claims().dump()),
       R"(token header has no "alg")"},
      {"AlgNotAString",
       jwttest::signJws(rsa, "RS256", R"({"alg":256,"kid":"rsa-1"})", claims().dump()),
       R"(token header "alg" is not a string)"},
      {"KidNotAString",
       jwttest::signJws(rsa, "RS256", R"({"alg":"RS256","kid":1})", claims().dump()),
       R"(token header "kid" is not a string)"},
      {"NonObjectPayload", jwttest::signJws(rsa, "RS256", rsa_header, "[1,2,3]"),
       "token payload is not a JSON object"},
      {"NonJsonPayload", jwttest::signJws(rsa, "RS256", rsa_header, "hello"),
       "token payload is not a JSON object"},
      {"ExpAsString", jwttest::signJws(rsa, "RS256", rsa_header, exp_string.dump()),
       R"(token claim "exp" is not a number (RFC 7519 NumericDate))"},
      {"EmptySignature", h + "." + p + ".", "token signature has 0 bytes; RS256 with key"},
      {"TruncatedSignature", h + "." + p + "." + s.substr(0, 340),
       R"(token signature has 255 bytes; RS256 with key "rsa-1" needs 256)"},
  };
}

INSTANTIATE_TEST_SUITE_P(Table, MalformedToken, testing::ValuesIn(malformedTokens()),
                         [](const testing::TestParamInfo<Malformed>& info) {
                           return info.param.name;
                         });

TEST(VerifyJwt, OversizedTokenIsRefusedBeforeParsing) {
  json c = claims();
  c["padding"] = std::string(kMaxJwtBytes, 'p');
  std::string token = sign(c);
  ASSERT_GT(token.size(), kMaxJwtBytes);
  auto result = verify(token);
  ASSERT_NO_FATAL_FAILURE(expectRefused(result, "28000", "", token));
  EXPECT_EQ(result.error().message,
            "token is " + std::to_string(token.size()) + " bytes, more than the limit of 16384");
  std::string garbage(kMaxJwtBytes + 1, '.');
  expectRefused(verify(garbage), "28000", "more than the limit of 16384", "");
  expectRefused(decodeJwtHeader(garbage), "28000", "more than the limit", "");
  expectRefused(peekIssuer(garbage), "28000", "more than the limit", "");

  c["padding"] = std::string(kMaxJwtBytes / 2, 'p');
  EXPECT_TRUE(verify(sign(c)).ok());
}

// --- Header and issuer peeking ------------------------------------------------

TEST(DecodeJwtHeader, ReturnsAlgKidTypWithoutVerifying) {
  std::string token = sign(keys().ec, "ES256", claims());
  token.back() = token.back() == 'A' ? 'Q' : 'A';  // the signature is not looked at
  auto header = decodeJwtHeader(token);
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_EQ(header->alg, "ES256");
  EXPECT_EQ(header->kid, "ec-1");
  EXPECT_EQ(header->typ, "JWT");

  std::string unsigned_token =
      jwttest::b64url(R"({"alg":"none"})") + "." + jwttest::b64url("{}") + ".";
  header = decodeJwtHeader(unsigned_token);
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->alg, "none");
  EXPECT_EQ(header->kid, "");
  expectRefused(decodeJwtHeader("abc.def"), "28000", "found 2", "abc.def");
}

TEST(PeekIssuer, ReturnsTheUnverifiedIssuer) {
  std::string token = sign(claims());
  auto iss = peekIssuer(token);
  ASSERT_TRUE(iss.ok()) << iss.error().message;
  EXPECT_EQ(*iss, kIssuer);

  json c = claims();
  c.erase("iss");
  token = sign(c);
  expectRefused(peekIssuer(token), "28000", "token has no issuer (iss)", token);
  token = jwttest::signJws(keys().rsa, "RS256", header("RS256", keys().rsa).dump(), "[]");
  expectRefused(peekIssuer(token), "28000", "token payload is not a JSON object", token);
}

}  // namespace
}  // namespace pgw::auth
