/// Case files: the parser, the runner (with a fake analyzer standing in for
/// src/sql), and a check that every case file shipped in tests/policy_cases
/// parses and points at a config whose policies compile.

#include "policy/case_file.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>

#include "statement_builder.h"

namespace pgw::policy {
namespace {

using testing::compileYaml;
using testing::K;
using testing::Stmt;

TEST(ParseSubject, IdsGroupsAndNobody) {
  auto s = parseSubject("id:alice group:dev, group:ai-agents");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->id, "alice");
  EXPECT_EQ(s->groups, (std::vector<std::string>{"dev", "ai-agents"}));
  auto nobody = parseSubject(" - ");
  ASSERT_TRUE(nobody.ok());
  EXPECT_TRUE(nobody->id.empty());
  EXPECT_TRUE(nobody->groups.empty());
  EXPECT_FALSE(parseSubject("").ok());
  EXPECT_FALSE(parseSubject("alice").ok());
  EXPECT_FALSE(parseSubject("id:a id:b").ok());
  EXPECT_FALSE(parseSubject("group:").ok());
}

TEST(ParseCaseFile, LinesContinuationsAndPipesInSql) {
  const std::string text =
      "# a comment\n"
      "\n"
      "@config ../conf/pgwarden.yaml\n"
      "group:ai-agents | prod | DELETE FROM t | deny guardrail:delete_without_where\n"
      "id:alice group:dev | prod | SELECT 'a' || 'b' | allow   # pipes inside the SQL\n"
      "  group:x | staging | SELECT 1 \\\r\n"
      "    FROM t -- comment \\\n"
      "    WHERE a | refuse\n"
      "- | prod | SELECT j #>> '{a}' FROM t | review review[0]\n";
  auto file = parseCaseFile(text, "/cases/dir");
  ASSERT_TRUE(file.ok()) << file.error().message;
  EXPECT_EQ(file->config, "/cases/conf/pgwarden.yaml");
  ASSERT_EQ(file->cases.size(), 4u);

  const PolicyCase& a = file->cases[0];
  EXPECT_EQ(a.line, 4);
  EXPECT_EQ(a.subject.groups, (std::vector<std::string>{"ai-agents"}));
  EXPECT_EQ(a.connection, "prod");
  EXPECT_EQ(a.sql, "DELETE FROM t");
  EXPECT_EQ(a.expected, Outcome::Deny);
  EXPECT_EQ(a.rule, "guardrail:delete_without_where");

  EXPECT_EQ(file->cases[1].sql, "SELECT 'a' || 'b'");
  EXPECT_EQ(file->cases[1].expected, Outcome::Allow);
  EXPECT_EQ(file->cases[1].rule, "");

  const PolicyCase& c = file->cases[2];
  EXPECT_EQ(c.line, 6);
  EXPECT_EQ(c.sql, "SELECT 1 \nFROM t -- comment \nWHERE a");
  EXPECT_EQ(c.expected, Outcome::Refuse);

  EXPECT_EQ(file->cases[3].sql, "SELECT j #>> '{a}' FROM t");
  EXPECT_EQ(file->cases[3].expected, Outcome::Review);
  EXPECT_EQ(file->cases[3].rule, "review[0]");
}

TEST(ParseCaseFile, ErrorsNameTheLine) {
  const std::pair<std::string, std::string> cases[] = {
      {"\n\ngroup:a | prod | SELECT 1\n", "3: expected 'subject | connection | SQL | expectation'"},
      {"group:a | prod | SELECT 1 | maybe\n", "1: unknown outcome 'maybe'"},
      {"group:a | prod | SELECT 1 | deny a b\n", "1: the expectation must be"},
      {"bob | prod | SELECT 1 | deny\n", "1: 'bob' is not id:<id> or group:<group>"},
      {"group:a |  | SELECT 1 | deny\n", "1: the connection is empty"},
      {"group:a | prod |  | deny\n", "1: the SQL is empty"},
      {"@include x\n", "1: unknown directive"},
      {"@config a\n@config b\n", "2: @config is given twice"},
      {"group:a | prod | SELECT 1 \\", "1: the last line ends with '\\'"},
  };
  for (const auto& [text, error] : cases) {
    auto file = parseCaseFile(text, "");
    ASSERT_FALSE(file.ok()) << text;
    EXPECT_EQ(file.error().message.rfind(error, 0), 0u)
        << text << "\n  got: " << file.error().message;
  }
}

constexpr const char* kYaml = R"(
connections:
  prod:
    host: db.internal
    credentials:
      ro: { user: agent_ro }
policies:
  - name: agents
    subjects: { groups: [ai-agents] }
    connections: [prod]
    access: read
)";

TEST(RunCases, ComparesOutcomeAndRuleAndReportsFailures) {
  auto set = compileYaml(kYaml);
  ASSERT_NE(set, nullptr);
  const std::map<std::string, sql::StatementInfo> fake = {
      {"SELECT 1", Stmt(K::Select)},
      {"DELETE FROM t", Stmt(K::Delete).written("t").noWhere()},
      {"INSERT INTO t VALUES (1)", Stmt(K::Insert).written("t")},
  };
  AnalyzeFn analyze = [&](const std::string& sql) {
    sql::Analysis a;
    auto it = fake.find(sql);
    if (it == fake.end()) {
      a.parsed = false;
      a.statements.push_back(Stmt(K::Unparsed).error("not in the fake analyzer"));
    } else {
      a.statements.push_back(it->second);
    }
    return a;
  };
  auto file = parseCaseFile(
      "group:ai-agents | prod | SELECT 1 | allow access:read\n"
      "group:ai-agents | prod | DELETE FROM t | deny guardrail:delete_without_where\n"
      "group:ai-agents | prod | INSERT INTO t VALUES (1) | deny\n"
      "group:other | prod | SELECT 1 | refuse no_policy\n"
      "group:ai-agents | prod | SELECT 1 | deny\n"
      "group:ai-agents | prod | INSERT INTO t VALUES (1) | deny guardrail:truncate\n"
      "group:ai-agents | prod | SELEC 1 | deny unparsed\n",
      "");
  ASSERT_TRUE(file.ok()) << file.error().message;
  std::vector<CaseFailure> failures = runCases(*set, *file, analyze);
  ASSERT_EQ(failures.size(), 2u);
  EXPECT_EQ(failures[0].expected->line, 5);
  EXPECT_EQ(failures[0].actual.outcome, Outcome::Allow);
  EXPECT_EQ(failures[0].report,
            "-:5: group:ai-agents | prod | SELECT 1: expected deny, got allow access:read (policy "
            "\"agents\")");
  EXPECT_EQ(failures[1].expected->line, 6);
  EXPECT_EQ(failures[1].actual.decision.rule, "access:read");
}

/// The shipped case files (run against the real analyzer elsewhere) must at
/// least parse, name a config that compiles, and use its connections.
TEST(ShippedCaseFiles, ParseAndTheirConfigsCompile) {
  const std::filesystem::path dir =
      std::filesystem::path(__FILE__).parent_path() / ".." / ".." / "policy_cases";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".cases") continue;
    ++files;
    auto file = loadCaseFile(entry.path().string());
    ASSERT_TRUE(file.ok()) << file.error().message;
    EXPECT_GT(file->cases.size(), 10u) << entry.path();
    ASSERT_FALSE(file->config.empty()) << entry.path() << " has no @config";
    auto cfg = config::loadConfig(file->config);
    ASSERT_TRUE(cfg.ok()) << cfg.error().message;
    auto set = PolicySet::compile(**cfg);
    ASSERT_TRUE(set.ok()) << set.error().message;
    for (const PolicyCase& c : file->cases) {
      EXPECT_NE((*cfg)->findConnection(c.connection), nullptr)
          << entry.path().filename() << ":" << c.line << ": unknown connection " << c.connection;
      if (c.expected == Outcome::Refuse) {
        EXPECT_EQ((*set)->match(c.subject, c.connection), nullptr)
            << entry.path().filename() << ":" << c.line;
      } else {
        EXPECT_NE((*set)->match(c.subject, c.connection), nullptr)
            << entry.path().filename() << ":" << c.line << ": no policy matches";
      }
    }
  }
  EXPECT_GE(files, 2);
}

}  // namespace
}  // namespace pgw::policy
