#pragma once
/// Internal plumbing shared by the analyzer's parts: the per-analysis
/// context (bounds, depth), the entry points the parts call on each other,
/// and the helpers that merge findings into a StatementInfo.

#include <string>
#include <string_view>
#include <vector>

#include "sql/analyzer.h"
#include "sql/pg_tree.h"
#include "sql/statement_info.h"

namespace pgw::sql::detail {

/// State of one call to analyze(), shared by every nested analysis it makes.
struct Context {
  explicit Context(const AnalyzerOptions& opts) : options(opts) {}

  const AnalyzerOptions& options;
  int depth = 0;          ///< parse-tree levels currently entered (all trees together)
  bool too_deep = false;  ///< some walk went past options.max_depth
  int code_nesting = 0;   ///< DO bodies / EXECUTE strings currently entered
};

/// One level deeper for as long as it lives; `ok()` is false (and the
/// context marked too deep) past the limit — the caller then stops walking.
class DepthStep {
 public:
  explicit DepthStep(Context& ctx) : ctx_(ctx) {
    ++ctx_.depth;
    if (ctx_.depth > ctx_.options.max_depth) ctx_.too_deep = true;
  }
  ~DepthStep() { --ctx_.depth; }
  DepthStep(const DepthStep&) = delete;
  DepthStep& operator=(const DepthStep&) = delete;
  bool ok() const { return !ctx_.too_deep; }

 private:
  Context& ctx_;
};

/// Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF), as
/// PostgreSQL's pg_utf8_islegal accepts it.
bool validUtf8(std::string_view s);

/// `s` without leading and trailing ASCII white space.
std::string_view trimSpace(std::string_view s);

/// Message for statements past the depth bound.
inline constexpr std::string_view kTooDeep = "statement too deeply nested";

/// Analyzes a text of statements that run inside an enclosing statement (a
/// DO block's static SQL, a constant EXECUTE string): parse, classify, text,
/// fingerprint. False with `error` set when the text cannot be analyzed.
bool analyzeNestedText(std::string_view text, Context& ctx, std::vector<StatementInfo>& out,
                       std::string& error);

/// Fills `info` from one parsed statement: kind, flags, relations, functions,
/// settings, nested statements. `text` is the statement's own text ("" for a
/// subtree of another statement, such as EXPLAIN's target).
void classifyStatement(const PgQuery__Node* stmt, std::string_view text, Context& ctx,
                       StatementInfo& info);

/// A DO block: analyzes its PL/pgSQL body into `info.nested` and folds it.
void analyzeDoBlock(const PgQuery__DoStmt* stmt, std::string_view text, Context& ctx,
                    StatementInfo& info);

/// CREATE FUNCTION / PROCEDURE: the functions its body calls and whether it
/// runs dynamic SQL (the body does not run now, so nothing else is folded).
void analyzeFunctionBody(const PgQuery__CreateFunctionStmt* stmt, std::string_view text,
                         Context& ctx, StatementInfo& info);

/// What a nested statement contributes to its parent.
enum class Fold {
  Runs,       ///< it runs as part of the parent: everything
  PlansOnly,  ///< EXPLAIN without ANALYZE: what it reads and calls, no writes or flags
  Defines,    ///< a function body being defined: functions called and dynamic SQL
};
void fold(StatementInfo& outer, const StatementInfo& inner, Fold how);

void addRelation(std::vector<RelationRef>& list, RelationRef ref);
void addFunction(std::vector<FunctionRef>& list, FunctionRef ref);
void addName(std::vector<std::string>& list, std::string name);
void addSetting(StatementInfo& info, std::string name, std::string value);

/// Appends `note` to `info.error` (notes about parts that could not be analyzed).
void addNote(StatementInfo& info, std::string_view note);

}  // namespace pgw::sql::detail
