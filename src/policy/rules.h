#pragma once
/// Internal to the policy module: a compiled deny/review rule and the name
/// patterns it matches tables and functions with.

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/config.h"
#include "sql/statement_info.h"

namespace re2 {
class RE2;
}

namespace pgw::policy::detail {

/// "name" or "schema.name" with `*` globs, matched case-insensitively. A
/// pattern without a schema matches every schema; a reference without a
/// schema (unqualified in the SQL, resolved by search_path at run time)
/// matches every schema pattern, so rules cannot be dodged with search_path.
class NamePattern {
 public:
  /// Parses `text`; errors name `path` ("config: <path>: <problem>").
  static Result<NamePattern> parse(std::string_view text, const std::string& path);

  bool matches(std::string_view schema, std::string_view name) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;    ///< as written, for messages
  std::string schema_;  ///< lower-case glob; empty = any schema
  std::string name_;    ///< lower-case glob
};

/// `*` matches any run of characters (also none); everything else is
/// compared case-insensitively. `pattern` must be lower case.
bool globMatch(std::string_view pattern, std::string_view text);

/// One entry of `deny:` or `review:`: all of its conditions must match.
class CompiledRule {
 public:
  /// Validates kind/object names and compiles the pattern. `path` is the
  /// rule's key path ("policies[0].deny[1]"), `label` its name in decisions
  /// ("deny[1]").
  static Result<CompiledRule> compile(const config::PolicyRuleConfig& rule, const std::string& path,
                                      std::string label);

  /// Whether the rule matches `stmt` (its own fields, not nested
  /// statements). On a match, `what` receives a short description of the
  /// match for the user ("SELECT reading table public.payroll").
  bool matches(const sql::StatementInfo& stmt, std::string* what) const;

  const std::string& label() const { return label_; }
  const std::string& reason() const { return reason_; }
  /// Review rules: the planner's row estimate this rule asks above.
  const std::optional<double>& estimatedRows() const { return estimated_rows_; }

 private:
  bool tableMatches(const sql::StatementInfo& stmt, std::string* matched, bool* written) const;

  std::string label_;
  std::optional<sql::StatementKind> kind_;
  std::string object_;  ///< lower case; "" = any
  bool without_where_ = false;
  std::optional<NamePattern> function_;
  std::optional<NamePattern> table_;
  bool writes_only_ = false;
  std::shared_ptr<const re2::RE2>
      pattern_;  ///< shared: RE2 is not copyable; const use is thread-safe
  std::string reason_;
  std::optional<double> estimated_rows_;
};

}  // namespace pgw::policy::detail
