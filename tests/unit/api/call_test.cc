// The API's input readers and router as plain functions: path templates,
// JSON bodies, times, durations, integers and the role mapping.

#include "api/call.h"

#include <gtest/gtest.h>

#include "api/roles.h"
#include "api/router.h"

namespace pgw::api {
namespace {

using nlohmann::json;

TEST(Router, MatchesTemplatesAndListsAllowedMethods) {
  Router router;
  auto noop = [](Call&) { return Reply{}; };
  router.add(Route{.method = "GET", .pattern = "/api/reviews", .handler = noop});
  router.add(Route{.method = "GET", .pattern = "/api/reviews/{id}", .handler = noop});
  router.add(Route{.method = "POST", .pattern = "/api/reviews/{id}/approve", .handler = noop});
  router.add(Route{.method = "PUT", .pattern = "/api/connections/{name}", .handler = noop});
  router.add(Route{.method = "DELETE", .pattern = "/api/connections/{name}", .handler = noop});

  auto m = router.find("GET", "/api/reviews/rv_1");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->pattern, "/api/reviews/{id}");
  EXPECT_EQ(m.params.at("id"), "rv_1");

  m = router.find("POST", "/api/reviews/rv_1/approve");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.params.at("id"), "rv_1");

  m = router.find("HEAD", "/api/reviews");
  ASSERT_NE(m.route, nullptr);
  EXPECT_EQ(m.route->method, "GET");

  m = router.find("POST", "/api/connections/prod");
  EXPECT_EQ(m.route, nullptr);
  EXPECT_EQ(m.allow, "PUT, DELETE");

  for (const char* path : {"/api/reviews/", "/api/reviews//approve", "/api/reviews/a/b", "/api", "",
                           "api/reviews", "/api/reviewsx"}) {
    m = router.find("GET", path);
    EXPECT_EQ(m.route, nullptr) << path;
    EXPECT_EQ(m.allow, "") << path;
  }
}

TEST(ParseJsonBody, AcceptsObjectsAndEmptyBodies) {
  EXPECT_EQ(parseJsonBody(""), json::object());
  EXPECT_EQ(parseJsonBody(" \r\n"), json::object());
  EXPECT_EQ(parseJsonBody(R"({"a": [1, {"b": null}]})")["a"][0], 1);
  // The same key in different objects is fine.
  EXPECT_NO_THROW(parseJsonBody(R"({"a": {"x": 1}, "b": {"x": 2}})"));
  EXPECT_NO_THROW(parseJsonBody(R"([{"x": 1}, {"x": 2}])"));
}

TEST(ParseJsonBody, RefusesWithoutRepeatingTheInput) {
  for (const char* bad : {"{", "{\"password\": \"hunter2", "{\"a\": 1,}", "nul", "{\"a\" 1}",
                          "1e99999", "{\"a\": \"\\ud800\"}"}) {
    try {
      parseJsonBody(bad);
      ADD_FAILURE() << bad;
    } catch (const ApiError& e) {
      EXPECT_EQ(e.status(), 400);
      EXPECT_EQ(std::string(e.what()).find("hunter2"), std::string::npos) << e.what();
      EXPECT_EQ(std::string(e.what()).find("last read"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(parseJsonBody(R"({"a": 1, "a": 2})"), ApiError);
  EXPECT_THROW(parseJsonBody(std::string(65, '[') + std::string(65, ']')), ApiError);
  EXPECT_NO_THROW(parseJsonBody(std::string(60, '[') + std::string(60, ']')));
}

TEST(JsonFields, ReadsStrictly) {
  const json body = {{"s", "x"}, {"n", 5}, {"nul", nullptr}, {"neg", -3}, {"f", 1.5}};
  const JsonFields f(body, "", {"s", "n", "nul", "neg", "f", "absent"});
  EXPECT_EQ(f.string("s"), "x");
  EXPECT_FALSE(f.has("nul"));
  EXPECT_FALSE(f.optionalString("nul").has_value());
  EXPECT_EQ(f.optionalInteger("n", 1, 10), 5);
  EXPECT_THROW(f.optionalInteger("n", 6, 10), ApiError);
  EXPECT_THROW(f.optionalInteger("neg", 0, 10), ApiError);
  EXPECT_THROW(f.optionalInteger("f", 0, 10), ApiError);
  EXPECT_THROW(f.string("n"), ApiError);
  EXPECT_THROW(f.string("absent"), ApiError);
  EXPECT_THROW(JsonFields(body, "", {"s"}), ApiError);
  try {
    JsonFields(json{{"tls", {{"mod", 1}}}}["tls"], "tls", {"mode", "ca"});
    ADD_FAILURE();
  } catch (const ApiError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown field 'tls.mod'"), std::string::npos) << e.what();
  }
}

TEST(ParseTime, Rfc3339AndUnixSeconds) {
  EXPECT_EQ(parseTimeUs("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseTimeUs("2026-01-02T03:04:05Z"), 1767323045000000);
  EXPECT_EQ(parseTimeUs("2026-01-02T03:04:05.25Z"), 1767323045250000);
  EXPECT_EQ(parseTimeUs("2026-01-02t03:04:05z"), 1767323045000000);
  EXPECT_EQ(parseTimeUs("2026-01-02T04:04:05+01:00"), 1767323045000000);
  EXPECT_EQ(parseTimeUs("2026-01-02T02:34:05-00:30"), 1767323045000000);
  EXPECT_EQ(parseTimeUs("2024-02-29T00:00:00Z"), 1709164800000000);
  EXPECT_EQ(parseTimeUs("1767323045"), 1767323045000000);
  EXPECT_EQ(parseTimeUs("1767323045.5"), 1767323045500000);
  for (const char* bad : {"", "2026-01-02", "2026-01-02T03:04:05", "2025-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z", "2026-01-02T24:00:00Z", "2026-01-02T03:04:05+1",
                          "2026-01-02T03:04:05Zjunk", "-5", "1.", "99999999999999999999", "1e9"}) {
    EXPECT_FALSE(parseTimeUs(bad).has_value()) << bad;
  }
}

TEST(ParseDuration, NeedsAUnit) {
  EXPECT_EQ(parseDurationUs("1h"), 3'600'000'000);
  EXPECT_EQ(parseDurationUs("90m"), 5'400'000'000);
  EXPECT_EQ(parseDurationUs("3600s"), 3'600'000'000);
  EXPECT_EQ(parseDurationUs("1500ms"), 1'500'000);
  EXPECT_EQ(parseDurationUs("2d"), 172'800'000'000);
  EXPECT_EQ(parseDurationUs("0s"), 0);
  for (const char* bad :
       {"", "3600", "h", "1 h", "1H", "-1h", "1.5h", "1h30m", "9999999999999999999h", "1w"}) {
    EXPECT_FALSE(parseDurationUs(bad).has_value()) << bad;
  }
}

TEST(ParseUnsigned, NeverThrows) {
  EXPECT_EQ(parseUnsigned("0"), 0u);
  EXPECT_EQ(parseUnsigned("18446744073709551615"), UINT64_MAX);
  for (const char* bad : {"", "18446744073709551616", "-1", "+1", " 1", "1 ", "0x10", "abc"}) {
    EXPECT_FALSE(parseUnsigned(bad).has_value()) << bad;
  }
}

TEST(HttpStatusOf, ReadsTheServicesCodes) {
  EXPECT_EQ(httpStatusOf(fail("404", "x"), 400), 404);
  EXPECT_EQ(httpStatusOf(fail("503", "x"), 400), 503);
  EXPECT_EQ(httpStatusOf(fail("42501", "x"), 400), 400);
  EXPECT_EQ(httpStatusOf(fail("", "x"), 500), 500);
  EXPECT_EQ(httpStatusOf(fail("200", "x"), 500), 500);
}

TEST(Roles, UnionOfGroupsAndAdminImpliesAll) {
  config::ApiConfig api;
  api.admins = {"platform"};
  api.approvers = {"dba"};
  api.auditors = {"security"};
  auth::Subject s;
  EXPECT_EQ(rolesFor(s, api), 0u);
  s.groups = {"dba", "security", "other"};
  EXPECT_EQ(rolesFor(s, api), kApprover | kAuditor);
  EXPECT_EQ(roleNames(rolesFor(s, api)), (std::vector<std::string>{"approver", "auditor"}));
  s.groups = {"platform"};
  EXPECT_EQ(rolesFor(s, api), kAdmin | kApprover | kAuditor);
  EXPECT_EQ(describeRoles(kApprover | kAdmin), "approver or admin");
  EXPECT_EQ(describeRoles(kReaders), "auditor, approver or admin");
}

}  // namespace
}  // namespace pgw::api
