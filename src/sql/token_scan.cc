#include "sql/token_scan.h"

#include <cctype>
#include <memory>
#include <span>
#include <vector>

#include "sql/pg_tree.h"

namespace pgw::sql::detail {
namespace {

struct ScanDeleter {
  void operator()(PgQuery__ScanResult* r) const {
    pg_query__scan_result__free_unpacked(r, nullptr);
  }
};
using ScanTokens = std::unique_ptr<PgQuery__ScanResult, ScanDeleter>;

/// The tokens of `sql`, or the scanner's error.
ScanTokens scan(const std::string& sql, std::string& error) {
  PgQueryScanResult result = pg_query_scan(sql.c_str());
  ScanTokens tokens;
  if (result.error != nullptr) {
    error = view(result.error->message);
    if (error.empty()) error = "syntax error";
  } else {
    tokens.reset(pg_query__scan_result__unpack(nullptr, result.pbuf.len,
                                               reinterpret_cast<const uint8_t*>(result.pbuf.data)));
    if (!tokens) error = "internal error: the token list could not be decoded";
  }
  pg_query_free_scan_result(result);
  return tokens;
}

std::span<PgQuery__ScanToken* const> tokensOf(const ScanTokens& t) {
  return t->tokens == nullptr ? std::span<PgQuery__ScanToken* const>()
                              : std::span(t->tokens, t->n_tokens);
}

enum class Effect { None, Open, Close, ResetLevel, ResetAll, Operator, Chain };

Effect effectOf(PgQuery__Token token) {
  switch (static_cast<int>(token)) {
    case '(':
    case '[':
    case PG_QUERY__TOKEN__CASE:
      return Effect::Open;
    case ')':
    case ']':
    case PG_QUERY__TOKEN__END_P:
      return Effect::Close;
    // The parser flattens AND / OR chains into one list, and these end one
    // expression of a list or CASE.
    case ',':
    case PG_QUERY__TOKEN__AND:
    case PG_QUERY__TOKEN__OR:
    case PG_QUERY__TOKEN__WHEN:
    case PG_QUERY__TOKEN__THEN:
    case PG_QUERY__TOKEN__ELSE:
      return Effect::ResetLevel;
    case ';':
      return Effect::ResetAll;
    case PG_QUERY__TOKEN__UNION:
    case PG_QUERY__TOKEN__INTERSECT:
    case PG_QUERY__TOKEN__EXCEPT:
    case PG_QUERY__TOKEN__JOIN:
      return Effect::Chain;
    case '+':
    case '-':
    case '*':
    case '/':
    case '%':
    case '^':
    case '<':
    case '>':
    case '=':
    case PG_QUERY__TOKEN__Op:
    case PG_QUERY__TOKEN__TYPECAST:
    case PG_QUERY__TOKEN__LESS_EQUALS:
    case PG_QUERY__TOKEN__GREATER_EQUALS:
    case PG_QUERY__TOKEN__NOT_EQUALS:
    case PG_QUERY__TOKEN__COLLATE:
    case PG_QUERY__TOKEN__AT:
    case PG_QUERY__TOKEN__NOT:
    case PG_QUERY__TOKEN__IS:
    case PG_QUERY__TOKEN__ISNULL:
    case PG_QUERY__TOKEN__NOTNULL:
    case PG_QUERY__TOKEN__LIKE:
    case PG_QUERY__TOKEN__ILIKE:
    case PG_QUERY__TOKEN__SIMILAR:
    case PG_QUERY__TOKEN__BETWEEN:
    case PG_QUERY__TOKEN__IN_P:
    case PG_QUERY__TOKEN__OPERATOR:
      return Effect::Operator;
    default:
      return Effect::None;
  }
}

}  // namespace

std::optional<std::string> checkNesting(const std::string& sql, int limit) {
  std::string error;
  const ScanTokens tokens = scan(sql, error);
  if (!tokens) return error;

  // Per open bracket level: operators since the level's last list separator
  // and set-operation / join links. The estimate is the number of open
  // levels plus everything counted on them.
  struct Level {
    int operators = 0;
    int chain = 0;
  };
  std::vector<Level> levels(1);
  long total = 0;
  for (const PgQuery__ScanToken* t : tokensOf(tokens)) {
    if (t == nullptr) continue;
    Level& top = levels.back();
    switch (effectOf(t->token)) {
      case Effect::Open:
        levels.emplace_back();
        break;
      case Effect::Close:
        if (levels.size() > 1) {
          total -= top.operators + top.chain;
          levels.pop_back();
        }
        break;
      case Effect::ResetLevel:
        total -= top.operators;
        top.operators = 0;
        break;
      case Effect::ResetAll:
        levels.assign(1, Level{});
        total = 0;
        break;
      case Effect::Operator:
        ++top.operators;
        ++total;
        break;
      case Effect::Chain:
        ++top.chain;
        ++total;
        break;
      case Effect::None:
        break;
    }
    if (static_cast<long>(levels.size()) + total > limit) {
      return "statement too deeply nested (more than " + std::to_string(limit) +
             " nested expressions, operators or set operations)";
    }
  }
  return std::nullopt;
}

std::optional<std::string> shapeKey(const std::string& sql, std::size_t& first_semicolon) {
  std::string error;
  const ScanTokens tokens = scan(sql, error);
  if (!tokens) return std::nullopt;
  first_semicolon = std::string::npos;
  std::string key;
  key.reserve(sql.size() + 16);
  std::string cuts;
  size_t copied = 0;  // sql[0, copied) is in the key
  for (const PgQuery__ScanToken* t : tokensOf(tokens)) {
    if (t == nullptr || t->start < 0 || t->end < t->start ||
        static_cast<size_t>(t->end) > sql.size()) {
      return std::nullopt;
    }
    const auto start = static_cast<size_t>(t->start);
    char marker = 0;
    switch (t->token) {
      case PG_QUERY__TOKEN__SCONST:
        marker = 's';
        break;
      case PG_QUERY__TOKEN__USCONST:
        // The scanner does not report where a U&'...' constant (with its
        // optional UESCAPE) ends: such text gets no shape.
        return std::nullopt;
      case PG_QUERY__TOKEN__ICONST:
        marker = 'i';
        break;
      case PG_QUERY__TOKEN__FCONST:
        marker = 'f';
        break;
      case PG_QUERY__TOKEN__BCONST:
        marker = 'b';
        break;
      case PG_QUERY__TOKEN__XCONST:
        marker = 'x';
        break;
      case PG_QUERY__TOKEN__ASCII_59:
        if (first_semicolon == std::string::npos) first_semicolon = start;
        continue;
      default:
        continue;
    }
    // A constant ends with its closing quote or dollar tag, or a digit of a
    // number; a span that does not is not cut (no shape: full analysis).
    const auto end = static_cast<size_t>(t->end);
    if (end == start) return std::nullopt;
    const char last = sql[end - 1];
    const bool quoted = marker == 's' || marker == 'b' || marker == 'x';
    if (quoted ? (last != '\'' && last != '$') : !std::isalnum(static_cast<unsigned char>(last))) {
      return std::nullopt;
    }
    // Everything between constants (keywords, names, operators, white
    // space, comments) is kept byte for byte: the normalized text and the
    // fingerprint, which keep it too, are then the same for the whole shape.
    key.append(sql, copied, start - copied);
    cuts += std::to_string(key.size());
    cuts += marker;
    key += '?';
    copied = end;
  }
  key.append(sql, copied);
  // Where the cuts are, so that no text without a constant at some offset
  // can produce the key of one with a constant there.
  key += '\0';
  key += cuts;
  return key;
}

std::optional<std::size_t> assignmentValueOffset(const std::string& text) {
  std::string error;
  const ScanTokens tokens = scan(text, error);
  if (!tokens) return std::nullopt;
  int depth = 0;
  for (const PgQuery__ScanToken* t : tokensOf(tokens)) {
    if (t == nullptr) continue;
    const int token = static_cast<int>(t->token);
    if (token == '(' || token == '[') {
      ++depth;
    } else if (token == ')' || token == ']') {
      --depth;
    } else if (depth == 0 && (token == PG_QUERY__TOKEN__COLON_EQUALS || token == '=')) {
      if (t->end < 0 || static_cast<std::size_t>(t->end) > text.size()) return std::nullopt;
      return static_cast<std::size_t>(t->end);
    }
  }
  return std::nullopt;
}

}  // namespace pgw::sql::detail
