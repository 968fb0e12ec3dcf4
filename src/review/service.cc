#include "review/service.h"

#include <algorithm>

#include "common/log.h"
#include "review/store.h"

namespace pgw::review {
namespace {

bool inAnyGroup(const Person& person, const std::vector<std::string>& groups) {
  if (groups.empty()) return true;
  return std::any_of(person.groups.begin(), person.groups.end(), [&](const std::string& g) {
    return std::find(groups.begin(), groups.end(), g) != groups.end();
  });
}

template <typename Record>
Status checkVote(const Record& r, const Person& approver, std::string_view what) {
  if (r.state != State::Pending) {
    return fail("409",
                std::string(what) + " " + r.id + " is already " + std::string(stateName(r.state)));
  }
  if (approver.id == r.subject.id) {
    return fail("403", "self-approval is not allowed: " + approver.id + " filed " + r.id);
  }
  if (!inAnyGroup(approver, r.approver_groups)) {
    std::string groups;
    for (const auto& g : r.approver_groups) groups += (groups.empty() ? "" : ", ") + g;
    return fail("403", approver.id + " is not in an approver group of policy \"" + r.policy +
                           "\" (" + groups + ")");
  }
  for (const Vote& v : r.votes) {
    if (v.by.id == approver.id) {
      return fail("409", approver.id + " has already voted on " + r.id);
    }
  }
  return {};
}

template <typename Record>
bool matches(const Record& r, const ReviewFilter& f) {
  if (f.state && r.state != *f.state) return false;
  if (!f.subject.empty() && r.subject.id != f.subject) return false;
  if (!f.connection.empty() && r.connection != f.connection) return false;
  return true;
}

/// Newest first, paged by `before_id`.
template <typename Record>
std::vector<Record> page(const std::map<std::string, Record>& records, const ReviewFilter& f) {
  std::vector<const Record*> all;
  for (const auto& [id, r] : records) {
    if (matches(r, f)) all.push_back(&r);
  }
  std::sort(all.begin(), all.end(), [](const Record* a, const Record* b) {
    return a->created_us != b->created_us ? a->created_us > b->created_us : a->id > b->id;
  });
  std::vector<Record> out;
  bool started = f.before_id.empty();
  for (const Record* r : all) {
    if (!started) {
      started = r->id == f.before_id;
      continue;
    }
    if (out.size() >= f.limit) break;
    out.push_back(*r);
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<ReviewService>> ReviewService::open(const std::string& path,
                                                           int64_t retention_us) {
  auto store = Store::open(path);
  if (!store) return store.takeError();
  std::unique_ptr<ReviewService> svc(new ReviewService());
  svc->store_ = std::move(*store);
  svc->retention_us_ = retention_us;
  auto reviews = svc->store_->reviews();
  if (!reviews) return reviews.takeError();
  const int64_t now = nowUs();
  for (Review& r : *reviews) {
    if (r.state == State::Pending && r.mode == config::ApprovalMode::Wait) {
      // The session that held the statement did not survive the restart.
      r.state = State::Withdrawn;
      r.decided_us = now;
      r.outcome_message = "the gateway restarted while the statement waited";
      if (auto st = svc->store_->put(r); !st) return st.takeError();
    }
    if (r.state == State::Pending) svc->pending_.insert(r.id);
    if (!r.retry_key.empty()) svc->by_retry_key_.emplace(r.retry_key, r.id);
    svc->reviews_.emplace(r.id, std::move(r));
  }
  auto access = svc->store_->accessRequests();
  if (!access) return access.takeError();
  for (AccessRequest& a : *access) svc->access_.emplace(a.id, std::move(a));
  std::lock_guard lock(svc->mu_);
  svc->pruneIfDue(now);
  return svc;
}

namespace {

constexpr int64_t kPruneEveryUs = 3600LL * 1'000'000;

/// The last moment a decided record still matters.
int64_t lastEventUs(const Review& r) {
  return std::max({r.created_us, r.decided_us, r.run_by_us, r.consumed_us});
}
int64_t lastEventUs(const AccessRequest& a) {
  return std::max({a.created_us, a.decided_us, a.ends_us});
}

}  // namespace

size_t ReviewService::prune(int64_t now_us) {
  std::lock_guard lock(mu_);
  return pruneLocked(now_us);
}

void ReviewService::pruneIfDue(int64_t now_us) {
  if (now_us < next_prune_us_) return;
  next_prune_us_ = now_us + kPruneEveryUs;
  pruneLocked(now_us);
}

size_t ReviewService::pruneLocked(int64_t now_us) {
  const int64_t cutoff = now_us - retention_us_;
  std::vector<std::string> review_ids;
  std::vector<std::string> access_ids;
  for (const auto& [id, r] : reviews_) {
    if (r.state != State::Pending && lastEventUs(r) < cutoff) review_ids.push_back(id);
  }
  for (const auto& [id, a] : access_) {
    if (a.state != State::Pending && lastEventUs(a) < cutoff) access_ids.push_back(id);
  }
  if (auto st = store_->erase(review_ids, access_ids); !st) {
    log::error("pruning decided reviews and access requests: {}", st.error().message);
    return 0;
  }
  for (const std::string& id : review_ids) {
    const Review& r = reviews_.at(id);
    auto [first, last] = by_retry_key_.equal_range(r.retry_key);
    for (auto it = first; it != last;) it = it->second == id ? by_retry_key_.erase(it) : ++it;
    reviews_.erase(id);
  }
  for (const std::string& id : access_ids) access_.erase(id);
  if (!review_ids.empty() || !access_ids.empty()) {
    log::info("pruned {} reviews and {} access requests decided before the state retention",
              review_ids.size(), access_ids.size());
  }
  return review_ids.size() + access_ids.size();
}

ReviewService::~ReviewService() = default;

void ReviewService::setNotifier(std::shared_ptr<Notifier> notifier) {
  std::lock_guard lock(mu_);
  notifier_ = std::move(notifier);
}

void ReviewService::persist(const Review& review) {
  if (auto st = store_->put(review); !st) {
    log::error("review {}: {}", review.id, st.error().message);
  }
}

void ReviewService::persist(const AccessRequest& request) {
  if (auto st = store_->put(request); !st) {
    log::error("access request {}: {}", request.id, st.error().message);
  }
}

void ReviewService::settle(Review& review, Fired& fire) {
  pending_.erase(review.id);
  auto [first, last] = watchers_.equal_range(review.id);
  for (auto it = first; it != last; ++it) fire.emplace_back(std::move(it->second), review);
  watchers_.erase(first, last);
  decided_cv_.notify_all();
}

void ReviewService::expireDue(int64_t now_us, Fired& fire) {
  pruneIfDue(now_us);
  for (auto it = pending_.begin(); it != pending_.end();) {
    Review& r = reviews_.at(*it++);
    if (r.expires_us > now_us) continue;
    r.state = State::Expired;
    r.decided_us = now_us;
    r.outcome_message = "no decision before the review's timeout";
    persist(r);
    settle(r, fire);
  }
  for (auto& [id, a] : access_) {
    if (a.state == State::Pending && a.expires_us <= now_us) {
      a.state = State::Expired;
      a.decided_us = now_us;
      a.outcome_message = "no decision before the request's timeout";
      persist(a);
    }
  }
}

void ReviewService::fireAll(Fired& fire) {
  for (auto& [callback, review] : fire) callback(review);
}

Result<Review> ReviewService::create(Review review, const ApprovalRules& rules) {
  std::shared_ptr<Notifier> notifier;
  {
    std::lock_guard lock(mu_);
    review.id = randomId("rv_", 10);
    review.state = State::Pending;
    review.mode = rules.mode;
    review.created_us = nowUs();
    review.expires_us = review.created_us + rules.timeout_us;
    review.retry_ttl_us = rules.retry_ttl_us;
    review.approver_groups = rules.approver_groups;
    review.min_approvals = std::max(1, rules.min_approvals);
    if (auto st = store_->put(review); !st) return st.takeError();
    pending_.insert(review.id);
    if (!review.retry_key.empty()) by_retry_key_.emplace(review.retry_key, review.id);
    reviews_.emplace(review.id, review);
    notifier = notifier_;
  }
  if (notifier) notifier->reviewCreated(review);
  return review;
}

void ReviewService::watch(const std::string& id, std::function<void(const Review&)> on_decided) {
  std::optional<Review> now;
  {
    std::lock_guard lock(mu_);
    auto it = reviews_.find(id);
    if (it == reviews_.end()) return;
    if (it->second.state == State::Pending) {
      watchers_.emplace(id, std::move(on_decided));
      return;
    }
    now = it->second;
  }
  on_decided(*now);
}

Result<Review> ReviewService::vote(const std::string& id, const Person& approver, bool approve,
                                   std::string comment) {
  Fired fire;
  Result<Review> out = fail("404", "");
  {
    std::lock_guard lock(mu_);
    const int64_t now = nowUs();
    expireDue(now, fire);
    auto it = reviews_.find(id);
    if (it == reviews_.end()) {
      out = fail("404", "no review " + id);
    } else if (auto st = checkVote(it->second, approver, "review"); !st) {
      out = st.takeError();
    } else {
      Review& r = it->second;
      r.votes.push_back(Vote{approver, approve, std::move(comment), now});
      if (!approve) {
        r.state = State::Denied;
        r.decided_us = now;
        r.outcome_message = "denied by " + approver.id;
        if (!r.votes.back().comment.empty()) r.outcome_message += ": " + r.votes.back().comment;
      } else if (r.approvals() >= r.min_approvals) {
        r.state = State::Approved;
        r.decided_us = now;
        if (r.mode == config::ApprovalMode::Retry) r.run_by_us = now + r.retry_ttl_us;
      }
      persist(r);
      if (r.state != State::Pending) settle(r, fire);
      out = r;
    }
  }
  fireAll(fire);
  return out;
}

Result<Review> ReviewService::approve(const std::string& id, const Person& approver,
                                      std::string comment) {
  return vote(id, approver, true, std::move(comment));
}

Result<Review> ReviewService::deny(const std::string& id, const Person& approver,
                                   std::string comment) {
  return vote(id, approver, false, std::move(comment));
}

void ReviewService::withdraw(const std::string& id, std::string why) {
  Fired fire;
  {
    std::lock_guard lock(mu_);
    auto it = reviews_.find(id);
    if (it == reviews_.end() || it->second.state != State::Pending) return;
    Review& r = it->second;
    r.state = State::Withdrawn;
    r.decided_us = nowUs();
    r.outcome_message = std::move(why);
    persist(r);
    settle(r, fire);
  }
  fireAll(fire);
}

std::optional<Review> ReviewService::consume(const std::string& retry_key) {
  std::lock_guard lock(mu_);
  const int64_t now = nowUs();
  auto [first, last] = by_retry_key_.equal_range(retry_key);
  for (auto it = first; it != last; ++it) {
    Review& r = reviews_.at(it->second);
    if (r.state != State::Approved) continue;
    if (now >= r.run_by_us) {
      r.state = State::Expired;
      r.outcome_message = "the approval was not used within its retry TTL";
      persist(r);
      continue;
    }
    r.state = State::Consumed;
    r.consumed_us = now;
    persist(r);
    return r;
  }
  return std::nullopt;
}

std::optional<Review> ReviewService::pendingFor(const std::string& retry_key) {
  Fired fire;
  std::optional<Review> out;
  {
    std::lock_guard lock(mu_);
    expireDue(nowUs(), fire);
    auto [first, last] = by_retry_key_.equal_range(retry_key);
    for (auto it = first; it != last && !out; ++it) {
      const Review& r = reviews_.at(it->second);
      if (r.state == State::Pending) out = r;
    }
  }
  fireAll(fire);
  return out;
}

Result<Review> ReviewService::get(const std::string& id) {
  Fired fire;
  Result<Review> out = fail("404", "no review " + id);
  {
    std::lock_guard lock(mu_);
    expireDue(nowUs(), fire);
    if (auto it = reviews_.find(id); it != reviews_.end()) out = it->second;
  }
  fireAll(fire);
  return out;
}

std::vector<Review> ReviewService::list(const ReviewFilter& filter) {
  Fired fire;
  std::vector<Review> out;
  {
    std::lock_guard lock(mu_);
    expireDue(nowUs(), fire);
    out = page(reviews_, filter);
  }
  fireAll(fire);
  return out;
}

Result<Review> ReviewService::waitDecided(const std::string& id,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fired fire;
  Result<Review> out = fail("404", "no review " + id);
  {
    std::unique_lock lock(mu_);
    for (;;) {
      expireDue(nowUs(), fire);
      auto it = reviews_.find(id);
      if (it == reviews_.end()) break;
      if (it->second.state != State::Pending || std::chrono::steady_clock::now() >= deadline) {
        out = it->second;
        break;
      }
      // Wake at the deadline, or by the review's own expiry, whichever first.
      const auto expiry =
          std::chrono::microseconds(std::max<int64_t>(0, it->second.expires_us - nowUs()) + 1000);
      decided_cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + expiry));
    }
  }
  fireAll(fire);
  return out;
}

// ---- access requests ------------------------------------------------------

Result<AccessRequest> ReviewService::requestAccess(AccessRequest request,
                                                   const ApprovalRules& rules) {
  if (request.duration_us <= 0) return fail("400", "the access duration must be positive");
  std::shared_ptr<Notifier> notifier;
  {
    std::lock_guard lock(mu_);
    request.id = randomId("ar_", 10);
    request.state = State::Pending;
    request.created_us = nowUs();
    request.expires_us = request.created_us + rules.timeout_us;
    request.approver_groups = rules.approver_groups;
    request.min_approvals = std::max(1, rules.min_approvals);
    if (auto st = store_->put(request); !st) return st.takeError();
    access_.emplace(request.id, request);
    notifier = notifier_;
  }
  if (notifier) notifier->accessRequested(request);
  return request;
}

Result<AccessRequest> ReviewService::voteAccess(const std::string& id, const Person& approver,
                                                bool approve, std::string comment) {
  Fired fire;
  Result<AccessRequest> out = fail("404", "no access request " + id);
  {
    std::lock_guard lock(mu_);
    const int64_t now = nowUs();
    expireDue(now, fire);
    auto it = access_.find(id);
    if (it != access_.end()) {
      AccessRequest& a = it->second;
      if (auto st = checkVote(a, approver, "access request"); !st) {
        out = st.takeError();
      } else {
        a.votes.push_back(Vote{approver, approve, std::move(comment), now});
        if (!approve) {
          a.state = State::Denied;
          a.decided_us = now;
          a.outcome_message = "denied by " + approver.id;
          if (!a.votes.back().comment.empty()) a.outcome_message += ": " + a.votes.back().comment;
        } else if (a.approvals() >= a.min_approvals) {
          a.state = State::Approved;
          a.decided_us = now;
          a.starts_us = now;
          a.ends_us = now + a.duration_us;
          grant_generation_.fetch_add(1, std::memory_order_acq_rel);
        }
        persist(a);
        out = a;
      }
    }
  }
  fireAll(fire);
  return out;
}

Result<AccessRequest> ReviewService::approveAccess(const std::string& id, const Person& approver,
                                                   std::string comment) {
  return voteAccess(id, approver, true, std::move(comment));
}

Result<AccessRequest> ReviewService::denyAccess(const std::string& id, const Person& approver,
                                                std::string comment) {
  return voteAccess(id, approver, false, std::move(comment));
}

Result<AccessRequest> ReviewService::revokeAccess(const std::string& id, const Person& by,
                                                  const std::string& comment) {
  std::lock_guard lock(mu_);
  auto it = access_.find(id);
  if (it == access_.end()) return fail("404", "no access request " + id);
  AccessRequest& a = it->second;
  const int64_t now = nowUs();
  if (a.state != State::Approved || now >= a.ends_us) {
    return fail("409", "access request " + id + " is not an active grant (" +
                           std::string(stateName(a.state)) + ")");
  }
  a.state = State::Revoked;
  a.ends_us = now;
  a.decided_us = now;
  a.outcome_message = "revoked by " + by.id + (comment.empty() ? "" : ": " + comment);
  persist(a);
  grant_generation_.fetch_add(1, std::memory_order_acq_rel);
  return a;
}

Result<AccessRequest> ReviewService::getAccess(const std::string& id) {
  Fired fire;
  Result<AccessRequest> out = fail("404", "no access request " + id);
  {
    std::lock_guard lock(mu_);
    expireDue(nowUs(), fire);
    if (auto it = access_.find(id); it != access_.end()) out = it->second;
  }
  fireAll(fire);
  return out;
}

std::vector<AccessRequest> ReviewService::listAccess(const ReviewFilter& filter) {
  Fired fire;
  std::vector<AccessRequest> out;
  {
    std::lock_guard lock(mu_);
    expireDue(nowUs(), fire);
    out = page(access_, filter);
  }
  fireAll(fire);
  return out;
}

std::optional<AccessRequest> ReviewService::activeGrant(const std::string& subject_id,
                                                        const std::string& connection,
                                                        int64_t now_us) {
  std::lock_guard lock(mu_);
  const AccessRequest* best = nullptr;
  for (const auto& [id, a] : access_) {
    if (a.subject.id != subject_id || a.connection != connection || !a.activeAt(now_us)) continue;
    if (best == nullptr || a.level > best->level ||
        (a.level == best->level && a.ends_us > best->ends_us)) {
      best = &a;
    }
  }
  if (best == nullptr) return std::nullopt;
  return *best;
}

// ---- connections ------------------------------------------------------------

Status ReviewService::putConnection(const StoredConnection& row) {
  std::lock_guard lock(mu_);
  return store_->putConnection(row);
}

Status ReviewService::deleteConnection(const std::string& name) {
  std::lock_guard lock(mu_);
  return store_->deleteConnection(name);
}

Result<std::vector<StoredConnection>> ReviewService::connections() {
  std::lock_guard lock(mu_);
  return store_->connections();
}

size_t ReviewService::pendingReviews() {
  std::lock_guard lock(mu_);
  return pending_.size();
}

size_t ReviewService::pendingAccessRequests() {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(access_.begin(), access_.end(), [](const auto& kv) {
    return kv.second.state == State::Pending;
  }));
}

}  // namespace pgw::review
