// Reviews and access requests over HTTP, with the real review service:
// approve / deny flows, self-approval and approver groups (403), the long
// poll, who may read what, and the validation of access requests against
// the governing policy's jit: and approval: settings.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "api_fixture.h"

namespace pgw::api::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(ApiTest, ApproveFlowWithTwoApprovals) {
  const review::Review rv = fileReview("tok-agent", 2);
  Response r = get("/api/reviews?state=pending", "tok-auditor");
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_EQ(r.body["reviews"].size(), 1u);
  EXPECT_EQ(r.body["reviews"][0]["id"], rv.id);
  EXPECT_EQ(r.body["reviews"][0]["statement"], rv.statement);
  EXPECT_EQ(r.body["next"], nullptr);

  r = post("/api/reviews/" + rv.id + "/approve", "tok-dba", {{"comment", "looks fine"}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "pending");
  EXPECT_EQ(r.body["approvals"], 1);
  // The same approver twice is refused by the service.
  EXPECT_EQ(post("/api/reviews/" + rv.id + "/approve", "tok-dba", json::object()).status, 409);

  r = call("POST", "/api/reviews/" + rv.id + "/approve", "tok-dba2");  // no body at all
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "approved");
  EXPECT_EQ(get("/api/reviews/" + rv.id, "tok-auditor").body["state"], "approved");

  // Decided: a late deny is a conflict.
  EXPECT_EQ(post("/api/reviews/" + rv.id + "/deny", "tok-admin", json::object()).status, 409);

  std::vector<AuditedCall> approvals;
  for (const AuditedCall& a : control_.auditedCalls()) {
    if (a.action == "review.approve" || a.action == "review.deny") approvals.push_back(a);
  }
  ASSERT_EQ(approvals.size(), 4u);
  EXPECT_EQ(approvals[0].subject, "bob");
  EXPECT_EQ(approvals[0].target, rv.id);
  EXPECT_EQ(approvals[0].status, 200);
  EXPECT_THAT(approvals[0].detail, HasSubstr("1 of 2"));
  EXPECT_EQ(approvals[1].status, 409);
  EXPECT_EQ(approvals[2].subject, "carol");
  EXPECT_EQ(approvals[3].action, "review.deny");
  EXPECT_EQ(approvals[3].status, 409);
}

TEST_F(ApiTest, DenyFlow) {
  const review::Review rv = fileReview("tok-agent");
  Response r = post("/api/reviews/" + rv.id + "/deny", "tok-dba", {{"comment", "not today"}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "denied");
  EXPECT_EQ(r.body["votes"][0]["comment"], "not today");
  EXPECT_EQ(reviews_->get(rv.id)->state, review::State::Denied);
}

TEST_F(ApiTest, SelfApprovalAndApproversOutsideThePolicysGroupsAre403) {
  const review::Review own = fileReview("tok-agent-dba");
  Response r = post("/api/reviews/" + own.id + "/approve", "tok-agent-dba", json::object());
  EXPECT_EQ(r.status, 403) << r.text;
  EXPECT_THAT(r.error(), HasSubstr("self-approval"));

  const review::Review rv = fileReview("tok-agent");
  r = post("/api/reviews/" + rv.id + "/approve", "tok-oncall", json::object());
  EXPECT_EQ(r.status, 403) << r.text;  // an approver, but not in [dba]
  EXPECT_EQ(reviews_->get(rv.id)->state, review::State::Pending);
  EXPECT_EQ(reviews_->get(own.id)->state, review::State::Pending);

  bool audited_self = false;
  for (const AuditedCall& a : control_.auditedCalls()) {
    audited_self = audited_self || (a.subject == "mallory" && a.status == 403 &&
                                    a.action == "review.approve" && a.target == own.id);
  }
  EXPECT_TRUE(audited_self);
}

TEST_F(ApiTest, UnknownReviewIdsAre404) {
  EXPECT_EQ(get("/api/reviews/rv_00000000000000000000", "tok-admin").status, 404);
  EXPECT_EQ(post("/api/reviews/rv_nope/approve", "tok-admin", json::object()).status, 404);
  EXPECT_EQ(get("/api/reviews/rv_nope/wait?timeout=0", "tok-admin").status, 404);
  EXPECT_EQ(get("/api/access-requests/ar_nope", "tok-admin").status, 404);
}

TEST_F(ApiTest, SubjectsReadTheirOwnReviewsOnly) {
  const review::Review mine = fileReview("tok-agent");
  const review::Review theirs = fileReview("tok-agent2");
  EXPECT_EQ(get("/api/reviews/" + mine.id, "tok-agent").status, 200);
  EXPECT_EQ(get("/api/reviews/" + theirs.id, "tok-agent").status, 403);
  Response r = get("/api/reviews", "tok-agent");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body["reviews"].size(), 1u);
  EXPECT_EQ(r.body["reviews"][0]["id"], mine.id);
  EXPECT_EQ(get("/api/reviews?subject=agent-2", "tok-agent").status, 403);
  EXPECT_EQ(get("/api/reviews?subject=agent-2", "tok-auditor").body["reviews"].size(), 1u);
}

TEST_F(ApiTest, ReviewListsPage) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(fileReview("tok-agent").id);
  Response r = get("/api/reviews?limit=2", "tok-admin");
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.body["reviews"].size(), 2u);
  std::set<std::string> seen;
  std::string next = r.body["next"].get<std::string>();
  for (const auto& item : r.body["reviews"]) seen.insert(item["id"]);
  while (!next.empty()) {
    r = get("/api/reviews?limit=2&before=" + next, "tok-admin");
    ASSERT_EQ(r.status, 200);
    for (const auto& item : r.body["reviews"]) seen.insert(item["id"]);
    next = r.body["next"].is_string() ? r.body["next"].get<std::string>() : "";
  }
  EXPECT_EQ(seen, std::set<std::string>(ids.begin(), ids.end()));
}

TEST_F(ApiTest, WaitReturnsWhenTheReviewIsDecided) {
  const review::Review rv = fileReview("tok-agent");
  // Not decided: returns at the timeout, still pending.
  Response r = get("/api/reviews/" + rv.id + "/wait?timeout=0", "tok-agent");
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "pending");
  EXPECT_EQ(get("/api/reviews/" + rv.id + "/wait?timeout=61", "tok-agent").status, 400);
  EXPECT_EQ(get("/api/reviews/" + rv.id + "/wait?timeout=-1", "tok-agent").status, 400);

  const auto start = std::chrono::steady_clock::now();
  Response waited;
  std::thread waiter(
      [&] { waited = get("/api/reviews/" + rv.id + "/wait?timeout=30", "tok-agent"); });
  EXPECT_TRUE(waitForLongPolls(1));
  ASSERT_EQ(post("/api/reviews/" + rv.id + "/approve", "tok-dba", json::object()).status, 200);
  waiter.join();
  EXPECT_EQ(waited.status, 200) << waited.text;
  EXPECT_EQ(waited.body["state"], "approved");
  EXPECT_TRUE(waitForLongPolls(0));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(ApiTest, StoppingTheServerEndsLongPolls) {
  const review::Review rv = fileReview("tok-agent");
  Response waited;
  std::thread waiter(
      [&] { waited = get("/api/reviews/" + rv.id + "/wait?timeout=60", "tok-agent"); });
  EXPECT_TRUE(waitForLongPolls(1));
  const auto start = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  waiter.join();
  EXPECT_EQ(waited.body.value("state", ""), "pending");
}

TEST_F(ApiTest, LongPollsAreLimited) {
  const review::Review rv = fileReview("tok-agent");
  std::vector<std::thread> waiters;
  std::vector<Response> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    waiters.emplace_back(
        [&, i] { results[i] = get("/api/reviews/" + rv.id + "/wait?timeout=30", "tok-auditor"); });
  }
  const bool all_waiting = waitForLongPolls(4);
  const Response refused = get("/api/reviews/" + rv.id + "/wait?timeout=30", "tok-auditor");
  // Other requests are still served meanwhile.
  const Response other = get("/api/reviews/" + rv.id, "tok-auditor");
  post("/api/reviews/" + rv.id + "/deny", "tok-dba", json::object());
  for (std::thread& t : waiters) t.join();
  ASSERT_TRUE(all_waiting);
  EXPECT_EQ(refused.status, 503) << refused.text;
  EXPECT_EQ(refused.header("Retry-After"), "1");
  EXPECT_EQ(other.status, 200);
  for (const Response& r : results) EXPECT_EQ(r.body.value("state", ""), "denied") << r.text;
}

// ---- access requests ---------------------------------------------------------

json accessBody(const std::string& level = "write", const std::string& duration = "1h",
                const std::string& connection = "prod") {
  return {{"connection", connection},
          {"level", level},
          {"duration", duration},
          {"reason", "fix the billing migration"}};
}

TEST_F(ApiTest, AccessRequestFlow) {
  Response r = post("/api/access-requests", "tok-agent", accessBody("ddl", "90m"));
  ASSERT_EQ(r.status, 201) << r.text;
  const std::string id = r.body["id"];
  EXPECT_EQ(r.body["state"], "pending");
  EXPECT_EQ(r.body["subject"]["id"], "agent-1");
  EXPECT_EQ(r.body["level"], "ddl");
  EXPECT_EQ(r.body["duration_seconds"], 5400);
  EXPECT_EQ(r.body["policy"], "agents-prod");
  EXPECT_EQ(r.body["approver_groups"], json({"dba"}));

  // The requester reads its own; another agent may not.
  EXPECT_EQ(get("/api/access-requests/" + id, "tok-agent").status, 200);
  EXPECT_EQ(get("/api/access-requests/" + id, "tok-agent2").status, 403);
  EXPECT_EQ(get("/api/access-requests", "tok-agent2").body["access_requests"].size(), 0u);
  EXPECT_EQ(get("/api/access-requests", "tok-agent").body["access_requests"].size(), 1u);
  EXPECT_EQ(get("/api/access-requests?state=pending", "tok-dba").body["access_requests"].size(),
            1u);

  // Approving one's own request: the requester holds no approver role.
  EXPECT_EQ(post("/api/access-requests/" + id + "/approve", "tok-agent", json::object()).status,
            403);
  r = post("/api/access-requests/" + id + "/approve", "tok-dba", {{"comment", "ok for today"}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "approved");
  EXPECT_EQ(r.body["active"], true);
  EXPECT_TRUE(reviews_->activeGrant("agent-1", "prod", review::nowUs()).has_value());

  r = post("/api/access-requests/" + id + "/revoke", "tok-admin", json::object());
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "revoked");
  EXPECT_FALSE(reviews_->activeGrant("agent-1", "prod", review::nowUs()).has_value());

  std::vector<std::string> actions;
  for (const AuditedCall& a : control_.auditedCalls()) {
    if (a.status < 400) actions.push_back(a.action + " " + a.subject);
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"access.request agent-1", "access.approve bob",
                                               "access.revoke alice"}));
}

TEST_F(ApiTest, SelfApprovalOfAccessIs403) {
  Response r = post("/api/access-requests", "tok-agent-dba", accessBody());
  ASSERT_EQ(r.status, 201) << r.text;
  const std::string id = r.body["id"];
  r = post("/api/access-requests/" + id + "/approve", "tok-agent-dba", json::object());
  EXPECT_EQ(r.status, 403) << r.text;
  EXPECT_THAT(r.error(), HasSubstr("self-approval"));
  r = post("/api/access-requests/" + id + "/deny", "tok-dba", json::object());
  EXPECT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["state"], "denied");
}

TEST_F(ApiTest, AccessRequestsAreCheckedAgainstThePolicy) {
  struct Case {
    std::string token;
    json body;
    int status;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"tok-agent", accessBody("read"), 400, "'level' must be write, ddl or admin"},
      {"tok-agent", accessBody("admin"), 400, "grants at most ddl"},
      {"tok-agent", accessBody("superuser"), 400, "'level'"},
      {"tok-agent", accessBody("write", "5h"), 400, "grants at most 4h"},
      {"tok-agent", accessBody("write", "0s"), 400, "longer than 0"},
      {"tok-agent", accessBody("write", "3600"), 400, "with a unit"},
      {"tok-agent", accessBody("write", "1 h"), 400, "with a unit"},
      {"tok-agent", accessBody("write", "-1h"), 400, "with a unit"},
      {"tok-agent", accessBody("write", "99999999999999999999h"), 400, "with a unit"},
      {"tok-agent", accessBody("write", "1h", "staging"), 400, "already allows write"},
      {"tok-agent", accessBody("ddl", "1h", "staging"), 400, "takes no access requests"},
      {"tok-agent", accessBody("write", "1h", "nope"), 404, "no connection named 'nope'"},
      {"tok-auditor", accessBody(), 403, "no policy lets erin use connection 'prod'"},
      {"tok-agent",
       {{"connection", "prod"}, {"level", "write"}, {"duration", "1h"}},
       400,
       "'reason' is required"},
      {"tok-agent",
       {{"connection", "prod"}, {"level", 2}, {"duration", "1h"}, {"reason", "x"}},
       400,
       "'level' must be a string"},
      {"tok-agent",
       {{"connection", "prod"}, {"level", "write"}, {"duration", 3600}, {"reason", "x"}},
       400,
       "'duration' must be a string"},
      {"tok-agent",
       {{"connection", "prod"},
        {"level", "write"},
        {"duration", "1h"},
        {"reason", "x"},
        {"subject", "someone-else"}},
       400,
       "unknown field 'subject'"},
  };
  for (const Case& c : cases) {
    const Response r = post("/api/access-requests", c.token, c.body);
    EXPECT_EQ(r.status, c.status) << c.body.dump() << " -> " << r.text;
    EXPECT_THAT(r.error(), HasSubstr(c.message)) << c.body.dump();
  }
  EXPECT_EQ(reviews_->pendingAccessRequests(), 0u);
}

TEST_F(ApiTest, AccessRequestsFollowTheConfigInForce) {
  // A reload that lowers jit.max_duration applies to the next request.
  std::string yaml = kConfigYaml;
  yaml.replace(yaml.find("max_duration: 4h"), 16, "max_duration: 30m");
  dir_.write("pgwarden.yaml", yaml);
  ASSERT_TRUE(control_.reload().ok());
  const Response r = post("/api/access-requests", "tok-agent", accessBody("write", "1h"));
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_THAT(r.error(), HasSubstr("grants at most 30m"));
  EXPECT_EQ(post("/api/access-requests", "tok-agent", accessBody("write", "30m")).status, 201);
}

}  // namespace
}  // namespace pgw::api::testing
