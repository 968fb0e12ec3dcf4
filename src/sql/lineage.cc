// Column lineage: the entry points and the statement-level part of the
// Tracer (statements, queries, WITH, target lists, INSERT / UPDATE / DELETE /
// MERGE). FROM items and expressions are traced in lineage_expr.cc; the
// shared types and helpers are in lineage_tracer.h and lineage_scope.cc.

#include "sql/lineage.h"

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql/analysis_context.h"
#include "sql/lineage_tracer.h"
#include "sql/token_scan.h"

namespace pgw::sql {
namespace lineage_detail {

void Tracer::finish() {
  if (exhausted_) {
    out_.columns_complete = false;
    out_.untraceable_any = true;
    for (ColumnLineage& c : out_.columns) c.untraceable = true;
  }
  for (const ColumnLineage& c : out_.columns) {
    if (c.untraceable) out_.untraceable_any = true;
  }
}

void Tracer::result(Output o, bool returns_rows) {
  if (!returns_rows) return;
  out_.has_result = true;
  out_.columns = std::move(o.columns);
  out_.columns_complete = o.complete;
}

void Tracer::statement(const Node* stmt) {
  const Step step(*this);
  if (stmt == nullptr || !step.ok()) return;
  switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:  // SELECT INTO writes its result to a table
      if (const PgQuery__IntoClause* into = stmt->select_stmt->into_clause) {
        intoTable(into, query(stmt, nullptr));
      } else {
        result(query(stmt, nullptr), true);
      }
      break;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
      result(query(stmt, nullptr), stmt->insert_stmt->n_returning_list > 0);
      break;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
      result(query(stmt, nullptr), stmt->update_stmt->n_returning_list > 0);
      break;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
      result(query(stmt, nullptr), stmt->delete_stmt->n_returning_list > 0);
      break;
    case PG_QUERY__NODE__NODE_MERGE_STMT:  // no RETURNING before PostgreSQL 17
      query(stmt, nullptr);
      break;
    case PG_QUERY__NODE__NODE_COPY_STMT:
      copy(stmt->copy_stmt);
      break;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      out_.cursor = std::string(view(stmt->declare_cursor_stmt->portalname));
      statement(stmt->declare_cursor_stmt->query);
      break;
    case PG_QUERY__NODE__NODE_FETCH_STMT:
      out_.fetch = true;
      out_.cursor = std::string(view(stmt->fetch_stmt->portalname));
      out_.has_result = !stmt->fetch_stmt->ismove;
      break;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
      out_.cursor = std::string(view(stmt->close_portal_stmt->portalname));
      break;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      out_.prepared = std::string(view(stmt->prepare_stmt->name));
      statement(stmt->prepare_stmt->query);
      break;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
      out_.execute = true;
      out_.has_result = true;
      out_.prepared = std::string(view(stmt->execute_stmt->name));
      side(unwrap(stmt), Level{});  // parameters are expressions
      break;
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
      explain(stmt->explain_stmt);
      break;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
      out_.has_result = true;
      break;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:  // the result goes into a table
      if (const PgQuery__IntoClause* into = stmt->create_table_as_stmt->into) {
        intoTable(into, query(stmt->create_table_as_stmt->query, nullptr));
      } else {
        query(stmt->create_table_as_stmt->query, nullptr);
      }
      break;
    case PG_QUERY__NODE__NODE_CALL_STMT:
      // A procedure's OUT arguments come back as a row computed by code we
      // cannot see.
      out_.has_result = true;
      out_.columns_complete = false;
      out_.untraceable_any = true;
      side(unwrap(stmt), Level{});
      break;
    default:
      break;
  }
}

void Tracer::intoTable(const PgQuery__IntoClause* into, const Output& o) {
  if (into->rel == nullptr) return;
  const RelationRef table{std::string(view(into->rel->schemaname)),
                          std::string(view(into->rel->relname))};
  const Nodes names = items(into->col_names, into->n_col_names);
  for (size_t i = 0; i < o.columns.size(); ++i) {
    const ColumnLineage& value = o.columns[i];
    if (value.sources.empty() && value.whole_rows.empty() && !value.untraceable) continue;
    std::string column = value.name;
    if (i < names.size() && is(names[i], PG_QUERY__NODE__NODE_STRING)) {
      column = std::string(view(names[i]->string->sval));
    }
    out_.writes.push_back({table, std::move(column), value});
  }
  if (!o.complete) {
    ColumnLineage all;
    mergeAll(all, o);
    out_.writes.push_back({table, "*", std::move(all)});
  }
}

void Tracer::explain(const PgQuery__ExplainStmt* e) {
  // The result is plan text: it names relations and expressions but carries
  // no stored value, so there are no columns to mask. With ANALYZE the
  // statement also runs: say what it reads.
  out_.explain = true;
  out_.has_result = true;
  bool analyze = false;
  for (const Node* n : items(e->options, e->n_options)) {
    if (is(n, PG_QUERY__NODE__NODE_DEF_ELEM) &&
        asciiLower(view(n->def_elem->defname)) == "analyze" && detail::defElemTrue(n->def_elem)) {
      analyze = true;
    }
  }
  if (!analyze) return;
  QueryLineage runs;
  Tracer inner(resolver_, runs);
  inner.statement(e->query);
  inner.finish();
  out_.relations = std::move(runs.relations);
  out_.untraceable_any = out_.untraceable_any || runs.untraceable_any;
}

void Tracer::copy(const PgQuery__CopyStmt* c) {
  for (const Node* n : items(c->attlist, c->n_attlist)) {
    out_.copy_columns.emplace_back(stringValue(n));
  }
  if (c->is_from) return;  // COPY FROM returns no rows and reads no relation
  const bool to_client = view(c->filename).empty() && !c->is_program;
  Output o;
  if (c->query != nullptr) {
    o = query(c->query, nullptr);
  } else if (c->relation != nullptr) {
    const Item it = relationItem(c->relation, Level{}, true);
    if (out_.copy_columns.empty()) {
      o = Output{it.columns, it.complete, it.rest};
    }
    for (const std::string& name : out_.copy_columns) {
      ColumnLineage col;
      bool plain = true;
      if (!columnOf(it, name, col, plain)) unknown(col);
      col.plain = plain && !col.untraceable;
      col.name = name;
      o.columns.push_back(std::move(col));
    }
  }
  result(std::move(o), to_client);
}

Output Tracer::queryMessage(const ProtobufCMessage* m, const Level* parent, bool hidden) {
  const Step step(*this);
  if (m == nullptr || !step.ok()) return unknownOutput();
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__select_stmt__descriptor) {
    return select(reinterpret_cast<const PgQuery__SelectStmt*>(m), parent, hidden);
  }
  if (d == &pg_query__insert_stmt__descriptor) {
    return insert(reinterpret_cast<const PgQuery__InsertStmt*>(m), parent, hidden);
  }
  if (d == &pg_query__update_stmt__descriptor) {
    return update(reinterpret_cast<const PgQuery__UpdateStmt*>(m), parent, hidden);
  }
  if (d == &pg_query__delete_stmt__descriptor) {
    return remove(reinterpret_cast<const PgQuery__DeleteStmt*>(m), parent, hidden);
  }
  if (d == &pg_query__merge_stmt__descriptor) {
    mergeStmt(reinterpret_cast<const PgQuery__MergeStmt*>(m), parent, hidden);
    return Output{};
  }
  Level lvl;
  lvl.parent = parent;
  side(m, lvl);
  return unknownOutput();
}

Output Tracer::select(const PgQuery__SelectStmt* s, const Level* parent, bool hidden) {
  const Step step(*this);
  if (!step.ok()) return unknownOutput();
  Level lvl{.parent = parent, .parent_hidden = hidden};
  withClause(s->with_clause, lvl);
  Output out;
  if (s->larg != nullptr || s->rarg != nullptr) {  // UNION / INTERSECT / EXCEPT
    Output l = s->larg != nullptr ? select(s->larg, &lvl, false) : unknownOutput();
    out = unite(std::move(l), s->rarg != nullptr ? select(s->rarg, &lvl, false) : unknownOutput());
  } else if (s->n_values_lists > 0) {
    for (const Node* row : items(s->values_lists, s->n_values_lists)) {
      const Nodes values = listItems(row);
      for (size_t i = 0; i < values.size(); ++i) {
        ColumnLineage c = expr(values[i], lvl);
        if (i >= out.columns.size()) {
          c.name = "column" + std::to_string(i + 1);
          out.columns.push_back(std::move(c));
        } else {
          out.columns[i].plain = out.columns[i].plain && c.plain;
          merge(out.columns[i], c);
        }
      }
    }
  } else {
    fromList(items(s->from_clause, s->n_from_clause), lvl);
    targetList(items(s->target_list, s->n_target_list), lvl, out);
  }
  // WHERE, GROUP BY, HAVING, WINDOW, ORDER BY, LIMIT, DISTINCT ON: no output
  // values, but relations read and untraceable parts. FOR UPDATE OF names
  // FROM items, INTO a new table.
  lvl.outputs = &out.columns;
  side(&s->base, lvl,
       {"with_clause", "larg", "rarg", "values_lists", "from_clause", "target_list",
        "locking_clause", "into_clause"});
  return out;
}

void Tracer::withClause(const PgQuery__WithClause* with, Level& lvl) {
  if (with == nullptr) return;
  const Nodes ctes = items(with->ctes, with->n_ctes);
  const size_t first = lvl.ctes.size();
  auto cteOf = [](const Node* n) {
    return is(n, PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) ? n->common_table_expr : nullptr;
  };
  if (with->recursive) {  // every name is visible in every body; not yet known ones are unknown
    for (const Node* n : ctes) {
      Output placeholder;
      placeholder.complete = false;
      placeholder.rest.untraceable = true;
      const auto* cte = cteOf(n);
      lvl.ctes.push_back({cte ? std::string(view(cte->ctename)) : "",
                          std::make_shared<const Output>(std::move(placeholder))});
    }
  }
  for (size_t k = 0; k < ctes.size(); ++k) {
    const PgQuery__CommonTableExpr* cte = cteOf(ctes[k]);
    if (cte == nullptr) continue;
    Output o = with->recursive ? recursiveCte(cte, lvl, first + k) : query(cte->ctequery, &lvl);
    renameColumns(o, items(cte->aliascolnames, cte->n_aliascolnames));
    // SEARCH / CYCLE add columns built from the row's values.
    ColumnLineage all;
    mergeAll(all, o);
    for (const char* extra : {cte->search_clause ? cte->search_clause->search_seq_column : nullptr,
                              cte->cycle_clause ? cte->cycle_clause->cycle_mark_column : nullptr,
                              cte->cycle_clause ? cte->cycle_clause->cycle_path_column : nullptr}) {
      if (view(extra).empty()) continue;
      ColumnLineage c = all;
      c.name = std::string(view(extra));
      o.columns.push_back(std::move(c));
    }
    auto shared = std::make_shared<const Output>(std::move(o));
    if (with->recursive) {
      lvl.ctes[first + k].out = std::move(shared);
    } else {
      lvl.ctes.push_back({std::string(view(cte->ctename)), std::move(shared)});
    }
  }
}

Output Tracer::recursiveCte(const PgQuery__CommonTableExpr* cte, Level& lvl, size_t index) {
  auto rename = [cte](Output& o) {
    renameColumns(o, items(cte->aliascolnames, cte->n_aliascolnames));
  };
  const Node* q = cte->ctequery;
  const PgQuery__SelectStmt* s = is(q, PG_QUERY__NODE__NODE_SELECT_STMT) ? q->select_stmt : nullptr;
  if (s == nullptr || s->larg == nullptr || s->rarg == nullptr || s->with_clause != nullptr) {
    Output o = query(q, &lvl);  // a self-reference sees the unknown placeholder
    rename(o);
    return o;
  }
  // The base arm, then the recursive arm over what is known so far, until
  // nothing new flows in (lineage only grows, so this settles quickly).
  Output known = select(s->larg, &lvl, false);
  rename(known);
  for (int round = 0; round < 4; ++round) {
    lvl.ctes[index].out = std::make_shared<const Output>(known);
    Output next = unite(known, select(s->rarg, &lvl, false));
    if (sameLineage(next, known)) {
      side(&s->base, lvl, {"larg", "rarg", "with_clause"});
      return next;
    }
    known = std::move(next);
  }
  for (ColumnLineage& c : known.columns) unknown(c);
  return known;
}

void Tracer::targetList(Nodes targets, const Level& lvl, Output& out) {
  for (const Node* n : targets) {
    if (!is(n, PG_QUERY__NODE__NODE_RES_TARGET)) {
      side(n, lvl);
      continue;
    }
    const PgQuery__ResTarget* rt = n->res_target;
    if (expandStar(rt->val, lvl, out)) continue;
    ColumnLineage c = expr(rt->val, lvl);
    c.name = outputName(rt);
    out.columns.push_back(std::move(c));
  }
}

bool Tracer::expandStar(const Node* val, const Level& lvl, Output& out) {
  std::vector<const Item*> found;
  if (is(val, PG_QUERY__NODE__NODE_COLUMN_REF)) {
    const Nodes f = items(val->column_ref->fields, val->column_ref->n_fields);
    if (f.empty() || !is(f.back(), PG_QUERY__NODE__NODE_A_STAR)) return false;
    if (f.size() == 1) {
      for (const ItemPtr& it : lvl.top) found.push_back(it.get());
    } else {
      found = findItems(f.size() >= 3 ? stringValue(f[f.size() - 3]) : "",
                        stringValue(f[f.size() - 2]), lvl);
    }
  } else if (is(val, PG_QUERY__NODE__NODE_A_INDIRECTION)) {  // (x).*
    const PgQuery__AIndirection* ind = val->a_indirection;
    if (ind->n_indirection == 0 ||
        !is(ind->indirection[ind->n_indirection - 1], PG_QUERY__NODE__NODE_A_STAR)) {
      return false;
    }
    const std::string row = ind->n_indirection == 1 ? wholeRowName(ind->arg, lvl) : "";
    if (!row.empty()) found = findItems("", row, lvl);
    if (found.empty()) {  // the fields of a composite value: how many is not known
      out.complete = false;
      merge(out.rest, expr(val, lvl));
      return true;
    }
  } else {
    return false;
  }
  if (found.empty()) {
    out.complete = false;
    unknown(out.rest);
  }
  for (const Item* it : found) {
    out.columns.insert(out.columns.end(), it->columns.begin(), it->columns.end());
    if (!it->complete) {
      out.complete = false;
      merge(out.rest, it->rest);
    }
  }
  return true;
}

Output Tracer::insert(const PgQuery__InsertStmt* s, const Level* parent, bool hidden) {
  Level lvl{.parent = parent, .parent_hidden = hidden};
  withClause(s->with_clause, lvl);
  if (s->relation == nullptr) return unknownOutput();
  const bool upsert =
      s->on_conflict_clause != nullptr &&
      s->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE;
  // The target is read back by RETURNING and by ON CONFLICT DO UPDATE.
  const Item target = relationItem(s->relation, lvl, s->n_returning_list > 0 || upsert);
  const Output source = s->select_stmt != nullptr ? query(s->select_stmt, &lvl, true) : Output{};
  std::vector<std::string> names;
  for (const Node* n : items(s->cols, s->n_cols)) {
    if (is(n, PG_QUERY__NODE__NODE_RES_TARGET)) names.emplace_back(view(n->res_target->name));
  }
  if (names.empty()) {
    for (const ColumnLineage& c : target.columns) names.push_back(c.name);
  }
  Item assigned = target;
  ColumnLineage all;
  mergeAll(all, source);
  for (size_t i = 0; i < names.size(); ++i) {
    const bool positional = source.complete && i < source.columns.size();
    assign(assigned, names[i], positional ? source.columns[i] : all);
    write(target, s->relation, names[i], positional ? source.columns[i] : all);
  }
  if (const PgQuery__OnConflictClause* oc = s->on_conflict_clause) {
    Item excluded = assigned;
    excluded.name = "excluded";
    excluded.schema.clear();
    excluded.table.reset();
    lvl.top.push_back(add(target, lvl));
    add(std::move(excluded), lvl);
    for (const Node* n : items(oc->target_list, oc->n_target_list)) {
      if (is(n, PG_QUERY__NODE__NODE_RES_TARGET)) {
        const ColumnLineage value = expr(n->res_target->val, lvl);
        assign(assigned, view(n->res_target->name), value);
        write(target, s->relation, view(n->res_target->name), value);
      }
    }
    side(&oc->base, lvl, {"target_list"});
    lvl.top.clear();
    lvl.visible.clear();
  }
  lvl.top.push_back(add(std::move(assigned), lvl));
  Output out;
  targetList(items(s->returning_list, s->n_returning_list), lvl, out);
  return out;
}

Output Tracer::update(const PgQuery__UpdateStmt* s, const Level* parent, bool hidden) {
  Level lvl{.parent = parent, .parent_hidden = hidden};
  withClause(s->with_clause, lvl);
  if (s->relation == nullptr) return unknownOutput();
  Item target = relationItem(s->relation, lvl, true);
  lvl.top.push_back(add(target, lvl));
  fromList(items(s->from_clause, s->n_from_clause), lvl);
  for (const Node* n : items(s->target_list, s->n_target_list)) {
    if (is(n, PG_QUERY__NODE__NODE_RES_TARGET)) {
      const ColumnLineage value = expr(n->res_target->val, lvl);
      write(target, s->relation, view(n->res_target->name), value);
      assign(target, view(n->res_target->name), value);
    }
  }
  side(s->where_clause, lvl);
  lvl.top[0] = lvl.visible[0] = std::make_shared<const Item>(std::move(target));
  Output out;
  targetList(items(s->returning_list, s->n_returning_list), lvl, out);
  return out;
}

Output Tracer::remove(const PgQuery__DeleteStmt* s, const Level* parent, bool hidden) {
  Level lvl{.parent = parent, .parent_hidden = hidden};
  withClause(s->with_clause, lvl);
  if (s->relation == nullptr) return unknownOutput();
  lvl.top.push_back(add(relationItem(s->relation, lvl, true), lvl));
  fromList(items(s->using_clause, s->n_using_clause), lvl);
  side(s->where_clause, lvl);
  Output out;
  targetList(items(s->returning_list, s->n_returning_list), lvl, out);
  return out;
}

void Tracer::mergeStmt(const PgQuery__MergeStmt* s, const Level* parent, bool hidden) {
  Level lvl{.parent = parent, .parent_hidden = hidden};
  withClause(s->with_clause, lvl);
  std::optional<Item> target;
  if (s->relation != nullptr) {
    target = relationItem(s->relation, lvl, true);
    lvl.top.push_back(add(*target, lvl));
  }
  const ItemPtr source = fromItem(s->source_relation, lvl);
  lvl.top.push_back(source);
  side(&s->base, lvl, {"with_clause", "relation", "source_relation"});
  // The WHEN clauses' assignments are not followed: whatever the source
  // reads may be stored in any column of the target.
  if (target && source) {
    ColumnLineage all;
    for (const ColumnLineage& c : source->columns) merge(all, c);
    merge(all, source->rest);
    if (!source->complete) unknown(all);
    write(*target, s->relation, "*", all);
  }
}

}  // namespace lineage_detail

namespace {

/// Answers every question with "unknown" and records the questions.
class Recorder : public RelationResolver {
 public:
  const Relation* find(const RelationRef& ref) const override {
    lineage_detail::addUnique(asked, ref);
    return nullptr;
  }
  mutable std::vector<RelationRef> asked;
};

/// The protobuf-c runtime inside libpg_query and the header this file reads
/// its descriptors with must agree (same struct layout), as in analyzer.cc.
bool protobufAbiMatches() {
  static const bool matches =
      protobuf_c_version_number() / 1000 == PROTOBUF_C_VERSION_NUMBER / 1000;
  return matches;
}

}  // namespace

std::vector<QueryLineage> lineage(std::string_view sql, const RelationResolver& resolver) {
  try {
    // The checks analyze() makes before parsing (checkNesting also keeps
    // libpg_query's own recursion in bounds).
    const AnalyzerOptions limits;
    if (!protobufAbiMatches() || sql.size() > limits.max_query_bytes ||
        sql.find('\0') != std::string_view::npos || !detail::validUtf8(sql)) {
      return {};
    }
    const std::string owned(sql);
    if (detail::checkNesting(owned)) return {};
    const detail::ParseOutcome parsed = detail::parseTree(owned);
    if (!parsed.tree) return {};
    std::vector<QueryLineage> out;
    for (size_t i = 0; i < parsed.tree->n_stmts; ++i) {
      const PgQuery__RawStmt* raw = parsed.tree->stmts[i];
      if (raw == nullptr || raw->stmt == nullptr) continue;  // as analyze() skips them
      QueryLineage q;
      lineage_detail::Tracer tracer(resolver, q);
      tracer.statement(raw->stmt);
      tracer.finish();
      out.push_back(std::move(q));
    }
    return out;
  } catch (...) {
    return {};
  }
}

std::vector<RelationRef> lineageRelations(std::string_view sql) {
  const Recorder recorder;
  if (lineage(sql, recorder).empty()) return {};
  return recorder.asked;
}

}  // namespace pgw::sql
