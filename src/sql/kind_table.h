#pragma once
/// The one table of sql::StatementKind names: the stable snake_case name
/// policies write and the analyzer reports ("select", "drop_database"), and
/// the SQL command a user recognizes in messages ("DROP DATABASE").
/// Header-only, so that policy shares it without linking the analyzer.

#include <array>
#include <cstddef>
#include <string_view>

#include "sql/statement_info.h"

namespace pgw::sql::kinds {

/// Number of StatementKind values; `Other` must stay the last enumerator.
inline constexpr std::size_t kStatementKindCount =
    static_cast<std::size_t>(StatementKind::Other) + 1;

using K = StatementKind;

struct KindEntry {
  K kind;
  std::string_view name;
  std::string_view display;  ///< "" = the name upper-cased with spaces
};

/// One entry per enumerator, in enumerator order (checked at compile time).
inline constexpr std::array<KindEntry, kStatementKindCount> kKinds = {{
    {K::Unparsed, "unparsed", "a statement that does not parse"},
    {K::Select, "select", ""},
    {K::Insert, "insert", ""},
    {K::Update, "update", ""},
    {K::Delete, "delete", ""},
    {K::Merge, "merge", ""},
    {K::Values, "values", ""},
    {K::CopyToStdout, "copy_to_stdout", "COPY ... TO STDOUT"},
    {K::CopyFromStdin, "copy_from_stdin", "COPY ... FROM STDIN"},
    {K::CopyToFile, "copy_to_file", "COPY ... TO a server file"},
    {K::CopyFromFile, "copy_from_file", "COPY ... FROM a server file"},
    {K::CopyToProgram, "copy_to_program", "COPY ... TO PROGRAM"},
    {K::CopyFromProgram, "copy_from_program", "COPY ... FROM PROGRAM"},
    {K::Begin, "begin", ""},
    {K::Commit, "commit", ""},
    {K::Rollback, "rollback", ""},
    {K::Savepoint, "savepoint", ""},
    {K::ReleaseSavepoint, "release_savepoint", ""},
    {K::RollbackToSavepoint, "rollback_to_savepoint", "ROLLBACK TO SAVEPOINT"},
    {K::PrepareTransaction, "prepare_transaction", ""},
    {K::CommitPrepared, "commit_prepared", ""},
    {K::RollbackPrepared, "rollback_prepared", ""},
    {K::SetTransaction, "set_transaction", ""},
    {K::Set, "set", ""},
    {K::Reset, "reset", ""},
    {K::Show, "show", ""},
    {K::Discard, "discard", ""},
    {K::Prepare, "prepare", ""},
    {K::Execute, "execute", ""},
    {K::Deallocate, "deallocate", ""},
    {K::DeclareCursor, "declare_cursor", "DECLARE CURSOR"},
    {K::Fetch, "fetch", ""},
    {K::Move, "move", ""},
    {K::ClosePortal, "close_portal", "CLOSE"},
    {K::Listen, "listen", ""},
    {K::Unlisten, "unlisten", ""},
    {K::Notify, "notify", ""},
    {K::Explain, "explain", ""},
    {K::Call, "call", ""},
    {K::Do, "do", ""},
    {K::Lock, "lock", ""},
    {K::Vacuum, "vacuum", ""},
    {K::Analyze, "analyze", ""},
    {K::Cluster, "cluster", ""},
    {K::Reindex, "reindex", ""},
    {K::Checkpoint, "checkpoint", ""},
    {K::Refresh, "refresh", "REFRESH MATERIALIZED VIEW"},
    {K::Load, "load", ""},
    {K::Create, "create", ""},
    {K::Alter, "alter", ""},
    {K::Drop, "drop", ""},
    {K::Rename, "rename", "ALTER ... RENAME"},
    {K::Comment, "comment", "COMMENT ON"},
    {K::SecurityLabel, "security_label", ""},
    {K::Truncate, "truncate", ""},
    {K::CreateTableAs, "create_table_as", "CREATE TABLE AS / SELECT INTO"},
    {K::Grant, "grant", ""},
    {K::Revoke, "revoke", ""},
    {K::CreateRole, "create_role", ""},
    {K::AlterRole, "alter_role", ""},
    {K::DropRole, "drop_role", ""},
    {K::GrantRole, "grant_role", "GRANT of a role"},
    {K::RevokeRole, "revoke_role", "REVOKE of a role"},
    {K::SetRole, "set_role", ""},
    {K::SetSessionAuthorization, "set_session_authorization", ""},
    {K::ReassignOwned, "reassign_owned", ""},
    {K::DropOwned, "drop_owned", ""},
    {K::CreateDatabase, "create_database", ""},
    {K::AlterDatabase, "alter_database", ""},
    {K::DropDatabase, "drop_database", ""},
    {K::AlterSystem, "alter_system", ""},
    {K::CreateExtension, "create_extension", ""},
    {K::AlterExtension, "alter_extension", ""},
    {K::DropExtension, "drop_extension", ""},
    {K::Other, "other", "a statement pgwarden does not classify"},
}};

inline constexpr bool tableInOrder() {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    if (static_cast<std::size_t>(kKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(tableInOrder(), "kKinds must list every StatementKind in enumerator order");

}  // namespace pgw::sql::kinds
