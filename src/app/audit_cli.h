#pragma once
/// `pgwarden audit verify|tail|export|replay`: read the audit trail a
/// gateway wrote (docs/audit.md). The trail is named by `--db` (a SQLite
/// sink), `--file` (a JSON Lines sink and its rotated files) or `--config`
/// (the config's first SQLite sink, else its first JSON Lines sink).
///
///   pgwarden audit verify --config F [--public-key audit-signing.pub] [--gateway ID]
///   pgwarden audit tail   --db data/audit.db [-n 20] [--follow] [--subject alice]
///                         [--decision denied|allowed|review]
///   pgwarden audit export --file logs/audit.jsonl --since 24h [--until 2026-11-25T00:00:00Z]
///                         --format jsonl|csv
///   pgwarden audit replay --db data/audit.db --session 42 [--gateway ID]
///
/// `verify` prints one line per gateway: OK with the range of records and
/// checkpoints, or BROKEN with the first broken record and why. `export
/// --format jsonl` writes lines in the JSON Lines sink's format (verifiable
/// with `verify --file` when the range is contiguous). Nothing printed holds
/// a secret: records never do, and a PostgreSQL DSN is never shown.
///
/// Exit codes: 0 done (verify: every chain intact); 1 verify found a broken
/// chain; 2 usage error, or the trail cannot be read.

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>

namespace pgw::app {

/// The parsed command line of `pgwarden audit ...`, filled by CLI11.
struct AuditCommandState {
  CLI::App* audit = nullptr;  ///< `audit`
  CLI::App* verify = nullptr;
  CLI::App* tail = nullptr;
  CLI::App* export_ = nullptr;
  CLI::App* replay = nullptr;

  std::string config_path;
  std::string db_path;
  std::string file_path;
  std::string gateway;

  std::string public_key;  ///< verify

  int lines = 20;  ///< tail -n
  bool follow = false;
  std::string subject;
  std::string decision;  ///< denied|allowed|review (deny|allow also accepted)

  std::string since;  ///< export: RFC 3339 or a duration back from now ("24h")
  std::string until;
  std::string format = "jsonl";

  uint64_t session = 0;  ///< replay
};

/// Adds the `audit` subcommand and its verbs to `app`, binding their
/// options to `state` (which must outlive parsing).
void addAuditCommands(CLI::App& app, AuditCommandState& state);

/// Runs the verb that was parsed; returns the process exit code. Call when
/// `state.audit->parsed()`.
int runAuditCommand(const AuditCommandState& state);

/// The same, writing to `out` / `err` (for tests).
int runAuditCommand(const AuditCommandState& state, std::ostream& out, std::ostream& err);

}  // namespace pgw::app
