// ClientSession: what it tells the audit trail (see proxy/statement_audit.h
// for how statements are matched to their outcomes).

#include <openssl/ssl.h>

#include "common/log.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace pgw::proxy {
namespace {

AuditDecision fromDecision(const policy::Decision& d) {
  AuditDecision out;
  switch (d.verdict) {
    case policy::Verdict::Allow:
      out.decision = "allow";
      break;
    case policy::Verdict::Deny:
      out.decision = "deny";
      break;
    case policy::Verdict::Review:
      out.decision = "review";
      break;
  }
  out.rule = d.rule;
  out.policy = d.policy;
  out.statement = d.statement;
  return out;
}

}  // namespace

void ClientSession::startAudit() {
  audit_log_ = worker_.auditLog();
  if (audit_log_ == nullptr) return;
  audit::AuditEvent base;
  base.session_id = id_;
  base.subject_id = subject_.id;
  base.subject_groups = subject_.groups;
  base.subject_issuer = subject_.issuer;
  base.auth_method = std::string(auth::toString(subject_.method));
  base.client_address = peer_address_;
  base.tls = client_.tls();
  if (SSL* ssl = client_.nativeTls()) base.tls_version = SSL_get_version(ssl);
  base.connection = connection_->name;
  if (auto it = connection_->credentials.find(credential_name_);
      it != connection_->credentials.end()) {
    base.upstream_role = it->second.user;
  }
  const config::AuditParams params =
      gate_ ? gate_->policy().auditParameters() : config_.audit.parameters;
  audit_members_ = std::make_unique<const audit::SessionTemplate>(base, audit_log_->gatewayId());
  statement_audit_ = std::make_unique<StatementAudit>(
      base, audit::toParamMode(params),
      [this](const audit::AuditEvent& event) { emitAudit(event, audit_members_.get()); });
  statement_audit_->setNamesMasked(
      [this](const sql::StatementInfo& info) { return mask_ && mask_->namesMasked(info); });
  audit::AuditEvent connect = std::move(base);
  connect.type = audit::EventType::Connect;
  connect.time = audit::nowUs();
  if (gate_) connect.policy = gate_->policy().name();
  emitAudit(connect, audit_members_.get());
}

void ClientSession::auditSessionEvent(audit::EventType type, std::string reason) {
  audit_log_ = worker_.auditLog();
  if (audit_log_ == nullptr) return;
  audit::AuditEvent ev;
  ev.type = type;
  ev.time = audit::nowUs();
  ev.session_id = id_;
  ev.subject_id = subject_.id;
  ev.subject_groups = subject_.groups;
  ev.subject_issuer = subject_.issuer;
  if (!subject_.id.empty()) ev.auth_method = std::string(auth::toString(subject_.method));
  ev.client_address = peer_address_;
  ev.tls = client_.tls();
  if (connection_ != nullptr) ev.connection = connection_->name;
  if (startup_) {
    if (auto user = startup_->get("user"))
      ev.detail = "startup user \"" + std::string(*user) + "\"";
  }
  ev.reason = std::move(reason);
  emitAudit(ev);
}

void ClientSession::emitAudit(const audit::AuditEvent& event,
                              const audit::SessionTemplate* members) {
  if (audit_credit_ > 0) {
    --audit_credit_;
    audit_ticket_ = audit_log_->submit(event, members);
  } else {
    audit_ticket_ = audit_log_->submitUnreserved(event, members);
  }
}

awaitable<bool> ClientSession::waitAuditDurable() {
  const audit::AuditLog::Ticket ticket = audit_ticket_;
  if (audit_log_->durable(ticket)) co_return true;
  // The writer's callback posts back to this worker and wakes the timer;
  // the timer also wakes now and then to notice the session ending.
  auto timer = std::make_shared<asio::steady_timer>(client_.socket().get_executor());
  std::weak_ptr<asio::steady_timer> weak = timer;
  audit_log_->whenDurable(ticket, [mailbox = worker_.mailbox(), weak] {
    mailbox->post([weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  });
  while (end_ == SessionEnd::None && !audit_log_->durable(ticket)) {
    timer->expires_after(std::chrono::milliseconds(100));
    co_await timer->async_wait(nothrow);
  }
  co_return end_ == SessionEnd::None;
}

ClientSession::AuditRoom ClientSession::reserveAudit() {
  if (audit_log_->tryReserve()) {
    ++audit_credit_;
    return AuditRoom::Ready;
  }
  return audit_log_->onFull() == audit::AuditLog::OnFull::Block ? AuditRoom::Wait
                                                                : AuditRoom::Refuse;
}

awaitable<bool> ClientSession::waitForAuditRoom() {
  // Polled: the queue is full only when a sink is failing or far behind,
  // and a timer owned by this session cannot outlive it.
  asio::steady_timer timer(client_.socket().get_executor());
  bool warned = false;
  while (end_ == SessionEnd::None) {
    if (audit_log_->tryReserve()) {
      ++audit_credit_;
      co_return true;
    }
    if (!warned) {
      log::warn("session {}: audit queue full; the statement waits for room (audit.on_full: block)",
                id_);
      warned = true;
    }
    timer.expires_after(std::chrono::milliseconds(20));
    co_await timer.async_wait(nothrow);
  }
  co_return false;
}

void ClientSession::auditMessage(const protocol::FrontendMessage& msg, bool denied) {
  StatementAudit& sa = *statement_audit_;
  const bool ending = boundary_end_ != SessionEnd::None;
  // Only the messages that start a statement (and a Bind the gate refused
  // or a review let through) record a decision; Execute, Sync and Close
  // pass through here for every statement and build none.
  std::string review_id = std::move(audit_review_id_);
  audit_review_id_.clear();
  auto decisionOf = [&] {
    AuditDecision decision;
    if (ending) {
      decision.decision = "deny";
      decision.rule = "session_ending";
      if (gate_) decision.policy = gate_->policy().name();
    } else if (gate_) {
      decision = fromDecision(gate_->last());
      decision.review_id = std::move(review_id);
    }
    return decision;
  };
  auto analysisOf = [&](std::string_view sql) {
    return gate_ && !ending ? gate_->lastAnalysis() : worker_.analysisCache().get(sql);
  };
  if (const auto* e = std::get_if<protocol::Execute>(&msg)) {
    sa.execute(e->portal);
  } else if (std::holds_alternative<protocol::Sync>(msg)) {
    sa.sync();
  } else if (const auto* b = std::get_if<protocol::Bind>(&msg)) {
    if (denied) {
      const AuditDecision decision = decisionOf();
      sa.bind(*b, &decision, decision.review_id);
    } else {
      sa.bind(*b, nullptr, gate_ && !ending ? std::move(review_id) : std::string());
    }
  } else if (const auto* q = std::get_if<protocol::Query>(&msg)) {
    sa.query(*analysisOf(q->sql), decisionOf(), denied);
  } else if (const auto* p = std::get_if<protocol::Parse>(&msg)) {
    std::vector<uint32_t> types(p->param_types.size());
    for (size_t i = 0; i < types.size(); ++i) types[i] = static_cast<uint32_t>(p->param_types[i]);
    sa.parse(p->statement, analysisOf(p->query), decisionOf(), denied, std::move(types));
  } else if (const auto* c = std::get_if<protocol::Close>(&msg)) {
    sa.close(c->target, c->name);
  } else if (const auto* f = std::get_if<protocol::FunctionCall>(&msg)) {
    AuditDecision decision = decisionOf();
    if (gate_ && !ending) {
      decision.decision = denied ? "deny" : "allow";
      decision.rule = denied ? "fast_path_function_call" : "access:admin";
    }
    sa.functionCall(f->function_oid, decision, denied);
  }
}

}  // namespace pgw::proxy
