#include "api/roles.h"

#include <algorithm>

namespace pgw::api {
namespace {

bool inAny(const std::vector<std::string>& groups, const std::vector<std::string>& role_groups) {
  return std::any_of(groups.begin(), groups.end(), [&](const std::string& g) {
    return std::find(role_groups.begin(), role_groups.end(), g) != role_groups.end();
  });
}

}  // namespace

RoleMask rolesFor(const auth::Subject& subject, const config::ApiConfig& api) {
  RoleMask roles = 0;
  if (inAny(subject.groups, api.admins)) roles |= kAdmin | kApprover | kAuditor;
  if (inAny(subject.groups, api.approvers)) roles |= kApprover;
  if (inAny(subject.groups, api.auditors)) roles |= kAuditor;
  return roles;
}

std::vector<std::string> roleNames(RoleMask roles) {
  std::vector<std::string> names;
  if (roles & kAdmin) names.emplace_back("admin");
  if (roles & kApprover) names.emplace_back("approver");
  if (roles & kAuditor) names.emplace_back("auditor");
  return names;
}

std::string describeRoles(RoleMask roles) {
  // Least powerful first: "auditor, approver or admin".
  std::vector<std::string> names = roleNames(roles);
  std::reverse(names.begin(), names.end());
  std::string text;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) text += i + 1 == names.size() ? " or " : ", ";
    text += names[i];
  }
  return text;
}

}  // namespace pgw::api
