#pragma once
/// How `pgwarden token mint --demo` finds the config of a running
/// `pgwarden demo`: while it runs, the demo keeps the absolute path of its
/// config in a per-user file,
///
///   /tmp/pgwarden-demo-<uid>/current-config
///
/// (directory 0700, file 0600, both owned by the user, never followed
/// through a symlink) and removes it when it stops. Only the same OS user
/// can find the demo this way, which matches who can read its key anyway.

#include <string>

#include "common/result.h"

namespace pgw::app::demo {

/// The pointer file's path for the current user.
std::string currentConfigPointerPath();

/// Records `config_path` (absolute) as the running demo's config, replacing
/// any earlier record. Errors say which file could not be written and why.
Status publishCurrentConfig(const std::string& config_path);

/// Removes the record if it still names `config_path` (a newer demo may have
/// replaced it). Never fails; problems are ignored.
void withdrawCurrentConfig(const std::string& config_path) noexcept;

/// The running demo's config path. Errors say that no demo runs (no record,
/// or its config is gone) and what to do instead.
Result<std::string> readCurrentConfig();

}  // namespace pgw::app::demo
