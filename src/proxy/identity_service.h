#pragma once
/// Who is calling: the proxy side of identity, shared by all workers.
///
/// - Bearer tokens sent as the password: `pgw_...` service tokens (checked
///   against the hashed token store, reloaded when the file changes) and OIDC
///   JWTs (verified against the issuer's JWKS; key fetches run on a small
///   blocking pool so an event loop never waits on an IdP).
/// - Client certificates verified by the TLS layer against `tls.client_ca`.
/// - Failed attempts are counted per client address and refused for the rest
///   of the minute once `identity.max_auth_failures_per_minute` is reached.
///
/// A config reload calls reconfigure(): logins from then on use the new
/// settings; an issuer whose key source did not change keeps its cached keys.
///
/// Errors are FATAL-ready: SQLSTATE 28000/28P01 and a message that says which
/// check failed, never the token.

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/jwt.h"
#include "auth/oidc_keys.h"
#include "auth/service_token.h"
#include "auth/subject.h"
#include "common/result.h"
#include "config/config.h"
#include "proxy/asio.h"

namespace pgw::proxy {

class IdentityService {
 public:
  explicit IdentityService(const config::Config& config);
  ~IdentityService();

  /// Starts fetching every issuer's keys in the background.
  void prefetch();
  /// Installs the identity settings of a reloaded config.
  void reconfigure(const config::Config& config);
  /// True when bearer tokens (OIDC or service tokens) are configured.
  bool acceptsTokens() const;
  bool allowPlaintextTokens() const { return settings()->allow_plaintext_tokens; }
  bool acceptsCertificates() const { return settings()->certs.enabled; }

  /// Verifies a bearer token. Runs on the caller's executor except for key
  /// fetches, which run on the blocking pool.
  awaitable<Result<auth::Subject>> verifyToken(std::string token);
  /// The identity in a verified client certificate of this TLS session.
  Result<auth::Subject> fromCertificate(SSL* ssl) const;

  /// Seconds to wait before `address` may try again; nullopt = go ahead.
  std::optional<std::chrono::seconds> blockedFor(const std::string& address);
  void recordFailure(const std::string& address);

 private:
  struct Issuer {
    auth::JwtPolicy policy;
    config::OidcIssuer source;  ///< as configured: decides whether keys can be kept
    std::shared_ptr<auth::OidcKeys> keys;
  };
  /// Everything taken from the config; replaced whole by reconfigure().
  struct Settings {
    std::vector<Issuer> issuers;
    bool allow_plaintext_tokens = false;
    config::ClientCertificates certs;
    int max_failures_per_minute = 0;
    std::string token_store_path;
  };
  std::shared_ptr<const Settings> settings() const;
  /// Settings from `config`, reusing the keys of `previous` issuers whose
  /// key source is unchanged.
  static std::shared_ptr<const Settings> makeSettings(const config::Config& config,
                                                      const Settings* previous);
  awaitable<Result<auth::Subject>> verifyJwt(const std::string& token,
                                             std::shared_ptr<const Settings> settings);
  Result<auth::Subject> verifyServiceToken(std::string_view token, const Settings& settings);

  mutable std::mutex settings_mu_;
  std::shared_ptr<const Settings> settings_;

  std::mutex tokens_mu_;
  std::string tokens_path_;  ///< the store file tokens_ was read from
  std::optional<auth::ServiceTokenStore> tokens_;
  auth::StoreFileStamp tokens_stamp_;

  struct Window {
    std::chrono::steady_clock::time_point start;
    int failures = 0;
  };
  std::mutex limiter_mu_;
  std::unordered_map<std::string, Window> failures_;

  asio::thread_pool pool_{2};  ///< blocking work: IdP fetches
};

}  // namespace pgw::proxy
