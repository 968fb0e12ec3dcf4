#pragma once
/// Built-in guardrails: dangerous statements and functions that every policy
/// denies, at every access level, unless the policy lifts that guardrail by
/// name in `allow:`. The table of names and what each covers is in
/// docs/policy.md ("Guardrails"); keep the two in step.
///
/// Also the knowledge about settings and functions that the access-level
/// check shares (which settings are security-relevant, which functions
/// write).

#include <bitset>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "sql/statement_info.h"

namespace pgw::policy {

enum class Guardrail {
  DropDatabase,
  AlterSystem,
  DeleteWithoutWhere,
  UpdateWithoutWhere,
  Truncate,
  CopyFile,
  CopyProgram,
  FileFunctions,
  Dblink,
  BackendSignals,
  AdminFunctions,
  QueryFunctions,
  SetRole,
  SecuritySettings,
  Load,
  CreateExtension,
  RoleManagement,
};
inline constexpr std::size_t kGuardrailCount =
    static_cast<std::size_t>(Guardrail::RoleManagement) + 1;

/// Guardrails lifted by a policy (bit i = Guardrail i).
using GuardrailSet = std::bitset<kGuardrailCount>;

/// The name used in `allow:` and in decisions ("guardrail:<name>").
std::string_view guardrailName(Guardrail g);
std::optional<Guardrail> guardrailFromName(std::string_view name);
/// Every name, comma-separated (for error messages).
std::string guardrailNames();
/// The lowest access level at which a statement this guardrail covers can
/// be allowed at all (lifting a guardrail below it has no effect).
config::AccessLevel guardrailMinAccess(Guardrail g);
/// One sentence on why the guardrail exists or what to do instead.
std::string_view guardrailAdvice(Guardrail g);

struct GuardrailHit {
  Guardrail guardrail;
  std::string what;  ///< what was caught: "DELETE without WHERE", "calling pg_read_file()"
};

/// The first guardrail that `stmt` itself (not its nested statements)
/// triggers and that `lifted` does not lift, in enumerator order; nullopt
/// when none.
std::optional<GuardrailHit> checkGuardrails(const sql::StatementInfo& stmt,
                                            const GuardrailSet& lifted);

/// True for statements whose `settings` assign values (SET, SET TRANSACTION,
/// BEGIN modes, set_config); false for SHOW and RESET, whose settings only
/// name parameters (RESET returns to the session's default).
bool assignsSettings(const sql::StatementInfo& stmt);

/// The statement writes pg_settings (UPDATE pg_settings calls set_config()).
bool writesPgSettings(const sql::StatementInfo& stmt);

/// `name` = `value` turns default_transaction_read_only or
/// transaction_read_only off. Anything but a clear "on" (on, true, yes, 1
/// and their prefixes) or DEFAULT counts as off: an unknown value fails
/// closed.
bool turnsReadOnlyOff(std::string_view name, std::string_view value);

/// `name` = `value` changes how the server reads SQL text
/// (standard_conforming_strings off, a client_encoding other than UTF-8),
/// so the server could read a statement differently from the analyzer,
/// which assumes both. Not a guardrail: no policy can allow it.
bool changesSqlReading(std::string_view name, std::string_view value);

/// The statement assigns a setting whose name is not known before it runs:
/// set_config() with a name that is not a constant (a setting named "" or
/// "*" by the analyzer, or a set_config() call with no analyzed setting).
bool setsUnknownSetting(const sql::StatementInfo& stmt);

/// A function that changes data when called, e.g. from a SELECT: nextval,
/// setval, the large-object writers, pg_notify. Name lower-case, any schema.
bool isWritingFunction(std::string_view name);

/// A setting value as PostgreSQL would read it: surrounding quotes removed,
/// lower-cased (for keywords such as NONE, DEFAULT, OFF).
std::string settingWord(std::string_view value);

}  // namespace pgw::policy
