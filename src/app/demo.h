#pragma once
/// `pgwarden demo`: a one-command quickstart. It starts a throwaway
/// PostgreSQL 15 with a sample schema full of (fake) PII, writes a gateway
/// config and TLS certificates next to it, prints how to connect through the
/// gateway, and removes everything again when the gateway stops.

#include <cstdint>
#include <functional>
#include <string>

namespace pgw::app {

struct DemoOptions {
  uint16_t gateway_port = 6432;  ///< where the gateway listens
  std::string work_dir;          ///< empty = a fresh mkdtemp under /tmp
};

/// Starts a throwaway PostgreSQL loaded with a sample schema, writes a gateway
/// config and TLS certificates, prints how to connect, then calls
/// serve(config_path), which blocks until the gateway stops (SIGINT/SIGTERM);
/// finally stops PostgreSQL and removes everything it created. Returns the exit code.
///
/// A `work_dir` given by the user is kept afterwards (PostgreSQL is still
/// stopped) and can be passed again: the existing database is reused with
/// fresh passwords. Errors name the step that failed and the command's stderr;
/// no exception leaves this function. During setup and teardown SIGINT/SIGTERM
/// abort the current step and lead to cleanup; while serve() runs, the
/// process's own signal handling is in force.
int runDemo(const DemoOptions& options,
            const std::function<int(const std::string& config_path)>& serve);

}  // namespace pgw::app
