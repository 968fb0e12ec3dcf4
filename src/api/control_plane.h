#pragma once
/// What the HTTP API asks of the rest of the gateway. The API module owns
/// HTTP, JSON, roles and validation; the process that serves (app/) wires
/// this interface to the proxy, the config file and the audit trail. Every
/// method may be called from any HTTP thread at once.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain.h"
#include "audit/store.h"
#include "auth/subject.h"
#include "common/result.h"
#include "config/config.h"
#include "review/review.h"

namespace pgw::api {

/// One live client session (GET /api/sessions).
struct SessionInfo {
  uint64_t id = 0;
  review::Person subject;
  std::string connection;
  std::string policy;          ///< "" = no policy (transparent gateway)
  std::string client_address;  ///< "host:port"
  std::string state;           ///< "idle", "active", "idle in transaction", "waiting for review"
  std::string review_id;       ///< the review it waits for, if any
  int64_t started_us = 0;
  uint64_t statements = 0;
};

/// A connection as the API shows it: never a password.
struct ConnectionInfo {
  std::string name;
  std::string host;
  uint16_t port = 5432;
  std::string database;
  std::string tls_mode;                  ///< "disable", "require", "verify-ca", "verify-full"
  std::string tls_ca;                    ///< PEM file path, for verify-*
  std::vector<std::string> credentials;  ///< credential names, with users below
  std::vector<std::string> users;        ///< same order as credentials
  std::string source;                    ///< "config" (read-only over the API) or "api"
};

/// What POST/PUT /api/connections carry. Passwords are write-only.
struct ConnectionSpec {
  std::string name;
  std::string host;
  uint16_t port = 5432;
  std::string database;
  std::string tls_mode = "disable";
  std::string tls_ca;
  struct Credential {
    std::string name;
    std::string user;
    config::Secret password;
  };
  std::vector<Credential> credentials;
};

class ControlPlane {
 public:
  virtual ~ControlPlane() = default;

  /// Verifies a bearer token (OIDC JWT or pgw_ service token) as the data
  /// path does. May block (key fetch). The error message never holds the token.
  virtual Result<auth::Subject> authenticate(const std::string& token) = 0;
  /// The config in force (after reloads).
  virtual std::shared_ptr<const config::Config> config() = 0;

  virtual std::vector<SessionInfo> sessions() = 0;
  /// Ends the session at once with FATAL 57P01 carrying `why`; false if unknown.
  virtual bool terminateSession(uint64_t id, const std::string& why) = 0;

  /// Prometheus text exposition of the gateway's counters (sessions,
  /// statements by decision, latency histograms, upstream errors, audit
  /// queue depth). The API appends its own.
  virtual std::string metrics() = 0;
  /// /readyz: false with a reason while the gateway cannot serve.
  virtual bool ready(std::string& why) = 0;

  /// The config file's text and path ("" when the gateway was started
  /// without a file: policies cannot be replaced then).
  virtual std::string configPath() = 0;
  /// Loads, validates and installs the config file now (as SIGHUP does).
  /// Errors: the config's own message.
  virtual Status reload() = 0;

  /// The audit trail's first sink that can be queried; error if none.
  virtual Result<std::vector<audit::StoredRecord>> queryAudit(const audit::Query& query) = 0;
  /// Records an API action in the audit trail (type "api"): who, what, on
  /// which id, the HTTP status. Never a secret.
  virtual void auditApi(const auth::Subject& subject, const std::string& action,
                        const std::string& target, int status, const std::string& detail) = 0;

  virtual std::vector<ConnectionInfo> connections() = 0;
  /// Registers (create) or replaces a connection registered over the API;
  /// it is usable by new sessions when this returns. Errors: "400" bad
  /// spec, "409" exists / is defined in the config file, "404" unknown,
  /// "503" no state.master_key.
  virtual Result<ConnectionInfo> putConnection(const ConnectionSpec& spec, bool create) = 0;
  virtual Status deleteConnection(const std::string& name) = 0;
};

}  // namespace pgw::api
