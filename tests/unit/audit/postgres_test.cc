/// The PostgreSQL sink against a real server. Skipped unless
/// PGW_AUDIT_TEST_DSN names a database the test may create tables in (the
/// unit suite starts no server; e.g. PGW_AUDIT_TEST_DSN="host=/tmp port=5433
/// dbname=postgres user=postgres").

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>

#include "audit/postgres_sink.h"
#include "test_util.h"

namespace pgw::audit {
namespace {

const char* testDsn() {
  return std::getenv("PGW_AUDIT_TEST_DSN");
}

void exec(const std::string& sql) {
  PGconn* c = PQconnectdb(testDsn());
  PGresult* r = PQexec(c, ("SET client_min_messages = warning; " + sql).c_str());
  EXPECT_TRUE(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
      << sql << ": " << PQresultErrorMessage(r);
  PQclear(r);
  PQfinish(c);
}

std::unique_ptr<Sink> pgSink(const std::string& table) {
  auto s = PostgresSink::open(testDsn(), "", table);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

VerifyResult verifyTable(const std::string& table, const std::string& gw = "gw-test") {
  auto sink = PostgresSink::open(testDsn(), "", table);
  EXPECT_TRUE(sink.ok());
  PGconn* c = PQconnectdb(testDsn());
  const std::string sql =
      "SELECT seq, hash FROM " + table + "_anchor WHERE gateway_id = '" + gw + "'";
  PGresult* r = PQexec(c, sql.c_str());
  ChainAnchor anchor;
  if (PQntuples(r) == 1)
    anchor = ChainAnchor{std::stoull(PQgetvalue(r, 0, 0)), PQgetvalue(r, 0, 1)};
  PQclear(r);
  PQfinish(c);
  auto rows = (*sink)->readAfter(gw, anchor.seq, 1000000);
  EXPECT_TRUE(rows.ok());
  ChainVerifier v(gw, anchor, nullptr);
  for (const auto& row : *rows) {
    if (!v.add(row)) break;
  }
  return v.finish();
}

class PostgresAudit : public ::testing::Test {
 protected:
  void SetUp() override {
    if (testDsn() == nullptr) GTEST_SKIP() << "PGW_AUDIT_TEST_DSN is not set: no PostgreSQL";
    exec("DROP TABLE IF EXISTS pgw_audit_test, pgw_audit_test_anchor");
  }
  void TearDown() override {
    if (testDsn() != nullptr) exec("DROP TABLE IF EXISTS pgw_audit_test, pgw_audit_test_anchor");
  }
};

TEST_F(PostgresAudit, WritesVerifiesRestartsAndPrunes) {
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(pgSink("pgw_audit_test"));
    auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
    const auto old = nowUs() - std::chrono::hours(24 * 30);
    for (int i = 0; i < 6; ++i) {
      ASSERT_TRUE(log->tryReserve());
      AuditEvent e = testing::statement(i, old);
      e.statement = "SELECT 'tab\there', E'back\\\\slash', 'new\nline'";
      log->submit(e);
    }
    log->flush();
  }
  auto r = verifyTable("pgw_audit_test");
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.last_seq, 6u);

  AuditLog::Options o = testing::fastOptions();
  o.retention = std::chrono::hours(24);
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(pgSink("pgw_audit_test"));
    auto log = testing::openLog(o, std::move(sinks));
    testing::writeEvents(*log, 3, 6);
  }
  r = verifyTable("pgw_audit_test");
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.first_seq, 6u);  // 1..5 pruned (the head, 6, is kept)
  EXPECT_EQ(r.last_seq, 10u);  // 6 old + anchor + 3 new

  exec("UPDATE pgw_audit_test SET decision = 'review' WHERE seq = 8");
  r = verifyTable("pgw_audit_test");
  EXPECT_FALSE(r.ok);
}

TEST(PostgresSink, DescribeNeverShowsThePassword) {
  const std::string d =
      PostgresSink::describeDsn("host=db port=5433 dbname=audit user=gw password=hunter2");
  EXPECT_EQ(d, "postgres:host=db port=5433 dbname=audit user=gw");
  EXPECT_EQ(PostgresSink::describeDsn("postgresql://gw:hunter2@db/audit"),
            "postgres:host=db dbname=audit user=gw");
}

}  // namespace
}  // namespace pgw::audit
