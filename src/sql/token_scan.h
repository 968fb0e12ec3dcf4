#pragma once
/// Checks on query text made with PostgreSQL's scanner alone (flat, no
/// recursion), before the parser builds a tree.
///
/// Why: libpg_query's parser is a bison automaton with an explicit stack,
/// but its tree output (protobuf, JSON, normalize) recurses once per tree
/// level. Left-associative chains (`1+1+1+...`, `a::t::t...`, UNION after
/// UNION, JOIN after JOIN) nest the tree without growing bison's stack, and
/// about 20,000 levels (40 kB of text) overflow a 2 MB thread stack inside
/// libpg_query. The estimate below bounds that depth from the tokens.

#include <cstddef>
#include <optional>
#include <string>

namespace pgw::sql::detail {

/// Upper bound on the nesting estimate accepted (far below what overflows).
inline constexpr int kMaxTokenNesting = 1000;

/// nullopt when `sql`'s estimated tree depth is within `limit`; otherwise the
/// error to report. A text the scanner rejects returns the scanner's message.
std::optional<std::string> checkNesting(const std::string& sql, int limit = kMaxTokenNesting);

/// The shape key of `sql` (see sql::QueryShape): the text with constant
/// tokens replaced by a kind marker, then the offsets of the cuts; and in
/// `first_semicolon` the offset of the first top-level `;` token (npos when
/// none). nullopt when the scanner rejects the text.
std::optional<std::string> shapeKey(const std::string& sql, std::size_t& first_semicolon);

/// The two ways shapeKey() takes. plainShapeKey() reads the common plain
/// subset of SQL by hand: ASCII names and keywords, integers and simple
/// decimals, strings without backslashes, quoted names, $n parameters and
/// operators, no comments; for any other text it returns nullopt and
/// shapeKey() asks PostgreSQL's scanner (scannedShapeKey()), which costs
/// about thirty times as much. For every text plainShapeKey() accepts, both
/// give the same key and semicolon (a differential test checks it).
std::optional<std::string> plainShapeKey(const std::string& sql, std::size_t& first_semicolon);
std::optional<std::string> scannedShapeKey(const std::string& sql, std::size_t& first_semicolon);

/// For a PL/pgSQL assignment (`x := expr`, `a.b[1] = expr`): the offset just
/// past the assignment operator, or nullopt when there is none.
std::optional<std::size_t> assignmentValueOffset(const std::string& text);

}  // namespace pgw::sql::detail
