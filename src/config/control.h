#pragma once
/// Internal to the config module: the control plane's sections — `api:`,
/// `notifications:`, `state:` — and each policy's `approval:` and `jit:`.
/// The reference is docs/config.md and docs/approvals.md.

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgw::config::detail {

void readApi(const Context& ctx, const YAML::Node& node, Config& cfg);
void readNotifications(const Context& ctx, const YAML::Node& node, Config& cfg);
void readState(const Context& ctx, const YAML::Node& node, Config& cfg);
ApprovalConfig readApproval(const Context& ctx, const YAML::Node& node, const std::string& path);
/// `policy` is the policy being read: `jit.credential` must exist in every
/// connection it covers, and `jit.max_level` must exceed its access.
JitConfig readJit(const Context& ctx, const YAML::Node& node, const std::string& path,
                  const Config& cfg, const PolicyConfig& policy);

}  // namespace pgw::config::detail
