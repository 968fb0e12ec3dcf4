#include "proxy/metrics.h"

#include <fmt/format.h>

namespace pgw::proxy {

void GatewayMetrics::latency(std::chrono::steady_clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  const double seconds = static_cast<double>(ns) / 1e9;
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  latency_count_.fetch_add(1, std::memory_order_relaxed);
  latency_sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

std::string GatewayMetrics::render(int active_sessions, size_t audit_queue_depth,
                                   size_t audit_queue_capacity) const {
  auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  std::string out;
  auto metric = [&](std::string_view name, std::string_view type, std::string_view help) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  };
  metric("pgwarden_sessions_active", "gauge", "Client sessions open now.");
  out += fmt::format("pgwarden_sessions_active {}\n", active_sessions);
  metric("pgwarden_sessions_total", "counter", "Client sessions accepted.");
  out += fmt::format("pgwarden_sessions_total {}\n", load(sessions_total_));
  metric("pgwarden_auth_failures_total", "counter", "Failed client authentications.");
  out += fmt::format("pgwarden_auth_failures_total {}\n", load(auth_failures_));
  metric("pgwarden_upstream_errors_total", "counter",
         "Upstream connections that could not be opened or were lost.");
  out += fmt::format("pgwarden_upstream_errors_total {}\n", load(upstream_errors_));
  metric("pgwarden_statements_total", "counter", "Statements by policy decision.");
  static constexpr std::array<std::string_view, 4> kDecisions = {"allow", "deny", "review",
                                                                 "unchecked"};
  for (size_t i = 0; i < kDecisions.size(); ++i) {
    out += fmt::format("pgwarden_statements_total{{decision=\"{}\"}} {}\n", kDecisions[i],
                       load(statements_[i]));
  }
  metric("pgwarden_statement_duration_seconds", "histogram",
         "Client round trips, first message to ReadyForQuery.");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < kBounds.size(); ++i) {
    cumulative += load(buckets_[i]);
    out += fmt::format("pgwarden_statement_duration_seconds_bucket{{le=\"{}\"}} {}\n", kBounds[i],
                       cumulative);
  }
  cumulative += load(buckets_[kBounds.size()]);
  out += fmt::format("pgwarden_statement_duration_seconds_bucket{{le=\"+Inf\"}} {}\n", cumulative);
  out += fmt::format("pgwarden_statement_duration_seconds_sum {}\n",
                     static_cast<double>(load(latency_sum_ns_)) / 1e9);
  out += fmt::format("pgwarden_statement_duration_seconds_count {}\n", load(latency_count_));
  metric("pgwarden_audit_queue_depth", "gauge", "Audit events queued or not yet durable.");
  out += fmt::format("pgwarden_audit_queue_depth {}\n", audit_queue_depth);
  metric("pgwarden_audit_queue_capacity", "gauge", "Audit queue size (audit.queue).");
  out += fmt::format("pgwarden_audit_queue_capacity {}\n", audit_queue_capacity);
  return out;
}

}  // namespace pgw::proxy
