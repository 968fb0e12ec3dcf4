#pragma once
/// The gateway issues each client its own BackendKeyData. A CancelRequest
/// arrives on a new connection, possibly on another worker, so the map from
/// gateway keys to upstream backends is shared and locked; it is touched only
/// at session start, session end and cancel — never per message.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "protocol/messages.h"
#include "proxy/asio.h"

namespace pgw::proxy {

struct CancelTarget {
  tcp::endpoint upstream;                 ///< the address the session's upstream connected to
  protocol::BackendKeyData upstream_key;  ///< the real backend's key
  /// Raised for the session when its client cancels (a statement waiting
  /// for review is withdrawn); may be null.
  std::shared_ptr<std::atomic<bool>> cancelled;
};

class CancelMap {
 public:
  /// Registers a session; returns the fresh random key handed to its client.
  protocol::BackendKeyData add(const CancelTarget& target);
  void remove(const protocol::BackendKeyData& client_key);
  /// The target for a client key; nullopt if unknown or the secret is wrong
  /// (compared in constant time).
  std::optional<CancelTarget> find(const protocol::BackendKeyData& client_key) const;
  size_t size() const;

 private:
  struct Entry {
    int32_t secret;
    CancelTarget target;
  };
  mutable std::mutex mu_;
  std::unordered_map<int32_t, Entry> entries_;
};

/// Sends a CancelRequest for `target` on a new upstream connection, as libpq
/// does (plaintext; PostgreSQL accepts cancels before any TLS or auth).
awaitable<void> forwardCancel(CancelTarget target);

}  // namespace pgw::proxy
