// pgw_ab_load: the same pgbench -S workload against two or more targets,
// interleaved in short time slots, so that a shared, noisy machine slows
// every target alike. Reports each target's throughput relative to the
// first, slot pair by slot pair.
//
// Why: on a shared 2-core VM a target's TPS moves by +-10% from one
// 10-second pgbench run to the next, so comparing two runs cannot show a
// 2% difference. Here every client holds a connection to every target and
// all clients switch target together every `--slot-ms`; consecutive slots
// see nearly the same machine. Work a target leaves behind when its slot
// ends (a group commit still running) falls into the next slot's first
// `--settle-ms`, which is not counted.
//
//   pgw_ab_load --clients 8 --seconds 120 --mode simple
//               --target "host=127.0.0.1 port=6432 dbname=bench user=bench"
//               --target "host=127.0.0.1 port=6433 dbname=bench user=bench"
//   (one command line)
//
// Transactions are pgbench's built-in select-only script: one
// `SELECT abalance FROM pgbench_accounts WHERE aid = :aid` with a uniform
// random aid in 1..100000*scale, sent as pgbench -M simple (text inlined),
// extended (unnamed statement each time) or prepared (named, prepared once).
//
// Where the CPU goes: `--cpu` charges to each target the CPU time its
// PostgreSQL backends used during the run (found with pg_backend_pid() on
// every connection, so through a gateway too), and `--process T=PID` the
// CPU time of a process serving target T (the gateway), per statement
// over all the statements the target ran, split into user and system time.
// Read from /proc: the targets run on this machine.

#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

enum class Mode { Simple, Extended, Prepared };

struct Options {
  std::vector<std::string> targets;
  int clients = 8;
  int seconds = 60;
  int slot_ms = 300;
  int settle_ms = 75;
  int scale = 10;
  std::string mode_name = "simple";
  Mode mode = Mode::Simple;
  bool cpu = false;
  std::map<size_t, int> processes;  ///< --process T=PID
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "pgw_ab_load: %s\n"
               "usage: pgw_ab_load --target CONNINFO --target CONNINFO [...]\n"
               "         [--clients N] [--seconds S] [--slot-ms MS] [--settle-ms MS]\n"
               "         [--scale N] [--mode simple|extended|prepared]\n"
               "         [--cpu] [--process T=PID ...]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--cpu") {
      o.cpu = true;
      continue;
    }
    if (i + 1 >= argc) usage(("missing value after " + a).c_str());
    const char* v = argv[++i];
    if (a == "--target") {
      o.targets.emplace_back(v);
    } else if (a == "--clients") {
      o.clients = std::atoi(v);
    } else if (a == "--seconds") {
      o.seconds = std::atoi(v);
    } else if (a == "--slot-ms") {
      o.slot_ms = std::atoi(v);
    } else if (a == "--settle-ms") {
      o.settle_ms = std::atoi(v);
    } else if (a == "--scale") {
      o.scale = std::atoi(v);
    } else if (a == "--mode") {
      o.mode_name = v;
    } else if (a == "--process") {
      size_t t = 0;
      int pid = 0;
      if (std::sscanf(v, "%zu=%d", &t, &pid) != 2 || pid <= 0) usage("--process takes T=PID");
      o.processes[t] = pid;
      o.cpu = true;
    } else {
      usage(("unknown option " + a).c_str());
    }
  }
  if (o.targets.size() < 2) usage("give at least two --target");
  if (o.clients < 1 || o.seconds < 1 || o.scale < 1 || o.slot_ms < 10 || o.settle_ms < 0 ||
      o.settle_ms >= o.slot_ms) {
    usage("--clients, --seconds, --scale must be positive; 0 <= --settle-ms < --slot-ms");
  }
  // The interval needs at least two rounds (a slot of every target each).
  if (static_cast<int64_t>(o.seconds) * 1000 / o.slot_ms <
      2 * static_cast<int64_t>(o.targets.size())) {
    usage("--seconds gives fewer than two rounds of --slot-ms slots (one per target each)");
  }
  for (const auto& [t, pid] : o.processes) {
    if (t >= o.targets.size()) usage("--process names a target that was not given");
  }
  if (o.mode_name == "simple") {
    o.mode = Mode::Simple;
  } else if (o.mode_name == "extended") {
    o.mode = Mode::Extended;
  } else if (o.mode_name == "prepared") {
    o.mode = Mode::Prepared;
  } else {
    usage("--mode is simple, extended or prepared");
  }
  return o;
}

constexpr const char* kSelect = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";

/// One client: a connection to every target.
class Client {
 public:
  Client(const Options& o, unsigned seed) : o_(o), rng_(seed), aid_(1, 100000 * o.scale) {}
  ~Client() {
    for (PGconn* c : conns_) PQfinish(c);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connect() {
    for (const auto& t : o_.targets) {
      PGconn* c = PQconnectdb(t.c_str());
      conns_.push_back(c);
      if (PQstatus(c) != CONNECTION_OK) {
        std::fprintf(stderr, "pgw_ab_load: %s: %s", t.c_str(), PQerrorMessage(c));
        return false;
      }
      if (o_.cpu) {
        PGresult* r = PQexec(c, "SELECT pg_backend_pid()");
        const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;
        backends_.push_back(ok ? std::atoi(PQgetvalue(r, 0, 0)) : 0);
        PQclear(r);
        if (!ok) {
          std::fprintf(stderr, "pgw_ab_load: %s: pg_backend_pid(): %s", t.c_str(),
                       PQerrorMessage(c));
          return false;
        }
      }
      if (o_.mode == Mode::Prepared) {
        PGresult* r = PQprepare(c, "sel", kSelect, 1, nullptr);
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
          std::fprintf(stderr, "pgw_ab_load: %s: prepare: %s", t.c_str(), PQerrorMessage(c));
          return false;
        }
      }
    }
    return true;
  }

  /// One transaction on target `t`; false on an error.
  bool run(size_t t) {
    const int aid = aid_(rng_);
    PGresult* r = nullptr;
    if (o_.mode == Mode::Simple) {
      char sql[96];
      std::snprintf(sql, sizeof sql, "SELECT abalance FROM pgbench_accounts WHERE aid = %d;", aid);
      r = PQexec(conns_[t], sql);
    } else {
      const std::string v = std::to_string(aid);
      const char* values[] = {v.c_str()};
      r = o_.mode == Mode::Extended
              ? PQexecParams(conns_[t], kSelect, 1, nullptr, values, nullptr, nullptr, 0)
              : PQexecPrepared(conns_[t], "sel", 1, values, nullptr, nullptr, 0);
    }
    const bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
    if (!ok) std::fprintf(stderr, "pgw_ab_load: %s", PQerrorMessage(conns_[t]));
    PQclear(r);
    return ok;
  }

  /// The backend serving this client on target `t` (with --cpu).
  int backend(size_t t) const { return backends_[t]; }

 private:
  const Options& o_;
  std::vector<PGconn*> conns_;
  std::vector<int> backends_;
  std::mt19937 rng_;
  std::uniform_int_distribution<int> aid_;
};

/// CPU seconds, in user and in system mode.
struct CpuTime {
  double user = 0;
  double system = 0;
  CpuTime& operator+=(const CpuTime& o) {
    user += o.user;
    system += o.system;
    return *this;
  }
  CpuTime operator-(const CpuTime& o) const { return {user - o.user, system - o.system}; }
};

/// What process `pid` (all its threads) has used; NaN when it cannot be
/// read, so a sum over it is unknown, not small.
CpuTime cpuTime(int pid) {
  const CpuTime unknown{std::nan(""), std::nan("")};
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return unknown;
  const size_t paren = line.rfind(')');
  if (paren == std::string::npos) return unknown;
  // After the command: state (field 3) ... utime (14), stime (15).
  std::istringstream rest(line.substr(paren + 2));
  std::string field;
  unsigned long long utime = 0;
  unsigned long long stime = 0;
  for (int n = 3; n <= 15 && rest >> field; ++n) {
    if (n == 14) utime = std::stoull(field);
    if (n == 15) stime = std::stoull(field);
  }
  const auto tick = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {static_cast<double>(utime) / tick, static_cast<double>(stime) / tick};
}

/// Per target: CPU time of its backends and of its --process (if any).
struct CpuSample {
  std::vector<CpuTime> backends;
  std::vector<std::optional<CpuTime>> process;
};

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const size_t ntargets = o.targets.size();
  const auto slot = std::chrono::milliseconds(o.slot_ms);
  const auto settle = std::chrono::milliseconds(o.settle_ms);
  const size_t nslots = static_cast<size_t>(o.seconds) * 1000 / static_cast<size_t>(o.slot_ms);
  // Completions counted per slot; slot s belongs to target order(s).
  std::vector<std::atomic<uint64_t>> done(nslots);
  // Every statement a target ran, counted or not (for CPU per statement).
  std::vector<std::atomic<uint64_t>> ran(ntargets);
  // A B B A A B B A ... (for two targets; more rotate): a linear drift
  // within a pair of pairs cancels.
  auto order = [&](size_t s) -> size_t {
    const size_t round = s / ntargets;
    const size_t k = s % ntargets;
    return round % 2 == 0 ? k : ntargets - 1 - k;
  };

  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < o.clients; ++i) {
    clients.push_back(std::make_unique<Client>(o, 1234U + static_cast<unsigned>(i)));
    if (!clients.back()->connect()) return 1;
  }
  auto sampleCpu = [&] {
    CpuSample c{std::vector<CpuTime>(ntargets), std::vector<std::optional<CpuTime>>(ntargets)};
    for (size_t t = 0; t < ntargets; ++t) {
      for (const auto& client : clients) c.backends[t] += cpuTime(client->backend(t));
      if (auto it = o.processes.find(t); it != o.processes.end()) {
        c.process[t] = cpuTime(it->second);
      }
    }
    return c;
  };
  const CpuSample cpu_before = o.cpu ? sampleCpu() : CpuSample{};
  std::atomic<bool> failed = false;
  const auto start = Clock::now() + std::chrono::milliseconds(200);
  std::vector<std::thread> threads;
  for (auto& c : clients) {
    threads.emplace_back([&, client = c.get()] {
      std::this_thread::sleep_until(start);
      for (;;) {
        const auto now = Clock::now();
        const size_t s = static_cast<size_t>((now - start) / slot);
        if (s >= nslots || failed) return;
        if (!client->run(order(s))) {
          failed = true;
          return;
        }
        ran[order(s)].fetch_add(1, std::memory_order_relaxed);
        // Counted only when it finished in the slot it started in, after
        // the settling time.
        const auto end = Clock::now();
        if (static_cast<size_t>((end - start) / slot) == s && end - start - s * slot >= settle) {
          done[s].fetch_add(1, std::memory_order_relaxed);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  if (failed) return 1;
  // Sampled while the connections are still open (their backends alive).
  const CpuSample cpu_after = o.cpu ? sampleCpu() : CpuSample{};

  // Per round (one slot of every target): each target's count over the
  // first target's.
  const double counted_s = std::chrono::duration<double>(slot - settle).count();
  const size_t rounds = nslots / ntargets;
  std::printf("targets: %zu, clients: %d, mode: %s, %zu rounds of %d ms slots (%d ms settle)\n",
              ntargets, o.clients, o.mode_name.c_str(), rounds, o.slot_ms, o.settle_ms);
  std::vector<std::vector<double>> tps(ntargets);
  std::vector<std::vector<double>> ratio(ntargets);
  for (size_t r = 0; r < rounds; ++r) {
    std::vector<double> in_round(ntargets);
    for (size_t k = 0; k < ntargets; ++k) {
      const size_t s = r * ntargets + k;
      in_round[order(s)] = static_cast<double>(done[s].load()) / counted_s;
    }
    for (size_t t = 0; t < ntargets; ++t) {
      tps[t].push_back(in_round[t]);
      if (in_round[0] > 0) ratio[t].push_back(in_round[t] / in_round[0]);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
  };
  for (size_t t = 0; t < ntargets; ++t) {
    // Geometric mean of the per-round ratios and its 95% interval.
    double sum = 0;
    double sq = 0;
    for (double x : ratio[t]) sum += std::log(x);
    const double n = static_cast<double>(ratio[t].size());
    const double mean = sum / n;
    for (double x : ratio[t]) sq += (std::log(x) - mean) * (std::log(x) - mean);
    const double se = n > 1 ? std::sqrt(sq / (n - 1) / n) : 0;
    std::printf("target %zu: median %.0f tps; vs target 0: %.4f (95%%: %.4f..%.4f), median %.4f\n",
                t, median(tps[t]), std::exp(mean), std::exp(mean - 1.96 * se),
                std::exp(mean + 1.96 * se), median(ratio[t]));
  }
  for (size_t t = 0; o.cpu && t < ntargets; ++t) {
    const uint64_t statements = ran[t].load();
    const double n = static_cast<double>(std::max<uint64_t>(statements, 1));
    // Total, then how much of it was user and system time, per statement.
    auto print = [n](const char* what, const CpuTime& used) {
      std::printf("; %s %.1f us/statement (user %.1f, system %.1f)", what,
                  (used.user + used.system) / n * 1e6, used.user / n * 1e6, used.system / n * 1e6);
    };
    std::printf("cpu %zu: %llu statements", t, static_cast<unsigned long long>(statements));
    print("PostgreSQL backends", cpu_after.backends[t] - cpu_before.backends[t]);
    if (cpu_before.process[t] && cpu_after.process[t]) {
      print("process", *cpu_after.process[t] - *cpu_before.process[t]);
    }
    std::printf("\n");
  }
  return 0;
}
