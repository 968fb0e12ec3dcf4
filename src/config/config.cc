/// The schema: walks the YAML document section by section, validating each
/// key and filling a `Config`. See docs/config.md for the user-facing
/// reference; keep the two in step.

#include "config/config.h"

#include <fmt/format.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "config/audit.h"
#include "config/control.h"
#include "config/identity.h"
#include "config/mask.h"
#include "config/policies.h"
#include "config/yaml_reader.h"

namespace pgw::config {
namespace {

using namespace detail;

constexpr std::string_view kConfigError = "F0000";

void readListen(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "listen", {"postgres", "http"});
  if (m.has("postgres")) {
    cfg.listen_postgres = readHostPort(ctx, m.get("postgres"), m.pathOf("postgres"));
  }
  if (m.has("http")) cfg.listen_http = readHostPort(ctx, m.get("http"), m.pathOf("http"));
  if (cfg.listen_http.host == cfg.listen_postgres.host &&
      cfg.listen_http.port == cfg.listen_postgres.port) {
    failAt(m.pathOf("http"), "is the same address as listen.postgres; give each its own port");
  }
}

void readLimits(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "limits", {"max_message_size", "max_client_connections"});
  if (m.has("max_message_size")) {
    cfg.max_message_size = readSize(ctx, m.get("max_message_size"), m.pathOf("max_message_size"),
                                    size_t{1} << 10, size_t{1} << 30);
  }
  if (m.has("max_client_connections")) {
    cfg.max_client_connections = static_cast<int>(readInt(ctx, m.get("max_client_connections"),
                                                          m.pathOf("max_client_connections"), 1,
                                                          std::numeric_limits<int>::max()));
  }
}

void readTimeouts(const Context& ctx, const YAML::Node& node, Timeouts& t) {
  MapReader m(node, "timeouts", {"startup", "auth", "idle", "shutdown_grace"});
  auto read = [&](std::string_view key, std::chrono::milliseconds& out, bool allow_zero) {
    if (m.has(key)) out = readDuration(ctx, m.get(key), m.pathOf(key), allow_zero);
  };
  read("startup", t.startup, false);
  read("auth", t.auth, false);
  read("idle", t.idle, true);
  read("shutdown_grace", t.shutdown_grace, true);
}

void readServerTls(const Context& ctx, const YAML::Node& node, ServerTls& tls) {
  MapReader m(node, "tls", {"cert", "key", "require", "client_ca"});
  if (m.has("cert")) tls.cert_file = readFilePath(ctx, m.get("cert"), m.pathOf("cert"));
  if (m.has("key")) tls.key_file = readFilePath(ctx, m.get("key"), m.pathOf("key"));
  if (m.has("cert") && !m.has("key")) failAt(m.pathOf("key"), "is required when tls.cert is set");
  if (m.has("key") && !m.has("cert")) failAt(m.pathOf("cert"), "is required when tls.key is set");
  if (m.has("require")) tls.require = readBool(ctx, m.get("require"), m.pathOf("require"));
  if (tls.require && !tls.enabled()) {
    failAt(m.pathOf("require"),
           "is true but no certificate is configured; set tls.cert and tls.key");
  }
  if (m.has("client_ca")) {
    tls.client_ca_file = readFilePath(ctx, m.get("client_ca"), m.pathOf("client_ca"));
    if (!tls.enabled()) {
      failAt(m.pathOf("client_ca"),
             "needs tls.cert and tls.key: client certificates are only checked over TLS");
    }
  }
}

UpstreamTls readUpstreamTls(const Context& ctx, const YAML::Node& node, const std::string& path,
                            const std::string& host) {
  static constexpr std::array<std::string_view, 4> kModes = {"disable", "require", "verify-ca",
                                                             "verify-full"};
  MapReader m(node, path, {"mode", "ca", "cert", "key", "server_name"});
  UpstreamTls tls;
  if (m.has("mode")) {
    tls.mode = static_cast<SslMode>(readChoice(ctx, m.get("mode"), m.pathOf("mode"), kModes));
  }
  const std::string_view mode_name = kModes[static_cast<size_t>(tls.mode)];

  if (tls.mode == SslMode::Disable) {
    for (std::string_view key : {"ca", "cert", "key", "server_name"}) {
      if (m.has(key)) {
        failAt(m.pathOf(key),
               fmt::format("has no effect while {} is disable (the default); set the mode to "
                           "verify-full or remove this key",
                           m.pathOf("mode")));
      }
    }
  }

  if (m.has("ca")) {
    tls.ca_file = readFilePath(ctx, m.get("ca"), m.pathOf("ca"));
    if (tls.mode == SslMode::Require) {
      failAt(m.pathOf("ca"),
             "is not used when the mode is require (the server certificate is not checked); "
             "set the mode to verify-full to check it against this CA");
    }
  }
  if ((tls.mode == SslMode::VerifyCa || tls.mode == SslMode::VerifyFull) && tls.ca_file.empty()) {
    failAt(m.pathOf("ca"), fmt::format("is required when the mode is {}", mode_name));
  }

  if (m.has("cert")) tls.cert_file = readFilePath(ctx, m.get("cert"), m.pathOf("cert"));
  if (m.has("key")) tls.key_file = readFilePath(ctx, m.get("key"), m.pathOf("key"));
  if (m.has("cert") && !m.has("key")) failAt(m.pathOf("key"), "is required when cert is set");
  if (m.has("key") && !m.has("cert")) failAt(m.pathOf("cert"), "is required when key is set");

  tls.server_name =
      m.has("server_name") ? readString(ctx, m.get("server_name"), m.pathOf("server_name")) : host;
  return tls;
}

Credential readCredential(const Context& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(node, path, {"user", "password"});
  Credential cred;
  if (!m.has("user")) failAt(m.pathOf("user"), "is required");
  cred.user = readString(ctx, m.get("user"), m.pathOf("user"));
  if (m.has("password")) cred.password = readSecret(ctx, m.get("password"), m.pathOf("password"));
  return cred;
}

std::string joinKeys(const std::map<std::string, Credential>& creds) {
  std::string out;
  for (const auto& [name, cred] : creds) {
    if (!out.empty()) out += ", ";
    out += name;
  }
  return out;
}

Connection readConnection(const Context& ctx, const std::string& name, const YAML::Node& node,
                          const std::string& path) {
  MapReader m(
      node, path,
      {"host", "port", "database", "connect_timeout", "tls", "credentials", "default_credential"});
  Connection conn;
  conn.name = name;
  if (!m.has("host")) failAt(m.pathOf("host"), "is required");
  conn.host = readString(ctx, m.get("host"), m.pathOf("host"));
  if (m.has("port")) {
    conn.port = static_cast<uint16_t>(readInt(ctx, m.get("port"), m.pathOf("port"), 1, 65535));
  }
  conn.database =
      m.has("database") ? readString(ctx, m.get("database"), m.pathOf("database")) : name;
  if (m.has("connect_timeout")) {
    conn.connect_timeout =
        readDuration(ctx, m.get("connect_timeout"), m.pathOf("connect_timeout"), false);
  }
  conn.tls = readUpstreamTls(ctx, m.get("tls"), m.pathOf("tls"), conn.host);

  const std::string creds_path = m.pathOf("credentials");
  if (!m.has("credentials")) {
    failAt(creds_path,
           "is required; list the database user (and password) the gateway connects as");
  }
  MapReader creds(m.get("credentials"), creds_path);
  if (creds.entries().empty()) failAt(creds_path, "must define at least one credential");
  for (const auto& [cred_name, cred_node] : creds.entries()) {
    const std::string cred_path = creds.pathOf(cred_name);
    if (!isIdentifier(cred_name)) {
      failAt(cred_path,
             "credential names may hold only letters, digits, '_' and '-' (at most 63 characters)");
    }
    conn.credentials.emplace(cred_name, readCredential(ctx, cred_node, cred_path));
  }

  const std::string default_path = m.pathOf("default_credential");
  if (m.has("default_credential")) {
    Scalar s = readScalar(ctx, m.get("default_credential"), default_path);
    if (conn.credentials.count(s.value) == 0) {
      failAt(default_path, fmt::format("{} is not one of this connection's credentials ({})",
                                       s.shown(), joinKeys(conn.credentials)));
    }
    conn.default_credential = std::move(s.value);
  } else if (conn.credentials.size() == 1) {
    conn.default_credential = conn.credentials.begin()->first;
  } else {
    failAt(default_path, fmt::format("is required when a connection has several credentials ({})",
                                     joinKeys(conn.credentials)));
  }
  return conn;
}

void readConnections(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "connections");
  if (m.entries().empty()) {
    failAt("connections", "must define at least one connection (the name clients use as dbname)");
  }
  for (const auto& [name, conn_node] : m.entries()) {
    const std::string path = m.pathOf(name);
    if (!isIdentifier(name)) {
      failAt(path,
             "connection names may hold only letters, digits, '_' and '-' (at most 63 characters)");
    }
    cfg.connections.emplace(name, readConnection(ctx, name, conn_node, path));
  }
}

std::shared_ptr<const Config> build(const Context& ctx, const YAML::Node& root) {
  MapReader top(root, "",
                {"listen", "workers", "log_level", "limits", "timeouts", "tls", "identity",
                 "connections", "policies", "audit", "masking", "api", "notifications", "state"});
  auto cfg = std::make_shared<Config>();
  readListen(ctx, top.get("listen"), *cfg);
  if (top.has("workers")) {
    cfg->workers = static_cast<int>(readInt(ctx, top.get("workers"), "workers", 0, 256));
  }
  if (top.has("log_level")) {
    static constexpr std::array<std::string_view, 4> kLevels = {"debug", "info", "warn", "error"};
    cfg->log_level =
        std::string(kLevels[readChoice(ctx, top.get("log_level"), "log_level", kLevels)]);
  }
  readLimits(ctx, top.get("limits"), *cfg);
  readTimeouts(ctx, top.get("timeouts"), cfg->timeouts);
  readServerTls(ctx, top.get("tls"), cfg->tls);
  readIdentity(ctx, top.get("identity"), *cfg);
  if (!top.has("connections")) {
    failAt("connections", "is required; register at least one upstream database");
  }
  readConnections(ctx, top.get("connections"), *cfg);
  readAudit(ctx, top.get("audit"), *cfg);
  readMasking(ctx, top.get("masking"), *cfg);
  readPolicies(ctx, top.get("policies"), *cfg);
  readApi(ctx, top.get("api"), *cfg);
  readNotifications(ctx, top.get("notifications"), *cfg);
  readState(ctx, top.get("state"), *cfg);
  return cfg;
}

Error configError(const std::string& where, const std::string& problem) {
  return fail(kConfigError, fmt::format("config: {}: {}", where, problem));
}

}  // namespace

Result<std::shared_ptr<const Config>> parseConfig(const std::string& yaml,
                                                  const std::string& base_dir) {
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml);
    if (docs.size() > 1) {
      return configError("(top level)", fmt::format("the file holds {} YAML documents; put "
                                                    "everything in one",
                                                    docs.size()));
    }
    Context ctx(base_dir);
    return build(ctx, docs.empty() ? YAML::Node() : docs.front());
  } catch (const LoadError& e) {
    return configError(e.path.empty() ? "(top level)" : e.path, e.problem);
  } catch (const YAML::ParserException& e) {
    return configError(fmt::format("line {}, column {}", e.mark.line + 1, e.mark.column + 1),
                       fmt::format("invalid YAML: {}", e.msg));
  } catch (const YAML::Exception& e) {
    return configError("(top level)", fmt::format("invalid YAML: {}", e.msg));
  } catch (const std::exception& e) {
    return configError("(top level)", e.what());
  }
}

Result<std::string> readConfigText(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return configError(path, "is a directory, not a file");
  std::ifstream in(path, std::ios::binary);
  if (!in) return configError(path, fmt::format("cannot read: {}", std::strerror(errno)));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return configError(path, "cannot read: I/O error");
  return text.str();
}

Result<std::shared_ptr<const Config>> parseConfigFile(const std::string& yaml,
                                                      const std::string& path) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec) return configError(path, fmt::format("cannot resolve the path: {}", ec.message()));
  return parseConfig(yaml, abs.parent_path().string());
}

Result<std::shared_ptr<const Config>> loadConfig(const std::string& path) {
  auto text = readConfigText(path);
  if (!text) return text.takeError();
  return parseConfigFile(*text, path);
}

}  // namespace pgw::config
