#pragma once
/// Column lineage: for each column a statement returns, the stored columns
/// its value is computed from. Result masking reads it to decide which
/// output columns carry masked data. Pure: query text and a catalog view
/// (RelationResolver) in, plain data out; only src/sql sees the parser.
///
/// Fail closed: when the lineage cannot be followed the column is marked
/// `untraceable` (or `columns_complete` is false), never left without the
/// sources it may have. What is not detected here, by design:
/// - User-defined functions called without a schema (`mask_off(email)`) look
///   like built-ins: the value is traced through their arguments only, and
///   the function is listed in ColumnLineage::functions. The gateway checks
///   those names against the catalog (a function that is not a trusted
///   built-in may read any data) — lineage cannot tell from the name.
/// - Triggers and column defaults of a DML target: RETURNING traces to the
///   target's columns and the values assigned to them, not to what a trigger
///   may put there.

#include <string>
#include <string_view>
#include <vector>

#include "sql/statement_info.h"

namespace pgw::sql {

/// A stored column, named as the resolver resolved its relation.
struct SourceColumn {
  std::string schema;
  std::string relation;
  std::string column;
  bool operator==(const SourceColumn&) const = default;
};

/// What one output column of a statement's result is computed from.
struct ColumnLineage {
  /// The output name as PostgreSQL names it (best effort): the alias, a
  /// column reference's column, a function's name, "case", "?column?".
  std::string name;
  /// A bare column reference of a stored relation (possibly through
  /// subqueries, CTEs, views, UNION arms all of which are bare references):
  /// the value is a stored value as is, so a column mask applies to it.
  bool plain = false;
  /// Every stored column whose value flows into this output (deduplicated).
  std::vector<SourceColumn> sources;
  /// Relations whose whole row flows in: `u`, `u.*` or row_to_json(u) used
  /// as a value. A relation the resolver did not know appears as written.
  std::vector<RelationRef> whole_rows;
  /// Every function called in the expression (and in the subqueries, views
  /// and set-returning functions it reads from), lower-cased, schema as
  /// written: the caller checks them against the catalog (see above).
  std::vector<FunctionRef> functions;
  /// Part of the value comes from something not followed: a relation the
  /// resolver does not know, a column name that resolves to nothing, a call
  /// qualified with a schema other than pg_catalog, a function that runs SQL
  /// given as text (isDynamicSqlFunction), a recursive CTE that did not
  /// settle, a parse tree nested past the bound.
  bool untraceable = false;
};

/// A value a statement stores: INSERT's columns, UPDATE's SET, ON CONFLICT
/// DO UPDATE, CREATE TABLE AS / SELECT INTO (the new table's columns), and
/// MERGE (whose assignments are not followed: `column` "*" with everything
/// its source reads).
struct ColumnWrite {
  RelationRef table;  ///< resolved, or as written when the resolver did not know it
  std::string column;
  ColumnLineage value;
};

/// The lineage of one statement's result.
struct QueryLineage {
  /// The statement returns rows: SELECT / VALUES / TABLE; INSERT, UPDATE,
  /// DELETE with RETURNING; COPY (query) / COPY t TO STDOUT; DECLARE (the
  /// cursor's query); PREPARE whose body returns rows; FETCH (not MOVE);
  /// EXECUTE; EXPLAIN; SHOW; CALL (a procedure's OUT arguments).
  bool has_result = false;
  /// EXPLAIN: the result is plan text, which carries no stored data, so
  /// `columns` is empty. With ANALYZE the statement also runs: `relations`
  /// and `untraceable_any` then describe it.
  bool explain = false;
  /// Output columns in order, `*` expanded with the resolver's column lists.
  std::vector<ColumnLineage> columns;
  /// False when the output columns are not all known (a `*` over a relation
  /// the resolver does not know, a function in FROM whose columns are not
  /// known, CALL, a tree nested past the bound): `columns` then does not
  /// line up with the result and the caller must treat every column as
  /// untraceable.
  bool columns_complete = true;
  /// Every stored relation the statement reads anywhere, resolved (a view
  /// and the relations its definition reads; an unknown one as written).
  std::vector<RelationRef> relations;
  /// Anything untraceable anywhere in the statement, also outside the
  /// output columns (a WHERE clause, a CTE, an unknown relation).
  bool untraceable_any = false;
  /// DECLARE / FETCH / MOVE / CLOSE: the cursor name ("" for CLOSE ALL).
  std::string cursor;
  /// PREPARE / EXECUTE: the prepared statement's name.
  std::string prepared;
  /// FETCH or MOVE of `cursor`: the lineage is that of its DECLARE.
  bool fetch = false;
  /// EXECUTE of `prepared`: the lineage is that of its PREPARE.
  bool execute = false;
  /// COPY t (a, b) TO ...: the column list as written (empty: all columns).
  std::vector<std::string> copy_columns;
  /// Stored values computed from other columns, in data-modifying CTEs
  /// too; values that read no column (constants, parameters) are left out.
  std::vector<ColumnWrite> writes;
};

/// The catalog as lineage needs it. Implementations answer from a snapshot
/// of pg_class / pg_attribute (and, for views, the lineage of their
/// definitions, computed with lineage() beforehand).
class RelationResolver {
 public:
  struct Relation {
    std::string schema;                ///< resolved
    std::string name;                  ///< resolved
    std::vector<std::string> columns;  ///< attnum order, dropped columns excluded
    /// A view or materialized view: the lineage of its definition
    /// (columns[i] is the view's column i). Null for tables.
    const QueryLineage* view = nullptr;
  };
  virtual ~RelationResolver() = default;
  /// `ref.schema` empty: unqualified (the resolver applies search_path).
  /// nullptr: unknown relation.
  virtual const Relation* find(const RelationRef& ref) const = 0;
};

/// The relations named in `sql` (all statements) that lineage() asks the
/// resolver about, as written, deduplicated: CTE names within their scope
/// are left out. Empty when the text does not parse.
std::vector<RelationRef> lineageRelations(std::string_view sql);

/// One QueryLineage per statement of `sql`, in the order of analyze()'s
/// statements. A text that does not parse (or that analyze() would refuse
/// before parsing: too long, a zero byte, invalid UTF-8, nested too deep)
/// gives an empty vector. Never throws; the work is bounded (parse-tree
/// depth 200, a step budget), past which the statement's columns are
/// untraceable and incomplete.
std::vector<QueryLineage> lineage(std::string_view sql, const RelationResolver& resolver);

}  // namespace pgw::sql
