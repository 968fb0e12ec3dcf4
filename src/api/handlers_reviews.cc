// /api/reviews: list, get, approve, deny, and the long poll for a decision.
//
// Readers are auditors, approvers and admins; any subject may also read the
// reviews of its own statements (a client in retry mode polls the review its
// error named). Approving and denying needs approver or admin; the review
// service itself refuses self-approval and approvers outside the policy's
// approver groups (403).

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/call.h"
#include "api/services.h"
#include "review/json.h"

namespace pgw::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr int64_t kDefaultWaitSeconds = 30;
constexpr int64_t kMaxWaitSeconds = 60;
/// Long polls at once; each holds one of the server's threads.
constexpr int kMaxWaiters = 4;
/// A long poll re-checks the server's stop flag this often.
constexpr auto kWaitSlice = 200ms;

/// Counts a long poll in `waiters` for its lifetime.
class WaitSlot {
 public:
  explicit WaitSlot(std::atomic<int>& waiters) : waiters_(waiters) {
    if (waiters_.fetch_add(1) >= kMaxWaiters) {
      waiters_.fetch_sub(1);
      throw ApiError(
          503,
          "too many long polls in progress (" + std::to_string(kMaxWaiters) + "); retry shortly",
          nullptr, {{"Retry-After", "1"}});
    }
  }
  ~WaitSlot() { waiters_.fetch_sub(1); }
  WaitSlot(const WaitSlot&) = delete;
  WaitSlot& operator=(const WaitSlot&) = delete;

 private:
  std::atomic<int>& waiters_;
};

Reply listReviews(Services& services, Call& call) {
  const review::ReviewFilter filter =
      listFilter(call, "pending, approved, denied, expired, withdrawn, consumed, revoked",
                 "reading another subject's reviews");
  return Reply::ofJson(listPage("reviews", services.reviewService().list(filter), filter.limit));
}

Reply getReview(Services& services, Call& call) {
  call.query({});
  auto r = services.reviewService().get(call.param("id"));
  if (!r) throwError(r.error(), 404);
  requireReader(call, r->subject.id, "reading another subject's review");
  return Reply::ofJson(review::toJson(*r));
}

Reply decideReview(Services& services, Call& call, bool approve) {
  std::string comment = decisionComment(call);
  review::ReviewService& reviews = services.reviewService();
  const review::Person by = review::Person::from(call.subject());
  auto r = approve ? reviews.approve(call.param("id"), by, std::move(comment))
                   : reviews.deny(call.param("id"), by, std::move(comment));
  if (!r) throwError(r.error(), 400);
  call.audit_detail = std::string(approve ? "approved" : "denied") + "; the review is now " +
                      std::string(review::stateName(r->state)) + " (" +
                      std::to_string(r->approvals()) + " of " + std::to_string(r->min_approvals) +
                      " approvals)";
  return Reply::ofJson(review::toJson(*r));
}

Reply waitReview(Services& services, Call& call) {
  const QueryParams q = call.query({"timeout"});
  const int64_t seconds = q.integer("timeout", 0, kMaxWaitSeconds).value_or(kDefaultWaitSeconds);
  review::ReviewService& reviews = services.reviewService();
  const std::string& id = call.param("id");
  auto r = reviews.get(id);
  if (!r) throwError(r.error(), 404);
  requireReader(call, r->subject.id, "waiting for another subject's review");

  WaitSlot slot(services.waiters);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (r->state == review::State::Pending && !services.stopping) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    r = reviews.waitDecided(id, std::min<std::chrono::milliseconds>(left, kWaitSlice));
    if (!r) throwError(r.error(), 404);
  }
  return Reply::ofJson(review::toJson(*r));
}

}  // namespace

void addReviewRoutes(Router& router, Services& services) {
  Services* s = &services;
  router.add(Route{.method = "GET",
                   .pattern = "/api/reviews",
                   .action = "review.list",
                   .handler = [s](Call& call) { return listReviews(*s, call); }});
  router.add(Route{.method = "GET",
                   .pattern = "/api/reviews/{id}",
                   .action = "review.get",
                   .handler = [s](Call& call) { return getReview(*s, call); }});
  router.add(Route{.method = "POST",
                   .pattern = "/api/reviews/{id}/approve",
                   .action = "review.approve",
                   .roles = kApprover | kAdmin,
                   .body = true,
                   .audited = true,
                   .handler = [s](Call& call) { return decideReview(*s, call, true); }});
  router.add(Route{.method = "POST",
                   .pattern = "/api/reviews/{id}/deny",
                   .action = "review.deny",
                   .roles = kApprover | kAdmin,
                   .body = true,
                   .audited = true,
                   .handler = [s](Call& call) { return decideReview(*s, call, false); }});
  router.add(Route{.method = "GET",
                   .pattern = "/api/reviews/{id}/wait",
                   .action = "review.wait",
                   .handler = [s](Call& call) { return waitReview(*s, call); }});
}

}  // namespace pgw::api
