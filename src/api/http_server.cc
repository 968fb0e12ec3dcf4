#include "api/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "auth/jwt_sign.h"
#include "common/log.h"

namespace pgw::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

/// Threads serving requests; the control plane is not on the data path.
constexpr size_t kThreads = 4;
constexpr time_t kIoTimeoutSeconds = 5;
/// How much of an unknown path an error message repeats.
constexpr size_t kMaxEchoedPath = 200;

constexpr std::string_view kDevIssuerPrefix = "/dev-issuer";
constexpr std::string_view kJsonType = "application/json";

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

/// One endpoint: an exact path and the methods it takes. HEAD is answered
/// wherever GET is, without the body.
struct Route {
  std::string path;
  std::string method;
  Handler handler;
};

std::string dumpJson(const json& j) {
  // Replace invalid UTF-8 (e.g. from an echoed path) instead of throwing.
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

void sendJson(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dumpJson(body) + "\n", std::string(kJsonType).c_str());
}

void sendError(httplib::Response& res, int status, const std::string& message) {
  sendJson(res, status, json{{"error", message}});
}

/// For errors cpp-httplib raises before routing.
std::string statusText(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 413:
      return "requests to the pgwarden HTTP API carry no body";
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

}  // namespace

struct HttpServer::Impl {
  explicit Impl(std::shared_ptr<const config::Config> cfg) : config(std::move(cfg)) {}

  void addRoute(std::string path, std::string method, Handler handler) {
    routes.push_back({std::move(path), std::move(method), std::move(handler)});
  }
  Status loadRoutes();
  httplib::Server::HandlerResponse dispatch(const httplib::Request& req, httplib::Response& res);
  void configureServer();

  std::shared_ptr<const config::Config> config;
  std::vector<Route> routes;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  uint16_t port = 0;

  std::mutex mu;
  std::condition_variable finished_cv;
  bool finished = false;  ///< the serving thread has returned
  bool started = false;
};

Status HttpServer::Impl::loadRoutes() {
  addRoute("/healthz", "GET", [](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_content("ok\n", "text/plain");
  });

  if (!config->identity.dev_issuer) return {};
  const config::DevIssuer& dev = *config->identity.dev_issuer;
  auto key = auth::Ed25519SigningKey::loadPemFile(dev.key_file);
  if (!key) {
    return fail("", "identity.dev_issuer.key: " + key.error().message);
  }
  const std::string issuer = config::devIssuerUrl(*config);
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
  addRoute(prefix + "/.well-known/openid-configuration", "GET",
           [discovery](const httplib::Request&, httplib::Response& res) {
             res.status = 200;
             res.set_content(discovery, std::string(kJsonType).c_str());
           });
  addRoute(prefix + "/jwks.json", "GET", [jwks](const httplib::Request&, httplib::Response& res) {
    res.status = 200;
    res.set_header("Cache-Control", "no-cache");
    res.set_content(jwks, std::string(kJsonType).c_str());
  });
  return {};
}

httplib::Server::HandlerResponse HttpServer::Impl::dispatch(const httplib::Request& req,
                                                            httplib::Response& res) {
  using httplib::Server;
  if (hasBody(req)) {
    sendError(res, 413, "requests to the pgwarden HTTP API carry no body");
    return Server::HandlerResponse::Handled;
  }
  std::string allowed;
  for (const Route& route : routes) {
    if (route.path != req.path) continue;
    if (route.method == req.method || (route.method == "GET" && req.method == "HEAD")) {
      route.handler(req, res);
      return Server::HandlerResponse::Handled;
    }
    if (!allowed.empty()) allowed += ", ";
    allowed += route.method;
    if (route.method == "GET") allowed += ", HEAD";
  }
  if (!allowed.empty()) {
    res.set_header("Allow", allowed);
    sendError(res, 405,
              req.method + " is not allowed on " + req.path + " (allowed: " + allowed + ")");
  } else if (startsWith(req.path, kDevIssuerPrefix) && !config->identity.dev_issuer) {
    sendError(res, 404, "the dev issuer is not enabled on this gateway (identity.dev_issuer)");
  } else {
    sendError(res, 404, "no such endpoint: " + echoPath(req.path));
  }
  return Server::HandlerResponse::Handled;
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
  server->set_payload_max_length(0);
  server->set_expect_100_continue_handler([](const httplib::Request&, httplib::Response& res) {
    sendError(res, 413, "requests to the pgwarden HTTP API carry no body");
    return 413;
  });
  server->set_pre_routing_handler(
      [this](const httplib::Request& req, httplib::Response& res) { return dispatch(req, res); });
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

HttpServer::HttpServer(std::shared_ptr<const config::Config> config)
    : impl_(std::make_unique<Impl>(std::move(config))) {}

HttpServer::~HttpServer() {
  stop();
}

Status HttpServer::start() {
  Impl& s = *impl_;
  if (s.started) return fail("", "listen.http: the HTTP server was already started");
  s.started = true;
  if (auto st = s.loadRoutes(); !st) return st;
  s.configureServer();

  const config::HostPort& hp = s.config->listen_http;
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
  log::info("HTTP control plane listening on {}{}", where,
            s.config->identity.dev_issuer ? " (dev issuer " + config::devIssuerUrl(*s.config) + ")"
                                          : std::string());
  return {};
}

void HttpServer::stop() {
  Impl& s = *impl_;
  if (!s.thread.joinable()) return;
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

}  // namespace pgw::api
