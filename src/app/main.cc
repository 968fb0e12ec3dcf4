/// pgwarden: the command-line entry point. Wiring only: parse the verb, load
/// the config, hand over to the proxy.

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "api/http_server.h"
#include "app/audit_cli.h"
#include "app/demo.h"
#include "app/gateway_control.h"
#include "app/policy_cli.h"
#include "app/review_cli.h"
#include "app/token_cli.h"
#include "audit/audit_log.h"
#include "common/log.h"
#include "config/config.h"
#include "proxy/gateway_state.h"
#include "proxy/server.h"
#include "review/service.h"
#include "review/webhook_notifier.h"
#include "sql/analyzer.h"

namespace {

constexpr const char* kVersion = "0.1.0";

/// The state store (reviews, grants, registered connections), its parent
/// folder created when missing.
pgw::Result<std::unique_ptr<pgw::review::ReviewService>> openStateStore(
    const pgw::config::Config& config) {
  std::error_code ec;
  const std::filesystem::path path(config.state.path);
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  auto reviews = pgw::review::ReviewService::open(
      config.state.path,
      std::chrono::duration_cast<std::chrono::microseconds>(config.state.retention).count());
  if (!reviews) {
    return pgw::fail("", "state.path: " + reviews.error().message);
  }
  return reviews;
}

/// Whether the configuration needs the HTTP port (not merely allows it).
bool needsHttp(const pgw::config::Config& config) {
  return config.identity.dev_issuer.has_value() || !config.api.admins.empty() ||
         !config.api.approvers.empty() || !config.api.auditors.empty();
}

/// Loads the config and serves until a signal. Exit codes: 0 clean stop,
/// 2 bad config, 3 cannot listen.
int serve(const std::string& config_path) {
  auto config = pgw::config::loadConfig(config_path);
  if (!config) {
    std::fprintf(stderr, "pgwarden: %s\n", config.error().message.c_str());
    return 2;
  }
  const pgw::config::Config& cfg = **config;
  pgw::log::init(pgw::log::parseLevel(cfg.log_level, pgw::log::Level::Info));
  auto state = pgw::proxy::buildGatewayState(*config);
  if (!state) {
    std::fprintf(stderr, "pgwarden: config: %s\n", state.error().message.c_str());
    return 2;
  }
  auto reviews = openStateStore(cfg);
  if (!reviews) {
    std::fprintf(stderr, "pgwarden: %s\n", reviews.error().message.c_str());
    return 2;
  }
  std::shared_ptr<pgw::review::WebhookNotifier> notifier;
  if (!cfg.webhooks.empty()) {
    notifier =
        std::make_shared<pgw::review::WebhookNotifier>(cfg.webhooks, pgw::config::apiBaseUrl(cfg));
    (*reviews)->setNotifier(notifier);
  }
  // The audit trail opens before the first session can start and closes
  // after the last one ended (the server is destroyed first).
  std::unique_ptr<pgw::audit::AuditLog> audit;
  if (cfg.audit.enabled) {
    auto opened = pgw::audit::AuditLog::open(cfg.audit);
    if (!opened) {
      std::fprintf(stderr, "pgwarden: audit: %s\n", opened.error().message.c_str());
      return 2;
    }
    audit = std::move(*opened);
  } else {
    pgw::log::warn("audit.enabled is false: statements are not recorded");
  }
  int rc = 0;
  {
    pgw::proxy::Server server(*state, config_path, audit.get(), reviews->get());
    pgw::app::GatewayControl control(server, audit.get(), **reviews, config_path);
    server.setStateBuilder([&control](std::shared_ptr<const pgw::config::Config> c) {
      return control.buildState(std::move(c));
    });
    if (auto st = control.start(); !st) {
      std::fprintf(stderr, "pgwarden: state: %s\n", st.error().message.c_str());
      return 2;
    }
    // The HTTP side is bound before the PostgreSQL listener, so a client that
    // sees the gateway listening finds the API (and the dev issuer the
    // gateway's own first key fetch asks) ready.
    pgw::api::HttpServer http(*config, &control, reviews->get());
    if (auto st = http.start(); !st) {
      if (needsHttp(cfg)) {
        std::fprintf(stderr, "pgwarden: %s\n", st.error().message.c_str());
        return 3;
      }
      pgw::log::warn("{}; the REST API is not served", st.error().message);
    }
    if (auto st = server.listen(); !st) {
      std::fprintf(stderr, "pgwarden: %s\n", st.error().message.c_str());
      http.stop();
      return 3;
    }
    rc = server.run();
    http.stop();
  }
  if (notifier) notifier->stop();
  if (audit) audit->flushFor(std::chrono::seconds(10));
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pgwarden: a PostgreSQL gateway with identity, policy, masking and audit"};
  app.require_subcommand(1);

  std::string config_path;
  auto* serve_cmd = app.add_subcommand("serve", "Run the gateway");
  serve_cmd->add_option("-c,--config", config_path, "Path to the YAML config")->required();

  pgw::app::DemoOptions demo_options;
  auto* demo_cmd = app.add_subcommand(
      "demo", "Start a throwaway PostgreSQL with sample data behind a gateway (quickstart)");
  demo_cmd->add_option("--port", demo_options.gateway_port, "Gateway port")->capture_default_str();
  demo_cmd->add_option("--dir", demo_options.work_dir,
                       "Keep the demo's files in this directory instead of a temporary one");

  auto* check_cmd = app.add_subcommand("check", "Validate a config file and exit");
  check_cmd->add_option("-c,--config", config_path, "Path to the YAML config")->required();

  app.add_subcommand("version", "Print the version");

  pgw::app::TokenCommandState token_state;
  pgw::app::addTokenCommands(app, token_state);
  pgw::app::PolicyCommandState policy_state;
  pgw::app::addPolicyCommands(app, policy_state);
  pgw::app::AuditCommandState audit_state;
  pgw::app::addAuditCommands(app, audit_state);
  pgw::app::ReviewCommandState review_state;
  pgw::app::addReviewCommands(app, review_state);

  CLI11_PARSE(app, argc, argv);

  if (serve_cmd->parsed()) return serve(config_path);
  if (demo_cmd->parsed()) return pgw::app::runDemo(demo_options, serve);
  if (token_state.token->parsed()) return pgw::app::runTokenCommand(token_state);
  if (policy_state.policy->parsed()) {
    return pgw::app::runPolicyCommand(policy_state,
                                      [](std::string_view sql) { return pgw::sql::analyze(sql); });
  }
  if (audit_state.audit->parsed()) return pgw::app::runAuditCommand(audit_state);
  if (pgw::app::reviewCommandParsed(review_state)) return pgw::app::runReviewCommand(review_state);
  if (check_cmd->parsed()) {
    auto config = pgw::config::loadConfig(config_path);
    if (!config) {
      std::fprintf(stderr, "pgwarden: %s\n", config.error().message.c_str());
      return 2;
    }
    auto state = pgw::proxy::buildGatewayState(*config);
    if (!state) {
      std::fprintf(stderr, "pgwarden: config: %s\n", state.error().message.c_str());
      return 2;
    }
    std::printf("%s: OK (%zu connections, %zu users)\n", config_path.c_str(),
                (*config)->connections.size(), (*config)->users.size());
    return 0;
  }
  std::printf("pgwarden %s\n", kVersion);
  return 0;
}
