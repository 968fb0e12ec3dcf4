// PL/pgSQL bodies (DO blocks, CREATE FUNCTION ... LANGUAGE plpgsql) through
// libpg_query's PL/pgSQL compiler, whose output is JSON: every PLpgSQL_expr
// in it is SQL text that runs, read as a statement, an expression or an
// assignment depending on where it sits; EXECUTE's text is dynamic.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "sql/analysis_context.h"
#include "sql/token_scan.h"

#if defined(__SANITIZE_ADDRESS__)
#define PGW_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PGW_LSAN 1
#endif
#endif
#ifdef PGW_LSAN
#include <sanitizer/lsan_interface.h>
#endif

namespace pgw::sql::detail {
namespace {

/// pg_query_parse_plpgsql (libpg_query 15-4.0.0, still so upstream) leaks
/// the raw parser's stderr buffer — one malloc'd byte — whenever the
/// PL/pgSQL compiler rejects the body. Nothing outside can free it. Under
/// LeakSanitizer only allocations made inside that one call are ignored.
PgQueryPlpgsqlParseResult parsePlpgsql(const std::string& input) {
#ifdef PGW_LSAN
  __lsan_disable();
#endif
  PgQueryPlpgsqlParseResult result = pg_query_parse_plpgsql(input.c_str());
#ifdef PGW_LSAN
  __lsan_enable();
#endif
  return result;
}

enum class ExprMode { Statement, Expression, Assignment, Dynamic };

/// How the SQL text of a PLpgSQL_expr found under member `key` of the
/// PL/pgSQL node `node` runs.
ExprMode modeOf(std::string_view node, std::string_view key) {
  if (key == "sqlstmt" || key == "cursor_explicit_expr") return ExprMode::Statement;
  if (key == "dynquery") return ExprMode::Dynamic;
  if (key == "query") {
    return node == "PLpgSQL_stmt_dynexecute" || node == "PLpgSQL_stmt_dynfors"
               ? ExprMode::Dynamic
               : ExprMode::Statement;  // FOR r IN query, RETURN QUERY, OPEN FOR query
  }
  if (key == "expr") {
    // PERFORM's text is already "SELECT ..."; CALL's and nested DO's are statements.
    if (node == "PLpgSQL_stmt_perform" || node == "PLpgSQL_stmt_call") return ExprMode::Statement;
    if (node == "PLpgSQL_stmt_assign") return ExprMode::Assignment;
  }
  return ExprMode::Expression;
}

/// A dollar-quoted literal of `body` whose tag does not occur in it.
std::string dollarQuote(std::string_view body) {
  std::string tag = "$pgw$";
  for (int i = 0; body.find(tag) != std::string_view::npos; ++i) {
    tag = "$pgw" + std::to_string(i) + "$";
  }
  return tag + std::string(body) + tag;
}

/// The value of `expr` when it is a single string constant ('DROP TABLE t',
/// $q$...$q$), the usual shape of EXECUTE's argument.
std::optional<std::string> constantStringExpression(std::string_view expr) {
  const std::string sql = "SELECT " + std::string(expr);
  if (checkNesting(sql)) return std::nullopt;
  const ParseOutcome parsed = parseTree(sql);
  if (!parsed.tree || parsed.tree->n_stmts != 1 || parsed.tree->stmts[0] == nullptr) {
    return std::nullopt;
  }
  const PgQuery__Node* stmt = parsed.tree->stmts[0]->stmt;
  if (stmt == nullptr || stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) return std::nullopt;
  const PgQuery__SelectStmt* select = stmt->select_stmt;
  if (select->n_target_list != 1 || select->n_from_clause != 0 || select->where_clause != nullptr) {
    return std::nullopt;
  }
  const PgQuery__Node* target = select->target_list[0];
  if (target == nullptr || target->node_case != PG_QUERY__NODE__NODE_RES_TARGET ||
      target->res_target == nullptr) {
    return std::nullopt;
  }
  return stringConstant(target->res_target->val);
}

/// Walks the JSON of pg_query_parse_plpgsql and analyzes each SQL text in it.
class BodyAnalyzer {
 public:
  /// `runs`: a DO block, whose statements run now (they go to `nested`);
  /// otherwise a function body being defined.
  BodyAnalyzer(Context& ctx, StatementInfo& info, bool runs)
      : ctx_(ctx), info_(info), runs_(runs) {}

  void run(std::string_view plpgsql_input) {
    const std::string input(plpgsql_input);
    PgQueryPlpgsqlParseResult result = parsePlpgsql(input);
    std::string error;
    std::string json_text;
    if (result.error != nullptr) {
      error = view(result.error->message);
      if (error.empty()) error = "syntax error";
    } else {
      json_text = view(result.plpgsql_funcs);
    }
    pg_query_free_plpgsql_parse_result(result);
    if (!error.empty()) {
      unanalyzable("PL/pgSQL body could not be analyzed: " + error);
      return;
    }
    const nlohmann::ordered_json tree = nlohmann::ordered_json::parse(json_text, nullptr, false);
    if (tree.is_discarded()) {
      unanalyzable("PL/pgSQL body could not be analyzed: unreadable compiler output");
      return;
    }
    walk(tree, "", "");
  }

 private:
  void walk(const nlohmann::ordered_json& j, std::string_view node, std::string_view key) {
    const DepthStep step(ctx_);
    if (!step.ok()) return;
    if (j.is_array()) {
      for (const nlohmann::ordered_json& item : j) walk(item, node, key);
      return;
    }
    if (!j.is_object()) return;
    for (const auto& [member, value] : j.items()) {
      if (member == "PLpgSQL_expr") {
        expr(value, node, key);
      } else if (member.starts_with("PLpgSQL_")) {
        walk(value, member, "");
      } else {
        walk(value, node, member);
      }
    }
  }

  void expr(const nlohmann::ordered_json& e, std::string_view node, std::string_view key) {
    if (!e.is_object() || !e.contains("query") || !e["query"].is_string()) return;
    const std::string& query = e["query"].get_ref<const std::string&>();
    switch (modeOf(node, key)) {
      case ExprMode::Statement:
        statement(query);
        break;
      case ExprMode::Expression:
        expression(query);
        break;
      case ExprMode::Assignment:
        if (const auto offset = assignmentValueOffset(query)) {
          expression(std::string_view(query).substr(*offset));
        } else {
          expression(query);
        }
        break;
      case ExprMode::Dynamic:
        info_.dynamic_sql = true;
        expression(query);
        if (const auto constant = constantStringExpression(query)) statement(*constant);
        break;
    }
  }

  void statement(std::string_view sql) {
    std::vector<StatementInfo> statements;
    std::string error;
    if (!analyzeNestedText(sql, ctx_, statements, error)) {
      unanalyzable("SQL in the body could not be analyzed: " + error);
      return;
    }
    for (StatementInfo& s : statements) {
      fold(info_, s, runs_ ? Fold::Runs : Fold::Defines);
      if (runs_) info_.nested.push_back(std::move(s));
    }
  }

  /// An expression runs as `SELECT expr` (which is also how PL/pgSQL runs it).
  void expression(std::string_view expr) {
    std::vector<StatementInfo> statements;
    std::string error;
    if (!analyzeNestedText("SELECT " + std::string(expr), ctx_, statements, error)) {
      unanalyzable("an expression in the body could not be analyzed: " + error);
      return;
    }
    for (const StatementInfo& s : statements) fold(info_, s, runs_ ? Fold::Runs : Fold::Defines);
  }

  /// Fail closed: what cannot be read counts as dynamic SQL.
  void unanalyzable(const std::string& note) {
    info_.dynamic_sql = true;
    addNote(info_, note);
  }

  Context& ctx_;
  StatementInfo& info_;
  bool runs_;
};

std::string languageOf(std::span<PgQuery__Node* const> options, std::string_view fallback) {
  const PgQuery__DefElem* def = findDefElem(options, "language");
  if (def == nullptr) return std::string(fallback);
  return asciiLower(stringValue(def->arg));
}

}  // namespace

void analyzeDoBlock(const PgQuery__DoStmt* stmt, std::string_view text, Context& ctx,
                    StatementInfo& info) {
  const auto args = items(stmt->args, stmt->n_args);
  const std::string language = languageOf(args, "plpgsql");
  if (language != "plpgsql") {
    info.dynamic_sql = true;
    addNote(info, "DO block in language " + language + " cannot be analyzed");
    return;
  }
  const PgQuery__DefElem* body = findDefElem(args, "as");
  const std::string_view source = body != nullptr ? stringValue(body->arg) : std::string_view();
  BodyAnalyzer analyzer(ctx, info, true);
  analyzer.run(text.empty() ? "DO " + dollarQuote(source) : std::string(text));
}

void analyzeFunctionBody(const PgQuery__CreateFunctionStmt* stmt, std::string_view text,
                         Context& ctx, StatementInfo& info) {
  if (stmt->sql_body != nullptr) return;  // BEGIN ATOMIC / RETURN: already in the tree
  const auto options = items(stmt->options, stmt->n_options);
  const std::string language = languageOf(options, "sql");
  const PgQuery__DefElem* as = findDefElem(options, "as");
  std::string_view source;
  if (as != nullptr && as->arg != nullptr && as->arg->node_case == PG_QUERY__NODE__NODE_LIST &&
      as->arg->list != nullptr && as->arg->list->n_items >= 1) {
    source = stringValue(as->arg->list->items[0]);
  }
  if (language == "sql") {
    std::vector<StatementInfo> statements;
    std::string error;
    if (!analyzeNestedText(source, ctx, statements, error)) {
      info.dynamic_sql = true;
      addNote(info, "function body could not be analyzed: " + error);
      return;
    }
    for (const StatementInfo& s : statements) fold(info, s, Fold::Defines);
  } else if (language == "plpgsql") {
    if (text.empty()) {
      info.dynamic_sql = true;
      addNote(info, "function body could not be analyzed: no statement text");
      return;
    }
    BodyAnalyzer analyzer(ctx, info, false);
    analyzer.run(text);
  } else {
    info.dynamic_sql = true;
    addNote(info, "function body in language " + language + " cannot be analyzed");
  }
}

}  // namespace pgw::sql::detail
