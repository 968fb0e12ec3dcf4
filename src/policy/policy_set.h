#pragma once
/// The policy engine: the `policies:` of a config compiled once into an
/// immutable PolicySet, shared as `std::shared_ptr<const PolicySet>` and read
/// without locks by every session (a reload builds a new set and swaps the
/// pointer; a bad config is rejected whole).
///
///   auto set = PolicySet::compile(*config);           // at load / reload
///   const CompiledPolicy* p = (*set)->match(subject, "prod");   // at connect
///   if (!p) refuse with PolicySet::refusal(subject, "prod")     // 28000
///   Decision d = (*set)->decide(*p, analysis);        // per statement
///
/// What each access level allows, the guardrails and how rules combine are
/// documented in docs/policy.md.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "auth/subject.h"
#include "common/result.h"
#include "config/config.h"
#include "policy/guardrails.h"
#include "policy/rules.h"
#include "sql/statement_info.h"

namespace pgw::policy {

using config::AccessLevel;

/// "read", "write", "ddl", "admin".
std::string_view accessName(AccessLevel level);

/// Ordered by strictness: a stricter verdict compares greater.
enum class Verdict { Allow, Review, Deny };

/// "allow", "review", "deny".
std::string_view verdictName(Verdict verdict);

/// Statements the planner plans on their own, so EXPLAIN can estimate them:
/// SELECT, INSERT, UPDATE, DELETE, MERGE.
bool plannable(sql::StatementKind kind);

/// A review rule with `estimated_rows` that matched an allowed statement: the
/// session asks the planner (EXPLAIN without ANALYZE) and sends the statement
/// to review when the estimate is above `rows_above`.
struct EstimateCheck {
  double rows_above = 0;
  std::string rule;           ///< "review[2]"
  std::string message;        ///< the review's message when the estimate is over
  std::size_t statement = 0;  ///< which statement of the query to EXPLAIN
};

/// The outcome for one statement (with its nested statements) or one query.
struct Decision {
  Verdict verdict = Verdict::Deny;
  std::string policy;  ///< name of the governing policy ("" when no policy matched)
  /// What decided: "access:read" (allowed, or beyond the access level),
  /// "guardrail:delete_without_where", "deny[1]", "review[0]",
  /// "dynamic_sql", "limits:statement_timeout", "unparsed", "parser_settings",
  /// "no_policy".
  std::string rule;
  std::string message;        ///< for the client's ErrorResponse; "" when allowed
  std::string detail;         ///< e.g. the parser's message for SQL that does not parse
  std::string hint;           ///< what the policy allows / what to do instead
  std::string sqlstate;       ///< "42501"; "42601" for SQL that does not parse; "" when allowed
  std::size_t statement = 0;  ///< deciding statement's index, for decide() on an Analysis
  /// Allowed unless the planner's estimate says otherwise (see EstimateCheck).
  std::optional<EstimateCheck> estimate;

  bool allowed() const { return verdict == Verdict::Allow; }
};

/// One policy, compiled. Owned by its PolicySet; valid as long as the set.
class CompiledPolicy {
 public:
  const std::string& name() const { return name_; }
  std::size_t index() const { return index_; }  ///< position in `policies:`
  AccessLevel access() const { return access_; }
  /// Access level reachable with a human approval; nullopt = none.
  const std::optional<AccessLevel>& reviewAccess() const { return review_access_; }
  /// The credential name (under `connections.<c>.credentials`) for a
  /// connection this policy covers; nullptr for any other connection.
  const std::string* credential(std::string_view connection) const;
  /// Every connection this policy covers, with its credential name.
  const std::map<std::string, std::string, std::less<>>& credentials() const {
    return credentials_;
  }
  const config::PolicyLimits& limits() const { return limits_; }
  const config::ApprovalConfig& approval() const { return approval_; }
  const config::JitConfig& jit() const { return jit_; }
  /// What the audit trail keeps of this policy's statements.
  config::AuditParams auditParameters() const { return audit_parameters_; }
  /// The session must be made read-only upstream (default_transaction_read_only
  /// as a startup parameter) and kept so: access is read, and no approved
  /// statement may write either (review_access is read or unset).
  bool readOnlySession() const {
    return access_ == AccessLevel::Read &&
           review_access_.value_or(AccessLevel::Read) == AccessLevel::Read;
  }
  bool lifted(Guardrail g) const { return lifted_.test(static_cast<std::size_t>(g)); }
  const GuardrailSet& liftedGuardrails() const { return lifted_; }
  const std::vector<detail::CompiledRule>& denyRules() const { return deny_; }
  const std::vector<detail::CompiledRule>& reviewRules() const { return review_; }

  bool matchesSubject(const auth::Subject& subject) const;
  bool matchesConnection(std::string_view connection) const;

 private:
  friend class PolicySet;

  std::string name_;
  std::size_t index_ = 0;
  std::vector<std::string> groups_;
  std::vector<std::string> ids_;
  bool any_subject_ = false;
  bool any_connection_ = false;
  std::map<std::string, std::string, std::less<>> credentials_;  ///< connection -> credential
  AccessLevel access_ = AccessLevel::Read;
  std::optional<AccessLevel> review_access_;
  std::vector<detail::CompiledRule> deny_;
  std::vector<detail::CompiledRule> review_;
  GuardrailSet lifted_;
  config::PolicyLimits limits_;
  config::AuditParams audit_parameters_ = config::AuditParams::Redacted;
  config::ApprovalConfig approval_;
  config::JitConfig jit_;
};

class PolicySet {
 public:
  /// Validates and compiles `config.policies` (kinds, guardrail names, RE2
  /// patterns). Errors: SQLSTATE F0000, "config: <key path>: <problem>"
  /// with paths such as policies[2].deny[1].pattern. An empty list compiles
  /// (every session will then be refused; see warnings()).
  static Result<std::shared_ptr<const PolicySet>> compile(const config::Config& config);

  /// The first policy whose subjects and connections match, like a
  /// pg_hba.conf line; nullptr = none: refuse the session with refusal().
  const CompiledPolicy* match(const auth::Subject& subject, std::string_view connection) const;

  /// Decides one statement and its nested statements (EXPLAIN ANALYZE's
  /// target, PREPARE's body, a DO block's statements, ...): the strictest
  /// verdict wins. EXECUTE is allowed at every level here: the session
  /// must allow it only for a statement whose PREPARE was allowed.
  /// `granted`: a just-in-time grant's level; statements are decided at the
  /// higher of it and the policy's access (deny and review rules still apply).
  Decision decide(const CompiledPolicy& policy, const sql::StatementInfo& stmt,
                  std::optional<AccessLevel> granted = std::nullopt) const;
  /// Decides every statement of a query (a multi-statement simple query
  /// runs only if all are allowed): the first strictest decision, with its
  /// index in `statement`. An empty query is allowed.
  Decision decide(const CompiledPolicy& policy, const sql::Analysis& analysis,
                  std::optional<AccessLevel> granted = std::nullopt) const;

  /// The decision for a session no policy matches: Deny, rule "no_policy",
  /// SQLSTATE 28000 (as PostgreSQL rejects a connection no pg_hba.conf line
  /// allows); the session is refused at startup with this message.
  static Decision refusal(const auth::Subject& subject, std::string_view connection);

  const std::vector<CompiledPolicy>& policies() const { return policies_; }
  /// Problems that do not make the config invalid, as "config: <key path>:
  /// <problem>" (a policy that can never match, an allow: with no effect,
  /// no policies at all).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  std::vector<CompiledPolicy> policies_;
  std::vector<std::string> warnings_;
};

}  // namespace pgw::policy
