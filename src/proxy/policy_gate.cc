#include "proxy/policy_gate.h"

namespace pgw::proxy {

void PolicyGate::adopt(std::shared_ptr<const policy::PolicySet> set,
                       const policy::CompiledPolicy& policy) {
  set_ = std::move(set);
  policy_ = &policy;
  ++epoch_;
}

std::optional<DenialError> PolicyGate::denial(const policy::Decision& decision) const {
  if (decision.verdict == policy::Verdict::Allow) return std::nullopt;
  DenialError e;
  e.sqlstate = decision.sqlstate.empty() ? "42501" : decision.sqlstate;
  e.message = decision.message;
  e.detail = decision.detail;
  e.hint = decision.hint;
  if (decision.verdict == policy::Verdict::Review) {
    e.hint = "this statement needs a human approval (policy \"" + decision.policy + "\", rule " +
             decision.rule + "); approvals are not available on this gateway yet";
  }
  return e;
}

std::optional<DenialError> PolicyGate::recheck(Prepared& p) {
  if (p.epoch == epoch_) return std::nullopt;
  const auto& statements = p.analysis->statements;
  last_ = p.index < statements.size() ? set_->decide(*policy_, statements[p.index])
                                      : set_->decide(*policy_, *p.analysis);
  if (auto e = denial(last_)) return e;
  p.epoch = epoch_;
  return std::nullopt;
}

void PolicyGate::track(const std::shared_ptr<const sql::Analysis>& analysis) {
  for (size_t i = 0; i < analysis->statements.size(); ++i) {
    const sql::StatementInfo& s = analysis->statements[i];
    if (s.kind == sql::StatementKind::Prepare) {
      sql_prepared_.insert_or_assign(s.prepared_name, Prepared{analysis, i, epoch_});
    } else if (s.kind == sql::StatementKind::Deallocate) {
      if (s.prepared_name.empty()) {
        // DEALLOCATE ALL drops protocol-level statements too.
        sql_prepared_.clear();
        parsed_.clear();
      } else if (auto it = sql_prepared_.find(s.prepared_name); it != sql_prepared_.end()) {
        sql_prepared_.erase(it);
      }
    } else if (s.kind == sql::StatementKind::Discard) {
      for (const auto& setting : s.settings) {
        if (setting.first == "all") {
          sql_prepared_.clear();
          parsed_.clear();
        }
      }
    }
  }
}

std::optional<DenialError> PolicyGate::checkQuery(std::string_view sql) {
  auto analysis = cache_.get(sql);
  last_analysis_ = analysis;
  last_ = set_->decide(*policy_, *analysis);
  if (auto e = denial(last_)) return e;
  if (epoch_ > 0) {
    // EXECUTE runs what an earlier PREPARE judged, maybe under another policy.
    for (const sql::StatementInfo& s : analysis->statements) {
      if (s.kind != sql::StatementKind::Execute) continue;
      if (auto it = sql_prepared_.find(s.prepared_name); it != sql_prepared_.end()) {
        if (auto e = recheck(it->second)) return e;
      }
    }
  }
  track(analysis);
  return std::nullopt;
}

std::optional<DenialError> PolicyGate::checkParse(std::string_view name, std::string_view sql) {
  auto analysis = cache_.get(sql);
  last_analysis_ = analysis;
  last_ = set_->decide(*policy_, *analysis);
  if (auto e = denial(last_)) {
    // The server's failing Parse drops the unnamed statement; a named one
    // that already existed stays as it was.
    if (name.empty()) parsed_.erase(std::string());
    return e;
  }
  Prepared p{std::move(analysis), SIZE_MAX, epoch_};
  if (auto it = parsed_.find(name); it != parsed_.end()) {
    it->second = std::move(p);
  } else {
    parsed_.emplace(std::string(name), std::move(p));
  }
  return std::nullopt;
}

std::optional<DenialError> PolicyGate::checkBind(std::string_view statement) {
  if (epoch_ == 0) return std::nullopt;  // no reload yet: Parse decided it
  auto it = parsed_.find(statement);
  if (it == parsed_.end()) return std::nullopt;  // unknown here: the server refuses it
  return recheck(it->second);
}

std::optional<DenialError> PolicyGate::checkFunctionCall(int32_t function_oid) {
  if (policy_->access() == config::AccessLevel::Admin) return std::nullopt;
  DenialError e;
  e.message = "pgwarden: policy \"" + policy_->name() +
              "\" denies a fast-path function call (function OID " + std::to_string(function_oid) +
              "): its effect cannot be checked";
  e.hint = "call the function in a SQL statement instead (e.g. SELECT lo_get(...))";
  return e;
}

}  // namespace pgw::proxy
