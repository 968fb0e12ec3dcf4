#pragma once
/// Settings of SET-like statements, recorded into StatementInfo::settings.

#include <span>
#include <string_view>

#include "sql/analysis_context.h"

namespace pgw::sql::detail {

/// What a VariableSetStmt is, for its statement kind.
enum class SetForm {
  Set,                   ///< SET x / SET SESSION CHARACTERISTICS
  Reset,                 ///< RESET x / RESET ALL
  Transaction,           ///< SET TRANSACTION ...
  Role,                  ///< SET ROLE / RESET ROLE
  SessionAuthorization,  ///< SET / RESET SESSION AUTHORIZATION
};

/// Records the settings of a SET / RESET (also inside ALTER SYSTEM, ALTER
/// ROLE ... SET, ALTER DATABASE ... SET) and says which form it is.
SetForm addVariableSet(const PgQuery__VariableSetStmt* s, StatementInfo& info);

/// Records BEGIN / START TRANSACTION / SET TRANSACTION modes as settings
/// ("transaction_read_only" = "off", "transaction_isolation" = "serializable"),
/// with `prefix` ("default_") for SET SESSION CHARACTERISTICS.
void addTransactionModes(std::span<PgQuery__Node* const> options, std::string_view prefix,
                         StatementInfo& info);

}  // namespace pgw::sql::detail
