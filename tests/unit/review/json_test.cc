// The JSON form of reviews and access requests (review/json.h): what the
// REST API returns and webhooks send.

#include "review/json.h"

#include <gtest/gtest.h>

namespace pgw::review {
namespace {

using nlohmann::json;

constexpr int64_t kT = 1764013371123456;  // 2025-11-24T19:42:51.123456Z

Person alice() {
  return Person{"alice", "Alice A.", {"ai-agents", "dev"}, "https://idp.example", "oidc"};
}

Review sampleReview() {
  Review r;
  r.id = "rv_0123456789abcdef0123";
  r.state = State::Pending;
  r.mode = config::ApprovalMode::Retry;
  r.subject = alice();
  r.connection = "prod";
  r.policy = "agents-prod";
  r.rule = "review[0]";
  r.reason = "DELETE needs an approval";
  r.statement = "DELETE FROM users WHERE id = $1 AND note = 'x'";
  r.normalized = "DELETE FROM users WHERE id = $1 AND note = $2";
  r.fingerprint = "abc123";
  r.kind = "delete";
  r.tables = {"public.users"};
  r.parameters = {std::string("42"), std::nullopt};
  r.estimated_rows = 1.5;
  r.recent_statements = {"SELECT 1", "SELECT 2"};
  r.session_id = 7;
  r.client_address = "127.0.0.1:5000";
  r.approver_groups = {"dba"};
  r.min_approvals = 2;
  r.votes = {Vote{Person{"bob", "Bob", {"dba"}, "iss", "oidc"}, true, "ok", kT + 1000}};
  r.created_us = kT;
  r.expires_us = kT + 300'000'000;
  return r;
}

TEST(Rfc3339, MillisecondsUtcAndEmptyForZero) {
  EXPECT_EQ(rfc3339(kT), "2025-11-24T19:42:51.123Z");
  EXPECT_EQ(rfc3339(0), "");
  EXPECT_EQ(rfc3339(86'400'000'999), "1970-01-02T00:00:00.000Z");
  // Before the epoch the clock time still counts forward within the second.
  EXPECT_EQ(rfc3339(-1), "1969-12-31T23:59:59.999Z");
}

TEST(ReviewJson, EveryField) {
  const json j = toJson(sampleReview());
  EXPECT_EQ(j["id"], "rv_0123456789abcdef0123");
  EXPECT_EQ(j["state"], "pending");
  EXPECT_EQ(j["mode"], "retry");
  EXPECT_EQ(j["subject"], (json{{"id", "alice"},
                                {"display_name", "Alice A."},
                                {"groups", {"ai-agents", "dev"}},
                                {"issuer", "https://idp.example"},
                                {"method", "oidc"}}));
  EXPECT_EQ(j["connection"], "prod");
  EXPECT_EQ(j["policy"], "agents-prod");
  EXPECT_EQ(j["rule"], "review[0]");
  EXPECT_EQ(j["reason"], "DELETE needs an approval");
  EXPECT_EQ(j["statement"], "DELETE FROM users WHERE id = $1 AND note = 'x'");
  EXPECT_EQ(j["normalized"], "DELETE FROM users WHERE id = $1 AND note = $2");
  EXPECT_EQ(j["fingerprint"], "abc123");
  EXPECT_EQ(j["kind"], "delete");
  EXPECT_EQ(j["tables"], json({"public.users"}));
  EXPECT_EQ(j["parameters"], json::parse(R"(["42", null])"));
  EXPECT_EQ(j["estimated_rows"], 1.5);
  EXPECT_TRUE(j["estimated_cost"].is_null());
  EXPECT_EQ(j["recent_statements"], json({"SELECT 1", "SELECT 2"}));
  EXPECT_EQ(j["session_id"], 7);
  EXPECT_EQ(j["client_address"], "127.0.0.1:5000");
  EXPECT_EQ(j["approver_groups"], json({"dba"}));
  EXPECT_EQ(j["min_approvals"], 2);
  EXPECT_EQ(j["approvals"], 1);
  EXPECT_EQ(j["approvals_needed"], 1);
  ASSERT_EQ(j["votes"].size(), 1u);
  EXPECT_EQ(j["votes"][0]["by"]["id"], "bob");
  EXPECT_EQ(j["votes"][0]["approve"], true);
  EXPECT_EQ(j["votes"][0]["comment"], "ok");
  EXPECT_EQ(j["votes"][0]["at"], "2025-11-24T19:42:51.124Z");
  EXPECT_EQ(j["created_at"], "2025-11-24T19:42:51.123Z");
  EXPECT_EQ(j["expires_at"], "2025-11-24T19:47:51.123Z");
  EXPECT_TRUE(j["decided_at"].is_null());
  EXPECT_TRUE(j["run_by"].is_null());
  EXPECT_TRUE(j["consumed_at"].is_null());
  EXPECT_EQ(j["outcome_message"], "");
  // Nothing else: a field added to Review must be added here on purpose.
  EXPECT_EQ(j.size(), 30u);
}

TEST(ReviewJson, DecidedReviewAndWaitMode) {
  Review r = sampleReview();
  r.mode = config::ApprovalMode::Wait;
  r.state = State::Consumed;
  r.votes.push_back(Vote{Person{"carol", "", {}, "", "oidc"}, true, "", kT + 2000});
  r.votes.push_back(Vote{Person{"dave", "", {}, "", "oidc"}, false, "no", kT + 3000});
  r.decided_us = kT + 2000;
  r.run_by_us = kT + 900'000'000;
  r.consumed_us = kT + 5'000'000;
  r.estimated_rows.reset();
  r.estimated_cost = 12.25;
  const json j = toJson(r);
  EXPECT_EQ(j["mode"], "wait");
  EXPECT_EQ(j["state"], "consumed");
  EXPECT_EQ(j["approvals"], 2);
  EXPECT_EQ(j["approvals_needed"], 0);
  EXPECT_EQ(j["votes"][2]["approve"], false);
  EXPECT_EQ(j["decided_at"], "2025-11-24T19:42:51.125Z");
  EXPECT_EQ(j["run_by"], "2025-11-24T19:57:51.123Z");
  EXPECT_EQ(j["consumed_at"], "2025-11-24T19:42:56.123Z");
  EXPECT_TRUE(j["estimated_rows"].is_null());
  EXPECT_EQ(j["estimated_cost"], 12.25);
}

TEST(ReviewJson, InvalidUtf8InAStatementDoesNotThrowWhenDumpedWithReplace) {
  Review r = sampleReview();
  r.statement = "SELECT '\xff'";
  const json j = toJson(r);
  EXPECT_NO_THROW(j.dump(-1, ' ', false, json::error_handler_t::replace));
}

TEST(AccessRequestJson, EveryField) {
  AccessRequest a;
  a.id = "ar_0123456789abcdef0123";
  a.state = State::Approved;
  a.subject = alice();
  a.connection = "prod";
  a.level = config::AccessLevel::Ddl;
  a.duration_us = 3600'000'000LL;
  a.reason = "migration";
  a.policy = "agents-prod";
  a.approver_groups = {"dba"};
  a.min_approvals = 1;
  a.votes = {Vote{Person{"bob", "Bob", {"dba"}, "iss", "oidc"}, true, "", kT}};
  a.created_us = kT - 1000;
  a.expires_us = kT + 1000;
  a.starts_us = kT;
  a.ends_us = kT + 3600'000'000LL;
  a.decided_us = kT;
  const json j = toJson(a);
  EXPECT_EQ(j["id"], "ar_0123456789abcdef0123");
  EXPECT_EQ(j["state"], "approved");
  EXPECT_EQ(j["subject"]["id"], "alice");
  EXPECT_EQ(j["connection"], "prod");
  EXPECT_EQ(j["level"], "ddl");
  EXPECT_EQ(j["duration_seconds"], 3600);
  EXPECT_EQ(j["reason"], "migration");
  EXPECT_EQ(j["policy"], "agents-prod");
  EXPECT_EQ(j["approver_groups"], json({"dba"}));
  EXPECT_EQ(j["min_approvals"], 1);
  EXPECT_EQ(j["approvals"], 1);
  EXPECT_EQ(j["approvals_needed"], 0);
  EXPECT_EQ(j["votes"].size(), 1u);
  EXPECT_EQ(j["created_at"], "2025-11-24T19:42:51.122Z");
  EXPECT_EQ(j["expires_at"], "2025-11-24T19:42:51.124Z");
  EXPECT_EQ(j["starts_at"], "2025-11-24T19:42:51.123Z");
  EXPECT_EQ(j["ends_at"], "2025-11-24T20:42:51.123Z");
  EXPECT_EQ(j["decided_at"], "2025-11-24T19:42:51.123Z");
  EXPECT_EQ(j["active"], false);  // the window is in 2025
  EXPECT_EQ(j["outcome_message"], "");
  EXPECT_EQ(j.size(), 20u);

  a.starts_us = nowUs() - 1'000'000;
  a.ends_us = nowUs() + 60'000'000;
  EXPECT_EQ(toJson(a)["active"], true);
  for (auto [level, name] : {std::pair{config::AccessLevel::Read, "read"},
                             std::pair{config::AccessLevel::Write, "write"},
                             std::pair{config::AccessLevel::Admin, "admin"}}) {
    a.level = level;
    EXPECT_EQ(toJson(a)["level"], name);
  }
}

}  // namespace
}  // namespace pgw::review
