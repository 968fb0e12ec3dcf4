#include "sql/analyzer.h"

#include <algorithm>
#include <exception>
#include <string>
#include <utility>

#include "sql/analysis_context.h"
#include "sql/token_scan.h"

namespace pgw::sql {
namespace detail {

/// Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), as
/// PostgreSQL's pg_utf8_islegal accepts it.
bool validUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const unsigned char* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (end - p < len) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (int i = 2; i < len; ++i) {
      if (p[i] < 0x80 || p[i] > 0xBF) return false;
    }
    p += len;
  }
  return true;
}

std::string_view trimSpace(std::string_view s) {
  auto space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace detail

namespace {

using detail::trimSpace;
using detail::validUtf8;

std::string fingerprintOf(const std::string& text) {
  PgQueryFingerprintResult r = pg_query_fingerprint(text.c_str());
  std::string out = r.error == nullptr ? std::string(detail::view(r.fingerprint_str)) : "";
  pg_query_free_fingerprint_result(r);
  return out;
}

std::string normalizedOf(const std::string& text) {
  PgQueryNormalizeResult r = pg_query_normalize(text.c_str());
  std::string out = r.error == nullptr ? std::string(detail::view(r.normalized_query)) : text;
  pg_query_free_normalize_result(r);
  return out;
}

/// The protobuf-c runtime bundled in libpg_query and the header this file
/// reads its descriptors with must be the same major.minor (same struct
/// layout); otherwise every analysis fails closed.
bool protobufAbiMatches() {
  static const bool matches =
      protobuf_c_version_number() / 1000 == PROTOBUF_C_VERSION_NUMBER / 1000;
  return matches;
}

Analysis unparsed(std::string_view sql, std::string error) {
  Analysis a;
  a.parsed = false;
  StatementInfo info;
  info.kind = StatementKind::Unparsed;
  info.text = std::string(sql);
  info.error = std::move(error);
  a.statements.push_back(std::move(info));
  return a;
}

/// Statements of `text`: bounds, parse, classification, fingerprints.
bool analyzeText(std::string_view text, detail::Context& ctx, std::vector<StatementInfo>& out,
                 std::string& error) {
  const AnalyzerOptions& opts = ctx.options;
  if (text.size() > opts.max_query_bytes) {
    error = "query text is " + std::to_string(text.size()) + " bytes, more than the " +
            std::to_string(opts.max_query_bytes) + " bytes pgwarden analyzes";
    return false;
  }
  if (text.find('\0') != std::string_view::npos) {
    error = "query text contains a zero byte";
    return false;
  }
  if (opts.require_utf8 && !validUtf8(text)) {
    error = "query text is not valid UTF-8";
    return false;
  }
  const std::string owned(text);
  if (auto nesting = detail::checkNesting(owned)) {
    error = std::move(*nesting);
    return false;
  }
  const detail::ParseOutcome parsed = detail::parseTree(owned);
  if (!parsed.tree) {
    error = parsed.error;
    return false;
  }
  for (size_t i = 0; i < parsed.tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = parsed.tree->stmts[i];
    if (raw == nullptr || raw->stmt == nullptr) continue;
    // stmt_len 0 means "to the end of the text".
    const size_t begin =
        std::min(static_cast<size_t>(std::max(raw->stmt_location, 0)), text.size());
    const size_t len = raw->stmt_len > 0 ? static_cast<size_t>(raw->stmt_len) : text.size() - begin;
    StatementInfo info;
    info.text = std::string(trimSpace(text.substr(begin, len)));
    detail::classifyStatement(raw->stmt, info.text, ctx, info);
    if (ctx.too_deep) {
      error = std::string(detail::kTooDeep);
      return false;
    }
    info.fingerprint = fingerprintOf(info.text);
    info.normalized = normalizedOf(info.text);
    out.push_back(std::move(info));
  }
  return true;
}

}  // namespace

namespace detail {

bool analyzeNestedText(std::string_view text, Context& ctx, std::vector<StatementInfo>& out,
                       std::string& error) {
  if (ctx.code_nesting >= ctx.options.max_code_nesting) {
    error = "DO blocks or EXECUTE strings nested more than " +
            std::to_string(ctx.options.max_code_nesting) + " deep";
    return false;
  }
  ++ctx.code_nesting;
  const bool ok = analyzeText(text, ctx, out, error);
  --ctx.code_nesting;
  return ok;
}

void addRelation(std::vector<RelationRef>& list, RelationRef ref) {
  if (std::find(list.begin(), list.end(), ref) == list.end()) list.push_back(std::move(ref));
}

void addFunction(std::vector<FunctionRef>& list, FunctionRef ref) {
  if (std::find(list.begin(), list.end(), ref) == list.end()) list.push_back(std::move(ref));
}

void addName(std::vector<std::string>& list, std::string name) {
  if (name.empty()) return;
  if (std::find(list.begin(), list.end(), name) == list.end()) list.push_back(std::move(name));
}

void addSetting(StatementInfo& info, std::string name, std::string value) {
  std::pair<std::string, std::string> entry(std::move(name), std::move(value));
  if (std::find(info.settings.begin(), info.settings.end(), entry) == info.settings.end()) {
    info.settings.push_back(std::move(entry));
  }
}

void addNote(StatementInfo& info, std::string_view note) {
  if (info.error.find(note) != std::string::npos) return;
  if (!info.error.empty()) info.error += "; ";
  info.error += note;
}

void fold(StatementInfo& outer, const StatementInfo& inner, Fold how) {
  for (const FunctionRef& f : inner.functions) addFunction(outer.functions, f);
  if (inner.dynamic_sql) outer.dynamic_sql = true;
  if (!inner.error.empty()) addNote(outer, inner.error);
  if (how == Fold::Defines) return;
  for (const RelationRef& r : inner.relations_read) addRelation(outer.relations_read, r);
  for (const std::string& c : inner.columns) addName(outer.columns, c);
  if (inner.reads) outer.reads = true;
  if (how == Fold::PlansOnly) {
    for (const RelationRef& r : inner.relations_written) addRelation(outer.relations_read, r);
    return;
  }
  for (const RelationRef& r : inner.relations_written) addRelation(outer.relations_written, r);
  for (const std::string& o : inner.objects) addName(outer.objects, o);
  for (const auto& [name, value] : inner.settings) addSetting(outer, name, value);
  if (inner.writes) outer.writes = true;
  if (inner.missing_where) outer.missing_where = true;
  if (inner.data_modifying_cte) outer.data_modifying_cte = true;
  if (inner.select_into) outer.select_into = true;
  if (inner.locking_clause) outer.locking_clause = true;
  if (inner.explain_analyze) outer.explain_analyze = true;
}

}  // namespace detail

Analysis analyze(std::string_view sql, const AnalyzerOptions& options) {
  if (!protobufAbiMatches()) {
    return unparsed(sql, std::string("internal error: libpg_query's protobuf-c runtime ") +
                             protobuf_c_version() + " does not match the header " +
                             PROTOBUF_C_VERSION);
  }
  try {
    detail::Context ctx(options);
    Analysis analysis;
    std::string error;
    if (!analyzeText(sql, ctx, analysis.statements, error)) return unparsed(sql, std::move(error));
    return analysis;
  } catch (const std::exception& e) {
    return unparsed(sql, std::string("internal error while analyzing: ") + e.what());
  }
}

Analysis analyze(std::string_view sql) {
  return analyze(sql, AnalyzerOptions{});
}

std::optional<QueryShape> shapeOf(std::string_view sql, const AnalyzerOptions& options) {
  // The checks analyze() makes before parsing depend on the constants too
  // (their length, their bytes): a text failing one has no shape.
  if (sql.size() > options.max_query_bytes || sql.find('\0') != std::string_view::npos ||
      (options.require_utf8 && !validUtf8(sql))) {
    return std::nullopt;
  }
  const std::string owned(sql);
  size_t semicolon = std::string::npos;
  auto key = detail::shapeKey(owned, semicolon);
  if (!key) return std::nullopt;
  QueryShape shape;
  shape.key = std::move(*key);
  // analyze() gives a statement the text up to its terminating ';'.
  shape.statement_text = std::string(trimSpace(sql.substr(0, semicolon)));
  return shape;
}

bool shapeDetermines(const Analysis& analysis, const QueryShape& shape) {
  if (!analysis.parsed || analysis.statements.size() != 1) return false;
  const StatementInfo& s = analysis.statements.front();
  switch (s.kind) {
    case StatementKind::Select:
    case StatementKind::Insert:
    case StatementKind::Update:
    case StatementKind::Delete:
    case StatementKind::Merge:
    case StatementKind::Values:
      break;
    default:
      return false;
  }
  return s.settings.empty() && s.objects.empty() && s.nested.empty() && !s.dynamic_sql &&
         s.error.empty() && s.text == shape.statement_text;
}

Analysis forShape(const Analysis& analysis, const QueryShape& shape) {
  Analysis copy = analysis;
  if (!copy.statements.empty()) copy.statements.front().text = shape.statement_text;
  return copy;
}

}  // namespace pgw::sql
