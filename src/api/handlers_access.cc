// /api/access-requests: just-in-time access. Any authenticated subject asks
// for itself; the policy that governs it on that connection says whether it
// may (`jit.max_level`, `jit.max_duration`) and who approves (`approval`).
// Readers are auditors, approvers and admins, and each subject for its own
// requests; approve, deny and revoke need approver or admin.

#include <array>
#include <nlohmann/json.hpp>

#include "api/call.h"
#include "api/services.h"
#include "review/json.h"

namespace pgw::api {
namespace {

using config::AccessLevel;
using nlohmann::json;

constexpr size_t kMaxReason = 4096;
constexpr std::array<std::string_view, 4> kLevels = {"read", "write", "ddl", "admin"};

std::string_view levelName(AccessLevel level) {
  return kLevels[static_cast<size_t>(level)];
}

std::string formatDurationUs(int64_t us) {
  return config::formatDuration(std::chrono::milliseconds(us / 1000));
}

bool connectionExists(Services& services, const Call& call, const std::string& name) {
  if (call.config().findConnection(name)) return true;
  for (const ConnectionInfo& c : services.gateway().connections()) {
    if (c.name == name) return true;
  }
  return false;
}

Reply requestAccess(Services& services, Call& call) {
  const JsonFields body = call.body({"connection", "level", "duration", "reason"});
  const std::string connection = body.string("connection");
  const std::string level_text = body.string("level");
  const std::string duration_text = body.string("duration");
  const std::string reason = body.string("reason");
  if (reason.size() > kMaxReason) {
    throw ApiError(400, "'reason' is longer than " + std::to_string(kMaxReason) + " bytes");
  }
  std::optional<AccessLevel> level;
  for (size_t i = 1; i < kLevels.size(); ++i) {
    if (kLevels[i] == level_text) level = static_cast<AccessLevel>(i);
  }
  if (!level) throw ApiError(400, "'level' must be write, ddl or admin");
  const auto duration_us = parseDurationUs(duration_text);
  if (!duration_us) {
    throw ApiError(400, "'duration' must be a number with a unit (ms, s, m, h, d), e.g. 90m or 1h");
  }
  if (*duration_us <= 0) throw ApiError(400, "'duration' must be longer than 0");

  review::ReviewService& reviews = services.reviewService();
  const auth::Subject& who = call.subject();
  call.audit_target = connection;
  if (!connectionExists(services, call, connection)) {
    throw ApiError(404, "no connection named '" + connection + "'");
  }
  auto set = services.policies.get(call.configPtr());
  if (!set) throw ApiError(503, "the policies in force do not compile: " + set.error().message);
  const policy::CompiledPolicy* governing = (*set)->match(who, connection);
  if (!governing) {
    throw ApiError(403, "no policy lets " + who.id + " use connection '" + connection +
                            "', so there is no access to extend; ask an admin to add one "
                            "(policies)");
  }
  const config::PolicyConfig& p = call.config().policies.at(governing->index());
  const std::string where = "policies[" + std::to_string(governing->index()) + "]";
  if (*level <= governing->access()) {
    throw ApiError(400, "policy '" + p.name + "' already allows " +
                            std::string(levelName(governing->access())) + " on '" + connection +
                            "'; request a higher level");
  }
  if (!p.jit.max_level) {
    throw ApiError(400, "policy '" + p.name + "' takes no access requests (" + where +
                            ".jit.max_level is not set)");
  }
  if (*level > *p.jit.max_level) {
    throw ApiError(400, "policy '" + p.name + "' grants at most " +
                            std::string(levelName(*p.jit.max_level)) + " (" + where +
                            ".jit.max_level)");
  }
  const int64_t max_us =
      std::chrono::duration_cast<std::chrono::microseconds>(p.jit.max_duration).count();
  if (*duration_us > max_us) {
    throw ApiError(400, "policy '" + p.name + "' grants at most " + formatDurationUs(max_us) +
                            " (" + where + ".jit.max_duration)");
  }

  const review::ApprovalRules rules = review::rulesOf(p.approval);

  review::AccessRequest request;
  request.subject = review::Person::from(who);
  request.connection = connection;
  request.level = *level;
  request.duration_us = *duration_us;
  request.reason = reason;
  request.policy = p.name;
  auto created = reviews.requestAccess(std::move(request), rules);
  if (!created) throwError(created.error(), 400);
  call.audit_target = created->id;
  call.audit_detail = std::string(levelName(*level)) + " on " + connection + " for " +
                      formatDurationUs(*duration_us) + " (policy " + p.name + ")";
  return Reply::ofJson(review::toJson(*created), 201);
}

Reply listAccess(Services& services, Call& call) {
  const review::ReviewFilter filter =
      listFilter(call, "pending, approved, denied, expired, revoked",
                 "reading another subject's access requests");
  return Reply::ofJson(
      listPage("access_requests", services.reviewService().listAccess(filter), filter.limit));
}

Reply getAccess(Services& services, Call& call) {
  call.query({});
  auto r = services.reviewService().getAccess(call.param("id"));
  if (!r) throwError(r.error(), 404);
  requireReader(call, r->subject.id, "reading another subject's access request");
  return Reply::ofJson(review::toJson(*r));
}

enum class Verb { Approve, Deny, Revoke };

Reply decideAccess(Services& services, Call& call, Verb verb) {
  std::string comment = decisionComment(call);
  review::ReviewService& reviews = services.reviewService();
  const review::Person by = review::Person::from(call.subject());
  const std::string& id = call.param("id");
  auto r = verb == Verb::Approve ? reviews.approveAccess(id, by, std::move(comment))
           : verb == Verb::Deny  ? reviews.denyAccess(id, by, std::move(comment))
                                 : reviews.revokeAccess(id, by, std::move(comment));
  if (!r) throwError(r.error(), 400);
  call.audit_detail = std::string(levelName(r->level)) + " on " + r->connection + " for " +
                      r->subject.id + "; the request is now " +
                      std::string(review::stateName(r->state));
  return Reply::ofJson(review::toJson(*r));
}

}  // namespace

void addAccessRoutes(Router& router, Services& services) {
  Services* s = &services;
  router.add(Route{.method = "POST",
                   .pattern = "/api/access-requests",
                   .action = "access.request",
                   .body = true,
                   .audited = true,
                   .handler = [s](Call& call) { return requestAccess(*s, call); }});
  router.add(Route{.method = "GET",
                   .pattern = "/api/access-requests",
                   .action = "access.list",
                   .handler = [s](Call& call) { return listAccess(*s, call); }});
  router.add(Route{.method = "GET",
                   .pattern = "/api/access-requests/{id}",
                   .action = "access.get",
                   .handler = [s](Call& call) { return getAccess(*s, call); }});
  const std::pair<const char*, Verb> verbs[] = {
      {"approve", Verb::Approve}, {"deny", Verb::Deny}, {"revoke", Verb::Revoke}};
  for (const auto& [name, verb] : verbs) {
    router.add(Route{.method = "POST",
                     .pattern = std::string("/api/access-requests/{id}/") + name,
                     .action = std::string("access.") + name,
                     .roles = kApprover | kAdmin,
                     .body = true,
                     .audited = true,
                     .handler = [s, v = verb](Call& call) { return decideAccess(*s, call, v); }});
  }
}

}  // namespace pgw::api
