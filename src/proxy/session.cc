#include "proxy/session.h"

#include <cctype>

#include "auth/scram.h"
#include "common/log.h"
#include "protocol/sqlstate.h"
#include "proxy/cancel_map.h"
#include "proxy/framed_io.h"
#include "proxy/identity_service.h"
#include "proxy/policy_gate.h"
#include "proxy/worker.h"
#include "review/service.h"

namespace pgw::proxy {
namespace {

using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;
/// Receive buffers start small, so a thousand idle sessions cost little; a
/// larger message grows one for as long as it needs, then it shrinks back.
/// Client traffic is mostly small statements; results stream through 16 KiB.
constexpr size_t kClientBuffer = 8 * 1024;
constexpr size_t kServerBuffer = 16 * 1024;
constexpr size_t kMaxStartupPacket = 10000;

bool isFalse(std::string_view v) {
  return v == "false" || v == "0" || v == "off" || v == "no" || v.empty();
}

}  // namespace

std::string_view toString(SessionEnd end) {
  switch (end) {
    case SessionEnd::None:
      return "none";
    case SessionEnd::ClientTerminate:
      return "client terminated";
    case SessionEnd::ClientGone:
      return "client disconnected";
    case SessionEnd::ClientProtocolError:
      return "client protocol error";
    case SessionEnd::AuthFailed:
      return "authentication failed";
    case SessionEnd::StartupRefused:
      return "startup refused";
    case SessionEnd::CancelRequest:
      return "cancel request";
    case SessionEnd::UpstreamUnavailable:
      return "upstream unavailable";
    case SessionEnd::UpstreamLost:
      return "upstream lost";
    case SessionEnd::UpstreamProtocolError:
      return "upstream protocol error";
    case SessionEnd::StartupTimeout:
      return "startup timeout";
    case SessionEnd::IdleTimeout:
      return "idle timeout";
    case SessionEnd::CredentialExpired:
      return "credential expired";
    case SessionEnd::PolicyChanged:
      return "access changed by a config reload";
    case SessionEnd::Shutdown:
      return "gateway shutdown";
    case SessionEnd::Terminated:
      return "terminated over the API";
  }
  return "unknown";
}

ClientSession::ClientSession(Worker& worker, std::shared_ptr<const GatewayState> state,
                             uint64_t generation, tcp::socket socket, uint64_t id)
    : worker_(worker),
      state_(std::move(state)),
      config_(*state_->config),
      id_(id),
      generation_(generation),
      client_(std::move(socket)),
      client_buf_(kClientBuffer),
      backend_relay_(config_.max_message_size, *this),
      frontend_relay_(config_.max_message_size, *this),
      phase_deadline_(client_.socket().get_executor()),
      idle_deadline_(client_.socket().get_executor()) {
  error_code ec;
  auto ep = client_.socket().remote_endpoint(ec);
  peer_address_ = ec ? "unknown" : ep.address().to_string();
  peer_ = ec ? "unknown" : peer_address_ + ":" + std::to_string(ep.port());
  client_.socket().set_option(tcp::no_delay(true), ec);
  worker_.add(this);
}

ClientSession::~ClientSession() {
  if (client_key_) worker_.cancelMap().remove(*client_key_);
  worker_.remove(this);
}

awaitable<void> ClientSession::run() {
  auto self = shared_from_this();
  phase_deadline_.arm(config_.timeouts.startup, [this] {
    end(SessionEnd::StartupTimeout,
        fail(sqlstate::kProtocolViolation,
             "pgwarden: timed out waiting for the client to start the session (timeouts.startup)"));
  });
  if (co_await startup() && co_await authenticate() && co_await openUpstream()) {
    relaying_ = true;
    last_activity_ = Clock::now();
    armIdleTimer();
    if (shutdown_requested_) {
      end(SessionEnd::Shutdown);
    } else {
      co_await (pumpClient() || pumpServer());
    }
  }
  co_await finish();
}

// ---------------------------------------------------------------------------
// Startup
// ---------------------------------------------------------------------------

awaitable<bool> ClientSession::startup() {
  bool tls_negotiated = false;
  bool gss_answered = false;
  for (;;) {
    auto packet = co_await readStartupPacket(client_, kMaxStartupPacket);
    if (!packet) {
      Error e = packet.takeError();
      end(e.sqlstate == sqlstate::kProtocolViolation ? SessionEnd::ClientProtocolError
                                                     : SessionEnd::ClientGone,
          std::move(e));
      co_return false;
    }
    auto decoded = protocol::decodeStartup(asBytes(*packet).subspan(4));
    if (!decoded) {
      end(SessionEnd::ClientProtocolError, decoded.takeError());
      co_return false;
    }
    if (std::holds_alternative<protocol::SslRequest>(*decoded)) {
      if (tls_negotiated) {
        end(SessionEnd::ClientProtocolError,
            fail(sqlstate::kProtocolViolation, "SSLRequest received twice"));
        co_return false;
      }
      tls_negotiated = true;
      if (!state_->server_tls) {
        if (!co_await sendToClient("N")) co_return false;
        continue;
      }
      // Anything already buffered behind the SSLRequest was sent without
      // waiting for our answer: it would be read as if it were encrypted.
      if (client_.pendingPlaintext() > 0) {
        end(SessionEnd::ClientProtocolError,
            fail(sqlstate::kProtocolViolation, "received unencrypted data after SSL request"));
        co_return false;
      }
      if (!co_await sendToClient("S")) co_return false;
      if (auto ec =
              co_await client_.startTls(*state_->server_tls, asio::ssl::stream_base::server)) {
        log::info("session {} from {}: TLS handshake failed: {}", id_, peer_, ec.message());
        end(SessionEnd::ClientGone);
        co_return false;
      }
      continue;
    }
    if (std::holds_alternative<protocol::GssEncRequest>(*decoded)) {
      if (gss_answered || client_.tls()) {
        end(SessionEnd::ClientProtocolError,
            fail(sqlstate::kProtocolViolation, "unexpected GSSENCRequest"));
        co_return false;
      }
      gss_answered = true;
      if (!co_await sendToClient("N")) co_return false;
      continue;
    }
    if (auto* cancel = std::get_if<protocol::CancelRequest>(&*decoded)) {
      auto target = worker_.cancelMap().find({cancel->process_id, cancel->secret_key});
      if (target) {
        log::info("session {} from {}: forwarding cancel request", id_, peer_);
        if (target->cancelled) target->cancelled->store(true, std::memory_order_release);
        co_await forwardCancel(*target);
      } else {
        log::info("session {} from {}: cancel request with an unknown key ignored", id_, peer_);
      }
      end(SessionEnd::CancelRequest);
      co_return false;
    }
    startup_ = std::get<protocol::StartupMessage>(std::move(*decoded));
    break;
  }

  // Negotiate down: we speak 3.0 and no protocol extensions.
  std::vector<std::string_view> unrecognized;
  for (const auto& [name, value] : startup_->params) {
    if (name.starts_with("_pq_.")) unrecognized.push_back(name);
  }
  if (startup_->minor() > protocol::kProtocolMinor || !unrecognized.empty()) {
    std::string out;
    // PostgreSQL sends the whole version word (3 << 16 | 0) here, and libpq
    // reads it that way, although the docs call the field a minor version.
    protocol::encodeNegotiateProtocolVersion(out, protocol::kProtocolV3, unrecognized);
    if (!co_await sendToClient(out)) co_return false;
  }
  if (config_.tls.require && !client_.tls()) {
    end(SessionEnd::StartupRefused,
        fail(sqlstate::kInvalidAuthorizationSpecification,
             "pgwarden requires an encrypted connection: connect with sslmode=require "
             "(or verify-full)"));
    co_return false;
  }
  if (auto repl = startup_->get("replication"); repl && !isFalse(*repl)) {
    end(SessionEnd::StartupRefused,
        fail(sqlstate::kFeatureNotSupported, "pgwarden does not proxy replication connections"));
    co_return false;
  }
  if (auto options = startup_->get("options"); options && !options->empty()) {
    end(SessionEnd::StartupRefused,
        fail(sqlstate::kFeatureNotSupported,
             "pgwarden does not forward the startup parameter \"options\": it could change "
             "server settings outside the gateway's control; run SET after connecting"));
    co_return false;
  }
  auto user = startup_->get("user");
  if (!user || user->empty()) {
    end(SessionEnd::StartupRefused, fail(sqlstate::kInvalidAuthorizationSpecification,
                                         "no PostgreSQL user name specified in startup packet"));
    co_return false;
  }
  user_ = std::string(*user);
  if (worker_.activeClients() > config_.max_client_connections) {
    end(SessionEnd::StartupRefused,
        fail(sqlstate::kTooManyConnections,
             "sorry, too many clients already (pgwarden limits.max_client_connections)"));
    co_return false;
  }
  co_return true;
}

// ---------------------------------------------------------------------------
// Relay
// ---------------------------------------------------------------------------

awaitable<error_code> ClientSession::writePlan(Stream& to, Bytes in, const OutputPlan& plan,
                                               std::vector<asio::const_buffer>& gather) {
  gather.clear();
  for (const auto& s : plan.segments()) {
    const void* base = s.produced ? static_cast<const void*>(plan.produced().data())
                                  : static_cast<const void*>(in.data());
    gather.emplace_back(static_cast<const char*>(base) + s.offset, s.length);
  }
  co_return co_await to.writeAll(gather);
}

awaitable<void> ClientSession::pumpClient() {
  for (;;) {
    if (end_ != SessionEnd::None) co_return;
    Bytes in = client_buf_.readable();
    client_plan_.clear();
    auto step = frontend_relay_.process(in, client_plan_);
    if (!step) {
      if (boundary_end_ != SessionEnd::None) {
        end(boundary_end_, step.takeError());
        co_return;
      }
      log::warn("session {} from {}: protocol error: {}", id_, peer_, step.error().message);
      end(SessionEnd::ClientProtocolError, step.takeError());
      co_return;
    }
    if (!client_plan_.empty()) {
      if (auto ec = co_await writePlan(upstream_->stream(), in, client_plan_, client_gather_)) {
        end(SessionEnd::UpstreamLost);
        co_return;
      }
    }
    client_buf_.consume(step->consumed);
    if (frontend_relay_.terminated()) {
      end(SessionEnd::ClientTerminate);
      co_return;
    }
    if (step->held) {
      // The next message waits for the catalog lookups masking needs, for a
      // reviewer's decision, or for room in the audit queue; then it is
      // offered again.
      if (catalog_needs_) {
        if (!co_await fetchCatalog()) co_return;
      } else if (estimate_ && !estimate_->done) {
        if (!co_await runEstimate()) co_return;
      } else if (held_review_ && !held_review_->outcome) {
        if (!co_await waitForReview()) co_return;
      } else if (!co_await waitForAuditRoom()) {
        co_return;
      }
      continue;
    }
    client_buf_.reserve(std::max(step->needed, client_buf_.size() + 1));
    if (client_buf_.empty()) client_buf_.shrinkTo(kClientBuffer);
    auto [ec, n] = co_await client_.readSome(
        asio::buffer(client_buf_.writable().data(), client_buf_.writable().size()));
    if (ec || n == 0) {
      end(SessionEnd::ClientGone);
      co_return;
    }
    client_buf_.commit(n);
    last_activity_ = Clock::now();
  }
}

awaitable<void> ClientSession::pumpServer() {
  ReadBuffer& buf = upstream_->buffer();
  for (;;) {
    if (end_ != SessionEnd::None) co_return;
    Bytes in = buf.readable();
    server_plan_.clear();
    auto step = backend_relay_.process(in, server_plan_);
    if (!step) {
      log::error("session {}: connection \"{}\": {}", id_, connection_->name, step.error().message);
      end(SessionEnd::UpstreamProtocolError, step.takeError());
      co_return;
    }
    if (ready_in_plan_ && audit_log_ != nullptr && config_.audit.synchronous &&
        !audit_log_->durable(audit_ticket_)) {
      // audit.synchronous: the client learns a statement finished only once
      // its audit event is durable.
      if (!co_await waitAuditDurable()) co_return;
    }
    ready_in_plan_ = false;
    if (!server_plan_.empty()) {
      // A review notice being written goes out whole before more results.
      while (notice_writing_ && end_ == SessionEnd::None) {
        asio::steady_timer pause(client_.socket().get_executor(), std::chrono::milliseconds(1));
        co_await pause.async_wait(nothrow);
      }
      server_writing_ = true;
      auto ec = co_await writePlan(client_, in, server_plan_, server_gather_);
      server_writing_ = false;
      if (ec) {
        end(SessionEnd::ClientGone);
        co_return;
      }
    }
    buf.consume(step->consumed);
    if (shutdown_requested_ && !upstreamBusy() && tx_status_ == protocol::TxStatus::Idle &&
        !backend_relay_.midMessage()) {
      end(SessionEnd::Shutdown);
      co_return;
    }
    buf.reserve(std::max(step->needed, buf.size() + 1));
    if (buf.empty()) buf.shrinkTo(kServerBuffer);
    auto [ec, n] = co_await upstream_->stream().readSome(
        asio::buffer(buf.writable().data(), buf.writable().size()));
    if (ec || n == 0) {
      end(SessionEnd::UpstreamLost);
      co_return;
    }
    buf.commit(n);
  }
}

void ClientSession::onReadyForQuery(protocol::TxStatus status) {
  ready_in_plan_ = true;
  if (mask_) mask_->readyForQuery();
  if (statement_audit_) statement_audit_->readyForQuery();
  tx_status_ = status;
  if (pending_ready_ > 0) --pending_ready_;
  last_activity_ = Clock::now();
  if (pending_ready_ == 0) {
    denials_.settle();
    worker_.metrics().latency(last_activity_ - round_start_);
  }
}

bool ClientSession::onError(const protocol::NoticeFields& fields, std::string& replacement) {
  if (statement_audit_) statement_audit_->error(fields.sqlstate());
  if (fields.severity() == "FATAL" || fields.severity() == "PANIC") {
    log::info("session {}: connection \"{}\" ended the session: {} {}", id_, connection_->name,
              fields.sqlstate(), fields.message());
  }
  const bool denial = denials_.rewrite(fields, replacement);
  if (!mask_) return denial;
  // Values of masked columns echoed in the error (a unique violation's key,
  // an input that does not cast) — judged against the failing statement,
  // before error() drops it.
  const bool redacted = !denial && mask_->redactNotice('E', fields, replacement);
  mask_->error();
  return denial || redacted;
}

void ClientSession::onCommandComplete(std::string_view tag) {
  if (mask_) maskStatementDone();
  if (statement_audit_) statement_audit_->commandComplete(tag);
}

void ClientSession::onForward(size_t bytes) {
  if (statement_audit_) statement_audit_->bytesSent(bytes);
}

void ClientSession::onEmptyQuery() {
  if (mask_) maskStatementDone();
  if (statement_audit_) statement_audit_->emptyQuery();
}

void ClientSession::onPortalSuspended() {
  if (mask_) maskStatementDone();
  if (statement_audit_) statement_audit_->portalSuspended();
}

void ClientSession::onRowsWithheld(uint64_t returned, uint64_t withheld, std::string& out) {
  const std::string policy = gate_ ? gate_->policy().name() : std::string("?");
  protocol::encodeNoticeResponse(
      out, {.severity = "WARNING",
            .sqlstate = "01000",
            .message = "pgwarden: result cut to its first " + std::to_string(returned) +
                       " rows by limits.max_rows of policy \"" + policy + "\"; " +
                       std::to_string(withheld) + " more rows were not sent",
            .hint = "narrow the query (WHERE, LIMIT) to fetch what you need"});
  log::info("session {}: policy \"{}\" max_rows withheld {} rows after {}", id_, policy, withheld,
            returned);
}

Result<FrontendObserver::Verdict> ClientSession::onFrontendMessage(
    const protocol::FrontendMessage& msg, std::string& replacement) {
  const bool starts_statement = std::holds_alternative<protocol::Query>(msg) ||
                                std::holds_alternative<protocol::FunctionCall>(msg) ||
                                (!extended_open_ && (std::holds_alternative<protocol::Parse>(msg) ||
                                                     std::holds_alternative<protocol::Bind>(msg)));
  if (starts_statement && worker_.live().generation() != generation_) applyReload();
  if (starts_statement && gate_ && grant_generation_ != 0) refreshGrant();
  if (starts_statement && credential_deadline_ && boundary_end_ == SessionEnd::None &&
      std::chrono::system_clock::now() >= *credential_deadline_) {
    auto t = std::chrono::system_clock::to_time_t(*credential_deadline_);
    char when[32];
    std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    boundary_end_ = SessionEnd::CredentialExpired;
    boundary_error_ = fail(sqlstate::kInvalidAuthorizationSpecification,
                           std::string("the credential of this session expired at ") + when +
                               "; reconnect with a fresh token");
  }
  // A new statement with nothing in flight is a statement boundary: the place
  // where a session whose access ended goes, without cutting a result. Until
  // then (mid-pipeline) its statements are refused.
  if (starts_statement && boundary_end_ != SessionEnd::None) {
    if (!upstreamBusy() && pending_ready_ == 0) return boundary_error_;
  }
  // Masking plans the statement's result before it runs.
  if (boundary_end_ == SessionEnd::None && maskNeedsCatalog(msg)) return Verdict::Hold;
  // Nothing runs unaudited: a statement needs room in the audit queue first.
  bool audit_refused = false;
  if (statement_audit_ && audit_credit_ == 0 &&
      (std::holds_alternative<protocol::Query>(msg) ||
       std::holds_alternative<protocol::Execute>(msg) ||
       std::holds_alternative<protocol::FunctionCall>(msg))) {
    switch (reserveAudit()) {
      case AuditRoom::Ready:
        break;
      case AuditRoom::Wait:
        return Verdict::Hold;  // pumpClient waits for room, then offers it again
      case AuditRoom::Refuse:
        audit_refused = true;
        break;
    }
  }
  // Each of these is answered by exactly one ReadyForQuery.
  const int64_t ready_before = pending_ready_;
  const bool extended_before = extended_open_;
  if (std::holds_alternative<protocol::Query>(msg) || std::holds_alternative<protocol::Sync>(msg) ||
      std::holds_alternative<protocol::FunctionCall>(msg)) {
    ++pending_ready_;
  }
  // Execute without Sync (e.g. followed by Flush) may already be running.
  if (std::holds_alternative<protocol::Execute>(msg)) extended_open_ = true;
  if (std::holds_alternative<protocol::Sync>(msg)) extended_open_ = false;

  Verdict verdict = gateMessage(msg, replacement, audit_refused);
  if (verdict == Verdict::Hold) {
    // Waiting for a review: the message is offered again once it is decided.
    pending_ready_ = ready_before;
    extended_open_ = extended_before;
    return verdict;
  }
  if (ready_before == 0 && !extended_before) round_start_ = Clock::now();
  if (std::holds_alternative<protocol::Query>(msg) ||
      std::holds_alternative<protocol::Parse>(msg)) {
    ++statements_;
    using D = GatewayMetrics::Decision;
    D d = D::Unchecked;
    if (gate_) {
      d = gate_->last().verdict == policy::Verdict::Allow    ? D::Allow
          : gate_->last().verdict == policy::Verdict::Review ? D::Review
                                                             : D::Deny;
    }
    worker_.metrics().statement(d);
    rememberStatement(msg);
  }
  if (statement_audit_ && !audit_refused) auditMessage(msg, verdict == Verdict::Replace);
  if (mask_) verdict = maskMessage(msg, verdict, replacement);
  return verdict;
}

void ClientSession::armIdleTimer() {
  if (config_.timeouts.idle.count() <= 0) return;
  auto idle_for = Clock::now() - last_activity_;
  auto left =
      config_.timeouts.idle - std::chrono::duration_cast<std::chrono::milliseconds>(idle_for);
  // A statement waiting for a reviewer is not idleness.
  if (left.count() <= 0 && !upstreamBusy() && !held_review_) {
    end(SessionEnd::IdleTimeout,
        fail(sqlstate::kIdleSessionTimeout,
             "terminating connection due to idle-session timeout (pgwarden timeouts.idle)"));
    return;
  }
  if (left.count() <= 0) left = config_.timeouts.idle;
  idle_deadline_.arm(left, [this] { armIdleTimer(); });
}

// ---------------------------------------------------------------------------
// Ending
// ---------------------------------------------------------------------------

void ClientSession::end(SessionEnd reason, Error error) {
  if (end_ != SessionEnd::None) return;
  end_ = reason;
  end_error_ = std::move(error);
  if (reason == SessionEnd::AuthFailed) worker_.metrics().authFailed();
  if (reason == SessionEnd::UpstreamUnavailable || reason == SessionEnd::UpstreamLost ||
      reason == SessionEnd::UpstreamProtocolError) {
    worker_.metrics().upstreamError();
  }
  client_.cancel();
  if (upstream_) upstream_->stream().cancel();
}

void ClientSession::requestShutdown() {
  shutdown_requested_ = true;
  if (!relaying_ ||
      (!upstreamBusy() && tx_status_ == protocol::TxStatus::Idle && !backend_relay_.midMessage())) {
    end(SessionEnd::Shutdown);
  }
}

void ClientSession::terminate() {
  end(SessionEnd::Shutdown);
}

void ClientSession::terminateWith(const std::string& why) {
  end(SessionEnd::Terminated, fail(sqlstate::kAdminShutdown,
                                   "terminating connection due to administrator command: " + why));
}

SessionSummary ClientSession::summary() const {
  SessionSummary s;
  s.id = id_;
  s.subject = subject_;
  s.connection = connection_ != nullptr ? connection_->name : std::string();
  s.policy = gate_ ? gate_->policy().name() : std::string();
  s.client_address = peer_;
  s.started_us = started_us_;
  s.statements = statements_;
  if (held_review_ && !held_review_->outcome) {
    s.state = "waiting for review";
    s.review_id = held_review_->id;
  } else if (!relaying_) {
    s.state = "starting";
  } else if (upstreamBusy()) {
    s.state = "active";
  } else {
    s.state = tx_status_ == protocol::TxStatus::Idle ? "idle" : "idle in transaction";
  }
  return s;
}

awaitable<bool> ClientSession::sendToClient(const std::string& bytes) {
  if (auto ec = co_await client_.writeAll(asio::buffer(bytes))) {
    end(SessionEnd::ClientGone);
    co_return false;
  }
  co_return true;
}

awaitable<void> ClientSession::finish() {
  phase_deadline_.disarm();
  idle_deadline_.disarm();
  if (held_review_ && !held_review_->outcome && worker_.reviews() != nullptr) {
    // Nobody is left to run the statement if it were approved.
    worker_.reviews()->withdraw(held_review_->id,
                                "the session ended (" + std::string(toString(end_)) + ")");
  }

  // What the client is told.
  Error notice;
  switch (end_) {
    case SessionEnd::ClientProtocolError:
    case SessionEnd::AuthFailed:
    case SessionEnd::StartupRefused:
    case SessionEnd::UpstreamUnavailable:
    case SessionEnd::StartupTimeout:
    case SessionEnd::IdleTimeout:
    case SessionEnd::CredentialExpired:
    case SessionEnd::PolicyChanged:
    case SessionEnd::Terminated:
      notice = end_error_;
      break;
    case SessionEnd::UpstreamLost:
      notice = fail(sqlstate::kConnectionFailure,
                    "pgwarden lost the connection to the database of connection \"" +
                        (connection_ ? connection_->name : std::string("?")) +
                        "\"; the session has ended, reconnect to continue");
      break;
    case SessionEnd::UpstreamProtocolError:
      notice = fail(sqlstate::kProtocolViolation,
                    "pgwarden received an invalid message from the database; the session has "
                    "ended, reconnect to continue");
      break;
    case SessionEnd::Shutdown:
      notice = fail(sqlstate::kAdminShutdown,
                    "terminating connection due to administrator command: pgwarden is shutting "
                    "down; reconnect to continue");
      break;
    default:
      break;
  }
  // A startup timeout before the StartupMessage has nobody to talk to yet.
  if (end_ == SessionEnd::StartupTimeout && !startup_) notice = {};
  // Never interleave our message into a server message half-forwarded.
  const bool can_write = client_.isOpen() && !backend_relay_.midMessage();
  if (!notice.message.empty() && can_write) {
    std::string out;
    protocol::encodeErrorResponse(
        out, {.severity = "FATAL", .sqlstate = notice.sqlstate, .message = notice.message});
    Deadline guard(client_.socket().get_executor());
    guard.arm(std::chrono::seconds(5), [this] { client_.close(); });
    co_await client_.writeAll(asio::buffer(out));
  }
  client_.close();

  // What happens to the upstream work.
  if (upstream_ && upstream_->stream().isOpen()) {
    if (upstreamBusy() && client_key_) {
      log::info("session {}: cancelling the statement still running on \"{}\" ({})", id_,
                connection_->name, toString(end_));
      co_await forwardCancel({upstream_->endpoint(), upstream_key_});
    }
    if (end_ != SessionEnd::UpstreamLost && end_ != SessionEnd::UpstreamProtocolError) {
      std::string bye;
      protocol::encodeTerminate(bye);
      Deadline guard(client_.socket().get_executor());
      guard.arm(std::chrono::seconds(5), [this] { upstream_->stream().close(); });
      co_await upstream_->stream().writeAll(asio::buffer(bye));
    }
    upstream_->stream().close();
  }
  if (client_key_) {
    worker_.cancelMap().remove(*client_key_);
    client_key_.reset();
  }
  if (statement_audit_) {
    statement_audit_->abandon("not finished: the session ended (" + std::string(toString(end_)) +
                              ")");
    auditSessionEvent(audit::EventType::Disconnect, std::string(toString(end_)));
  }
  if (relaying_ || end_ == SessionEnd::UpstreamUnavailable) {
    log::info("session {} from {} ended: {}", id_, peer_, toString(end_));
  } else {
    log::debug("session {} from {} ended: {}", id_, peer_, toString(end_));
  }
}

}  // namespace pgw::proxy
