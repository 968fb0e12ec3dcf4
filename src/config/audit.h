#pragma once
/// Internal to the config module: the `audit:` section and the per-policy
/// `audit:` key. The types (`AuditConfig`, `AuditParams`, ...) are in
/// config.h with the rest of the schema; the reference is docs/config.md
/// ("audit") and docs/audit.md.

#include <yaml-cpp/yaml.h>

#include <string>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgw::config::detail {

/// Reads `audit:` (an undefined node = the defaults) into `cfg.audit`. Must
/// run before `policies:`, whose `audit.parameters` defaults to
/// `audit.parameters`. Throws `LoadError` like every reader.
void readAudit(const Context& ctx, const YAML::Node& node, Config& cfg);

/// Reads `policies[i].audit` (`{ parameters: full|redacted|none }`);
/// `fallback` is the top-level `audit.parameters`.
AuditParams readPolicyAudit(const Context& ctx, const YAML::Node& node, const std::string& path,
                            AuditParams fallback);

}  // namespace pgw::config::detail
