#pragma once
/// Everything a session reads that is derived from the config, built once at
/// load and shared read-only (`shared_ptr<const GatewayState>`): the config
/// itself, TLS contexts, and SCRAM verifiers derived from configured passwords.

#include <map>
#include <memory>
#include <string>

#include "auth/scram.h"
#include "common/result.h"
#include "config/config.h"
#include "policy/policy_set.h"
#include "proxy/asio.h"

namespace pgw::mask {
class CompiledMaskRules;
}

namespace pgw::proxy {

struct GatewayState {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<asio::ssl::context> server_tls;  ///< null when tls.cert is not set
  std::map<std::string, std::shared_ptr<asio::ssl::context>> upstream_tls;  ///< by connection
  std::map<std::string, auth::ScramSecret> user_secrets;                    ///< by user name
  /// Compiled `policies:`; null when the config has none (transparent proxy).
  std::shared_ptr<const policy::PolicySet> policies;
  /// Compiled `policies[].mask` rules, by policy name (policies without
  /// rules are absent).
  std::map<std::string, std::shared_ptr<const mask::CompiledMaskRules>> mask_rules;
  /// Used for unknown users so that a probe cannot tell them from a wrong password.
  auth::ScramSecret decoy_secret;
};

Result<std::shared_ptr<const GatewayState>> buildGatewayState(
    std::shared_ptr<const config::Config> config);

}  // namespace pgw::proxy
