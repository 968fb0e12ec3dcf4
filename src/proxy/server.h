#pragma once
/// The gateway process: one acceptor and signal handler on the main thread,
/// N workers (default: one per core) that own the sessions.
///
/// SIGTERM/SIGINT: stop accepting; sessions end at their next idle point
/// (no statement running, no open transaction) with FATAL 57P01; after
/// timeouts.shutdown_grace the rest are ended. A second signal ends all now.
///
/// SIGHUP, or a change of the config file (checked every second), reloads the
/// config: it is loaded and validated whole, then installed atomically for
/// new sessions and for the next statement of every session (LiveState). An
/// invalid config is rejected whole; the running one keeps serving. Settings
/// bound at startup (listen addresses, workers, the dev issuer) keep their
/// running value until a restart, with a warning.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_log.h"
#include "common/result.h"
#include "proxy/cancel_map.h"
#include "proxy/gateway_state.h"
#include "proxy/identity_service.h"
#include "proxy/live_state.h"
#include "proxy/metrics.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace pgw::proxy {

class Server {
 public:
  /// `config_path` is what reloads read ("" = no reloads). `audit_log`
  /// (null = auditing off) and `reviews` (null = no approvals: statements
  /// sent to review are refused) must outlive the server.
  Server(std::shared_ptr<const GatewayState> state, std::string config_path,
         audit::AuditLog* audit_log = nullptr, review::ReviewService* reviews = nullptr);
  ~Server();

  /// Binds the PostgreSQL listener (errors: address in use, permission...).
  Status listen();
  /// Serves until a signal and the shutdown complete. Returns the exit code.
  int run();
  tcp::endpoint endpoint() const;

  // ---- for the control plane (server_control.cc); any thread -------------
  IdentityService& identity() { return *identity_; }
  std::shared_ptr<const GatewayState> state() const { return live_.snapshot().state; }
  GatewayMetrics& metrics() { return metrics_; }
  int activeClients() const { return active_clients_.load(std::memory_order_relaxed); }
  /// Every live session, from every worker.
  std::vector<SessionSummary> sessions();
  /// Ends session `id` now with FATAL 57P01 and `why`; false if unknown.
  bool terminateSession(uint64_t id, const std::string& why);
  /// Reloads the config file now, as SIGHUP does, and says how it went.
  Status reloadNow(std::string_view trigger);
  /// Installs `state` (built by the caller from the config in force plus
  /// connections registered over the API) for new sessions and next statements.
  void install(std::shared_ptr<const GatewayState> state, std::string_view why);
  /// Builds the state for `config` with the registered connections added;
  /// set by the process that owns the registry. Default: buildGatewayState.
  using StateBuilder = std::function<Result<std::shared_ptr<const GatewayState>>(
      std::shared_ptr<const config::Config>)>;
  void setStateBuilder(StateBuilder builder) { builder_ = std::move(builder); }

 private:
  awaitable<void> acceptLoop();
  awaitable<void> waitForSignals();
  awaitable<void> waitForReloadSignals();
  awaitable<void> watchConfigFile();
  void beginShutdown();
  /// Loads, validates and installs the config file; logs the outcome.
  Status reload(std::string_view trigger);
  void guardedReload(std::string_view trigger);
  void auditReload(std::string_view trigger, std::string outcome);

  LiveState live_;
  GatewayMetrics metrics_;
  StateBuilder builder_;
  std::mutex reload_mu_;  ///< one reload at a time (signal, file watch, API)
  std::shared_ptr<const config::Config> startup_config_;  ///< what listen/workers were built from
  std::string config_path_;
  std::string loaded_text_;  ///< the config text in force, to ignore touches
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::signal_set signals_{io_};
  asio::signal_set reload_signals_{io_};
  CancelMap cancel_map_;
  audit::AuditLog* audit_log_;
  review::ReviewService* reviews_;
  std::unique_ptr<IdentityService> identity_;
  std::atomic<int> active_clients_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t next_worker_ = 0;
  /// Session ids are unique across restarts (the audit trail, the logs):
  /// the start time in seconds in the high bits, a counter below.
  uint64_t next_session_id_;
  bool stopping_ = false;
};

}  // namespace pgw::proxy
