#pragma once
/// Internal to src/sql/lineage*.cc: the types, helpers and Tracer the parts of
/// column lineage share (lineage.cc: entry points and statements,
/// lineage_expr.cc: FROM items and expressions, lineage_scope.cc: the helpers
/// below). Scopes follow PostgreSQL's parse analysis (parse_relation.c): a
/// query level's FROM items, the levels around it for correlated references,
/// CTEs by name; output names follow FigureColname (parse_target.c). Where
/// PostgreSQL would raise an error (an ambiguous name) the union of the
/// candidates is taken: the statement fails there, and a union never
/// under-reports.

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sql/analysis_context.h"
#include "sql/lineage.h"

namespace pgw::sql::lineage_detail {

using detail::asciiLower;
using detail::items;
using detail::stringValue;
using detail::unwrap;
using detail::view;
using Node = PgQuery__Node;
using Nodes = std::span<PgQuery__Node* const>;

inline constexpr int kMaxDepth = 200;  // as AnalyzerOptions::max_depth
// Nodes visited per statement (recursive CTEs revisit).
inline constexpr long kMaxSteps = 1'000'000;

template <class T>
void addUnique(std::vector<T>& list, const T& value) {
  if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
}

/// Adds what `from` reads to `into` (not its name or plainness).
void merge(ColumnLineage& into, const ColumnLineage& from);

inline bool is(const Node* n, PgQuery__Node__NodeCase type) {
  return n != nullptr && n->node_case == type;
}

/// The items of a List node; empty for anything else.
Nodes listItems(const Node* n);

/// The function a call names, lower-cased.
FunctionRef functionRef(const PgQuery__FuncCall* call);

/// A query's result.
struct Output {
  std::vector<ColumnLineage> columns;
  bool complete = true;
  ColumnLineage rest;  ///< what a column missing from `columns` traces to (when !complete)
};

/// Adds everything `o` reads (every column, and the rest) to `into`.
void mergeAll(ColumnLineage& into, const Output& o);

/// `WITH c(a, b)`: the CTE's columns renamed.
void renameColumns(Output& o, Nodes names);

/// Output columns of a set operation: `l`'s names, both arms' lineage.
Output unite(Output l, const Output& r);

/// Whether a round of a recursive CTE added nothing to `a`'s lineage.
bool sameLineage(const Output& a, const Output& b);

/// A FROM item as column references see it.
struct Item {
  std::string name;    ///< alias, relation or CTE name; "" when not referable by name
  std::string schema;  ///< schema of a relation without alias (for `s.t.c`)
  std::vector<ColumnLineage> columns;
  bool complete = true;
  ColumnLineage rest;                ///< what a column missing from `columns` traces to
  std::optional<RelationRef> table;  ///< a stored table: its whole row is this relation
};
using ItemPtr = std::shared_ptr<const Item>;

/// A subquery's or CTE's output as a FROM item (not yet named).
Item itemOf(const Output& o);

/// Renames `it` (and its columns) after `AS alias (a, b)`.
void applyAlias(Item& it, const PgQuery__Alias* alias);

/// Merges `it`'s columns named `name` into `out`; false when it has none.
bool knownColumn(const Item& it, std::string_view name, ColumnLineage& out, bool& plain);

/// A known column, or the rest of an incomplete item; false when `it` is
/// known not to have the column.
bool columnOf(const Item& it, std::string_view name, ColumnLineage& out, bool& plain);

/// `it` used as a value: its whole row.
ColumnLineage wholeRow(const Item& it);

/// `out` with the assignment `name = value` (INSERT / UPDATE / ON CONFLICT)
/// folded in: RETURNING gives the new value.
void assign(Item& it, std::string_view name, const ColumnLineage& value);

struct Cte {
  std::string name;
  std::shared_ptr<const Output> out;
};

/// One query level: what its column references can see.
struct Level {
  const Level* parent = nullptr;
  bool parent_hidden = false;  ///< a non-LATERAL FROM subquery: the parent's items are not visible
  std::vector<ItemPtr> top;    ///< the FROM list, for `*`
  std::vector<ItemPtr> visible;  ///< every item a column reference may reach
  std::vector<Cte> ctes;
  const std::vector<ColumnLineage>* outputs = nullptr;  ///< ORDER BY / GROUP BY may name outputs
};

/// The CTE `name` visible from `l`, innermost first; nullptr when none is.
const Output* findCte(const Level* l, std::string_view name);

/// Calls `f(level)` for the levels whose items a reference from `lvl` sees,
/// innermost first, until it returns true.
template <class F>
void eachLevel(const Level& lvl, F&& f) {
  bool hidden = false;
  for (const Level* l = &lvl; l != nullptr; l = l->parent) {
    if (!hidden && f(*l)) return;
    hidden = l->parent_hidden;
  }
}

/// The items named `name` (and `schema`, when given) at the innermost level
/// that has one.
std::vector<const Item*> findItems(std::string_view schema, std::string_view name,
                                   const Level& lvl);

/// `t.col` for the items named t: a column, or else `col(t)` in functional
/// notation, which reads the whole row.
ColumnLineage itemsColumn(const std::vector<const Item*>& found, std::string_view col);

/// The range item a single-name ColumnRef denotes as a whole row (`u` in
/// `(u).email`, not a column of anything visible); "" otherwise.
std::string wholeRowName(const Node* n, const Level& lvl);

/// Output columns of a function in FROM known without the catalog: one
/// column named after a scalar built-in, or fixed OUT columns.
std::optional<std::vector<std::string>> functionColumns(const Node* call, bool& scalar);

/// A target's output name as PostgreSQL gives it (FigureColname).
std::string outputName(const PgQuery__ResTarget* rt);

/// The lineage of one statement, written into `out`.
class Tracer {
 public:
  Tracer(const RelationResolver& resolver, QueryLineage& out) : resolver_(resolver), out_(out) {}

  void statement(const Node* stmt);
  /// Applies the bound: past it, nothing about the result is known.
  void finish();

 private:
  /// One level of recursion and one step of the budget while it lives.
  class Step {
   public:
    explicit Step(Tracer& t) : t_(t) {
      ++t_.depth_;
      if (t_.depth_ > kMaxDepth || ++t_.steps_ > kMaxSteps) t_.exhausted_ = true;
    }
    ~Step() { --t_.depth_; }
    Step(const Step&) = delete;
    Step& operator=(const Step&) = delete;
    bool ok() const { return !t_.exhausted_; }

   private:
    Tracer& t_;
  };

  void unknown(ColumnLineage& c) {
    c.untraceable = true;
    out_.untraceable_any = true;
  }
  Output unknownOutput() {
    Output o;
    o.complete = false;
    unknown(o.rest);
    return o;
  }
  void result(Output o, bool returns_rows);
  /// CREATE TABLE AS / SELECT INTO: each output column is stored in the new table.
  void intoTable(const PgQuery__IntoClause* into, const Output& o);
  /// Records that `value` is stored in `column` of `target` (QueryLineage::writes).
  void write(const Item& target, const PgQuery__RangeVar* rv, std::string_view column,
             const ColumnLineage& value) {
    if (value.sources.empty() && value.whole_rows.empty() && !value.untraceable) return;
    RelationRef ref = target.table ? *target.table
                                   : RelationRef{std::string(view(rv->schemaname)),
                                                 std::string(view(rv->relname))};
    out_.writes.push_back({std::move(ref), std::string(column), value});
  }
  void copy(const PgQuery__CopyStmt* c);
  void explain(const PgQuery__ExplainStmt* e);

  Output query(const Node* n, const Level* parent, bool hidden = false) {
    return queryMessage(unwrap(n), parent, hidden);
  }
  Output queryMessage(const ProtobufCMessage* m, const Level* parent, bool hidden);
  Output select(const PgQuery__SelectStmt* s, const Level* parent, bool hidden);
  Output insert(const PgQuery__InsertStmt* s, const Level* parent, bool hidden);
  Output update(const PgQuery__UpdateStmt* s, const Level* parent, bool hidden);
  Output remove(const PgQuery__DeleteStmt* s, const Level* parent, bool hidden);
  void mergeStmt(const PgQuery__MergeStmt* s, const Level* parent, bool hidden);
  void withClause(const PgQuery__WithClause* with, Level& lvl);
  Output recursiveCte(const PgQuery__CommonTableExpr* cte, Level& lvl, size_t index);
  void targetList(Nodes targets, const Level& lvl, Output& out);
  bool expandStar(const Node* val, const Level& lvl, Output& out);

  ItemPtr add(Item it, Level& lvl);
  void fromList(Nodes from, Level& lvl) {
    for (const Node* n : from) lvl.top.push_back(fromItem(n, lvl));
  }
  ItemPtr fromItem(const Node* n, Level& lvl);
  Item relationItem(const PgQuery__RangeVar* rv, const Level& lvl, bool record);
  ItemPtr join(const PgQuery__JoinExpr* j, Level& lvl);
  Item functionItem(const PgQuery__RangeFunction* f, const Level& lvl);
  Item tableFuncItem(const PgQuery__RangeTableFunc* f, const Level& lvl);

  ColumnLineage expr(const Node* n, const Level& lvl);
  void walk(const ProtobufCMessage* m, const Level& lvl, ColumnLineage& acc);
  void walkFields(const ProtobufCMessage* m, const Level& lvl, ColumnLineage& acc,
                  std::initializer_list<std::string_view> skip = {});
  /// Traces parts that make no output value, for `relations` and `untraceable_any`.
  void side(const ProtobufCMessage* m, const Level& lvl,
            std::initializer_list<std::string_view> skip = {}) {
    ColumnLineage ignored;
    walkFields(m, lvl, ignored, skip);
  }
  void side(const Node* n, const Level& lvl) { expr(n, lvl); }
  ColumnLineage columnRef(const PgQuery__ColumnRef* ref, const Level& lvl);
  ColumnLineage unqualified(const std::string& name, const Level& lvl);
  ColumnLineage indirection(const PgQuery__AIndirection* ind, const Level& lvl);

  const RelationResolver& resolver_;
  QueryLineage& out_;
  int depth_ = 0;
  long steps_ = 0;
  bool exhausted_ = false;
};

}  // namespace pgw::sql::lineage_detail
