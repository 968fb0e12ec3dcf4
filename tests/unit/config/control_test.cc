/// The control-plane sections of the config: `api:`, `notifications:`,
/// `state:`, and a policy's `approval:`, `jit:` and `estimated_rows` review
/// rules. Defaults apply when a section is absent; every mistake names its
/// key path.

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace pgw::config {
namespace {

using std::chrono::milliseconds;

constexpr const char* kBase = R"(
connections:
  prod:
    host: db.internal
    credentials:
      readonly: { user: agent_ro }
      writer: { user: agent_rw }
    default_credential: readonly
)";

Result<std::shared_ptr<const Config>> parse(const std::string& rest) {
  return parseConfig(std::string(kBase) + rest, "/etc/pgwarden");
}

std::string policy(const std::string& extra) {
  return "policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod]\n" + extra;
}

TEST(ControlConfig, DefaultsWhenAbsent) {
  auto r = parse(policy(""));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;
  EXPECT_TRUE(c.api.admins.empty());
  EXPECT_TRUE(c.api.approvers.empty());
  EXPECT_TRUE(c.api.auditors.empty());
  EXPECT_EQ(c.api.max_body, 1u << 20);
  EXPECT_EQ(apiBaseUrl(c), "http://127.0.0.1:8080");
  EXPECT_TRUE(c.webhooks.empty());
  EXPECT_EQ(c.state.path, "/etc/pgwarden/data/state.db");
  EXPECT_TRUE(c.state.master_key.empty());
  EXPECT_EQ(c.state.retention, std::chrono::hours(24 * 30));
  const PolicyConfig& p = c.policies.at(0);
  EXPECT_EQ(p.approval.mode, ApprovalMode::Wait);
  EXPECT_TRUE(p.approval.approvers.empty());
  EXPECT_EQ(p.approval.min_approvals, 1);
  EXPECT_EQ(p.approval.timeout, milliseconds(5 * 60000));
  EXPECT_EQ(p.approval.retry_ttl, milliseconds(15 * 60000));
  EXPECT_FALSE(p.jit.max_level.has_value());
}

TEST(ControlConfig, FullSectionsRoundTrip) {
  auto r = parse(policy(R"(    access: read
    review: [{ estimated_rows: 5000 }, { kind: delete, estimated_rows: 10 }]
    approval:
      mode: retry
      approvers: [dba, leads]
      min_approvals: 2
      timeout: 90s
      retry_ttl: 10m
    jit: { max_level: write, max_duration: 2h, credential: writer }
api:
  roles: { admin: [platform], approver: [dba], auditor: [compliance, sec] }
  max_body: 64kB
  public_url: "https://pgwarden.internal/"
notifications:
  webhooks:
    - { name: ops, url: "https://hooks.internal/x", secret: s3cret, max_attempts: 3, timeout: 2s }
    - { url: "http://127.0.0.1:9/slack", format: slack }
state:
  path: /var/lib/pgwarden/state.db
  master_key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  retention: 7d
)"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;
  EXPECT_EQ(c.api.admins, std::vector<std::string>{"platform"});
  EXPECT_EQ(c.api.approvers, std::vector<std::string>{"dba"});
  EXPECT_EQ(c.api.auditors, (std::vector<std::string>{"compliance", "sec"}));
  EXPECT_EQ(c.api.max_body, 64u * 1024);
  EXPECT_EQ(apiBaseUrl(c), "https://pgwarden.internal");
  ASSERT_EQ(c.webhooks.size(), 2u);
  EXPECT_EQ(c.webhooks[0].name, "ops");
  EXPECT_EQ(c.webhooks[0].format, WebhookConfig::Format::Generic);
  EXPECT_EQ(c.webhooks[0].secret.reveal(), "s3cret");
  EXPECT_EQ(c.webhooks[0].max_attempts, 3);
  EXPECT_EQ(c.webhooks[0].timeout, milliseconds(2000));
  EXPECT_EQ(c.webhooks[1].name, "webhook1");
  EXPECT_EQ(c.webhooks[1].format, WebhookConfig::Format::Slack);
  EXPECT_TRUE(c.webhooks[1].secret.empty());
  EXPECT_EQ(c.state.path, "/var/lib/pgwarden/state.db");
  EXPECT_EQ(c.state.master_key.reveal().size(), 64u);
  EXPECT_EQ(c.state.retention, std::chrono::hours(24 * 7));

  const PolicyConfig& p = c.policies.at(0);
  ASSERT_EQ(p.review.size(), 2u);
  EXPECT_EQ(p.review[0].estimated_rows, 5000.0);
  EXPECT_EQ(p.review[1].kind, "delete");
  EXPECT_EQ(p.review[1].estimated_rows, 10.0);
  EXPECT_EQ(p.approval.mode, ApprovalMode::Retry);
  EXPECT_EQ(p.approval.approvers, (std::vector<std::string>{"dba", "leads"}));
  EXPECT_EQ(p.approval.min_approvals, 2);
  EXPECT_EQ(p.approval.timeout, milliseconds(90000));
  EXPECT_EQ(p.approval.retry_ttl, milliseconds(600000));
  EXPECT_EQ(p.jit.max_level, AccessLevel::Write);
  EXPECT_EQ(p.jit.max_duration, milliseconds(2 * 3600000));
  EXPECT_EQ(p.jit.credential, "writer");
}

struct BadCase {
  std::string yaml;
  std::string error;  ///< prefix of the message
};

TEST(ControlConfig, ErrorsNameTheKeyPath) {
  const BadCase cases[] = {
      {"api: { roles: { admin: [a], owner: [b] } }\n", "config: api.roles.owner: unknown key"},
      {"api: { max_body: 10 }\n", "config: api.max_body:"},
      {"api: { public_url: \"pgwarden.internal\" }\n",
       "config: api.public_url: must start with http:// or https://"},
      {"notifications: { webhooks: [{ name: x }] }\n",
       "config: notifications.webhooks[0].url: is required"},
      {"notifications: { webhooks: [{ url: \"ftp://x\" }] }\n",
       "config: notifications.webhooks[0].url: must start with http:// or https://"},
      {"notifications: { webhooks: [{ url: \"https://x\", format: teams }] }\n",
       "config: notifications.webhooks[0].format:"},
      {"notifications: { webhooks: [{ url: \"https://x\", max_attempts: 0 }] }\n",
       "config: notifications.webhooks[0].max_attempts:"},
      {"state: { master_key: short }\n", "config: state.master_key: must be 32 bytes or 64 hex"},
      {"state: { master_key: "
       "zz23456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef }\n",
       "config: state.master_key: must be 32 bytes or 64 hex"},
      {"state: { dir: /x }\n", "config: state.dir: unknown key"},
      {"state: { retention: 10m }\n", "config: state.retention: must be at least 1h"},
      {policy("    approval: { mode: later }\n"), "config: policies[0].approval.mode:"},
      {policy("    approval: { min_approvals: 0 }\n"),
       "config: policies[0].approval.min_approvals:"},
      {policy("    approval: { quorum: 2 }\n"), "config: policies[0].approval.quorum: unknown key"},
      {policy("    jit: { max_duration: 1h }\n"), "config: policies[0].jit.max_level: is required"},
      {policy("    access: write\n    jit: { max_level: write }\n"),
       "config: policies[0].jit.max_level: must be a higher level than access (write)"},
      {policy("    jit: { max_level: write, credential: root }\n"),
       "config: policies[0].jit.credential: 'root' is not a credential of connection 'prod'"},
      {policy("    deny: [{ estimated_rows: 10 }]\n"),
       "config: policies[0].deny[0].estimated_rows: is a review rule condition"},
      {policy("    review: [{ estimated_rows: -1 }]\n"),
       "config: policies[0].review[0].estimated_rows:"},
  };
  for (const BadCase& c : cases) {
    auto r = parse(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().message.rfind(c.error, 0), 0u)
        << c.yaml << "\n  got: " << r.error().message;
    EXPECT_EQ(r.error().sqlstate, "F0000");
  }
}

TEST(ControlConfig, ApiUrlFromAWildcardListenIsReachable) {
  auto v4 = parse("listen: { http: \"0.0.0.0:9000\" }\n");
  ASSERT_TRUE(v4.ok()) << v4.error().message;
  EXPECT_EQ(apiBaseUrl(**v4), "http://127.0.0.1:9000");
  auto v6 = parse("listen: { http: \"[::]:9000\" }\n");
  ASSERT_TRUE(v6.ok()) << v6.error().message;
  EXPECT_EQ(apiBaseUrl(**v6), "http://[::1]:9000");
}

TEST(ControlConfig, SecretsStayOutOfErrors) {
  // A webhook URL can carry a token (Slack's do): a bad one is reported
  // without echoing it.
  auto r = parse("notifications: { webhooks: [{ url: \"hxxps://hooks/T0K3N\" }] }\n");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message.find("T0K3N"), std::string::npos) << r.error().message;
  auto k = parse("state: { master_key: S3CRETKEY }\n");
  ASSERT_FALSE(k.ok());
  EXPECT_EQ(k.error().message.find("S3CRETKEY"), std::string::npos) << k.error().message;
}

}  // namespace
}  // namespace pgw::config
