/// PolicySet::compile and session matching: turns `config.policies` into
/// CompiledPolicy objects once, so that per-statement decisions only read.

#include <fmt/format.h>

#include <algorithm>

#include "policy/policy_set.h"

namespace pgw::policy {
namespace {

Error compileError(const std::string& path, const std::string& problem) {
  return fail("F0000", fmt::format("config: {}: {}", path, problem));
}

bool contains(const std::vector<std::string>& items, std::string_view value) {
  return std::find(items.begin(), items.end(), value) != items.end();
}

Result<std::vector<detail::CompiledRule>> compileRules(
    const std::vector<config::PolicyRuleConfig>& rules, const std::string& path,
    std::string_view label) {
  std::vector<detail::CompiledRule> out;
  out.reserve(rules.size());
  for (std::size_t j = 0; j < rules.size(); ++j) {
    auto rule = detail::CompiledRule::compile(rules[j], fmt::format("{}[{}]", path, j),
                                              fmt::format("{}[{}]", label, j));
    if (!rule) return rule.takeError();
    out.push_back(std::move(*rule));
  }
  return out;
}

/// Fills `lifted` from `allow:`; adds a warning for a guardrail the policy's
/// access level can never reach.
Status compileAllow(const config::PolicyConfig& pc, const std::string& path, GuardrailSet& lifted,
                    std::vector<std::string>& warnings) {
  const AccessLevel reach = pc.review_access.value_or(pc.access);
  for (std::size_t k = 0; k < pc.allow.size(); ++k) {
    const std::string item = fmt::format("{}.allow[{}]", path, k);
    auto g = guardrailFromName(pc.allow[k]);
    if (!g) {
      return compileError(item, fmt::format("unknown guardrail '{}' (guardrails: {})", pc.allow[k],
                                            guardrailNames()));
    }
    const auto bit = static_cast<std::size_t>(*g);
    if (lifted.test(bit)) {
      return compileError(item, fmt::format("'{}' is listed twice", pc.allow[k]));
    }
    lifted.set(bit);
    if (reach < guardrailMinAccess(*g)) {
      warnings.push_back(fmt::format(
          "config: {}: lifting {} has no effect: the statements it covers need {} access and "
          "the policy grants {}",
          item, pc.allow[k], accessName(guardrailMinAccess(*g)), accessName(reach)));
    }
  }
  return {};
}

/// Warns about policies that an earlier catch-all policy hides.
void warnUnreachable(const std::vector<CompiledPolicy>& policies,
                     std::vector<std::string>& warnings) {
  for (std::size_t i = 0; i < policies.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const CompiledPolicy& earlier = policies[j];
      if (!earlier.matchesSubject(auth::Subject{})) continue;  // not a catch-all
      bool covered = true;
      for (const auto& [conn, cred] : policies[i].credentials()) {
        covered = covered && earlier.matchesConnection(conn);
      }
      if (covered) {
        warnings.push_back(fmt::format(
            "config: policies[{}]: policy '{}' can never match: policies[{}] ('{}') comes first "
            "and matches every subject on its connections",
            i, policies[i].name(), j, earlier.name()));
        break;
      }
    }
  }
}

}  // namespace

std::string_view accessName(AccessLevel level) {
  switch (level) {
    case AccessLevel::Read:
      return "read";
    case AccessLevel::Write:
      return "write";
    case AccessLevel::Ddl:
      return "ddl";
    case AccessLevel::Admin:
      return "admin";
  }
  return "unknown";
}

std::string_view verdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::Allow:
      return "allow";
    case Verdict::Review:
      return "review";
    case Verdict::Deny:
      return "deny";
  }
  return "unknown";
}

const std::string* CompiledPolicy::credential(std::string_view connection) const {
  auto it = credentials_.find(connection);
  return it == credentials_.end() ? nullptr : &it->second;
}

bool CompiledPolicy::matchesSubject(const auth::Subject& subject) const {
  if (any_subject_) return true;
  if (!subject.id.empty() && contains(ids_, subject.id)) return true;
  return std::any_of(subject.groups.begin(), subject.groups.end(),
                     [&](const std::string& g) { return contains(groups_, g); });
}

bool CompiledPolicy::matchesConnection(std::string_view connection) const {
  return credentials_.find(connection) != credentials_.end();
}

Result<std::shared_ptr<const PolicySet>> PolicySet::compile(const config::Config& config) {
  auto set = std::make_shared<PolicySet>();
  set->policies_.reserve(config.policies.size());
  for (std::size_t i = 0; i < config.policies.size(); ++i) {
    const config::PolicyConfig& pc = config.policies[i];
    const std::string path = fmt::format("policies[{}]", i);
    CompiledPolicy p;
    p.name_ = pc.name;
    p.index_ = i;
    p.groups_ = pc.subject_groups;
    p.ids_ = pc.subject_ids;
    p.any_subject_ = contains(pc.subject_groups, "*") || contains(pc.subject_ids, "*");
    p.any_connection_ = contains(pc.connections, "*");
    p.credentials_.insert(pc.credentials.begin(), pc.credentials.end());
    p.access_ = pc.access;
    p.review_access_ = pc.review_access;
    p.limits_ = pc.limits;
    p.audit_parameters_ = pc.audit_parameters;
    p.approval_ = pc.approval;
    p.jit_ = pc.jit;

    auto deny = compileRules(pc.deny, path + ".deny", "deny");
    if (!deny) return deny.takeError();
    p.deny_ = std::move(*deny);
    auto review = compileRules(pc.review, path + ".review", "review");
    if (!review) return review.takeError();
    p.review_ = std::move(*review);
    if (auto st = compileAllow(pc, path, p.lifted_, set->warnings_); !st) return st.takeError();
    set->policies_.push_back(std::move(p));
  }
  if (set->policies_.empty()) {
    set->warnings_.push_back(
        "config: policies: no policies are configured, so the gateway runs as a transparent "
        "proxy: every authenticated caller gets unrestricted access; add a policy (see "
        "docs/policy.md)");
  }
  warnUnreachable(set->policies_, set->warnings_);
  return std::shared_ptr<const PolicySet>(std::move(set));
}

const CompiledPolicy* PolicySet::match(const auth::Subject& subject,
                                       std::string_view connection) const {
  for (const CompiledPolicy& p : policies_) {
    if (p.matchesConnection(connection) && p.matchesSubject(subject)) return &p;
  }
  return nullptr;
}

Decision PolicySet::refusal(const auth::Subject& subject, std::string_view connection) {
  Decision d;
  d.verdict = Verdict::Deny;
  d.rule = "no_policy";
  d.sqlstate = "28000";
  d.message = fmt::format("pgwarden: no policy allows subject \"{}\" to use connection \"{}\"",
                          subject.id, connection);
  std::string groups;
  for (const std::string& g : subject.groups) {
    if (!groups.empty()) groups += ", ";
    groups += g;
  }
  d.hint = groups.empty()
               ? "policies match a subject by id or group, and this subject has no groups; ask "
                 "an administrator for a policy"
               : fmt::format(
                     "policies match a subject by id or group (this subject's groups: "
                     "{}); ask an administrator for a policy",
                     groups);
  return d;
}

}  // namespace pgw::policy
