#include "review/json.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <ctime>

namespace pgw::review {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 4> kLevels = {"read", "write", "ddl", "admin"};

std::string_view levelName(config::AccessLevel level) {
  const auto i = static_cast<size_t>(level);
  return i < kLevels.size() ? kLevels[i] : std::string_view("unknown");
}

std::string_view modeName(config::ApprovalMode mode) {
  return mode == config::ApprovalMode::Retry ? "retry" : "wait";
}

/// null for 0 (not set), else the RFC 3339 string.
json timeJson(int64_t time_us) {
  if (time_us == 0) return nullptr;
  return rfc3339(time_us);
}

json optionalNumber(const std::optional<double>& v) {
  if (!v) return nullptr;
  return *v;
}

json votesJson(const std::vector<Vote>& votes) {
  json out = json::array();
  for (const Vote& v : votes) {
    out.push_back(json{{"by", toJson(v.by)},
                       {"approve", v.approve},
                       {"comment", v.comment},
                       {"at", timeJson(v.at_us)}});
  }
  return out;
}

int stillNeeded(int min_approvals, int approvals) {
  return std::max(0, min_approvals - approvals);
}

}  // namespace

std::string rfc3339(int64_t time_us) {
  if (time_us == 0) return "";
  // Floor division, so that times before 1970 still get a valid clock time.
  int64_t secs = time_us / 1'000'000;
  int64_t rem_us = time_us % 1'000'000;
  if (rem_us < 0) {
    rem_us += 1'000'000;
    --secs;
  }
  const auto t = static_cast<std::time_t>(secs);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return "";
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, rem_us / 1000);
}

json toJson(const Person& person) {
  return json{{"id", person.id},
              {"display_name", person.display_name},
              {"groups", person.groups},
              {"issuer", person.issuer},
              {"method", person.method}};
}

json toJson(const Review& review) {
  json parameters = json::array();
  for (const auto& p : review.parameters) {
    if (p) {
      parameters.push_back(*p);
    } else {
      parameters.push_back(nullptr);
    }
  }
  const int approvals = review.approvals();
  return json{
      {"id", review.id},
      {"state", stateName(review.state)},
      {"mode", modeName(review.mode)},
      {"subject", toJson(review.subject)},
      {"connection", review.connection},
      {"policy", review.policy},
      {"rule", review.rule},
      {"reason", review.reason},
      {"statement", review.statement},
      {"normalized", review.normalized},
      {"fingerprint", review.fingerprint},
      {"kind", review.kind},
      {"tables", review.tables},
      {"parameters", std::move(parameters)},
      {"estimated_rows", optionalNumber(review.estimated_rows)},
      {"estimated_cost", optionalNumber(review.estimated_cost)},
      {"recent_statements", review.recent_statements},
      {"session_id", review.session_id},
      {"client_address", review.client_address},
      {"approver_groups", review.approver_groups},
      {"min_approvals", review.min_approvals},
      {"approvals", approvals},
      {"approvals_needed", stillNeeded(review.min_approvals, approvals)},
      {"votes", votesJson(review.votes)},
      {"created_at", timeJson(review.created_us)},
      {"expires_at", timeJson(review.expires_us)},
      {"decided_at", timeJson(review.decided_us)},
      {"run_by", timeJson(review.run_by_us)},
      {"consumed_at", timeJson(review.consumed_us)},
      {"outcome_message", review.outcome_message},
  };
}

json toJson(const AccessRequest& request) {
  const int approvals = request.approvals();
  return json{
      {"id", request.id},
      {"state", stateName(request.state)},
      {"subject", toJson(request.subject)},
      {"connection", request.connection},
      {"level", levelName(request.level)},
      {"duration_seconds", request.duration_us / 1'000'000},
      {"reason", request.reason},
      {"policy", request.policy},
      {"approver_groups", request.approver_groups},
      {"min_approvals", request.min_approvals},
      {"approvals", approvals},
      {"approvals_needed", stillNeeded(request.min_approvals, approvals)},
      {"votes", votesJson(request.votes)},
      {"created_at", timeJson(request.created_us)},
      {"expires_at", timeJson(request.expires_us)},
      {"starts_at", timeJson(request.starts_us)},
      {"ends_at", timeJson(request.ends_us)},
      {"decided_at", timeJson(request.decided_us)},
      {"active", request.activeAt(nowUs())},
      {"outcome_message", request.outcome_message},
  };
}

}  // namespace pgw::review
