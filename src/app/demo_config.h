#pragma once
/// `pgwarden demo`: the names its setup and its gateway config share, and the
/// config text itself (the setup in demo.cc runs things; this says things).

#include <cstdint>
#include <string>
#include <string_view>

namespace pgw::app::demo {

inline constexpr std::string_view kAppRole = "pgwarden_app";
inline constexpr std::string_view kDatabase = "shop";
inline constexpr std::string_view kDemoUser = "demo";
inline constexpr std::string_view kSecretFile = "secrets/shop_app";
/// The dev issuer's Ed25519 private key: whoever reads it can mint tokens.
inline constexpr std::string_view kDevIssuerKeyFile = "secrets/dev-issuer.pem";
/// The state store's master key (seals credentials registered over the API).
inline constexpr std::string_view kStateKeyFile = "secrets/state-master-key";
inline constexpr std::string_view kDevIssuerAudience = "pgwarden";
inline constexpr std::string_view kDevTokenLifetime = "1h";
inline constexpr std::string_view kTokenGroup = "ai-agents";
/// Members approve reviews over the API (and read the audit trail).
inline constexpr std::string_view kApproverGroup = "dba";

/// What only the running demo knows.
struct ConfigValues {
  uint16_t gateway_port = 0;
  uint16_t http_port = 0;
  uint16_t pg_port = 0;
  std::string demo_password;
  std::string dev_issuer_url;
};

/// The gateway config `pgwarden demo` writes (paths relative to its directory).
std::string gatewayConfigYaml(const ConfigValues& v);

}  // namespace pgw::app::demo
