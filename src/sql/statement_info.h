#pragma once
/// What the gateway knows about one SQL statement: the analyzer's output, the
/// policy engine's input. Plain data, no libpg_query types: only src/sql sees
/// the parser (DuckDB's transformer idea — one door to the parser).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgw::sql {

/// Statement kinds. Coarse enough for policy rules, fine enough that no two
/// different risks share a kind. `Unparsed` is SQL the PostgreSQL parser
/// rejects: never guessed at, always its own kind.
// clang-format off
enum class StatementKind {
  Unparsed,
  // DML and queries
  Select, Insert, Update, Delete, Merge, Values,
  CopyToStdout, CopyFromStdin, CopyToFile, CopyFromFile, CopyToProgram, CopyFromProgram,
  // session / transaction
  Begin, Commit, Rollback, Savepoint, ReleaseSavepoint, RollbackToSavepoint,
  PrepareTransaction, CommitPrepared, RollbackPrepared, SetTransaction,
  Set, Reset, Show, Discard,
  Prepare, Execute, Deallocate,
  DeclareCursor, Fetch, Move, ClosePortal,
  Listen, Unlisten, Notify,
  Explain,  ///< `nested[0]` is the explained statement; `explain_analyze` says whether it runs
  Call, Do,
  Lock,
  // maintenance
  Vacuum, Analyze, Cluster, Reindex, Checkpoint, Refresh,  ///< REFRESH MATERIALIZED VIEW
  Load,
  // DDL (object type in `object_type`)
  Create, Alter, Drop, Rename, Comment, SecurityLabel, Truncate,
  CreateTableAs,  ///< also SELECT ... INTO
  Grant, Revoke,
  CreateRole, AlterRole, DropRole, GrantRole, RevokeRole, SetRole, SetSessionAuthorization,
  ReassignOwned, DropOwned,
  CreateDatabase, AlterDatabase, DropDatabase,
  AlterSystem,
  CreateExtension, AlterExtension, DropExtension,
  Other,  ///< a statement the analyzer recognizes as valid but does not classify further
};
// clang-format on

/// Stable lower-case name used in config and messages ("select", "drop_database", ...).
const char* toString(StatementKind kind);

/// A table, view or sequence named by a statement (as written; schema empty
/// when unqualified — the analyzer does not resolve search_path).
struct RelationRef {
  std::string schema;
  std::string name;
  bool operator==(const RelationRef&) const = default;
};

/// A function called anywhere in the statement, lower-case, schema as written
/// (empty when unqualified): `pg_read_file`, `dblink_exec`, `set_config`...
struct FunctionRef {
  std::string schema;
  std::string name;
  bool operator==(const FunctionRef&) const = default;
};

struct StatementInfo {
  StatementKind kind = StatementKind::Unparsed;
  /// For Create/Alter/Drop/Rename/Comment: "table", "index", "function",
  /// "schema", "view", "materialized_view", "sequence", "type", "trigger",
  /// "policy", "publication", "subscription", "server", "foreign_table", ...
  std::string object_type;

  /// Reads or returns stored data: every query kind (SELECT, VALUES, COPY TO,
  /// FETCH, EXECUTE, EXPLAIN) and any statement with relations_read.
  bool reads = false;
  bool writes = false;  ///< changes data or schema, or has side effects outside the session
  /// Relations read: FROM / JOIN / subqueries / CTEs / USING, LOCK targets,
  /// COPY TO sources, and UPDATE / DELETE / MERGE targets (they read the rows
  /// they change; so does INSERT ... ON CONFLICT DO UPDATE). CTE names are
  /// not relations and are left out (within their scope only).
  std::vector<RelationRef> relations_read;
  /// Relations changed: INSERT / UPDATE / DELETE / MERGE / COPY FROM /
  /// TRUNCATE targets (also inside CTEs), SELECT INTO / CREATE TABLE AS
  /// targets, and relations a DDL, maintenance (VACUUM, CLUSTER, ...) or
  /// GRANT statement changes.
  std::vector<RelationRef> relations_written;
  std::vector<std::string> columns;  ///< column references as written ("email", "c.email")
  /// Functions called (or, for CREATE FUNCTION/PROCEDURE, called by the new
  /// body). Names are ASCII lower-cased even when quoted ("PG_READ_FILE" ->
  /// "pg_read_file"): a deny rule written in lower case also catches the
  /// quoted spelling (fail closed).
  std::vector<FunctionRef> functions;
  /// Non-relation objects a DDL / role / database / extension statement
  /// creates, alters or drops, dotted as written ("audit", "public.f",
  /// "dblink"); COPY's server file or program and LOAD's library too.
  /// Relations it changes are in `relations_written`.
  std::vector<std::string> objects;
  /// PREPARE / EXECUTE / DEALLOCATE: the prepared statement's name ("" for
  /// DEALLOCATE ALL), so a gateway can re-judge what EXECUTE runs.
  std::string prepared_name;

  /// An UPDATE or DELETE (also inside a CTE) without a WHERE clause;
  /// WHERE CURRENT OF counts as a WHERE.
  bool missing_where = false;
  bool data_modifying_cte = false;  ///< WITH x AS (INSERT/UPDATE/DELETE ...)
  bool select_into = false;
  bool locking_clause = false;  ///< FOR UPDATE / FOR SHARE / ...
  bool explain_analyze = false;
  /// SQL whose text cannot be checked before it runs: EXECUTE in a DO block
  /// or function body (even of a constant string, whose statements are then
  /// also in `nested`), a DO body that does not parse or is in another
  /// language, functions that run SQL given as text (query_to_xml, dblink...).
  bool dynamic_sql = false;

  /// SET / RESET / SHOW / set_config targets: the parameter name (lower-case)
  /// and, for SET, the value as written; SET TRANSACTION / BEGIN modes too
  /// ("transaction_read_only" = "off" for BEGIN READ WRITE). RESET x and
  /// SET x TO DEFAULT give "DEFAULT"; RESET ALL and DISCARD ALL give
  /// ("all", "DEFAULT"); SHOW gives an empty value; set_config() with a
  /// non-constant name gives ("*", ""), with a non-constant value "".
  std::vector<std::pair<std::string, std::string>> settings;

  /// Statements inside this one that also run: EXPLAIN's target, PREPARE's
  /// body, CREATE TABLE AS's query, DECLARE CURSOR's query, the statements of
  /// a DO block whose SQL is static, a CTE's data-modifying statement is
  /// already folded into this one. What a nested statement reads, writes and
  /// calls is also folded into this one (flags, relations, functions,
  /// settings), except that EXPLAIN without ANALYZE folds only what it reads
  /// and calls: a PREPARE is judged by the statement it will run.
  std::vector<StatementInfo> nested;

  std::string fingerprint;  ///< libpg_query fingerprint (hex), "" when unparsed
  std::string normalized;   ///< text with literals replaced by $n
  /// This statement's own text (one statement of a multi-statement query).
  /// Nested statements taken from the parent's parse tree (EXPLAIN, PREPARE,
  /// DECLARE, CREATE TABLE AS) have no text, fingerprint or normalized form.
  std::string text;
  /// Unparsed: why (the parser's message, or the bound that was hit).
  /// Otherwise notes on parts that could not be analyzed (a DO body that
  /// does not compile), each of which also set `dynamic_sql`.
  std::string error;
};

/// The analysis of one query string, which may hold several statements.
struct Analysis {
  std::vector<StatementInfo> statements;  ///< empty string -> empty list
  bool parsed = true;  ///< false: statements holds one Unparsed entry with the error
};

}  // namespace pgw::sql
