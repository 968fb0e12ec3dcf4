/// PolicySet::match and decide: a table of (subject, connection, statement as
/// the analyzer would describe it, expected verdict and rule). The SQL in
/// each row is documentation; the StatementInfo is built by hand until the
/// analyzer lands (tests/policy_cases/ holds the same ideas as SQL).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "policy/case_file.h"
#include "policy/policy_set.h"
#include "statement_builder.h"

namespace pgw::policy {
namespace {

using testing::compileYaml;
using testing::K;
using testing::Stmt;

constexpr const char* kYaml = R"(
connections:
  prod:
    host: db.internal
    credentials:
      ro: { user: agent_ro }
      rw: { user: agent_rw }
    default_credential: ro
  staging:
    host: db2.internal
    credentials:
      app: { user: app }
policies:
  - name: agents-read-prod
    subjects: { groups: [ai-agents], ids: [ci-bot] }
    connections: [prod]
    credential: ro
    access: read
    deny:
      - { kind: delete, without_where: true }
      - { function: pg_sleep }
      - { table: public.payroll }
      - { table: public.orders, writes: true }
      - { pattern: "(?i)\\bpg_advisory" }
      - { kind: drop_table, reason: "tables are dropped by migrations" }
    limits: { statement_timeout: 30s, max_rows: 10000 }
  - name: read-lifted
    subjects: { groups: [lifted] }
    connections: [prod]
    access: read
    allow: [security_settings, set_role]
  - name: writers
    subjects: { groups: [writers] }
    connections: ["*"]
    access: write
    allow: [update_without_where]
  - name: ddl
    subjects: { groups: [dev] }
    connections: [staging]
    access: ddl
    allow: [truncate]
  - name: dba
    subjects: { ids: [alice] }
    connections: ["*"]
    access: admin
    allow: [set_role, copy_program]
  - name: reviewed
    subjects: { groups: [interns] }
    connections: [prod]
    access: read
    review_access: write
    review:
      - { table: "*.audit_*" }
)";

class DecideTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_ = compileYaml(kYaml);
    ASSERT_NE(set_, nullptr);
  }

  Decision decide(const std::string& subject, const std::string& connection,
                  const sql::StatementInfo& stmt) {
    auto s = parseSubject(subject);
    EXPECT_TRUE(s.ok());
    const CompiledPolicy* p = set_->match(*s, connection);
    EXPECT_NE(p, nullptr) << subject << " on " << connection;
    if (p == nullptr) return Decision{};
    return set_->decide(*p, stmt);
  }

  std::shared_ptr<const PolicySet> set_;
};

TEST_F(DecideTest, MatchIsFirstPolicyOfSubjectAndConnection) {
  auto subject = [](const char* text) { return *parseSubject(text); };
  const CompiledPolicy* p = set_->match(subject("group:ai-agents"), "prod");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->name(), "agents-read-prod");
  EXPECT_EQ(*p->credential("prod"), "ro");
  EXPECT_EQ(p->credential("staging"), nullptr);
  EXPECT_TRUE(p->readOnlySession());
  // A write a reviewer approves must be able to run.
  EXPECT_FALSE(set_->match(subject("group:interns"), "prod")->readOnlySession());
  EXPECT_EQ(p->limits().statement_timeout, std::chrono::seconds(30));
  EXPECT_EQ(p->limits().max_rows, 10000u);

  EXPECT_EQ(set_->match(subject("id:ci-bot"), "prod")->name(), "agents-read-prod");
  EXPECT_EQ(set_->match(subject("group:ai-agents"), "staging"), nullptr);
  // Both groups match: the earlier policy governs, like pg_hba.conf.
  EXPECT_EQ(set_->match(subject("group:writers group:ai-agents"), "prod")->name(),
            "agents-read-prod");
  const CompiledPolicy* w = set_->match(subject("group:writers"), "staging");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->name(), "writers");
  EXPECT_EQ(*w->credential("staging"), "app");  // the connection's default
  EXPECT_EQ(*w->credential("prod"), "ro");
  EXPECT_FALSE(w->readOnlySession());
  EXPECT_EQ(set_->match(subject("id:mallory group:guests"), "prod"), nullptr);
  EXPECT_EQ(set_->match(subject("-"), "prod"), nullptr);
  EXPECT_EQ(set_->match(subject("id:alice"), "unknown-db"), nullptr);
}

TEST_F(DecideTest, RefusalNamesSubjectAndConnection) {
  Decision d = PolicySet::refusal(*parseSubject("id:mallory group:guests"), "prod");
  EXPECT_EQ(d.verdict, Verdict::Deny);
  EXPECT_EQ(d.rule, "no_policy");
  EXPECT_EQ(d.sqlstate, "28000");
  EXPECT_EQ(d.message, "pgwarden: no policy allows subject \"mallory\" to use connection \"prod\"");
  EXPECT_NE(d.hint.find("guests"), std::string::npos);
}

struct Row {
  const char* sql;  ///< what the statement is; the StatementInfo below stands for it
  const char* subject;
  const char* connection;
  sql::StatementInfo stmt;
  Verdict verdict;
  const char* rule;
};

constexpr Verdict A = Verdict::Allow;
constexpr Verdict R = Verdict::Review;
constexpr Verdict D = Verdict::Deny;

std::vector<Row> rows() {
  const char* agent = "group:ai-agents";
  const char* lifted = "group:lifted";
  const char* writer = "group:writers";
  const char* dev = "group:dev";
  const char* dba = "id:alice";
  const char* intern = "group:interns";
  return {
      // Access levels.
      {"SELECT * FROM t", agent, "prod", Stmt(K::Select).read("t"), A, "access:read"},
      {"INSERT INTO t VALUES (1)", agent, "prod", Stmt(K::Insert).written("t"), D, "access:read"},
      {"DELETE FROM t WHERE id = 1", agent, "prod", Stmt(K::Delete).written("t"), D, "access:read"},
      {"SELECT 1 FOR UPDATE", agent, "prod", Stmt(K::Select).read("t").locking(), D, "access:read"},
      {"WITH d AS (DELETE FROM t WHERE x RETURNING *) SELECT * FROM d", agent, "prod",
       Stmt(K::Select).written("t").cte(), D, "access:read"},
      {"SELECT nextval('s')", agent, "prod", Stmt(K::Select).fn("nextval"), D, "access:read"},
      {"SELECT nextval('s')", writer, "prod", Stmt(K::Select).fn("nextval"), A, "access:write"},
      {"SELECT lo_unlink(1)", agent, "prod", Stmt(K::Select).fn("lo_unlink", "pg_catalog"), D,
       "access:read"},
      {"EXECUTE p", agent, "prod", Stmt(K::Execute), A, "access:read"},
      {"SHOW log_statement", agent, "prod", Stmt(K::Show).set("log_statement", ""), A,
       "access:read"},
      {"SET search_path = app", agent, "prod", Stmt(K::Set).set("search_path", "app"), A,
       "access:read"},
      {"RESET role", agent, "prod", Stmt(K::Reset).set("role", ""), A, "access:read"},
      {"COPY t TO STDOUT", agent, "prod", Stmt(K::CopyToStdout).read("t"), A, "access:read"},
      {"COPY t FROM STDIN", agent, "prod", Stmt(K::CopyFromStdin).written("t"), D, "access:read"},
      {"COPY t FROM STDIN", writer, "prod", Stmt(K::CopyFromStdin).written("t"), A, "access:write"},
      {"CREATE TABLE x AS SELECT 1", writer, "prod", Stmt(K::CreateTableAs).written("x"), D,
       "access:write"},
      {"CREATE TABLE x AS SELECT 1", dev, "staging", Stmt(K::CreateTableAs).written("x"), A,
       "access:ddl"},
      {"CREATE TABLE x (a int)", dev, "staging", Stmt(K::Create).object("table"), A, "access:ddl"},
      {"CREATE SERVER s FOREIGN DATA WRAPPER f", dev, "staging", Stmt(K::Create).object("server"),
       D, "access:ddl"},
      {"CREATE ??? (object type unknown)", dev, "staging", Stmt(K::Create), D, "access:ddl"},
      {"GRANT SELECT ON t TO bob", dev, "staging", Stmt(K::Grant), D, "access:ddl"},
      {"(a statement the analyzer does not classify)", dev, "staging", Stmt(K::Other), D,
       "access:ddl"},
      {"(a statement the analyzer does not classify)", dba, "prod", Stmt(K::Other), A,
       "access:admin"},
      {"SELECT 1 (writes, per the analyzer)", agent, "prod", Stmt(K::Select).writes(), D,
       "access:read"},

      // Nested statements: the strictest wins; plain EXPLAIN does not run its target.
      {"EXPLAIN DELETE FROM t WHERE id = 1", agent, "prod",
       Stmt(K::Explain).nested(Stmt(K::Delete).written("t")), A, "access:read"},
      {"EXPLAIN ANALYZE DELETE FROM t WHERE id = 1", agent, "prod",
       Stmt(K::Explain).analyze().nested(Stmt(K::Delete).written("t")), D, "access:read"},
      {"EXPLAIN DELETE FROM t", agent, "prod",
       Stmt(K::Explain).nested(Stmt(K::Delete).written("t").noWhere()), D, "deny[0]"},
      {"PREPARE p AS INSERT INTO t VALUES (1)", agent, "prod",
       Stmt(K::Prepare).nested(Stmt(K::Insert).written("t")), D, "access:read"},
      {"PREPARE p AS SELECT 1", agent, "prod", Stmt(K::Prepare).nested(Stmt(K::Select)), A,
       "access:read"},
      {"DO $$ BEGIN PERFORM 1; END $$", agent, "prod", Stmt(K::Do).nested(Stmt(K::Select)), D,
       "access:read"},
      {"DO $$ BEGIN DELETE FROM t; END $$", writer, "prod",
       Stmt(K::Do).nested(Stmt(K::Delete).written("t").noWhere()), D,
       "guardrail:delete_without_where"},
      {"DO $$ BEGIN EXECUTE 'DROP TABLE ' || x; END $$", writer, "prod", Stmt(K::Do).dynamic(), D,
       "dynamic_sql"},
      {"DO $$ BEGIN EXECUTE 'DROP TABLE ' || x; END $$", agent, "prod", Stmt(K::Do).dynamic(), D,
       "dynamic_sql"},
      {"DO $$ BEGIN EXECUTE 'DROP TABLE ' || x; END $$", dba, "prod", Stmt(K::Do).dynamic(), A,
       "access:admin"},
      {"CREATE TABLE x AS DELETE ... (nested deny wins over outer access)", agent, "prod",
       Stmt(K::CreateTableAs).nested(Stmt(K::Select).fn("pg_sleep")), D, "deny[1]"},

      // Explicit deny rules come first.
      {"DELETE FROM t", agent, "prod", Stmt(K::Delete).written("t").noWhere(), D, "deny[0]"},
      {"SELECT pg_sleep(10)", agent, "prod", Stmt(K::Select).fn("pg_sleep"), D, "deny[1]"},
      {"SELECT pg_catalog.pg_sleep(10)", agent, "prod",
       Stmt(K::Select).fn("pg_sleep", "pg_catalog"), D, "deny[1]"},
      {"SELECT * FROM payroll", agent, "prod", Stmt(K::Select).read("payroll"), D, "deny[2]"},
      {"SELECT * FROM \"PUBLIC\".PayRoll", agent, "prod", Stmt(K::Select).read("PayRoll", "PUBLIC"),
       D, "deny[2]"},
      {"SELECT * FROM hr.payroll", agent, "prod", Stmt(K::Select).read("payroll", "hr"), A,
       "access:read"},
      {"SELECT * FROM orders", agent, "prod", Stmt(K::Select).read("orders"), A, "access:read"},
      {"INSERT INTO orders ...", agent, "prod", Stmt(K::Insert).written("orders", "public"), D,
       "deny[3]"},
      {"SELECT pg_advisory_lock(1)", agent, "prod",
       Stmt(K::Select).fn("pg_advisory_lock").normalized("SELECT PG_ADVISORY_LOCK($1)"), D,
       "deny[4]"},
      {"DROP TABLE t", agent, "prod", Stmt(K::Drop).object("table"), D, "deny[5]"},
      {"DROP INDEX i", agent, "prod", Stmt(K::Drop).object("index"), D, "access:read"},

      // Guardrails, at every level, unless lifted.
      {"DELETE FROM t", writer, "prod", Stmt(K::Delete).written("t").noWhere(), D,
       "guardrail:delete_without_where"},
      {"UPDATE t SET a = 1", writer, "prod", Stmt(K::Update).written("t").noWhere(), A,
       "access:write"},
      {"WITH u AS (UPDATE t SET a = 1) SELECT 1", writer, "prod",
       Stmt(K::Select).written("t").cte().noWhere(), D, "guardrail:delete_without_where"},
      {"TRUNCATE t", writer, "prod", Stmt(K::Truncate).written("t"), D, "guardrail:truncate"},
      {"TRUNCATE t", dev, "staging", Stmt(K::Truncate).written("t"), A, "access:ddl"},
      {"DROP DATABASE app", dba, "prod", Stmt(K::DropDatabase), D, "guardrail:drop_database"},
      {"ALTER SYSTEM SET work_mem = '1GB'", dba, "prod", Stmt(K::AlterSystem), D,
       "guardrail:alter_system"},
      {"COPY t TO '/tmp/x'", dba, "prod", Stmt(K::CopyToFile).read("t"), D, "guardrail:copy_file"},
      {"COPY t FROM '/etc/passwd'", agent, "prod", Stmt(K::CopyFromFile).written("t"), D,
       "guardrail:copy_file"},
      {"COPY t TO PROGRAM 'sh'", agent, "prod", Stmt(K::CopyToProgram).read("t"), D,
       "guardrail:copy_program"},
      {"COPY t TO PROGRAM 'gzip > /x'", dba, "prod", Stmt(K::CopyToProgram).read("t"), A,
       "access:admin"},
      {"SELECT pg_read_file('/etc/passwd')", agent, "prod", Stmt(K::Select).fn("pg_read_file"), D,
       "guardrail:file_functions"},
      {"SELECT pg_ls_dir('.')", dba, "prod", Stmt(K::Select).fn("pg_ls_dir"), D,
       "guardrail:file_functions"},
      {"SELECT lo_import('/etc/passwd')", writer, "prod", Stmt(K::Select).fn("lo_import"), D,
       "guardrail:file_functions"},
      {"SELECT dblink_exec('...', 'DELETE ...')", agent, "prod", Stmt(K::Select).fn("dblink_exec"),
       D, "guardrail:dblink"},
      {"SELECT pg_terminate_backend(1)", agent, "prod", Stmt(K::Select).fn("pg_terminate_backend"),
       D, "guardrail:backend_signals"},
      {"SELECT pg_reload_conf()", dba, "prod", Stmt(K::Select).fn("pg_reload_conf"), D,
       "guardrail:backend_signals"},
      {"SELECT pg_switch_wal()", dba, "prod", Stmt(K::Select).fn("pg_switch_wal"), D,
       "guardrail:admin_functions"},
      {"SELECT query_to_xml('DELETE FROM t RETURNING 1', true, true, '')", agent, "prod",
       Stmt(K::Select).fn("query_to_xml"), D, "guardrail:query_functions"},
      {"SET ROLE postgres", agent, "prod", Stmt(K::SetRole).set("role", "postgres"), D,
       "guardrail:set_role"},
      {"SET ROLE NONE", agent, "prod", Stmt(K::SetRole).set("role", "NONE"), A, "access:read"},
      {"SET ROLE postgres", dba, "prod", Stmt(K::SetRole).set("role", "postgres"), A,
       "access:admin"},
      {"SET SESSION AUTHORIZATION postgres", agent, "prod",
       Stmt(K::SetSessionAuthorization).set("session_authorization", "postgres"), D,
       "guardrail:set_role"},
      {"SELECT set_config('role', 'postgres', false)", agent, "prod",
       Stmt(K::Select).fn("set_config").set("role", "postgres"), D, "guardrail:set_role"},
      {"SELECT set_config(name, 'x', false) FROM t", agent, "prod",
       Stmt(K::Select).read("t").fn("set_config"), D, "parser_settings"},
      {"SELECT set_config(name, 'x', false) FROM t (guardrails lifted)", lifted, "prod",
       Stmt(K::Select).read("t").fn("set_config"), D, "parser_settings"},
      {"SELECT set_config($1, 'x', false)", dba, "prod",
       Stmt(K::Select).fn("set_config").set("*", "x"), D, "parser_settings"},
      {"SET standard_conforming_strings = off", dba, "prod",
       Stmt(K::Set).set("standard_conforming_strings", "off"), D, "parser_settings"},
      {"SET client_encoding = 'SJIS'", dba, "prod", Stmt(K::Set).set("client_encoding", "'SJIS'"),
       D, "parser_settings"},
      {"SET NAMES 'UTF8'", agent, "prod", Stmt(K::Set).set("client_encoding", "'UTF8'"), A,
       "access:read"},
      {"RESET client_encoding", agent, "prod", Stmt(K::Reset).set("client_encoding", ""), A,
       "access:read"},
      {"SET session_replication_role = replica", writer, "prod",
       Stmt(K::Set).set("session_replication_role", "replica"), D, "guardrail:security_settings"},
      {"SET log_statement = 'none'", dba, "prod", Stmt(K::Set).set("log_statement", "'none'"), D,
       "guardrail:security_settings"},
      {"SET pgaudit.log = 'none'", dba, "prod", Stmt(K::Set).set("pgaudit.log", "'none'"), D,
       "guardrail:security_settings"},
      {"SET default_transaction_read_only = off", agent, "prod",
       Stmt(K::Set).set("default_transaction_read_only", "off"), D, "guardrail:security_settings"},
      {"SET default_transaction_read_only = on", agent, "prod",
       Stmt(K::Set).set("default_transaction_read_only", "on"), A, "access:read"},
      {"BEGIN READ WRITE", agent, "prod", Stmt(K::Begin).set("transaction_read_only", "off"), D,
       "guardrail:security_settings"},
      {"BEGIN READ WRITE (guardrail lifted: the read level still refuses)", lifted, "prod",
       Stmt(K::Begin).set("transaction_read_only", "off"), D, "access:read"},
      {"SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE", lifted, "prod",
       Stmt(K::SetTransaction).set("default_transaction_read_only", "false"), D, "access:read"},
      {"SELECT set_config('transaction_read_only', 'of', false)", lifted, "prod",
       Stmt(K::Select).fn("set_config").set("transaction_read_only", "of"), D, "access:read"},
      {"BEGIN READ ONLY", agent, "prod", Stmt(K::Begin).set("transaction_read_only", "on"), A,
       "access:read"},
      {"BEGIN ISOLATION LEVEL SERIALIZABLE", agent, "prod",
       Stmt(K::Begin).set("transaction_isolation", "serializable"), A, "access:read"},
      {"LOAD 'plugin'", dba, "prod", Stmt(K::Load), D, "guardrail:load"},
      {"CREATE EXTENSION dblink", dba, "prod", Stmt(K::CreateExtension), D,
       "guardrail:create_extension"},
      {"CREATE ROLE evil SUPERUSER", dba, "prod", Stmt(K::CreateRole), D,
       "guardrail:role_management"},
      {"ALTER ROLE me SET default_transaction_read_only = off", agent, "prod",
       Stmt(K::AlterRole).set("default_transaction_read_only", "off"), D,
       "guardrail:role_management"},
      {"GRANT admin TO me", writer, "prod", Stmt(K::GrantRole), D, "guardrail:role_management"},

      // Limits.
      {"SET statement_timeout = 0", agent, "prod", Stmt(K::Set).set("statement_timeout", "0"), D,
       "limits:statement_timeout"},
      {"SET statement_timeout = '1min'", agent, "prod",
       Stmt(K::Set).set("statement_timeout", "'1min'"), D, "limits:statement_timeout"},
      {"SET statement_timeout = '10s'", agent, "prod",
       Stmt(K::Set).set("statement_timeout", "'10s'"), A, "access:read"},
      {"SET statement_timeout = 5000", agent, "prod", Stmt(K::Set).set("statement_timeout", "5000"),
       A, "access:read"},
      {"SET statement_timeout TO DEFAULT", agent, "prod",
       Stmt(K::Set).set("statement_timeout", "DEFAULT"), A, "access:read"},
      {"SET statement_timeout = 0 (no limit in this policy)", writer, "prod",
       Stmt(K::Set).set("statement_timeout", "0"), A, "access:write"},

      // Review.
      {"INSERT INTO t VALUES (1)", intern, "prod", Stmt(K::Insert).written("t"), R, "access:read"},
      {"CREATE TABLE x (a int)", intern, "prod", Stmt(K::Create).object("table"), D, "access:read"},
      {"SELECT * FROM audit_log", intern, "prod", Stmt(K::Select).read("audit_log", "app"), R,
       "review[0]"},
      {"SELECT * FROM t", intern, "prod", Stmt(K::Select).read("t"), A, "access:read"},
      {"EXPLAIN ANALYZE of a review and a deny: deny wins", intern, "prod",
       Stmt(K::Explain)
           .analyze()
           .nested(Stmt(K::Insert).written("t"))
           .nested(Stmt(K::Select).fn("pg_read_file")),
       D, "guardrail:file_functions"},

      // SQL that does not parse is never guessed at.
      {"SELEC 1", dba, "prod", Stmt(K::Unparsed).error("syntax error at or near \"SELEC\""), D,
       "unparsed"},
  };
}

TEST_F(DecideTest, Table) {
  for (const Row& row : rows()) {
    Decision d = decide(row.subject, row.connection, row.stmt);
    EXPECT_EQ(verdictName(d.verdict), verdictName(row.verdict))
        << row.sql << " [" << row.subject << "] -> " << d.rule << ": " << d.message;
    EXPECT_EQ(d.rule, row.rule) << row.sql << " [" << row.subject << "]: " << d.message;
    if (d.verdict == Verdict::Allow) {
      EXPECT_TRUE(d.message.empty()) << row.sql;
      EXPECT_TRUE(d.sqlstate.empty()) << row.sql;
    } else {
      EXPECT_FALSE(d.message.empty()) << row.sql;
      EXPECT_FALSE(d.hint.empty()) << row.sql;
      EXPECT_NE(d.message.find("\"" + d.policy + "\""), std::string::npos) << d.message;
    }
  }
}

TEST_F(DecideTest, MessagesNameThePolicyTheRuleAndWhatIsAllowed) {
  Decision d = decide("group:writers", "prod", Stmt(K::Delete).written("t").noWhere());
  EXPECT_EQ(d.policy, "writers");
  EXPECT_EQ(d.sqlstate, "42501");
  EXPECT_EQ(d.message,
            "pgwarden: policy \"writers\" denies DELETE without WHERE (guardrail "
            "delete_without_where)");
  EXPECT_EQ(d.hint.rfind("add a WHERE clause", 0), 0u) << d.hint;

  d = decide("group:ai-agents", "prod", Stmt(K::Insert).written("t"));
  EXPECT_EQ(d.message,
            "pgwarden: policy \"agents-read-prod\" denies INSERT: it needs write access, and the "
            "policy grants read (access:read)");
  EXPECT_EQ(d.hint.rfind("this policy allows read access: SELECT", 0), 0u) << d.hint;

  d = decide("group:ai-agents", "prod", Stmt(K::Select).fn("nextval"));
  EXPECT_NE(d.message.find("it calls nextval(), which changes data, so it needs write access"),
            std::string::npos)
      << d.message;

  d = decide("group:ai-agents", "prod",
             Stmt(K::Explain).analyze().nested(Stmt(K::Delete).written("t")));
  EXPECT_NE(d.message.find("denies DELETE in EXPLAIN ANALYZE"), std::string::npos) << d.message;

  d = decide("group:ai-agents", "prod", Stmt(K::Drop).object("table"));
  EXPECT_EQ(d.message,
            "pgwarden: policy \"agents-read-prod\" denies DROP TABLE (deny[5]): tables are "
            "dropped by migrations");

  d = decide("group:ai-agents", "prod", Stmt(K::Select).read("payroll", "public"));
  EXPECT_NE(d.message.find("SELECT reading table public.payroll (deny[2])"), std::string::npos)
      << d.message;

  d = decide("id:alice", "prod", Stmt(K::Unparsed).error("syntax error at or near \"SELEC\""));
  EXPECT_EQ(d.sqlstate, "42601");
  EXPECT_EQ(d.detail, "syntax error at or near \"SELEC\"");

  d = decide("group:writers", "prod", Stmt(K::Do).dynamic());
  EXPECT_NE(d.message.find("dynamic SQL in DO blocks cannot be checked"), std::string::npos);

  d = decide("group:interns", "prod", Stmt(K::Insert).written("t"));
  EXPECT_NE(d.message.find("requires a reviewer's approval for INSERT"), std::string::npos)
      << d.message;
  EXPECT_NE(d.hint.find("up to write access with a reviewer's approval"), std::string::npos);
}

TEST_F(DecideTest, QueryOfSeveralStatementsTakesTheFirstStrictest) {
  const CompiledPolicy* p = set_->match(*parseSubject("group:ai-agents"), "prod");
  ASSERT_NE(p, nullptr);
  sql::Analysis a;
  a.statements = {Stmt(K::Select), Stmt(K::Drop).object("table"), Stmt(K::Insert)};
  Decision d = set_->decide(*p, a);
  EXPECT_EQ(d.verdict, Verdict::Deny);
  EXPECT_EQ(d.rule, "deny[5]");
  EXPECT_EQ(d.statement, 1u);

  a.statements = {Stmt(K::Commit), Stmt(K::Delete).written("t").noWhere()};
  d = set_->decide(*p, a);
  EXPECT_EQ(d.rule, "deny[0]");
  EXPECT_EQ(d.statement, 1u);

  a.statements.clear();
  d = set_->decide(*p, a);
  EXPECT_EQ(d.verdict, Verdict::Allow);
  EXPECT_EQ(d.policy, "agents-read-prod");
}

TEST_F(DecideTest, DeepNestingFailsClosed) {
  sql::StatementInfo s = Stmt(K::Select);
  for (int i = 0; i < 40; ++i) s = Stmt(K::Explain).analyze().nested(s);
  Decision d = decide("id:alice", "prod", s);
  EXPECT_EQ(d.verdict, Verdict::Deny);
  EXPECT_EQ(d.rule, "unparsed");
}

}  // namespace
}  // namespace pgw::policy
