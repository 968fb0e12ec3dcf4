#include "api/services.h"

#include "api/call.h"

namespace pgw::api {
namespace {

/// Prometheus label value escaping: backslash, double quote, newline.
std::string escapeLabel(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

void ApiMetrics::count(const std::string& route, int status) {
  std::lock_guard lock(mu_);
  ++requests_[{route, status}];
}

std::string ApiMetrics::render(review::ReviewService* reviews, int long_polls) const {
  std::string out =
      "# HELP pgwarden_api_requests_total HTTP control plane requests by route and status.\n"
      "# TYPE pgwarden_api_requests_total counter\n";
  {
    std::lock_guard lock(mu_);
    for (const auto& [key, n] : requests_) {
      out += "pgwarden_api_requests_total{route=\"" + escapeLabel(key.first) + "\",status=\"" +
             std::to_string(key.second) + "\"} " + std::to_string(n) + "\n";
    }
  }
  out +=
      "# HELP pgwarden_api_long_polls Requests waiting in GET /api/reviews/{id}/wait.\n"
      "# TYPE pgwarden_api_long_polls gauge\n"
      "pgwarden_api_long_polls " +
      std::to_string(long_polls) + "\n";
  const size_t reviews_pending = reviews ? reviews->pendingReviews() : 0;
  const size_t access_pending = reviews ? reviews->pendingAccessRequests() : 0;
  out +=
      "# HELP pgwarden_reviews_pending Statement reviews waiting for a decision.\n"
      "# TYPE pgwarden_reviews_pending gauge\n"
      "pgwarden_reviews_pending " +
      std::to_string(reviews_pending) +
      "\n"
      "# HELP pgwarden_access_requests_pending Access requests waiting for a decision.\n"
      "# TYPE pgwarden_access_requests_pending gauge\n"
      "pgwarden_access_requests_pending " +
      std::to_string(access_pending) + "\n";
  return out;
}

Result<std::shared_ptr<const policy::PolicySet>> PolicyCache::get(
    const std::shared_ptr<const config::Config>& config) {
  std::lock_guard lock(mu_);
  if (config_ != config || !set_) {
    auto set = policy::PolicySet::compile(*config);
    if (!set) return set.takeError();
    config_ = config;
    set_ = *set;
  }
  return set_;
}

std::shared_ptr<const config::Config> Services::config() const {
  if (control) {
    if (auto cfg = control->config()) return cfg;
  }
  return initial_config;
}

review::ReviewService& Services::reviewService() const {
  if (!reviews) throw ApiError(503, "this gateway runs without the review service");
  return *reviews;
}

void requireReader(const Call& call, const std::string& owner, std::string_view what) {
  if (call.hasAny(kReaders) || owner == call.subject().id) return;
  call.requireAny(kReaders, what);
}

std::string decisionComment(Call& call) {
  constexpr size_t kMaxComment = 4096;
  const JsonFields body = call.body({"comment"});
  std::string comment = body.optionalString("comment").value_or("");
  if (comment.size() > kMaxComment) {
    throw ApiError(400, "'comment' is longer than " + std::to_string(kMaxComment) + " bytes");
  }
  return comment;
}

review::ReviewFilter listFilter(Call& call, std::string_view states, std::string_view what) {
  constexpr int64_t kDefaultLimit = 100;
  constexpr int64_t kMaxLimit = 1000;
  const QueryParams q = call.query({"state", "subject", "connection", "limit", "before"});
  review::ReviewFilter filter;
  if (auto state = q.get("state")) {
    filter.state = review::parseState(*state);
    if (!filter.state) {
      throw ApiError(400, "query parameter 'state' must be one of " + std::string(states));
    }
  }
  filter.subject = q.get("subject").value_or("");
  filter.connection = q.get("connection").value_or("");
  filter.limit = static_cast<size_t>(q.integer("limit", 1, kMaxLimit).value_or(kDefaultLimit));
  filter.before_id = q.get("before").value_or("");
  if (!call.hasAny(kReaders)) {
    // Only one's own records.
    if (!filter.subject.empty() && filter.subject != call.subject().id) {
      call.requireAny(kReaders, what);
    }
    filter.subject = call.subject().id;
  }
  return filter;
}

}  // namespace pgw::api
