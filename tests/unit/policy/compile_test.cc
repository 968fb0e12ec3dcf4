/// PolicySet::compile: rejects what the config loader cannot check (kinds,
/// guardrail names, patterns) with the key path, and warns about policies
/// that cannot matter. Also the kind-name table and name globs.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "policy/guardrails.h"
#include "policy/kind_names.h"
#include "policy/policy_set.h"
#include "policy/rules.h"
#include "statement_builder.h"

namespace pgw::policy {
namespace {

using testing::compileError;
using testing::compileYaml;

constexpr const char* kConnections = R"(
connections:
  prod:
    host: db.internal
    credentials:
      ro: { user: agent_ro }
  staging:
    host: db2.internal
    credentials:
      app: { user: app }
)";

std::string withPolicy(const std::string& body) {
  return std::string(kConnections) +
         "policies:\n  - name: p\n    subjects: { groups: [g] }\n    connections: [prod]\n" + body;
}

TEST(KindNames, EveryKindHasAUniqueNameThatRoundTrips) {
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < kStatementKindCount; ++i) {
    const auto kind = static_cast<sql::StatementKind>(i);
    const std::string_view name = kindName(kind);
    ASSERT_FALSE(name.empty()) << i;
    EXPECT_TRUE(seen.insert(name).second) << "duplicate name " << name;
    EXPECT_EQ(kindFromName(name), kind) << name;
    EXPECT_FALSE(kindDisplay(kind).empty()) << name;
    for (char c : name) EXPECT_TRUE((c >= 'a' && c <= 'z') || c == '_') << name;
  }
  EXPECT_EQ(kindName(sql::StatementKind::DropDatabase), "drop_database");
  EXPECT_EQ(kindName(sql::StatementKind::CopyToProgram), "copy_to_program");
  EXPECT_EQ(kindName(sql::StatementKind::ClosePortal), "close_portal");
  EXPECT_EQ(kindFromName("DELETE"), std::nullopt);
  EXPECT_EQ(kindDisplay(sql::StatementKind::Drop, "materialized_view"), "DROP MATERIALIZED VIEW");
  EXPECT_EQ(kindDisplay(sql::StatementKind::Delete), "DELETE");
}

TEST(Guardrails, EveryGuardrailHasANameThatRoundTrips) {
  for (std::size_t i = 0; i < kGuardrailCount; ++i) {
    const auto g = static_cast<Guardrail>(i);
    EXPECT_EQ(guardrailFromName(guardrailName(g)), g);
    EXPECT_FALSE(guardrailAdvice(g).empty());
  }
  EXPECT_EQ(guardrailFromName("truncat"), std::nullopt);
}

TEST(Guardrails, ReadOnlyOffFailsClosed) {
  for (const char* on : {"on", "ON", "true", "'on'", "yes", "1", "t"}) {
    EXPECT_FALSE(turnsReadOnlyOff("transaction_read_only", on)) << on;
  }
  // The session's default is the gateway's (on); the transaction's is the
  // built-in off.
  EXPECT_FALSE(turnsReadOnlyOff("default_transaction_read_only", "DEFAULT"));
  EXPECT_TRUE(turnsReadOnlyOff("transaction_read_only", "DEFAULT"));
  for (const char* off : {"off", "false", "0", "no", "of", "f", "", "'off'", "whatever"}) {
    EXPECT_TRUE(turnsReadOnlyOff("default_transaction_read_only", off)) << off;
  }
  EXPECT_FALSE(turnsReadOnlyOff("work_mem", "off"));
}

TEST(NameGlobs, MatchCaseInsensitivelyWithStars) {
  using detail::globMatch;
  EXPECT_TRUE(globMatch("dblink*", "dblink_exec"));
  EXPECT_TRUE(globMatch("dblink*", "DBLINK"));
  EXPECT_FALSE(globMatch("dblink*", "my_dblink"));
  EXPECT_TRUE(globMatch("*pay*", "payroll"));
  EXPECT_TRUE(globMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(globMatch("a*b*c", "aXXbYY"));
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_FALSE(globMatch("payroll", "payrolls"));

  auto p = detail::NamePattern::parse("public.payroll", "x");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->matches("public", "payroll"));
  EXPECT_TRUE(p->matches("", "payroll"));  // unqualified: search_path could reach public
  EXPECT_FALSE(p->matches("hr", "payroll"));
  auto any = detail::NamePattern::parse("Payroll", "x");
  ASSERT_TRUE(any.ok());
  EXPECT_TRUE(any->matches("hr", "payroll"));
  EXPECT_FALSE(detail::NamePattern::parse("a.b.c", "x").ok());
  EXPECT_FALSE(detail::NamePattern::parse("a.", "x").ok());
  EXPECT_FALSE(detail::NamePattern::parse("\"Quoted\"", "x").ok());
}

struct BadPolicy {
  std::string body;
  std::string error;  ///< expected substring
};

TEST(PolicyCompile, RejectsWithTheKeyPath) {
  const BadPolicy cases[] = {
      {"    deny: [{ kind: dlete }]\n",
       "config: policies[0].deny[0].kind: unknown statement kind 'dlete'"},
      {"    deny: [{ kind: delete }, { pattern: \"(unclosed\" }]\n",
       "config: policies[0].deny[1].pattern: invalid regular expression (RE2 syntax): missing )"},
      {"    review: [{ pattern: \"(?<name>x\" }]\n", "config: policies[0].review[0].pattern:"},
      {"    allow: [truncat]\n",
       "config: policies[0].allow[0]: unknown guardrail 'truncat' (guardrails: drop_database,"},
      {"    allow: [truncate, truncate]\n",
       "config: policies[0].allow[1]: 'truncate' is listed twice"},
      {"    deny: [{ kind: select, object: table }]\n",
       "config: policies[0].deny[0].object: applies only to kinds create, alter, drop, rename and "
       "comment, not select"},
      {"    deny: [{ kind: drop_table, object: table }]\n",
       "config: policies[0].deny[0].kind: 'drop_table' already names the object type"},
      {"    deny: [{ kind: insert, without_where: true }]\n",
       "config: policies[0].deny[0].without_where: applies only to kinds delete and update"},
      {"    deny: [{ table: a.b.c }]\n", "config: policies[0].deny[0].table: 'a.b.c' must be"},
      {"    deny: [{ function: \"my func\" }]\n", "config: policies[0].deny[0].function:"},
      {"    deny: [{ object: \"Table!\" }]\n", "config: policies[0].deny[0].object:"},
  };
  for (const BadPolicy& c : cases) {
    const std::string error = compileError(withPolicy(c.body));
    EXPECT_NE(error.find(c.error), std::string::npos) << c.body << "\n  got: " << error;
  }
}

TEST(PolicyCompile, AcceptsKindShorthandsAndGlobs) {
  auto set = compileYaml(withPolicy(R"(    deny:
      - { kind: drop_materialized_view }
      - { kind: drop, object: index }
      - { kind: create_role }
      - { function: "pg_catalog.pg_*" }
      - { table: "*.secret_*", writes: true }
      - { without_where: true }
)"));
  ASSERT_NE(set, nullptr);
  EXPECT_EQ(set->policies().front().denyRules().size(), 6u);
}

TEST(PolicyCompile, Warnings) {
  auto none = compileYaml(kConnections);
  ASSERT_NE(none, nullptr);
  EXPECT_TRUE(none->policies().empty());
  ASSERT_EQ(none->warnings().size(), 1u);
  EXPECT_NE(none->warnings()[0].find("transparent proxy"), std::string::npos);

  auto set = compileYaml(std::string(kConnections) + R"(policies:
  - name: everyone
    subjects: { groups: ["*"] }
    connections: [prod]
    allow: [truncate]
  - name: hidden
    subjects: { groups: [dev] }
    connections: [prod]
  - name: visible
    subjects: { groups: [dev] }
    connections: ["*"]
)");
  ASSERT_NE(set, nullptr);
  ASSERT_EQ(set->warnings().size(), 2u);
  EXPECT_EQ(set->warnings()[0],
            "config: policies[0].allow[0]: lifting truncate has no effect: the statements it "
            "covers need ddl access and the policy grants read");
  EXPECT_EQ(set->warnings()[1],
            "config: policies[1]: policy 'hidden' can never match: policies[0] ('everyone') "
            "comes first and matches every subject on its connections");
}

}  // namespace
}  // namespace pgw::policy
