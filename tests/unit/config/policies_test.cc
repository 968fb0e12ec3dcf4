/// The `policies:` section: a full entry round-trips, defaults apply, every
/// rule the loader can check names its key path; and keyPathLine() finds the
/// line of a key path for "file:line" reports.

#include <gtest/gtest.h>

#include <string>

#include "config/config.h"

namespace pgw::config {
namespace {

using std::chrono::milliseconds;

constexpr const char* kConnections = R"(
connections:
  prod:
    host: db.internal
    credentials:
      readonly: { user: agent_ro }
      readwrite: { user: agent_rw }
    default_credential: readwrite
  staging:
    host: db2.internal
    credentials:
      readonly: { user: stage_ro }
      app: { user: app }
    default_credential: app
  dev:
    host: localhost
    credentials:
      app: { user: app }
)";

Result<std::shared_ptr<const Config>> parse(const std::string& policies) {
  return parseConfig(std::string(kConnections) + policies, "/");
}

TEST(PoliciesConfig, FullEntryRoundTrips) {
  auto r = parse(R"(
policies:
  - name: agents-read-prod
    subjects: { groups: [ai-agents], ids: ["ci-bot"] }
    connections: [prod, staging]
    credential: readonly
    access: read
    review_access: write
    deny:
      - { kind: delete, without_where: true }
      - { kind: drop_database }
      - { function: pg_catalog.pg_sleep }
      - { table: public.payroll, reason: "salaries stay private" }
      - { table: public.orders, writes: true }
      - { pattern: "(?i)\\bpg_advisory" }
      - { kind: drop, object: table }
    review:
      - { table: "*.audit_*" }
    allow: [truncate, copy_program]
    limits: { statement_timeout: 30s, max_rows: 10000 }
  - name: everyone.else
    subjects: { groups: ["*"] }
    connections: ["*"]
)");
  ASSERT_TRUE(r.ok()) << r.error().message;
  const Config& c = **r;
  ASSERT_EQ(c.policies.size(), 2u);
  const PolicyConfig& p = c.policies[0];
  EXPECT_EQ(p.name, "agents-read-prod");
  EXPECT_EQ(p.subject_groups, (std::vector<std::string>{"ai-agents"}));
  EXPECT_EQ(p.subject_ids, (std::vector<std::string>{"ci-bot"}));
  EXPECT_EQ(p.connections, (std::vector<std::string>{"prod", "staging"}));
  EXPECT_EQ(p.credentials,
            (std::map<std::string, std::string>{{"prod", "readonly"}, {"staging", "readonly"}}));
  EXPECT_EQ(p.access, AccessLevel::Read);
  EXPECT_EQ(p.review_access, AccessLevel::Write);
  ASSERT_EQ(p.deny.size(), 7u);
  EXPECT_EQ(p.deny[0].kind, "delete");
  EXPECT_TRUE(p.deny[0].without_where);
  EXPECT_EQ(p.deny[2].function, "pg_catalog.pg_sleep");
  EXPECT_EQ(p.deny[3].table, "public.payroll");
  EXPECT_EQ(p.deny[3].reason, "salaries stay private");
  EXPECT_FALSE(p.deny[3].writes);
  EXPECT_TRUE(p.deny[4].writes);
  EXPECT_EQ(p.deny[5].pattern, "(?i)\\bpg_advisory");
  EXPECT_EQ(p.deny[6].object, "table");
  ASSERT_EQ(p.review.size(), 1u);
  EXPECT_EQ(p.review[0].table, "*.audit_*");
  EXPECT_EQ(p.allow, (std::vector<std::string>{"truncate", "copy_program"}));
  EXPECT_EQ(p.limits.statement_timeout, milliseconds(30000));
  EXPECT_EQ(p.limits.max_rows, 10000u);

  const PolicyConfig& e = c.policies[1];
  EXPECT_EQ(e.access, AccessLevel::Read);  // the default: the least
  EXPECT_FALSE(e.review_access.has_value());
  EXPECT_EQ(e.credentials, (std::map<std::string, std::string>{
                               {"dev", "app"}, {"prod", "readwrite"}, {"staging", "app"}}));
  EXPECT_EQ(e.limits.statement_timeout, milliseconds(0));
  EXPECT_EQ(e.limits.max_rows, 0u);
}

TEST(PoliciesConfig, AbsentOrEmptyMeansNoPolicies) {
  auto r = parse("");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE((*r)->policies.empty());
  auto empty = parse("policies: []\n");
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_TRUE((*empty)->policies.empty());
}

struct BadCase {
  std::string yaml;
  std::string error;  ///< the whole message must start with this
};

std::string one(const std::string& extra) {
  return "policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod]\n" + extra;
}

TEST(PoliciesConfig, ErrorsNameTheKeyPath) {
  const BadCase cases[] = {
      {"policies: { name: p }\n", "config: policies: must be a list"},
      {"policies:\n  - subjects: { groups: [g] }\n    connections: [prod]\n",
       "config: policies[0].name: is required"},
      {"policies:\n  - name: \"a b\"\n", "config: policies[0].name: 'a b': policy names may hold"},
      {one("    acess: read\n"),
       "config: policies[0].acess: unknown key (expected one of: name, "
       "subjects, connections, credential, access, review_access, "
       "deny, review, allow, limits, audit, mask, approval, jit)"},
      {"policies:\n  - name: p\n    connections: [prod]\n",
       "config: policies[0].subjects: is required"},
      {"policies:\n  - name: p\n    subjects: {}\n    connections: [prod]\n",
       "config: policies[0].subjects: must list at least one group or id"},
      {"policies:\n  - name: p\n    subjects: { users: [x] }\n    connections: [prod]\n",
       "config: policies[0].subjects.users: unknown key"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n",
       "config: policies[0].connections: is required"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: []\n",
       "config: policies[0].connections: must name at least one connection"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod, qa]\n",
       "config: policies[0].connections[1]: 'qa' is not a connection under connections: (known: "
       "dev, prod, staging)"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod, \"*\"]\n",
       "config: policies[0].connections[1]: \"*\" already covers every connection"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod, prod]\n",
       "config: policies[0].connections[1]: 'prod' is listed twice"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod, dev]\n"
       "    credential: readonly\n",
       "config: policies[0].credential: 'readonly' is not a credential of connection 'dev' (its "
       "credentials: app)"},
      {"policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [\"*\"]\n"
       "    credential: readonly\n",
       "config: policies[0].credential: 'readonly' is not a credential of connection 'dev'"},
      {one("    access: superuser\n"),
       "config: policies[0].access: must be one of read, write, ddl, admin (got 'superuser')"},
      {one("    access: write\n    review_access: read\n"),
       "config: policies[0].review_access: must be a higher level than access (write)"},
      {one("    deny: [drop_database]\n"),
       "config: policies[0].deny[0]: must be a mapping such as { kind: drop_database }"},
      {one("    deny: [{ kind: delete, wher: true }]\n"),
       "config: policies[0].deny[0].wher: unknown key"},
      {one("    deny: [{ reason: because }]\n"),
       "config: policies[0].deny[0]: must set at least one of kind, object, without_where, "
       "function, table, pattern"},
      {one("    deny: [{ kind: delete, writes: true }]\n"),
       "config: policies[0].deny[0].writes: needs table"},
      {one("    deny: [{ without_where: yes }]\n"),
       "config: policies[0].deny[0].without_where: must be true or false"},
      {one("    review: [{ table: \"\" }]\n"),
       "config: policies[0].review[0].table: must not be empty"},
      {one("    limits: { max_rows: 0 }\n"),
       "config: policies[0].limits.max_rows: must be a whole"},
      {one("    limits: { statement_timeout: 0 }\n"),
       "config: policies[0].limits.statement_timeout: must be greater than 0"},
      {one("    limits: { rows: 5 }\n"), "config: policies[0].limits.rows: unknown key"},
      {one("  - name: p\n    subjects: { groups: [g] }\n    connections: [prod]\n"),
       "config: policies[1].name: duplicate policy name 'p' (also policies[0])"},
  };
  for (const BadCase& c : cases) {
    auto r = parse(c.yaml);
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_EQ(r.error().message.rfind(c.error, 0), 0u)
        << c.yaml << "\n  got: " << r.error().message;
    EXPECT_EQ(r.error().sqlstate, "F0000");
  }
}

TEST(KeyPathLine, FindsKeysItemsAndTheClosestExistingParent) {
  const std::string yaml =
      "connections:\n"                            // 1
      "  prod:\n"                                 // 2
      "    host: db\n"                            // 3
      "policies:\n"                               // 4
      "  - name: a\n"                             // 5
      "    deny:\n"                               // 6
      "      - { kind: delete }\n"                // 7
      "      - pattern: \"(x\"\n"                 // 8
      "  - name: b\n"                             // 9
      "    subjects: { groups: [g] }\n"           // 10
      "identity:\n"                               // 11
      "  oidc:\n"                                 // 12
      "    - required_claims:\n"                  // 13
      "        https://example.com/groups: x\n";  // 14
  EXPECT_EQ(keyPathLine(yaml, "connections.prod.host"), 3);
  EXPECT_EQ(keyPathLine(yaml, "policies[0].deny[1].pattern"), 8);
  EXPECT_EQ(keyPathLine(yaml, "policies[0].deny[0].kind"), 7);
  EXPECT_EQ(keyPathLine(yaml, "policies[1].subjects.groups[0]"), 10);
  EXPECT_EQ(keyPathLine(yaml, "policies[1].connections"), 9);  // missing: its policy's line
  EXPECT_EQ(keyPathLine(yaml, "policies[7].name"), 4);
  EXPECT_EQ(keyPathLine(yaml, "identity.oidc[0].required_claims.https://example.com/groups"), 14);
  EXPECT_EQ(keyPathLine(yaml, "nothing.here"), std::nullopt);
  EXPECT_EQ(keyPathLine("a: [", "a"), std::nullopt);

  EXPECT_EQ(errorLine(yaml, "config: policies[0].deny[1].pattern: invalid regular expression"), 8);
  EXPECT_EQ(errorLine(yaml, "config: line 4, column 3: invalid YAML: end of map not found"), 4);
  EXPECT_EQ(errorLine(yaml, "config: (top level): must be a mapping"), std::nullopt);
}

TEST(KeyPathLine, MatchesLoaderErrors) {
  const std::string yaml = std::string(kConnections) + one("    access: superuser\n");
  auto r = parseConfig(yaml, "/");
  ASSERT_FALSE(r.ok());
  auto line = errorLine(yaml, r.error().message);
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, 23);  // kConnections: 18 lines (with its leading newline); access: 5 more
}

}  // namespace
}  // namespace pgw::config
