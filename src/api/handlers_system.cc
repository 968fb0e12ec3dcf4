// GET /readyz, GET /metrics, GET /api/openapi.json, GET /api/whoami.

#include <nlohmann/json.hpp>

#include "api/call.h"
#include "api/services.h"
#include "review/json.h"

namespace pgw::api {
namespace {

using nlohmann::json;

constexpr const char* kPrometheusType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace

void addSystemRoutes(Router& router, Services& services) {
  router.add(Route{
      .method = "GET",
      .pattern = "/readyz",
      .action = "readyz",
      .access = Access::Public,
      .handler = [&services](Call& call) {
        call.query({});
        std::string why;
        if (services.gateway().ready(why)) return Reply::ofJson({{"ready", true}});
        return Reply::ofJson(
            {{"ready", false}, {"error", why.empty() ? "not ready" : why}, {"status", 503}}, 503);
      }});

  router.add(Route{.method = "GET",
                   .pattern = "/metrics",
                   .action = "metrics",
                   .access = Access::Public,
                   .handler = [&services](Call& call) {
                     call.query({});
                     std::string text = services.gateway().metrics();
                     if (!text.empty() && text.back() != '\n') text += '\n';
                     text += services.metrics.render(services.reviews, services.waiters.load());
                     return Reply::ofText(std::move(text), kPrometheusType);
                   }});

  // Built once: the document does not change while the process runs.
  router.add(Route{.method = "GET",
                   .pattern = "/api/openapi.json",
                   .action = "openapi",
                   .access = Access::Public,
                   .handler = [text = openApiDocument().dump(2) + "\n"](Call& call) {
                     call.query({});
                     return Reply::ofText(text, "application/json");
                   }});

  router.add(Route{
      .method = "GET", .pattern = "/api/whoami", .action = "whoami", .handler = [](Call& call) {
        call.query({});
        const auth::Subject& s = call.subject();
        json expires = nullptr;
        if (s.expires_at) {
          expires = review::rfc3339(std::chrono::duration_cast<std::chrono::microseconds>(
                                        s.expires_at->time_since_epoch())
                                        .count());
        }
        return Reply::ofJson({{"subject", review::toJson(review::Person::from(s))},
                              {"roles", roleNames(call.roles())},
                              {"expires_at", expires}});
      }});
}

}  // namespace pgw::api
