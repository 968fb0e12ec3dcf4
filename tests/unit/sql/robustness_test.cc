// Bounds, failure shapes, fingerprints, threads and a no-crash loop: the
// analyzer sees every statement an agent sends, so no input may crash it,
// hang it, or be guessed at.

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <thread>
#include <vector>

#include "describe.h"
#include "sql/analyzer.h"

namespace pgw::sql::test {
namespace {

using K = StatementKind;

void expectUnparsed(const Analysis& a, const std::string& reason) {
  EXPECT_FALSE(a.parsed) << describe(a);
  ASSERT_EQ(a.statements.size(), 1u);
  EXPECT_EQ(a.statements[0].kind, K::Unparsed);
  EXPECT_NE(a.statements[0].error.find(reason), std::string::npos) << a.statements[0].error;
  EXPECT_TRUE(a.statements[0].fingerprint.empty());
}

TEST(Robustness, EmptyAndCommentOnlyTextHaveNoStatements) {
  for (const char* sql : {"", "   \n\t", "-- just a comment", "/* block */", ";", " ; ; "}) {
    const Analysis a = analyze(sql);
    EXPECT_TRUE(a.parsed) << sql;
    EXPECT_TRUE(a.statements.empty()) << sql << "\n" << describe(a);
  }
}

TEST(Robustness, SyntaxErrorIsUnparsedWithTheParsersMessage) {
  const Analysis a = analyze("SELEC 1");
  expectUnparsed(a, "syntax error at or near \"SELEC\"");
  EXPECT_EQ(a.statements[0].text, "SELEC 1");
  expectUnparsed(analyze("SELECT 'unterminated"), "unterminated quoted string");
  expectUnparsed(analyze("SELECT (1"), "syntax error");
  expectUnparsed(analyze("\\g"), "syntax error");
}

TEST(Robustness, OversizedTextIsRefusedWithoutParsing) {
  std::string big = "SELECT '" + std::string(2 * 1024 * 1024, 'x') + "'";
  expectUnparsed(analyze(big), "more than the 1048576 bytes");
  AnalyzerOptions small;
  small.max_query_bytes = 16;
  expectUnparsed(analyze("SELECT 1234567890123", small), "bytes");
  EXPECT_TRUE(analyze("SELECT 1", small).parsed);
}

TEST(Robustness, ZeroBytesAndInvalidUtf8AreRefused) {
  expectUnparsed(analyze(std::string_view("SELECT 1\0; DROP TABLE t", 24)), "zero byte");
  expectUnparsed(analyze("SELECT '\xC3\x28'"), "not valid UTF-8");
  expectUnparsed(analyze("SELECT '\xED\xA0\x80'"), "not valid UTF-8");  // a surrogate
  expectUnparsed(analyze("SELECT '\xC0\xAF'"), "not valid UTF-8");      // overlong '/'
  EXPECT_TRUE(analyze("SELECT 'h\xC3\xA9llo \xF0\x9F\x98\x80'").parsed);
  AnalyzerOptions lax;
  lax.require_utf8 = false;
  EXPECT_TRUE(analyze("SELECT '\xC3\x28'", lax).parsed);
}

TEST(Robustness, DeepNestingIsUnparsedNotACrash) {
  // Each would overflow a thread stack inside libpg_query's tree output
  // without the token estimate, or the walker's recursion without its bound.
  std::string plus = "SELECT 1";
  for (int i = 0; i < 200000; ++i) plus += "+1";
  expectUnparsed(analyze(plus), "too deeply nested");

  std::string casts = "SELECT 1";
  for (int i = 0; i < 100000; ++i) casts += "::int";
  expectUnparsed(analyze(casts), "too deeply nested");

  std::string unions = "SELECT 1";
  for (int i = 0; i < 50000; ++i) unions += " UNION SELECT 1";
  expectUnparsed(analyze(unions), "too deeply nested");

  std::string joins = "SELECT * FROM t0";
  for (int i = 0; i < 30000; ++i) joins += " JOIN t ON true";
  expectUnparsed(analyze(joins), "too deeply nested");

  std::string parens = "SELECT " + std::string(50000, '(') + "1" + std::string(50000, ')');
  expectUnparsed(analyze(parens), "");

  std::string subqueries = "SELECT ";
  for (int i = 0; i < 300; ++i) subqueries += "(SELECT ";
  subqueries += "1" + std::string(300, ')');
  expectUnparsed(analyze(subqueries), "too deeply nested");

  std::string nots = "SELECT ";
  for (int i = 0; i < 5000; ++i) nots += "NOT ";
  expectUnparsed(analyze(nots + "true"), "too deeply nested");
}

TEST(Robustness, ModerateNestingIsFine) {
  std::string plus = "SELECT 1";
  for (int i = 0; i < 120; ++i) plus += " || 'x'";
  EXPECT_TRUE(analyze(plus).parsed);
  std::string subqueries = "SELECT ";
  for (int i = 0; i < 40; ++i) subqueries += "(SELECT ";
  subqueries += "1" + std::string(40, ')');
  EXPECT_TRUE(analyze(subqueries).parsed);
  std::string in_list = "SELECT * FROM t WHERE id IN (0";
  for (int i = 1; i < 20000; ++i) in_list += "," + std::to_string(i);
  EXPECT_TRUE(analyze(in_list + ")").parsed);
  std::string ands = "SELECT * FROM t WHERE a = 0";
  for (int i = 1; i < 5000; ++i) ands += " AND a" + std::to_string(i) + " = " + std::to_string(i);
  EXPECT_TRUE(analyze(ands).parsed);
}

TEST(Robustness, DepthBoundIsConfigurable) {
  AnalyzerOptions shallow;
  shallow.max_depth = 10;
  expectUnparsed(analyze("SELECT (SELECT (SELECT (SELECT (SELECT 1))))", shallow),
                 "too deeply nested");
  EXPECT_TRUE(analyze("SELECT (SELECT (SELECT (SELECT (SELECT 1))))").parsed);
}

TEST(Robustness, DeeplyNestedDoBodyIsUnparsedNotACrash) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += "BEGIN ";
  body += "NULL; ";
  for (int i = 0; i < 3000; ++i) body += "END; ";
  const Analysis a = analyze("DO $$" + body + "$$");
  EXPECT_FALSE(a.parsed);
}

TEST(Robustness, FingerprintIgnoresConstantsAndNormalizedHasParameters) {
  const Analysis one = analyze("SELECT 1");
  const Analysis two = analyze("SELECT 2");
  ASSERT_EQ(one.statements.size(), 1u);
  ASSERT_EQ(two.statements.size(), 1u);
  EXPECT_EQ(one.statements[0].fingerprint, two.statements[0].fingerprint);
  EXPECT_EQ(one.statements[0].fingerprint.size(), 16u);
  EXPECT_EQ(one.statements[0].normalized, "SELECT $1");
  EXPECT_NE(analyze("SELECT 1 FROM t").statements[0].fingerprint, one.statements[0].fingerprint);

  const Analysis multi =
      analyze("SELECT * FROM t WHERE id = 42; UPDATE t SET a = 'x' WHERE id = 7");
  ASSERT_EQ(multi.statements.size(), 2u);
  EXPECT_EQ(multi.statements[0].normalized, "SELECT * FROM t WHERE id = $1");
  EXPECT_EQ(multi.statements[1].normalized, "UPDATE t SET a = $1 WHERE id = $2");
  EXPECT_EQ(multi.statements[1].fingerprint,
            analyze("UPDATE t SET a = 'y' WHERE id = 8").statements[0].fingerprint);
}

TEST(Robustness, ThreadsAnalyzeIndependently) {
  // libpg_query keeps its memory per thread; analyses on many threads at
  // once must not interfere.
  const std::vector<std::pair<std::string, K>> work = {
      {"SELECT * FROM t WHERE a = 1", K::Select},
      {"DELETE FROM t WHERE a = 2", K::Delete},
      {"DO $$BEGIN UPDATE t SET a = 1 WHERE b = 2; END$$", K::Do},
      {"SELEC broken", K::Unparsed},
  };
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const auto& [sql, kind] = work[(i + t) % work.size()];
        const Analysis a = analyze(sql);
        if (a.statements.size() != 1 || a.statements[0].kind != kind) ++failures[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures, std::vector<int>(4, 0));
}

TEST(Robustness, RandomBytesNeverCrash) {
  std::mt19937 rng(20240601);
  std::uniform_int_distribution<int> len(0, 200);
  std::uniform_int_distribution<int> byte(0, 255);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s(static_cast<size_t>(len(rng)), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    const Analysis a = analyze(s);
    if (a.parsed) ++parsed;
    if (!a.parsed) {
      ASSERT_EQ(a.statements.size(), 1u);
    }
  }
  EXPECT_GT(parsed, 0);  // some empty / whitespace inputs parse
}

TEST(Robustness, RandomTokenSoupNeverCrashes) {
  // Random bytes rarely get past the scanner; token soup reaches the
  // parser's, the walker's and the PL/pgSQL paths.
  static const std::vector<std::string> kTokens = {"SELECT",
                                                   "FROM",
                                                   "WHERE",
                                                   "DELETE",
                                                   "UPDATE",
                                                   "SET",
                                                   "INSERT",
                                                   "INTO",
                                                   "VALUES",
                                                   "WITH",
                                                   "AS",
                                                   "(",
                                                   ")",
                                                   ",",
                                                   ";",
                                                   "t",
                                                   "u",
                                                   "a",
                                                   "1",
                                                   "'x'",
                                                   "=",
                                                   "+",
                                                   "::",
                                                   "int",
                                                   "JOIN",
                                                   "ON",
                                                   "UNION",
                                                   "CASE",
                                                   "WHEN",
                                                   "THEN",
                                                   "END",
                                                   "DO",
                                                   "$$",
                                                   "BEGIN",
                                                   "EXECUTE",
                                                   "PERFORM",
                                                   "nextval('s')",
                                                   "RETURNING",
                                                   "*",
                                                   "EXPLAIN",
                                                   "ANALYZE",
                                                   "COPY",
                                                   "TO",
                                                   "STDOUT",
                                                   "PREPARE",
                                                   "p",
                                                   "CREATE",
                                                   "TABLE",
                                                   "DROP",
                                                   "NOT",
                                                   "AND",
                                                   "OR",
                                                   "[",
                                                   "]",
                                                   "ARRAY",
                                                   "LATERAL",
                                                   "$1",
                                                   "IF",
                                                   "LOOP"};
  std::mt19937 rng(7);
  std::uniform_int_distribution<size_t> pick(0, kTokens.size() - 1);
  std::uniform_int_distribution<int> len(1, 40);
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    const int n = len(rng);
    for (int k = 0; k < n; ++k) s += kTokens[pick(rng)] + " ";
    const Analysis a = analyze(s);
    if (a.parsed) ++parsed;
  }
  // A few of the mutated DO bodies and statements must reach the success path.
  std::mt19937 rng2(11);
  const std::vector<std::string> seeds = {
      "DO $$DECLARE x int := 1; BEGIN IF x > 0 THEN DELETE FROM t WHERE a = x; END IF; END$$",
      "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d JOIN u ON d.a = u.a",
      "EXPLAIN ANALYZE SELECT nextval('s') FROM t WHERE a IN (SELECT b FROM u)",
  };
  for (int i = 0; i < 3000; ++i) {
    std::string s = seeds[static_cast<size_t>(i) % seeds.size()];
    std::uniform_int_distribution<size_t> pos(0, s.size() - 1);
    s.erase(pos(rng2), 1 + rng2() % 3);
    const Analysis a = analyze(s);
    if (a.parsed) ++parsed;
  }
  EXPECT_GT(parsed, 0);
}

}  // namespace
}  // namespace pgw::sql::test
