#include "sql/copy_options.h"

#include "sql/pg_tree.h"

namespace pgw::sql {

namespace {

using detail::asciiLower;
using detail::stringValue;
using detail::view;

/// A one-byte option value (delimiter, quote, escape); nullopt otherwise.
std::optional<char> singleByte(const PgQuery__DefElem* def) {
  const std::string_view v = stringValue(def->arg);
  if (v.size() != 1) return std::nullopt;
  return v[0];
}

/// HEADER's value as the server reads it (defGetCopyHeaderChoice): no
/// argument, true/on/1 are true; MATCH only applies to COPY FROM.
bool headerValue(const PgQuery__DefElem* def) {
  const PgQuery__Node* arg = def->arg;
  if (arg == nullptr) return true;
  if (arg->node_case == PG_QUERY__NODE__NODE_BOOLEAN) return arg->boolean->boolval;
  if (arg->node_case == PG_QUERY__NODE__NODE_INTEGER) return arg->integer->ival != 0;
  const std::string v = asciiLower(stringValue(arg));
  return v == "true" || v == "on" || v == "1" || v == "t" || v == "yes" || v == "y";
}

}  // namespace

std::optional<CopyOutOptions> copyOutOptions(std::string_view sql) {
  const detail::ParseOutcome parsed = detail::parseTree(std::string(sql));
  if (!parsed.tree || parsed.tree->n_stmts != 1) return std::nullopt;
  const PgQuery__RawStmt* raw = parsed.tree->stmts[0];
  if (raw == nullptr || raw->stmt == nullptr ||
      raw->stmt->node_case != PG_QUERY__NODE__NODE_COPY_STMT) {
    return std::nullopt;
  }
  const PgQuery__CopyStmt* copy = raw->stmt->copy_stmt;
  // protobuf-c gives an unset string as "" rather than null.
  if (copy->is_from || copy->is_program || !view(copy->filename).empty()) return std::nullopt;
  CopyOutOptions out;
  for (PgQuery__Node* node : detail::items(copy->options, copy->n_options)) {
    if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
    const PgQuery__DefElem* def = node->def_elem;
    const std::string name = asciiLower(view(def->defname));
    if (name == "format") {
      const std::string f = asciiLower(stringValue(def->arg));
      if (f == "csv") {
        out.format = CopyOutOptions::Format::Csv;
      } else if (f == "binary") {
        out.format = CopyOutOptions::Format::Binary;
      } else if (f != "text") {
        return std::nullopt;
      }
    } else if (name == "delimiter") {
      if (!(out.delimiter = singleByte(def))) return std::nullopt;
    } else if (name == "quote") {
      if (!(out.quote = singleByte(def))) return std::nullopt;
    } else if (name == "escape") {
      if (!(out.escape = singleByte(def))) return std::nullopt;
    } else if (name == "null") {
      out.null_string = std::string(stringValue(def->arg));
    } else if (name == "header") {
      out.header = headerValue(def);
    }
  }
  return out;
}

}  // namespace pgw::sql
