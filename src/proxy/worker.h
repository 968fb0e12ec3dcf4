#pragma once
/// One event-loop thread. A session and its upstream connection live on the
/// worker that accepted them for their whole life, so the data path needs no
/// locks; the session set is touched only from this worker's thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>

#include "audit/audit_log.h"
#include "proxy/analysis_cache.h"
#include "proxy/asio.h"
#include "proxy/catalog.h"
#include "proxy/gateway_state.h"
#include "proxy/live_state.h"
#include "proxy/metrics.h"

namespace pgw::review {
class ReviewService;
}

namespace pgw::proxy {

class CancelMap;
class ClientSession;
class IdentityService;

/// Posts work to a worker's loop from other threads (the audit writer) for
/// as long as the worker runs; once it stops, posting does nothing.
class Mailbox {
 public:
  explicit Mailbox(asio::io_context& io) : io_(&io) {}
  void post(std::function<void()> f) {
    std::lock_guard lock(mu_);
    if (io_ != nullptr) asio::post(*io_, std::move(f));
  }
  void close() {
    std::lock_guard lock(mu_);
    io_ = nullptr;
  }

 private:
  std::mutex mu_;
  asio::io_context* io_;
};

class Worker {
 public:
  Worker(CancelMap& cancel_map, IdentityService& identity, const LiveState& live,
         audit::AuditLog* audit_log, review::ReviewService* reviews, GatewayMetrics& metrics,
         std::atomic<int>& active_clients);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void start();
  /// Stops the loop and joins the thread.
  void stop();

  /// Adopts an accepted connection (called on any thread).
  void adopt(tcp::socket::native_handle_type fd, tcp protocol, LiveState::Snapshot state,
             uint64_t session_id);
  /// Asks every session to end at its next idle point (any thread).
  void beginShutdown();
  /// Ends every session now (any thread).
  void terminateAll();

  // For sessions (worker thread only).
  void add(ClientSession* s) { sessions_.insert(s); }
  void remove(ClientSession* s);
  CancelMap& cancelMap() { return cancel_map_; }
  IdentityService& identity() { return identity_; }
  const LiveState& live() const { return live_; }
  audit::AuditLog* auditLog() const { return audit_log_; }
  /// Reviews and grants; null when the gateway runs without a state store.
  review::ReviewService* reviews() const { return reviews_; }
  GatewayMetrics& metrics() { return metrics_; }
  /// Runs `f` on every session of this worker, on its thread, and waits
  /// (at most `timeout`; false if the worker did not answer in time).
  bool forEachSession(const std::function<void(ClientSession&)>& f,
                      std::chrono::milliseconds timeout);
  AnalysisCache& analysisCache() { return analysis_cache_; }
  Catalog& catalog() { return catalog_; }
  const std::shared_ptr<Mailbox>& mailbox() const { return mailbox_; }
  int activeClients() const { return active_clients_.load(std::memory_order_relaxed); }

 private:
  CancelMap& cancel_map_;
  IdentityService& identity_;
  const LiveState& live_;
  audit::AuditLog* audit_log_;
  review::ReviewService* reviews_;
  GatewayMetrics& metrics_;
  std::atomic<int>& active_clients_;
  bool shutting_down_ = false;
  AnalysisCache analysis_cache_;
  std::unordered_set<ClientSession*> sessions_;  // declared before io_: outlives the sessions
  asio::io_context io_{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard_;
  Catalog catalog_{io_.get_executor()};  ///< masking's catalog lookups; destroyed before io_
  std::shared_ptr<Mailbox> mailbox_ = std::make_shared<Mailbox>(io_);
  std::thread thread_;
};

}  // namespace pgw::proxy
