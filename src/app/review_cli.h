#pragma once
/// `pgwarden review …` and `pgwarden access …`: approvers and requesters
/// without a UI, as clients of a running gateway's REST API (docs/api.md).
///
///   pgwarden review list    [--state pending|approved|denied|…|all] [--subject ID]
///                           [--connection NAME] [--limit N] [--before ID] [--json]
///   pgwarden review show    ID [--json]
///   pgwarden review approve ID [--comment TEXT] [--json]
///   pgwarden review deny    ID [--comment TEXT] [--json]
///   pgwarden access request --connection prod --level write --for 1h --reason "…" [--json]
///   pgwarden access list    [--state pending|approved|…] [--subject ID]
///                           [--connection NAME] [--limit N] [--before ID] [--json]
///   pgwarden access approve|deny|revoke ID [--comment TEXT] [--json]
///
/// Every verb takes `--api URL` (default: $PGWARDEN_API, else
/// http://127.0.0.1:8080), `--ca FILE` (a PEM CA for an https API with a
/// private CA) and the caller's bearer token: `--token-file PATH`, `--token`
/// (visible to other local users in the process list; prefer the file or
/// the environment), else $PGWARDEN_TOKEN — an OIDC JWT or a pgw_ service
/// token, the same the data path takes. The token is never printed.
///
/// `review list` shows pending reviews unless `--state` says otherwise
/// (`all`: every state); `access list` shows every state unless filtered.
/// Lists are newest first, `--limit` (default 100) at a time; when there are
/// more, the last line says which `--before ID` shows the next page.
/// `--json` prints the API's answer as is (indented).
///
/// Exit codes: 0 done; 1 the API refused (its error is printed as
/// `pgwarden: <error> (HTTP <status>)`); 2 usage error, no token, or the API
/// cannot be reached.

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <map>
#include <string>

namespace pgw::app {

/// The parsed command line of `pgwarden review …` and `pgwarden access …`.
struct ReviewCommandState {
  CLI::App* review = nullptr;  ///< `review`
  CLI::App* list = nullptr;
  CLI::App* show = nullptr;
  CLI::App* approve = nullptr;
  CLI::App* deny = nullptr;

  CLI::App* access = nullptr;  ///< `access`
  CLI::App* access_request = nullptr;
  CLI::App* access_list = nullptr;
  CLI::App* access_approve = nullptr;
  CLI::App* access_deny = nullptr;
  CLI::App* access_revoke = nullptr;

  std::string api;  ///< empty: $PGWARDEN_API, else http://127.0.0.1:8080
  std::string token;
  std::string token_file;
  std::string ca_file;
  bool json = false;

  std::string id;
  std::string comment;
  std::string state;  ///< list filters
  std::string subject;
  std::string list_connection;
  int limit = 0;  ///< 0: the API's default
  std::string before;

  std::string connection;  ///< access request
  std::string level;       ///< write, ddl or admin
  std::string duration;    ///< "1h", "30m" (sent as is; the API parses it)
  std::string reason;
};

/// Adds the `review` and `access` subcommands and their verbs to `app`,
/// binding their options to `state` (which must outlive parsing).
void addReviewCommands(CLI::App& app, ReviewCommandState& state);

/// True when `review` or `access` was parsed.
bool reviewCommandParsed(const ReviewCommandState& state);

/// Runs the verb that was parsed; returns the process exit code.
int runReviewCommand(const ReviewCommandState& state);

/// The same, writing to `out` / `err`, with `env` in place of the process
/// environment (PGWARDEN_API, PGWARDEN_TOKEN) — for tests.
int runReviewCommand(const ReviewCommandState& state, std::ostream& out, std::ostream& err,
                     const std::map<std::string, std::string>& env);

}  // namespace pgw::app
