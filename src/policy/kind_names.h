#pragma once
/// Names of sql::StatementKind values, as policies write them ("select",
/// "drop_database") and as messages show them ("DROP DATABASE").
///
/// Both come from the one table in sql/kind_table.h, which the analyzer's
/// `sql::toString(StatementKind)` reads too.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sql/kind_table.h"
#include "sql/statement_info.h"

namespace pgw::policy {

using sql::kinds::kStatementKindCount;

/// Stable lower-case snake_case name: the enumerator's name split at its
/// capitals ("select", "copy_to_program", "drop_database", "close_portal").
std::string_view kindName(sql::StatementKind kind);

/// The kind named `name` (exact, lower case); nullopt for an unknown name.
std::optional<sql::StatementKind> kindFromName(std::string_view name);

/// The SQL command a user recognizes, for messages: "DELETE",
/// "DROP DATABASE", "COPY ... TO PROGRAM"; CREATE/ALTER/DROP/... carry their
/// object type when the analyzer gives one ("DROP TABLE", "CREATE INDEX").
std::string kindDisplay(sql::StatementKind kind, std::string_view object_type = {});

}  // namespace pgw::policy
