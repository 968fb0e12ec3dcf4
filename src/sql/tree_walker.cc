#include "sql/tree_walker.h"

#include <algorithm>
#include <optional>

namespace pgw::sql::detail {
namespace {

bool skipped(const ProtobufCFieldDescriptor& field, std::initializer_list<std::string_view> skip) {
  const std::string_view name = view(field.name);
  return std::find(skip.begin(), skip.end(), name) != skip.end();
}

RelationRef relationRef(const PgQuery__RangeVar* rv) {
  return RelationRef{std::string(view(rv->schemaname)), std::string(view(rv->relname))};
}

}  // namespace

TreeWalker::TreeWalker(Context& ctx, StatementInfo& info, bool ddl_targets)
    : ctx_(ctx), info_(info), ddl_targets_(ddl_targets) {}

void TreeWalker::walk(const PgQuery__Node* node) {
  walkMessage(unwrap(node));
}

void TreeWalker::walk(std::span<PgQuery__Node* const> nodes) {
  for (const PgQuery__Node* n : nodes) walk(n);
}

void TreeWalker::walkMessage(const ProtobufCMessage* msg) {
  if (msg == nullptr) return;
  const ProtobufCMessageDescriptor* d = msg->descriptor;
  if (d == &pg_query__node__descriptor) {
    // A Node is only the wrapper of one message: not a level of its own.
    walk(reinterpret_cast<const PgQuery__Node*>(msg));
    return;
  }
  const DepthStep step(ctx_);
  if (!step.ok()) return;
  if (d == &pg_query__range_var__descriptor) {
    const bool target = ddl_targets_ && query_depth_ == 0;
    relation(reinterpret_cast<const PgQuery__RangeVar*>(msg), !target, target);
  } else if (d == &pg_query__func_call__descriptor) {
    funcCall(reinterpret_cast<const PgQuery__FuncCall*>(msg));
  } else if (d == &pg_query__column_ref__descriptor) {
    columnRef(reinterpret_cast<const PgQuery__ColumnRef*>(msg));
  } else if (d == &pg_query__a__indirection__descriptor) {
    indirection(reinterpret_cast<const PgQuery__AIndirection*>(msg));
  } else if (d == &pg_query__select_stmt__descriptor) {
    selectStmt(reinterpret_cast<const PgQuery__SelectStmt*>(msg));
  } else if (d == &pg_query__insert_stmt__descriptor) {
    insertStmt(reinterpret_cast<const PgQuery__InsertStmt*>(msg));
  } else if (d == &pg_query__update_stmt__descriptor) {
    updateStmt(reinterpret_cast<const PgQuery__UpdateStmt*>(msg));
  } else if (d == &pg_query__delete_stmt__descriptor) {
    deleteStmt(reinterpret_cast<const PgQuery__DeleteStmt*>(msg));
  } else if (d == &pg_query__merge_stmt__descriptor) {
    mergeStmt(reinterpret_cast<const PgQuery__MergeStmt*>(msg));
  } else if (d == &pg_query__on_conflict_clause__descriptor) {
    const auto* c = reinterpret_cast<const PgQuery__OnConflictClause*>(msg);
    assignmentTargets(items(c->target_list, c->n_target_list));
    walkFields(msg);
  } else if (d == &pg_query__merge_when_clause__descriptor) {
    const auto* c = reinterpret_cast<const PgQuery__MergeWhenClause*>(msg);
    assignmentTargets(items(c->target_list, c->n_target_list));
    walkFields(msg);
  } else if (d == &pg_query__table_like_clause__descriptor) {
    // CREATE TABLE t (LIKE src): src is only read.
    const auto* c = reinterpret_cast<const PgQuery__TableLikeClause*>(msg);
    if (c->relation != nullptr) relation(c->relation, true, false);
  } else {
    walkFields(msg);
  }
}

void TreeWalker::walkFields(const ProtobufCMessage* msg,
                            std::initializer_list<std::string_view> skip) {
  if (msg == nullptr) return;
  const ProtobufCMessageDescriptor* d = msg->descriptor;
  const char* base = reinterpret_cast<const char*>(msg);
  for (unsigned i = 0; i < d->n_fields && !ctx_.too_deep; ++i) {
    const ProtobufCFieldDescriptor& field = d->fields[i];
    if (field.type != PROTOBUF_C_TYPE_MESSAGE || skipped(field, skip)) continue;
    if (field.label == PROTOBUF_C_LABEL_REPEATED) {
      const auto count = *reinterpret_cast<const size_t*>(base + field.quantifier_offset);
      const auto* array = *reinterpret_cast<ProtobufCMessage* const* const*>(base + field.offset);
      if (array == nullptr) continue;
      for (size_t k = 0; k < count; ++k) walkMessage(array[k]);
      continue;
    }
    if ((field.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0) {
      const auto selected = *reinterpret_cast<const uint32_t*>(base + field.quantifier_offset);
      if (selected != field.id) continue;
    }
    walkMessage(*reinterpret_cast<ProtobufCMessage* const*>(base + field.offset));
  }
}

void TreeWalker::relation(const PgQuery__RangeVar* rv, bool read, bool written) {
  if (rv == nullptr || view(rv->relname).empty()) return;
  if (!written && isCteName(rv)) return;
  if (read) addRelation(info_.relations_read, relationRef(rv));
  if (written) addRelation(info_.relations_written, relationRef(rv));
}

bool TreeWalker::isCteName(const PgQuery__RangeVar* rv) const {
  if (!view(rv->schemaname).empty() || !view(rv->catalogname).empty()) return false;
  const std::string_view name = view(rv->relname);
  return std::find(cte_names_.begin(), cte_names_.end(), name) != cte_names_.end();
}

void TreeWalker::withClause(const PgQuery__WithClause* with) {
  if (with == nullptr) return;
  const auto ctes = items(with->ctes, with->n_ctes);
  auto cteOf = [](const PgQuery__Node* n) -> const PgQuery__CommonTableExpr* {
    return n != nullptr && n->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR
               ? n->common_table_expr
               : nullptr;
  };
  // WITH RECURSIVE: every name is visible in every body. Otherwise a body
  // sees only the CTEs before it; a name not yet in scope is a real table.
  if (with->recursive) {
    for (const PgQuery__Node* n : ctes) {
      if (const auto* cte = cteOf(n)) cte_names_.emplace_back(view(cte->ctename));
    }
  }
  for (const PgQuery__Node* n : ctes) {
    const PgQuery__CommonTableExpr* cte = cteOf(n);
    if (cte == nullptr) {
      walk(n);
      continue;
    }
    ++cte_depth_;
    walk(cte->ctequery);
    --cte_depth_;
    if (!with->recursive) cte_names_.emplace_back(view(cte->ctename));
  }
}

void TreeWalker::selectStmt(const PgQuery__SelectStmt* s) {
  ++query_depth_;
  const size_t mark = cte_names_.size();
  withClause(s->with_clause);
  if (s->n_locking_clause > 0) info_.locking_clause = true;
  if (s->into_clause != nullptr) {
    info_.select_into = true;
    info_.writes = true;
    relation(s->into_clause->rel, false, true);
  }
  walkFields(&s->base, {"with_clause", "into_clause"});
  cte_names_.resize(mark);
  --query_depth_;
}

void TreeWalker::dmlWrites() {
  info_.writes = true;
  if (cte_depth_ > 0) info_.data_modifying_cte = true;
}

void TreeWalker::insertStmt(const PgQuery__InsertStmt* s) {
  ++query_depth_;
  const size_t mark = cte_names_.size();
  withClause(s->with_clause);
  dmlWrites();
  // ON CONFLICT DO UPDATE looks at (and can return) existing rows.
  const bool reads_target =
      s->on_conflict_clause != nullptr &&
      s->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE;
  relation(s->relation, reads_target, true);
  assignmentTargets(items(s->cols, s->n_cols));
  walkFields(&s->base, {"with_clause", "relation"});
  cte_names_.resize(mark);
  --query_depth_;
}

void TreeWalker::updateStmt(const PgQuery__UpdateStmt* s) {
  ++query_depth_;
  const size_t mark = cte_names_.size();
  withClause(s->with_clause);
  dmlWrites();
  if (s->where_clause == nullptr) info_.missing_where = true;
  relation(s->relation, true, true);
  assignmentTargets(items(s->target_list, s->n_target_list));
  walkFields(&s->base, {"with_clause", "relation"});
  cte_names_.resize(mark);
  --query_depth_;
}

void TreeWalker::deleteStmt(const PgQuery__DeleteStmt* s) {
  ++query_depth_;
  const size_t mark = cte_names_.size();
  withClause(s->with_clause);
  dmlWrites();
  if (s->where_clause == nullptr) info_.missing_where = true;
  relation(s->relation, true, true);
  walkFields(&s->base, {"with_clause", "relation"});
  cte_names_.resize(mark);
  --query_depth_;
}

void TreeWalker::mergeStmt(const PgQuery__MergeStmt* s) {
  ++query_depth_;
  const size_t mark = cte_names_.size();
  withClause(s->with_clause);
  dmlWrites();
  relation(s->relation, true, true);
  walkFields(&s->base, {"with_clause", "relation"});
  cte_names_.resize(mark);
  --query_depth_;
}

void TreeWalker::assignmentTargets(std::span<PgQuery__Node* const> targets) {
  for (const PgQuery__Node* n : targets) {
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_RES_TARGET &&
        n->res_target != nullptr && !view(n->res_target->name).empty()) {
      addName(info_.columns, std::string(view(n->res_target->name)));
    }
  }
}

void TreeWalker::calls(FunctionRef ref) {
  if (isSideEffectFunction(ref.name)) info_.writes = true;
  if (isDynamicSqlFunction(ref.name)) info_.dynamic_sql = true;
  addFunction(info_.functions, std::move(ref));
}

void TreeWalker::indirection(const PgQuery__AIndirection* ind) {
  // `(x).f` is PostgreSQL's functional notation for f(x) when x has no
  // field f: `(pid).pg_terminate_backend` calls pg_terminate_backend(pid)
  // with no function name in sight. The parse tree cannot tell a field from
  // a function, so every selected name counts as a call (fail closed).
  for (const PgQuery__Node* n : items(ind->indirection, ind->n_indirection)) {
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_STRING) {
      calls(FunctionRef{"", asciiLower(stringValue(n))});
    }
  }
  walkFields(&ind->base);
}

void TreeWalker::funcCall(const PgQuery__FuncCall* call) {
  const auto names = items(call->funcname, call->n_funcname);
  FunctionRef ref;
  if (!names.empty()) {
    ref.name = asciiLower(stringValue(names.back()));
    if (names.size() >= 2) ref.schema = asciiLower(stringValue(names[names.size() - 2]));
  }
  if (ref.name == "set_config" && call->n_args >= 1) {
    const auto args = items(call->args, call->n_args);
    const std::optional<std::string> name = stringConstant(args[0]);
    std::optional<std::string> value;
    if (args.size() >= 2) value = constantText(args[1]);
    addSetting(info_, name ? asciiLower(*name) : std::string("*"), value.value_or(""));
  }
  calls(std::move(ref));
  walkFields(&call->base, {"funcname"});
}

void TreeWalker::columnRef(const PgQuery__ColumnRef* ref) {
  std::string name = dottedName(items(ref->fields, ref->n_fields));
  if (!name.empty()) addName(info_.columns, std::move(name));
}

}  // namespace pgw::sql::detail
