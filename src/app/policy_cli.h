#pragma once
/// `pgwarden policy check|test`: validate a config's policies, and see what
/// they decide for a subject, a connection and a statement.
///
///   pgwarden policy check --config F
///   pgwarden policy test  --config F --subject group:ai-agents [--subject id:alice]
///                         --connection prod "DELETE FROM t"
///   pgwarden policy test  [--config F] --cases FILE
///
/// `check` loads the whole config (every section is validated) and compiles
/// the policies; errors and warnings are printed as "F:LINE: problem" (the
/// line of the key the problem is about, when it can be found). `test`
/// prints the decision first, alone on its line (`allow`, `deny` or
/// `review`; a session no policy matches prints `deny` with rule
/// `no_policy`), then `rule:`, `policy:`, `message:`, `detail:`, `hint:` and,
/// when allowed, `credential:` lines. `--cases` runs a case file
/// (policy/case_file.h) against the config named by `--config` or by the
/// file's `@config`, printing each failing case and a summary.
///
/// Exit codes: check: 0 valid, 2 invalid. test: 0 allow, 1 deny, 3 review;
/// cases: 0 all passed, 1 some failed; 2 for a config or argument error, or
/// when the build has no SQL analyzer.

#include <CLI/CLI.hpp>
#include <iosfwd>
#include <string>
#include <vector>

#include "policy/case_file.h"

namespace pgw::app {

/// The parsed command line of `pgwarden policy ...`, filled by CLI11.
struct PolicyCommandState {
  CLI::App* policy = nullptr;  ///< `policy`
  CLI::App* check = nullptr;
  CLI::App* test = nullptr;

  std::string config_path;
  std::vector<std::string> subjects;  ///< `id:<id>` / `group:<g>`, each may hold several
  std::string connection;
  std::string sql;
  std::string cases_path;
};

/// Adds the `policy` subcommand and its verbs to `app`, binding their
/// options to `state` (which must outlive parsing).
void addPolicyCommands(CLI::App& app, PolicyCommandState& state);

/// Runs the verb that was parsed; returns the process exit code. Call when
/// `state.policy->parsed()`. `analyze` is the SQL analyzer (`test` needs
/// it; pass an empty function when the build has none).
int runPolicyCommand(const PolicyCommandState& state, const policy::AnalyzeFn& analyze);

/// The same, writing to `out` / `err` (for tests).
int runPolicyCommand(const PolicyCommandState& state, const policy::AnalyzeFn& analyze,
                     std::ostream& out, std::ostream& err);

}  // namespace pgw::app
