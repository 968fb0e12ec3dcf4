#pragma once
/// The statement gate of a session governed by a policy: every statement is
/// analyzed (libpg_query, cached per worker) and decided by the session's
/// policy. Fast-path FunctionCalls, which no SQL text describes, are allowed
/// only at admin access.
///
/// Review verdicts come back as a DenialError with last().verdict == Review;
/// the session turns them into a review (proxy/session_review.cc). A Parse
/// whose statement needs review is recorded and reported, and the session
/// forwards it (preparing runs nothing): the review is made at each Bind, when
/// the parameters are known — checkBind() then reports the Parse's decision.
///
/// A just-in-time grant (setGrant()) raises the level statements are decided
/// at; granting or losing it re-judges prepared statements like a reload.
///
/// After a config reload (adopt()), statements are decided by the new
/// policy — prepared ones too: a Bind of a statement Parsed, or an EXECUTE of
/// one PREPAREd, under an earlier policy re-judges what it runs, so a
/// prepared statement is never held to a weaker policy than the one in force.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "policy/policy_set.h"
#include "proxy/analysis_cache.h"
#include "proxy/statement_gate.h"

namespace pgw::proxy {

class PolicyGate : public StatementGate {
 public:
  PolicyGate(std::shared_ptr<const policy::PolicySet> set, const policy::CompiledPolicy& policy,
             AnalysisCache& cache)
      : set_(std::move(set)), policy_(&policy), cache_(cache) {}

  /// Decide by `policy` (of the reloaded `set`) from now on.
  void adopt(std::shared_ptr<const policy::PolicySet> set, const policy::CompiledPolicy& policy);
  const policy::CompiledPolicy& policy() const { return *policy_; }
  /// Decide at `level` (a just-in-time grant) from now on; nullopt = the
  /// policy's own access.
  void setGrant(std::optional<config::AccessLevel> level);
  const std::optional<config::AccessLevel>& grant() const { return grant_; }

  std::optional<DenialError> checkQuery(std::string_view sql) override;
  std::optional<DenialError> checkParse(std::string_view name, std::string_view sql) override;
  std::optional<DenialError> checkBind(std::string_view statement) override;
  std::optional<DenialError> checkFunctionCall(int32_t function_oid) override;

  /// The last decision and the analysis it judged (for audit).
  const policy::Decision& last() const { return last_; }
  /// The SQL text of prepared statement `name` (a Bind's), or nullptr.
  const std::string* preparedText(std::string_view name) const;
  /// The parameter types the Parse of `name` declared, kept for statements
  /// that need a review (to show their values); nullptr otherwise.
  const std::vector<uint32_t>* preparedParamTypes(std::string_view name) const;
  void setParamTypes(std::string_view name, std::vector<uint32_t> types);
  /// The last decision allowed the statement unless the planner's estimate
  /// says otherwise, and it does: make it a Review by the estimate's rule.
  void escalate();
  const std::shared_ptr<const sql::Analysis>& lastAnalysis() const { return last_analysis_; }

 private:
  /// A prepared statement and the policy epoch that last allowed it.
  struct Prepared {
    std::shared_ptr<const sql::Analysis> analysis;
    size_t index = 0;  ///< the PREPARE statement within `analysis`
    uint64_t epoch = 0;
    std::string text;                   ///< Parse only: the SQL, for reviews at Bind
    std::vector<uint32_t> param_types;  ///< Parse with review only
    /// Parse only: a decision the session acts on at each Bind — a review,
    /// or an allowance that depends on the planner's estimate.
    std::optional<policy::Decision> review;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using PreparedMap = std::unordered_map<std::string, Prepared, Hash, std::equal_to<>>;

  std::optional<DenialError> denial(const policy::Decision& decision) const;
  /// Re-judges `p` if it was allowed under an earlier epoch.
  std::optional<DenialError> recheck(Prepared& p);
  void track(const std::shared_ptr<const sql::Analysis>& analysis);
  void forget(PreparedMap::iterator it);

  std::shared_ptr<const policy::PolicySet> set_;  ///< keeps policy_ alive
  const policy::CompiledPolicy* policy_;
  AnalysisCache& cache_;
  policy::Decision last_;
  std::shared_ptr<const sql::Analysis> last_analysis_;
  uint64_t epoch_ = 0;  ///< bumped by adopt() and setGrant()
  std::optional<config::AccessLevel> grant_;
  size_t reviewed_parses_ = 0;  ///< entries of parsed_ with a review
  PreparedMap parsed_;          ///< protocol-level (Parse) statements by name
  PreparedMap sql_prepared_;    ///< SQL-level (PREPARE) statements by name
};

}  // namespace pgw::proxy
