// ClientSession: the masking side of a session — planning each statement's
// result masking before it is forwarded (with the catalog lookups that
// needs), and feeding the forwarded messages to the MaskSession
// (proxy/mask_session.h, docs/masking.md).

#include "common/log.h"
#include "mask/rules.h"
#include "protocol/sqlstate.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace pgw::proxy {

namespace {

/// Catalog rounds one statement may need (each resolves one more level of
/// views inside views, then the functions called).
constexpr int kMaxCatalogRounds = 12;

std::string_view statementText(const protocol::FrontendMessage& msg) {
  if (const auto* q = std::get_if<protocol::Query>(&msg)) return q->sql;
  if (const auto* p = std::get_if<protocol::Parse>(&msg)) return p->query;
  return {};
}

}  // namespace

std::shared_ptr<const mask::CompiledMaskRules> ClientSession::maskRulesFor(
    const GatewayState& state, const policy::CompiledPolicy& policy) const {
  auto it = state.mask_rules.find(policy.name());
  if (it == state.mask_rules.end()) return nullptr;
  if (!it->second->appliesTo(subject_.groups, subject_.id)) return nullptr;
  return it->second;
}

void ClientSession::setupMasking(const GatewayState& state, const policy::CompiledPolicy& policy) {
  auto rules = maskRulesFor(state, policy);
  if (!rules) {
    backend_relay_.setFilter(nullptr);
    mask_.reset();
    return;
  }
  const auto& m = state.config->masking;
  const bool deny = m.on_untraceable == config::OnUntraceable::Deny;
  if (mask_) {
    // After a reload: results in flight keep their plans.
    mask_->adopt(std::move(rules), deny, m.catalog_ttl);
    return;
  }
  mask_ = std::make_unique<MaskSession>(std::move(rules), subject_, deny, m.catalog_ttl,
                                        worker_.catalog().cache(connection_->name, m.catalog_ttl));
  backend_relay_.setFilter(mask_.get());
}

bool ClientSession::maskNeedsCatalog(const protocol::FrontendMessage& msg) {
  if (!mask_ || catalog_error_) return false;
  if (!std::holds_alternative<protocol::Query>(msg) &&
      !std::holds_alternative<protocol::Parse>(msg)) {
    return false;
  }
  CatalogNeeds needs = mask_->prepare(statementText(msg));
  if (needs.empty()) {
    catalog_rounds_ = 0;
    return false;
  }
  if (++catalog_rounds_ > kMaxCatalogRounds) {
    catalog_rounds_ = 0;
    catalog_error_ = fail(sqlstate::kInsufficientPrivilege,
                          "pgwarden: the relations this statement reads could not be resolved "
                          "for masking (views nested too deep)");
    return false;
  }
  catalog_needs_ = std::move(needs);
  return true;
}

awaitable<bool> ClientSession::fetchCatalog() {
  CatalogNeeds needs = std::move(*catalog_needs_);
  catalog_needs_.reset();
  UpstreamTarget target = upstreamTarget(credential_name_);
  target.params.emplace_back("application_name", "pgwarden catalog");
  const auto ttl = config_.masking.catalog_ttl;
  Status s = co_await worker_.catalog().fetch(target, ttl, needs.relations, {}, needs.functions);
  if (end_ != SessionEnd::None) co_return false;
  if (!s) {
    log::warn("session {}: masking catalog lookup on connection \"{}\" failed: {}", id_,
              connection_->name, s.error().message);
    // The statement is refused (fail closed); the next one tries again.
    catalog_error_ = fail(
        s.error().sqlstate.empty() ? std::string(sqlstate::kConnectionFailure) : s.error().sqlstate,
        "pgwarden: masking could not look up the columns this statement reads, so it was "
        "not run: " +
            s.error().message);
  }
  co_return true;
}

std::optional<DenialError> ClientSession::maskRefusal(const protocol::FrontendMessage& msg) {
  if (!mask_) return std::nullopt;
  if (std::holds_alternative<protocol::FunctionCall>(msg) && mask_->columnRules()) {
    DenialError e;
    e.message =
        "pgwarden: fast-path function calls are refused while masking rules apply (their "
        "results cannot be masked)";
    e.hint = "call the function in a SELECT";
    return e;
  }
  if (!std::holds_alternative<protocol::Query>(msg) &&
      !std::holds_alternative<protocol::Parse>(msg)) {
    return std::nullopt;
  }
  if (catalog_error_) {
    DenialError e;
    e.sqlstate = catalog_error_->sqlstate;
    e.message = catalog_error_->message;
    e.hint = "retry; tell the gateway operator if it persists";
    catalog_error_.reset();
    return e;
  }
  if (std::string refusal = mask_->writeRefusal(statementText(msg)); !refusal.empty()) {
    DenialError e;
    e.message = std::move(refusal);
    e.hint = "write the value into a column a masking rule covers, or ask for an exemption";
    return e;
  }
  std::string refusal = mask_->untraceableRefusal(statementText(msg));
  if (refusal.empty()) return std::nullopt;
  DenialError e;
  e.message = std::move(refusal);
  e.hint = "select the table's columns directly, or ask for an exemption from the masking rule";
  return e;
}

FrontendObserver::Verdict ClientSession::maskMessage(const protocol::FrontendMessage& msg,
                                                     Verdict verdict, std::string& replacement) {
  MaskSession& m = *mask_;
  const bool forwarded = verdict == Verdict::Forward;
  if (const auto* q = std::get_if<protocol::Query>(&msg)) {
    m.query(forwarded ? q->sql : std::string_view());
  } else if (std::holds_alternative<protocol::FunctionCall>(msg)) {
    m.sync();
  } else if (!forwarded) {
    return verdict;  // a refused Parse/Bind/Execute: nothing of it runs
  } else if (const auto* p = std::get_if<protocol::Parse>(&msg)) {
    m.parse(p->statement, p->query);
  } else if (const auto* b = std::get_if<protocol::Bind>(&msg)) {
    m.bind(b->portal, b->statement);
  } else if (const auto* e = std::get_if<protocol::Execute>(&msg)) {
    // Describe the portal first: its rows are planned with their formats.
    m.execute(*e, replacement);
    return Verdict::Replace;
  } else if (std::holds_alternative<protocol::Describe>(msg)) {
    m.describe();
  } else if (const auto* c = std::get_if<protocol::Close>(&msg)) {
    m.close(c->target, c->name);
  } else if (std::holds_alternative<protocol::Sync>(msg)) {
    m.sync();
  }
  return verdict;
}

void ClientSession::maskStatementDone() {
  auto masked = mask_->statementDone();
  if (statement_audit_ && !masked.empty()) statement_audit_->masked(std::move(masked));
}

}  // namespace pgw::proxy
