#pragma once
/// `pgwarden token create|list|revoke`: manage the service tokens in the
/// store file named by `identity.tokens.store` (see auth/service_token.h);
/// `pgwarden token mint`: sign a short-lived OIDC JWT with the development
/// issuer (`identity.dev_issuer`, see auth/jwt_sign.h).
///
///   pgwarden token create --config F --name ci-bot --groups ci,deploy [--expires 30d]
///   pgwarden token list   --config F
///   pgwarden token revoke --config F --name ci-bot
///   pgwarden token mint   --config F --sub alice --groups ai-agents [--ttl 15m] [--name Alice]
///   pgwarden token mint   --demo --sub alice --groups ai-agents
///
/// `create` prints the secret alone on stdout (so `$(pgwarden token create
/// ...)` captures it) and a note on stderr that it cannot be shown again.
/// `list` never prints hashes. A running gateway sees the change when it
/// next reloads the store. `mint` prints the JWT alone on stdout and a note
/// on stderr (subject, groups, expiry; a warning when `identity.oidc` does
/// not list the dev issuer, as the gateway would then refuse the token);
/// `--demo` takes the config of the `pgwarden demo` running as this user
/// (app/demo_pointer.h). Exit codes: 0 done; 1 the operation failed (name
/// taken or unknown, store or key unreadable or unwritable); 2 the config
/// cannot be loaded, lacks the section the verb needs
/// (`identity.tokens.store`, `identity.dev_issuer`), no demo runs, or an
/// argument is invalid.

#include <CLI/CLI.hpp>
#include <chrono>
#include <iosfwd>
#include <string>
#include <vector>

namespace pgw::app {

/// The parsed command line of `pgwarden token ...`, filled by CLI11.
struct TokenCommandState {
  CLI::App* token = nullptr;  ///< `token`; further verbs may be added to it
  CLI::App* create = nullptr;
  CLI::App* list = nullptr;
  CLI::App* revoke = nullptr;
  CLI::App* mint = nullptr;

  std::string config_path;
  std::string name;
  std::vector<std::string> groups;
  std::string expires;  ///< a duration ("30d", "12h"); empty = never

  bool demo = false;         ///< mint: the running demo's config instead of --config
  std::string subject;       ///< mint: `sub`
  std::string display_name;  ///< mint: `preferred_username`; empty = the subject
  std::string ttl;           ///< mint: a duration; empty = identity.dev_issuer.token_lifetime
};

/// Adds the `token` subcommand and its verbs to `app`, binding their options
/// to `state` (which must outlive parsing).
void addTokenCommands(CLI::App& app, TokenCommandState& state);

/// Runs the verb that was parsed; returns the process exit code. Call when
/// `state.token->parsed()`.
int runTokenCommand(const TokenCommandState& state);

/// The same, writing to `out` / `err` and taking `now` (for tests).
int runTokenCommand(const TokenCommandState& state, std::ostream& out, std::ostream& err,
                    std::chrono::system_clock::time_point now);

}  // namespace pgw::app
