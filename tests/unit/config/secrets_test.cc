/// Secret references: `${env:NAME}` and `${file:PATH}` resolve at load, and
/// no error message ever carries a secret's value.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "config/config.h"
#include "support/temp_dir.h"

namespace pgw::config {
namespace {

using test_support::TempDir;

/// Distinctive enough that finding it in a message cannot be a coincidence.
constexpr const char* kSecret = "Zebra-7f3a-hunter2-SECRET";

class SecretsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ::setenv("PGW_TEST_SECRET", kSecret, 1);
    ::unsetenv("PGW_TEST_UNSET");
    dir_.write("secrets/s", std::string(kSecret) + "\n");
  }
  void TearDown() override { ::unsetenv("PGW_TEST_SECRET"); }

  Result<std::shared_ptr<const Config>> parse(const std::string& yaml) {
    return parseConfig(yaml, dir_.path());
  }

  /// A config whose only credential has `password`.
  Result<std::shared_ptr<const Config>> parsePassword(const std::string& password) {
    return parse(
        "connections:\n  prod:\n    host: db\n    credentials:\n      ro: { user: u, "
        "password: '" +
        password + "' }\n");
  }
  std::string passwordOf(const Config& c) {
    return c.connections.at("prod").credentials.at("ro").password.reveal();
  }

  TempDir dir_;
};

TEST_F(SecretsTest, EnvReferenceResolves) {
  auto r = parsePassword("${env:PGW_TEST_SECRET}");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(passwordOf(**r), kSecret);
}

TEST_F(SecretsTest, EnvVariableSetButEmptyIsAnEmptyPassword) {
  ::setenv("PGW_TEST_EMPTY", "", 1);
  auto r = parsePassword("${env:PGW_TEST_EMPTY}");
  ::unsetenv("PGW_TEST_EMPTY");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "config: connections.prod.credentials.ro.password: must not be empty");
}

TEST_F(SecretsTest, MissingEnvVariableNamesKeyAndVariableOnly) {
  auto r = parsePassword("${env:PGW_TEST_UNSET}");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "config: connections.prod.credentials.ro.password: environment variable "
            "PGW_TEST_UNSET is not set (referenced as ${env:PGW_TEST_UNSET})");
}

TEST_F(SecretsTest, ReferencesResolveInAnyStringField) {
  ::setenv("PGW_TEST_PORT", "6000", 1);
  dir_.write("host.txt", "db.from.file\n");
  auto r = parse(
      "connections:\n  prod:\n    host: '${file:host.txt}'\n    port: '${env:PGW_TEST_PORT}'\n"
      "    credentials:\n      ro: { user: u }\n");
  ::unsetenv("PGW_TEST_PORT");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->connections.at("prod").host, "db.from.file");
  EXPECT_EQ((*r)->connections.at("prod").port, 6000);
}

TEST_F(SecretsTest, NotAWholeReferenceIsALiteral) {
  for (const std::string literal : {"x${env:PGW_TEST_SECRET}", "${env:PGW_TEST_SECRET}x",
                                    "$env:PGW_TEST_SECRET", "{env:PGW_TEST_SECRET}", "$", "${}"}) {
    SCOPED_TRACE(literal);
    auto r = parsePassword(literal);
    if (literal == "${}") {
      // Shaped like a reference but not one: rejected rather than taken literally.
      ASSERT_FALSE(r.ok());
      EXPECT_NE(r.error().message.find("neither ${env:NAME} nor ${file:PATH}"), std::string::npos);
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(passwordOf(**r), literal);
  }
}

struct FileCase {
  const char* name;
  std::string content;
  std::string expected;
};

TEST_F(SecretsTest, FileReferenceStripsOneTrailingNewline) {
  const FileCase cases[] = {
      {"no newline", "pw", "pw"},
      {"one newline", "pw\n", "pw"},
      {"crlf", "pw\r\n", "pw"},
      {"two newlines", "pw\n\n", "pw\n"},
      {"inner newline", "a\nb\n", "a\nb"},
      {"spaces kept", " pw \n", " pw "},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    dir_.write("secrets/case", c.content);
    auto r = parsePassword("${file:secrets/case}");
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(passwordOf(**r), c.expected);
  }
}

TEST_F(SecretsTest, FileReferenceTakesAnAbsolutePath) {
  TempDir elsewhere;
  const std::string path = elsewhere.write("pw", "abs-pw\n");
  auto r = parsePassword("${file:" + path + "}");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(passwordOf(**r), "abs-pw");
}

TEST_F(SecretsTest, BadSecretFilesAreRejected) {
  dir_.write("secrets/empty", "");
  dir_.write("secrets/newline-only", "\n");
  dir_.write("secrets/huge", std::string((1u << 20) + 1, 'x'));
  const struct {
    const char* ref;
    std::string contains;
  } cases[] = {
      {"${file:secrets/missing}", "cannot read secret file " + dir_.path() + "/secrets/missing: "},
      {"${file:secrets}", "is a directory"},
      {"${file:secrets/huge}", "is larger than"},
      {"${file:secrets/empty}", "must not be empty"},
      {"${file:secrets/newline-only}", "must not be empty"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.ref);
    auto r = parsePassword(c.ref);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message.rfind("config: connections.prod.credentials.ro.password: ", 0), 0u)
        << r.error().message;
    EXPECT_NE(r.error().message.find(c.contains), std::string::npos) << r.error().message;
  }
}

struct LeakCase {
  const char* name;
  std::string yaml;
  std::string path;  ///< expected key path in the message
};

/// Places the secret where validation fails because of its value (or next to
/// a failure) and checks the message names the key but never the value.
TEST_F(SecretsTest, NoErrorEverContainsTheSecret) {
  const std::string secret = kSecret;
  const std::string conns =
      "connections:\n  prod:\n    host: db\n    credentials:\n      ro: { user: u }\n";
  auto prod = [](const std::string& body) {
    return "connections:\n  prod:\n    host: db\n" + body +
           "    credentials:\n      ro: { user: u }\n";
  };
  std::vector<LeakCase> cases;
  for (const std::string ref : {"${env:PGW_TEST_SECRET}", "${file:secrets/s}"}) {
    const std::string q = "'" + ref + "'";
    cases.push_back({"workers", "workers: " + q + "\n" + conns, "workers"});
    cases.push_back({"log_level", "log_level: " + q + "\n" + conns, "log_level"});
    cases.push_back({"listen", "listen: { postgres: " + q + " }\n" + conns, "listen.postgres"});
    cases.push_back(
        {"size", "limits: { max_message_size: " + q + " }\n" + conns, "limits.max_message_size"});
    cases.push_back({"client connections",
                     "limits: { max_client_connections: " + q + " }\n" + conns,
                     "limits.max_client_connections"});
    cases.push_back({"duration", "timeouts: { auth: " + q + " }\n" + conns, "timeouts.auth"});
    cases.push_back({"bool", "tls: { require: " + q + " }\n" + conns, "tls.require"});
    cases.push_back({"cert path", "tls: { cert: " + q + ", key: x }\n" + conns, "tls.cert"});
    cases.push_back({"port", prod("    port: " + q + "\n"), "connections.prod.port"});
    cases.push_back({"mode", prod("    tls: { mode: " + q + " }\n"), "connections.prod.tls.mode"});
    cases.push_back({"connect timeout", prod("    connect_timeout: " + q + "\n"),
                     "connections.prod.connect_timeout"});
    cases.push_back({"default credential", prod("    default_credential: " + q + "\n"),
                     "connections.prod.default_credential"});
    cases.push_back({"scram", "identity:\n  users:\n    - { name: a, scram: " + q + " }\n" + conns,
                     "identity.users[0].scram"});
    cases.push_back({"duplicate user from secret",
                     "identity:\n  users:\n    - { name: " + q +
                         ", password: x }\n    - { name: " + q + ", password: x }\n" + conns,
                     "identity.users[1].name"});
  }
  // Literal secrets: failures next to them or about their shape.
  cases.push_back({"literal scram",
                   "identity:\n  users:\n    - { name: a, scram: '" + secret + "' }\n" + conns,
                   "identity.users[0].scram"});
  cases.push_back(
      {"literal password beside a typo",
       "identity:\n  users:\n    - { name: a, password: '" + secret + "', grops: [x] }\n" + conns,
       "identity.users[0].grops"});
  cases.push_back({"literal password as a list",
                   "identity:\n  users:\n    - { name: a, password: ['" + secret + "'] }\n" + conns,
                   "identity.users[0].password"});
  cases.push_back({"literal password and scram",
                   "identity:\n  users:\n    - { name: a, password: '" + secret + "', scram: '" +
                       secret + "' }\n" + conns,
                   "identity.users[0]"});
  cases.push_back({"literal credential password unterminated",
                   "connections:\n  prod:\n    host: db\n    credentials:\n      ro: { user: u, "
                   "password: '" +
                       secret + " }\n",
                   "line "});

  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.name) + "\n" + c.yaml);
    auto r = parse(c.yaml);
    ASSERT_FALSE(r.ok());
    const std::string& msg = r.error().message;
    EXPECT_EQ(msg.rfind("config: " + c.path, 0), 0u) << msg;
    EXPECT_EQ(msg.find(secret), std::string::npos) << msg;
    EXPECT_EQ(msg.find("Zebra"), std::string::npos) << msg;
  }
}

}  // namespace
}  // namespace pgw::config
