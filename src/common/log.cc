#include "common/log.h"

#include <spdlog/sinks/stdout_color_sinks.h>

namespace pgw::log {

void init(Level level) {
  auto logger = spdlog::get("pgwarden");
  if (!logger) {
    logger = spdlog::stderr_color_mt("pgwarden");
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%t] %v");
    spdlog::set_default_logger(logger);
  }
  setLevel(level);
}

void setLevel(Level level) {
  auto logger = spdlog::default_logger();
  switch (level) {
    case Level::Debug:
      logger->set_level(spdlog::level::debug);
      break;
    case Level::Info:
      logger->set_level(spdlog::level::info);
      break;
    case Level::Warn:
      logger->set_level(spdlog::level::warn);
      break;
    case Level::Error:
      logger->set_level(spdlog::level::err);
      break;
  }
}

Level parseLevel(std::string_view name, Level fallback) {
  if (name == "debug") return Level::Debug;
  if (name == "info") return Level::Info;
  if (name == "warn" || name == "warning") return Level::Warn;
  if (name == "error") return Level::Error;
  return fallback;
}

}  // namespace pgw::log
