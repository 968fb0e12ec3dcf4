// Query shapes (sql::shapeOf) and the shape level of the analysis cache: a
// cached analysis reused for another text of the same shape must be exactly
// what analyzing that text gives.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "describe.h"
#include "sql/analyzer.h"
#include "sql/token_scan.h"

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

// The hand-written reading of plain SQL (detail::plainShapeKey) must give,
// for every text it accepts, exactly the key and semicolon PostgreSQL's
// scanner gives: a key shared by texts the scanner tells apart would let one
// statement reuse another's analysis, and so its policy verdict.
std::string describeText(const std::string& text) {
  std::string out;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    }
  }
  return out;
}

TEST(QueryShape, PlainReadingAgreesWithTheScannerOnRandomText) {
  // Pieces chosen around every rule of the plain reading and of PostgreSQL's
  // scanner it must agree with: numbers at the int32 edge and in every
  // shape, string prefixes, continued strings, comments inside operators,
  // dollar quotes against parameters, quoted names, non-ASCII bytes.
  const std::vector<std::string> pieces = {
      "SELECT",     "select",      " ",
      "  ",         "\n",          "\t",
      "\r",         "\f",          "\v",
      "a",          "abc",         "x1",
      "_y",         "a$b",         "E",
      "e",          "B",           "b",
      "X",          "x",           "N",
      "U",          "u",           "&",
      "U&",         "1",           "0",
      "007",        "42",          "2147483647",
      "2147483648", "02147483647", "99999999999999999999",
      "1.5",        ".5",          "1.",
      "1..2",       "1e5",         "1E-3",
      "2.0e+3",     "0x1F",        "0b1",
      "1_000",      "'",           "''",
      "'a'",        "'a''b'",      "'it''s'",
      "'\\'",       "'a\\nb'",     "'x'\n'y'",
      "'x' 'y'",    "'é'",         "'--'",
      "'/*'",       "'$$'",        "\"",
      "\"q\"",      "\"\"",        "\"a\"\"b\"",
      "\"x y\"",    "\"é\"",       "--",
      "-- c\n",     "/*",          "*/",
      "/* c */",    "-",           "+",
      "*",          "/",           "=",
      "<",          ">",           "<=",
      "<>",         "!=",          "!",
      "~",          "@",           "#",
      "%",          "^",           "|",
      "||",         "`",           "?",
      ":",          "::",          ":=",
      ";",          ",",           ".",
      "(",          ")",           "[",
      "]",          "{",           "}",
      "\\",         "$",           "$1",
      "$12",        "$1a",         "$$",
      "$a$",        "$a$x$a$",     "é",
      "\xc3",       "FROM t",      "WHERE",
      "AND",        "IN",          "=-",
      "-1",         "+-",          "*-",
      "@-",         "->>",         "#>",
  };
  // Mostly pieces the plain reading can take, so that most texts mix
  // several of them; now and then any piece.
  std::vector<std::string> plain_pieces;
  for (const std::string& p : pieces) {
    size_t semicolon = 0;
    if (detail::plainShapeKey("x " + p + " x", semicolon)) plain_pieces.push_back(p);
  }
  std::mt19937 rng(20261208);
  std::uniform_int_distribution<size_t> count(1, 14);
  std::uniform_int_distribution<size_t> pick_any(0, pieces.size() - 1);
  std::uniform_int_distribution<size_t> pick_plain(0, plain_pieces.size() - 1);
  std::bernoulli_distribution any(0.1);
  int plain = 0;
  int scanned_only = 0;
  constexpr int kTexts = 60000;
  for (int n = 0; n < kTexts; ++n) {
    std::string text;
    for (size_t k = count(rng); k > 0; --k) {
      text += any(rng) ? pieces[pick_any(rng)] : plain_pieces[pick_plain(rng)];
    }
    size_t plain_semicolon = 7;
    const auto key = detail::plainShapeKey(text, plain_semicolon);
    if (!key) {
      ++scanned_only;
      continue;
    }
    ++plain;
    size_t scanned_semicolon = 7;
    const auto expected = detail::scannedShapeKey(text, scanned_semicolon);
    ASSERT_TRUE(expected.has_value()) << "the scanner refuses {" << describeText(text) << "}";
    ASSERT_EQ(describeText(*key), describeText(*expected)) << "{" << describeText(text) << "}";
    ASSERT_EQ(plain_semicolon, scanned_semicolon) << "{" << describeText(text) << "}";
  }
  // Both ways were taken often enough for the comparison to mean something.
  // (With this seed: 32009 and 27991.)
  EXPECT_GT(plain, kTexts / 4) << scanned_only;
  EXPECT_GT(scanned_only, kTexts / 4) << plain;
}

TEST(QueryShape, PlainReadingTakesCommonStatements) {
  for (const std::string sql : {
           "SELECT abalance FROM pgbench_accounts WHERE aid = 8243;",
           "UPDATE pgbench_accounts SET abalance = abalance + -4210 WHERE aid = 51;",
           "SELECT \"app_user\".\"id\", \"app_user\".\"email\" FROM \"app_user\" WHERE "
           "\"app_user\".\"id\" = 5 LIMIT 21",
           "select * from users where email = 'o''brien@example.com' and id > $1",
           "INSERT INTO t (a, b, c) VALUES (1, 2.50, 'x'), (2147483648, 0.1, '')",
           "SELECT created_at::date, count(*) FROM orders WHERE total >= 99.95 GROUP BY 1",
           "SELECT data->>'name' FROM docs WHERE tags @> ARRAY['a', 'b'] AND id <> 3",
           "SELECT 'é ünïcode', 'a;b' FROM t;",
       }) {
    size_t plain_semicolon = 0;
    const auto key = detail::plainShapeKey(sql, plain_semicolon);
    ASSERT_TRUE(key.has_value()) << sql;
    size_t scanned_semicolon = 0;
    EXPECT_EQ(key, detail::scannedShapeKey(sql, scanned_semicolon)) << sql;
    EXPECT_EQ(plain_semicolon, scanned_semicolon) << sql;
  }
}

TEST(QueryShape, PlainReadingLeavesTheRestToTheScanner) {
  for (const std::string sql : {
           "SELECT E'a\\nb'",
           "SELECT B'0101'",
           "SELECT X'ff'",
           "SELECT N'x'",
           "SELECT U&'d\\0061t'",
           "SELECT U&\"x\"",
           "SELECT $$x$$",
           "SELECT $q$x$q$",
           "SELECT 'a\\b'",
           "SELECT 1e5",
           "SELECT .5",
           "SELECT 1.",
           "SELECT 1..2",
           "SELECT 0x1F",
           "SELECT 1_000",
           "SELECT 123abc",
           "SELECT $1a",
           "SELECT \"a\"\"b\"",
           "SELECT \"\"",
           "SELECT 'a'\n'b'",
           "SELECT 'a' 'b'",
           "SELECT 1 -- c",
           "SELECT /* c */ 1",
           "SELECT 1 +-- c\n 2",
           "SELECT é",
           "SELECT\f1",
           "SELECT 'unterminated",
           "SELECT \"unterminated",
           "SELECT t.5",
           "SELECT 1.5.2",
       }) {
    size_t semicolon = 0;
    EXPECT_FALSE(detail::plainShapeKey(sql, semicolon).has_value()) << sql;
    // shapeKey() still has an answer wherever the scanner does.
    size_t a = 0;
    size_t b = 0;
    EXPECT_EQ(detail::shapeKey(sql, a), detail::scannedShapeKey(sql, b)) << sql;
  }
}

}  // namespace
}  // namespace pgw::sql
