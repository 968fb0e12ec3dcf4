// The helpers the lineage Tracer's parts share (see lineage_tracer.h): merging
// lineage, outputs of set operations, FROM items and query levels as column
// references see them, and output column names (FigureColname).

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sql/lineage_tracer.h"

namespace pgw::sql::lineage_detail {
namespace {

bool reads(const ColumnLineage& c) {
  return !c.sources.empty() || !c.whole_rows.empty() || !c.functions.empty() || c.untraceable;
}

/// Whether some visible item has (or may have) a column `name`.
bool columnVisible(std::string_view name, const Level& lvl) {
  bool seen = false;
  eachLevel(lvl, [&](const Level& l) {
    for (const ItemPtr& it : l.visible) {
      bool plain = true;
      ColumnLineage ignored;
      if (columnOf(*it, name, ignored, plain)) seen = true;
    }
    return seen;
  });
  return seen;
}

int figure(const Node* n, std::string& name);

/// FigureColname for an EXPR sublink: the subquery's first output name.
int figureSublink(const Node* subselect, std::string& name) {
  const PgQuery__SelectStmt* s =
      is(subselect, PG_QUERY__NODE__NODE_SELECT_STMT) ? subselect->select_stmt : nullptr;
  while (s != nullptr && s->larg != nullptr) s = s->larg;
  name = "?column?";
  if (s == nullptr || s->n_target_list == 0) return 2;
  const Node* t = s->target_list[0];
  if (!is(t, PG_QUERY__NODE__NODE_RES_TARGET)) return 2;
  if (!view(t->res_target->name).empty()) {
    name = std::string(view(t->res_target->name));
  } else if (figure(t->res_target->val, name) == 0) {
    name = "?column?";
  }
  return 2;
}

/// PostgreSQL's FigureColnameInternal: a name and its strength (0: none,
/// 1: a weak guess a cast's type name overrides, 2: a real name).
int figure(const Node* n, std::string& name) {
  static constexpr std::array<const char*, 16> kValueFunctions = {"",
                                                                  "current_date",
                                                                  "current_time",
                                                                  "current_time",
                                                                  "current_timestamp",
                                                                  "current_timestamp",
                                                                  "localtime",
                                                                  "localtime",
                                                                  "localtimestamp",
                                                                  "localtimestamp",
                                                                  "current_role",
                                                                  "current_user",
                                                                  "user",
                                                                  "session_user",
                                                                  "current_catalog",
                                                                  "current_schema"};
  static constexpr std::array<const char*, 8> kXml = {
      "", "xmlconcat", "xmlelement", "xmlforest", "xmlparse", "xmlpi", "xmlroot", "xmlserialize"};
  auto named = [&](std::string_view s, int strength) {
    name = std::string(s);
    return name.empty() ? 0 : strength;
  };
  if (n == nullptr) return 0;
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF: {
      const Nodes f = items(n->column_ref->fields, n->column_ref->n_fields);
      return f.empty() ? 0 : named(stringValue(f.back()), 2);
    }
    case PG_QUERY__NODE__NODE_A_INDIRECTION: {
      const Nodes ops = items(n->a_indirection->indirection, n->a_indirection->n_indirection);
      for (auto op = ops.rbegin(); op != ops.rend(); ++op) {
        if (is(*op, PG_QUERY__NODE__NODE_STRING)) return named(stringValue(*op), 2);
      }
      return figure(n->a_indirection->arg, name);
    }
    case PG_QUERY__NODE__NODE_FUNC_CALL: {
      const Nodes f = items(n->func_call->funcname, n->func_call->n_funcname);
      return f.empty() ? 0 : named(stringValue(f.back()), 2);
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
      return n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF ? named("nullif", 2) : 0;
    case PG_QUERY__NODE__NODE_TYPE_CAST: {
      const int strength = figure(n->type_cast->arg, name);
      const PgQuery__TypeName* t = n->type_cast->type_name;
      if (strength <= 1 && t != nullptr && t->n_names > 0) {
        return named(stringValue(t->names[t->n_names - 1]), 1);
      }
      return strength;
    }
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE:
      return figure(n->collate_clause->arg, name);
    case PG_QUERY__NODE__NODE_GROUPING_FUNC:
      return named("grouping", 2);
    case PG_QUERY__NODE__NODE_SUB_LINK:
      switch (n->sub_link->sub_link_type) {
        case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
          return named("exists", 2);
        case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK:
          return named("array", 2);
        case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK:
          return figureSublink(n->sub_link->subselect, name);
        default:
          return 0;
      }
    case PG_QUERY__NODE__NODE_CASE_EXPR:
      return named("case", 1);
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
      return named("array", 1);
    case PG_QUERY__NODE__NODE_ROW_EXPR:
      return named("row", 1);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
      return named("coalesce", 2);
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
      return named(n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_LEAST ? "least" : "greatest", 2);
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION: {
      const auto op = static_cast<size_t>(n->sqlvalue_function->op);
      return op < kValueFunctions.size() ? named(kValueFunctions[op], 2) : 0;
    }
    case PG_QUERY__NODE__NODE_XML_EXPR: {
      const auto op = static_cast<size_t>(n->xml_expr->op);
      return op < kXml.size() ? named(kXml[op], 2) : 0;
    }
    case PG_QUERY__NODE__NODE_XML_SERIALIZE:
      return named("xmlserialize", 2);
    default:
      return 0;
  }
}

}  // namespace

void merge(ColumnLineage& into, const ColumnLineage& from) {
  for (const SourceColumn& s : from.sources) addUnique(into.sources, s);
  for (const RelationRef& r : from.whole_rows) addUnique(into.whole_rows, r);
  for (const FunctionRef& f : from.functions) addUnique(into.functions, f);
  if (from.untraceable) into.untraceable = true;
}

Nodes listItems(const Node* n) {
  if (!is(n, PG_QUERY__NODE__NODE_LIST) || n->list == nullptr) return {};
  return items(n->list->items, n->list->n_items);
}

FunctionRef functionRef(const PgQuery__FuncCall* call) {
  const Nodes names = items(call->funcname, call->n_funcname);
  FunctionRef ref;
  if (!names.empty()) ref.name = asciiLower(stringValue(names.back()));
  if (names.size() >= 2) ref.schema = asciiLower(stringValue(names[names.size() - 2]));
  return ref;
}

void mergeAll(ColumnLineage& into, const Output& o) {
  for (const ColumnLineage& c : o.columns) merge(into, c);
  if (!o.complete) merge(into, o.rest);
}

void renameColumns(Output& o, Nodes names) {
  for (size_t i = 0; i < names.size() && i < o.columns.size(); ++i) {
    o.columns[i].name = std::string(stringValue(names[i]));
  }
}

Output unite(Output l, const Output& r) {
  if (l.complete && r.complete && l.columns.size() == r.columns.size()) {
    for (size_t i = 0; i < l.columns.size(); ++i) {
      merge(l.columns[i], r.columns[i]);
      l.columns[i].plain = l.columns[i].plain && r.columns[i].plain;
    }
    return l;
  }
  // Positions are unknown: every column may be any of the other arm's.
  ColumnLineage all;
  mergeAll(all, r);
  for (ColumnLineage& c : l.columns) {
    merge(c, all);
    c.plain = false;
  }
  l.complete = false;
  merge(l.rest, all);
  return l;
}

bool sameLineage(const Output& a, const Output& b) {
  if (a.columns.size() != b.columns.size() || a.complete != b.complete) return false;
  for (size_t i = 0; i < a.columns.size(); ++i) {
    const ColumnLineage& x = a.columns[i];
    const ColumnLineage& y = b.columns[i];
    // Lineage only grows from one round to the next: equal sizes, equal sets.
    if (x.sources.size() != y.sources.size() || x.whole_rows.size() != y.whole_rows.size() ||
        x.functions.size() != y.functions.size() || x.untraceable != y.untraceable) {
      return false;
    }
  }
  return true;
}

Item itemOf(const Output& o) {
  Item it;
  it.columns = o.columns;
  it.complete = o.complete;
  it.rest = o.rest;
  return it;
}

void applyAlias(Item& it, const PgQuery__Alias* alias) {
  if (alias == nullptr) return;
  it.name = std::string(view(alias->aliasname));
  it.schema.clear();
  const Nodes names = items(alias->colnames, alias->n_colnames);
  for (size_t k = 0; k < names.size() && k < it.columns.size(); ++k) {
    it.columns[k].name = std::string(stringValue(names[k]));
    if (!it.complete) {  // which column gets the name is not known
      merge(it.columns[k], it.rest);
      it.columns[k].plain = false;
    }
  }
}

bool knownColumn(const Item& it, std::string_view name, ColumnLineage& out, bool& plain) {
  bool found = false;
  for (const ColumnLineage& c : it.columns) {
    if (c.name != name) continue;
    merge(out, c);
    plain = plain && c.plain;
    found = true;
  }
  return found;
}

bool columnOf(const Item& it, std::string_view name, ColumnLineage& out, bool& plain) {
  if (knownColumn(it, name, out, plain)) return true;
  if (it.complete) return false;
  merge(out, it.rest);
  plain = false;
  return true;
}

ColumnLineage wholeRow(const Item& it) {
  ColumnLineage c;
  if (it.table) {
    c.whole_rows.push_back(*it.table);
    return c;
  }
  for (const ColumnLineage& col : it.columns) merge(c, col);
  if (!it.complete) merge(c, it.rest);
  return c;
}

void assign(Item& it, std::string_view name, const ColumnLineage& value) {
  if (!reads(value)) return;
  bool found = false;
  for (ColumnLineage& c : it.columns) {
    if (c.name != name) continue;
    merge(c, value);
    c.plain = false;
    found = true;
  }
  if (!found) merge(it.rest, value);
}

const Output* findCte(const Level* l, std::string_view name) {
  for (; l != nullptr; l = l->parent) {
    for (auto c = l->ctes.rbegin(); c != l->ctes.rend(); ++c) {
      if (c->name == name) return c->out.get();
    }
  }
  return nullptr;
}

std::vector<const Item*> findItems(std::string_view schema, std::string_view name,
                                   const Level& lvl) {
  std::vector<const Item*> found;
  if (name.empty()) return found;
  eachLevel(lvl, [&](const Level& l) {
    for (const ItemPtr& it : l.visible) {
      if (it->name == name && (schema.empty() || it->schema == schema)) found.push_back(it.get());
    }
    return !found.empty();
  });
  return found;
}

ColumnLineage itemsColumn(const std::vector<const Item*>& found, std::string_view col) {
  ColumnLineage out;
  bool plain = true;
  for (const Item* it : found) {
    if (!columnOf(*it, col, out, plain)) {
      merge(out, wholeRow(*it));
      addUnique(out.functions, FunctionRef{"", asciiLower(col)});
      plain = false;
    }
  }
  out.plain = plain;
  return out;
}

std::string wholeRowName(const Node* n, const Level& lvl) {
  if (!is(n, PG_QUERY__NODE__NODE_COLUMN_REF) || n->column_ref->n_fields != 1) return "";
  const std::string name(stringValue(n->column_ref->fields[0]));
  if (name.empty() || columnVisible(name, lvl) || findItems("", name, lvl).empty()) return "";
  return name;
}

std::optional<std::vector<std::string>> functionColumns(const Node* call, bool& scalar) {
  if (!is(call, PG_QUERY__NODE__NODE_FUNC_CALL)) return std::nullopt;
  const FunctionRef f = functionRef(call->func_call);
  if (!f.schema.empty() && f.schema != "pg_catalog") return std::nullopt;
  static constexpr std::array<std::string_view, 9> kScalar = {
      "generate_series",       "generate_subscripts", "unnest",
      "regexp_split_to_table", "string_to_table",     "regexp_matches",
      "json_object_keys",      "jsonb_object_keys",   "jsonb_path_query"};
  scalar = std::find(kScalar.begin(), kScalar.end(), f.name) != kScalar.end();
  if (scalar) {
    // unnest(a, b) in FROM is ROWS FROM (unnest(a), unnest(b)).
    const size_t n = f.name == "unnest" ? std::max<size_t>(call->func_call->n_args, 1) : 1;
    return std::vector<std::string>(n, f.name);
  }
  if (f.name == "json_each" || f.name == "jsonb_each" || f.name == "json_each_text" ||
      f.name == "jsonb_each_text") {
    return std::vector<std::string>{"key", "value"};
  }
  if (f.name == "json_array_elements" || f.name == "jsonb_array_elements" ||
      f.name == "json_array_elements_text" || f.name == "jsonb_array_elements_text") {
    return std::vector<std::string>{"value"};
  }
  return std::nullopt;
}

std::string outputName(const PgQuery__ResTarget* rt) {
  if (!view(rt->name).empty()) return std::string(view(rt->name));
  std::string name;
  return figure(rt->val, name) > 0 ? name : "?column?";
}

}  // namespace pgw::sql::lineage_detail
