#pragma once
/// The serving process's api::ControlPlane: the HTTP API's view of the proxy
/// (sessions, metrics, reloads, identity), the audit trail and the
/// connections registered over the API (sealed with `state.master_key`,
/// kept in the state store, merged into the config in force).

#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>

#include "api/control_plane.h"
#include "audit/audit_log.h"
#include "proxy/gateway_state.h"
#include "proxy/server.h"
#include "review/secret_box.h"
#include "review/service.h"

namespace pgw::app {

class GatewayControl : public api::ControlPlane {
 public:
  /// `audit` may be null (auditing off). All must outlive this object.
  GatewayControl(proxy::Server& server, audit::AuditLog* audit, review::ReviewService& reviews,
                 std::string config_path);

  /// The state for `config` with the registered connections added (the
  /// server's StateBuilder, also used at startup).
  Result<std::shared_ptr<const proxy::GatewayState>> buildState(
      std::shared_ptr<const config::Config> config);
  /// Startup: installs the registered connections once the server exists.
  Status start();

  Result<auth::Subject> authenticate(const std::string& token) override;
  std::shared_ptr<const config::Config> config() override;
  std::vector<api::SessionInfo> sessions() override;
  bool terminateSession(uint64_t id, const std::string& why) override;
  std::string metrics() override;
  bool ready(std::string& why) override;
  std::string configPath() override { return config_path_; }
  Status reload() override;
  Result<std::vector<audit::StoredRecord>> queryAudit(const audit::Query& query) override;
  void auditApi(const auth::Subject& subject, const std::string& action, const std::string& target,
                int status, const std::string& detail) override;
  std::vector<api::ConnectionInfo> connections() override;
  Result<api::ConnectionInfo> putConnection(const api::ConnectionSpec& spec, bool create) override;
  Status deleteConnection(const std::string& name) override;

 private:
  /// Rebuilds the state from the config in force and installs it.
  Status reinstall(std::string_view why);
  Result<review::SecretBox> box(const config::Config& config) const;

  proxy::Server& server_;
  audit::AuditLog* audit_;
  review::ReviewService& reviews_;
  std::string config_path_;
  std::mutex connections_mu_;         ///< one registration at a time
  std::set<std::string> registered_;  ///< names of the registered connections in force
};

}  // namespace pgw::app
