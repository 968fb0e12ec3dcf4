#pragma once
/// Shared by the audit tests: a scratch directory, sample events, and
/// opening an AuditLog over real sinks with fast retry timings.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "audit/event.h"
#include "audit/jsonl_sink.h"
#include "audit/sqlite_sink.h"
#include "support/temp_dir.h"

namespace pgw::audit::testing {

using TempDir = test_support::TempDir;

/// `s` with the first `what` replaced by `with`; a test whose `what` is
/// not there fails (an edit that edits nothing would prove nothing).
inline std::string replaceFirst(std::string s, std::string_view what, std::string_view with) {
  const size_t at = s.find(what);
  EXPECT_NE(at, std::string::npos) << what;
  if (at != std::string::npos) s.replace(at, what.size(), with);
  return s;
}

/// A statement event; `i` varies every field that has an index column.
inline AuditEvent statement(int i, TimePoint time = nowUs()) {
  AuditEvent e;
  e.type = EventType::Statement;
  e.time = time;
  e.session_id = static_cast<uint64_t>(100 + i % 3);
  e.subject_id = i % 2 == 0 ? "alice" : "ci-bot";
  e.subject_groups = {"ai-agents", "readers"};
  e.subject_issuer = "https://idp.example.com";
  e.auth_method = "oidc";
  e.client_address = "10.0.0.7:53211";
  e.tls = true;
  e.tls_version = "TLSv1.3";
  e.connection = "prod";
  e.upstream_role = "agent_ro";
  e.statement = "SELECT * FROM users WHERE id = $1";
  e.parameters = {std::string("<redacted>"), std::nullopt};
  e.fingerprint = "a1b2c3";
  e.statement_kind = "select";
  e.tables = {"public.users"};
  e.decision = i % 5 == 4 ? "deny" : "allow";
  e.rule = i % 5 == 4 ? "delete_without_where" : "";
  e.policy = "agents-read-prod";
  e.duration_us = 250 + i;
  e.rows = i;
  e.command_tag = "SELECT " + std::to_string(i);
  e.bytes_sent = 1000 + i;
  e.masked = {MaskedColumn{"public.users.email", "email", i}};
  return e;
}

inline AuditLog::Options fastOptions(const std::string& gateway = "gw-test") {
  AuditLog::Options o;
  o.gateway_id = gateway;
  o.queue = 1024;
  o.batch = 64;
  o.retry_min = std::chrono::milliseconds(5);
  o.retry_max = std::chrono::milliseconds(20);
  o.shutdown_wait = std::chrono::milliseconds(2000);
  return o;
}

inline std::unique_ptr<Sink> sqliteSink(const std::string& path,
                                        SegmentCompression compression = SegmentCompression::Zstd) {
  auto s = SqliteSink::open(path, compression);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

inline std::unique_ptr<Sink> jsonlSink(const std::string& path, size_t max_size = 64u << 20,
                                       int keep = 10) {
  auto s = JsonlSink::open(path, max_size, keep);
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

inline std::unique_ptr<AuditLog> openLog(AuditLog::Options o,
                                         std::vector<std::unique_ptr<Sink>> sinks) {
  auto log = AuditLog::open(std::move(o), std::move(sinks));
  if (!log) throw std::runtime_error(log.error().message);
  return std::move(*log);
}

/// Writes `n` statement events through a log over `sinks` and flushes.
inline void writeEvents(AuditLog& log, int n, int first = 0) {
  for (int i = first; i < first + n; ++i) {
    if (!log.tryReserve()) throw std::runtime_error("queue full");
    log.submit(statement(i));
  }
  log.flush();
}

}  // namespace pgw::audit::testing
