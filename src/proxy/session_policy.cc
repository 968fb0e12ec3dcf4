// ClientSession: the policy side of a session — the statement gate, and what
// a configuration reload does to an open session (docs/policy.md,
// "Configuration reload").

#include "common/log.h"
#include "protocol/sqlstate.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace pgw::proxy {

namespace {

/// Statements after which a relation's columns, a view's definition or the
/// set of user functions may differ (directly, or inside a DO block or
/// procedure).
bool changesSchema(const sql::Analysis& analysis) {
  using K = sql::StatementKind;
  for (const auto& st : analysis.statements) {
    switch (st.kind) {
      case K::Create:
      case K::Alter:
      case K::Drop:
      case K::Rename:
      case K::CreateTableAs:
      case K::CreateExtension:
      case K::AlterExtension:
      case K::DropExtension:
      case K::Do:
      case K::Call:
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

FrontendObserver::Verdict ClientSession::gateMessage(const protocol::FrontendMessage& msg,
                                                     std::string& replacement, bool audit_refused) {
  if (audit_refused) {
    // audit.on_full: reject — nothing runs that the trail cannot record.
    DenialError e;
    e.sqlstate = std::string(sqlstate::kInsufficientResources);
    e.message =
        "pgwarden: the audit trail is not keeping up, so the statement was not run "
        "(audit.on_full: reject)";
    e.hint = "retry shortly; tell the gateway operator if it persists";
    if (std::holds_alternative<protocol::Execute>(msg)) {
      denials_.denyBind(replacement, "", std::move(e));
    } else {
      denials_.denyQuery(replacement, std::move(e));
    }
    return Verdict::Replace;
  }
  if (boundary_end_ != SessionEnd::None) {
    if (std::holds_alternative<protocol::Query>(msg) ||
        std::holds_alternative<protocol::FunctionCall>(msg)) {
      denials_.denyQuery(replacement, endingDenial());
      return Verdict::Replace;
    }
    if (const auto* p = std::get_if<protocol::Parse>(&msg)) {
      denials_.denyParse(replacement, p->statement, endingDenial());
      return Verdict::Replace;
    }
    if (const auto* b = std::get_if<protocol::Bind>(&msg)) {
      denials_.denyBind(replacement, b->portal, endingDenial());
      return Verdict::Replace;
    }
  } else if (gate_) {
    // A denied statement is replaced by one that fails on the server, so the
    // server applies its own failure semantics (see proxy/denials.h).
    const auto review = [this] { return gate_->last().verdict == policy::Verdict::Review; };
    // A grant this session cannot use says so in every refusal.
    const auto withGrantHint = [this](DenialError e) {
      if (!grant_hint_.empty()) e.hint += (e.hint.empty() ? "" : "; ") + grant_hint_;
      return e;
    };
    if (const auto* q = std::get_if<protocol::Query>(&msg)) {
      if (auto denial = gate_->checkQuery(q->sql)) {
        if (review()) return onReview(msg, std::move(*denial), replacement);
        denials_.denyQuery(replacement, withGrantHint(std::move(*denial)));
        return Verdict::Replace;
      }
      if (gate_->last().estimate) {
        if (auto v = checkEstimate(msg, replacement)) return *v;
      }
    } else if (const auto* p = std::get_if<protocol::Parse>(&msg)) {
      // A statement that needs review is prepared as sent; each Bind asks.
      // So is one whose allowance depends on the planner's estimate: each
      // Bind's parameters go into the EXPLAIN.
      auto denial = gate_->checkParse(p->statement, p->query);
      if (denial && !review()) {
        denials_.denyParse(replacement, p->statement, withGrantHint(std::move(*denial)));
        return Verdict::Replace;
      }
      if (denial || gate_->last().estimate) {
        std::vector<uint32_t> types(p->param_types.size());
        for (size_t i = 0; i < types.size(); ++i) {
          types[i] = static_cast<uint32_t>(p->param_types[i]);
        }
        gate_->setParamTypes(p->statement, std::move(types));
      }
    } else if (const auto* b = std::get_if<protocol::Bind>(&msg)) {
      if (auto denial = gate_->checkBind(b->statement)) {
        if (review()) return onReview(msg, std::move(*denial), replacement);
        denials_.denyBind(replacement, b->portal, withGrantHint(std::move(*denial)));
        return Verdict::Replace;
      }
      if (gate_->last().estimate) {
        if (auto v = checkEstimate(msg, replacement)) return *v;
      }
    } else if (const auto* f = std::get_if<protocol::FunctionCall>(&msg)) {
      if (auto denial = gate_->checkFunctionCall(f->function_oid)) {
        denials_.denyQuery(replacement, std::move(*denial));
        return Verdict::Replace;
      }
    }
    // Masking's catalog cache forgets what a schema change may change.
    if (std::holds_alternative<protocol::Query>(msg) ||
        std::holds_alternative<protocol::Parse>(msg)) {
      if (const auto& analysis = gate_->lastAnalysis(); analysis && changesSchema(*analysis)) {
        CatalogCache::invalidateAll();
      }
    }
  }
  if (auto denial = maskRefusal(msg)) {
    if (const auto* p = std::get_if<protocol::Parse>(&msg)) {
      denials_.denyParse(replacement, p->statement, std::move(*denial));
    } else {
      denials_.denyQuery(replacement, std::move(*denial));
    }
    return Verdict::Replace;
  }
  return Verdict::Forward;
}

void ClientSession::applyReload() {
  auto snap = worker_.live().snapshot();
  generation_ = snap.generation;
  if (boundary_end_ != SessionEnd::None) return;
  const auto& policies = snap.state->policies;
  if (!gate_ && !policies) return;  // still a transparent gateway
  std::string why;
  std::string code(sqlstate::kAdminShutdown);
  const policy::CompiledPolicy* governing = nullptr;
  const config::Connection* conn = snap.state->config->findConnection(connection_->name);
  if (!gate_) {
    why = "the reloaded config adds policies, which govern new sessions only";
  } else if (!policies) {
    why = "the reloaded config has no policies any more";
  } else if (conn == nullptr) {
    why = "connection \"" + connection_->name + "\" was removed from the config";
  } else if ((governing = policies->match(subject_, connection_->name)) == nullptr) {
    auto refusal = policy::PolicySet::refusal(subject_, connection_->name);
    code = refusal.sqlstate.empty() ? "42501" : refusal.sqlstate;
    why = refusal.message;
  } else {
    const std::string* cred = governing->credential(connection_->name);
    const std::string& now_cred = cred != nullptr ? *cred : conn->default_credential;
    if (now_cred != credential_name_) {
      why = "policy \"" + governing->name() + "\" now logs in with credential \"" + now_cred +
            "\", not \"" + credential_name_ + "\"";
    } else if (governing->readOnlySession() != gate_->policy().readOnlySession()) {
      why =
          "policy \"" + governing->name() + "\" changed whether the database session is read-only";
    } else if (governing->limits().statement_timeout !=
               gate_->policy().limits().statement_timeout) {
      why = "policy \"" + governing->name() + "\" changed limits.statement_timeout";
    }
  }
  if (why.empty()) {
    gate_->adopt(policies, *governing);
    backend_relay_.setRowLimit(governing->limits().max_rows);
    setupMasking(*snap.state, *governing);
    log::info("session {}: statements now decided by policy \"{}\" (config generation {})", id_,
              governing->name(), generation_);
    return;
  }
  log::info("session {} ({} \"{}\"): ends at its next statement: {}", id_,
            auth::toString(subject_.method), subject_.id, why);
  boundary_end_ = SessionEnd::PolicyChanged;
  boundary_error_ =
      fail(code, "pgwarden: this session's access changed in a configuration reload: " + why +
                     "; reconnect to continue");
}

DenialError ClientSession::endingDenial() const {
  DenialError e;
  e.sqlstate = boundary_error_.sqlstate;
  e.message = boundary_error_.message;
  e.hint = "finish the current pipeline; the session then ends";
  return e;
}

}  // namespace pgw::proxy
