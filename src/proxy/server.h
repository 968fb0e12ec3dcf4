#pragma once
/// The gateway process: one acceptor and signal handler on the main thread,
/// N workers (default: one per core) that own the sessions.
///
/// SIGTERM/SIGINT: stop accepting; sessions end at their next idle point
/// (no statement running, no open transaction) with FATAL 57P01; after
/// timeouts.shutdown_grace the rest are ended. A second signal ends all now.

#include <atomic>
#include <memory>
#include <vector>

#include "common/result.h"
#include "proxy/cancel_map.h"
#include "proxy/gateway_state.h"
#include "proxy/identity_service.h"
#include "proxy/worker.h"

namespace pgw::proxy {

class Server {
 public:
  explicit Server(std::shared_ptr<const GatewayState> state);
  ~Server();

  /// Binds the PostgreSQL listener (errors: address in use, permission...).
  Status listen();
  /// Serves until a signal and the shutdown complete. Returns the exit code.
  int run();
  tcp::endpoint endpoint() const;

 private:
  awaitable<void> acceptLoop();
  awaitable<void> waitForSignals();
  void beginShutdown();

  std::shared_ptr<const GatewayState> state_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
  asio::signal_set signals_{io_};
  CancelMap cancel_map_;
  std::unique_ptr<IdentityService> identity_;
  std::atomic<int> active_clients_{0};
  std::vector<std::unique_ptr<Worker>> workers_;
  size_t next_worker_ = 0;
  uint64_t next_session_id_ = 1;
  bool stopping_ = false;
};

}  // namespace pgw::proxy
