#pragma once
/// The statement gate of a session governed by a policy: every statement is
/// analyzed (libpg_query, cached per worker) and decided by the policy
/// snapshot the session started with. Review verdicts are refused until
/// approvals exist; fast-path FunctionCalls, which no SQL text describes, are
/// allowed only at admin access.

#include <memory>

#include "policy/policy_set.h"
#include "proxy/analysis_cache.h"
#include "proxy/statement_gate.h"

namespace pgw::proxy {

class PolicyGate : public StatementGate {
 public:
  PolicyGate(std::shared_ptr<const policy::PolicySet> set, const policy::CompiledPolicy& policy,
             AnalysisCache& cache)
      : set_(std::move(set)), policy_(policy), cache_(cache) {}

  std::optional<DenialError> checkQuery(std::string_view sql) override;
  std::optional<DenialError> checkParse(std::string_view name, std::string_view sql) override;
  std::optional<DenialError> checkFunctionCall(int32_t function_oid) override;

  /// The last decision (for logging and, later, audit).
  const policy::Decision& last() const { return last_; }

 private:
  std::optional<DenialError> check(std::string_view sql);

  std::shared_ptr<const policy::PolicySet> set_;  ///< keeps policy_ alive
  const policy::CompiledPolicy& policy_;
  AnalysisCache& cache_;
  policy::Decision last_;
};

}  // namespace pgw::proxy
