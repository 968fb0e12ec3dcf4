/// parseConfig, `audit:` section: defaults with no section, the long and the
/// shorthand sink forms, every option, the per-policy parameters mode, and
/// errors that name their key path.

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"
#include "support/temp_dir.h"

namespace pgw::config {
namespace {

using test_support::TempDir;

constexpr const char* kConnections = R"(
connections:
  prod:
    host: db.internal
    credentials:
      ro: { user: agent_ro }
)";

class AuditConfigTest : public ::testing::Test {
 protected:
  Result<std::shared_ptr<const Config>> parse(const std::string& audit) {
    return parseConfig(std::string(kConnections) + audit, dir_.path());
  }
  void expectError(const std::string& audit, const std::string& message) {
    auto r = parse(audit);
    ASSERT_FALSE(r.ok()) << audit;
    EXPECT_EQ(r.error().message, message);
  }
  TempDir dir_;
};

TEST_F(AuditConfigTest, NoSectionMeansSqliteNextToTheConfig) {
  auto r = parse("");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const AuditConfig& a = (*r)->audit;
  EXPECT_TRUE(a.enabled);
  ASSERT_EQ(a.sinks.size(), 1u);
  EXPECT_EQ(a.sinks[0].type, AuditSinkConfig::Type::Sqlite);
  EXPECT_EQ(a.sinks[0].path, dir_.path() + "/data/audit.db");
  EXPECT_EQ(a.sinks[0].compression, AuditSinkConfig::Compression::Zstd);
  EXPECT_EQ(a.queue, 65536u);
  EXPECT_EQ(a.batch, 4096u);
  EXPECT_EQ(a.flush_interval, std::chrono::milliseconds(50));
  EXPECT_FALSE(a.synchronous);
  EXPECT_EQ(a.on_full, AuditOnFull::Block);
  EXPECT_EQ(a.parameters, AuditParams::Redacted);
  EXPECT_EQ(a.retention.count(), 0);
  EXPECT_FALSE(a.checkpoint);
  EXPECT_FALSE(a.gateway_id.empty());  // the host name
}

TEST_F(AuditConfigTest, EveryOptionRoundTrips) {
  dir_.write("certs/audit-signing.pem", "-----BEGIN PRIVATE KEY-----\n");
  ::setenv("PGW_TEST_AUDIT_DSN", "host=audit.internal dbname=audit user=gw password=s3cret", 1);
  auto r = parse(R"(
audit:
  sinks:
    - { type: sqlite, path: /var/lib/pgwarden/audit.db, compression: none }
    - { type: jsonl, path: logs/audit.jsonl, max_size: 16MB, keep: 3 }
    - { type: postgres, dsn: "${env:PGW_TEST_AUDIT_DSN}", table: audit.events }
  queue: 1000
  batch: 100
  flush_interval: 20ms
  synchronous: true
  on_full: reject
  parameters: none
  retention: 90d
  checkpoint: { key: certs/audit-signing.pem, every: 500, interval: 1m }
  gateway_id: gw-eu-1
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const AuditConfig& a = (*r)->audit;
  ASSERT_EQ(a.sinks.size(), 3u);
  EXPECT_EQ(a.sinks[0].path, "/var/lib/pgwarden/audit.db");
  EXPECT_EQ(a.sinks[0].compression, AuditSinkConfig::Compression::None);
  EXPECT_EQ(a.sinks[1].type, AuditSinkConfig::Type::Jsonl);
  EXPECT_EQ(a.sinks[1].path, dir_.path() + "/logs/audit.jsonl");
  EXPECT_EQ(a.sinks[1].max_size, 16u << 20);
  EXPECT_EQ(a.sinks[1].keep, 3);
  EXPECT_EQ(a.sinks[2].type, AuditSinkConfig::Type::Postgres);
  EXPECT_EQ(a.sinks[2].dsn.reveal(), "host=audit.internal dbname=audit user=gw password=s3cret");
  EXPECT_EQ(a.sinks[2].table, "audit.events");
  EXPECT_EQ(a.queue, 1000u);
  EXPECT_EQ(a.batch, 100u);
  EXPECT_EQ(a.flush_interval, std::chrono::milliseconds(20));
  EXPECT_TRUE(a.synchronous);
  EXPECT_EQ(a.on_full, AuditOnFull::Reject);
  EXPECT_EQ(a.parameters, AuditParams::None);
  EXPECT_EQ(a.retention, std::chrono::hours(24 * 90));
  ASSERT_TRUE(a.checkpoint);
  EXPECT_EQ(a.checkpoint->key_file, dir_.path() + "/certs/audit-signing.pem");
  EXPECT_EQ(a.checkpoint->every, 500u);
  EXPECT_EQ(a.checkpoint->interval, std::chrono::minutes(1));
  EXPECT_EQ(a.gateway_id, "gw-eu-1");
}

TEST_F(AuditConfigTest, ShorthandSinkAndDisabling) {
  auto r = parse("audit: { sink: \"jsonl:audit.jsonl\" }\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ((*r)->audit.sinks.size(), 1u);
  EXPECT_EQ((*r)->audit.sinks[0].type, AuditSinkConfig::Type::Jsonl);
  EXPECT_EQ((*r)->audit.sinks[0].path, dir_.path() + "/audit.jsonl");

  r = parse("audit: { enabled: false }\n");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE((*r)->audit.enabled);
}

TEST_F(AuditConfigTest, PoliciesInheritOrSetTheirParametersMode) {
  auto r = parse(R"(
audit: { parameters: full }
policies:
  - { name: a, subjects: { groups: ["*"] }, connections: ["*"] }
  - { name: b, subjects: { groups: ["*"] }, connections: ["*"], audit: { parameters: none } }
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ((*r)->policies[0].audit_parameters, AuditParams::Full);
  EXPECT_EQ((*r)->policies[1].audit_parameters, AuditParams::None);

  r = parse(R"(
policies:
  - { name: a, subjects: { groups: ["*"] }, connections: ["*"], audit: { params: full } }
)");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message,
            "config: policies[0].audit.params: unknown key (expected one of: parameters)");
}

TEST_F(AuditConfigTest, ErrorsNameTheKeyPath) {
  expectError("audit: { sinks: [] }\n",
              "config: audit.sinks: lists no sink; name at least one, or set audit.enabled: "
              "false to turn auditing off");
  expectError("audit: { sinks: [{ path: a.db }] }\n",
              "config: audit.sinks[0].type: is required: sqlite, jsonl or postgres");
  expectError("audit: { sinks: [{ type: kafka }] }\n",
              "config: audit.sinks[0].type: must be one of sqlite, jsonl, postgres (got 'kafka')");
  expectError("audit: { sinks: [{ type: sqlite, path: a.db, keep: 3 }] }\n",
              "config: audit.sinks[0].keep: is not used by a sqlite sink (only by jsonl)");
  expectError("audit: { sinks: [{ type: jsonl, path: a.jsonl, compression: zstd }] }\n",
              "config: audit.sinks[0].compression: is not used by a jsonl sink (only by sqlite)");
  expectError("audit: { sinks: [{ type: sqlite, path: a.db, compression: gzip }] }\n",
              "config: audit.sinks[0].compression: must be one of zstd, none (got 'gzip')");
  expectError("audit: { sinks: [{ type: postgres }] }\n",
              "config: audit.sinks[0].dsn: is required: a libpq connection string, e.g. "
              "\"host=db.internal dbname=audit user=pgwarden\" (put the password in password: "
              "${env:NAME})");
  expectError("audit: { sinks: [{ type: postgres, dsn: x, table: \"Robert'); DROP\" }] }\n",
              "config: audit.sinks[0].table: 'Robert'); DROP' is not a table name: lower-case "
              "letters, digits and '_', optionally schema-qualified (audit.events)");
  expectError("audit: { sinks: [{ type: sqlite, path: a.db }, { type: jsonl, path: a.db }] }\n",
              "config: audit.sinks[1]: writes " + dir_.path() +
                  "/a.db like audit.sinks[0]; give each sink its own file");
  expectError("audit: { sink: \"sqlite:a.db\", sinks: [{ type: sqlite, path: b.db }] }\n",
              "config: audit.sink: set either sink (one, as <type>:<where>) or sinks (a list), "
              "not both");
  expectError("audit: { sink: \"audit.db\" }\n",
              "config: audit.sink: must be <type>:<where>, e.g. \"sqlite:data/audit.db\", "
              "\"jsonl:logs/audit.jsonl\" or \"postgres:host=db dbname=audit\"");
  expectError("audit: { queue: 0 }\n",
              "config: audit.queue: must be a whole number from 1 to 16777216 (got '0')");
  expectError("audit: { queue: 100, batch: 200 }\n",
              "config: audit.batch: is 200, larger than audit.queue (100); a batch is taken "
              "from the queue, so make it at most the queue size");
  expectError("audit: { flush_interval: 2s }\n",
              "config: audit.flush_interval: must be at most 1s: events wait this long in memory "
              "before they are written");
  expectError("audit: { on_full: drop }\n",
              "config: audit.on_full: must be one of block, reject (got 'drop')");
  expectError("audit: { parameters: some }\n",
              "config: audit.parameters: must be one of full, redacted, none (got 'some')");
  expectError("audit: { retention: 90s }\n",
              "config: audit.retention: must be 0 (keep forever) or at least 1h; write days as "
              "e.g. 90d");
  expectError("audit: { checkpoint: { every: 10 } }\n",
              "config: audit.checkpoint.key: is required: an Ed25519 private key (PEM) that signs "
              "checkpoints; create it with: openssl genpkey -algorithm ed25519 -out "
              "certs/audit-signing.pem");
  expectError("audit: { gateway_id: \"gw one\" }\n",
              "config: audit.gateway_id: 'gw one' may hold only printable ASCII without spaces");
  expectError("audit: { sinks: [{ type: sqlite, path: \"" + dir_.path() + "\" }] }\n",
              "config: audit.sinks[0].path: " + dir_.path() + " is a directory; name a file");
}

TEST_F(AuditConfigTest, ADsnFromASecretIsNeverInAnError) {
  ::setenv("PGW_TEST_AUDIT_DSN2", "host=x password=hunter2", 1);
  auto r = parse(
      "audit: { sinks: [{ type: postgres, dsn: \"${env:PGW_TEST_AUDIT_DSN2}\", "
      "table: \"Bad\" }] }\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("hunter2"), std::string::npos) << r.error().message;
}

}  // namespace
}  // namespace pgw::config
