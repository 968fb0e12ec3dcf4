#pragma once
/// Small helpers over libpg_query's protobuf parse tree (pg_query.pb-c.h).
/// Internal to src/sql: nothing outside this folder includes libpg_query.

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace pgw::sql::detail {

/// Owns an unpacked parse tree; frees it with protobuf-c.
struct ParseTreeDeleter {
  void operator()(PgQuery__ParseResult* tree) const;
};
using ParseTree = std::unique_ptr<PgQuery__ParseResult, ParseTreeDeleter>;

/// The parse tree of `sql` (NUL-terminated), or the parser's error message.
/// Never throws; frees every libpg_query result before returning.
struct ParseOutcome {
  ParseTree tree;
  std::string error;  ///< set when `tree` is null
};
ParseOutcome parseTree(const std::string& sql);

/// A view of a protobuf repeated Node field.
inline std::span<PgQuery__Node* const> items(PgQuery__Node* const* nodes, std::size_t n) {
  return nodes == nullptr ? std::span<PgQuery__Node* const>() : std::span(nodes, n);
}

/// Null-safe view of a protobuf-c string.
inline std::string_view view(const char* s) {
  return s == nullptr ? std::string_view() : s;
}

/// ASCII lower case (identifiers, GUC names); bytes >= 0x80 are left alone.
std::string asciiLower(std::string_view s);

/// The value of a String node; "" for any other node.
std::string_view stringValue(const PgQuery__Node* node);

/// The libpg_query node type name of `node` ("SelectStmt", "RangeVar").
std::string_view nodeName(const PgQuery__Node* node);

/// The message inside a Node (the member its oneof selects), or null.
const ProtobufCMessage* unwrap(const PgQuery__Node* node);

/// Names joined with '.': a list of String nodes (`a.b`), `*` for A_Star.
std::string dottedName(std::span<PgQuery__Node* const> names);

/// A constant as written: A_Const (integer, float, string, boolean, bit
/// string, NULL), also behind a TypeCast (`'x'::text`) and a unary minus.
/// nullopt for anything else.
std::optional<std::string> constantText(const PgQuery__Node* node);

/// A string constant's value (A_Const sval, also behind a TypeCast).
std::optional<std::string> stringConstant(const PgQuery__Node* node);

/// The DefElem `name` in a list of DefElem nodes, or null.
const PgQuery__DefElem* findDefElem(std::span<PgQuery__Node* const> list, std::string_view name);

/// A DefElem's boolean as PostgreSQL's defGetBoolean reads it (no argument
/// means true). Unrecognized spellings read as true: callers use it for
/// options where true is the riskier answer (EXPLAIN's ANALYZE).
bool defElemTrue(const PgQuery__DefElem* def);

/// Policy-facing name of an object type: "table", "materialized_view",
/// "server", "foreign_data_wrapper", ...; "" for undefined.
std::string objectTypeName(PgQuery__ObjectType type);

/// Whether objects of this type are relations (their names go to
/// `relations_written`, not `objects`).
bool isRelationObjectType(PgQuery__ObjectType type);

}  // namespace pgw::sql::detail
