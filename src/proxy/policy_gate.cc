#include "proxy/policy_gate.h"

#include "common/log.h"

namespace pgw::proxy {

std::optional<DenialError> PolicyGate::check(std::string_view sql) {
  auto analysis = cache_.get(sql);
  last_ = set_->decide(policy_, *analysis);
  if (last_.verdict == policy::Verdict::Allow) return std::nullopt;
  DenialError e;
  e.sqlstate = last_.sqlstate.empty() ? "42501" : last_.sqlstate;
  e.message = last_.message;
  e.detail = last_.detail;
  e.hint = last_.hint;
  if (last_.verdict == policy::Verdict::Review) {
    e.hint = "this statement needs a human approval (policy \"" + last_.policy + "\", rule " +
             last_.rule + "); approvals are not available on this gateway yet";
  }
  return e;
}

std::optional<DenialError> PolicyGate::checkQuery(std::string_view sql) {
  return check(sql);
}

std::optional<DenialError> PolicyGate::checkParse(std::string_view /*name*/, std::string_view sql) {
  return check(sql);
}

std::optional<DenialError> PolicyGate::checkFunctionCall(int32_t function_oid) {
  if (policy_.access() == config::AccessLevel::Admin) return std::nullopt;
  DenialError e;
  e.message = "pgwarden: policy \"" + policy_.name() +
              "\" denies a fast-path function call (function OID " + std::to_string(function_oid) +
              "): its effect cannot be checked";
  e.hint = "call the function in a SQL statement instead (e.g. SELECT lo_get(...))";
  return e;
}

}  // namespace pgw::proxy
