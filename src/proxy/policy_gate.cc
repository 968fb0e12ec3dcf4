#include "proxy/policy_gate.h"

namespace pgw::proxy {

void PolicyGate::adopt(std::shared_ptr<const policy::PolicySet> set,
                       const policy::CompiledPolicy& policy) {
  set_ = std::move(set);
  policy_ = &policy;
  ++epoch_;
}

void PolicyGate::setGrant(std::optional<config::AccessLevel> level) {
  if (level == grant_) return;
  grant_ = level;
  ++epoch_;
}

const std::string* PolicyGate::preparedText(std::string_view name) const {
  auto it = parsed_.find(name);
  return it != parsed_.end() ? &it->second.text : nullptr;
}

const std::vector<uint32_t>* PolicyGate::preparedParamTypes(std::string_view name) const {
  auto it = parsed_.find(name);
  return it != parsed_.end() && it->second.review ? &it->second.param_types : nullptr;
}

void PolicyGate::escalate() {
  if (!last_.estimate) return;
  last_.verdict = policy::Verdict::Review;
  last_.rule = last_.estimate->rule;
  last_.message = last_.estimate->message;
  last_.sqlstate = "42501";
}

namespace {

/// A Parse decision the session must see again at each Bind.
bool actsAtBind(const policy::Decision& d) {
  return d.verdict == policy::Verdict::Review || (d.allowed() && d.estimate);
}

}  // namespace

void PolicyGate::setParamTypes(std::string_view name, std::vector<uint32_t> types) {
  if (auto it = parsed_.find(name); it != parsed_.end()) it->second.param_types = std::move(types);
}

std::optional<DenialError> PolicyGate::denial(const policy::Decision& decision) const {
  if (decision.verdict == policy::Verdict::Allow) return std::nullopt;
  DenialError e;
  e.sqlstate = decision.sqlstate.empty() ? "42501" : decision.sqlstate;
  e.message = decision.message;
  e.detail = decision.detail;
  e.hint = decision.hint;
  return e;
}

std::optional<DenialError> PolicyGate::recheck(Prepared& p) {
  if (p.epoch == epoch_) return std::nullopt;
  const auto& statements = p.analysis->statements;
  last_ = p.index < statements.size() ? set_->decide(*policy_, statements[p.index], grant_)
                                      : set_->decide(*policy_, *p.analysis, grant_);
  const bool was_review = p.review.has_value();
  if (p.index == SIZE_MAX && actsAtBind(last_)) {
    p.review = last_;
  } else {
    p.review.reset();
  }
  if (was_review != p.review.has_value()) {
    reviewed_parses_ += p.review ? 1 : static_cast<size_t>(-1);
  }
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
        reviewed_parses_ = 0;
      } else if (auto it = sql_prepared_.find(s.prepared_name); it != sql_prepared_.end()) {
        sql_prepared_.erase(it);
      }
    } else if (s.kind == sql::StatementKind::Discard) {
      for (const auto& setting : s.settings) {
        if (setting.first == "all") {
          sql_prepared_.clear();
          parsed_.clear();
          reviewed_parses_ = 0;
        }
      }
    }
  }
}

std::optional<DenialError> PolicyGate::checkQuery(std::string_view sql) {
  auto analysis = cache_.get(sql);
  last_analysis_ = analysis;
  last_ = set_->decide(*policy_, *analysis, grant_);
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
  last_ = set_->decide(*policy_, *analysis, grant_);
  auto e = denial(last_);
  const bool review = actsAtBind(last_);
  if (e && last_.verdict != policy::Verdict::Review) {
    // The server's failing Parse drops the unnamed statement; a named one
    // that already existed stays as it was.
    if (name.empty()) forget(parsed_.find(std::string_view()));
    return e;
  }
  Prepared p{std::move(analysis), SIZE_MAX, epoch_, std::string(sql), {}, std::nullopt};
  if (review) {
    p.review = last_;
    ++reviewed_parses_;
  }
  if (auto it = parsed_.find(name); it != parsed_.end()) {
    if (it->second.review) --reviewed_parses_;
    it->second = std::move(p);
  } else {
    parsed_.emplace(std::string(name), std::move(p));
  }
  return e;
}

std::optional<DenialError> PolicyGate::checkBind(std::string_view statement) {
  last_.estimate.reset();  // the session asks last() about this Bind
  // No reload, no grant change and no reviewed statement: Parse decided it.
  if (epoch_ == 0 && reviewed_parses_ == 0) return std::nullopt;
  auto it = parsed_.find(statement);
  if (it == parsed_.end()) return std::nullopt;  // unknown here: the server refuses it
  if (auto e = recheck(it->second)) return e;
  if (it->second.review) {
    last_ = *it->second.review;
    return denial(last_);
  }
  return std::nullopt;
}

void PolicyGate::forget(PreparedMap::iterator it) {
  if (it == parsed_.end()) return;
  if (it->second.review) --reviewed_parses_;
  parsed_.erase(it);
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
