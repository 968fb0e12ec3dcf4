#pragma once
/// Logging facade. Everything logs through these helpers so the sink and the
/// format are chosen in one place (app/). Never pass a secret: log the
/// connection name, the user name, the SQLSTATE — not the password or token.

#include <spdlog/spdlog.h>

#include <string_view>

namespace pgw::log {

enum class Level { Debug, Info, Warn, Error };

/// Configures the process-wide logger (stderr, with thread and time). Safe
/// to call again (a config reload): only the level changes then.
void init(Level level);
void setLevel(Level level);
Level parseLevel(std::string_view name, Level fallback);

using spdlog::debug;
using spdlog::error;
using spdlog::info;
using spdlog::warn;

}  // namespace pgw::log
