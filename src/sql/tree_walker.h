#pragma once
/// Walks a parse (sub)tree and records what it touches into a StatementInfo:
/// relations read and written, columns, functions (and their side effects),
/// data-modifying statements (also inside CTEs), SELECT INTO, locking
/// clauses. Generic over every node type through protobuf-c's descriptors,
/// so a node kind nobody listed is still searched.

#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sql/analysis_context.h"

namespace pgw::sql::detail {

class TreeWalker {
 public:
  /// `ddl_targets`: relations named outside any query (CREATE INDEX ON t,
  /// ALTER TABLE t, GRANT ON t, VACUUM t) are relations the statement
  /// changes; otherwise every relation outside a DML target is read.
  TreeWalker(Context& ctx, StatementInfo& info, bool ddl_targets = false);

  void walk(const PgQuery__Node* node);
  void walk(std::span<PgQuery__Node* const> nodes);
  /// Dispatches on the message type: statement and expression handlers, or
  /// the generic walk over every message-typed field.
  void walkMessage(const ProtobufCMessage* msg);
  /// Walks the message-typed fields of `msg`, except those named in `skip`
  /// (protobuf field names: "relation", "with_clause").
  void walkFields(const ProtobufCMessage* msg, std::initializer_list<std::string_view> skip = {});

  /// Records a relation as read and/or written (CTE names are not relations).
  void relation(const PgQuery__RangeVar* rv, bool read, bool written);

 private:
  void selectStmt(const PgQuery__SelectStmt* s);
  void insertStmt(const PgQuery__InsertStmt* s);
  void updateStmt(const PgQuery__UpdateStmt* s);
  void deleteStmt(const PgQuery__DeleteStmt* s);
  void mergeStmt(const PgQuery__MergeStmt* s);
  /// Common part of the four DML statements.
  void dmlWrites();
  /// Brings the WITH list's names into scope and walks the CTE bodies; the
  /// caller restores the scope with `cte_names_.resize(mark)`.
  void withClause(const PgQuery__WithClause* with);
  void funcCall(const PgQuery__FuncCall* call);
  void indirection(const PgQuery__AIndirection* ind);
  /// Records a function the statement calls (and what calling it implies).
  void calls(FunctionRef ref);
  void columnRef(const PgQuery__ColumnRef* ref);
  /// The column names of INSERT (a, b) / UPDATE SET a = / ON CONFLICT /
  /// MERGE target lists.
  void assignmentTargets(std::span<PgQuery__Node* const> targets);
  bool isCteName(const PgQuery__RangeVar* rv) const;

  Context& ctx_;
  StatementInfo& info_;
  bool ddl_targets_;
  int query_depth_ = 0;                 ///< inside a SELECT / DML / subquery
  int cte_depth_ = 0;                   ///< inside a WITH list's body
  std::vector<std::string> cte_names_;  ///< CTE names in scope, innermost last
};

}  // namespace pgw::sql::detail
