// ClientSession: statements sent to review, and just-in-time access grants
// (docs/approvals.md).
//
// Wait mode holds the statement: the client gets a NoticeResponse with the
// review id at once, and the statement runs when approved, or fails when
// denied, withdrawn (the client's CancelRequest) or timed out. The session
// polls the review service while it waits; other sessions are not affected,
// and the session's own results already in flight keep flowing to the client.
//
// Retry mode refuses the statement with SQLSTATE PW001 and the review id;
// once approved, the same subject sending the identical statement (text and
// parameters) on the same connection runs it exactly once.

#include <fmt/format.h>
#include <poll.h>

#include "audit/redact.h"
#include "common/log.h"
#include "policy/kind_names.h"
#include "protocol/sqlstate.h"
#include "proxy/session.h"
#include "proxy/worker.h"
#include "review/json.h"
#include "review/service.h"

namespace pgw::proxy {
namespace {

/// Retry mode's "approve first, then send it again".
constexpr std::string_view kReviewRequired = "PW001";
/// How often a session waiting for a decision looks at its review.
constexpr auto kReviewPoll = std::chrono::milliseconds(20);

/// The client closed its end (or the connection broke) while nothing reads
/// from it: POLLRDHUP is TCP's, so TLS or bytes still unread do not hide it.
bool peerClosed(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

std::string formatDuration(std::chrono::milliseconds d) {
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s >= 3600 && s % 3600 == 0) return fmt::format("{}h", s / 3600);
  if (s >= 60 && s % 60 == 0) return fmt::format("{}m", s / 60);
  if (s > 0) return fmt::format("{}s", s);
  return fmt::format("{}ms", d.count());
}

/// A Bind's parameters as text (binary values of known types decoded, as the
/// audit trail shows them); `types` are the OIDs the Parse declared.
std::vector<std::optional<std::string>> bindParams(const protocol::Bind& bind,
                                                   const std::vector<uint32_t>& types) {
  std::vector<std::optional<std::string>> out;
  const size_t nformats = bind.param_formats.size();
  size_t i = 0;
  for (const auto& value : bind.params) {
    const int16_t format = nformats == 0 ? int16_t{0} : bind.param_formats[nformats == 1 ? 0 : i];
    const uint32_t type = i < types.size() ? types[i] : 0;
    ++i;
    if (!value) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(parameterText(type, format, *value));
    }
  }
  return out;
}

}  // namespace

void ClientSession::rememberStatement(const protocol::FrontendMessage&) {
  if (!gate_ || worker_.reviews() == nullptr) return;
  recent_[recent_next_] = gate_->lastAnalysis();
  recent_next_ = (recent_next_ + 1) % recent_.size();
}

review::Review ClientSession::describeForReview(
    const std::string& text, std::vector<std::optional<std::string>> params) const {
  review::Review r;
  r.subject = review::Person::from(subject_);
  r.connection = connection_->name;
  const policy::Decision& d = gate_->last();
  r.policy = d.policy;
  r.rule = d.rule;
  r.reason = d.message;
  auto analysis = worker_.analysisCache().get(text);
  bool secret = false;
  for (const sql::StatementInfo& s : analysis->statements) {
    const std::string kind(policy::kindName(s.kind));
    secret = secret || audit::looksLikeSecretStatement(kind, s.object_type);
    r.kind += (r.kind.empty() ? "" : ";") + kind;
    if (!r.normalized.empty()) r.normalized += "; ";
    r.normalized += s.normalized.empty() ? s.text : s.normalized;
    if (r.fingerprint.empty()) r.fingerprint = s.fingerprint;
    for (const auto* list : {&s.relations_read, &s.relations_written}) {
      for (const auto& rel : *list) {
        std::string name = rel.schema.empty() ? rel.name : rel.schema + "." + rel.name;
        if (std::find(r.tables.begin(), r.tables.end(), name) == r.tables.end()) {
          r.tables.push_back(std::move(name));
        }
      }
    }
  }
  // A statement that may carry a password is shown to approvers without
  // its literals and parameter values.
  r.statement = secret ? r.normalized : text;
  if (secret) {
    for (auto& p : params) {
      if (p) p = std::string(audit::kRedacted);
    }
  }
  r.parameters = std::move(params);
  for (size_t i = 0; i < recent_.size(); ++i) {
    const auto& a = recent_[(recent_next_ + i) % recent_.size()];
    if (!a) continue;
    for (const sql::StatementInfo& s : a->statements) {
      r.recent_statements.push_back(s.normalized.empty() ? s.text : s.normalized);
    }
  }
  if (estimate_ && estimate_->done && estimate_->text == text) {
    r.estimated_rows = estimate_->rows;
    r.estimated_cost = estimate_->cost;
  }
  r.session_id = id_;
  r.client_address = peer_;
  return r;
}

ClientSession::ReviewTarget ClientSession::reviewTarget(
    const protocol::FrontendMessage& msg) const {
  ReviewTarget t;
  if (const auto* bind = std::get_if<protocol::Bind>(&msg)) {
    if (const std::string* prepared = gate_->preparedText(bind->statement)) t.text = *prepared;
    const std::vector<uint32_t>* types = gate_->preparedParamTypes(bind->statement);
    t.params = bindParams(*bind, types != nullptr ? *types : std::vector<uint32_t>{});
  } else if (const auto* q = std::get_if<protocol::Query>(&msg)) {
    t.text = std::string(q->sql);
  }
  t.key = review::retryKey(subject_.id, subject_.issuer, connection_->name, t.text, t.params);
  return t;
}

bool ClientSession::needsEstimate(const ReviewTarget& target) {
  if (estimate_ && estimate_->key == target.key) return !estimate_->done;
  // Only one statement the planner plans on its own (as the policy asked).
  auto analysis = worker_.analysisCache().get(target.text);
  if (analysis->statements.size() != 1 || !policy::plannable(analysis->statements.front().kind)) {
    return false;
  }
  estimate_ = PendingEstimate{target.key, target.text, target.params};
  return true;
}

awaitable<bool> ClientSession::runEstimate() {
  PendingEstimate& e = *estimate_;
  auto result =
      co_await worker_.catalog().explain(upstreamTarget(credential_name_), e.text, e.params);
  if (end_ != SessionEnd::None) co_return false;
  if (result) {
    e.rows = result->rows;
    e.cost = result->cost;
  } else {
    e.error = result.error().message;
    log::info("session {}: EXPLAIN for a review failed: {}", id_, e.error);
  }
  e.done = true;
  co_return true;
}

std::optional<FrontendObserver::Verdict> ClientSession::checkEstimate(
    const protocol::FrontendMessage& msg, std::string& replacement) {
  const ReviewTarget target = reviewTarget(msg);
  if (needsEstimate(target)) return Verdict::Hold;
  const policy::EstimateCheck& check = *gate_->last().estimate;
  // No estimate (EXPLAIN failed) counts as over: ask a person.
  const bool over = !estimate_ || estimate_->key != target.key || !estimate_->rows ||
                    *estimate_->rows > check.rows_above;
  if (!over) return std::nullopt;
  gate_->escalate();
  DenialError denial;
  denial.message = gate_->last().message;
  return onReview(msg, std::move(denial), replacement);
}

FrontendObserver::Verdict ClientSession::onReview(const protocol::FrontendMessage& msg,
                                                  DenialError denial, std::string& replacement) {
  const auto* bind = std::get_if<protocol::Bind>(&msg);
  auto refuse = [&](DenialError e) {
    if (bind != nullptr) {
      denials_.denyBind(replacement, bind->portal, std::move(e));
    } else {
      denials_.denyQuery(replacement, std::move(e));
    }
    return Verdict::Replace;
  };
  review::ReviewService* reviews = worker_.reviews();
  if (reviews == nullptr) {
    denial.hint = "this statement needs a reviewer's approval, and this gateway keeps no reviews";
    return refuse(std::move(denial));
  }
  ReviewTarget target = reviewTarget(msg);
  const std::string& key = target.key;
  std::string& text = target.text;
  auto& params = target.params;
  const config::ApprovalConfig& approval = gate_->policy().approval();

  if (approval.mode == config::ApprovalMode::Retry) {
    if (auto used = reviews->consume(key)) {
      log::info("session {}: review {} approved; the statement runs once", id_, used->id);
      audit_review_id_ = used->id;
      return Verdict::Forward;
    }
    std::optional<review::Review> r = reviews->pendingFor(key);
    if (!r && needsEstimate(target)) return Verdict::Hold;  // approvers see the plan's estimate
    if (!r) {
      review::Review filed = describeForReview(text, std::move(params));
      filed.retry_key = key;
      auto created = reviews->create(std::move(filed), review::rulesOf(approval));
      if (!created) {
        log::error("session {}: cannot file a review: {}", id_, created.error().message);
        denial.hint = "the review could not be filed: " + created.error().message;
        return refuse(std::move(denial));
      }
      r = std::move(*created);
      log::info("session {}: review {} filed (retry mode, policy \"{}\", rule {})", id_, r->id,
                r->policy, r->rule);
    }
    audit_review_id_ = r->id;
    DenialError e;
    e.sqlstate = std::string(kReviewRequired);
    e.message =
        fmt::format("pgwarden: this statement needs a reviewer's approval (review {})", r->id);
    e.detail = fmt::format("review_id={}; {}", r->id, denial.message);
    e.hint = fmt::format(
        "an approver runs `pgwarden review approve {}` (or POST /api/reviews/{}/approve); then "
        "send the identical statement again within {}: it runs once",
        r->id, r->id, formatDuration(approval.retry_ttl));
    return refuse(std::move(e));
  }

  if (held_review_ && held_review_->key == key && held_review_->outcome) {
    review::Review outcome = std::move(*held_review_->outcome);
    held_review_.reset();
    audit_review_id_ = outcome.id;
    if (outcome.state == review::State::Approved) {
      log::info("session {}: review {} approved; the statement runs", id_, outcome.id);
      return Verdict::Forward;
    }
    DenialError e;
    e.detail = fmt::format("review_id={}", outcome.id);
    switch (outcome.state) {
      case review::State::Denied:
        e.sqlstate = std::string(sqlstate::kInsufficientPrivilege);
        e.message = fmt::format("pgwarden: review {} was {}", outcome.id, outcome.outcome_message);
        e.hint = "the statement did not run";
        break;
      case review::State::Withdrawn:
        e.sqlstate = std::string(sqlstate::kQueryCanceled);
        e.message = fmt::format(
            "canceling statement due to user request (pgwarden review {} "
            "withdrawn: {})",
            outcome.id, outcome.outcome_message);
        break;
      default:
        e.sqlstate = std::string(sqlstate::kQueryCanceled);
        e.message = fmt::format(
            "pgwarden: review {} was not decided within {}; the statement "
            "did not run",
            outcome.id, formatDuration(approval.timeout));
        e.hint = "send it again to ask again, or ask an approver to watch `pgwarden review list`";
        break;
    }
    return refuse(std::move(e));
  }
  if (held_review_) held_review_.reset();           // a decided review for another message
  if (needsEstimate(target)) return Verdict::Hold;  // approvers see the plan's estimate
  review::Review filed = describeForReview(text, std::move(params));
  // Cleared before the review exists: from the moment an approver (or the
  // client, through the API) can see it, a CancelRequest withdraws it. Cleared
  // after, a cancel landing in between was lost and the statement waited out
  // the whole timeout.
  cancel_flag_->store(false, std::memory_order_relaxed);
  auto created = reviews->create(std::move(filed), review::rulesOf(approval));
  if (!created) {
    log::error("session {}: cannot file a review: {}", id_, created.error().message);
    denial.hint = "the review could not be filed: " + created.error().message;
    return refuse(std::move(denial));
  }
  log::info("session {}: review {} filed; the statement waits (policy \"{}\", rule {})", id_,
            created->id, created->policy, created->rule);
  held_review_ = HeldReview{created->id, key, created->expires_us, std::nullopt, false};
  return Verdict::Hold;
}

awaitable<bool> ClientSession::waitForReview() {
  HeldReview& held = *held_review_;
  review::ReviewService& reviews = *worker_.reviews();
  if (!held.notified) {
    held.notified = true;
    const config::ApprovalConfig& approval = gate_->policy().approval();
    const std::string message =
        fmt::format("pgwarden: waiting for a reviewer's approval (review {}, up to {})", held.id,
                    formatDuration(approval.timeout));
    const std::string detail = fmt::format("review_id={}; {}", held.id, gate_->last().message);
    const std::string hint = fmt::format(
        "an approver runs `pgwarden review approve {}` (or POST /api/reviews/{}/approve); cancel "
        "the statement to withdraw it",
        held.id, held.id);
    std::string notice;
    protocol::encodeNoticeResponse(notice, {"NOTICE", "01000", message, detail, hint});
    if (!co_await sendNotice(notice)) co_return false;
  }
  asio::steady_timer timer(client_.socket().get_executor());
  while (end_ == SessionEnd::None) {
    if (cancel_flag_->exchange(false, std::memory_order_acq_rel)) {
      reviews.withdraw(held.id, "the client cancelled the statement");
    }
    if (peerClosed(client_.socket().native_handle())) {
      // Nobody would receive the result: the statement must not run.
      reviews.withdraw(held.id, "the client disconnected");
      end(SessionEnd::ClientGone);
      break;
    }
    // get() expires the review when its time is up.
    auto r = reviews.get(held.id);
    if (!r) {
      // Cannot happen while the service lives; fail the statement, not the session.
      review::Review gone;
      gone.id = held.id;
      gone.state = review::State::Withdrawn;
      gone.outcome_message = r.error().message;
      held.outcome = std::move(gone);
      co_return true;
    }
    if (r->state != review::State::Pending) {
      held.outcome = std::move(*r);
      co_return true;
    }
    timer.expires_after(kReviewPoll);
    co_await timer.async_wait(nothrow);
  }
  co_return false;
}

awaitable<bool> ClientSession::sendNotice(const std::string& bytes) {
  // Between two of the server's messages, never inside one.
  asio::steady_timer pause(client_.socket().get_executor());
  while ((server_writing_ || backend_relay_.midMessage()) && end_ == SessionEnd::None) {
    pause.expires_after(std::chrono::milliseconds(1));
    co_await pause.async_wait(nothrow);
  }
  if (end_ != SessionEnd::None) co_return false;
  notice_writing_ = true;
  auto ec = co_await client_.writeAll(asio::buffer(bytes));
  notice_writing_ = false;
  if (ec) {
    end(SessionEnd::ClientGone);
    co_return false;
  }
  co_return true;
}

void ClientSession::refreshGrant() {
  review::ReviewService* reviews = worker_.reviews();
  if (reviews == nullptr) return;
  const int64_t now = review::nowUs();
  const uint64_t generation = reviews->grantGeneration();
  if (generation == grant_generation_ && (grant_ends_us_ == 0 || now < grant_ends_us_)) return;
  grant_generation_ = generation;
  auto grant = reviews->activeGrant(subject_.id, connection_->name, now);
  std::optional<config::AccessLevel> level;
  grant_hint_.clear();
  if (grant && grant->level > config::AccessLevel::Read && upstream_read_only_) {
    // The database session was opened read-only: the grant needs a new one.
    grant_hint_ = fmt::format(
        "access grant {} ({} until {}) applies to sessions opened after its approval; reconnect "
        "to use it",
        grant->id, policy::accessName(grant->level), review::rfc3339(grant->ends_us));
    grant.reset();
  }
  if (grant) level = grant->level;
  if (level != gate_->grant()) {
    if (grant) {
      log::info("session {}: access grant {} applies: statements are decided at {} access", id_,
                grant->id, policy::accessName(grant->level));
    } else {
      log::info("session {}: access grant {} is over: statements are decided at {} access", id_,
                grant_id_, policy::accessName(gate_->policy().access()));
    }
  }
  gate_->setGrant(level);
  grant_ends_us_ = grant ? grant->ends_us : 0;
  grant_id_ = grant ? grant->id : std::string();
}

}  // namespace pgw::proxy
