#include "review/service.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "support/temp_dir.h"

namespace pgw::review {
namespace {

Person person(std::string id, std::vector<std::string> groups = {}) {
  Person p;
  p.id = std::move(id);
  p.groups = std::move(groups);
  return p;
}

Review statement(std::string text, std::string retry_key = "") {
  Review r;
  r.subject = person("alice", {"ai-agents"});
  r.connection = "prod";
  r.policy = "agents";
  r.rule = "review[0]";
  r.statement = std::move(text);
  r.retry_key = std::move(retry_key);
  return r;
}

ApprovalRules rules(int min = 1, std::vector<std::string> groups = {"dba"}) {
  ApprovalRules r;
  r.approver_groups = std::move(groups);
  r.min_approvals = min;
  return r;
}

TEST(ReviewService, ApprovalNeedsTheMinimumAndWakesTheWatcher) {
  auto svc = ReviewService::open(":memory:");
  ASSERT_TRUE(svc) << svc.error().message;
  auto r = (*svc)->create(statement("DELETE FROM t"), rules(2));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->state, State::Pending);
  EXPECT_EQ(r->id.rfind("rv_", 0), 0u);
  std::atomic<int> fired{0};
  State seen = State::Pending;
  (*svc)->watch(r->id, [&](const Review& d) {
    seen = d.state;
    ++fired;
  });
  auto one = (*svc)->approve(r->id, person("bob", {"dba"}), "ok");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->state, State::Pending);
  EXPECT_EQ(fired, 0);
  auto again = (*svc)->approve(r->id, person("bob", {"dba"}), "");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().sqlstate, "409");
  auto two = (*svc)->approve(r->id, person("carol", {"dba"}), "");
  ASSERT_TRUE(two);
  EXPECT_EQ(two->state, State::Approved);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(seen, State::Approved);
  auto late = (*svc)->deny(r->id, person("dave", {"dba"}), "");
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().sqlstate, "409");
}

TEST(ReviewService, SelfApprovalAndOutsidersAreRefused) {
  auto svc = ReviewService::open(":memory:");
  ASSERT_TRUE(svc);
  auto r = (*svc)->create(statement("DELETE FROM t"), rules());
  ASSERT_TRUE(r);
  auto self = (*svc)->approve(r->id, person("alice", {"dba"}), "");
  ASSERT_FALSE(self);
  EXPECT_EQ(self.error().sqlstate, "403");
  auto outsider = (*svc)->approve(r->id, person("eve", {"ai-agents"}), "");
  ASSERT_FALSE(outsider);
  EXPECT_EQ(outsider.error().sqlstate, "403");
  EXPECT_EQ((*svc)->approve("rv_nope", person("bob", {"dba"}), "").error().sqlstate, "404");
  EXPECT_EQ((*svc)->get(r->id)->state, State::Pending);
}

TEST(ReviewService, RetryApprovalRunsExactlyOnce) {
  auto svc = ReviewService::open(":memory:");
  ASSERT_TRUE(svc);
  const std::string key = retryKey("alice", "iss", "prod", "DELETE FROM t WHERE id = $1", {"7"});
  EXPECT_NE(key, retryKey("alice", "iss", "prod", "DELETE FROM t WHERE id = $1", {"8"}));
  EXPECT_NE(key, retryKey("alice", "other", "prod", "DELETE FROM t WHERE id = $1", {"7"}));
  EXPECT_NE(key, retryKey("alice", "iss", "prod", "DELETE FROM t WHERE id = $1", {std::nullopt}));
  ApprovalRules rr = rules();
  rr.mode = config::ApprovalMode::Retry;
  auto r = (*svc)->create(statement("DELETE FROM t WHERE id = $1", key), rr);
  ASSERT_TRUE(r);
  EXPECT_FALSE((*svc)->consume(key));  // not approved yet
  EXPECT_TRUE((*svc)->pendingFor(key));
  ASSERT_TRUE((*svc)->approve(r->id, person("bob", {"dba"}), ""));
  auto used = (*svc)->consume(key);
  ASSERT_TRUE(used);
  EXPECT_EQ(used->id, r->id);
  EXPECT_FALSE((*svc)->consume(key));
  EXPECT_EQ((*svc)->get(r->id)->state, State::Consumed);
}

TEST(ReviewService, PendingReviewsExpireAndWaitersReturn) {
  auto svc = ReviewService::open(":memory:");
  ASSERT_TRUE(svc);
  ApprovalRules rr = rules();
  rr.timeout_us = 50'000;
  auto r = (*svc)->create(statement("DELETE FROM t"), rr);
  ASSERT_TRUE(r);
  auto waited = (*svc)->waitDecided(r->id, std::chrono::seconds(5));
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->state, State::Expired);
}

TEST(ReviewService, LongPollReturnsOnApproval) {
  auto svc = ReviewService::open(":memory:");
  ASSERT_TRUE(svc);
  auto r = (*svc)->create(statement("DELETE FROM t"), rules());
  ASSERT_TRUE(r);
  std::thread approver([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ASSERT_TRUE((*svc)->approve(r->id, person("bob", {"dba"}), ""));
  });
  auto waited = (*svc)->waitDecided(r->id, std::chrono::seconds(10));
  approver.join();
  ASSERT_TRUE(waited);
  EXPECT_EQ(waited->state, State::Approved);
}

TEST(ReviewService, StateSurvivesARestartButWaitingStatementsAreWithdrawn) {
  test_support::TempDir dir;
  const std::string path = dir.path() + "/state.db";
  std::string waiting, retry, grant;
  {
    auto svc = ReviewService::open(path);
    ASSERT_TRUE(svc) << svc.error().message;
    waiting = (*svc)->create(statement("DELETE FROM a"), rules())->id;
    ApprovalRules rr = rules();
    rr.mode = config::ApprovalMode::Retry;
    auto r = (*svc)->create(statement("DELETE FROM b", "k1"), rr);
    retry = r->id;
    ASSERT_TRUE((*svc)->approve(retry, person("bob", {"dba"}), "fine"));
    AccessRequest a;
    a.subject = person("alice", {"ai-agents"});
    a.connection = "prod";
    a.level = config::AccessLevel::Write;
    a.duration_us = 3600'000'000LL;
    auto req = (*svc)->requestAccess(a, rules());
    ASSERT_TRUE(req);
    grant = req->id;
    ASSERT_TRUE((*svc)->approveAccess(grant, person("bob", {"dba"}), ""));
  }
  auto svc = ReviewService::open(path);
  ASSERT_TRUE(svc) << svc.error().message;
  EXPECT_EQ((*svc)->get(waiting)->state, State::Withdrawn);
  auto r = (*svc)->get(retry);
  EXPECT_EQ(r->state, State::Approved);
  ASSERT_EQ(r->votes.size(), 1u);
  EXPECT_EQ(r->votes[0].comment, "fine");
  EXPECT_TRUE((*svc)->consume("k1"));
  auto g = (*svc)->activeGrant("alice", "prod", nowUs());
  ASSERT_TRUE(g);
  EXPECT_EQ(g->id, grant);
  EXPECT_EQ(g->level, config::AccessLevel::Write);
}

TEST(ReviewService, GrantsAreActiveInTheirWindowAndRevocable) {
  auto svc = ReviewService::open(":memory:");
  ASSERT_TRUE(svc);
  AccessRequest a;
  a.subject = person("alice", {"ai-agents"});
  a.connection = "prod";
  a.level = config::AccessLevel::Ddl;
  a.duration_us = 60'000'000;
  auto req = (*svc)->requestAccess(a, rules());
  ASSERT_TRUE(req);
  EXPECT_FALSE((*svc)->activeGrant("alice", "prod", nowUs()));
  EXPECT_EQ((*svc)->approveAccess(req->id, person("alice", {"dba"}), "").error().sqlstate, "403");
  const uint64_t gen = (*svc)->grantGeneration();
  ASSERT_TRUE((*svc)->approveAccess(req->id, person("bob", {"dba"}), ""));
  EXPECT_GT((*svc)->grantGeneration(), gen);
  EXPECT_TRUE((*svc)->activeGrant("alice", "prod", nowUs()));
  EXPECT_FALSE((*svc)->activeGrant("alice", "staging", nowUs()));
  EXPECT_FALSE((*svc)->activeGrant("alice", "prod", nowUs() + 61'000'000));
  ASSERT_TRUE((*svc)->revokeAccess(req->id, person("bob", {"dba"}), "done"));
  EXPECT_FALSE((*svc)->activeGrant("alice", "prod", nowUs()));

  // A denial keeps the approver's reason, as for reviews.
  auto other = (*svc)->requestAccess(a, rules());
  ASSERT_TRUE(other);
  auto denied = (*svc)->denyAccess(other->id, person("bob", {"dba"}), "not during the freeze");
  ASSERT_TRUE(denied);
  EXPECT_EQ(denied->state, State::Denied);
  EXPECT_EQ(denied->outcome_message, "denied by bob: not during the freeze");
}

TEST(ReviewService, RetentionPrunesDecidedRecordsOnly) {
  test_support::TempDir dir;
  const std::string path = dir.path() + "/state.db";
  const int64_t hour = 3600LL * 1'000'000;
  std::string pending, denied, grant;
  {
    auto svc = ReviewService::open(path, hour);
    ASSERT_TRUE(svc) << svc.error().message;
    pending = (*svc)->create(statement("DELETE FROM a"), rules())->id;
    ApprovalRules rr = rules();
    rr.mode = config::ApprovalMode::Retry;
    denied = (*svc)->create(statement("DELETE FROM b", "k2"), rr)->id;
    ASSERT_TRUE((*svc)->deny(denied, person("bob", {"dba"}), "no"));
    AccessRequest a;
    a.subject = person("alice", {"ai-agents"});
    a.connection = "prod";
    a.level = config::AccessLevel::Write;
    a.duration_us = 2 * hour;
    grant = (*svc)->requestAccess(a, rules())->id;
    ASSERT_TRUE((*svc)->approveAccess(grant, person("bob", {"dba"}), ""));

    // Within the retention nothing goes; a live grant stays until it ends.
    EXPECT_EQ((*svc)->prune(nowUs()), 0u);
    EXPECT_EQ((*svc)->prune(nowUs() + 2 * hour), 1u);  // the denied review
    EXPECT_EQ((*svc)->get(denied).error().sqlstate, "404");
    EXPECT_TRUE((*svc)->get(pending));
    EXPECT_TRUE((*svc)->getAccess(grant));
    EXPECT_FALSE((*svc)->pendingFor("k2"));
    EXPECT_EQ((*svc)->prune(nowUs() + 4 * hour), 1u);  // the grant, an hour after its end
    EXPECT_EQ((*svc)->getAccess(grant).error().sqlstate, "404");
  }
  // Gone from the file too; the pending review (expired by now or not) stays.
  auto svc = ReviewService::open(path, hour);
  ASSERT_TRUE(svc);
  EXPECT_EQ((*svc)->get(denied).error().sqlstate, "404");
  EXPECT_EQ((*svc)->getAccess(grant).error().sqlstate, "404");
  EXPECT_TRUE((*svc)->get(pending));
}

}  // namespace
}  // namespace pgw::review
