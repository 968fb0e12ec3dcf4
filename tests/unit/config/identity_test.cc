/// parseConfig, `identity:` section: OIDC issuers, service tokens, client
/// certificates and the session rules round-trip into the struct, defaults
/// apply, and every validation rule names the key path that broke it.

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "support/temp_dir.h"

namespace pgw::config {
namespace {

using std::chrono::milliseconds;
using test_support::TempDir;

constexpr const char* kConnections = R"(
connections:
  prod:
    host: db.internal
    credentials:
      ro: { user: agent_ro }
)";

/// `tls:` with a client CA, which identity.client_certificates needs.
constexpr const char* kTlsWithClientCa = R"(
tls:
  cert: certs/server.crt
  key: certs/server.key
  client_ca: certs/clients-ca.pem
)";

class IdentityConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"certs/server.crt", "certs/server.key", "certs/clients-ca.pem",
                          "certs/idp-ca.pem", "certs/dev-issuer.pem"}) {
      dir_.write(f, "-----BEGIN PLACEHOLDER-----\n");
    }
    dir_.write("data/.keep", "");
  }

  Result<std::shared_ptr<const Config>> parse(const std::string& yaml) {
    return parseConfig(yaml, dir_.path());
  }
  std::string abs(const std::string& rel) const { return dir_.path() + "/" + rel; }

  TempDir dir_;
};

TEST_F(IdentityConfigTest, FullSectionRoundTrips) {
  const std::string yaml = std::string(kTlsWithClientCa) + R"(
identity:
  users:
    - { name: alice, password: pw, groups: [dev] }
  allow_plaintext_tokens: true
  application_name: "gw:{subject}/{method}/{client_app}"
  max_auth_failures_per_minute: 0
  token_expiry: { mode: hard_limit, hard_limit: 2h }
  oidc:
    - issuer: "https://idp.example.com/realms/main/"
      audience: pgwarden
      groups_claim: realm_access.roles
      subject_claim: preferred_username
      algorithms: [RS256, PS384, ES256, EdDSA]
      required_claims: { azp: ci-runner, email_verified: "" }
      max_token_lifetime: 24h
      clock_skew: 30s
      ca: certs/idp-ca.pem
      jwks_uri: "https://idp.example.com/keys?v=2"
      jwks_refresh: 1d
      jwks_min_refetch: 10s
    - issuer: "http://127.0.0.1:8444"
      audience: "api://pgwarden"
      groups_claim: ""
    - issuer: "http://localhost:9000/oidc"
      audience: dev
  tokens:
    store: data/tokens.json
  client_certificates:
    id_from: san_email
    groups: { "ci-runner": [ci], "alice@example.com": [dba, ops], "nobody": [] }
    default_groups: [certified]
)" + kConnections;
  auto r = parse(yaml);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;
  const Identity& id = c.identity;

  ASSERT_EQ(c.users.size(), 1u);
  EXPECT_EQ(c.users[0].name, "alice");
  EXPECT_TRUE(id.allow_plaintext_tokens);
  EXPECT_EQ(id.application_name, "gw:{subject}/{method}/{client_app}");
  EXPECT_EQ(id.max_auth_failures_per_minute, 0);
  EXPECT_EQ(id.token_expiry.mode, TokenExpiry::Mode::HardLimit);
  EXPECT_EQ(id.token_expiry.hard_limit, milliseconds(2 * 3600 * 1000));

  ASSERT_EQ(id.oidc.size(), 3u);
  const OidcIssuer& a = id.oidc[0];
  EXPECT_EQ(a.issuer, "https://idp.example.com/realms/main/");  // kept exactly, slash included
  EXPECT_EQ(a.audience, "pgwarden");
  EXPECT_EQ(a.groups_claim, "realm_access.roles");
  EXPECT_EQ(a.subject_claim, "preferred_username");
  EXPECT_EQ(a.algorithms, (std::vector<std::string>{"RS256", "PS384", "ES256", "EdDSA"}));
  EXPECT_EQ(a.required_claims,
            (std::map<std::string, std::string>{{"azp", "ci-runner"}, {"email_verified", ""}}));
  EXPECT_EQ(a.max_token_lifetime, milliseconds(24 * 3600 * 1000));
  EXPECT_EQ(a.clock_skew, milliseconds(30000));
  EXPECT_EQ(a.ca_file, abs("certs/idp-ca.pem"));
  EXPECT_EQ(a.jwks_uri, "https://idp.example.com/keys?v=2");
  EXPECT_EQ(a.jwks_refresh, milliseconds(24 * 3600 * 1000));
  EXPECT_EQ(a.jwks_min_refetch, milliseconds(10000));

  const OidcIssuer& b = id.oidc[1];
  EXPECT_EQ(b.issuer, "http://127.0.0.1:8444");
  EXPECT_EQ(b.audience, "api://pgwarden");
  EXPECT_EQ(b.groups_claim, "");
  EXPECT_EQ(b.subject_claim, "sub");
  EXPECT_EQ(b.algorithms, (std::vector<std::string>{"RS256", "PS256", "ES256", "EdDSA"}));
  EXPECT_TRUE(b.required_claims.empty());
  EXPECT_EQ(b.max_token_lifetime, milliseconds(0));
  EXPECT_EQ(b.clock_skew, milliseconds(60000));
  EXPECT_TRUE(b.ca_file.empty());
  EXPECT_TRUE(b.jwks_uri.empty());
  EXPECT_EQ(b.jwks_refresh, milliseconds(3600000));
  EXPECT_EQ(b.jwks_min_refetch, milliseconds(30000));
  EXPECT_EQ(id.oidc[2].issuer, "http://localhost:9000/oidc");

  EXPECT_EQ(id.tokens.store_file, abs("data/tokens.json"));

  const ClientCertificates& cc = id.client_certificates;
  EXPECT_TRUE(cc.enabled);
  EXPECT_EQ(cc.id_from, ClientCertificates::IdFrom::SanEmail);
  EXPECT_EQ(cc.groups, (std::map<std::string, std::vector<std::string>>{
                           {"ci-runner", {"ci"}},
                           {"alice@example.com", {"dba", "ops"}},
                           {"nobody", {}},
                       }));
  EXPECT_EQ(cc.default_groups, (std::vector<std::string>{"certified"}));
}

TEST_F(IdentityConfigTest, TheBriefsExampleIsAccepted) {
  const std::string yaml = std::string(kTlsWithClientCa) + R"(
identity:
  users: []
  allow_plaintext_tokens: false
  application_name: "pgwarden:{subject}"
  max_auth_failures_per_minute: 20
  token_expiry: { mode: terminate, hard_limit: 8h }
  oidc:
    - issuer: "https://idp.example.com"
      audience: pgwarden
      groups_claim: groups
      subject_claim: sub
      algorithms: [RS256, PS256, ES256, EdDSA]
      required_claims: { azp: ci-runner, email_verified: "" }
      max_token_lifetime: 24h
      clock_skew: 60s
      ca: certs/idp-ca.pem
      jwks_uri: "https://idp.example.com/jwks"
      jwks_refresh: 1h
      jwks_min_refetch: 30s
  tokens:
    store: data/tokens.json
  client_certificates:
    id_from: cn
    groups: { "ci-runner": [ci], "alice@example.com": [dba] }
    default_groups: []
)" + kConnections;
  auto r = parse(yaml);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->identity.token_expiry.mode, TokenExpiry::Mode::Terminate);
  EXPECT_EQ((*r)->identity.client_certificates.id_from, ClientCertificates::IdFrom::CommonName);
  EXPECT_TRUE((*r)->identity.client_certificates.default_groups.empty());
}

TEST_F(IdentityConfigTest, DefaultsApplyWhenAbsent) {
  auto r = parse(kConnections);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Identity& id = (*r)->identity;
  EXPECT_TRUE(id.oidc.empty());
  EXPECT_TRUE(id.tokens.store_file.empty());
  EXPECT_FALSE(id.client_certificates.enabled);
  EXPECT_EQ(id.token_expiry.mode, TokenExpiry::Mode::Terminate);
  EXPECT_EQ(id.token_expiry.hard_limit, milliseconds(8 * 3600 * 1000));
  EXPECT_FALSE(id.allow_plaintext_tokens);
  EXPECT_EQ(id.application_name, "pgwarden:{subject}");
  EXPECT_EQ(id.max_auth_failures_per_minute, 20);
}

TEST_F(IdentityConfigTest, AnEmptyClientCertificatesSectionEnablesThem) {
  auto r = parse(std::string(kTlsWithClientCa) + "identity:\n  client_certificates: {}\n" +
                 kConnections);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)->identity.client_certificates.enabled);
  EXPECT_EQ((*r)->identity.client_certificates.id_from, ClientCertificates::IdFrom::CommonName);
}

TEST_F(IdentityConfigTest, ALoopbackIpv6IssuerMayUseHttp) {
  auto r = parse("identity:\n  oidc:\n    - { issuer: 'http://[::1]:8080', audience: a }\n" +
                 std::string(kConnections));
  ASSERT_TRUE(r.ok()) << r.error().message;
}

TEST_F(IdentityConfigTest, TokenStoreMayNotExistYetButItsDirectoryMust) {
  auto r = parse("identity:\n  tokens: { store: data/new/../tokens.json }\n" +
                 std::string(kConnections));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->identity.tokens.store_file, abs("data/tokens.json"));

  auto missing_dir =
      parse("identity:\n  tokens: { store: nodir/tokens.json }\n" + std::string(kConnections));
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_EQ(missing_dir.error().message.rfind("config: identity.tokens.store: ", 0), 0u)
      << missing_dir.error().message;
  EXPECT_NE(missing_dir.error().message.find(abs("nodir") + " does not exist"), std::string::npos)
      << missing_dir.error().message;
}

struct ErrorCase {
  const char* name;
  std::string identity;  ///< the body of `identity:`, indented 2
  /// The message must start with "config: " + this (the key path and ": ").
  std::string prefix;
  /// And contain this (part of the problem).
  std::string contains;
  bool with_client_ca = false;
};

/// One issuer item with `extra` keys added to a valid minimum.
std::string issuer(const std::string& extra) {
  return "  oidc:\n    - issuer: 'https://idp.example.com'\n      audience: pgwarden\n" + extra;
}

TEST_F(IdentityConfigTest, ErrorsNameTheKeyPath) {
  const std::string algs = "      algorithms: ";
  const ErrorCase cases[] = {
      // identity (the rest).
      {"unknown identity key", "  tokenz: {}\n", "identity.tokenz: ", "unknown key"},
      {"plaintext not bool", "  allow_plaintext_tokens: yes\n",
       "identity.allow_plaintext_tokens: ", "true or false"},
      {"unknown placeholder", "  application_name: 'pgw:{user}'\n",
       "identity.application_name: ", "unknown placeholder {user}"},
      {"unclosed placeholder", "  application_name: 'pgw:{subject'\n",
       "identity.application_name: ", "never closed"},
      {"stray brace", "  application_name: 'pgw:}'\n",
       "identity.application_name: ", "closes no placeholder"},
      {"empty placeholder", "  application_name: 'pgw:{}'\n",
       "identity.application_name: ", "unknown placeholder {}"},
      {"non-ascii application name", "  application_name: \"pgw:\xc3\xa9\"\n",
       "identity.application_name: ", "printable ASCII"},
      {"empty application name", "  application_name: ''\n",
       "identity.application_name: ", "must not be empty"},
      {"failures negative", "  max_auth_failures_per_minute: -1\n",
       "identity.max_auth_failures_per_minute: ", "whole number"},
      {"bad expiry mode", "  token_expiry: { mode: extend }\n",
       "identity.token_expiry.mode: ", "must be one of terminate, hard_limit (got 'extend')"},
      {"hard limit zero", "  token_expiry: { mode: hard_limit, hard_limit: 0 }\n",
       "identity.token_expiry.hard_limit: ", "greater than 0"},
      {"unknown expiry key", "  token_expiry: { mode: terminate, grace: 1m }\n",
       "identity.token_expiry.grace: ", "unknown key"},

      // identity.oidc.
      {"oidc not a list", "  oidc: { issuer: x }\n", "identity.oidc: ", "must be a list"},
      {"unknown issuer key", issuer("      audiences: [x]\n"),
       "identity.oidc[0].audiences: ", "unknown key"},
      {"missing issuer", "  oidc:\n    - { audience: pgwarden }\n",
       "identity.oidc[0].issuer: ", "is required"},
      {"missing audience", "  oidc:\n    - { issuer: 'https://idp.example.com' }\n",
       "identity.oidc[0].audience: ", "is required"},
      {"empty audience", "  oidc:\n    - { issuer: 'https://idp.example.com', audience: '' }\n",
       "identity.oidc[0].audience: ", "must not be empty"},
      {"http issuer not local",
       "  oidc:\n    - { issuer: 'http://idp.example.com', audience: a }\n",
       "identity.oidc[0].issuer: ", "only for a local identity provider"},
      {"http issuer looks local",
       "  oidc:\n    - { issuer: 'http://localhost.evil.com', audience: a }\n",
       "identity.oidc[0].issuer: ", "only for a local identity provider"},
      {"issuer not a url", "  oidc:\n    - { issuer: idp.example.com, audience: a }\n",
       "identity.oidc[0].issuer: ", "must be an https:// URL (got 'idp.example.com')"},
      {"issuer with query", "  oidc:\n    - { issuer: 'https://idp/?x=1', audience: a }\n",
       "identity.oidc[0].issuer: ", "must not have a query"},
      {"issuer with user", "  oidc:\n    - { issuer: 'https://u@idp', audience: a }\n",
       "identity.oidc[0].issuer: ", "user name"},
      {"issuer bad port", "  oidc:\n    - { issuer: 'https://idp:99999', audience: a }\n",
       "identity.oidc[0].issuer: ", "invalid port"},
      {"issuer no host", "  oidc:\n    - { issuer: 'https:///x', audience: a }\n",
       "identity.oidc[0].issuer: ", "no host"},
      {"issuer with space", "  oidc:\n    - { issuer: 'https://idp/a b', audience: a }\n",
       "identity.oidc[0].issuer: ", "not a URL"},
      {"duplicate issuer",
       issuer("    - { issuer: 'https://other', audience: x }\n"
              "    - { issuer: 'https://idp.example.com', audience: y }\n"),
       "identity.oidc[2].issuer: ",
       "duplicate issuer 'https://idp.example.com' (also identity.oidc[0])"},
      {"alg none", issuer(algs + "[RS256, none]\n"),
       "identity.oidc[0].algorithms[1]: ", "'none' is refused: it means an unsigned token"},
      {"alg HS256", issuer(algs + "[HS256]\n"), "identity.oidc[0].algorithms[0]: ",
       "'HS256' is refused: HMAC algorithms verify with a shared secret"},
      {"alg hs512 lower case", issuer(algs + "[hs512]\n"),
       "identity.oidc[0].algorithms[0]: ", "algorithm confusion"},
      {"alg unknown", issuer(algs + "[ES512]\n"), "identity.oidc[0].algorithms[0]: ",
       "must be one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA (got 'ES512'"},
      {"alg wrong case", issuer(algs + "[rs256]\n"),
       "identity.oidc[0].algorithms[0]: ", "case-sensitive"},
      {"alg twice", issuer(algs + "[RS256, RS256]\n"),
       "identity.oidc[0].algorithms[1]: ", "listed twice"},
      {"alg empty list", issuer(algs + "[]\n"),
       "identity.oidc[0].algorithms: ", "at least one algorithm"},
      {"groups claim bad path", issuer("      groups_claim: realm_access..roles\n"),
       "identity.oidc[0].groups_claim: ", "empty part"},
      {"subject claim empty", issuer("      subject_claim: ''\n"),
       "identity.oidc[0].subject_claim: ", "must not be empty"},
      {"required claim null", issuer("      required_claims: { azp: }\n"),
       "identity.oidc[0].required_claims.azp: ", "has no value"},
      {"required claim list", issuer("      required_claims: { azp: [a] }\n"),
       "identity.oidc[0].required_claims.azp: ", "single value"},
      {"clock skew too big", issuer("      clock_skew: 1h\n"),
       "identity.oidc[0].clock_skew: ", "at most 10m"},
      {"lifetime junk", issuer("      max_token_lifetime: long\n"),
       "identity.oidc[0].max_token_lifetime: ", "invalid duration 'long'"},
      {"ca missing", issuer("      ca: certs/none.pem\n"), "identity.oidc[0].ca: ", "No such file"},
      {"jwks uri http", issuer("      jwks_uri: 'http://keys.example.com/jwks'\n"),
       "identity.oidc[0].jwks_uri: ", "uses http://"},
      {"jwks refresh zero", issuer("      jwks_refresh: 0\n"),
       "identity.oidc[0].jwks_refresh: ", "greater than 0"},
      {"jwks min refetch zero", issuer("      jwks_min_refetch: 0s\n"),
       "identity.oidc[0].jwks_min_refetch: ", "greater than 0"},

      // identity.dev_issuer (listen.http is the default 127.0.0.1:8080).
      {"dev issuer without key", "  dev_issuer: { audience: pgwarden }\n",
       "identity.dev_issuer.key: ", "openssl genpkey -algorithm ed25519"},
      {"dev issuer key missing", "  dev_issuer: { key: certs/nope.pem }\n",
       "identity.dev_issuer.key: ", "No such file"},
      {"dev issuer unknown key", "  dev_issuer: { key: certs/dev-issuer.pem, issuer: x }\n",
       "identity.dev_issuer.issuer: ", "unknown key"},
      {"dev issuer empty audience", "  dev_issuer: { key: certs/dev-issuer.pem, audience: '' }\n",
       "identity.dev_issuer.audience: ", "must not be empty"},
      {"dev token lifetime zero",
       "  dev_issuer: { key: certs/dev-issuer.pem, token_lifetime: 0 }\n",
       "identity.dev_issuer.token_lifetime: ", "greater than 0"},
      {"dev token lifetime too short",
       "  dev_issuer: { key: certs/dev-issuer.pem, token_lifetime: 500ms }\n",
       "identity.dev_issuer.token_lifetime: ", "between 1s and 24h (got 500ms)"},
      {"dev token lifetime too long",
       "  dev_issuer: { key: certs/dev-issuer.pem, token_lifetime: 2d }\n",
       "identity.dev_issuer.token_lifetime: ", "between 1s and 24h (got 2d)"},
      {"dev issuer entry with another audience",
       "  dev_issuer: { key: certs/dev-issuer.pem }\n"
       "  oidc:\n    - { issuer: 'http://127.0.0.1:8080/dev-issuer', audience: other }\n",
       "identity.oidc[0].audience: ",
       "is 'other', but the dev issuer http://127.0.0.1:8080/dev-issuer mints tokens for "
       "'pgwarden'"},
      {"dev issuer entry without EdDSA",
       "  dev_issuer: { key: certs/dev-issuer.pem }\n"
       "  oidc:\n    - { issuer: 'http://127.0.0.1:8080/dev-issuer', audience: pgwarden,\n"
       "        algorithms: [ES256] }\n",
       "identity.oidc[0].algorithms: ", "must include EdDSA"},
      {"dev issuer entry lifetime too short",
       "  dev_issuer: { key: certs/dev-issuer.pem, token_lifetime: 1h }\n"
       "  oidc:\n    - { issuer: 'http://127.0.0.1:8080/dev-issuer', audience: pgwarden,\n"
       "        max_token_lifetime: 30m }\n",
       "identity.oidc[0].max_token_lifetime: ",
       "is 30m, shorter than identity.dev_issuer.token_lifetime (1h)"},

      // identity.tokens.
      {"tokens without store", "  tokens: {}\n", "identity.tokens.store: ", "is required"},
      {"tokens unknown key", "  tokens: { file: x }\n", "identity.tokens.file: ", "unknown key"},
      {"store is a directory", "  tokens: { store: data }\n",
       "identity.tokens.store: ", "is a directory"},
      {"store names a directory", "  tokens: { store: data/ }\n",
       "identity.tokens.store: ", "names a directory"},
      {"store directory is a file", "  tokens: { store: certs/server.crt/tokens.json }\n",
       "identity.tokens.store: ", "is not a directory"},

      // identity.client_certificates.
      {"client certificates without client_ca", "  client_certificates: { id_from: cn }\n",
       "identity.client_certificates: ", "needs tls.client_ca"},
      {"empty client certificates without client_ca", "  client_certificates:\n",
       "identity.client_certificates: ", "needs tls.client_ca"},
      {"bad id_from", "  client_certificates: { id_from: serial }\n",
       "identity.client_certificates.id_from: ",
       "must be one of cn, san_email, san_dns, san_uri (got 'serial')", true},
      {"groups not a list", "  client_certificates:\n    groups: { alice: dba }\n",
       "identity.client_certificates.groups.alice: ", "must be a list", true},
      {"default group empty", "  client_certificates: { default_groups: [''] }\n",
       "identity.client_certificates.default_groups[0]: ", "must not be empty", true},
      {"unknown client cert key", "  client_certificates: { idfrom: cn }\n",
       "identity.client_certificates.idfrom: ", "unknown key", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string yaml = (c.with_client_ca ? std::string(kTlsWithClientCa) : std::string()) +
                             "identity:\n" + c.identity + kConnections;
    auto r = parse(yaml);
    ASSERT_FALSE(r.ok()) << "accepted:\n" << yaml;
    const std::string& msg = r.error().message;
    EXPECT_EQ(msg.rfind("config: " + c.prefix, 0), 0u) << msg;
    EXPECT_NE(msg.find(c.contains), std::string::npos) << msg;
  }
}

TEST_F(IdentityConfigTest, DevIssuerRoundTrips) {
  auto r = parse(R"(
listen: { http: "127.0.0.1:8240" }
identity:
  dev_issuer:
    key: certs/dev-issuer.pem
    audience: gw-dev
    token_lifetime: 1h
  oidc:
    - { issuer: "http://127.0.0.1:8240/dev-issuer", audience: gw-dev, max_token_lifetime: 1h }
)" + std::string(kConnections));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;
  ASSERT_TRUE(c.identity.dev_issuer.has_value());
  EXPECT_EQ(c.identity.dev_issuer->key_file, abs("certs/dev-issuer.pem"));
  EXPECT_EQ(c.identity.dev_issuer->audience, "gw-dev");
  EXPECT_EQ(c.identity.dev_issuer->token_lifetime, milliseconds(3600 * 1000));
  EXPECT_EQ(devIssuerUrl(c), "http://127.0.0.1:8240/dev-issuer");
  ASSERT_EQ(c.identity.oidc.size(), 1u);
  EXPECT_EQ(c.identity.oidc[0].issuer, devIssuerUrl(c));
}

TEST_F(IdentityConfigTest, DevIssuerDefaultsAndIsNotTrustedImplicitly) {
  auto r =
      parse("identity:\n  dev_issuer: { key: certs/dev-issuer.pem }\n" + std::string(kConnections));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Identity& id = (*r)->identity;
  ASSERT_TRUE(id.dev_issuer.has_value());
  EXPECT_EQ(id.dev_issuer->audience, "pgwarden");
  EXPECT_EQ(id.dev_issuer->token_lifetime, milliseconds(15 * 60 * 1000));
  EXPECT_EQ(devIssuerUrl(**r), "http://127.0.0.1:8080/dev-issuer");
  // Trust is what identity.oidc lists, and it lists nothing here.
  EXPECT_TRUE(id.oidc.empty());

  auto none = parse(kConnections);
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE((*none)->identity.dev_issuer.has_value());
}

TEST_F(IdentityConfigTest, DevIssuerUrlFollowsListenHttp) {
  const struct {
    const char* listen;
    const char* url;
  } cases[] = {
      {"127.0.0.1:9000", "http://127.0.0.1:9000/dev-issuer"},
      {"0.0.0.0:9000", "http://127.0.0.1:9000/dev-issuer"},
      {":9000", "http://127.0.0.1:9000/dev-issuer"},
      {"[::1]:9000", "http://[::1]:9000/dev-issuer"},
      {"[::]:9000", "http://[::1]:9000/dev-issuer"},
      {"localhost:9000", "http://localhost:9000/dev-issuer"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.listen);
    auto r =
        parse(std::string("listen: { http: \"") + c.listen +
              "\" }\nidentity:\n  dev_issuer: { key: certs/dev-issuer.pem }\n" +
              "  oidc:\n    - { issuer: \"" + c.url + "\", audience: pgwarden }\n" + kConnections);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(devIssuerUrl(**r), c.url);
  }
}

TEST_F(IdentityConfigTest, DevIssuerNeedsALocalHttpListener) {
  auto r = parse(
      "listen: { http: \"10.1.2.3:8080\" }\n"
      "identity:\n  dev_issuer: { key: certs/dev-issuer.pem }\n" +
      std::string(kConnections));
  ASSERT_FALSE(r.ok());
  const std::string& msg = r.error().message;
  EXPECT_EQ(msg.rfind("config: identity.dev_issuer: needs listen.http on a loopback", 0), 0u)
      << msg;
  EXPECT_NE(msg.find("not 10.1.2.3:8080"), std::string::npos) << msg;
}

TEST_F(IdentityConfigTest, ClientCertificatesErrorNamesBothKeys) {
  auto r = parse("identity:\n  client_certificates: { id_from: cn }\n" + std::string(kConnections));
  ASSERT_FALSE(r.ok());
  const std::string& msg = r.error().message;
  EXPECT_NE(msg.find("identity.client_certificates"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tls.client_ca"), std::string::npos) << msg;
}

}  // namespace
}  // namespace pgw::config
