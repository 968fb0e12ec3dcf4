// The authentication half of ClientSession: who is calling (certificate,
// SCRAM user or bearer token), and the identity the upstream sees.

#include "auth/scram.h"
#include "common/log.h"
#include "protocol/sqlstate.h"
#include "proxy/framed_io.h"
#include "proxy/identity_service.h"
#include "proxy/session.h"
#include "proxy/worker.h"

namespace pgw::proxy {
namespace {

/// Messages before authentication completes are small (a JWT is at most
/// 16 KiB); an unauthenticated client cannot make the gateway buffer more.
constexpr size_t kMaxAuthMessage = 65536;

std::string registeredNames(const config::Config& c) {
  std::string names;
  for (const auto& [name, conn] : c.connections) {
    if (!names.empty()) names += ", ";
    names += name;
  }
  return names;
}

}  // namespace

// ---------------------------------------------------------------------------
// Client authentication: SCRAM-SHA-256 against identity.users
// ---------------------------------------------------------------------------

awaitable<bool> ClientSession::authenticate() {
  phase_deadline_.arm(config_.timeouts.auth, [this] {
    end(SessionEnd::StartupTimeout,
        fail(sqlstate::kProtocolViolation,
             "pgwarden: authentication did not complete in time (timeouts.auth)"));
  });
  IdentityService& identity = worker_.identity();
  if (auto wait = identity.blockedFor(peer_address_)) {
    log::warn("session {} from {}: refused, too many failed authentication attempts", id_, peer_);
    auditSessionEvent(audit::EventType::AuthFailure, "too many failed attempts from this address");
    end(SessionEnd::AuthFailed,
        fail(sqlstate::kInvalidAuthorizationSpecification,
             "too many failed authentication attempts from " + peer_address_ + "; try again in " +
                 std::to_string(wait->count()) + " s"));
    co_return false;
  }

  Result<auth::Subject> subject = fail("", "");
  SSL* tls = client_.nativeTls();
  if (identity.acceptsCertificates() && tls != nullptr &&
      SSL_get0_peer_certificate(tls) != nullptr) {
    subject = identity.fromCertificate(tls);
  } else if (state_->user_secrets.contains(user_) || !identity.acceptsTokens()) {
    subject = co_await authenticateScram();
  } else {
    subject = co_await authenticateToken();
  }
  if (end_ != SessionEnd::None) co_return false;  // the client left or broke protocol
  if (!subject) {
    identity.recordFailure(peer_address_);
    log::warn("session {} from {}: authentication failed for user \"{}\": {}", id_, peer_, user_,
              subject.error().message);
    auditSessionEvent(audit::EventType::AuthFailure, subject.error().message);
    end(SessionEnd::AuthFailed, subject.takeError());
    co_return false;
  }
  subject_ = std::move(*subject);
  // terminate: the session ends with its credential. hard_limit: it may
  // outlive the credential, but never lasts longer than hard_limit.
  const auto& expiry = config_.identity.token_expiry;
  if (expiry.mode == config::TokenExpiry::Mode::HardLimit && subject_.expires_at) {
    credential_deadline_ =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(expiry.hard_limit);
  } else {
    credential_deadline_ = subject_.expires_at;
  }

  std::string out;
  protocol::encodeAuthentication(out, protocol::AuthCode::Ok);
  if (!co_await sendToClient(out)) co_return false;

  std::string database(startup_->get("database").value_or(user_));
  connection_ = config_.findConnection(database);
  if (connection_ == nullptr) {
    end(SessionEnd::StartupRefused,
        fail(sqlstate::kInvalidCatalogName, "database \"" + database +
                                                "\" is not a connection registered in pgwarden "
                                                "(registered: " +
                                                registeredNames(config_) + ")"));
    co_return false;
  }
  co_return true;
}

awaitable<Result<protocol::Frame>> ClientSession::readAuthMessage(std::string_view what) {
  auto frame = co_await readFrame(client_, client_buf_, kMaxAuthMessage);
  if (!frame) {
    if (frame.error().sqlstate == sqlstate::kConnectionFailure) {
      end(SessionEnd::ClientGone);
    } else {
      end(SessionEnd::ClientProtocolError, frame.takeError());
    }
    co_return fail("", "");
  }
  if (frame->type != protocol::fe::kPassword) {
    end(SessionEnd::ClientProtocolError,
        fail(sqlstate::kProtocolViolation,
             "expected " + std::string(what) + " during authentication"));
    co_return fail("", "");
  }
  co_return frame;
}

awaitable<Result<auth::Subject>> ClientSession::authenticateScram() {
  auto known = state_->user_secrets.find(user_);
  const bool user_exists = known != state_->user_secrets.end();
  auth::ScramServer scram(user_exists ? known->second : state_->decoy_secret);
  // The client is told only this; the log gets the reason.
  auto refused = [&](const Error& why) {
    log::info("session {} from {}: SCRAM exchange failed: {}", id_, peer_, why.message);
    return fail(sqlstate::kInvalidPassword,
                "password authentication failed for user \"" + user_ + "\"");
  };

  std::string out;
  const std::string_view mechanisms[] = {auth::kScramSha256};
  protocol::encodeAuthenticationSasl(out, mechanisms);
  if (!co_await sendToClient(out)) co_return fail("", "");

  auto frame = co_await readAuthMessage("SASLInitialResponse");
  if (!frame) co_return frame.takeError();
  auto initial = protocol::decodeSaslInitialResponse(frame->body);
  if (!initial || initial->mechanism != auth::kScramSha256 || !initial->data) {
    end(SessionEnd::ClientProtocolError,
        fail(sqlstate::kProtocolViolation,
             "invalid SASLInitialResponse: pgwarden offers only SCRAM-SHA-256"));
    co_return fail("", "");
  }
  auto server_first = scram.handleClientFirst(asChars(*initial->data));
  client_buf_.consume(frame->size);
  if (!server_first) co_return refused(server_first.error());
  out.clear();
  protocol::encodeAuthentication(out, protocol::AuthCode::SASLContinue, *server_first);
  if (!co_await sendToClient(out)) co_return fail("", "");

  frame = co_await readAuthMessage("SASLResponse");
  if (!frame) co_return frame.takeError();
  auto server_final = scram.handleClientFinal(asChars(protocol::decodeSaslResponse(frame->body)));
  client_buf_.consume(frame->size);
  if (!server_final) co_return refused(server_final.error());
  if (!user_exists) co_return refused(fail("", "no such user in identity.users"));

  out.clear();
  protocol::encodeAuthentication(out, protocol::AuthCode::SASLFinal, *server_final);
  if (!co_await sendToClient(out)) co_return fail("", "");

  auth::Subject subject;
  subject.id = user_;
  subject.display_name = user_;
  subject.issuer = "pgwarden:users";
  subject.method = auth::AuthMethod::Scram;
  if (const auto* user = config_.findUser(user_)) subject.groups = user->groups;
  co_return subject;
}

awaitable<Result<auth::Subject>> ClientSession::authenticateToken() {
  IdentityService& identity = worker_.identity();
  if (!client_.tls() && !identity.allowPlaintextTokens()) {
    // Refuse before asking: a token must never cross the network in the clear.
    co_return fail(sqlstate::kInvalidAuthorizationSpecification,
                   "pgwarden accepts tokens only over TLS: connect with sslmode=require");
  }
  std::string out;
  protocol::encodeAuthentication(out, protocol::AuthCode::CleartextPassword);
  if (!co_await sendToClient(out)) co_return fail("", "");
  auto frame = co_await readAuthMessage("a password message");
  if (!frame) co_return frame.takeError();
  auto password = protocol::decodePassword(frame->body);
  if (!password) {
    end(SessionEnd::ClientProtocolError, password.takeError());
    co_return fail("", "");
  }
  std::string token(*password);
  client_buf_.consume(frame->size);
  co_return co_await identity.verifyToken(std::move(token));
}

std::string ClientSession::applicationName() const {
  std::string pattern = config_.identity.application_name;
  std::string client_app(startup_->get("application_name").value_or(""));
  std::string out;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern.compare(i, 9, "{subject}") == 0) {
      out += subject_.id;
      i += 9;
    } else if (pattern.compare(i, 8, "{method}") == 0) {
      out += auth::toString(subject_.method);
      i += 8;
    } else if (pattern.compare(i, 12, "{client_app}") == 0) {
      out += client_app;
      i += 12;
    } else {
      out += pattern[i++];
    }
  }
  return out;
}

}  // namespace pgw::proxy
