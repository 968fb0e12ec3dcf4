#include "policy/kind_names.h"

#include <array>
#include <cctype>

namespace pgw::policy {
namespace {

using K = sql::StatementKind;

struct KindEntry {
  K kind;
  std::string_view name;
  std::string_view display;  ///< "" = the name upper-cased with spaces
};

/// One entry per enumerator, in enumerator order (checked by a unit test).
constexpr std::array<KindEntry, kStatementKindCount> kKinds = {{
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

constexpr bool tableInOrder() {
  for (std::size_t i = 0; i < kKinds.size(); ++i) {
    if (static_cast<std::size_t>(kKinds[i].kind) != i) return false;
  }
  return true;
}
static_assert(tableInOrder(), "kKinds must list every StatementKind in enumerator order");

std::string upperWords(std::string_view snake) {
  std::string out;
  out.reserve(snake.size());
  for (char c : snake) {
    out += c == '_' ? ' ' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

/// Kinds whose display takes the object type ("DROP" + "table" -> "DROP TABLE").
bool takesObjectType(K kind) {
  return kind == K::Create || kind == K::Alter || kind == K::Drop || kind == K::Comment;
}

}  // namespace

std::string_view kindName(sql::StatementKind kind) {
  const auto i = static_cast<std::size_t>(kind);
  return i < kKinds.size() ? kKinds[i].name : std::string_view("unknown");
}

std::optional<sql::StatementKind> kindFromName(std::string_view name) {
  for (const KindEntry& e : kKinds) {
    if (e.name == name) return e.kind;
  }
  return std::nullopt;
}

std::string kindDisplay(sql::StatementKind kind, std::string_view object_type) {
  const auto i = static_cast<std::size_t>(kind);
  if (i >= kKinds.size()) return "an unknown statement";
  const KindEntry& e = kKinds[i];
  std::string out = e.display.empty() ? upperWords(e.name) : std::string(e.display);
  if (takesObjectType(kind) && !object_type.empty()) {
    out += ' ';
    out += upperWords(object_type);
  }
  return out;
}

}  // namespace pgw::policy
