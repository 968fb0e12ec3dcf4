#pragma once
/// `pgwarden token create|list|revoke`: manage the service tokens in the
/// store file named by `identity.tokens.store` (see auth/service_token.h).
///
///   pgwarden token create --config F --name ci-bot --groups ci,deploy [--expires 30d]
///   pgwarden token list   --config F
///   pgwarden token revoke --config F --name ci-bot
///
/// `create` prints the secret alone on stdout (so `$(pgwarden token create
/// ...)` captures it) and a note on stderr that it cannot be shown again.
/// `list` never prints hashes. A running gateway sees the change when it
/// next reloads the store. Exit codes: 0 done; 1 the operation failed (name
/// taken or unknown, store unreadable or unwritable); 2 the config cannot be
/// loaded, sets no `identity.tokens.store`, or an argument is invalid.

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

  std::string config_path;
  std::string name;
  std::vector<std::string> groups;
  std::string expires;  ///< a duration ("30d", "12h"); empty = never
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
