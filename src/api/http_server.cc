#include "api/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/call.h"
#include "api/control_plane.h"
#include "api/router.h"
#include "api/services.h"
#include "auth/jwt_sign.h"
#include "common/log.h"
#include "review/service.h"

namespace pgw::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// Threads serving requests; the control plane is not on the data path.
/// Long polls (GET /api/reviews/{id}/wait) may hold half of them.
constexpr size_t kThreads = 8;
constexpr time_t kIoTimeoutSeconds = 5;
/// The largest body cpp-httplib will read at all; `api.max_body` (at most
/// this much, checked against Content-Length before reading) is the real limit.
constexpr size_t kMaxBodyCap = 64u << 20;
/// How much of an unknown path an error message repeats.
constexpr size_t kMaxEchoedPath = 200;

constexpr std::string_view kDevIssuerPrefix = "/dev-issuer";
constexpr const char* kJsonType = "application/json";
constexpr const char* kChallenge = "Bearer realm=\"pgwarden\"";

std::string dumpJson(const json& j) {
  // Replace invalid UTF-8 (e.g. from an echoed path) instead of throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void sendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dumpJson(body) + "\n", kJsonType);
}

void sendError(httplib::Response& res, int status, const std::string& message) {
  sendJson(res, status, json{{"error", message}, {"status", status}});
}

/// For errors cpp-httplib raises before routing.
std::string statusText(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 413:
      return "the request body is too large (api.max_body)";
    case 414:
      return "request URI too long";
    case 417:
      return "expectation failed";
    default:
      return "HTTP error " + std::to_string(status);
  }
}

std::string echoPath(const std::string& path) {
  if (path.size() <= kMaxEchoedPath) return path;
  return path.substr(0, kMaxEchoedPath) + "...";
}

/// True when the request announces a body: a non-zero Content-Length or any
/// Transfer-Encoding (RFC 9112 §6.3).
bool hasBody(const httplib::Request& req) {
  if (req.has_header("Transfer-Encoding")) return true;
  if (!req.has_header("Content-Length")) return false;
  const std::string length = req.get_header_value("Content-Length");
  return length.find_first_not_of('0') != std::string::npos;
}

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool startsWithNoCase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) !=
        std::tolower(static_cast<unsigned char>(prefix[i]))) {
      return false;
    }
  }
  return true;
}

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  const size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

Reply errorReply(const ApiError& e) {
  json body = {{"error", e.what()}, {"status", e.status()}};
  if (e.extra().is_object()) {
    for (const auto& [k, v] : e.extra().items()) body[k] = v;
  }
  Reply r = Reply::ofJson(std::move(body), e.status());
  r.headers = e.headers();
  return r;
}

}  // namespace

struct HttpServer::Impl {
  Impl(std::shared_ptr<const config::Config> cfg, ControlPlane* control,
       review::ReviewService* reviews) {
    services.initial_config = std::move(cfg);
    services.control = control;
    services.reviews = reviews;
  }

  const config::Config& initialConfig() const { return *services.initial_config; }
  Status loadRoutes();
  bool answerEarly(const httplib::Request& req, httplib::Response& res, const Router::Match& m);
  void serve(const httplib::Request& req, httplib::Response& res, const Router::Match& m);
  void authenticate(Call& call);
  void record(const Call& call, const Reply& reply);
  void configureServer();

  Services services;
  Router router;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  uint16_t port = 0;

  std::mutex mu;
  std::condition_variable finished_cv;
  bool finished = false;  ///< the serving thread has returned
  bool started = false;
};

Status HttpServer::Impl::loadRoutes() {
  router.add(Route{.method = "GET",
                   .pattern = "/healthz",
                   .action = "healthz",
                   .access = Access::Public,
                   .handler = [](Call&) { return Reply::ofText("ok\n", "text/plain"); }});

  if (const config::Config& cfg = initialConfig(); cfg.identity.dev_issuer) {
    const config::DevIssuer& dev = *cfg.identity.dev_issuer;
    auto key = auth::Ed25519SigningKey::loadPemFile(dev.key_file);
    if (!key) {
      return fail("", "identity.dev_issuer.key: " + key.error().message);
    }
    const std::string issuer = config::devIssuerUrl(cfg);
    const std::string jwks = auth::publicJwks(*key, auth::keyIdFor(*key)) + "\n";
    const std::string discovery =
        dumpJson(json{
            {"issuer", issuer},
            {"jwks_uri", issuer + "/jwks.json"},
            {"response_types_supported", {"token"}},
            {"subject_types_supported", {"public"}},
            {"id_token_signing_alg_values_supported", {"EdDSA"}},
            {"token_endpoint_auth_methods_supported", {"none"}},
            {"claims_supported",
             {"iss", "aud", "sub", "groups", "preferred_username", "iat", "nbf", "exp", "jti"}},
        }) +
        "\n";
    const std::string prefix(kDevIssuerPrefix);
    router.add(
        Route{.method = "GET",
              .pattern = prefix + "/.well-known/openid-configuration",
              .action = "dev_issuer.discovery",
              .access = Access::Public,
              .handler = [discovery](Call&) { return Reply::ofText(discovery, kJsonType); }});
    router.add(Route{.method = "GET",
                     .pattern = prefix + "/jwks.json",
                     .action = "dev_issuer.jwks",
                     .access = Access::Public,
                     .handler = [jwks](Call&) {
                       Reply r = Reply::ofText(jwks, kJsonType);
                       r.headers.emplace_back("Cache-Control", "no-cache");
                       return r;
                     }});
  }

  if (services.control) {
    addSystemRoutes(router, services);
    addReviewRoutes(router, services);
    addAccessRoutes(router, services);
    addConnectionRoutes(router, services);
    addPolicyRoutes(router, services);
    addAuditRoutes(router, services);
  }
  return {};
}

bool HttpServer::Impl::answerEarly(const httplib::Request& req, httplib::Response& res,
                                   const Router::Match& m) {
  if (!hasBody(req) || (!m.route && m.allow.empty())) {
    serve(req, res, m);
    return true;
  }
  auto refuse = [&](int status, const std::string& message) {
    sendError(res, status, message);
    services.metrics.count(m.route ? m.route->pattern : "unmatched", status);
  };
  if (!m.route || !m.route->body) {
    refuse(413, "requests to " + echoPath(req.path) + " with " + req.method + " carry no body");
    return true;
  }
  if (!req.has_header("Content-Length")) {
    refuse(411,
           "send the request body with a Content-Length header (chunked bodies are not "
           "accepted)");
    return true;
  }
  const auto length = parseUnsigned(req.get_header_value("Content-Length"));
  if (!length) {
    refuse(400, "the Content-Length header is not a number");
    return true;
  }
  const size_t max_body = std::min(services.config()->api.max_body, kMaxBodyCap);
  if (*length > max_body) {
    refuse(413, "the request body is " + std::to_string(*length) +
                    " bytes; the limit is api.max_body = " + std::to_string(max_body) + " bytes");
    return true;
  }
  return false;  // read it, then serve()
}

void HttpServer::Impl::authenticate(Call& call) {
  const std::string header = call.request().get_header_value("Authorization");
  if (header.empty()) {
    throw ApiError(401,
                   "this endpoint needs a bearer token: send 'Authorization: Bearer <token>' "
                   "with an OIDC JWT or a pgw_ service token",
                   nullptr, {{"WWW-Authenticate", kChallenge}});
  }
  const std::string token = startsWithNoCase(header, "Bearer ") ? trim(header.substr(7)) : "";
  if (token.empty()) {
    throw ApiError(401, "the Authorization header must be 'Bearer <token>'", nullptr,
                   {{"WWW-Authenticate", std::string(kChallenge) + ", error=\"invalid_request\""}});
  }
  auto subject = services.gateway().authenticate(token);
  if (!subject) {
    throw ApiError(401, "the bearer token was not accepted: " + subject.error().message, nullptr,
                   {{"WWW-Authenticate", std::string(kChallenge) + ", error=\"invalid_token\""}});
  }
  const RoleMask roles = rolesFor(*subject, call.config().api);
  call.authenticate(std::move(subject).value(), roles);
}

void HttpServer::Impl::record(const Call& call, const Reply& reply) {
  const bool refused = reply.status == 401 || reply.status == 403;
  if (!services.control || (!refused && !(call.route().audited && call.authenticated()))) return;
  std::string target = call.audit_target;
  if (target.empty()) {
    for (std::string_view name : {"id", "name"}) {
      if (!call.param(name).empty()) target = call.param(name);
    }
  }
  std::string detail = call.audit_detail;
  if (reply.status >= 400) {
    const json& error = reply.json.is_object() ? reply.json.value("error", json()) : json();
    detail = error.is_string() ? error.get<std::string>() : "HTTP " + std::to_string(reply.status);
    if (!call.authenticated()) detail += " (from " + call.request().remote_addr + ")";
  }
  try {
    services.gateway().auditApi(call.authenticated() ? call.subject() : auth::Subject{},
                                call.route().action, target, reply.status, detail);
  } catch (const std::exception& e) {
    log::error("HTTP API: cannot audit {} {}: {}", call.route().action, target, e.what());
  }
}

void HttpServer::Impl::serve(const httplib::Request& req, httplib::Response& res,
                             const Router::Match& m) {
  if (!m.route) {
    int status = 404;
    if (!m.allow.empty()) {
      status = 405;
      res.set_header("Allow", m.allow);
      sendError(
          res, status,
          req.method + " is not allowed on " + echoPath(req.path) + " (allowed: " + m.allow + ")");
    } else if (startsWith(req.path, kDevIssuerPrefix) && !initialConfig().identity.dev_issuer) {
      sendError(res, status, "the dev issuer is not enabled on this gateway (identity.dev_issuer)");
    } else {
      sendError(res, status, "no such endpoint: " + echoPath(req.path));
    }
    services.metrics.count("unmatched", status);
    return;
  }

  const Route& route = *m.route;
  Call call(req, route, m.params, services.config());
  Reply reply;
  try {
    if (route.access == Access::Authenticated) {
      authenticate(call);
      if (route.roles != 0) call.requireAny(route.roles, route.method + " " + route.pattern);
    }
    reply = route.handler(call);
  } catch (const ApiError& e) {
    reply = errorReply(e);
  } catch (const std::exception& e) {
    log::error("HTTP API: {} {}: {}", req.method, route.pattern, e.what());
    reply = errorReply(ApiError(500, "internal error; the gateway's log has the details"));
  }
  record(call, reply);
  services.metrics.count(route.pattern, reply.status);

  res.status = reply.status;
  for (const auto& [name, value] : reply.headers) res.set_header(name, value);
  if (!reply.content_type.empty()) {
    res.set_content(reply.text, reply.content_type.c_str());
  } else {
    res.set_content(dumpJson(reply.json) + "\n", kJsonType);
  }
}

void HttpServer::Impl::configureServer() {
  using httplib::Server;
  server = std::make_unique<Server>();
  server->new_task_queue = [] { return new httplib::ThreadPool(kThreads); };
  // SO_REUSEADDR only: cpp-httplib's default also sets SO_REUSEPORT, which
  // would let a second process share (and silently split) this port.
  server->set_socket_options([](int sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server->set_keep_alive_max_count(1);
  server->set_read_timeout(kIoTimeoutSeconds, 0);
  server->set_write_timeout(kIoTimeoutSeconds, 0);
  server->set_payload_max_length(kMaxBodyCap);
  server->set_expect_100_continue_handler(
      [this](const httplib::Request& req, httplib::Response& res) {
        const Router::Match m = router.find(req.method, req.path);
        return answerEarly(req, res, m) ? res.status : 100;
      });
  // Requests without a body are answered here; those with one the route
  // accepts go on to cpp-httplib, which reads the body and calls the
  // catch-all handlers below.
  server->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const Router::Match m = router.find(req.method, req.path);
    return answerEarly(req, res, m) ? Server::HandlerResponse::Handled
                                    : Server::HandlerResponse::Unhandled;
  });
  auto with_body = [this](const httplib::Request& req, httplib::Response& res) {
    serve(req, res, router.find(req.method, req.path));
  };
  server->Post(".*", with_body);
  server->Put(".*", with_body);
  server->Patch(".*", with_body);
  server->Delete(".*", with_body);
  // What cpp-httplib answers itself (a malformed request, a URI too long):
  // JSON like every other error.
  server->set_error_handler(
      Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return Server::HandlerResponse::Unhandled;
        sendError(res, res.status, statusText(res.status));
        return Server::HandlerResponse::Handled;
      }));
  server->set_exception_handler([](const httplib::Request&, httplib::Response& res,
                                   std::exception_ptr) { sendError(res, 500, "internal error"); });
}

HttpServer::HttpServer(std::shared_ptr<const config::Config> config, ControlPlane* control,
                       review::ReviewService* reviews)
    : impl_(std::make_unique<Impl>(std::move(config), control, reviews)) {}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::start() {
  Impl& s = *impl_;
  if (s.started) return fail("", "listen.http: the HTTP server was already started");
  s.started = true;
  if (auto st = s.loadRoutes(); !st) return st;
  s.configureServer();

  const config::HostPort& hp = s.initialConfig().listen_http;
  const std::string where =
      (hp.host.find(':') != std::string::npos ? "[" + hp.host + "]" : hp.host) + ":" +
      std::to_string(hp.port);
  errno = 0;
  int port = hp.port;
  const bool bound = hp.port == 0 ? (port = s.server->bind_to_any_port(hp.host)) > 0
                                  : s.server->bind_to_port(hp.host, hp.port);
  if (!bound) {
    const int err = errno;
    std::string why = err != 0 ? std::strerror(err) : "the address is in use or not available";
    return fail("", "listen.http: cannot listen on " + where + ": " + why);
  }
  s.port = static_cast<uint16_t>(port);
  const std::string bound_to =
      (hp.host.find(':') != std::string::npos ? "[" + hp.host + "]" : hp.host) + ":" +
      std::to_string(s.port);
  try {
    s.thread = std::thread([&s] {
      s.server->listen_after_bind();
      std::lock_guard lock(s.mu);
      s.finished = true;
      s.finished_cv.notify_all();
    });
  } catch (const std::exception& e) {
    s.server.reset();
    s.port = 0;
    return fail("", std::string("listen.http: cannot start the HTTP server thread: ") + e.what());
  }
  const config::Config& cfg = s.initialConfig();
  log::info(
      "HTTP control plane listening on {}{}{}", bound_to, s.services.control ? " (REST API)" : "",
      cfg.identity.dev_issuer ? " (dev issuer " + config::devIssuerUrl(cfg) + ")" : std::string());
  return {};
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
  s.services.stopping = true;  // long polls return within their next slice
  {
    // cpp-httplib's stop() does nothing until its accept loop runs: repeat
    // it until the serving thread has returned.
    std::unique_lock lock(s.mu);
    while (!s.finished) {
      s.server->stop();
      s.finished_cv.wait_for(lock, 10ms);
    }
  }
  s.thread.join();
}

uint16_t HttpServer::port() const {
  return impl_->port;
}

std::vector<std::string> HttpServer::endpoints() const {
  std::vector<std::string> out;
  for (const Route& route : impl_->router.routes())
    out.push_back(route.method + " " + route.pattern);
  return out;
}

}  // namespace pgw::api
