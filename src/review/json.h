#pragma once
/// JSON forms of reviews and access requests, as the REST API returns them
/// and webhooks send them (docs/api.md). Times are RFC 3339 UTC strings.

#include <nlohmann/json.hpp>

#include "review/review.h"

namespace pgw::review {

nlohmann::json toJson(const Person& person);
nlohmann::json toJson(const Review& review);
nlohmann::json toJson(const AccessRequest& request);
/// "2026-11-24T19:42:51.123Z"; "" for 0.
std::string rfc3339(int64_t time_us);

}  // namespace pgw::review
