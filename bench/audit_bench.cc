// Audit trail throughput: sealing (canonical JSON + SHA-256), each sink's
// raw batched write, and the whole log (submit from the caller's thread,
// writer thread seals and writes, flush) per sink. Files go to a scratch
// directory under $PGW_BENCH_DIR (default: the system temp directory) — put
// it on the disk the gateway would use: the sinks fsync every batch.

#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.h"
#include "audit/chain.h"
#include "audit/jsonl_sink.h"
#include "audit/sqlite_sink.h"

namespace {

using namespace pgw::audit;

/// A typical statement event: a parameterized SELECT by an OIDC subject.
AuditEvent sampleEvent(int i) {
  AuditEvent e;
  e.time = nowUs();
  e.gateway_id = "bench";
  e.session_id = static_cast<uint64_t>(i % 64);
  e.subject_id = "agent-" + std::to_string(i % 16);
  e.subject_groups = {"ai-agents"};
  e.subject_issuer = "https://idp.example.com";
  e.auth_method = "oidc";
  e.client_address = "10.1.2.3:51234";
  e.tls = true;
  e.tls_version = "TLSv1.3";
  e.connection = "prod";
  e.upstream_role = "agent_ro";
  e.statement = "SELECT id, email, created_at FROM public.users WHERE id = $1 AND tenant = $2";
  e.parameters = {std::string("<redacted>"), std::string("<redacted>")};
  e.fingerprint = "5ab3c0ffee1d2e3f";
  e.statement_kind = "select";
  e.tables = {"public.users"};
  e.decision = "allow";
  e.policy = "agents-read-prod";
  e.duration_us = 180;
  e.rows = 1;
  e.command_tag = "SELECT 1";
  e.bytes_sent = 412;
  return e;
}

std::string scratchDir() {
  const char* base = std::getenv("PGW_BENCH_DIR");
  std::string tmpl = (std::filesystem::path(base ? base : std::filesystem::temp_directory_path()) /
                      "pgw_audit_bench_XXXXXX")
                         .string();
  if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

/// Bytes of every file in `dir` (a sink's files after it is closed).
uintmax_t storedBytes(const std::string& dir) {
  uintmax_t total = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    if (f.is_regular_file()) total += f.file_size();
  }
  return total;
}

std::vector<StoredRecord> sealedBatch(size_t n, uint64_t first_seq, std::string& prev) {
  std::vector<StoredRecord> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(sealRecord(sampleEvent(static_cast<int>(i)), first_seq + i, prev));
    prev = out.back().hash;
  }
  return out;
}

void BM_Seal(benchmark::State& state) {
  const AuditEvent e = sampleEvent(1);
  uint64_t seq = 1;
  std::string prev = kGenesisHash;
  for (auto _ : state) {
    StoredRecord r = sealRecord(e, seq++, prev);
    prev = std::move(r.hash);
    benchmark::DoNotOptimize(prev);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Seal);

/// Reading a record back (verify, tail, export, replay): the canonical
/// reader that parseRecord tries first, against the general JSON parser it
/// falls back to.
void BM_ParseRecord(benchmark::State& state) {
  const std::string json = canonicalJson(sampleEvent(1), 1);
  const bool general = state.range(0) != 0;
  for (auto _ : state) {
    auto r = general ? detail::parseAnyRecord(json) : parseRecord(json);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(json.size()));
}
BENCHMARK(BM_ParseRecord)->ArgName("general")->Arg(0)->Arg(1);

/// One sink transaction of `batch` pre-sealed records per iteration.
template <class Open>
void sinkWrite(benchmark::State& state, Open open) {
  const std::string dir = scratchDir();
  std::unique_ptr<Sink> sink = open(dir);
  const auto batch = static_cast<size_t>(state.range(0));
  std::string prev = kGenesisHash;
  uint64_t seq = 1;
  for (auto _ : state) {
    state.PauseTiming();
    auto rows = sealedBatch(batch, seq, prev);
    seq += batch;
    state.ResumeTiming();
    if (!sink->write(rows).ok()) state.SkipWithError("sink write failed");
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(batch));
  sink.reset();
  state.counters["file_bytes"] =
      static_cast<double>(storedBytes(dir)) /
      static_cast<double>(state.iterations() * static_cast<int64_t>(batch));
  std::filesystem::remove_all(dir);
}

SegmentCompression compressionArg(const benchmark::State& state, int index) {
  return state.range(index) != 0 ? SegmentCompression::Zstd : SegmentCompression::None;
}

/// Args: batch, zstd (1: the default compressed segments, 0: text).
void BM_SqliteSinkWrite(benchmark::State& state) {
  const SegmentCompression compression = compressionArg(state, 1);
  sinkWrite(state, [&](const std::string& dir) -> std::unique_ptr<Sink> {
    return std::move(SqliteSink::open(dir + "/audit.db", compression).value());
  });
}
BENCHMARK(BM_SqliteSinkWrite)
    ->ArgsProduct({{64, 512, 4096}, {1, 0}})
    ->ArgNames({"batch", "zstd"})
    ->UseRealTime();

void BM_JsonlSinkWrite(benchmark::State& state) {
  sinkWrite(state, [](const std::string& dir) -> std::unique_ptr<Sink> {
    return std::move(JsonlSink::open(dir + "/audit.jsonl", size_t{1} << 30, 2).value());
  });
}
BENCHMARK(BM_JsonlSinkWrite)->Arg(64)->Arg(512)->Arg(4096)->UseRealTime();

/// CPU time in microseconds: of the process, or of the calling thread.
double cpuUs(int who) {
  rusage u{};
  ::getrusage(who, &u);
  auto us = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e6 + t.tv_usec; };
  return us(u.ru_utime) + us(u.ru_stime);
}

/// End to end: 20,000 events submitted (rendered on this thread, as on a
/// session's), then flushed. With `rate` 0 they go in as fast as
/// the queue admits them, and events/s is what the gateway can sustain into
/// that sink. With a rate (events/s), they arrive in 1 ms steps, as a busy
/// gateway's sessions submit them, and the writer keeps up.
///
/// `writer_us` is the CPU the log's own threads spent per event (the
/// process's CPU minus the submitting thread's): what auditing costs a
/// gateway beside the sessions' share. `submit_us` is the submitting
/// thread's CPU per event (rendering it; paced, little else — unpaced, it
/// includes waiting for room).
template <class Open>
void logThroughput(benchmark::State& state, size_t batch, int rate, Open open) {
  const std::string dir = scratchDir();
  AuditLog::Options o;
  o.gateway_id = "bench";
  o.queue = 65536;
  o.batch = batch;
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(open(dir));
  auto log = std::move(AuditLog::open(o, std::move(sinks)).value());
  constexpr int kEvents = 20000;
  std::vector<AuditEvent> events;
  for (int i = 0; i < kEvents; ++i) events.push_back(sampleEvent(i));
  const int per_step = rate > 0 ? std::max(rate / 1000, 1) : kEvents;
  const double process0 = cpuUs(RUSAGE_SELF);
  const double caller0 = cpuUs(RUSAGE_THREAD);
  for (auto _ : state) {
    auto step = std::chrono::steady_clock::now();
    for (int i = 0; i < kEvents; ++i) {
      if (i > 0 && i % per_step == 0) {
        step += std::chrono::milliseconds(1);
        std::this_thread::sleep_until(step);
      }
      while (!log->tryReserve()) std::this_thread::yield();
      log->submit(events[static_cast<size_t>(i)]);
    }
    log->flush();
  }
  const double caller = cpuUs(RUSAGE_THREAD) - caller0;
  const double others = (cpuUs(RUSAGE_SELF) - process0) - caller;
  state.SetItemsProcessed(state.iterations() * kEvents);
  const auto n = static_cast<double>(state.iterations() * static_cast<int64_t>(kEvents));
  state.counters["writer_us"] = others / n;
  state.counters["submit_us"] = caller / n;
  const auto stats = log->stats();
  state.counters["batches"] = static_cast<double>(stats.batches);
  log.reset();
  std::filesystem::remove_all(dir);
}

auto openSqlite(SegmentCompression compression) {
  return [compression](const std::string& dir) -> std::unique_ptr<Sink> {
    return std::move(SqliteSink::open(dir + "/audit.db", compression).value());
  };
}

std::unique_ptr<Sink> openJsonl(const std::string& dir) {
  return std::move(JsonlSink::open(dir + "/audit.jsonl", size_t{1} << 30, 2).value());
}

/// Args: batch, zstd.
void BM_LogSqlite(benchmark::State& state) {
  logThroughput(state, static_cast<size_t>(state.range(0)), 0,
                openSqlite(compressionArg(state, 1)));
}
BENCHMARK(BM_LogSqlite)
    ->ArgsProduct({{512, 4096}, {1, 0}})
    ->ArgNames({"batch", "zstd"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

void BM_LogJsonl(benchmark::State& state) {
  logThroughput(state, static_cast<size_t>(state.range(0)), 0, openJsonl);
}
BENCHMARK(BM_LogJsonl)->Arg(512)->Arg(4096)->UseRealTime()->Unit(benchmark::kMillisecond);

/// The gateway's case: the default batch and group commit, events arriving
/// at `rate` per second (20,000: about what pgbench -S drives through a
/// 2-core gateway). writer_us is the figure to watch. Args: rate, zstd.
void BM_LogSqlitePaced(benchmark::State& state) {
  logThroughput(state, AuditLog::Options{}.batch, static_cast<int>(state.range(0)),
                openSqlite(compressionArg(state, 1)));
}
BENCHMARK(BM_LogSqlitePaced)
    ->ArgsProduct({{20000}, {1, 0}})
    ->ArgNames({"rate", "zstd"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->Iterations(3);

}  // namespace
