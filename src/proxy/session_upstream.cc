// Opening the upstream login: the governing policy, a just-in-time grant in
// force at connect, and the startup settings the policy allows.

#include <cctype>

#include "common/log.h"
#include "protocol/sqlstate.h"
#include "proxy/cancel_map.h"
#include "proxy/policy_gate.h"
#include "proxy/session.h"
#include "proxy/worker.h"
#include "review/service.h"

namespace pgw::proxy {
namespace {

std::string asciiLowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// Client encodings in which every byte below 0x80 means its ASCII character,
/// so the gateway's UTF-8 reading of quotes and backslashes matches the
/// server's. Excluded: SJIS, BIG5, GBK, UHC, GB18030 and SHIFT_JIS_2004, whose
/// second bytes can be a quote or a backslash.
bool clientEncodingParsesLikeUtf8(std::string_view name) {
  std::string n;
  for (char c : name) {
    if (c != '_' && c != '-')
      n.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  for (std::string_view bad :
       {"SJIS", "SHIFTJIS", "MSKANJI", "BIG5", "GBK", "UHC", "GB18030", "SHIFTJIS2004", "WIN932",
        "WIN936", "WIN949", "WIN950", "CP932", "CP936", "CP949", "CP950", "JOHAB"}) {
    if (n == bad) return false;
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------
// Upstream
// ---------------------------------------------------------------------------

UpstreamTarget ClientSession::upstreamTarget(const std::string& credential_name) const {
  UpstreamTarget target;
  target.connection = connection_;
  target.credential_name = credential_name;
  target.credential = &connection_->credentials.at(credential_name);
  if (auto it = state_->upstream_tls.find(connection_->name); it != state_->upstream_tls.end()) {
    target.tls = it->second.get();
  }
  target.max_message_size = config_.max_message_size;
  return target;
}

awaitable<bool> ClientSession::openUpstream() {
  std::string credential_name = connection_->default_credential;
  const policy::CompiledPolicy* governing = nullptr;
  if (state_->policies) {
    // The first policy matching subject and connection governs the session;
    // none matching means no access at all.
    governing = state_->policies->match(subject_, connection_->name);
    if (governing == nullptr) {
      auto refusal = policy::PolicySet::refusal(subject_, connection_->name);
      log::warn("session {} from {}: {} \"{}\" refused: no policy for connection \"{}\"", id_,
                peer_, auth::toString(subject_.method), subject_.id, connection_->name);
      end(SessionEnd::StartupRefused,
          fail(refusal.sqlstate.empty() ? "42501" : refusal.sqlstate, refusal.message));
      co_return false;
    }
    if (const std::string* cred = governing->credential(connection_->name)) {
      credential_name = *cred;
    }
  }
  // A just-in-time grant in force at connect decides the login: not
  // read-only, and with the grant's credential when the policy names one.
  std::optional<review::AccessRequest> grant;
  if (governing != nullptr && governing->jit().max_level && worker_.reviews() != nullptr) {
    grant_generation_ = worker_.reviews()->grantGeneration();
    grant = worker_.reviews()->activeGrant(subject_.id, connection_->name, review::nowUs());
    if (grant && grant->level > config::AccessLevel::Read && !governing->jit().credential.empty()) {
      credential_name = governing->jit().credential;
    }
  }
  const bool read_only = governing != nullptr && governing->readOnlySession() &&
                         !(grant && grant->level > config::AccessLevel::Read);
  upstream_read_only_ = read_only;
  UpstreamTarget target = upstreamTarget(credential_name);
  credential_name_ = credential_name;
  for (const auto& [name, value] : startup_->params) {
    // Protocol parameters are matched exactly (as the server does); the rest
    // are settings, whose names the server reads case-insensitively.
    if (name == "user" || name == "database" || name == "replication" || name == "options" ||
        name.starts_with("_pq_.")) {
      continue;
    }
    const std::string setting = asciiLowerCopy(name);
    if (setting == "application_name") continue;
    if (governing != nullptr) {
      // The gateway sets these itself (below).
      if (setting == "standard_conforming_strings" ||
          (setting == "statement_timeout" && governing->limits().statement_timeout.count() > 0) ||
          (setting == "default_transaction_read_only" && read_only)) {
        continue;
      }
      if (setting == "client_encoding" && !clientEncodingParsesLikeUtf8(value)) {
        end(SessionEnd::StartupRefused,
            fail(sqlstate::kFeatureNotSupported,
                 "pgwarden: client_encoding \"" + value +
                     "\" is not supported under a policy (multibyte encodings whose bytes can "
                     "hide quotes would be read differently by the server than by the gateway); "
                     "use UTF8"));
        co_return false;
      }
      // A startup setting is a SET before the first statement: the policy
      // judges it as one (role, row_security, read-only... are guardrails).
      sql::StatementInfo as_set;
      as_set.kind = sql::StatementKind::Set;
      as_set.settings.emplace_back(setting, value);
      as_set.text = "SET " + setting + " = '" + value + "'";
      const policy::Decision d = state_->policies->decide(*governing, as_set);
      if (!d.allowed()) {
        log::warn("session {} from {}: startup parameter {} refused by policy \"{}\" ({})", id_,
                  peer_, setting, governing->name(), d.rule);
        end(SessionEnd::StartupRefused, fail(d.sqlstate.empty() ? "42501" : d.sqlstate,
                                             "startup parameter " + setting + ": " + d.message));
        co_return false;
      }
    }
    target.params.emplace_back(name, value);
  }
  // The database sees who is behind the gateway's shared credential.
  target.params.emplace_back("application_name", applicationName());
  if (governing != nullptr) {
    // The analysis reads SQL as UTF-8 with standard_conforming_strings on; the
    // server must read it the same way (policy guardrail parser_settings keeps
    // it so after startup).

    target.params.emplace_back("standard_conforming_strings", "on");
  }
  if (governing != nullptr && governing->limits().statement_timeout.count() > 0) {
    // PostgreSQL enforces the limit; the policy keeps a session from raising
    // or disabling it (limits:statement_timeout), and RESET comes back here.
    target.params.emplace_back(
        "statement_timeout", std::to_string(governing->limits().statement_timeout.count()) + "ms");
  }
  if (read_only) {
    // Defense in depth: even a statement the analysis misjudged cannot write.
    // Turning it off again is a guardrail (security_settings).
    target.params.emplace_back("default_transaction_read_only", "on");
  }

  upstream_ = std::make_unique<Upstream>(client_.socket().get_executor());
  auto greeting = co_await upstream_->open(target);
  if (!greeting) {
    if (end_ != SessionEnd::None) co_return false;  // timed out or shut down meanwhile
    log::warn("session {} from {} (user \"{}\"): {}", id_, peer_, user_, greeting.error().message);
    end(SessionEnd::UpstreamUnavailable, greeting.takeError());
    co_return false;
  }
  upstream_key_ = greeting->key;
  if (governing != nullptr) {
    gate_ = std::make_unique<PolicyGate>(state_->policies, *governing, worker_.analysisCache());
    if (grant) {
      gate_->setGrant(grant->level);
      grant_ends_us_ = grant->ends_us;
      grant_id_ = grant->id;
    }
    backend_relay_.setRowLimit(governing->limits().max_rows);
    setupMasking(*state_, *governing);
  }
  client_key_ = worker_.cancelMap().add({upstream_->endpoint(), upstream_key_, cancel_flag_});

  std::string out = std::move(greeting->replay);
  protocol::encodeBackendKeyData(out, *client_key_);
  protocol::encodeReadyForQuery(out, greeting->status);
  tx_status_ = greeting->status;
  startAudit();
  worker_.metrics().sessionStarted();
  if (!co_await sendToClient(out)) co_return false;
  phase_deadline_.disarm();
  std::string groups;
  for (const auto& g : subject_.groups) groups += (groups.empty() ? "" : ",") + g;
  log::info(
      "session {} from {}: {} \"{}\" (groups [{}]) connected to \"{}\" as credential "
      "\"{}\"{}",
      id_, peer_, auth::toString(subject_.method), subject_.id, groups, connection_->name,
      target.credential_name, client_.tls() ? " (TLS)" : "");
  co_return true;
}

}  // namespace pgw::proxy
