#include "sql/pg_tree.h"

#include <array>
#include <utility>

namespace pgw::sql::detail {

void ParseTreeDeleter::operator()(PgQuery__ParseResult* tree) const {
  pg_query__parse_result__free_unpacked(tree, nullptr);
}

ParseOutcome parseTree(const std::string& sql) {
  ParseOutcome out;
  PgQueryProtobufParseResult result = pg_query_parse_protobuf(sql.c_str());
  if (result.error != nullptr) {
    out.error = view(result.error->message);
    if (out.error.empty()) out.error = "syntax error";
  } else {
    out.tree.reset(pg_query__parse_result__unpack(
        nullptr, result.parse_tree.len, reinterpret_cast<const uint8_t*>(result.parse_tree.data)));
    if (!out.tree) out.error = "internal error: the parse tree could not be decoded";
  }
  pg_query_free_protobuf_parse_result(result);
  return out;
}

std::string asciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view stringValue(const PgQuery__Node* node) {
  if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_STRING ||
      node->string == nullptr) {
    return {};
  }
  return view(node->string->sval);
}

const ProtobufCMessage* unwrap(const PgQuery__Node* node) {
  if (node == nullptr || node->node_case == PG_QUERY__NODE__NODE__NOT_SET) return nullptr;
  // Every member of Node's oneof is a message pointer stored at the same
  // offset; the field descriptor of the selected case gives that offset.
  const ProtobufCFieldDescriptor* field = protobuf_c_message_descriptor_get_field(
      &pg_query__node__descriptor, static_cast<unsigned>(node->node_case));
  if (field == nullptr || field->type != PROTOBUF_C_TYPE_MESSAGE) return nullptr;
  const auto* base = reinterpret_cast<const char*>(node);
  return *reinterpret_cast<ProtobufCMessage* const*>(base + field->offset);
}

std::string_view nodeName(const PgQuery__Node* node) {
  const ProtobufCMessage* inner = unwrap(node);
  if (inner == nullptr) return "Node";
  return view(inner->descriptor->short_name);
}

std::string dottedName(std::span<PgQuery__Node* const> names) {
  std::string out;
  for (const PgQuery__Node* n : names) {
    if (!out.empty()) out += '.';
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_A_STAR) {
      out += '*';
    } else {
      out += stringValue(n);
    }
  }
  return out;
}

namespace {

const PgQuery__Node* stripCast(const PgQuery__Node* node) {
  while (node != nullptr && node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST &&
         node->type_cast != nullptr) {
    node = node->type_cast->arg;
  }
  return node;
}

}  // namespace

std::optional<std::string> constantText(const PgQuery__Node* node) {
  node = stripCast(node);
  if (node == nullptr) return std::nullopt;
  if (node->node_case == PG_QUERY__NODE__NODE_A_EXPR && node->a_expr != nullptr) {
    // The grammar folds `-5` into a constant, but `- 'x'::int` stays an
    // expression: accept a unary minus over a constant.
    const PgQuery__AExpr* e = node->a_expr;
    if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP && e->lexpr == nullptr && e->n_name == 1 &&
        stringValue(e->name[0]) == "-") {
      if (auto inner = constantText(e->rexpr)) return "-" + *inner;
    }
    return std::nullopt;
  }
  if (node->node_case != PG_QUERY__NODE__NODE_A_CONST || node->a_const == nullptr) {
    return std::nullopt;
  }
  const PgQuery__AConst* c = node->a_const;
  if (c->isnull) return std::string("NULL");
  switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
      return std::to_string(c->ival != nullptr ? c->ival->ival : 0);
    case PG_QUERY__A__CONST__VAL_FVAL:
      return std::string(c->fval != nullptr ? view(c->fval->fval) : "");
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
      return std::string(c->boolval != nullptr && c->boolval->boolval ? "true" : "false");
    case PG_QUERY__A__CONST__VAL_SVAL:
      return std::string(c->sval != nullptr ? view(c->sval->sval) : "");
    case PG_QUERY__A__CONST__VAL_BSVAL:
      return std::string(c->bsval != nullptr ? view(c->bsval->bsval) : "");
    default:
      return std::nullopt;
  }
}

std::optional<std::string> stringConstant(const PgQuery__Node* node) {
  node = stripCast(node);
  if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_A_CONST ||
      node->a_const == nullptr || node->a_const->isnull ||
      node->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL || node->a_const->sval == nullptr) {
    return std::nullopt;
  }
  return std::string(view(node->a_const->sval->sval));
}

const PgQuery__DefElem* findDefElem(std::span<PgQuery__Node* const> list, std::string_view name) {
  for (const PgQuery__Node* n : list) {
    if (n != nullptr && n->node_case == PG_QUERY__NODE__NODE_DEF_ELEM && n->def_elem != nullptr &&
        asciiLower(view(n->def_elem->defname)) == name) {
      return n->def_elem;
    }
  }
  return nullptr;
}

bool defElemTrue(const PgQuery__DefElem* def) {
  if (def == nullptr) return false;
  if (def->arg == nullptr) return true;
  // The grammar gives option values as bare String / Integer nodes.
  std::optional<std::string> text;
  if (def->arg->node_case == PG_QUERY__NODE__NODE_STRING) {
    text = std::string(stringValue(def->arg));
  } else if (def->arg->node_case == PG_QUERY__NODE__NODE_INTEGER && def->arg->integer != nullptr) {
    text = std::to_string(def->arg->integer->ival);
  } else {
    text = constantText(def->arg);
  }
  if (!text) return true;
  const std::string word = asciiLower(*text);
  return !(word == "false" || word == "off" || word == "0" || word == "no");
}

std::string objectTypeName(PgQuery__ObjectType type) {
  static constexpr std::array<std::pair<PgQuery__ObjectType, const char*>, 20> kRenamed = {{
      {PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW, "materialized_view"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_FDW, "foreign_data_wrapper"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_SERVER, "server"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT, "table_constraint"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_DOMCONSTRAINT, "domain_constraint"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_LARGEOBJECT, "large_object"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_OPCLASS, "operator_class"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_OPFAMILY, "operator_family"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_STATISTIC_EXT, "statistics"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_TSCONFIGURATION, "text_search_configuration"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_TSDICTIONARY, "text_search_dictionary"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_TSPARSER, "text_search_parser"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_TSTEMPLATE, "text_search_template"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_DEFACL, "default_privileges"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_AMOP, "operator_class_member"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_AMPROC, "operator_class_function"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_PUBLICATION_NAMESPACE, "publication_schema"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_PUBLICATION_REL, "publication_relation"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_PARAMETER_ACL, "parameter"},
      {PG_QUERY__OBJECT_TYPE__OBJECT_TYPE_UNDEFINED, ""},
  }};
  for (const auto& [t, name] : kRenamed) {
    if (t == type) return name;
  }
  const ProtobufCEnumValue* value =
      protobuf_c_enum_descriptor_get_value(&pg_query__object_type__descriptor, type);
  if (value == nullptr) return "";
  std::string_view name = view(value->name);  // "OBJECT_TABLE"
  constexpr std::string_view kPrefix = "OBJECT_";
  if (name.starts_with(kPrefix)) name.remove_prefix(kPrefix.size());
  return asciiLower(name);
}

bool isRelationObjectType(PgQuery__ObjectType type) {
  switch (type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
      return true;
    default:
      return false;
  }
}

}  // namespace pgw::sql::detail
