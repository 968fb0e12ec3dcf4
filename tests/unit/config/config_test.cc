/// parseConfig: a full file round-trips into the struct, defaults apply, and
/// every validation rule names the key path that broke it.

#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "support/temp_dir.h"

namespace pgw::config {
namespace {

using std::chrono::milliseconds;
using test_support::TempDir;

/// 32 bytes of base64, the size of a SCRAM-SHA-256 StoredKey / ServerKey.
constexpr const char* kKey32 = "q1mnPMHh2RgCMoV8QDAVyOGL6iBv5Wk0eNzvGhXbzfI=";

std::string verifier() {
  return std::string("SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0$") + kKey32 + ":" + kKey32;
}

/// A connection block that satisfies every rule, for tests about other keys.
constexpr const char* kMinimalConnections = R"(
connections:
  prod:
    host: db.internal
    credentials:
      ro: { user: agent_ro }
)";

class ParseConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* f : {"certs/server.crt", "certs/server.key", "certs/clients-ca.pem",
                          "certs/db-ca.pem", "certs/client.crt", "certs/client.key"}) {
      dir_.write(f, "-----BEGIN PLACEHOLDER-----\n");
    }
    dir_.write("secrets/ro", "ro-pass-from-file\n");
  }

  Result<std::shared_ptr<const Config>> parse(const std::string& yaml) {
    return parseConfig(yaml, dir_.path());
  }
  std::string abs(const std::string& rel) const { return dir_.path() + "/" + rel; }

  TempDir dir_;
};

TEST_F(ParseConfigTest, FullConfigRoundTrips) {
  ::setenv("PGW_TEST_ALICE_PW", "alice-pw", 1);
  const std::string yaml = R"(
listen:
  postgres: "0.0.0.0:7432"
  http: "[::1]:9090"
workers: 4
log_level: debug
limits:
  max_message_size: 16MB
  max_client_connections: 500
timeouts:
  startup: 5s
  auth: 1m
  idle: 1h
  shutdown_grace: 250ms
tls:
  cert: certs/server.crt
  key: ./certs/../certs/server.key
  require: true
  client_ca: certs/clients-ca.pem
identity:
  users:
    - name: alice
      password: "${env:PGW_TEST_ALICE_PW}"
      groups: [dev, ops]
    - name: bob
      scram: ")" + verifier() +
                           R"("
connections:
  prod:
    host: db.internal
    port: 6543
    database: app
    connect_timeout: 2s
    tls:
      mode: verify-full
      ca: certs/db-ca.pem
      cert: certs/client.crt
      key: )" + abs("certs/client.key") +
                           R"(
      server_name: pg.example
    credentials:
      readonly: { user: agent_ro, password: "${file:secrets/ro}" }
      readwrite: { user: agent_rw, password: literal-pw }
    default_credential: readwrite
  dev-1:
    host: localhost
    tls: { mode: require }
    credentials:
      only: { user: dev }
)";
  auto r = parse(yaml);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;

  EXPECT_EQ(c.listen_postgres.host, "0.0.0.0");
  EXPECT_EQ(c.listen_postgres.port, 7432);
  EXPECT_EQ(c.listen_http.host, "::1");
  EXPECT_EQ(c.listen_http.port, 9090);
  EXPECT_EQ(c.workers, 4);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.max_message_size, size_t{16} << 20);
  EXPECT_EQ(c.max_client_connections, 500);
  EXPECT_EQ(c.timeouts.startup, milliseconds(5000));
  EXPECT_EQ(c.timeouts.auth, milliseconds(60000));
  EXPECT_EQ(c.timeouts.idle, milliseconds(3600000));
  EXPECT_EQ(c.timeouts.shutdown_grace, milliseconds(250));

  EXPECT_TRUE(c.tls.enabled());
  EXPECT_EQ(c.tls.cert_file, abs("certs/server.crt"));
  EXPECT_EQ(c.tls.key_file, abs("certs/server.key"));
  EXPECT_TRUE(c.tls.require);
  EXPECT_EQ(c.tls.client_ca_file, abs("certs/clients-ca.pem"));

  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].name, "alice");
  EXPECT_EQ(c.users[0].password.reveal(), "alice-pw");
  EXPECT_TRUE(c.users[0].scram_verifier.empty());
  EXPECT_EQ(c.users[0].groups, (std::vector<std::string>{"dev", "ops"}));
  EXPECT_EQ(c.users[1].name, "bob");
  EXPECT_TRUE(c.users[1].password.empty());
  EXPECT_EQ(c.users[1].scram_verifier, verifier());
  EXPECT_TRUE(c.users[1].groups.empty());
  EXPECT_EQ(c.findUser("bob"), &c.users[1]);

  ASSERT_EQ(c.connections.size(), 2u);
  const Connection* prod = c.findConnection("prod");
  ASSERT_NE(prod, nullptr);
  EXPECT_EQ(prod->name, "prod");
  EXPECT_EQ(prod->host, "db.internal");
  EXPECT_EQ(prod->port, 6543);
  EXPECT_EQ(prod->database, "app");
  EXPECT_EQ(prod->connect_timeout, milliseconds(2000));
  EXPECT_EQ(prod->tls.mode, SslMode::VerifyFull);
  EXPECT_EQ(prod->tls.ca_file, abs("certs/db-ca.pem"));
  EXPECT_EQ(prod->tls.cert_file, abs("certs/client.crt"));
  EXPECT_EQ(prod->tls.key_file, abs("certs/client.key"));
  EXPECT_EQ(prod->tls.server_name, "pg.example");
  ASSERT_EQ(prod->credentials.size(), 2u);
  EXPECT_EQ(prod->credentials.at("readonly").user, "agent_ro");
  EXPECT_EQ(prod->credentials.at("readonly").password.reveal(), "ro-pass-from-file");
  EXPECT_EQ(prod->credentials.at("readwrite").user, "agent_rw");
  EXPECT_EQ(prod->credentials.at("readwrite").password.reveal(), "literal-pw");
  EXPECT_EQ(prod->default_credential, "readwrite");

  const Connection* dev = c.findConnection("dev-1");
  ASSERT_NE(dev, nullptr);
  EXPECT_EQ(dev->port, 5432);
  EXPECT_EQ(dev->database, "dev-1");
  EXPECT_EQ(dev->connect_timeout, milliseconds(5000));
  EXPECT_EQ(dev->tls.mode, SslMode::Require);
  EXPECT_EQ(dev->tls.server_name, "localhost");
  EXPECT_TRUE(dev->tls.ca_file.empty());
  EXPECT_EQ(dev->default_credential, "only");
  EXPECT_TRUE(dev->credentials.at("only").password.empty());
}

TEST_F(ParseConfigTest, DefaultsApplyWhenKeysAreAbsent) {
  auto r = parse(kMinimalConnections);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;
  EXPECT_EQ(c.listen_postgres.host, "127.0.0.1");
  EXPECT_EQ(c.listen_postgres.port, 6432);
  EXPECT_EQ(c.listen_http.host, "127.0.0.1");
  EXPECT_EQ(c.listen_http.port, 8080);
  EXPECT_EQ(c.workers, 0);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.max_message_size, size_t{64} << 20);
  EXPECT_EQ(c.max_client_connections, 10000);
  EXPECT_EQ(c.timeouts.startup, milliseconds(10000));
  EXPECT_EQ(c.timeouts.auth, milliseconds(30000));
  EXPECT_EQ(c.timeouts.idle, milliseconds(0));
  EXPECT_EQ(c.timeouts.shutdown_grace, milliseconds(30000));
  EXPECT_FALSE(c.tls.enabled());
  EXPECT_FALSE(c.tls.require);
  EXPECT_TRUE(c.users.empty());
  const Connection& prod = c.connections.at("prod");
  EXPECT_EQ(prod.tls.mode, SslMode::Disable);
  EXPECT_EQ(prod.database, "prod");
  EXPECT_EQ(prod.port, 5432);
  EXPECT_EQ(prod.default_credential, "ro");
}

TEST_F(ParseConfigTest, EmptySectionsAndZeroValuesAreAccepted) {
  auto r = parse(std::string("listen:\ntls:\nidentity:\n  users: []\nlimits: {}\n"
                             "timeouts:\n  idle: 0\n  shutdown_grace: 0s\nworkers: 0\n") +
                 kMinimalConnections);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->timeouts.idle, milliseconds(0));
  EXPECT_EQ((*r)->timeouts.shutdown_grace, milliseconds(0));
}

TEST_F(ParseConfigTest, BoundsAreInclusive) {
  auto r =
      parse(std::string("workers: 256\nlimits:\n  max_message_size: 1kB\n") + kMinimalConnections);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->workers, 256);
  EXPECT_EQ((*r)->max_message_size, 1024u);
  r = parse(std::string("limits:\n  max_message_size: 1GB\n") + kMinimalConnections);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->max_message_size, size_t{1} << 30);
}

TEST_F(ParseConfigTest, ErrorsCarryAConfigSqlstate) {
  auto r = parse("workers: 1000\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "F0000");
}

struct ErrorCase {
  const char* name;
  std::string yaml;
  /// The message must start with "config: " + this (the key path and ": ").
  std::string prefix;
  /// And contain this (part of the problem).
  std::string contains;
};

/// A connection `prod` with `body` (indented 4) added to a valid minimum.
std::string prodWith(const std::string& body) {
  return "connections:\n  prod:\n    host: db\n" + body;
}
constexpr const char* kRo = "    credentials:\n      ro: { user: u }\n";

TEST_F(ParseConfigTest, ErrorsNameTheKeyPath) {
  const std::string conns = kMinimalConnections;
  const ErrorCase cases[] = {
      // Unknown keys, at every level.
      {"unknown top-level key", "wokers: 2\n" + conns, "wokers: ", "unknown key"},
      {"unknown listen key", "listen: { pg: ':1' }\n" + conns,
       "listen.pg: ", "expected one of: postgres, http"},
      {"unknown tls key", "tls: { crt: x }\n" + conns, "tls.crt: ", "unknown key"},
      {"unknown user key", "identity:\n  users:\n    - { name: a, passwrd: x }\n" + conns,
       "identity.users[0].passwrd: ", "unknown key"},
      {"unknown identity key", "identity:\n  oicd: []\n" + conns, "identity.oicd: ", "unknown key"},
      {"unknown connection key", prodWith("    hots: x\n" + std::string(kRo)),
       "connections.prod.hots: ", "unknown key"},
      {"unknown upstream tls key", prodWith("    tls: { mdoe: require }\n" + std::string(kRo)),
       "connections.prod.tls.mdoe: ", "unknown key"},
      {"unknown credential key", prodWith("    credentials:\n      ro: { user: u, pasword: p }\n"),
       "connections.prod.credentials.ro.pasword: ", "unknown key"},
      {"duplicate key", "workers: 1\nworkers: 2\n" + conns, "workers: ", "more than once"},

      // Shapes.
      {"syntax error", "listen: [\n", "line ", "invalid YAML"},
      {"top level is a list", "- a\n- b\n", "(top level): ", "must be a mapping"},
      {"two documents", conns + "---\nworkers: 1\n", "(top level): ", "2 YAML documents"},
      {"section is a scalar", "tls: yes\n" + conns, "tls: ", "must be a mapping"},
      {"value is a list", "workers: [1]\n" + conns, "workers: ", "single value"},
      {"value is null", "workers:\n" + conns, "workers: ", "has no value"},

      // listen.
      {"listen without port", "listen: { postgres: localhost }\n" + conns,
       "listen.postgres: ", "invalid address 'localhost'"},
      {"listen ipv6 unbracketed", "listen: { http: '::1:80' }\n" + conns,
       "listen.http: ", "brackets"},
      {"listen port 0", "listen: { http: ':0' }\n" + conns, "listen.http: ", "1 to 65535"},
      {"listen same address", "listen: { postgres: ':7000', http: '127.0.0.1:7000' }\n" + conns,
       "listen.http: ", "same address"},

      // Scalars at the top.
      {"workers too many", "workers: 257\n" + conns, "workers: ", "from 0 to 256 (got '257')"},
      {"workers negative", "workers: -1\n" + conns, "workers: ", "from 0 to 256"},
      {"workers junk", "workers: many\n" + conns, "workers: ", "(got 'many')"},
      {"log level", "log_level: verbose\n" + conns,
       "log_level: ", "must be one of debug, info, warn, error (got 'verbose')"},

      // limits.
      {"message size too small", "limits: { max_message_size: 512 }\n" + conns,
       "limits.max_message_size: ", "from 1kB to 1GB (got '512')"},
      {"message size too big", "limits: { max_message_size: 2GB }\n" + conns,
       "limits.max_message_size: ", "from 1kB to 1GB"},
      {"message size junk", "limits: { max_message_size: 64XB }\n" + conns,
       "limits.max_message_size: ", "invalid size '64XB'"},
      {"client connections zero", "limits: { max_client_connections: 0 }\n" + conns,
       "limits.max_client_connections: ", "whole number"},

      // timeouts.
      {"startup zero", "timeouts: { startup: 0 }\n" + conns,
       "timeouts.startup: ", "greater than 0"},
      {"auth negative", "timeouts: { auth: -5s }\n" + conns,
       "timeouts.auth: ", "invalid duration '-5s'"},
      {"idle junk", "timeouts: { idle: forever }\n" + conns, "timeouts.idle: ", "invalid duration"},
      {"grace fractional", "timeouts: { shutdown_grace: 1.5s }\n" + conns,
       "timeouts.shutdown_grace: ", "invalid duration"},

      // Client-facing tls.
      {"tls cert without key", "tls: { cert: certs/server.crt }\n" + conns,
       "tls.key: ", "required when tls.cert is set"},
      {"tls key without cert", "tls: { key: certs/server.key }\n" + conns,
       "tls.cert: ", "required when tls.key is set"},
      {"tls cert missing file", "tls: { cert: certs/nope.crt, key: certs/server.key }\n" + conns,
       "tls.cert: ", "certs/nope.crt: No such file"},
      {"tls cert is a directory", "tls: { cert: certs, key: certs/server.key }\n" + conns,
       "tls.cert: ", "is a directory"},
      {"tls cert empty", "tls: { cert: '', key: certs/server.key }\n" + conns,
       "tls.cert: ", "must not be empty"},
      {"tls require without cert", "tls: { require: true }\n" + conns,
       "tls.require: ", "no certificate"},
      {"tls require not bool", "tls: { require: yes }\n" + conns,
       "tls.require: ", "true or false (got 'yes')"},
      {"tls client_ca without cert", "tls: { client_ca: certs/clients-ca.pem }\n" + conns,
       "tls.client_ca: ", "needs tls.cert"},

      // identity.users.
      {"users not a list", "identity: { users: { name: a } }\n" + conns,
       "identity.users: ", "must be a list"},
      {"user name missing", "identity:\n  users:\n    - { password: x }\n" + conns,
       "identity.users[0].name: ", "is required"},
      {"user name empty", "identity:\n  users:\n    - { name: '', password: x }\n" + conns,
       "identity.users[0].name: ", "must not be empty"},
      {"duplicate user",
       "identity:\n  users:\n    - { name: a, password: x }\n    - { name: b, password: x }\n"
       "    - { name: a, password: y }\n" +
           conns,
       "identity.users[2].name: ", "duplicate user name (also identity.users[0])"},
      {"password and scram",
       "identity:\n  users:\n    - { name: a, password: x, scram: '" + verifier() + "' }\n" + conns,
       "identity.users[0]: ", "exactly one of password or scram"},
      {"neither password nor scram", "identity:\n  users:\n    - { name: a }\n" + conns,
       "identity.users[0]: ", "needs a password or a scram"},
      {"empty password", "identity:\n  users:\n    - { name: a, password: '' }\n" + conns,
       "identity.users[0].password: ", "must not be empty"},
      {"bad scram", "identity:\n  users:\n    - { name: a, scram: 'md5abc' }\n" + conns,
       "identity.users[0].scram: ", "not a SCRAM-SHA-256 verifier"},
      {"scram short key",
       "identity:\n  users:\n    - { name: a, scram: 'SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA' }\n" +
           conns,
       "identity.users[0].scram: ", "not a SCRAM-SHA-256 verifier"},
      {"group empty",
       "identity:\n  users:\n    - { name: a, password: x, groups: [dev, ''] }\n" + conns,
       "identity.users[0].groups[1]: ", "must not be empty"},

      // connections.
      {"no connections", "workers: 1\n", "connections: ", "is required"},
      {"empty connections", "connections: {}\n", "connections: ", "at least one connection"},
      {"connections is a list", "connections: [prod]\n", "connections: ", "must be a mapping"},
      {"connection name", "connections:\n  bad/name:\n    host: db\n" + std::string(kRo),
       "connections.bad/name: ", "letters, digits, '_' and '-'"},
      {"connection name too long",
       "connections:\n  " + std::string(64, 'a') + ":\n    host: db\n" + std::string(kRo),
       "connections." + std::string(64, 'a') + ": ", "at most 63"},
      {"host missing", "connections:\n  prod:\n    port: 5432\n" + std::string(kRo),
       "connections.prod.host: ", "is required"},
      {"host empty", "connections:\n  prod:\n    host: ''\n" + std::string(kRo),
       "connections.prod.host: ", "must not be empty"},
      {"port zero", prodWith("    port: 0\n" + std::string(kRo)),
       "connections.prod.port: ", "from 1 to 65535 (got '0')"},
      {"port too big", prodWith("    port: 70000\n" + std::string(kRo)),
       "connections.prod.port: ", "from 1 to 65535"},
      {"port junk", prodWith("    port: pg\n" + std::string(kRo)),
       "connections.prod.port: ", "(got 'pg')"},
      {"database empty", prodWith("    database: ''\n" + std::string(kRo)),
       "connections.prod.database: ", "must not be empty"},
      {"connect timeout junk", prodWith("    connect_timeout: soon\n" + std::string(kRo)),
       "connections.prod.connect_timeout: ", "invalid duration 'soon'"},
      {"connect timeout zero", prodWith("    connect_timeout: 0ms\n" + std::string(kRo)),
       "connections.prod.connect_timeout: ", "greater than 0"},

      // connections.<name>.tls.
      {"tls mode typo", prodWith("    tls: { mode: verfy-full }\n" + std::string(kRo)),
       "connections.prod.tls.mode: ",
       "must be one of disable, require, verify-ca, verify-full (got 'verfy-full')"},
      {"verify-full without ca", prodWith("    tls: { mode: verify-full }\n" + std::string(kRo)),
       "connections.prod.tls.ca: ", "required when the mode is verify-full"},
      {"verify-ca without ca", prodWith("    tls: { mode: verify-ca }\n" + std::string(kRo)),
       "connections.prod.tls.ca: ", "required when the mode is verify-ca"},
      {"ca missing file",
       prodWith("    tls: { mode: verify-full, ca: certs/none.pem }\n" + std::string(kRo)),
       "connections.prod.tls.ca: ", "No such file"},
      {"ca with mode disable", prodWith("    tls: { ca: certs/db-ca.pem }\n" + std::string(kRo)),
       "connections.prod.tls.ca: ", "no effect while connections.prod.tls.mode is disable"},
      {"ca with mode require",
       prodWith("    tls: { mode: require, ca: certs/db-ca.pem }\n" + std::string(kRo)),
       "connections.prod.tls.ca: ", "not used when the mode is require"},
      {"client cert without key",
       prodWith("    tls: { mode: require, cert: certs/client.crt }\n" + std::string(kRo)),
       "connections.prod.tls.key: ", "required when cert is set"},
      {"client key without cert",
       prodWith("    tls: { mode: require, key: certs/client.key }\n" + std::string(kRo)),
       "connections.prod.tls.cert: ", "required when key is set"},
      {"server name with mode disable",
       prodWith("    tls: { server_name: db }\n" + std::string(kRo)),
       "connections.prod.tls.server_name: ", "no effect"},

      // connections.<name>.credentials.
      {"credentials missing", prodWith(""), "connections.prod.credentials: ", "is required"},
      {"credentials empty", prodWith("    credentials: {}\n"),
       "connections.prod.credentials: ", "at least one credential"},
      {"credential user missing", prodWith("    credentials:\n      ro: { password: p }\n"),
       "connections.prod.credentials.ro.user: ", "is required"},
      {"credential password empty",
       prodWith("    credentials:\n      ro: { user: u, password: '' }\n"),
       "connections.prod.credentials.ro.password: ", "must not be empty"},
      {"credential name", prodWith("    credentials:\n      'read only': { user: u }\n"),
       "connections.prod.credentials.read only: ", "letters, digits"},
      {"default credential needed",
       prodWith("    credentials:\n      ro: { user: u }\n      rw: { user: w }\n"),
       "connections.prod.default_credential: ",
       "required when a connection has several "
       "credentials (ro, rw)"},
      {"default credential unknown",
       prodWith("    credentials:\n      ro: { user: u }\n    default_credential: rw\n"),
       "connections.prod.default_credential: ", "'rw' is not one of this connection's"},

      // Secret references.
      {"env var unset",
       prodWith("    credentials:\n      ro: { user: u, password: "
                "'${env:PGW_TEST_SURELY_UNSET}' }\n"),
       "connections.prod.credentials.ro.password: ",
       "environment variable PGW_TEST_SURELY_UNSET is not set"},
      {"env name invalid", "log_level: '${env:1X}'\n" + conns, "log_level: ", "variable name"},
      {"unknown reference", "log_level: '${vault:x}'\n" + conns,
       "log_level: ", "neither ${env:NAME} nor ${file:PATH}"},
      {"secret file missing",
       prodWith("    credentials:\n      ro: { user: u, password: '${file:secrets/none}' }\n"),
       "connections.prod.credentials.ro.password: ", "cannot read secret file "},
      {"secret file empty path", "log_level: '${file:}'\n" + conns, "log_level: ", "needs a path"},
  };
  ::unsetenv("PGW_TEST_SURELY_UNSET");
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = parse(c.yaml);
    ASSERT_FALSE(r.ok()) << "accepted:\n" << c.yaml;
    const std::string& msg = r.error().message;
    EXPECT_EQ(msg.rfind("config: " + c.prefix, 0), 0u) << msg;
    EXPECT_NE(msg.find(c.contains), std::string::npos) << msg;
  }
}

TEST_F(ParseConfigTest, RelativePathsUseTheBaseDirectory) {
  TempDir other;
  other.write("tls/a.crt", "x");
  other.write("tls/a.key", "x");
  const std::string yaml =
      std::string("tls: { cert: tls/a.crt, key: tls/a.key }\n") + kMinimalConnections;
  auto r = parseConfig(yaml, other.path());
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->tls.cert_file, other.path() + "/tls/a.crt");
  EXPECT_EQ((*r)->tls.key_file, other.path() + "/tls/a.key");

  // The same file against a directory without the certificates is rejected.
  auto missing = parse(yaml);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(dir_.path() + "/tls/a.crt"), std::string::npos)
      << missing.error().message;
}

TEST_F(ParseConfigTest, UnreadableFileIsRejected) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of mode";
  const std::string key = dir_.write("certs/locked.key", "x");
  std::filesystem::permissions(key, std::filesystem::perms::none);
  auto r = parse(std::string("tls: { cert: certs/server.crt, key: certs/locked.key }\n") +
                 kMinimalConnections);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.rfind("config: tls.key: ", 0), 0u) << r.error().message;
  EXPECT_NE(r.error().message.find("Permission denied"), std::string::npos);
}

TEST_F(ParseConfigTest, LoadConfigResolvesAgainstTheFilesDirectory) {
  TempDir site;
  site.write("certs/s.crt", "x");
  site.write("certs/s.key", "x");
  const std::string path = site.write(
      "etc/pgwarden.yaml",
      std::string("tls: { cert: ../certs/s.crt, key: ../certs/s.key }\n") + kMinimalConnections);
  auto r = loadConfig(path);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->tls.cert_file, site.path() + "/certs/s.crt");

  auto missing = loadConfig(site.path() + "/etc/none.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message.rfind("config: " + site.path() + "/etc/none.yaml: ", 0), 0u)
      << missing.error().message;

  auto dir = loadConfig(site.path() + "/etc");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("is a directory"), std::string::npos);
}

}  // namespace
}  // namespace pgw::config
