#pragma once
/// The gateway state now in force, replaced whole by a config reload.
///
/// A new session starts with the current snapshot and keeps it for what it
/// decided at connect (TLS, connection, upstream login). Statements are
/// decided by the newest policy: a session compares generation() — one
/// relaxed atomic load per statement — with the generation it last saw and
/// takes the new snapshot when they differ.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "proxy/gateway_state.h"

namespace pgw::proxy {

class LiveState {
 public:
  explicit LiveState(std::shared_ptr<const GatewayState> initial) : state_(std::move(initial)) {}

  std::shared_ptr<const GatewayState> current() const {
    std::lock_guard lock(mu_);
    return state_;
  }
  struct Snapshot {
    std::shared_ptr<const GatewayState> state;
    uint64_t generation;
  };
  /// The current state and its generation, read together.
  Snapshot snapshot() const {
    std::lock_guard lock(mu_);
    return {state_, generation_.load(std::memory_order_relaxed)};
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  /// Installs `next`; returns its generation.
  uint64_t replace(std::shared_ptr<const GatewayState> next) {
    std::lock_guard lock(mu_);
    state_ = std::move(next);
    return generation_.fetch_add(1, std::memory_order_release) + 1;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const GatewayState> state_;
  std::atomic<uint64_t> generation_{1};
};

}  // namespace pgw::proxy
