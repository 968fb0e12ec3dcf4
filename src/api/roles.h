#pragma once
/// Internal to the API module: the roles of the REST control plane, mapped
/// from a caller's groups through `api.roles` (docs/api.md, "Roles").
///
///   admin     everything; implies approver and auditor
///   approver  approve / deny reviews and access requests (and read them)
///   auditor   read reviews, access requests, audit, sessions, connections, policies

#include <string>
#include <vector>

#include "auth/subject.h"
#include "config/config.h"

namespace pgw::api {

using RoleMask = unsigned;
inline constexpr RoleMask kAdmin = 1;
inline constexpr RoleMask kApprover = 2;
inline constexpr RoleMask kAuditor = 4;
/// Everyone who may read reviews and access requests.
inline constexpr RoleMask kReaders = kAdmin | kApprover | kAuditor;

/// The roles `subject` holds under `api`: the union over its groups, with
/// admin implying the other two.
RoleMask rolesFor(const auth::Subject& subject, const config::ApiConfig& api);

/// "admin", "approver", "auditor" for each bit set, in that order.
std::vector<std::string> roleNames(RoleMask roles);
/// "approver or admin" — for error messages.
std::string describeRoles(RoleMask roles);

}  // namespace pgw::api
