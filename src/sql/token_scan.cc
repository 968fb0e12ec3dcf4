#include "sql/token_scan.h"

#include <cctype>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <span>
#include <vector>

#include "common/ascii.h"
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

namespace {

/// A shape key under construction: the text between constants byte for
/// byte (keywords, names, operators, white space, comments: the normalized
/// text and the fingerprint keep them too, so they are the same for the
/// whole shape), '?' for each constant, then a zero byte and where the cuts
/// are, so that no text without a constant at some offset can produce the
/// key of one with a constant there.
class KeyBuilder {
 public:
  explicit KeyBuilder(const std::string& sql) : sql_(sql) { key_.reserve(sql.size() + 16); }

  /// sql[start, end) is a constant of kind `marker`; cuts come in order.
  void cut(size_t start, size_t end, char marker) {
    key_.append(sql_, copied_, start - copied_);
    char digits[24];
    cuts_.append(std::begin(digits),
                 std::to_chars(std::begin(digits), std::end(digits), key_.size()).ptr);
    cuts_ += marker;
    key_ += '?';
    copied_ = end;
  }

  std::string finish() && {
    key_.append(sql_, copied_);
    key_ += '\0';
    key_ += cuts_;
    return std::move(key_);
  }

 private:
  const std::string& sql_;
  std::string key_;
  std::string cuts_;
  size_t copied_ = 0;  ///< sql_[0, copied_) is in the key
};

using ascii::isDigit;
bool isIdentStart(char c) {
  return ascii::isAlpha(c) || c == '_';
}
/// PostgreSQL's ident_cont, ASCII only (the plain subset has no other bytes
/// outside quotes).
bool isIdentCont(char c) {
  return isIdentStart(c) || isDigit(c) || c == '$';
}
bool isHighBit(char c) {
  return static_cast<unsigned char>(c) >= 0x80;
}
bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

std::optional<std::string> plainShapeKey(const std::string& sql, std::size_t& first_semicolon) {
  constexpr auto npos = std::string::npos;
  if (sql.find('\0') != npos) return std::nullopt;
  KeyBuilder key(sql);
  size_t semicolon = npos;
  const size_t n = sql.size();
  // sql[j], or 0 past the end (which no rule below accepts as continuing a
  // token).
  auto at = [&](size_t j) { return j < n ? sql[j] : '\0'; };
  size_t i = 0;
  while (i < n) {
    const char c = sql[i];
    if (isSpace(c)) {
      ++i;
    } else if (isIdentStart(c)) {
      // A keyword or name. One touching a quote may be a prefix (E'', B'',
      // X'', N''): left to the scanner.
      size_t j = i + 1;
      while (isIdentCont(at(j))) ++j;
      if (at(j) == '\'' || isHighBit(at(j))) return std::nullopt;
      i = j;
    } else if (isDigit(c)) {
      // An integer, ICONST while it fits in int32 (the scanner's
      // process_integer_literal), else FCONST; or digits '.' digits, FCONST.
      // Anything else a number can run into (an exponent, "1.", "1..",
      // trailing letters, another '.') is left to the scanner.
      size_t j = i;
      int64_t value = 0;
      char marker = 'i';
      for (; isDigit(at(j)); ++j) {
        if (marker == 'i') {
          value = value * 10 + (sql[j] - '0');
          if (value > std::numeric_limits<int32_t>::max()) marker = 'f';
        }
      }
      if (at(j) == '.') {
        if (!isDigit(at(j + 1))) return std::nullopt;
        for (j += 1; isDigit(at(j));) ++j;
        marker = 'f';
      }
      const char next = at(j);
      if (isIdentCont(next) || next == '.' || next == '\'' || next == '"' || isHighBit(next)) {
        return std::nullopt;
      }
      key.cut(i, j, marker);
      i = j;
    } else if (c == '\'') {
      // A string without backslashes ('' is a quote). One followed, after
      // white space, by another quote may continue into it: left to the
      // scanner, like every other kind of string.
      size_t j = i + 1;
      for (;; j += 2) {
        while (j < n && sql[j] != '\'' && sql[j] != '\\') ++j;
        if (j == n || sql[j] == '\\') return std::nullopt;
        if (at(j + 1) != '\'') break;
      }
      const size_t end = j + 1;
      size_t k = end;
      while (isSpace(at(k))) ++k;
      if (at(k) == '\'') return std::nullopt;
      key.cut(i, end, 's');
      i = end;
    } else if (c == '"') {
      // A quoted name, not empty and without "" inside.
      const size_t close = sql.find('"', i + 1);
      if (close == npos || close == i + 1 || at(close + 1) == '"') return std::nullopt;
      i = close + 1;
    } else if (c == '$') {
      // A parameter ($1); anything else starts a dollar-quoted string.
      size_t j = i + 1;
      if (!isDigit(at(j))) return std::nullopt;
      while (isDigit(at(j))) ++j;
      if (isIdentCont(at(j)) || isHighBit(at(j))) return std::nullopt;
      i = j;
    } else {
      switch (c) {
        case ';':
          if (semicolon == npos) semicolon = i;
          break;
        case '.':  // .5 is a number
          if (isDigit(at(i + 1))) return std::nullopt;
          break;
        case '-':  // a comment
          if (at(i + 1) == '-') return std::nullopt;
          break;
        case '/':  // a comment
          if (at(i + 1) == '*') return std::nullopt;
          break;
        case '&':  // U&'' and U&""
          if (at(i + 1) == '\'' || at(i + 1) == '"') return std::nullopt;
          break;
        case '(':
        case ')':
        case '[':
        case ']':
        case ',':
        case ':':
        case '+':
        case '*':
        case '%':
        case '^':
        case '<':
        case '>':
        case '=':
        case '~':
        case '!':
        case '@':
        case '#':
        case '|':
        case '?':
        case '`':
          break;
        default:  // a backslash, a control character, a byte past ASCII, ...
          return std::nullopt;
      }
      ++i;
    }
  }
  first_semicolon = semicolon;
  return std::move(key).finish();
}

std::optional<std::string> scannedShapeKey(const std::string& sql, std::size_t& first_semicolon) {
  std::string error;
  const ScanTokens tokens = scan(sql, error);
  if (!tokens) return std::nullopt;
  first_semicolon = std::string::npos;
  KeyBuilder key(sql);
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
    key.cut(start, end, marker);
  }
  return std::move(key).finish();
}

std::optional<std::string> shapeKey(const std::string& sql, std::size_t& first_semicolon) {
  if (auto key = plainShapeKey(sql, first_semicolon)) return key;
  return scannedShapeKey(sql, first_semicolon);
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
