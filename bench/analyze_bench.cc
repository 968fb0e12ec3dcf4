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

// The policy decision for a cached analysis, with bench/policy.yaml (ten
// policies, twenty deny rules, the guardrails) and with one allow-all policy.
#include <fstream>
#include <sstream>

#include "config/config.h"
#include "policy/policy_set.h"

namespace {

std::shared_ptr<const pgw::policy::PolicySet> policySet(bool realistic) {
  std::string yaml = R"(
identity: { users: [ { name: bench, password: x, groups: [bench] } ] }
connections:
  bench:
    host: 127.0.0.1
    database: bench
    credentials: { rw: { user: bench, password: x } }
    default_credential: rw
)";
  if (realistic) {
    std::ifstream in(PGW_SOURCE_DIR "/bench/policy.yaml");
    std::stringstream text;
    text << in.rdbuf();
    yaml += text.str();
  } else {
    yaml += "policies: [ { name: all, subjects: { groups: [bench] }, connections: ['*'], "
            "access: admin } ]\n";
  }
  auto config = pgw::config::parseConfig(yaml, "/tmp");
  if (!config) throw std::runtime_error(config.error().message);
  auto set = pgw::policy::PolicySet::compile(**config);
  if (!set) throw std::runtime_error(set.error().message);
  return *set;
}

void BM_Decide(benchmark::State& state) {
  auto set = policySet(state.range(1) != 0);
  pgw::auth::Subject subject;
  subject.id = "bench";
  subject.groups = {"bench"};
  const auto* policy = set->match(subject, "bench");
  if (policy == nullptr) throw std::runtime_error("no policy for bench");
  const auto analysis = pgw::sql::analyze(kStatements[state.range(0)]);
  for (auto _ : state) benchmark::DoNotOptimize(set->decide(*policy, analysis));
}
BENCHMARK(BM_Decide)->ArgsProduct({{0, 1, 2}, {0, 1}})->ArgNames({"stmt", "realistic"});

}  // namespace
