#pragma once
/// The HTTP control plane on `listen.http`: a small server on its own
/// threads next to the PostgreSQL listener. It serves
///
///   GET /healthz                                       200 "ok" (text/plain)
///   GET /dev-issuer/.well-known/openid-configuration   the dev issuer's discovery document
///   GET /dev-issuer/jwks.json                          the dev issuer's public key set
///
/// The /dev-issuer routes exist only when `identity.dev_issuer` is configured
/// (404 otherwise); the gateway's own OIDC verifier fetches them like any
/// other issuer's (OpenID Connect Discovery 1.0 §4, RFC 7517 §5). Later
/// issues add the REST API here.
///
/// Everything but /healthz answers JSON (`application/json`), errors too:
/// `{"error": "<what went wrong>"}` with the HTTP status — 404 for an unknown
/// path, 405 (with `Allow`) for a method the path does not take, 413 for a
/// request with a body (no route takes one yet). Each connection serves one
/// request and is closed (`Connection: close`): the control plane sees
/// little traffic, and a body it refuses to read can never be taken for the
/// next request.

#include <cstdint>
#include <memory>

#include "common/result.h"
#include "config/config.h"

namespace pgw::api {

class HttpServer {
 public:
  /// Nothing happens until start().
  explicit HttpServer(std::shared_ptr<const config::Config> config);
  /// Calls stop().
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Loads what the routes need (the dev issuer's public key, from
  /// `identity.dev_issuer.key`; the private key is not kept), binds
  /// `listen.http` and serves on background threads. When it returns OK the
  /// socket accepts connections. Errors name the setting: the key cannot be
  /// loaded, the address cannot be bound (in use, not permitted), or the
  /// server was started before. Call once. A `listen.http` port of 0
  /// (possible only in a Config built in code) binds any free port.
  Status start();

  /// Stops accepting, lets requests in flight finish, joins the threads.
  /// Idempotent; safe when start() failed or never ran.
  void stop();

  /// The port listened on; 0 before a successful start().
  uint16_t port() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgw::api
