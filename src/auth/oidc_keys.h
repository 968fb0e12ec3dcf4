#pragma once
/// The signing keys of one OIDC issuer: discovery
/// (`<issuer>/.well-known/openid-configuration`), the JWKS over HTTPS verified
/// against a configurable CA, a cache, a periodic refresh, and a rate-limited
/// refetch when a token names a key we do not have (key rotation).
///
/// Fetching is blocking; the proxy calls refresh() from a blocking pool, never
/// from an event loop. Thread-safe: one fetch at a time, readers never wait
/// for a fetch to see the current keys.
///
/// References: OpenID Connect Discovery 1.0 §4; RFC 7517.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "auth/jwt.h"
#include "common/result.h"

namespace pgw::auth {

struct OidcKeySource {
  std::string issuer;    ///< exact issuer URL (https://..., or http:// on loopback)
  std::string jwks_uri;  ///< empty: taken from discovery
  std::string ca_file;   ///< empty: the system trust store
  std::chrono::milliseconds refresh{3600000};    ///< keys older than this are refetched
  std::chrono::milliseconds min_refetch{30000};  ///< no two fetches closer than this
  std::chrono::milliseconds http_timeout{5000};
};

class OidcKeys {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OidcKeys(OidcKeySource source) : source_(std::move(source)) {}

  const OidcKeySource& source() const { return source_; }
  /// The keys from the last successful fetch; null if none succeeded yet.
  std::shared_ptr<const JwkSet> current() const;
  /// True when the keys should be fetched: never fetched, or older than `refresh`.
  bool due(Clock::time_point now) const;
  /// Fetches discovery (when jwks_uri is not known yet) and the JWKS — unless
  /// the last attempt was less than `min_refetch` ago, in which case nothing
  /// is fetched and the outcome of that attempt is returned. On failure the
  /// previous keys stay current. Errors say what could not be reached and why.
  Result<std::shared_ptr<const JwkSet>> refresh(Clock::time_point now);

 private:
  Result<std::string> get(const std::string& url) const;
  Result<std::string> discoverJwksUri() const;

  OidcKeySource source_;
  std::mutex fetch_mu_;  ///< serializes fetches
  mutable std::mutex mu_;
  std::shared_ptr<const JwkSet> keys_;
  std::string jwks_uri_;
  Clock::time_point fetched_at_{};
  Clock::time_point attempted_at_{};
  bool attempted_ = false;
  std::string last_error_;
};

}  // namespace pgw::auth
