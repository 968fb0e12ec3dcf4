#pragma once
/// ClientSession: one client connection and its upstream, living on one
/// worker's event loop (no locks on the data path).
///
///   startup (SSLRequest/GSSENCRequest/CancelRequest/StartupMessage)
///     -> client authentication (SCRAM-SHA-256 against identity.users)
///     -> upstream open with the held credential
///     -> ParameterStatus replay, the gateway's own BackendKeyData, ReadyForQuery
///     -> relay both directions until one side ends
///     -> finish(): the single place that decides what the client is told,
///        whether the upstream work is cancelled, and what is logged.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "audit/audit_log.h"
#include "auth/subject.h"
#include "protocol/messages.h"
#include "proxy/deadline.h"
#include "proxy/denials.h"
#include "proxy/gateway_state.h"
#include "proxy/mask_session.h"
#include "proxy/policy_gate.h"
#include "proxy/read_buffer.h"
#include "proxy/relay.h"
#include "proxy/statement_audit.h"
#include "proxy/stream.h"
#include "proxy/upstream.h"
#include "review/review.h"

namespace pgw::proxy {

class CancelMap;
class Worker;

/// Why a session ended; decides the FATAL the client gets (if any).
enum class SessionEnd {
  None,
  ClientTerminate,      ///< Terminate message
  ClientGone,           ///< EOF or a read/write error on the client leg
  ClientProtocolError,  ///< malformed or unexpected client message
  AuthFailed,
  StartupRefused,       ///< unknown connection, TLS required, unsupported request...
  CancelRequest,        ///< the connection only carried a CancelRequest
  UpstreamUnavailable,  ///< could not open or log in to the upstream
  UpstreamLost,         ///< the upstream closed or failed mid-session
  UpstreamProtocolError,
  StartupTimeout,
  IdleTimeout,
  CredentialExpired,  ///< the token/certificate behind the session expired
  PolicyChanged,      ///< a config reload revoked or changed this session's access
  Shutdown,
  Terminated,  ///< an administrator ended it (DELETE /api/sessions/{id})
};

/// What the control plane shows of a live session.
struct SessionSummary {
  uint64_t id = 0;
  auth::Subject subject;
  std::string connection;
  std::string policy;
  std::string client_address;
  std::string state;  ///< "starting", "idle", "active", "idle in transaction", "waiting for review"
  std::string review_id;
  int64_t started_us = 0;
  uint64_t statements = 0;
};
std::string_view toString(SessionEnd end);

class ClientSession : public std::enable_shared_from_this<ClientSession>,
                      private BackendObserver,
                      private FrontendObserver {
 public:
  ClientSession(Worker& worker, std::shared_ptr<const GatewayState> state, uint64_t generation,
                tcp::socket socket, uint64_t id);
  ~ClientSession() override;

  /// Runs the session to its end.
  awaitable<void> run();

  /// Gateway shutdown: end now if idle, else at the next idle point.
  void requestShutdown();
  /// Grace period over: end now.
  void terminate();
  /// An administrator ends the session now: FATAL 57P01 with `why`.
  void terminateWith(const std::string& why);
  SessionSummary summary() const;
  uint64_t id() const { return id_; }
  /// Ending (terminated, shut down, or its client or upstream gone): no
  /// longer a live session for the control plane, though its coroutines
  /// may still be unwinding.
  bool ending() const { return end_ != SessionEnd::None; }
  const auth::Subject& subject() const { return subject_; }

 private:
  awaitable<bool> startup();
  awaitable<bool> authenticate();
  awaitable<Result<auth::Subject>> authenticateScram();
  awaitable<Result<auth::Subject>> authenticateToken();
  /// Reads one authentication-phase 'p' message (bounded to kMaxAuthMessage).
  awaitable<Result<protocol::Frame>> readAuthMessage(std::string_view what);
  std::string applicationName() const;
  awaitable<bool> openUpstream();
  awaitable<void> pumpClient();
  awaitable<void> pumpServer();
  awaitable<void> finish();

  /// Records why the session ends (first reason wins) and unblocks both pumps.
  void end(SessionEnd reason, Error error = {});
  awaitable<error_code> writePlan(Stream& to, Bytes in, const OutputPlan& plan,
                                  std::vector<asio::const_buffer>& gather);
  awaitable<bool> sendToClient(const std::string& bytes);
  /// The policy part of onFrontendMessage: forward, or replace a refused
  /// statement by one that fails on the server (proxy/denials.h).
  Verdict gateMessage(const protocol::FrontendMessage& msg, std::string& replacement,
                      bool audit_refused);

  // Audit (session_audit.cc).
  enum class AuditRoom { Ready, Wait, Refuse };
  /// Starts recording: the connect event and the statement tracker.
  void startAudit();
  /// A session-level event (connect, auth failure, disconnect).
  void auditSessionEvent(audit::EventType type, std::string reason);
  /// Reserves the audit slot of the statement about to be forwarded.
  AuditRoom reserveAudit();
  /// on_full: block — waits (without blocking the loop) until a slot is
  /// reserved; false when the session ended meanwhile.
  awaitable<bool> waitForAuditRoom();
  /// audit.synchronous: waits until every event this session submitted is
  /// durable; false when the session ended meanwhile.
  awaitable<bool> waitAuditDurable();
  /// Feeds a client message to the statement tracker, after the gate.
  void auditMessage(const protocol::FrontendMessage& msg, bool denied);
  /// `members`: the template of the event's session members, if they are
  /// the session's own (connect and statement events).
  void emitAudit(const audit::AuditEvent& event, const audit::SessionTemplate* members = nullptr);

  /// Where `credential_name` of the session's connection logs in: the
  /// session's upstream and masking's metadata connection.
  UpstreamTarget upstreamTarget(const std::string& credential_name) const;

  // Masking (session_mask.cc).
  std::shared_ptr<const mask::CompiledMaskRules> maskRulesFor(
      const GatewayState& state, const policy::CompiledPolicy& policy) const;
  /// Starts (or, after a reload, replaces) masking by `policy`'s rules.
  void setupMasking(const GatewayState& state, const policy::CompiledPolicy& policy);
  /// True when the statement in `msg` needs catalog lookups first
  /// (catalog_needs_ is set; pumpClient fetches, then offers it again).
  bool maskNeedsCatalog(const protocol::FrontendMessage& msg);
  awaitable<bool> fetchCatalog();
  /// Masking's reason to refuse a statement: a failed catalog lookup, an
  /// untraceable column under on_untraceable: deny, a fast-path call.
  std::optional<DenialError> maskRefusal(const protocol::FrontendMessage& msg);
  /// Feeds a client message, as the gate left it, to the MaskSession; an
  /// Execute becomes Describe + Execute (Replace).
  Verdict maskMessage(const protocol::FrontendMessage& msg, Verdict verdict,
                      std::string& replacement);
  /// A statement's result ended: its masked columns go to its audit event.
  void maskStatementDone();

  // Reviews and grants (session_review.cc).
  /// The gate's Review verdict on `msg`: Forward (an approval lets it run
  /// once), Hold (wait mode: pumpClient waits for the decision, then offers
  /// the message again) or Replace (refused: retry mode's "ask first", or a
  /// decision that was not an approval).
  Verdict onReview(const protocol::FrontendMessage& msg, DenialError denial,
                   std::string& replacement);
  /// What a review or an estimate is about: the statement's text, its
  /// parameters (a Bind's) and its retryKey().
  struct ReviewTarget {
    std::string text;
    std::vector<std::optional<std::string>> params;
    std::string key;
  };
  ReviewTarget reviewTarget(const protocol::FrontendMessage& msg) const;
  /// Hold when the planner's estimate for `target` is not known yet
  /// (pumpClient runs EXPLAIN, then offers the message again).
  bool needsEstimate(const ReviewTarget& target);
  awaitable<bool> runEstimate();
  /// An allowed statement under an `estimated_rows` review rule: nullopt
  /// (it runs), or what onReview() makes of it.
  std::optional<Verdict> checkEstimate(const protocol::FrontendMessage& msg,
                                       std::string& replacement);
  /// Wait mode: tells the client its review id, then waits for the decision,
  /// the timeout, the client's CancelRequest or the session's end.
  awaitable<bool> waitForReview();
  /// Writes a NoticeResponse between two of the server's messages.
  awaitable<bool> sendNotice(const std::string& bytes);
  /// A review for the statement in `msg` (text, parameters, context).
  review::Review describeForReview(const std::string& text,
                                   std::vector<std::optional<std::string>> params) const;
  /// Just-in-time grants: re-reads the subject's grant when it may have
  /// changed (approved, revoked, expired); decides at its level.
  void refreshGrant();
  void rememberStatement(const protocol::FrontendMessage& msg);

  /// A config reload happened: adopt its policy, or schedule the end.
  void applyReload();
  /// The error for a statement that arrives while the session waits to end
  /// at its next statement boundary.
  DenialError endingDenial() const;
  bool upstreamBusy() const { return pending_ready_ > 0 || extended_open_; }
  void armIdleTimer();

  // BackendObserver
  void onReadyForQuery(protocol::TxStatus status) override;
  bool onError(const protocol::NoticeFields& fields, std::string& replacement) override;
  void onCommandComplete(std::string_view tag) override;
  void onEmptyQuery() override;
  void onForward(size_t bytes) override;
  void onPortalSuspended() override;
  void onRowsWithheld(uint64_t returned, uint64_t withheld, std::string& out) override;
  // FrontendObserver
  Result<Verdict> onFrontendMessage(const protocol::FrontendMessage& msg,
                                    std::string& replacement) override;

  Worker& worker_;
  std::shared_ptr<const GatewayState> state_;
  const config::Config& config_;
  uint64_t id_;
  std::string peer_;
  std::string peer_address_;  ///< without the port: the unit of auth rate limiting
  auth::Subject subject_;
  /// When the credential behind the session stops being good enough.
  std::optional<std::chrono::system_clock::time_point> credential_deadline_;
  /// The session ends at its next statement boundary, with this reason and
  /// `boundary_error_` (credential expiry, a reload that changed its access).
  SessionEnd boundary_end_ = SessionEnd::None;
  Error boundary_error_;
  uint64_t generation_;          ///< LiveState generation this session last applied
  std::string credential_name_;  ///< the upstream login's credential
  Stream client_;
  ReadBuffer client_buf_;
  std::unique_ptr<Upstream> upstream_;
  std::optional<protocol::StartupMessage> startup_;
  const config::Connection* connection_ = nullptr;
  std::string user_;
  std::optional<protocol::BackendKeyData> client_key_;
  protocol::BackendKeyData upstream_key_;

  BackendRelay backend_relay_;
  FrontendRelay frontend_relay_;
  OutputPlan client_plan_;
  OutputPlan server_plan_;
  std::vector<asio::const_buffer> client_gather_;  ///< client -> server writes
  std::vector<asio::const_buffer> server_gather_;  ///< server -> client writes

  std::unique_ptr<PolicyGate> gate_;      ///< null: no policy applies, forward everything
  audit::AuditLog* audit_log_ = nullptr;  ///< null: auditing is off
  std::unique_ptr<StatementAudit> statement_audit_;
  /// The session members of its statement events, rendered once.
  std::unique_ptr<const audit::SessionTemplate> audit_members_;
  size_t audit_credit_ = 0;                   ///< slots reserved and not yet used
  audit::AuditLog::Ticket audit_ticket_ = 0;  ///< the last event this session submitted
  bool ready_in_plan_ = false;  ///< the server plan being written holds a ReadyForQuery
  Denials denials_;
  std::unique_ptr<MaskSession> mask_;  ///< null: no masking rule applies to the subject
  std::optional<CatalogNeeds> catalog_needs_;
  std::optional<Error> catalog_error_;
  int catalog_rounds_ = 0;

  /// Wait mode: the review the held message waits for.
  struct HeldReview {
    std::string id;
    std::string key;  ///< retryKey() of the held message
    int64_t expires_us = 0;
    std::optional<review::Review> outcome;  ///< set once it left pending
    bool notified = false;                  ///< the client has its NoticeResponse
  };
  std::optional<HeldReview> held_review_;
  /// The planner's estimate for the statement being offered (EXPLAIN).
  struct PendingEstimate {
    std::string key;  ///< ReviewTarget::key
    std::string text;
    std::vector<std::optional<std::string>> params;
    bool done = false;
    std::optional<double> rows;
    std::optional<double> cost;
    std::string error;  ///< why there is no estimate
  };
  std::optional<PendingEstimate> estimate_;
  std::string audit_review_id_;  ///< goes into the next statement's audit event
  /// The session's last statements, for reviewers (a ring; next at `recent_next_`).
  std::array<std::shared_ptr<const sql::Analysis>, 10> recent_;
  size_t recent_next_ = 0;
  std::string grant_hint_;  ///< why a grant does not apply to this session, for denials
  /// Set by a CancelRequest for this session (any thread): withdraws a review.
  std::shared_ptr<std::atomic<bool>> cancel_flag_ = std::make_shared<std::atomic<bool>>(false);
  bool server_writing_ = false;    ///< pumpServer is writing to the client
  bool notice_writing_ = false;    ///< sendNotice is writing to the client
  uint64_t grant_generation_ = 0;  ///< ReviewService::grantGeneration() last read
  int64_t grant_ends_us_ = 0;      ///< the grant in force ends (0 = none)
  std::string grant_id_;
  bool upstream_read_only_ = false;

  int64_t started_us_ = review::nowUs();
  uint64_t statements_ = 0;  ///< statements the client sent (Query, Parse... each counts once)

  SessionEnd end_ = SessionEnd::None;
  Error end_error_;
  bool relaying_ = false;
  bool shutdown_requested_ = false;
  int64_t pending_ready_ = 0;   ///< ReadyForQuery messages the upstream still owes
  bool extended_open_ = false;  ///< extended-protocol work sent since the last Sync
  protocol::TxStatus tx_status_ = protocol::TxStatus::Idle;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point round_start_;  ///< the client's round trip began
  Deadline phase_deadline_;
  Deadline idle_deadline_;
};

}  // namespace pgw::proxy
