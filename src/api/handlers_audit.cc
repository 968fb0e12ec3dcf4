// /api/audit (query the trail; auditor or admin) and /api/sessions (list:
// auditor or admin; terminate: admin).

#include <nlohmann/json.hpp>

#include "api/call.h"
#include "api/services.h"
#include "review/json.h"

namespace pgw::api {
namespace {

using nlohmann::json;

constexpr int64_t kDefaultLimit = 100;
constexpr int64_t kMaxLimit = 1000;
constexpr size_t kMaxReason = 1024;

Reply queryAudit(Services& services, Call& call) {
  const QueryParams q =
      call.query({"since", "until", "subject", "decision", "session", "limit", "after"});
  audit::Query query;
  query.since_us = q.timeUs("since");
  query.until_us = q.timeUs("until");
  query.subject = q.get("subject").value_or("");
  query.decision = q.get("decision").value_or("");
  if (!query.decision.empty() && query.decision != "allow" && query.decision != "deny" &&
      query.decision != "review") {
    throw ApiError(400, "query parameter 'decision' must be allow, deny or review");
  }
  if (auto session = q.integer("session", 0, INT64_MAX)) {
    query.session_id = static_cast<uint64_t>(*session);
  }
  query.limit = static_cast<size_t>(q.integer("limit", 1, kMaxLimit).value_or(kDefaultLimit));
  query.after_position = static_cast<uint64_t>(q.integer("after", 0, INT64_MAX).value_or(0));
  if (query.since_us && query.until_us && *query.until_us < *query.since_us) {
    throw ApiError(400, "'until' is before 'since'");
  }

  auto rows = services.gateway().queryAudit(query);
  if (!rows) throwError(rows.error(), 503);
  json events = json::array();
  for (const audit::StoredRecord& row : *rows) {
    json record = json::parse(row.record, nullptr, false);
    if (record.is_discarded()) {
      // Not the canonical JSON it should be: show where, let `audit verify` say more.
      record = {{"unreadable_record", true}, {"gateway_id", row.gateway_id}, {"seq", row.seq}};
    }
    events.push_back(std::move(record));
  }
  json next = nullptr;
  if (!rows->empty() && rows->size() == query.limit) next = rows->back().position;
  return Reply::ofJson({{"events", std::move(events)}, {"next", std::move(next)}});
}

json toJson(const SessionInfo& s) {
  return {{"id", s.id},
          {"subject", review::toJson(s.subject)},
          {"connection", s.connection},
          {"policy", s.policy},
          {"client_address", s.client_address},
          {"state", s.state},
          {"review_id", s.review_id.empty() ? json(nullptr) : json(s.review_id)},
          {"started_at", s.started_us ? json(review::rfc3339(s.started_us)) : json(nullptr)},
          {"statements", s.statements}};
}

Reply terminateSession(Services& services, Call& call) {
  const QueryParams q = call.query({"reason"});
  const std::string& text = call.param("id");
  const auto id = parseUnsigned(text);
  if (!id) throw ApiError(400, "a session id is a positive integer (GET /api/sessions lists them)");
  std::string why = "terminated by " + call.subject().id + " over the pgwarden API";
  if (auto reason = q.get("reason"); reason && !reason->empty()) {
    if (reason->size() > kMaxReason) {
      throw ApiError(400, "query parameter 'reason' is longer than " + std::to_string(kMaxReason));
    }
    why += ": " + *reason;
  }
  if (!services.gateway().terminateSession(*id, why)) {
    throw ApiError(404, "no session " + std::to_string(*id) + " (it may have ended already)");
  }
  call.audit_detail = why;
  return Reply::ofJson({{"terminated", *id}});
}

}  // namespace

void addAuditRoutes(Router& router, Services& services) {
  Services* s = &services;
  router.add(Route{.method = "GET",
                   .pattern = "/api/audit",
                   .action = "audit.query",
                   .roles = kAuditor | kAdmin,
                   .handler = [s](Call& call) { return queryAudit(*s, call); }});
  router.add(Route{.method = "GET",
                   .pattern = "/api/sessions",
                   .action = "session.list",
                   .roles = kAuditor | kAdmin,
                   .handler = [s](Call& call) {
                     call.query({});
                     json items = json::array();
                     for (const SessionInfo& info : s->gateway().sessions()) {
                       items.push_back(toJson(info));
                     }
                     return Reply::ofJson({{"sessions", std::move(items)}});
                   }});
  router.add(Route{.method = "DELETE",
                   .pattern = "/api/sessions/{id}",
                   .action = "session.terminate",
                   .roles = kAdmin,
                   .audited = true,
                   .handler = [s](Call& call) { return terminateSession(*s, call); }});
}

}  // namespace pgw::api
