#include "proxy/upstream.h"

#include <optional>

#include "auth/scram.h"
#include "common/log.h"
#include "protocol/sqlstate.h"
#include "proxy/deadline.h"
#include "proxy/framed_io.h"

namespace pgw::proxy {
namespace {

using protocol::AuthCode;

std::string named(const UpstreamTarget& t) {
  return "connection \"" + t.connection->name + "\"";
}

Error upstreamError(const UpstreamTarget& t, std::string_view state, const std::string& what) {
  return fail(state, "pgwarden could not open " + named(t) + ": " + what);
}

/// The server refused us. Authentication failures name neither the user nor
/// the password: only the fact, and who has to act.
Error fromServerError(const UpstreamTarget& t, const protocol::NoticeFields& f) {
  std::string state(f.sqlstate());
  if (state.starts_with("28")) {
    return fail(sqlstate::kSqlServerRejectedConnection,
                "pgwarden could not log in to " + named(t) +
                    ": the database rejected the gateway's configured credential (SQLSTATE " +
                    state + "); the gateway operator must fix connections." + t.connection->name +
                    ".credentials." + t.credential_name);
  }
  return fail(
      state.empty() ? sqlstate::kSqlServerRejectedConnection : state,
      "pgwarden could not open " + named(t) + ": the database said: " + std::string(f.message()));
}

}  // namespace

awaitable<Result<UpstreamGreeting>> Upstream::open(const UpstreamTarget& target) {
  bool timed_out = false;
  Deadline deadline(co_await asio::this_coro::executor);
  deadline.arm(target.connection->connect_timeout, [this, &timed_out] {
    timed_out = true;
    stream_.close();
  });
  auto timeoutError = [&] {
    return upstreamError(
        target, sqlstate::kSqlClientUnableToEstablishConnection,
        "timed out after " + std::to_string(target.connection->connect_timeout.count()) + " ms");
  };

  if (auto r = co_await connectTcp(target); !r) {
    if (timed_out) co_return timeoutError();
    co_return r.takeError();
  }
  if (target.tls != nullptr) {
    if (auto r = co_await negotiateTls(target); !r) {
      if (timed_out) co_return timeoutError();
      co_return r.takeError();
    }
  }
  auto greeting = co_await login(target);
  deadline.disarm();
  if (!greeting && timed_out) co_return timeoutError();
  co_return greeting;
}

awaitable<Result<void>> Upstream::connectTcp(const UpstreamTarget& target) {
  const auto& c = *target.connection;
  tcp::resolver resolver(co_await asio::this_coro::executor);
  auto [rec, endpoints] = co_await resolver.async_resolve(c.host, std::to_string(c.port), nothrow);
  if (rec) {
    co_return upstreamError(target, sqlstate::kSqlClientUnableToEstablishConnection,
                            "cannot resolve host \"" + c.host + "\": " + rec.message());
  }
  auto [cec, endpoint] = co_await asio::async_connect(stream_.socket(), endpoints, nothrow);
  if (cec) {
    co_return upstreamError(
        target, sqlstate::kSqlClientUnableToEstablishConnection,
        "cannot connect to " + c.host + ":" + std::to_string(c.port) + ": " + cec.message());
  }
  endpoint_ = endpoint;
  error_code ec;
  stream_.socket().set_option(tcp::no_delay(true), ec);
  stream_.socket().set_option(asio::socket_base::keep_alive(true), ec);
  co_return Result<void>{};
}

awaitable<Result<void>> Upstream::negotiateTls(const UpstreamTarget& target) {
  const auto& c = *target.connection;
  std::string request;
  protocol::encodeSslRequest(request);
  if (auto ec = co_await stream_.writeAll(asio::buffer(request))) {
    co_return upstreamError(target, sqlstate::kSqlClientUnableToEstablishConnection,
                            "connection lost during TLS negotiation: " + ec.message());
  }
  char answer = 0;
  if (auto ec = co_await stream_.readExact(asio::buffer(&answer, 1))) {
    co_return upstreamError(target, sqlstate::kSqlClientUnableToEstablishConnection,
                            "connection lost during TLS negotiation: " + ec.message());
  }
  if (answer != 'S') {
    co_return upstreamError(
        target, sqlstate::kSqlClientUnableToEstablishConnection,
        "the server does not support TLS, but tls.mode is " +
            std::string(c.tls.mode == config::SslMode::Require    ? "require"
                        : c.tls.mode == config::SslMode::VerifyCa ? "verify-ca"
                                                                  : "verify-full"));
  }
  // Bytes after 'S' and before the handshake would be a man-in-the-middle
  // injection (CVE-2021-23222); refuse them.
  if (stream_.pendingPlaintext() > 0) {
    co_return upstreamError(target, sqlstate::kProtocolViolation,
                            "the server sent unencrypted data after accepting TLS");
  }
  const std::string& name = c.tls.server_name.empty() ? c.host : c.tls.server_name;
  const bool verify_host = c.tls.mode == config::SslMode::VerifyFull;
  if (auto ec = co_await stream_.startTls(*target.tls, asio::ssl::stream_base::client, name,
                                          verify_host)) {
    std::string why = ec.message();
    if (SSL* ssl = stream_.nativeTls()) {
      long vr = SSL_get_verify_result(ssl);
      if (vr != X509_V_OK) why = X509_verify_cert_error_string(vr);
    }
    co_return upstreamError(
        target, sqlstate::kSqlClientUnableToEstablishConnection,
        "TLS handshake failed (tls.mode " +
            std::string(c.tls.mode == config::SslMode::VerifyFull ? "verify-full"
                        : c.tls.mode == config::SslMode::VerifyCa ? "verify-ca"
                                                                  : "require") +
            "): " + why);
  }
  co_return Result<void>{};
}

awaitable<Result<UpstreamGreeting>> Upstream::login(const UpstreamTarget& target) {
  const auto& c = *target.connection;
  const auto& cred = *target.credential;
  std::string out;
  protocol::StartupMessage startup;
  startup.params.emplace_back("user", cred.user);
  startup.params.emplace_back("database", c.database);
  for (const auto& p : target.params) startup.params.push_back(p);
  protocol::encodeStartupMessage(out, startup);
  if (auto ec = co_await stream_.writeAll(asio::buffer(out))) {
    co_return upstreamError(target, sqlstate::kConnectionFailure,
                            "connection lost during startup: " + ec.message());
  }

  UpstreamGreeting greeting;
  std::optional<auth::ScramClient> scram;
  bool have_key = false;
  for (;;) {
    auto frame = co_await readFrame(stream_, buffer_, target.max_message_size);
    if (!frame) {
      co_return upstreamError(target, frame.error().sqlstate,
                              "during login: " + frame.error().message);
    }
    auto msg = protocol::decodeBackend(*frame);
    if (!msg) {
      co_return upstreamError(
          target, sqlstate::kProtocolViolation,
          "the server sent an invalid message during login: " + msg.error().message);
    }
    out.clear();
    bool done = false;
    if (auto* a = std::get_if<protocol::Authentication>(&*msg)) {
      switch (a->code) {
        case AuthCode::Ok:
          break;
        case AuthCode::CleartextPassword:
          protocol::encodePassword(out, cred.password.reveal());
          break;
        case AuthCode::MD5Password:
          protocol::encodePassword(
              out, auth::md5PasswordResponse(cred.user, cred.password.reveal(), asChars(a->data)));
          break;
        case AuthCode::SASL: {
          bool offered = false;
          for (auto m : a->mechanisms) offered = offered || m == auth::kScramSha256;
          if (!offered) {
            co_return upstreamError(target, sqlstate::kSqlServerRejectedConnection,
                                    "the server offers no SASL mechanism pgwarden supports "
                                    "(need SCRAM-SHA-256)");
          }
          scram.emplace(cred.password.reveal());
          protocol::encodeSaslInitialResponse(out, auth::kScramSha256, scram->clientFirst());
          break;
        }
        case AuthCode::SASLContinue: {
          if (!scram) {
            co_return upstreamError(target, sqlstate::kProtocolViolation,
                                    "unexpected SASL continuation");
          }
          auto final_msg = scram->handleServerFirst(asChars(a->data));
          if (!final_msg) {
            co_return upstreamError(target, final_msg.error().sqlstate,
                                    "SCRAM exchange failed: " + final_msg.error().message);
          }
          protocol::encodeSaslResponse(out, *final_msg);
          break;
        }
        case AuthCode::SASLFinal: {
          if (!scram) {
            co_return upstreamError(target, sqlstate::kProtocolViolation,
                                    "unexpected SASL final message");
          }
          if (auto r = scram->handleServerFinal(asChars(a->data)); !r) {
            co_return upstreamError(target, r.error().sqlstate,
                                    "SCRAM exchange failed: " + r.error().message);
          }
          break;
        }
        default:
          co_return upstreamError(target, sqlstate::kSqlServerRejectedConnection,
                                  "the server asks for authentication method " +
                                      std::to_string(static_cast<int32_t>(a->code)) +
                                      ", which pgwarden does not support (use scram-sha-256, "
                                      "md5 or password in pg_hba.conf)");
      }
    } else if (std::holds_alternative<protocol::ParameterStatus>(*msg) ||
               std::holds_alternative<protocol::NoticeResponse>(*msg)) {
      greeting.replay.append(asChars(buffer_.readable().first(frame->size)));
    } else if (auto* k = std::get_if<protocol::BackendKeyData>(&*msg)) {
      greeting.key = *k;
      have_key = true;
    } else if (auto* z = std::get_if<protocol::ReadyForQuery>(&*msg)) {
      greeting.status = z->status;
      done = true;
    } else if (auto* e = std::get_if<protocol::ErrorResponse>(&*msg)) {
      co_return fromServerError(target, e->fields);
    } else if (std::holds_alternative<protocol::NegotiateProtocolVersion>(*msg)) {
      // We ask for 3.0 without options; nothing to adapt.
    } else {
      co_return upstreamError(target, sqlstate::kProtocolViolation,
                              std::string("unexpected message '") + frame->type + "' during login");
    }
    buffer_.consume(frame->size);
    if (!out.empty()) {
      if (auto ec = co_await stream_.writeAll(asio::buffer(out))) {
        co_return upstreamError(target, sqlstate::kConnectionFailure,
                                "connection lost during login: " + ec.message());
      }
    }
    if (done) break;
  }
  if (!have_key) {
    log::warn("{}: server sent no BackendKeyData; cancel will not reach it", named(target));
  }
  co_return greeting;
}

}  // namespace pgw::proxy
