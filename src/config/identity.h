#pragma once
/// Internal to the config module: the `identity:` section (local users, OIDC
/// issuers, service tokens, client certificates and the session rules that
/// go with them). Lives apart from config.cc because it is the largest
/// section; the reference is docs/config.md, "identity".

#include <yaml-cpp/yaml.h>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgw::config::detail {

/// Reads `identity:` into `cfg.identity` and `cfg.users`. Must run after the
/// `tls:` section: `identity.client_certificates` needs `tls.client_ca`.
/// Throws `LoadError` like every reader.
void readIdentity(const Context& ctx, const YAML::Node& node, Config& cfg);

}  // namespace pgw::config::detail
