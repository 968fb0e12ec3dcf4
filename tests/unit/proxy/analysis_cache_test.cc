// The per-worker analysis cache: exact text first, then the shape level.

#include "proxy/analysis_cache.h"

#include <gtest/gtest.h>

namespace pgw::proxy {
namespace {

TEST(AnalysisCache, RepeatedTextIsAnalyzedOnce) {
  AnalysisCache cache;
  auto a = cache.get("SELECT * FROM t WHERE id = 1");
  auto b = cache.get("SELECT * FROM t WHERE id = 1");
  EXPECT_EQ(a.get(), b.get());
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().exact_hits, 1u);
}

TEST(AnalysisCache, OtherConstantsHitTheShapeLevelWithTheirOwnText) {
  AnalysisCache cache;
  cache.get("SELECT * FROM t WHERE id = 1");
  auto b = cache.get("SELECT * FROM t WHERE id = 2");
  EXPECT_EQ(cache.stats().misses, 1u);
  EXPECT_EQ(cache.stats().shape_hits, 1u);
  ASSERT_EQ(b->statements.size(), 1u);
  EXPECT_EQ(b->statements[0].text, "SELECT * FROM t WHERE id = 2");
  EXPECT_EQ(b->statements[0].kind, sql::StatementKind::Select);
}

TEST(AnalysisCache, ConstantDependentAnalysesAreRedoneForNewConstants) {
  AnalysisCache cache;
  auto allowed = cache.get("SELECT set_config('application_name', 'x', false)");
  auto risky = cache.get("SELECT set_config('role', 'postgres', false)");
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.stats().shape_hits, 0u);
  ASSERT_FALSE(risky->statements.empty());
  ASSERT_FALSE(risky->statements[0].settings.empty());
  EXPECT_EQ(risky->statements[0].settings[0].first, "role");
}

TEST(AnalysisCache, EvictsTheLeastRecentlyUsed) {
  // SHOW depends on its constant-free text only, but is never shape-cached
  // (settings): only the exact level is exercised.
  AnalysisCache cache(2);
  cache.get("SHOW work_mem");
  cache.get("SHOW search_path");
  cache.get("SHOW work_mem");  // now the most recent
  cache.get("SHOW timezone");  // evicts search_path
  cache.get("SHOW work_mem");
  EXPECT_EQ(cache.stats().exact_hits, 2u);
  cache.get("SHOW search_path");
  EXPECT_EQ(cache.stats().misses, 4u);
}

}  // namespace
}  // namespace pgw::proxy
