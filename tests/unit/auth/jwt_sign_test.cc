// The dev issuer's signer: RFC 8037 and RFC 7638 test vectors, tokens that
// verifyJwt accepts against the published JWK Set, and tokens it must refuse
// once tampered with. Key files and messages never leak the private key.

#include "auth/jwt_sign.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/jwt.h"

namespace pgw::auth {
namespace {

using namespace std::chrono;
using nlohmann::json;

/// RFC 8037 Appendix A.1's private key ("d" = nWGxne_9WmC6...) as PKCS#8 PEM.
constexpr std::string_view kRfc8037Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
/// The base64 body of kRfc8037Pem, which no message may contain.
constexpr std::string_view kRfc8037PemBody =
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g";
/// RFC 8037 A.2: the public key "x".
constexpr std::string_view kRfc8037X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
/// RFC 8037 A.3: the RFC 7638 thumbprint of that public key.
constexpr std::string_view kRfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

constexpr std::string_view kEcP256Pem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEEMttwLfOoItPuEH\n"
    "Ga7slWf+lnOpjDpwUK8tGvoHgh2hRANCAASYhhC8h7eXFNO67icrAkJAqVTBDAGW\n"
    "mUPKIDHuqab6iCkgjXXxUXiOpNJuiSfrAYc7zIIS7pGxNZ7CBrFrH+iV\n"
    "-----END PRIVATE KEY-----\n";

/// An Ed25519 key encrypted with the passphrase "secret".
constexpr std::string_view kEncryptedEd25519Pem =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAgN22M+rhTQdQICCAAw\n"
    "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEK65HX4G+scwKlegxJVdjTMEQPwj\n"
    "f3UYd1FYvZR1oLeHdrjwhEY+CAGHOvIQybjRj1KbgQiOSC9eNmONpDfQ7klhJI+8\n"
    "lxL2DbPTWkLrkWPfl4E=\n"
    "-----END ENCRYPTED PRIVATE KEY-----\n";

constexpr std::string_view kIssuer = "http://127.0.0.1:8240/dev-issuer";
constexpr std::string_view kAudience = "pgwarden";

// 2026-11-24T10:05:12Z
const system_clock::time_point kNow =
    sys_days{year{2026} / 11 / 24} + hours(10) + minutes(5) + seconds(12);

int64_t epoch(system_clock::time_point t) {
  return duration_cast<seconds>(t.time_since_epoch()).count();
}

Ed25519SigningKey rfcKey() {
  auto key = Ed25519SigningKey::fromPem(kRfc8037Pem);
  EXPECT_TRUE(key.ok()) << key.error().message;
  return std::move(*key);
}

Ed25519SigningKey freshKey() {
  auto key = Ed25519SigningKey::generate();
  EXPECT_TRUE(key.ok()) << key.error().message;
  return std::move(*key);
}

json devClaims() {
  return {{"iss", kIssuer},
          {"aud", kAudience},
          {"sub", "alice"},
          {"groups", {"ai-agents", "dev"}},
          {"preferred_username", "Alice"},
          {"iat", epoch(kNow)},
          {"nbf", epoch(kNow)},
          {"exp", epoch(kNow + minutes(15))}};
}

JwtPolicy devPolicy() {
  JwtPolicy policy;
  policy.issuer = std::string(kIssuer);
  policy.audience = std::string(kAudience);
  return policy;
}

JwkSet published(const Ed25519SigningKey& key) {
  auto set = JwkSet::parse(publicJwks(key, keyIdFor(key)));
  EXPECT_TRUE(set.ok()) << set.error().message;
  return set.ok() ? std::move(*set) : JwkSet{};
}

std::string mint(const Ed25519SigningKey& key, const json& claims) {
  auto token = signJwt(claims.dump(), key, keyIdFor(key));
  EXPECT_TRUE(token.ok()) << token.error().message;
  return token.ok() ? *token : std::string();
}

/// The token with part `index` (0 header, 1 payload, 2 signature) replaced.
std::string withPart(const std::string& token, int index, const std::string& part) {
  const size_t d1 = token.find('.');
  const size_t d2 = token.find('.', d1 + 1);
  std::string parts[3] = {token.substr(0, d1), token.substr(d1 + 1, d2 - d1 - 1),
                          token.substr(d2 + 1)};
  parts[index] = part;
  return parts[0] + "." + parts[1] + "." + parts[2];
}

TEST(JwtSign, Rfc8037KeyHasTheRfcsPublicKeyAndThumbprint) {
  const Ed25519SigningKey key = rfcKey();
  EXPECT_EQ(base64UrlEncode(key.publicKey()), kRfc8037X);
  EXPECT_EQ(jwkThumbprint(key), kRfc8037Thumbprint);
  EXPECT_EQ(keyIdFor(key), kRfc8037Thumbprint.substr(0, 16));
}

TEST(JwtSign, SignatureMatchesRfc8037AppendixA4) {
  // Ed25519 is deterministic: the RFC's example signature, byte for byte.
  auto sig = rfcKey().sign("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(
      base64UrlEncode(*sig),
      "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg");
}

TEST(JwtSign, PublicJwkIsAPublicEdDsaSigningKey) {
  const Ed25519SigningKey key = rfcKey();
  const json jwk = json::parse(publicJwk(key, "kid-1"));
  EXPECT_EQ(jwk, (json{{"kty", "OKP"},
                       {"crv", "Ed25519"},
                       {"x", kRfc8037X},
                       {"kid", "kid-1"},
                       {"alg", "EdDSA"},
                       {"use", "sig"}}));
  auto parsed = parseJwk(publicJwk(key, "kid-1"));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->type, JwkKeyType::Ed25519);
  EXPECT_EQ(parsed->alg, JwsAlgorithm::EdDsa);
  EXPECT_EQ(parsed->kid, "kid-1");

  const json set = json::parse(publicJwks(key, "kid-1"));
  ASSERT_TRUE(set["keys"].is_array());
  ASSERT_EQ(set["keys"].size(), 1u);
  EXPECT_EQ(set["keys"][0], jwk);
}

TEST(JwtSign, DifferentKeysGetDifferentKeyIds) {
  EXPECT_NE(keyIdFor(freshKey()), keyIdFor(freshKey()));
  EXPECT_EQ(keyIdFor(rfcKey()), keyIdFor(rfcKey()));
}

TEST(JwtSign, MintedTokenVerifiesAgainstThePublishedKeySet) {
  const Ed25519SigningKey key = freshKey();
  const std::string token = mint(key, devClaims());

  auto header = decodeJwtHeader(token);
  ASSERT_TRUE(header.ok()) << header.error().message;
  EXPECT_EQ(header->alg, "EdDSA");
  EXPECT_EQ(header->typ, "JWT");
  EXPECT_EQ(header->kid, keyIdFor(key));

  auto verified = verifyJwt(token, published(key), devPolicy(), kNow + minutes(1));
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject.id, "alice");
  EXPECT_EQ(verified->subject.display_name, "Alice");
  EXPECT_EQ(verified->subject.groups, (std::vector<std::string>{"ai-agents", "dev"}));
  EXPECT_EQ(verified->subject.issuer, kIssuer);
  EXPECT_EQ(verified->kid, keyIdFor(key));
  EXPECT_EQ(verified->alg, JwsAlgorithm::EdDsa);

  // The same token is refused once it has expired.
  auto expired = verifyJwt(token, published(key), devPolicy(), kNow + minutes(17));
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().sqlstate, "28P01");
}

TEST(JwtSign, DevTokenClaimsBecomeAVerifiableToken) {
  DevTokenClaims claims;
  claims.issuer = std::string(kIssuer);
  claims.audience = std::string(kAudience);
  claims.subject = "bob";
  claims.groups = {"ai-agents"};
  claims.preferred_username = "Bob \"B\"";
  claims.issued_at = kNow + milliseconds(700);  // iat is whole seconds
  claims.lifetime = minutes(5);
  claims.jwt_id = "0123abcd";

  const json j = json::parse(toJson(claims));
  EXPECT_EQ(j, (json{{"iss", kIssuer},
                     {"aud", kAudience},
                     {"sub", "bob"},
                     {"groups", {"ai-agents"}},
                     {"preferred_username", "Bob \"B\""},
                     {"iat", epoch(kNow)},
                     {"nbf", epoch(kNow)},
                     {"exp", epoch(kNow + minutes(5))},
                     {"jti", "0123abcd"}}));

  const Ed25519SigningKey key = freshKey();
  auto token = signJwt(toJson(claims), key, keyIdFor(key));
  ASSERT_TRUE(token.ok()) << token.error().message;
  auto verified = verifyJwt(*token, published(key), devPolicy(), kNow + minutes(4));
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject.id, "bob");
  EXPECT_EQ(verified->subject.display_name, "Bob \"B\"");
  EXPECT_FALSE(verifyJwt(*token, published(key), devPolicy(), kNow + minutes(7)).ok());

  // Without a display name, groups or jti: no such claims, groups still an array.
  claims.groups.clear();
  claims.preferred_username.clear();
  claims.jwt_id.clear();
  const json bare = json::parse(toJson(claims));
  EXPECT_FALSE(bare.contains("preferred_username"));
  EXPECT_FALSE(bare.contains("jti"));
  EXPECT_EQ(bare["groups"], json::array());
}

TEST(JwtSign, TamperedTokensAreRefused) {
  const Ed25519SigningKey key = freshKey();
  const JwkSet keys = published(key);
  const std::string token = mint(key, devClaims());
  ASSERT_TRUE(verifyJwt(token, keys, devPolicy(), kNow).ok());

  json other = devClaims();
  other["groups"] = {"admins"};
  const std::string more_groups = withPart(token, 1, base64UrlEncode(other.dump()));
  auto r1 = verifyJwt(more_groups, keys, devPolicy(), kNow);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().sqlstate, "28P01");
  EXPECT_NE(r1.error().message.find("signature"), std::string::npos) << r1.error().message;

  std::string sig = *base64UrlDecode(token.substr(token.rfind('.') + 1));
  sig[10] = static_cast<char>(sig[10] ^ 0x01);
  auto r2 = verifyJwt(withPart(token, 2, base64UrlEncode(sig)), keys, devPolicy(), kNow);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().sqlstate, "28P01");

  // Signed by another key that claims this key's kid.
  const Ed25519SigningKey impostor = freshKey();
  auto forged = signJwt(devClaims().dump(), impostor, keyIdFor(key));
  ASSERT_TRUE(forged.ok()) << forged.error().message;
  auto r3 = verifyJwt(*forged, keys, devPolicy(), kNow);
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().sqlstate, "28P01");

  // The same claims signed by a key the set does not hold: unknown kid.
  auto r4 = verifyJwt(mint(impostor, devClaims()), keys, devPolicy(), kNow);
  ASSERT_FALSE(r4.ok());
  EXPECT_EQ(r4.error().sqlstate, "28000");
}

TEST(JwtSign, SignJwtRefusesWhatIsNotAClaimsObject) {
  const Ed25519SigningKey key = rfcKey();
  for (const char* bad : {"", "[1,2]", "\"sub\"", "{\"sub\":", "null"}) {
    SCOPED_TRACE(bad);
    auto r = signJwt(bad, key, "k");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sqlstate, "22023");
    EXPECT_NE(r.error().message.find("not a JSON object"), std::string::npos);
  }
  auto no_kid = signJwt("{}", key, "");
  ASSERT_FALSE(no_kid.ok());
  EXPECT_NE(no_kid.error().message.find("key id"), std::string::npos);
}

TEST(JwtSign, OversizedClaimsAreRefused) {
  json claims = devClaims();
  claims["padding"] = std::string(kMaxJwtBytes, 'x');
  auto r = signJwt(claims.dump(), rfcKey(), "k");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("longer than"), std::string::npos) << r.error().message;
}

TEST(JwtSign, FromPemRefusesOtherKeysWithoutQuotingThem) {
  struct Case {
    const char* name;
    std::string pem;
    const char* contains;
  };
  const Case cases[] = {
      {"empty", "", "not an unencrypted PEM private key"},
      {"junk", "hello", "not an unencrypted PEM private key"},
      {"public key only",
       "-----BEGIN PUBLIC KEY-----\n"
       "MCowBQYDK2VwAyEA11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\n"
       "-----END PUBLIC KEY-----\n",
       "not an unencrypted PEM private key"},
      {"truncated", std::string(kRfc8037Pem.substr(0, 60)), "not an unencrypted PEM private key"},
      {"encrypted", std::string(kEncryptedEd25519Pem), "not an unencrypted PEM private key"},
      {"EC key", std::string(kEcP256Pem), "holds a key of type EC, not an Ed25519 key"},
      {"too large", std::string(kMaxSigningKeyPemBytes + 1, 'A'), "larger than 64 KiB"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = Ed25519SigningKey::fromPem(c.pem);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().sqlstate, "28000");
    EXPECT_NE(r.error().message.find(c.contains), std::string::npos) << r.error().message;
    EXPECT_NE(r.error().message.find("openssl genpkey -algorithm ed25519"), std::string::npos)
        << r.error().message;
    EXPECT_EQ(r.error().message.find("MC4CAQ"), std::string::npos) << r.error().message;
    EXPECT_EQ(r.error().message.find("MIGHAgEA"), std::string::npos) << r.error().message;
  }
}

class JwtSignKeyFile : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgw_jwt_sign_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, std::string_view content) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }
  std::filesystem::path dir_;
};

TEST_F(JwtSignKeyFile, LoadsAKeyFileAndNamesTheFileInErrors) {
  auto key = Ed25519SigningKey::loadPemFile(write("dev-issuer.pem", kRfc8037Pem));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(jwkThumbprint(*key), kRfc8037Thumbprint);

  const std::string missing = (dir_ / "missing.pem").string();
  auto r1 = Ed25519SigningKey::loadPemFile(missing);
  ASSERT_FALSE(r1.ok());
  EXPECT_EQ(r1.error().message.rfind(missing + ": cannot open", 0), 0u) << r1.error().message;

  const std::string ec = write("ec.pem", kEcP256Pem);
  auto r2 = Ed25519SigningKey::loadPemFile(ec);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.error().message.rfind(ec + ": holds a key of type EC", 0), 0u) << r2.error().message;

  auto r3 = Ed25519SigningKey::loadPemFile(dir_.string());
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.error().message, dir_.string() + ": is a directory, not a key file");
  EXPECT_EQ(r3.error().message.find(kRfc8037PemBody), std::string::npos);
}

}  // namespace
}  // namespace pgw::auth
