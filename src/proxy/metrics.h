#pragma once
/// The gateway's counters for GET /metrics (Prometheus text exposition
/// format 0.0.4). Shared by every worker; relaxed atomics, a handful per
/// statement.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace pgw::proxy {

class GatewayMetrics {
 public:
  enum class Decision { Allow, Deny, Review, Unchecked };

  void sessionStarted() { sessions_total_.fetch_add(1, std::memory_order_relaxed); }
  void authFailed() { auth_failures_.fetch_add(1, std::memory_order_relaxed); }
  void upstreamError() { upstream_errors_.fetch_add(1, std::memory_order_relaxed); }
  void statement(Decision d) {
    statements_[static_cast<size_t>(d)].fetch_add(1, std::memory_order_relaxed);
  }
  /// One client round trip, from its first message to the ReadyForQuery.
  void latency(std::chrono::steady_clock::duration d);

  /// The exposition text; `active_sessions` and the audit queue come from
  /// their owners at scrape time.
  std::string render(int active_sessions, size_t audit_queue_depth,
                     size_t audit_queue_capacity) const;

 private:
  /// Upper bounds, in seconds, of the latency histogram's buckets (+Inf last).
  static constexpr std::array<double, 10> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                     0.025,  0.05,  0.1,    0.5,   2.5};
  std::atomic<uint64_t> sessions_total_{0};
  std::atomic<uint64_t> auth_failures_{0};
  std::atomic<uint64_t> upstream_errors_{0};
  std::array<std::atomic<uint64_t>, 4> statements_{};
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> latency_count_{0};
  std::atomic<uint64_t> latency_sum_ns_{0};
};

}  // namespace pgw::proxy
