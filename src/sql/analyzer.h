#pragma once
/// The SQL analyzer: query text in, StatementInfo per statement out, using
/// PostgreSQL's own parser (libpg_query, PostgreSQL 15 grammar). The only
/// door to the parser: nothing outside src/sql sees libpg_query.
///
/// Text is lexed as PostgreSQL does with UTF-8 and
/// standard_conforming_strings = on. A session that changes either
/// (client_encoding, standard_conforming_strings, which show up in
/// `settings`) would make the server read the text differently: the gateway
/// must keep them fixed.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "sql/statement_info.h"

namespace pgw::sql {

/// Bounds on the work one analysis may do. Inputs past a bound are
/// `Unparsed` with an error saying which bound, never guessed at.
struct AnalyzerOptions {
  /// Longest query text analyzed, in bytes.
  std::size_t max_query_bytes = 1024 * 1024;
  /// Deepest parse-tree nesting followed (expressions inside expressions,
  /// subqueries inside subqueries). Counted in parse-tree nodes.
  int max_depth = 200;
  /// How many DO blocks / EXECUTE strings may sit inside each other.
  int max_code_nesting = 8;
  /// Refuse text that is not valid UTF-8 (the server would read it in another
  /// encoding, and the analysis could differ from what runs).
  bool require_utf8 = true;
};

/// Analyzes `sql`, which may hold several statements (a simple Query
/// message). Never throws and never crashes, whatever the input; the work
/// done is bounded by `options`. An empty or comment-only text gives no
/// statements. When any statement cannot be analyzed, the result has
/// `parsed = false` and one Unparsed entry carrying the reason.
Analysis analyze(std::string_view sql, const AnalyzerOptions& options);
Analysis analyze(std::string_view sql);

/// The literal-free shape of a query text: the text with every constant
/// (string, number, bit string) cut out, as PostgreSQL's scanner delimits
/// them, and the places they were cut. Two texts of the same shape differ
/// only in constant values, so they parse to the same tree but for those
/// values: an analysis that does not depend on a constant's value holds for
/// every text of its shape. This is the cache key that lets a statement run
/// with ever-changing literals (`WHERE id = 42`) be parsed once.
struct QueryShape {
  std::string key;
  /// The statement's own text, as analyze() reports it in
  /// StatementInfo::text when the query holds one statement.
  std::string statement_text;
};

/// The shape of `sql`, or nullopt when the text is outside what the analyzer
/// accepts (too long, a zero byte, not UTF-8, not scannable) — such text is
/// always analyzed in full.
std::optional<QueryShape> shapeOf(std::string_view sql, const AnalyzerOptions& options = {});

/// True when `analysis` (of a text of shape `shape`) holds for every text of
/// that shape: one parsed DML statement (SELECT, INSERT, UPDATE, DELETE,
/// MERGE, VALUES) whose findings come from no constant's value — no
/// settings (set_config's arguments are constants), no objects (file
/// names), no nested or dynamic SQL (a DO body is a constant).
bool shapeDetermines(const Analysis& analysis, const QueryShape& shape);

/// The analysis of another text of the same shape: `analysis` with the
/// statement's own text replaced.
Analysis forShape(const Analysis& analysis, const QueryShape& shape);

/// Functions whose call changes data or state outside the session, making a
/// SELECT a write (`writes = true`): nextval, setval, lo_* large-object
/// functions, advisory locks, backend signals, configuration reload, ... .
/// `name` is lower-case and unqualified; the schema is ignored on purpose (a
/// function with the same name elsewhere is treated the same, fail closed).
bool isSideEffectFunction(std::string_view name);

/// Functions that run SQL (or read relations) named in a text argument, so
/// the analysis cannot see what they do: query_to_xml, dblink, ts_stat, ...
/// Calling one sets `dynamic_sql`.
bool isDynamicSqlFunction(std::string_view name);

}  // namespace pgw::sql
