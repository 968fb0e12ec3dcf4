// Query shapes (sql::shapeOf) and the shape level of the analysis cache: a
// cached analysis reused for another text of the same shape must be exactly
// what analyzing that text gives.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "describe.h"
#include "sql/analyzer.h"

namespace pgw::sql {
namespace {

using test::describe;

/// `tmpl` with each "{}" replaced by the next of `values`.
std::string fill(std::string tmpl, const std::vector<std::string>& values) {
  for (const auto& v : values) {
    auto at = tmpl.find("{}");
    if (at == std::string::npos) break;
    tmpl.replace(at, 2, v);
  }
  return tmpl;
}

/// Everything an analysis says, text and fingerprint included.
std::string full(const Analysis& a) {
  std::string out = describe(a);
  for (const auto& s : a.statements) {
    out += "text{" + s.text + "} fp{" + s.fingerprint + "} norm{" + s.normalized + "}\n";
  }
  return out;
}

struct Template {
  std::string sql;
  std::vector<std::string> first;
  std::vector<std::string> second;
};

const std::vector<Template>& templates() {
  static const std::vector<Template> t = {
      {"SELECT abalance FROM pgbench_accounts WHERE aid = {};", {"1"}, {"98765"}},
      {"select * from users where email = {} and id > {}",
       {"'a@b.c'", "0"},
       {"'x''; DROP TABLE users; --'", "5"}},
      {"SELECT {}::text, {} FROM t", {"'x'", "1.5"}, {"E'\\\\'' ; DELETE FROM t'", "2e10"}},
      {"UPDATE accounts SET balance = balance + {} WHERE id = {}", {"10", "1"}, {"3", "42"}},
      {"DELETE FROM sessions WHERE expires < now() - interval {}", {"'1 day'"}, {"'7 days'"}},
      {"INSERT INTO t (a, b) VALUES ({}, {}) RETURNING id", {"1", "'x'"}, {"2", "$$y$$"}},
      {"WITH c AS (SELECT * FROM orders WHERE total > {}) SELECT count(*) FROM c",
       {"100"},
       {"250"}},
      {"SELECT * FROM t WHERE flags = {}", {"B'101'"}, {"B'0'"}},
      {"SELECT * FROM t WHERE h = {}", {"X'ff'"}, {"X'00'"}},
      {"SELECT {} /* a comment */ FROM t -- trailing", {"'a'"}, {"'b'"}},
      {"SELECT * FROM t WHERE name = {}", {"'a'\n 'b'"}, {"'c'"}},
      {"SELECT * FROM t WHERE x > {} AND y = {}", {"1.5", "1e3"}, {".5", "2.0E-3"}},
      {"SELECT * FROM t WHERE s = {}", {"$tag$a$tag$"}, {"$q$; DROP TABLE t; $q$"}},
      {"SELECT * FROM t LIMIT {} OFFSET {}", {"10", "0"}, {"5", "100"}},
      {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = {}", {"1"}, {"2"}},
      {"VALUES ({}), ({})", {"1", "2"}, {"3", "4"}},
  };
  return t;
}

TEST(QueryShape, SameShapeGivesTheSameAnalysisAsAFullParse) {
  for (const auto& t : templates()) {
    SCOPED_TRACE(t.sql);
    const std::string a = fill(t.sql, t.first);
    const std::string b = fill(t.sql, t.second);
    auto shape_a = shapeOf(a);
    auto shape_b = shapeOf(b);
    ASSERT_TRUE(shape_a && shape_b);
    EXPECT_EQ(shape_a->key, shape_b->key) << a << "\n" << b;
    const Analysis analysis_a = analyze(a);
    ASSERT_TRUE(shapeDetermines(analysis_a, *shape_a)) << full(analysis_a);
    EXPECT_EQ(full(forShape(analysis_a, *shape_b)), full(analyze(b)));
  }
}

TEST(QueryShape, DifferentCodeGivesDifferentShapes) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"SELECT 1", "SELECT 1 "},  // normalized text keeps white space
      {"SELECT 'a'", "SELECT a"},
      {"SELECT 'x' FROM t", "SELECT \"x\" FROM t"},
      {"SELECT 1", "SELECT 1.0"},
      {"SELECT 1 /* a */", "SELECT 1 /* b */"},
      {"SELECT * FROM t WHERE a = 1", "SELECT * FROM t WHERE a = 1; DELETE FROM t"},
      {"SELECT 'a', 1", "SELECT 'a,' 1"},
      {"SELECT 1", "SELECT -1"},
      {"SELECT 1", "SELECT 1.5"},
  };
  for (const auto& [a, b] : pairs) {
    auto sa = shapeOf(a);
    auto sb = shapeOf(b);
    ASSERT_TRUE(sa && sb) << a << " | " << b;
    EXPECT_NE(sa->key, sb->key) << a << " | " << b;
  }
}

TEST(QueryShape, AnalysesThatDependOnConstantsAreNotShared) {
  for (const std::string sql : {
           "SELECT set_config('role', 'postgres', false)",
           "SET statement_timeout = 5",
           "DO $$BEGIN DELETE FROM t; END$$",
           "COPY t TO '/tmp/x'",
           "SELECT 1; SELECT 2",
           "EXPLAIN SELECT 1",
           "PREPARE p AS SELECT 1",
           "SELECT query_to_xml('select 1', true, true, '')",
           "SELEC 1",
           "CREATE TABLE t (a int DEFAULT 1)",
       }) {
    auto shape = shapeOf(sql);
    ASSERT_TRUE(shape) << sql;
    EXPECT_FALSE(shapeDetermines(analyze(sql), *shape)) << sql;
  }
}

TEST(QueryShape, StatementTextMatchesTheAnalyzer) {
  for (const std::string sql : {"SELECT 1;", "  SELECT 1  ;  ", "SELECT 1 -- c",
                                "/* lead */ SELECT 1;;", "SELECT 1;\n", "\tSELECT 'a;b'"}) {
    auto shape = shapeOf(sql);
    ASSERT_TRUE(shape) << sql;
    const Analysis a = analyze(sql);
    ASSERT_EQ(a.statements.size(), 1u) << sql;
    EXPECT_EQ(shape->statement_text, a.statements[0].text) << sql;
  }
}

TEST(QueryShape, TextTheAnalyzerRefusesHasNoShape) {
  EXPECT_FALSE(shapeOf(std::string("SELECT 'a\0b'", 12)));
  EXPECT_FALSE(shapeOf("SELECT '\xff'"));
  AnalyzerOptions small;
  small.max_query_bytes = 8;
  EXPECT_FALSE(shapeOf("SELECT '123456789'", small));
  EXPECT_FALSE(shapeOf("SELECT 'unterminated"));
  EXPECT_FALSE(shapeOf("SELECT U&'\\0041'"));  // the scanner does not say where it ends
}

}  // namespace
}  // namespace pgw::sql
