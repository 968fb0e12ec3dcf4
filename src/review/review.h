#pragma once
/// Human approval: the records the review service keeps (reviews of single
/// statements, requests for just-in-time access) and their life cycles.
///
///   Review         pending ──approve×min_approvals──▶ approved ──(retry: run once)──▶ consumed
///                     │ ├──deny──▶ denied                │
///                     │ ├──client cancel / gone──▶ withdrawn
///                     │ └──timeout──▶ expired            └──(retry TTL over)──▶ expired
///
///   AccessRequest  pending ──approve×min_approvals──▶ approved (active in [starts_at, ends_at))
///                     ├──deny──▶ denied      ├──timeout──▶ expired      └──revoke──▶ revoked
///
/// Times are microseconds since the Unix epoch (as in the audit trail).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/subject.h"
#include "config/config.h"

namespace pgw::review {

enum class State { Pending, Approved, Denied, Expired, Withdrawn, Consumed, Revoked };
/// "pending", "approved", "denied", "expired", "withdrawn", "consumed", "revoked".
std::string_view stateName(State state);
std::optional<State> parseState(std::string_view name);

/// Who asked or who decided: the fields of an auth::Subject worth keeping.
struct Person {
  std::string id;
  std::string display_name;
  std::vector<std::string> groups;
  std::string issuer;
  std::string method;  ///< auth::toString(AuthMethod)

  static Person from(const auth::Subject& subject);
};

/// One approval or denial.
struct Vote {
  Person by;
  bool approve = true;
  std::string comment;
  int64_t at_us = 0;
};

/// What a policy says about approvals (`policies[].approval`).
struct ApprovalRules {
  config::ApprovalMode mode = config::ApprovalMode::Wait;
  std::vector<std::string> approver_groups;  ///< empty: any API approver
  int min_approvals = 1;
  int64_t timeout_us = 5 * 60 * 1'000'000LL;     ///< pending -> expired
  int64_t retry_ttl_us = 15 * 60 * 1'000'000LL;  ///< retry mode: approved -> expired
};

struct Review {
  std::string id;  ///< "rv_" + 20 hex digits
  State state = State::Pending;
  config::ApprovalMode mode = config::ApprovalMode::Wait;
  Person subject;
  std::string connection;
  std::string policy;
  std::string rule;        ///< the rule that asked: "review[0]", "access:read", "estimated_rows"
  std::string reason;      ///< the decision's message
  std::string statement;   ///< as sent
  std::string normalized;  ///< literals replaced by $n
  std::string fingerprint;
  std::string kind;
  std::vector<std::string> tables;
  /// Bound parameters as text (nullopt = NULL); for retry mode they are part
  /// of what must match. Shown to approvers.
  std::vector<std::optional<std::string>> parameters;
  std::optional<double> estimated_rows;  ///< the planner's, when EXPLAIN ran
  std::optional<double> estimated_cost;
  std::vector<std::string> recent_statements;  ///< the session's last statements, oldest first
  uint64_t session_id = 0;
  std::string client_address;
  std::vector<std::string> approver_groups;
  int min_approvals = 1;
  std::vector<Vote> votes;
  int64_t created_us = 0;
  int64_t expires_us = 0;       ///< when a pending review expires
  int64_t decided_us = 0;       ///< when it left pending (0 = still pending)
  int64_t run_by_us = 0;        ///< retry mode: the approved statement must be re-sent before this
  int64_t consumed_us = 0;      ///< retry mode: when the approved statement ran
  std::string retry_key;        ///< retry mode: retryKey() of the statement
  int64_t retry_ttl_us = 0;     ///< retry mode: how long an approval stays usable
  std::string outcome_message;  ///< why it was withdrawn / expired / denied

  int approvals() const;
};

struct AccessRequest {
  std::string id;  ///< "ar_" + 20 hex digits
  State state = State::Pending;
  Person subject;
  std::string connection;
  config::AccessLevel level = config::AccessLevel::Write;
  int64_t duration_us = 0;
  std::string reason;
  std::string policy;  ///< the policy whose approval rules apply
  std::vector<std::string> approver_groups;
  int min_approvals = 1;
  std::vector<Vote> votes;
  int64_t created_us = 0;
  int64_t expires_us = 0;  ///< a pending request expires
  int64_t starts_us = 0;   ///< approved: the grant window
  int64_t ends_us = 0;
  int64_t decided_us = 0;
  std::string outcome_message;

  int approvals() const;
  bool activeAt(int64_t now_us) const {
    return state == State::Approved && starts_us <= now_us && now_us < ends_us;
  }
};

/// A connection registered over the API, as stored: `spec` is JSON without
/// secrets, `sealed` its credentials sealed with the master key (SecretBox).
struct StoredConnection {
  std::string name;
  std::string spec;
  std::string sealed;
  int64_t updated_us = 0;
};

/// The rules of a policy's `approval:` section, in the service's units.
ApprovalRules rulesOf(const config::ApprovalConfig& approval);

/// The identity of a statement for retry mode: the same subject (id and
/// issuer: two issuers' "alice" are two people) sending the same text with
/// the same parameters on the same connection.
std::string retryKey(std::string_view subject_id, std::string_view issuer,
                     std::string_view connection, std::string_view statement,
                     const std::vector<std::optional<std::string>>& parameters);

int64_t nowUs();

/// `prefix` and `bytes` random bytes in hex: ids that need to be unique, not
/// secret (without entropy the clock and a counter stand in).
std::string randomId(std::string_view prefix, size_t bytes);

}  // namespace pgw::review
