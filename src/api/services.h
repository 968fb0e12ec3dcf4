#pragma once
/// Internal to the API module: what the handlers share (the gateway, the
/// review service, the API's own counters, compiled policies), and the
/// functions that add each group of endpoints to the router.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/control_plane.h"
#include "api/router.h"
#include "common/result.h"
#include "config/config.h"
#include "policy/policy_set.h"
#include "review/json.h"
#include "review/service.h"

namespace pgw::api {

class Call;

/// The API's own series on /metrics.
class ApiMetrics {
 public:
  /// One answered request; `route` is the path template ("unmatched" for 404s).
  void count(const std::string& route, int status);
  /// Prometheus text exposition 0.0.4: pgwarden_api_requests_total{route,status},
  /// pgwarden_api_long_polls, pgwarden_reviews_pending and
  /// pgwarden_access_requests_pending.
  std::string render(review::ReviewService* reviews, int long_polls) const;

 private:
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;
};

/// `PolicySet::compile` of the config in force, once per config snapshot.
class PolicyCache {
 public:
  Result<std::shared_ptr<const policy::PolicySet>> get(
      const std::shared_ptr<const config::Config>& config);

 private:
  std::mutex mu_;
  std::shared_ptr<const config::Config> config_;  ///< kept alive: the key is its address
  std::shared_ptr<const policy::PolicySet> set_;
};

struct Services {
  ControlPlane* control = nullptr;           ///< null: only /healthz and the dev issuer
  review::ReviewService* reviews = nullptr;  ///< null: review endpoints answer 503
  std::shared_ptr<const config::Config> initial_config;
  ApiMetrics metrics;
  PolicyCache policies;
  std::mutex policy_edit_mu;  ///< one PUT /api/policies at a time
  std::atomic<bool> stopping{false};
  std::atomic<int> waiters{0};  ///< long polls in progress

  /// The config in force: the gateway's (it changes on reload), else the initial one.
  std::shared_ptr<const config::Config> config() const;
  /// The gateway (routes that need it exist only when there is one).
  ControlPlane& gateway() const { return *control; }
  /// The review service; 503 when this gateway runs without one.
  review::ReviewService& reviewService() const;
};

void addSystemRoutes(Router& router, Services& services);      ///< readyz, metrics, whoami, openapi
void addReviewRoutes(Router& router, Services& services);      ///< /api/reviews
void addAccessRoutes(Router& router, Services& services);      ///< /api/access-requests
void addConnectionRoutes(Router& router, Services& services);  ///< /api/connections
void addPolicyRoutes(Router& router, Services& services);      ///< /api/policies
void addAuditRoutes(Router& router, Services& services);       ///< /api/audit, /api/sessions

// Shared by the review and access-request handlers.

/// 403 unless the caller may read `owner`'s records (readers read all; a
/// subject reads its own).
void requireReader(const Call& call, const std::string& owner, std::string_view what);
/// The comment of an approve/deny/revoke body ({"comment": "..."}; optional,
/// at most 4 KiB).
std::string decisionComment(Call& call);
/// The list filter from ?state, subject, connection, limit, before. `states`
/// names the valid states for the error; a caller that is not a reader sees
/// only its own records (`what` names them in the 403).
review::ReviewFilter listFilter(Call& call, std::string_view states, std::string_view what);
/// `{"<key>": [items], "next": <last id or null>}`: a full page has a next.
template <typename Record>
nlohmann::json listPage(const char* key, const std::vector<Record>& found, size_t limit) {
  nlohmann::json items = nlohmann::json::array();
  for (const Record& r : found) items.push_back(review::toJson(r));
  nlohmann::json next = nullptr;
  if (found.size() == limit && !found.empty()) next = found.back().id;
  return {{key, std::move(items)}, {"next", std::move(next)}};
}

/// The OpenAPI 3.0 document of every endpoint (GET /api/openapi.json).
nlohmann::json openApiDocument();

}  // namespace pgw::api
