// The lineage Tracer's FROM items (relations and views through the resolver,
// CTEs, subqueries, joins, functions, XMLTABLE) and expressions: column
// references resolved against the query levels, every other node walked
// generically through its protobuf-c descriptor.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql/lineage_tracer.h"

namespace pgw::sql::lineage_detail {

ItemPtr Tracer::add(Item it, Level& lvl) {
  bool untraceable = !it.complete && it.rest.untraceable;
  for (const ColumnLineage& c : it.columns) untraceable = untraceable || c.untraceable;
  if (untraceable) out_.untraceable_any = true;
  auto shared = std::make_shared<const Item>(std::move(it));
  lvl.visible.push_back(shared);
  return shared;
}

ItemPtr Tracer::fromItem(const Node* n, Level& lvl) {
  const Step step(*this);
  Item it;
  if (n == nullptr || !step.ok()) {
    it.complete = false;
    unknown(it.rest);
    return add(std::move(it), lvl);
  }
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR:
      return add(relationItem(n->range_var, lvl, true), lvl);
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
      const PgQuery__RangeSubselect* r = n->range_subselect;
      it = itemOf(query(r->subquery, &lvl, !r->lateral));
      applyAlias(it, r->alias);
      return add(std::move(it), lvl);
    }
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
      return add(functionItem(n->range_function, lvl), lvl);
    case PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC:
      return add(tableFuncItem(n->range_table_func, lvl), lvl);
    case PG_QUERY__NODE__NODE_RANGE_TABLE_SAMPLE: {
      const ItemPtr sampled = fromItem(n->range_table_sample->relation, lvl);
      side(unwrap(n), lvl, {"relation"});
      return sampled;
    }
    case PG_QUERY__NODE__NODE_JOIN_EXPR:
      return join(n->join_expr, lvl);
    default:
      it.complete = false;
      it.rest = expr(n, lvl);
      unknown(it.rest);
      return add(std::move(it), lvl);
  }
}

Item Tracer::relationItem(const PgQuery__RangeVar* rv, const Level& lvl, bool record) {
  Item it;
  it.name = std::string(view(rv->relname));
  const bool bare = view(rv->schemaname).empty() && view(rv->catalogname).empty();
  if (const Output* cte = bare ? findCte(&lvl, it.name) : nullptr) {
    it = itemOf(*cte);
    it.name = std::string(view(rv->relname));
    applyAlias(it, rv->alias);
    return it;
  }
  const RelationRef ref{std::string(view(rv->schemaname)), it.name};
  const RelationResolver::Relation* rel = resolver_.find(ref);
  if (rel == nullptr) {
    it.schema = ref.schema;
    it.complete = false;
    unknown(it.rest);
    it.rest.whole_rows.push_back(ref);
    if (record) addUnique(out_.relations, ref);
    applyAlias(it, rv->alias);
    return it;
  }
  const RelationRef resolved{rel->schema, rel->name};
  const QueryLineage* v = rel->view;
  it.schema = rel->schema;
  if (record) {
    addUnique(out_.relations, resolved);
    if (v != nullptr) {
      for (const RelationRef& r : v->relations) addUnique(out_.relations, r);
    }
  }
  if (v == nullptr) it.table = resolved;
  if (v != nullptr && v->untraceable_any) out_.untraceable_any = true;
  for (size_t i = 0; i < rel->columns.size(); ++i) {
    ColumnLineage c;
    if (v == nullptr) {
      c.plain = true;
      c.sources.push_back({rel->schema, rel->name, rel->columns[i]});
    } else if (v->columns_complete && i < v->columns.size()) {
      c = v->columns[i];
    } else {  // the view's columns do not line up with its lineage
      for (const ColumnLineage& vc : v->columns) merge(c, vc);
      unknown(c);
    }
    c.name = rel->columns[i];
    it.columns.push_back(std::move(c));
  }
  applyAlias(it, rv->alias);
  return it;
}

ItemPtr Tracer::join(const PgQuery__JoinExpr* j, Level& lvl) {
  const size_t mark = lvl.visible.size();
  const ItemPtr l = fromItem(j->larg, lvl);
  const ItemPtr r = fromItem(j->rarg, lvl);
  std::vector<std::string> merged;
  for (const Node* n : items(j->using_clause, j->n_using_clause)) {
    merged.emplace_back(stringValue(n));
  }
  if (j->is_natural) {
    for (const ColumnLineage& c : l->columns) {
      bool plain = true;
      ColumnLineage ignored;
      if (knownColumn(*r, c.name, ignored, plain)) addUnique(merged, c.name);
    }
  }
  Item it;
  it.complete = l->complete && r->complete;
  if (!l->complete) merge(it.rest, l->rest);
  if (!r->complete) merge(it.rest, r->rest);
  // USING / NATURAL columns come first and are one value from either side
  // (COALESCE for a FULL join): both sides' lineage.
  for (const std::string& name : merged) {
    ColumnLineage c;
    bool plain = true;
    const bool in_left = columnOf(*l, name, c, plain);
    const bool in_right = columnOf(*r, name, c, plain);
    if (!in_left && !in_right) unknown(c);
    c.plain = plain && !c.untraceable;
    c.name = name;
    it.columns.push_back(std::move(c));
  }
  for (const auto& [input, other] : {std::pair{l, r}, std::pair{r, l}}) {
    for (const ColumnLineage& c : input->columns) {
      if (std::find(merged.begin(), merged.end(), c.name) != merged.end()) continue;
      it.columns.push_back(c);
      if (j->is_natural && !other->complete) {  // may be merged with an unknown column
        merge(it.columns.back(), other->rest);
        it.columns.back().plain = false;
      }
    }
  }
  side(j->quals, lvl);
  if (j->alias != nullptr) lvl.visible.resize(mark);  // an aliased join hides its inputs
  if (j->join_using_alias != nullptr) {
    Item u;
    u.name = std::string(view(j->join_using_alias->aliasname));
    u.columns.assign(it.columns.begin(), it.columns.begin() + static_cast<long>(merged.size()));
    add(std::move(u), lvl);
  }
  applyAlias(it, j->alias);
  return add(std::move(it), lvl);
}

Item Tracer::functionItem(const PgQuery__RangeFunction* f, const Level& lvl) {
  // Functions in FROM see the FROM items before them (implicitly LATERAL).
  Item it;
  const Nodes functions = items(f->functions, f->n_functions);
  bool scalar_single = false;
  for (const Node* entry : functions) {
    const Nodes parts = listItems(entry);  // [call, column definitions]
    const Node* call = parts.empty() ? nullptr : parts[0];
    ColumnLineage value = expr(call, lvl);
    value.plain = false;
    merge(it.rest, value);
    Nodes defs = parts.size() > 1 ? listItems(parts[1]) : Nodes{};
    if (defs.empty() && functions.size() == 1) defs = items(f->coldeflist, f->n_coldeflist);
    std::vector<std::string> names;
    bool scalar = false;
    if (!defs.empty()) {
      for (const Node* d : defs) {
        names.emplace_back(is(d, PG_QUERY__NODE__NODE_COLUMN_DEF) ? view(d->column_def->colname)
                                                                  : "");
      }
    } else if (auto known = functionColumns(call, scalar)) {
      names = std::move(*known);
      scalar_single = scalar && names.size() == 1 && functions.size() == 1;
    } else {
      it.complete = false;
    }
    for (std::string& name : names) {
      it.columns.push_back(value);
      it.columns.back().name = std::move(name);
    }
  }
  if (f->ordinality) {
    ColumnLineage n;
    n.name = "ordinality";
    it.columns.push_back(std::move(n));
  }
  // A scalar function's one column takes the table alias's name.
  if (scalar_single && f->alias != nullptr && f->alias->n_colnames == 0) {
    it.columns[0].name = std::string(view(f->alias->aliasname));
  }
  applyAlias(it, f->alias);
  return it;
}

Item Tracer::tableFuncItem(const PgQuery__RangeTableFunc* f, const Level& lvl) {
  // XMLTABLE: every column is computed from the document and the paths.
  Item it;
  ColumnLineage value;
  walkFields(&f->base, lvl, value, {"alias"});
  for (const Node* c : items(f->columns, f->n_columns)) {
    it.columns.push_back(value);
    if (is(c, PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC_COL)) {
      it.columns.back().name = std::string(view(c->range_table_func_col->colname));
    }
  }
  applyAlias(it, f->alias);
  return it;
}

ColumnLineage Tracer::expr(const Node* n, const Level& lvl) {
  ColumnLineage acc;
  if (n == nullptr) return acc;
  const Step step(*this);
  if (!step.ok()) {
    unknown(acc);
    return acc;
  }
  if (is(n, PG_QUERY__NODE__NODE_COLUMN_REF)) return columnRef(n->column_ref, lvl);
  if (is(n, PG_QUERY__NODE__NODE_A_INDIRECTION)) return indirection(n->a_indirection, lvl);
  walk(unwrap(n), lvl, acc);
  acc.plain = false;
  return acc;
}

void Tracer::walk(const ProtobufCMessage* m, const Level& lvl, ColumnLineage& acc) {
  if (m == nullptr) return;
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__node__descriptor) {
    walk(unwrap(reinterpret_cast<const Node*>(m)), lvl, acc);
    return;
  }
  const Step step(*this);
  if (!step.ok()) {
    unknown(acc);
    return;
  }
  if (d == &pg_query__column_ref__descriptor) {
    merge(acc, columnRef(reinterpret_cast<const PgQuery__ColumnRef*>(m), lvl));
  } else if (d == &pg_query__a__indirection__descriptor) {
    merge(acc, indirection(reinterpret_cast<const PgQuery__AIndirection*>(m), lvl));
  } else if (d == &pg_query__func_call__descriptor) {
    const auto* call = reinterpret_cast<const PgQuery__FuncCall*>(m);
    const FunctionRef ref = functionRef(call);
    // Another schema's function may read anything; so do functions that
    // run SQL given as text. Unqualified calls: see lineage.h.
    if ((!ref.schema.empty() && ref.schema != "pg_catalog") || isDynamicSqlFunction(ref.name)) {
      unknown(acc);
    }
    addUnique(acc.functions, ref);
    walkFields(m, lvl, acc);
  } else if (d == &pg_query__sub_link__descriptor) {
    const auto* link = reinterpret_cast<const PgQuery__SubLink*>(m);
    walk(unwrap(link->testexpr), lvl, acc);
    const Output o = query(link->subselect, &lvl);
    // EXISTS is a boolean about the rows, not a value from them.
    if (link->sub_link_type != PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK) mergeAll(acc, o);
  } else if (d == &pg_query__select_stmt__descriptor || d == &pg_query__insert_stmt__descriptor ||
             d == &pg_query__update_stmt__descriptor || d == &pg_query__delete_stmt__descriptor ||
             d == &pg_query__merge_stmt__descriptor) {
    mergeAll(acc, queryMessage(m, &lvl, false));
  } else {
    walkFields(m, lvl, acc);
  }
}

void Tracer::walkFields(const ProtobufCMessage* m, const Level& lvl, ColumnLineage& acc,
                        std::initializer_list<std::string_view> skip) {
  if (m == nullptr) return;
  const ProtobufCMessageDescriptor* d = m->descriptor;
  const char* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields && !exhausted_; ++i) {
    const ProtobufCFieldDescriptor& field = d->fields[i];
    if (field.type != PROTOBUF_C_TYPE_MESSAGE ||
        std::find(skip.begin(), skip.end(), view(field.name)) != skip.end()) {
      continue;
    }
    if (field.label == PROTOBUF_C_LABEL_REPEATED) {
      const auto count = *reinterpret_cast<const size_t*>(base + field.quantifier_offset);
      const auto* array = *reinterpret_cast<ProtobufCMessage* const* const*>(base + field.offset);
      for (size_t k = 0; array != nullptr && k < count; ++k) walk(array[k], lvl, acc);
      continue;
    }
    if ((field.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) != 0 &&
        *reinterpret_cast<const uint32_t*>(base + field.quantifier_offset) != field.id) {
      continue;
    }
    walk(*reinterpret_cast<ProtobufCMessage* const*>(base + field.offset), lvl, acc);
  }
  if (exhausted_) unknown(acc);
}

ColumnLineage Tracer::columnRef(const PgQuery__ColumnRef* ref, const Level& lvl) {
  ColumnLineage out;
  std::vector<std::string> f;
  const Nodes fields = items(ref->fields, ref->n_fields);
  for (size_t i = 0; i < fields.size(); ++i) {
    if (is(fields[i], PG_QUERY__NODE__NODE_A_STAR) && i + 1 == fields.size()) break;
    f.emplace_back(stringValue(fields[i]));
  }
  if (f.empty() || f.size() < fields.size()) {  // `*` or `t.*` as a value: whole rows
    std::vector<const Item*> found;
    if (f.empty()) {
      for (const ItemPtr& it : lvl.top) found.push_back(it.get());
    } else if (f.size() <= 3) {
      found = findItems(f.size() >= 2 ? f[f.size() - 2] : "", f.back(), lvl);
    }
    for (const Item* it : found) merge(out, wholeRow(*it));
    if (found.empty()) unknown(out);
    return out;
  }
  if (f.size() == 1) return unqualified(f[0], lvl);
  if (f.size() <= 4) {  // [[catalog.]schema.]relation.column
    const size_t r = f.size() - 2;
    const std::vector<const Item*> found = findItems(r >= 1 ? f[r - 1] : "", f[r], lvl);
    if (!found.empty()) return itemsColumn(found, f.back());
  }
  // A composite column and its fields (or functional-notation calls): `c.f`, `t.c.f`.
  size_t fields_from = 1;
  if (f.size() == 2) {
    out = unqualified(f[0], lvl);
  } else if (const auto found = findItems("", f[0], lvl); f.size() == 3 && !found.empty()) {
    out = itemsColumn(found, f[1]);
    fields_from = 2;
  } else {
    unknown(out);
    return out;
  }
  for (size_t i = fields_from; i < f.size(); ++i) {
    addUnique(out.functions, FunctionRef{"", asciiLower(f[i])});
  }
  out.plain = false;
  return out;
}

ColumnLineage Tracer::unqualified(const std::string& name, const Level& lvl) {
  ColumnLineage out;
  bool column = false;  // found as a known column
  bool maybe = false;   // some item with unknown columns may have it
  bool plain = true;
  eachLevel(lvl, [&](const Level& l) {
    for (const ItemPtr& it : l.visible) {
      if (knownColumn(*it, name, out, plain)) column = true;
    }
    if (column) return true;
    for (const ItemPtr& it : l.visible) {
      if (!it->complete) {
        merge(out, it->rest);
        maybe = true;
      }
    }
    return false;
  });
  bool found = column;
  if (!found) {  // `u` for FROM users u: the whole row
    const std::vector<const Item*> rows = findItems("", name, lvl);
    for (const Item* it : rows) merge(out, wholeRow(*it));
    found = !rows.empty();
  }
  if (!found && lvl.outputs != nullptr) {  // ORDER BY / GROUP BY an output name
    for (const ColumnLineage& c : *lvl.outputs) {
      if (c.name == name) {
        merge(out, c);
        found = true;
      }
    }
  }
  if (!found && !maybe) unknown(out);
  out.plain = column && !maybe && plain;
  return out;
}

ColumnLineage Tracer::indirection(const PgQuery__AIndirection* ind, const Level& lvl) {
  const Nodes ops = items(ind->indirection, ind->n_indirection);
  ColumnLineage out;
  size_t next = 0;
  // (u).email: a column of the range item u.
  const std::string row = wholeRowName(ind->arg, lvl);
  if (!row.empty() && !ops.empty() && is(ops[0], PG_QUERY__NODE__NODE_STRING)) {
    out = itemsColumn(findItems("", row, lvl), stringValue(ops[0]));
    next = 1;
  } else {
    out = expr(ind->arg, lvl);
  }
  for (; next < ops.size(); ++next) {
    out.plain = false;
    if (is(ops[next], PG_QUERY__NODE__NODE_STRING)) {  // a field, or f(x) in functional notation
      addUnique(out.functions, FunctionRef{"", asciiLower(stringValue(ops[next]))});
    } else {
      walk(unwrap(ops[next]), lvl, out);  // subscripts
    }
  }
  return out;
}
}  // namespace pgw::sql::lineage_detail
