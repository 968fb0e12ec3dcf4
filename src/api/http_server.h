#pragma once
/// The HTTP control plane on `listen.http`: a small server on its own
/// threads next to the PostgreSQL listener. It serves
///
///   GET /healthz                                       200 "ok" (text/plain)
///   GET /dev-issuer/.well-known/openid-configuration   the dev issuer's discovery document
///   GET /dev-issuer/jwks.json                          the dev issuer's public key set
///
/// and, with a ControlPlane, the REST API documented in docs/api.md and
/// served as OpenAPI 3.0 at /api/openapi.json: /readyz, /metrics, reviews,
/// access requests, connections, policies, audit, sessions. API callers
/// authenticate with the bearer tokens the data path accepts; their roles
/// (admin, approver, auditor) come from `api.roles`.
///
/// The /dev-issuer routes exist only when `identity.dev_issuer` is configured
/// (404 otherwise); the gateway's own OIDC verifier fetches them like any
/// other issuer's (OpenID Connect Discovery 1.0 §4, RFC 7517 §5).
///
/// Everything but /healthz and /metrics answers JSON (`application/json`),
/// errors too: `{"error": "<what went wrong>", "status": <code>}` — 400 for
/// bad input, 401 (with `WWW-Authenticate: Bearer`) without a valid token,
/// 403 without the role, 404 for an unknown path or id, 405 (with `Allow`)
/// for a method the path does not take, 411 for a body without
/// Content-Length, 413 for a body over `api.max_body` or on an endpoint that
/// takes none. Each connection serves one request and is closed
/// (`Connection: close`): the control plane sees little traffic, and a body
/// it refuses to read can never be taken for the next request.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "config/config.h"

namespace pgw::review {
class ReviewService;
}

namespace pgw::api {

class ControlPlane;

class HttpServer {
 public:
  /// Nothing happens until start(). `config` gives `listen.http` and the dev
  /// issuer (both read once, at start); while serving, the API reads the
  /// config in force from `control` on every request. `control` may be null:
  /// then only /healthz and the dev issuer are served. `reviews` may be
  /// null: the review and access-request endpoints then answer 503. Both
  /// must outlive the server.
  HttpServer(std::shared_ptr<const config::Config> config, ControlPlane* control = nullptr,
             review::ReviewService* reviews = nullptr);
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

  /// Stops accepting, ends long polls, lets requests in flight finish,
  /// joins the threads. Idempotent; safe when start() failed or never ran.
  void stop();

  /// The port listened on; 0 before a successful start().
  uint16_t port() const;

  /// Every endpoint served, as "METHOD /path/{param}" (HEAD not listed);
  /// empty before start().
  std::vector<std::string> endpoints() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgw::api
