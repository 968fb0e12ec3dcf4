// What statement analysis costs the data path: a full libpg_query analysis
// (cache miss), an exact-text cache hit, and a shape hit (the same statement
// with other constants). Run: build-release/bench/pgw_analyze_bench

#include <benchmark/benchmark.h>

#include <string>

#include "proxy/analysis_cache.h"
#include "sql/analyzer.h"

namespace {

const char* const kStatements[] = {
    "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
    "SELECT c.id, c.email, sum(o.total) FROM customers c JOIN orders o ON o.customer_id = c.id "
    "WHERE o.created_at > now() - interval '30 days' GROUP BY c.id, c.email ORDER BY 3 DESC "
    "LIMIT 20",
    "UPDATE pgbench_accounts SET abalance = abalance + -1234 WHERE aid = 77;",
};

std::string withConstant(int statement, int n) {
  std::string sql = kStatements[statement];
  // Vary the last integer so that every text is new but the shape is not.
  auto at = sql.find_last_of("0123456789");
  sql.replace(at, 1, std::to_string(n % 10) + std::to_string(n));
  return sql;
}

void BM_AnalyzeMiss(benchmark::State& state) {
  const std::string sql = kStatements[state.range(0)];
  for (auto _ : state) benchmark::DoNotOptimize(pgw::sql::analyze(sql));
}
BENCHMARK(BM_AnalyzeMiss)->DenseRange(0, 2);

void BM_CacheExactHit(benchmark::State& state) {
  pgw::proxy::AnalysisCache cache;
  const std::string sql = kStatements[state.range(0)];
  cache.get(sql);
  for (auto _ : state) benchmark::DoNotOptimize(cache.get(sql));
}
BENCHMARK(BM_CacheExactHit)->DenseRange(0, 2);

void BM_CacheShapeHit(benchmark::State& state) {
  pgw::proxy::AnalysisCache cache;
  const int which = static_cast<int>(state.range(0));
  cache.get(kStatements[which]);
  std::vector<std::string> texts;
  for (int i = 0; i < 1024; ++i) texts.push_back(withConstant(which, i));
  size_t i = 0;
  for (auto _ : state) benchmark::DoNotOptimize(cache.get(texts[i++ % texts.size()]));
  state.counters["shape_hits"] = static_cast<double>(cache.stats().shape_hits);
  state.counters["misses"] = static_cast<double>(cache.stats().misses);
}
BENCHMARK(BM_CacheShapeHit)->DenseRange(0, 2);

}  // namespace
