// The HTTP control plane on a real socket: /healthz, the dev issuer's
// discovery document and JWKS as the gateway's own OIDC fetcher
// (auth::OidcKeys) reads them, a minted token verified against what was
// fetched, and the error answers (404, 405, 413) as JSON.

#include "api/http_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "auth/jwt.h"
#include "auth/jwt_sign.h"
#include "auth/oidc_keys.h"
#include "config/config.h"
#include "raw_http.h"

namespace pgw::api {
namespace {

using namespace std::chrono;
using nlohmann::json;
using testing::RawReply;
using testing::roundTrip;

/// RFC 8037 Appendix A.1's private key as PKCS#8 PEM.
constexpr std::string_view kKeyPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
    "-----END PRIVATE KEY-----\n";
/// RFC 8037 A.2 / A.3: its public key and (the start of) its thumbprint.
constexpr std::string_view kKeyX = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
constexpr std::string_view kKeyId = "kPrK_qmxVWaYVA9w";

/// A port nothing listens on right now (the kernel's pick, released again).
uint16_t unusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

RawReply get(uint16_t port, const std::string& path, const std::string& method = "GET") {
  return roundTrip(port, method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgw_api_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ / "dev-issuer.pem") << kKeyPem;
    std::ofstream(dir_ / "not-a-key.pem") << "hello\n";
  }
  void TearDown() override {
    if (server_) server_->stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::shared_ptr<const config::Config> makeConfig(uint16_t port, const std::string& identity) {
    const std::string yaml = "listen: { http: \"127.0.0.1:" + std::to_string(port) + "\" }\n" +
                             "identity:\n" + identity +
                             "connections:\n  db:\n    host: 127.0.0.1\n"
                             "    credentials: { app: { user: app } }\n";
    auto cfg = config::parseConfig(yaml, dir_.string());
    EXPECT_TRUE(cfg.ok()) << cfg.error().message;
    return cfg.ok() ? *cfg : nullptr;
  }

  /// Starts a server whose config has `identity` (the body of `identity:`,
  /// indented 2) on a free port; `{port}` in `identity` becomes that port.
  void startServer(const std::string& identity) {
    for (int attempt = 0; attempt < 5; ++attempt) {
      const uint16_t port = unusedPort();
      std::string text = identity;
      for (size_t at; (at = text.find("{port}")) != std::string::npos;) {
        text.replace(at, 6, std::to_string(port));
      }
      config_ = makeConfig(port, text);
      ASSERT_NE(config_, nullptr);
      server_ = std::make_unique<HttpServer>(config_);
      auto st = server_->start();
      if (st.ok()) {
        port_ = server_->port();
        ASSERT_EQ(port_, port);
        return;
      }
      // Someone took the port between unusedPort() and start(): try another.
      ASSERT_NE(st.error().message.find("cannot listen"), std::string::npos) << st.error().message;
    }
    FAIL() << "no free port";
  }

  static constexpr const char* kDevIssuer =
      "  dev_issuer: { key: dev-issuer.pem, audience: pgwarden, token_lifetime: 15m }\n"
      "  oidc:\n"
      "    - { issuer: \"http://127.0.0.1:{port}/dev-issuer\", audience: pgwarden }\n";

  std::filesystem::path dir_;
  std::shared_ptr<const config::Config> config_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

void expectJsonError(const RawReply& r, int status, const std::string& contains) {
  EXPECT_EQ(r.status, status);
  EXPECT_EQ(r.header("content-type"), "application/json");
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  ASSERT_TRUE(body["error"].is_string()) << r.body;
  EXPECT_NE(body["error"].get<std::string>().find(contains), std::string::npos) << r.body;
}

TEST_F(HttpServerTest, HealthzSaysOk) {
  startServer("  users: []\n");
  const RawReply r = get(port_, "/healthz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  EXPECT_EQ(r.header("content-type"), "text/plain");
  EXPECT_EQ(r.header("connection"), "close");

  const RawReply head = get(port_, "/healthz", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST_F(HttpServerTest, ServesTheDevIssuersDiscoveryDocumentAndKeys) {
  startServer(kDevIssuer);
  const std::string issuer = "http://127.0.0.1:" + std::to_string(port_) + "/dev-issuer";
  ASSERT_EQ(config::devIssuerUrl(*config_), issuer);

  const RawReply d = get(port_, "/dev-issuer/.well-known/openid-configuration");
  ASSERT_EQ(d.status, 200) << d.body;
  EXPECT_EQ(d.header("content-type"), "application/json");
  const json doc = json::parse(d.body, nullptr, false);
  ASSERT_TRUE(doc.is_object()) << d.body;
  EXPECT_EQ(doc["issuer"], issuer);
  EXPECT_EQ(doc["jwks_uri"], issuer + "/jwks.json");
  EXPECT_EQ(doc["token_endpoint_auth_methods_supported"], json::array({"none"}));
  EXPECT_EQ(doc["id_token_signing_alg_values_supported"], json::array({"EdDSA"}));
  EXPECT_EQ(doc["response_types_supported"], json::array({"token"}));
  EXPECT_EQ(doc["subject_types_supported"], json::array({"public"}));

  const RawReply k = get(port_, "/dev-issuer/jwks.json");
  ASSERT_EQ(k.status, 200) << k.body;
  EXPECT_EQ(k.header("content-type"), "application/json");
  const json jwks = json::parse(k.body, nullptr, false);
  ASSERT_TRUE(jwks.is_object()) << k.body;
  ASSERT_EQ(jwks["keys"].size(), 1u) << k.body;
  const json& jwk = jwks["keys"][0];
  EXPECT_EQ(jwk["kty"], "OKP");
  EXPECT_EQ(jwk["crv"], "Ed25519");
  EXPECT_EQ(jwk["x"], kKeyX);
  EXPECT_EQ(jwk["kid"], kKeyId);
  EXPECT_EQ(jwk["alg"], "EdDSA");
  EXPECT_EQ(jwk["use"], "sig");
  // Public members only: no "d" (the private key) in what anyone can fetch.
  EXPECT_EQ(jwk.size(), 6u) << k.body;
  EXPECT_EQ(k.body.find("\"d\""), std::string::npos);

  const RawReply head = get(port_, "/dev-issuer/jwks.json", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST_F(HttpServerTest, TheGatewaysOidcFetcherVerifiesAMintedToken) {
  startServer(kDevIssuer);
  const std::string issuer = config::devIssuerUrl(*config_);

  // Exactly what the gateway does for identity.oidc[0]: discovery, then JWKS.
  auth::OidcKeys keys(auth::OidcKeySource{.issuer = issuer});
  auto fetched = keys.refresh(auth::OidcKeys::Clock::now());
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  ASSERT_EQ((*fetched)->keys().size(), 1u);

  auto key = auth::Ed25519SigningKey::fromPem(kKeyPem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  const auto now = system_clock::now();
  const int64_t iat = duration_cast<seconds>(now.time_since_epoch()).count();
  const json claims = {{"iss", issuer},           {"aud", "pgwarden"}, {"sub", "alice"},
                       {"groups", {"ai-agents"}}, {"iat", iat},        {"nbf", iat},
                       {"exp", iat + 900}};
  auto token = auth::signJwt(claims.dump(), *key, auth::keyIdFor(*key));
  ASSERT_TRUE(token.ok()) << token.error().message;

  auth::JwtPolicy policy;
  policy.issuer = issuer;
  policy.audience = "pgwarden";
  auto verified = auth::verifyJwt(*token, **fetched, policy, now);
  ASSERT_TRUE(verified.ok()) << verified.error().message;
  EXPECT_EQ(verified->subject.id, "alice");
  EXPECT_EQ(verified->subject.groups, std::vector<std::string>{"ai-agents"});

  // A token from another key with the same kid does not pass.
  auto other = auth::Ed25519SigningKey::generate();
  ASSERT_TRUE(other.ok());
  auto forged = auth::signJwt(claims.dump(), *other, auth::keyIdFor(*key));
  ASSERT_TRUE(forged.ok());
  EXPECT_FALSE(auth::verifyJwt(*forged, **fetched, policy, now).ok());
}

TEST_F(HttpServerTest, DevIssuerRoutesAre404WithoutADevIssuer) {
  startServer("  users: []\n");
  expectJsonError(get(port_, "/dev-issuer/jwks.json"), 404, "identity.dev_issuer");
  expectJsonError(get(port_, "/dev-issuer/.well-known/openid-configuration"), 404,
                  "dev issuer is not enabled");
  EXPECT_EQ(get(port_, "/healthz").status, 200);
}

TEST_F(HttpServerTest, ErrorsAreJson) {
  startServer(kDevIssuer);
  expectJsonError(get(port_, "/nope"), 404, "no such endpoint: /nope");
  expectJsonError(get(port_, "/dev-issuer/keys"), 404, "no such endpoint: /dev-issuer/keys");
  expectJsonError(get(port_, "/" + std::string(1000, 'a')), 404, "...");

  const RawReply post =
      roundTrip(port_, "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  expectJsonError(post, 405, "POST is not allowed on /healthz");
  EXPECT_EQ(post.header("allow"), "GET, HEAD");
  expectJsonError(get(port_, "/dev-issuer/jwks.json", "DELETE"), 405, "allowed: GET, HEAD");

  const RawReply with_body =
      roundTrip(port_, "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
  expectJsonError(with_body, 413, "carry no body");
  const RawReply chunked = roundTrip(
      port_, "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  expectJsonError(chunked, 413, "carry no body");
  const RawReply expect = roundTrip(port_,
                                    "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                    "Expect: 100-continue\r\n\r\n");
  expectJsonError(expect, 413, "carry no body");

  const RawReply garbage = roundTrip(port_, "NONSENSE\r\n\r\n");
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(garbage.header("content-type"), "application/json");
}

TEST_F(HttpServerTest, ABusyPortIsAnErrorNamingListenHttp) {
  startServer("  users: []\n");
  HttpServer second(config_);
  auto st = second.start();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "listen.http: cannot listen on 127.0.0.1:" + std::to_string(port_) +
                                    ": Address already in use");
  // The first server is unaffected.
  EXPECT_EQ(get(port_, "/healthz").status, 200);
}

TEST_F(HttpServerTest, AnUnusableKeyIsAnErrorBeforeBinding) {
  const uint16_t port = unusedPort();
  auto cfg = makeConfig(port, "  dev_issuer: { key: not-a-key.pem }\n");
  ASSERT_NE(cfg, nullptr);
  HttpServer server(cfg);
  auto st = server.start();
  ASSERT_FALSE(st.ok());
  const std::string& msg = st.error().message;
  EXPECT_EQ(msg.rfind("identity.dev_issuer.key: " + (dir_ / "not-a-key.pem").string() + ": ", 0),
            0u)
      << msg;
  EXPECT_NE(msg.find("openssl genpkey -algorithm ed25519"), std::string::npos) << msg;
  EXPECT_EQ(server.port(), 0);
  EXPECT_FALSE(get(port, "/healthz").connected);
  server.stop();
}

TEST_F(HttpServerTest, StartsOnceAndStopsForGood) {
  startServer("  users: []\n");
  auto again = server_->start();
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already started"), std::string::npos);

  server_->stop();
  server_->stop();
  EXPECT_FALSE(get(port_, "/healthz").connected);

  HttpServer never_started(config_);
  never_started.stop();
}

}  // namespace
}  // namespace pgw::api
