#pragma once
/// The statement gate of a session governed by a policy: every statement is
/// analyzed (libpg_query, cached per worker) and decided by the session's
/// policy. Review verdicts are refused until approvals exist; fast-path
/// FunctionCalls, which no SQL text describes, are allowed only at admin
/// access.
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

  std::optional<DenialError> checkQuery(std::string_view sql) override;
  std::optional<DenialError> checkParse(std::string_view name, std::string_view sql) override;
  std::optional<DenialError> checkBind(std::string_view statement) override;
  std::optional<DenialError> checkFunctionCall(int32_t function_oid) override;

  /// The last decision and the analysis it judged (for audit).
  const policy::Decision& last() const { return last_; }
  const std::shared_ptr<const sql::Analysis>& lastAnalysis() const { return last_analysis_; }

 private:
  /// A prepared statement and the policy epoch that last allowed it.
  struct Prepared {
    std::shared_ptr<const sql::Analysis> analysis;
    size_t index = 0;  ///< the PREPARE statement within `analysis`
    uint64_t epoch = 0;
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

  std::shared_ptr<const policy::PolicySet> set_;  ///< keeps policy_ alive
  const policy::CompiledPolicy* policy_;
  AnalysisCache& cache_;
  policy::Decision last_;
  std::shared_ptr<const sql::Analysis> last_analysis_;
  uint64_t epoch_ = 0;        ///< bumped by adopt()
  PreparedMap parsed_;        ///< protocol-level (Parse) statements by name
  PreparedMap sql_prepared_;  ///< SQL-level (PREPARE) statements by name
};

}  // namespace pgw::proxy
