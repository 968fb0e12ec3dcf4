/// PolicySet::decide: one statement (and the statements nested in it)
/// against one compiled policy. Read-only and allocation-light on the allow
/// path; messages are built only for what is denied or sent to review.
///
/// Per statement, the first of these that fires decides it:
///   unparsed / parser settings > deny rules > guardrails > limits > dynamic
///   SQL > access level > review rules > allow.
/// Across a statement and its nested statements the strictest verdict wins
/// (deny > review > allow); among equally strict ones the earlier source in
/// the list above, then the outer statement.

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>

#include "policy/kind_names.h"
#include "policy/policy_set.h"

namespace pgw::policy {
namespace {

using K = sql::StatementKind;

constexpr std::string_view kDenied = "42501";    // insufficient_privilege
constexpr std::string_view kUnparsed = "42601";  // syntax_error
constexpr int kMaxNesting = 32;

/// Where a finding came from; a lower value wins among equally strict verdicts.
enum class Source { Unparsed, DenyRule, Guardrail, Limit, DynamicSql, Access, ReviewRule };

struct Finding {
  Verdict verdict = Verdict::Deny;
  Source source = Source::Access;
  std::string rule;
  std::string message;
  std::string detail;
  std::string hint;
  std::string_view sqlstate = kDenied;
};

/// The access level a statement needs, and why when the kind alone does not say.
struct Need {
  AccessLevel level = AccessLevel::Read;
  std::string why;
};

/// Object types that `ddl` may create, alter, drop, rename and comment on.
/// Everything else (servers, subscriptions, event triggers, languages,
/// tablespaces, casts, unknown or missing types) needs `admin`.
constexpr std::string_view kDdlObjects[] = {
    "table",
    "index",
    "view",
    "materialized_view",
    "sequence",
    "type",
    "domain",
    "function",
    "procedure",
    "routine",
    "aggregate",
    "trigger",
    "schema",
    "policy",
    "rule",
    "collation",
    "statistics",
    "foreign_table",
    "conversion",
    "operator",
    "operator_class",
    "operator_family",
    "column",
    "constraint",
    "large_object",
    "text_search_configuration",
    "text_search_dictionary",
    "text_search_parser",
    "text_search_template",
};

bool isDdlObject(std::string_view object_type) {
  for (std::string_view o : kDdlObjects) {
    if (o == object_type) return true;
  }
  return false;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Need requiredAccess(const sql::StatementInfo& s, bool executes) {
  Need need;
  if (!executes) return need;  // plain EXPLAIN's target: planned, not run
  auto raise = [&](AccessLevel level, std::string why) {
    if (level > need.level) need = Need{level, std::move(why)};
  };
  switch (s.kind) {
    case K::Select:
    case K::Values:
    case K::Show:
    case K::Explain:
    case K::Begin:
    case K::Commit:
    case K::Rollback:
    case K::Savepoint:
    case K::ReleaseSavepoint:
    case K::RollbackToSavepoint:
    case K::SetTransaction:
    case K::Set:
    case K::Reset:
    case K::Discard:
    case K::Prepare:
    case K::Execute:
    case K::Deallocate:
    case K::DeclareCursor:
    case K::Fetch:
    case K::Move:
    case K::ClosePortal:
    case K::Listen:
    case K::Unlisten:
    case K::CopyToStdout:
    case K::SetRole:
    case K::SetSessionAuthorization:
      break;
    case K::Insert:
    case K::Update:
    case K::Delete:
    case K::Merge:
    case K::CopyFromStdin:
    case K::Notify:
    case K::Call:
    case K::Do:
    case K::Lock:
      raise(AccessLevel::Write, "");
      break;
    case K::Create:
    case K::Alter:
    case K::Drop:
    case K::Rename:
    case K::Comment:
      if (isDdlObject(lower(s.object_type))) {
        raise(AccessLevel::Ddl, "");
      } else {
        raise(AccessLevel::Admin,
              s.object_type.empty()
                  ? "its object type is not known"
                  : fmt::format("{} objects are managed at admin level", lower(s.object_type)));
      }
      break;
    case K::Truncate:
    case K::CreateTableAs:
    case K::Refresh:
    case K::Vacuum:
    case K::Analyze:
    case K::Cluster:
    case K::Reindex:
      raise(AccessLevel::Ddl, "");
      break;
    default:
      raise(AccessLevel::Admin, "");
      break;
  }
  if (s.writes) raise(AccessLevel::Write, "it changes data");
  if (s.data_modifying_cte) raise(AccessLevel::Write, "its WITH clause changes data");
  if (s.locking_clause) raise(AccessLevel::Write, "it locks rows (FOR UPDATE / FOR SHARE)");
  if (s.select_into) raise(AccessLevel::Ddl, "SELECT ... INTO creates a table");
  for (const sql::FunctionRef& f : s.functions) {
    const std::string name = lower(f.name);
    if (isWritingFunction(name)) {
      raise(AccessLevel::Write, fmt::format("it calls {}(), which changes data", name));
    }
  }
  if (assignsSettings(s)) {
    for (const auto& [name, value] : s.settings) {
      if (turnsReadOnlyOff(lower(name), value)) {
        raise(AccessLevel::Write, fmt::format("it turns {} off", lower(name)));
      }
    }
  }
  return need;
}

std::string_view accessHint(AccessLevel level) {
  switch (level) {
    case AccessLevel::Read:
      return "this policy allows read access: SELECT, VALUES, SHOW, EXPLAIN (EXPLAIN ANALYZE "
             "only of statements it allows), SET of non-security settings, RESET, DISCARD, "
             "read-only transaction control, PREPARE/EXECUTE/DEALLOCATE, cursors "
             "(DECLARE/FETCH/MOVE/CLOSE), LISTEN/UNLISTEN, COPY ... TO STDOUT";
    case AccessLevel::Write:
      return "this policy allows write access: what read allows, plus INSERT, UPDATE and DELETE "
             "with WHERE, MERGE, COPY ... FROM STDIN, NOTIFY, CALL, DO without dynamic SQL, "
             "LOCK, SELECT ... FOR UPDATE, data-changing functions such as nextval()";
    case AccessLevel::Ddl:
      return "this policy allows ddl access: what write allows, plus CREATE/ALTER/DROP/COMMENT "
             "of tables, indexes, views, sequences, types, functions, triggers, schemas and "
             "similar objects, CREATE TABLE AS, REFRESH MATERIALIZED VIEW, VACUUM, ANALYZE, "
             "CLUSTER, REINDEX";
    case AccessLevel::Admin:
      return "this policy allows admin access: every statement its deny rules and guardrails "
             "do not deny";
  }
  return "";
}

/// "30s" / "1500ms" for a limit in a message.
std::string formatMs(std::chrono::milliseconds ms) {
  if (ms.count() % 1000 == 0) return fmt::format("{}s", ms.count() / 1000);
  return fmt::format("{}ms", ms.count());
}

/// A statement_timeout value as PostgreSQL reads it ("30s", "500", "1min",
/// "'2 h'") in milliseconds; nullopt when it cannot be read.
std::optional<double> timeoutMs(std::string_view value) {
  const std::string word = settingWord(value);
  const char* begin = word.c_str();
  char* end = nullptr;
  const double number = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(number) || number < 0) return std::nullopt;
  std::string_view unit(end);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  struct Unit {
    std::string_view name;
    double ms;
  };
  static constexpr Unit kUnits[] = {{"", 1},        {"us", 0.001},  {"ms", 1},      {"s", 1000},
                                    {"min", 60000}, {"h", 3600000}, {"d", 86400000}};
  for (const Unit& u : kUnits) {
    if (unit == u.name) return number * u.ms;
  }
  return std::nullopt;
}

class Decider {
 public:
  Decider(const CompiledPolicy& policy, AccessLevel access) : policy_(policy), access_(access) {}

  void visit(const sql::StatementInfo& s, const sql::StatementInfo* parent, bool executes,
             int depth) {
    if (depth > kMaxNesting) {
      consider(unparsed(s, "statements are nested too deeply to check"));
      return;
    }
    if (auto f = check(s, parent, executes)) consider(std::move(*f));
    if (s.kind == K::Unparsed) return;
    const bool nested_executes = executes && !(s.kind == K::Explain && !s.explain_analyze);
    for (const sql::StatementInfo& n : s.nested) visit(n, &s, nested_executes, depth + 1);
  }

  Decision result() && {
    Decision d;
    d.policy = policy_.name();
    if (!best_) {
      d.verdict = Verdict::Allow;
      d.rule = fmt::format("access:{}", accessName(access_));
      if (estimate_) d.estimate = std::move(*estimate_);
      return d;
    }
    d.verdict = best_->verdict;
    d.rule = std::move(best_->rule);
    d.message = std::move(best_->message);
    d.detail = std::move(best_->detail);
    d.hint = std::move(best_->hint);
    d.sqlstate = std::string(best_->sqlstate);
    return d;
  }

 private:
  static std::string describe(const sql::StatementInfo& s) {
    if (s.kind == K::Explain && s.explain_analyze) return "EXPLAIN ANALYZE";
    return kindDisplay(s.kind, lower(s.object_type));
  }

  void consider(Finding f) {
    if (!best_ || f.verdict > best_->verdict ||
        (f.verdict == best_->verdict && f.source < best_->source)) {
      best_ = std::move(f);
    }
  }

  std::string levelHint() const {
    std::string hint(accessHint(access_));
    if (policy_.reviewAccess()) {
      hint += fmt::format("; up to {} access with a reviewer's approval",
                          accessName(*policy_.reviewAccess()));
    }
    return hint;
  }

  Finding unparsed(const sql::StatementInfo& s, std::string detail) const {
    Finding f{Verdict::Deny,
              Source::Unparsed,
              "unparsed",
              fmt::format("pgwarden: policy \"{}\" denies a statement it cannot parse, so "
                          "cannot check (unparsed)",
                          policy_.name()),
              std::move(detail),
              "pgwarden checks every statement with PostgreSQL's own parser; fix the syntax",
              kUnparsed};
    if (f.detail.empty()) f.detail = s.error;
    return f;
  }

  std::optional<Finding> check(const sql::StatementInfo& s, const sql::StatementInfo* parent,
                               bool executes) const {
    if (s.kind == K::Unparsed) return unparsed(s, s.error);
    const std::string where = parent != nullptr ? " in " + describe(*parent) : std::string();
    const std::string& name = policy_.name();
    if (auto f = checkSqlReading(s, where)) return f;

    std::string what;
    for (const detail::CompiledRule& rule : policy_.denyRules()) {
      if (!rule.matches(s, &what)) continue;
      return Finding{Verdict::Deny,
                     Source::DenyRule,
                     rule.label(),
                     fmt::format("pgwarden: policy \"{}\" denies {}{} ({}){}", name, what, where,
                                 rule.label(), rule.reason().empty() ? "" : ": " + rule.reason()),
                     "",
                     levelHint()};
    }
    if (auto hit = checkGuardrails(s, policy_.liftedGuardrails())) {
      const std::string_view g = guardrailName(hit->guardrail);
      return Finding{
          Verdict::Deny,
          Source::Guardrail,
          fmt::format("guardrail:{}", g),
          fmt::format("pgwarden: policy \"{}\" denies {}{} (guardrail {})", name, hit->what, where,
                      g),
          "",
          fmt::format("{}; guardrail {} is on in every policy unless the configuration lifts it "
                      "(allow: [{}])",
                      guardrailAdvice(hit->guardrail), g, g)};
    }
    if (auto f = checkTimeout(s, where)) return f;
    if (s.dynamic_sql && access_ < AccessLevel::Admin) {
      return Finding{Verdict::Deny,
                     Source::DynamicSql,
                     "dynamic_sql",
                     fmt::format("pgwarden: policy \"{}\" denies {}{} with dynamic SQL: dynamic "
                                 "SQL in DO blocks cannot be checked (dynamic_sql)",
                                 name, describe(s), where),
                     "",
                     "write the statements in the block as constant SQL, or run them "
                     "directly; only admin policies may run dynamic SQL"};
    }
    const Need need = requiredAccess(s, executes);
    if (need.level > access_) {
      const std::string because =
          need.why.empty()
              ? fmt::format("it needs {} access", accessName(need.level))
              : fmt::format("{}, so it needs {} access", need.why, accessName(need.level));
      const std::string rule = fmt::format("access:{}", accessName(access_));
      const auto& review = policy_.reviewAccess();
      if (review && need.level <= *review) {
        return Finding{Verdict::Review,
                       Source::Access,
                       rule,
                       fmt::format("pgwarden: policy \"{}\" requires a reviewer's approval for "
                                   "{}{}: {}, and the policy grants {} without review ({})",
                                   name, describe(s), where, because, accessName(access_), rule),
                       "",
                       levelHint()};
      }
      return Finding{Verdict::Deny,
                     Source::Access,
                     rule,
                     fmt::format("pgwarden: policy \"{}\" denies {}{}: {}, and the policy grants "
                                 "{} ({})",
                                 name, describe(s), where, because, accessName(access_), rule),
                     "",
                     levelHint()};
    }
    for (const detail::CompiledRule& rule : policy_.reviewRules()) {
      if (!rule.matches(s, &what)) continue;
      if (rule.estimatedRows()) {
        // Decided by the planner's estimate, which the session asks for.
        if (parent == nullptr && plannable(s.kind) &&
            (!estimate_ || *rule.estimatedRows() < estimate_->rows_above)) {
          estimate_ = EstimateCheck{
              *rule.estimatedRows(), rule.label(),
              fmt::format("pgwarden: policy \"{}\" requires a reviewer's approval for {} the "
                          "planner expects to touch more than {} rows ({}){}",
                          name, what, *rule.estimatedRows(), rule.label(),
                          rule.reason().empty() ? "" : ": " + rule.reason())};
        }
        continue;
      }
      return Finding{Verdict::Review,
                     Source::ReviewRule,
                     rule.label(),
                     fmt::format("pgwarden: policy \"{}\" requires a reviewer's approval for "
                                 "{}{} ({}){}",
                                 name, what, where, rule.label(),
                                 rule.reason().empty() ? "" : ": " + rule.reason()),
                     "",
                     levelHint()};
    }
    return std::nullopt;
  }

  /// SQL text must reach the server read the way the analyzer read it.
  std::optional<Finding> checkSqlReading(const sql::StatementInfo& s,
                                         const std::string& where) const {
    if (writesPgSettings(s)) {
      // UPDATE pg_settings runs set_config() for each row, on any setting.
      return Finding{
          Verdict::Deny,
          Source::Unparsed,
          "parser_settings",
          fmt::format("pgwarden: policy \"{}\" denies {}{}: writing pg_settings changes "
                      "settings (how the server reads SQL among them) out of pgwarden's sight "
                      "(parser_settings)",
                      policy_.name(), describe(s), where),
          "",
          "use SET for the setting you need"};
    }
    if (!assignsSettings(s)) return std::nullopt;
    if (setsUnknownSetting(s)) {
      return Finding{
          Verdict::Deny,
          Source::Unparsed,
          "parser_settings",
          fmt::format("pgwarden: policy \"{}\" denies {}{} calling set_config() with a setting "
                      "name that is not a constant: it could change any setting, including how "
                      "the server reads SQL (parser_settings)",
                      policy_.name(), describe(s), where),
          "",
          "name the setting as a constant: set_config('work_mem', $1, false)"};
    }
    for (const auto& [raw_name, value] : s.settings) {
      const std::string setting = lower(raw_name);
      if (!changesSqlReading(setting, value)) continue;
      return Finding{
          Verdict::Deny,
          Source::Unparsed,
          "parser_settings",
          fmt::format("pgwarden: policy \"{}\" denies {}{} setting {} to {}: pgwarden reads SQL "
                      "as UTF-8 with standard_conforming_strings on, and the server must read it "
                      "the same way (parser_settings)",
                      policy_.name(), describe(s), where, setting,
                      value.empty() ? "an unknown value" : value),
          "",
          "keep client_encoding UTF8 and standard_conforming_strings on; convert text in the "
          "client instead"};
    }
    return std::nullopt;
  }

  /// With `limits.statement_timeout`, a statement may not raise or disable
  /// statement_timeout (RESET returns to the gateway's value and is fine).
  std::optional<Finding> checkTimeout(const sql::StatementInfo& s, const std::string& where) const {
    const std::chrono::milliseconds limit = policy_.limits().statement_timeout;
    if (limit.count() == 0 || !assignsSettings(s)) return std::nullopt;
    for (const auto& [raw_name, value] : s.settings) {
      if (lower(raw_name) != "statement_timeout" || settingWord(value) == "default") continue;
      const std::optional<double> ms = timeoutMs(value);
      // PostgreSQL rounds to whole milliseconds, and 0 means no timeout:
      // '0.4' or '400us' would turn the limit off.
      if (ms && std::round(*ms) >= 1 && *ms <= static_cast<double>(limit.count())) continue;
      return Finding{
          Verdict::Deny,
          Source::Limit,
          "limits:statement_timeout",
          fmt::format("pgwarden: policy \"{}\" denies {}{} setting statement_timeout to {}: the "
                      "policy limits statements to {} (limits:statement_timeout)",
                      policy_.name(), describe(s), where,
                      value.empty() ? "an unknown value" : value, formatMs(limit)),
          "",
          fmt::format("a statement_timeout between 1ms and {} is allowed", formatMs(limit))};
    }
    return std::nullopt;
  }

  const CompiledPolicy& policy_;
  AccessLevel access_;
  std::optional<Finding> best_;
  mutable std::optional<EstimateCheck> estimate_;  // set by check(), a const walk
};

}  // namespace

Decision PolicySet::decide(const CompiledPolicy& policy, const sql::StatementInfo& stmt,
                           std::optional<AccessLevel> granted) const {
  Decider decider(policy, granted ? std::max(*granted, policy.access()) : policy.access());
  decider.visit(stmt, nullptr, true, 0);
  return std::move(decider).result();
}

Decision PolicySet::decide(const CompiledPolicy& policy, const sql::Analysis& analysis,
                           std::optional<AccessLevel> granted) const {
  std::optional<Decision> worst;
  std::optional<EstimateCheck> estimate;
  for (std::size_t i = 0; i < analysis.statements.size(); ++i) {
    Decision d = decide(policy, analysis.statements[i], granted);
    if (d.estimate && !estimate) {
      estimate = d.estimate;
      estimate->statement = i;
    }
    if (!worst || d.verdict > worst->verdict) {
      d.statement = i;
      worst = std::move(d);
      if (worst->verdict == Verdict::Deny) break;
    }
  }
  if (worst) {
    if (worst->verdict == Verdict::Allow) worst->estimate = std::move(estimate);
    return std::move(*worst);
  }
  Decision allow;
  allow.verdict = Verdict::Allow;
  allow.policy = policy.name();
  allow.rule = fmt::format(
      "access:{}", accessName(granted ? std::max(*granted, policy.access()) : policy.access()));
  return allow;
}

bool plannable(sql::StatementKind kind) {
  using K = sql::StatementKind;
  return kind == K::Select || kind == K::Insert || kind == K::Update || kind == K::Delete ||
         kind == K::Merge;
}

}  // namespace pgw::policy
