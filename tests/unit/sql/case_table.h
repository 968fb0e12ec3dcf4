#pragma once
/// Table-driven analyzer cases: one SQL statement and what the analysis of
/// it must say. Every field is compared exactly (an empty list means "none").

#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "describe.h"
#include "sql/analyzer.h"

namespace pgw::sql::test {

using K = StatementKind;

enum Flag : unsigned {
  kMissingWhere = 1,
  kModifyingCte = 2,
  kSelectInto = 4,
  kLocking = 8,
  kAnalyze = 16,
  kDynamic = 32,
};

struct Case {
  std::string sql;
  K kind;
  bool reads = false;
  bool writes = false;
  std::vector<std::string> read = {};  ///< "schema.name" or "name"
  std::vector<std::string> written = {};
  std::vector<std::string> functions = {};  ///< "schema.name" or "name"
  unsigned flags = 0;
  std::string object_type = {};
  std::vector<std::pair<std::string, std::string>> settings = {};
  std::vector<K> nested = {};  ///< kinds of nested statements, in order
  std::optional<std::vector<std::string>> columns = std::nullopt;
  std::optional<std::vector<std::string>> objects = std::nullopt;
};

inline void PrintTo(const Case& c, std::ostream* os) {
  *os << c.sql;
}

inline std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline std::vector<std::string> names(const std::vector<RelationRef>& refs) {
  std::vector<std::string> out;
  for (const auto& r : refs) out.push_back(r.schema.empty() ? r.name : r.schema + "." + r.name);
  return sorted(out);
}

inline std::vector<std::string> names(const std::vector<FunctionRef>& refs) {
  std::vector<std::string> out;
  for (const auto& f : refs) out.push_back(f.schema.empty() ? f.name : f.schema + "." + f.name);
  return sorted(out);
}

inline unsigned flagsOf(const StatementInfo& s) {
  return (s.missing_where ? kMissingWhere : 0u) | (s.data_modifying_cte ? kModifyingCte : 0u) |
         (s.select_into ? kSelectInto : 0u) | (s.locking_clause ? kLocking : 0u) |
         (s.explain_analyze ? kAnalyze : 0u) | (s.dynamic_sql ? kDynamic : 0u);
}

/// Checks one case: exactly one statement, every expectation met.
inline void expectCase(const Case& c) {
  const Analysis a = analyze(c.sql);
  const std::string dump = describe(a);
  SCOPED_TRACE("analysis:\n" + dump);
  ASSERT_TRUE(a.parsed);
  ASSERT_EQ(a.statements.size(), 1u);
  const StatementInfo& s = a.statements[0];
  EXPECT_EQ(s.kind, c.kind) << toString(s.kind) << " vs expected " << toString(c.kind);
  EXPECT_EQ(s.reads, c.reads);
  EXPECT_EQ(s.writes, c.writes);
  EXPECT_EQ(names(s.relations_read), sorted(c.read));
  EXPECT_EQ(names(s.relations_written), sorted(c.written));
  EXPECT_EQ(names(s.functions), sorted(c.functions));
  EXPECT_EQ(flagsOf(s), c.flags);
  if (!c.object_type.empty()) {
    EXPECT_EQ(s.object_type, c.object_type);
  }
  EXPECT_EQ(s.settings, c.settings);
  std::vector<K> nested;
  for (const auto& n : s.nested) nested.push_back(n.kind);
  EXPECT_EQ(nested, c.nested);
  if (c.columns) {
    EXPECT_EQ(sorted(s.columns), sorted(*c.columns));
  }
  if (c.objects) {
    EXPECT_EQ(sorted(s.objects), sorted(*c.objects));
  }
  EXPECT_FALSE(s.fingerprint.empty());
  EXPECT_FALSE(s.text.empty());
}

}  // namespace pgw::sql::test
