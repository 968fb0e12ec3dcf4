#pragma once
/// Internal to the config module: the `policies:` section. The rule model
/// stays plain data here (kinds, functions, guardrail names are text); the
/// policy module validates those against the SQL vocabulary and compiles
/// them. The reference is docs/policy.md.

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgw::config::detail {

/// Reads `policies:` into `cfg.policies`. Must run after `connections:`:
/// policies name connections and their credentials. Throws `LoadError` like
/// every reader.
void readPolicies(const Context& ctx, const YAML::Node& node, Config& cfg);

}  // namespace pgw::config::detail
