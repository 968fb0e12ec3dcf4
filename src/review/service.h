#pragma once
/// The review service: pending and decided reviews, access requests and
/// grants, shared by every worker, the HTTP API and the notifier. Thread-safe
/// (one mutex; nothing here is on the per-message path — sessions consult it
/// only for statements a policy sent to review, and for grants through
/// grantGeneration(), one relaxed atomic load per statement).
///
/// State lives in memory and is written through to the store (SQLite), so
/// reviews, approvals and grants survive a restart. Pending wait-mode reviews
/// cannot: the session that waited is gone, so open() marks them withdrawn.
///
/// Errors carry an HTTP-like code in `sqlstate` for the API:
/// "404" unknown id, "409" wrong state (already decided), "403" not allowed
/// (self-approval, not in the approver groups), "400" bad input.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "review/review.h"

namespace pgw::review {

class Store;

/// Told about new reviews and access requests (webhooks); called with no
/// lock held, on the thread that created the record.
class Notifier {
 public:
  virtual ~Notifier() = default;
  virtual void reviewCreated(const Review& review) = 0;
  virtual void accessRequested(const AccessRequest& request) = 0;
};

struct ReviewFilter {
  std::optional<State> state;
  std::string subject;     ///< "" = any
  std::string connection;  ///< "" = any
  size_t limit = 100;
  std::string before_id;  ///< paging: records created before this one ("" = newest)
};

class ReviewService {
 public:
  /// Decided reviews and access requests are kept this long after their last
  /// event (decision, end of the grant or of the retry window), then pruned
  /// from memory and from the store (the audit trail keeps their story).
  static constexpr int64_t kDefaultRetentionUs = 30LL * 24 * 3600 * 1'000'000;

  /// `path`: the SQLite file (created if missing); ":memory:" keeps nothing.
  static Result<std::unique_ptr<ReviewService>> open(const std::string& path,
                                                     int64_t retention_us = kDefaultRetentionUs);
  ~ReviewService();
  ReviewService(const ReviewService&) = delete;
  ReviewService& operator=(const ReviewService&) = delete;

  void setNotifier(std::shared_ptr<Notifier> notifier);

  // ---- reviews -----------------------------------------------------------
  /// Files a new pending review (id, created_us, expires_us filled from
  /// `rules`). Notifies.
  Result<Review> create(Review review, const ApprovalRules& rules);
  /// Calls `on_decided` once, when the review leaves pending (at once if it
  /// already has), from the thread that decided it. For wait mode.
  void watch(const std::string& id, std::function<void(const Review&)> on_decided);
  Result<Review> approve(const std::string& id, const Person& approver, std::string comment);
  Result<Review> deny(const std::string& id, const Person& approver, std::string comment);
  /// The client cancelled or went away; no-op unless pending.
  void withdraw(const std::string& id, std::string why);
  /// Retry mode: an approved, unexpired review with this retryKey() by this
  /// subject becomes consumed and is returned — exactly once.
  std::optional<Review> consume(const std::string& retry_key);
  /// Retry mode: a pending review for the same statement, so that re-sending
  /// before approval does not file a second one.
  std::optional<Review> pendingFor(const std::string& retry_key);
  Result<Review> get(const std::string& id);
  std::vector<Review> list(const ReviewFilter& filter);
  /// Blocks up to `timeout` until `id` leaves pending (long poll).
  Result<Review> waitDecided(const std::string& id, std::chrono::milliseconds timeout);

  // ---- access requests and grants ----------------------------------------
  Result<AccessRequest> requestAccess(AccessRequest request, const ApprovalRules& rules);
  Result<AccessRequest> approveAccess(const std::string& id, const Person& approver,
                                      std::string comment);
  Result<AccessRequest> denyAccess(const std::string& id, const Person& approver,
                                   std::string comment);
  /// An approved grant ends now.
  Result<AccessRequest> revokeAccess(const std::string& id, const Person& by,
                                     const std::string& comment);
  Result<AccessRequest> getAccess(const std::string& id);
  std::vector<AccessRequest> listAccess(const ReviewFilter& filter);
  /// The highest level granted to `subject_id` on `connection` at `now_us`.
  std::optional<AccessRequest> activeGrant(const std::string& subject_id,
                                           const std::string& connection, int64_t now_us);
  /// Bumped whenever a grant is approved or revoked: sessions re-check their
  /// grant only when it moved (or their cached grant ends).
  uint64_t grantGeneration() const { return grant_generation_.load(std::memory_order_acquire); }

  // ---- connections registered over the API (rows as the store keeps them) --
  Status putConnection(const StoredConnection& row);
  Status deleteConnection(const std::string& name);
  Result<std::vector<StoredConnection>> connections();

  /// Prunes what retention no longer keeps, as of `now_us`; returns how many
  /// records went. Runs by itself at open and then at most hourly.
  size_t prune(int64_t now_us);

  // ---- counts for /metrics -------------------------------------------------
  size_t pendingReviews();
  size_t pendingAccessRequests();

 private:
  ReviewService() = default;
  Result<Review> vote(const std::string& id, const Person& approver, bool approve,
                      std::string comment);
  Result<AccessRequest> voteAccess(const std::string& id, const Person& approver, bool approve,
                                   std::string comment);
  /// Watchers to call once mu_ is released, with the review they watched.
  using Fired = std::vector<std::pair<std::function<void(const Review&)>, Review>>;
  /// Under mu_: pending records whose time is up become expired.
  void expireDue(int64_t now_us, Fired& fire);
  /// Under mu_: `review` left pending; its watchers move to `fire`.
  void settle(Review& review, Fired& fire);
  static void fireAll(Fired& fire);
  void persist(const Review& review);
  void persist(const AccessRequest& request);
  /// Under mu_: prune() when the hour since the last one is up.
  void pruneIfDue(int64_t now_us);
  size_t pruneLocked(int64_t now_us);

  std::mutex mu_;
  std::condition_variable decided_cv_;
  std::unique_ptr<Store> store_;
  std::map<std::string, Review> reviews_;
  std::map<std::string, AccessRequest> access_;
  std::set<std::string> pending_;                         ///< ids of pending reviews
  std::multimap<std::string, std::string> by_retry_key_;  ///< retryKey -> review id
  std::multimap<std::string, std::function<void(const Review&)>> watchers_;
  std::shared_ptr<Notifier> notifier_;
  std::atomic<uint64_t> grant_generation_{1};
  int64_t retention_us_ = kDefaultRetentionUs;
  int64_t next_prune_us_ = 0;
};

}  // namespace pgw::review
