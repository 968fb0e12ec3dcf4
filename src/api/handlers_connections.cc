// /api/connections: list and read (auditor or admin); register, replace and
// delete (admin). Passwords are write-only: they go from the request body
// into the ConnectionSpec handed to the gateway and nowhere else — not into
// a response, an error message, a log line or an audit record.

#include <array>
#include <nlohmann/json.hpp>

#include "api/call.h"
#include "api/services.h"

namespace pgw::api {
namespace {

using nlohmann::json;

constexpr size_t kMaxName = 63;
constexpr size_t kMaxText = 1024;
constexpr size_t kMaxCredentials = 16;
constexpr std::array<std::string_view, 4> kTlsModes = {"disable", "require", "verify-ca",
                                                       "verify-full"};

json toJson(const ConnectionInfo& c) {
  json credentials = json::object();
  for (size_t i = 0; i < c.credentials.size(); ++i) {
    credentials[c.credentials[i]] = {{"user", i < c.users.size() ? c.users[i] : ""}};
  }
  return json{{"name", c.name},
              {"host", c.host},
              {"port", c.port},
              {"database", c.database},
              {"tls", {{"mode", c.tls_mode}, {"ca", c.tls_ca}}},
              {"credentials", std::move(credentials)},
              {"source", c.source}};
}

/// Connection and credential names: what a client puts in `dbname`.
void checkName(const std::string& name, const std::string& field) {
  const bool ok = !name.empty() && name.size() <= kMaxName &&
                  name.find_first_not_of(
                      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_.-") == std::string::npos;
  if (!ok) {
    throw ApiError(400, "'" + field + "' must be 1 to " + std::to_string(kMaxName) +
                            " letters, digits, '_', '.' or '-'");
  }
}

std::string boundedString(const JsonFields& f, std::string_view key, bool required) {
  std::string v = required ? f.string(key) : f.optionalString(key).value_or("");
  if (v.size() > kMaxText) {
    throw ApiError(400, "'" + f.pathOf(key) + "' is longer than " + std::to_string(kMaxText));
  }
  return v;
}

/// Reads the body of POST (name in the body) or PUT (name in the path).
ConnectionSpec readSpec(Call& call, const std::string& path_name) {
  const JsonFields body = call.body({"name", "host", "port", "database", "tls", "credentials"});
  ConnectionSpec spec;
  if (path_name.empty()) {
    spec.name = body.string("name");
  } else {
    spec.name = body.optionalString("name").value_or(path_name);
    if (spec.name != path_name) {
      throw ApiError(400, "'name' must be the name in the path ('" + path_name +
                              "'); a connection cannot be renamed");
    }
  }
  checkName(spec.name, "name");
  spec.host = boundedString(body, "host", true);
  spec.port = static_cast<uint16_t>(body.optionalInteger("port", 1, 65535).value_or(5432));
  spec.database = boundedString(body, "database", false);
  if (spec.database.empty()) spec.database = spec.name;

  if (body.has("tls")) {
    const JsonFields tls(body.required("tls"), "tls", {"mode", "ca"});
    spec.tls_mode = tls.optionalString("mode").value_or("disable");
    bool known = false;
    for (std::string_view m : kTlsModes) known = known || m == spec.tls_mode;
    if (!known)
      throw ApiError(400, "'tls.mode' must be disable, require, verify-ca or verify-full");
    spec.tls_ca = boundedString(tls, "ca", false);
    if (spec.tls_mode.rfind("verify-", 0) == 0 && spec.tls_ca.empty()) {
      throw ApiError(400, "'tls.ca' is required with tls.mode " + spec.tls_mode +
                              " (a PEM file of the CA that signed the server's certificate)");
    }
  }

  const json& creds = body.required("credentials");
  requireObject(creds, "credentials");
  if (creds.empty()) {
    throw ApiError(400,
                   "'credentials' needs at least one entry: {\"<name>\": {\"user\": ..., "
                   "\"password\": ...}}");
  }
  if (creds.size() > kMaxCredentials) {
    throw ApiError(400,
                   "'credentials' has more than " + std::to_string(kMaxCredentials) + " entries");
  }
  for (const auto& [cred_name, value] : creds.items()) {
    checkName(cred_name, "credentials.<name>");
    const JsonFields cred(value, "credentials." + cred_name, {"user", "password"});
    ConnectionSpec::Credential c;
    c.name = cred_name;
    c.user = boundedString(cred, "user", true);
    if (auto password = cred.optionalString("password")) {
      if (password->size() > kMaxText) {
        throw ApiError(
            400, "'" + cred.pathOf("password") + "' is longer than " + std::to_string(kMaxText));
      }
      c.password = config::Secret(std::move(*password));
    }
    spec.credentials.push_back(std::move(c));
  }
  return spec;
}

/// `text` with every password of `spec` blotted out: the gateway's errors
/// should never hold one, and this makes sure.
std::string scrub(std::string text, const ConnectionSpec& spec) {
  for (const ConnectionSpec::Credential& c : spec.credentials) {
    const std::string& secret = c.password.reveal();
    if (secret.empty()) continue;
    for (size_t at; (at = text.find(secret)) != std::string::npos;)
      text.replace(at, secret.size(), "***");
  }
  return text;
}

/// What the audit record says about a spec: everything but the passwords.
std::string describe(const ConnectionSpec& spec) {
  std::string text = "host=" + spec.host + " port=" + std::to_string(spec.port) +
                     " database=" + spec.database + " tls=" + spec.tls_mode + " credentials=";
  for (size_t i = 0; i < spec.credentials.size(); ++i) {
    const ConnectionSpec::Credential& c = spec.credentials[i];
    text += (i ? "," : "") + c.name + "(user " + c.user +
            (c.password.empty() ? ", no password)" : ", password set)");
  }
  return text;
}

ConnectionInfo find(Services& services, const std::string& name) {
  for (ConnectionInfo& c : services.gateway().connections()) {
    if (c.name == name) return std::move(c);
  }
  throw ApiError(404, "no connection named '" + name + "'");
}

Reply putConnection(Services& services, Call& call, bool create) {
  const ConnectionSpec spec = readSpec(call, create ? "" : call.param("name"));
  call.audit_target = spec.name;
  call.audit_detail = describe(spec);
  auto info = services.gateway().putConnection(spec, create);
  if (!info) {
    throw ApiError(httpStatusOf(info.error(), 400), scrub(info.error().message, spec));
  }
  Reply r = Reply::ofJson(toJson(*info), create ? 201 : 200);
  if (create) r.headers.emplace_back("Location", "/api/connections/" + info->name);
  return r;
}

}  // namespace

void addConnectionRoutes(Router& router, Services& services) {
  Services* s = &services;
  router.add(Route{.method = "GET",
                   .pattern = "/api/connections",
                   .action = "connection.list",
                   .roles = kAuditor | kAdmin,
                   .handler = [s](Call& call) {
                     call.query({});
                     json items = json::array();
                     for (const ConnectionInfo& c : s->gateway().connections()) {
                       items.push_back(toJson(c));
                     }
                     return Reply::ofJson({{"connections", std::move(items)}});
                   }});
  router.add(Route{.method = "GET",
                   .pattern = "/api/connections/{name}",
                   .action = "connection.get",
                   .roles = kAuditor | kAdmin,
                   .handler = [s](Call& call) {
                     call.query({});
                     return Reply::ofJson(toJson(find(*s, call.param("name"))));
                   }});
  router.add(Route{.method = "POST",
                   .pattern = "/api/connections",
                   .action = "connection.create",
                   .roles = kAdmin,
                   .body = true,
                   .audited = true,
                   .handler = [s](Call& call) { return putConnection(*s, call, true); }});
  router.add(Route{.method = "PUT",
                   .pattern = "/api/connections/{name}",
                   .action = "connection.replace",
                   .roles = kAdmin,
                   .body = true,
                   .audited = true,
                   .handler = [s](Call& call) { return putConnection(*s, call, false); }});
  router.add(Route{.method = "DELETE",
                   .pattern = "/api/connections/{name}",
                   .action = "connection.delete",
                   .roles = kAdmin,
                   .audited = true,
                   .handler = [s](Call& call) {
                     call.query({});
                     const std::string& name = call.param("name");
                     if (auto st = s->gateway().deleteConnection(name); !st) {
                       throwError(st.error(), 400);
                     }
                     return Reply::ofJson({{"deleted", name}});
                   }});
}

}  // namespace pgw::api
