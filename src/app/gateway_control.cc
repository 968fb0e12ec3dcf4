#include "app/gateway_control.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "audit/store.h"
#include "common/log.h"
#include "proxy/asio.h"
#include "proxy/identity_service.h"

namespace pgw::app {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 4> kSslModes = {"disable", "require", "verify-ca",
                                                       "verify-full"};

std::string associatedData(const std::string& connection, const std::string& credential) {
  return "connection:" + connection + "/credential:" + credential;
}

api::ConnectionInfo infoOf(const config::Connection& c, std::string source) {
  api::ConnectionInfo info;
  info.name = c.name;
  info.host = c.host;
  info.port = c.port;
  info.database = c.database;
  info.tls_mode = std::string(kSslModes[static_cast<size_t>(c.tls.mode)]);
  info.tls_ca = c.tls.ca_file;
  for (const auto& [name, cred] : c.credentials) {
    info.credentials.push_back(name);
    info.users.push_back(cred.user);
  }
  info.source = std::move(source);
  return info;
}

/// The registered connection as the proxy sees it, credentials opened.
Result<config::Connection> openConnection(const review::StoredConnection& row,
                                          const review::SecretBox& box) {
  try {
    const json spec = json::parse(row.spec);
    config::Connection c;
    c.name = row.name;
    c.host = spec.at("host").get<std::string>();
    c.port = spec.at("port").get<uint16_t>();
    c.database = spec.at("database").get<std::string>();
    const std::string mode = spec.at("tls_mode").get<std::string>();
    auto it = std::find(kSslModes.begin(), kSslModes.end(), mode);
    if (it == kSslModes.end()) return fail("400", "unknown TLS mode " + mode);
    c.tls.mode = static_cast<config::SslMode>(it - kSslModes.begin());
    c.tls.ca_file = spec.value("tls_ca", "");
    const json sealed = json::parse(row.sealed);
    for (const auto& [name, value] : sealed.items()) {
      auto password =
          box.open(value.at("password").get<std::string>(), associatedData(row.name, name));
      if (!password) {
        return fail("500", "the credentials of connection " + row.name +
                               " do not open with state.master_key: " + password.error().message);
      }
      c.credentials.emplace(name, config::Credential{value.at("user").get<std::string>(),
                                                     config::Secret(std::move(*password))});
    }
    if (c.credentials.empty()) return fail("500", "connection " + row.name + " has no credential");
    c.default_credential = spec.value("default_credential", c.credentials.begin()->first);
    return c;
  } catch (const std::exception& e) {
    return fail("500", "connection " + row.name + " does not decode: " + e.what());
  }
}

}  // namespace

GatewayControl::GatewayControl(proxy::Server& server, audit::AuditLog* audit,
                               review::ReviewService& reviews, std::string config_path)
    : server_(server), audit_(audit), reviews_(reviews), config_path_(std::move(config_path)) {}

Result<review::SecretBox> GatewayControl::box(const config::Config& config) const {
  if (config.state.master_key.empty()) {
    return fail("503",
                "connections cannot be registered over the API: state.master_key is not set");
  }
  return review::SecretBox::fromKey(config.state.master_key.reveal());
}

Result<std::shared_ptr<const proxy::GatewayState>> GatewayControl::buildState(
    std::shared_ptr<const config::Config> config) {
  auto rows = reviews_.connections();
  if (!rows) return rows.takeError();
  if (rows->empty()) return proxy::buildGatewayState(std::move(config));
  auto sealer = box(*config);
  if (!sealer) {
    log::error("{} connections registered over the API are not served: {}", rows->size(),
               sealer.error().message);
    return proxy::buildGatewayState(std::move(config));
  }
  auto merged = std::make_shared<config::Config>(*config);
  for (const review::StoredConnection& row : *rows) {
    if (merged->connections.count(row.name) != 0) {
      log::warn(
          "connection \"{}\" registered over the API is also in the config file; the "
          "file's wins",
          row.name);
      continue;
    }
    auto conn = openConnection(row, *sealer);
    if (!conn) {
      log::error("connection \"{}\" registered over the API is not served: {}", row.name,
                 conn.error().message);
      continue;
    }
    // Policies for every connection ("*") cover it too, with the credential
    // they use everywhere when it has one by that name.
    for (config::PolicyConfig& p : merged->policies) {
      if (p.connections.empty() || p.connections.front() != "*") continue;
      std::string cred = conn->default_credential;
      if (!p.credentials.empty()) {
        const std::string& first = p.credentials.begin()->second;
        const bool uniform = std::all_of(p.credentials.begin(), p.credentials.end(),
                                         [&](const auto& kv) { return kv.second == first; });
        if (uniform && conn->credentials.count(first) != 0) cred = first;
      }
      if (p.jit.max_level && !p.jit.credential.empty() &&
          conn->credentials.count(p.jit.credential) == 0) {
        continue;  // the grant's credential would not exist there
      }
      p.credentials[row.name] = cred;
    }
    merged->connections.emplace(row.name, std::move(*conn));
  }
  return proxy::buildGatewayState(std::move(merged));
}

Status GatewayControl::start() {
  auto rows = reviews_.connections();
  if (!rows) return rows.takeError();
  if (rows->empty()) return Status{};  // the state built from the file is complete
  return reinstall("connections registered over the API");
}

Status GatewayControl::reinstall(std::string_view why) {
  auto base = server_.state()->config;
  // The state in force may already hold registered connections: start from
  // the file's connections only.
  auto rows = reviews_.connections();
  if (!rows) return rows.takeError();
  auto file_only = std::make_shared<config::Config>(*base);
  for (auto it = file_only->connections.begin(); it != file_only->connections.end();) {
    const bool registered =
        std::any_of(rows->begin(), rows->end(),
                    [&](const review::StoredConnection& r) { return r.name == it->first; });
    it = registered || registered_.count(it->first) ? file_only->connections.erase(it) : ++it;
  }
  for (config::PolicyConfig& p : file_only->policies) {
    for (auto it = p.credentials.begin(); it != p.credentials.end();) {
      it = file_only->connections.count(it->first) == 0 ? p.credentials.erase(it) : ++it;
    }
  }
  auto state = buildState(file_only);
  if (!state) return state.takeError();
  registered_.clear();
  for (const auto& r : *rows) registered_.insert(r.name);
  server_.install(std::move(*state), why);
  return {};
}

Result<auth::Subject> GatewayControl::authenticate(const std::string& token) {
  asio::io_context io;
  Result<auth::Subject> out = fail("401", "not verified");
  asio::co_spawn(
      io, [&]() -> proxy::awaitable<void> { out = co_await server_.identity().verifyToken(token); },
      asio::detached);
  io.run();
  return out;
}

std::shared_ptr<const config::Config> GatewayControl::config() {
  return server_.state()->config;
}

std::vector<api::SessionInfo> GatewayControl::sessions() {
  std::vector<api::SessionInfo> out;
  for (proxy::SessionSummary& s : server_.sessions()) {
    api::SessionInfo info;
    info.id = s.id;
    info.subject = review::Person::from(s.subject);
    info.connection = std::move(s.connection);
    info.policy = std::move(s.policy);
    info.client_address = std::move(s.client_address);
    info.state = std::move(s.state);
    info.review_id = std::move(s.review_id);
    info.started_us = s.started_us;
    info.statements = s.statements;
    out.push_back(std::move(info));
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

bool GatewayControl::terminateSession(uint64_t id, const std::string& why) {
  return server_.terminateSession(id, why);
}

std::string GatewayControl::metrics() {
  audit::AuditLog::Stats stats;
  if (audit_ != nullptr) stats = audit_->stats();
  return server_.metrics().render(server_.activeClients(), stats.queue_depth, stats.queue_capacity);
}

bool GatewayControl::ready(std::string& why) {
  if (audit_ != nullptr) {
    const auto stats = audit_->stats();
    if (stats.failing_sinks > 0) {
      why = "an audit sink is failing: " + stats.last_error;
      return false;
    }
    if (stats.queue_capacity > 0 && stats.queue_depth >= stats.queue_capacity) {
      why = "the audit queue is full";
      return false;
    }
  }
  return true;
}

Status GatewayControl::reload() {
  return server_.reloadNow("API");
}

Result<std::vector<audit::StoredRecord>> GatewayControl::queryAudit(const audit::Query& query) {
  const auto cfg = config();
  for (const config::AuditSinkConfig& sink : cfg->audit.sinks) {
    Result<std::unique_ptr<audit::Store>> store = fail("", "");
    if (sink.type == config::AuditSinkConfig::Type::Sqlite) {
      store = audit::Store::openSqlite(sink.path);
    } else if (sink.type == config::AuditSinkConfig::Type::Jsonl) {
      store = audit::Store::openJsonl(sink.path);
    } else {
      continue;
    }
    if (!store) return store.takeError();
    return (*store)->query(query);
  }
  return fail("404", "no audit sink this gateway can query (sqlite or jsonl)");
}

void GatewayControl::auditApi(const auth::Subject& subject, const std::string& action,
                              const std::string& target, int status, const std::string& detail) {
  if (audit_ == nullptr) return;
  audit::AuditEvent ev;
  ev.type = audit::EventType::ApiAction;
  ev.time = audit::nowUs();
  ev.subject_id = subject.id;
  ev.subject_groups = subject.groups;
  ev.subject_issuer = subject.issuer;
  ev.auth_method = subject.id.empty() ? "" : auth::toString(subject.method);
  ev.reason = action;
  ev.review_id = target.rfind("rv_", 0) == 0 ? target : std::string();
  ev.detail = "target=" + target + " status=" + std::to_string(status) +
              (detail.empty() ? "" : " " + detail);
  audit_->submitUnreserved(std::move(ev));
}

std::vector<api::ConnectionInfo> GatewayControl::connections() {
  std::vector<api::ConnectionInfo> out;
  const auto cfg = config();
  std::lock_guard lock(connections_mu_);
  for (const auto& [name, conn] : cfg->connections) {
    out.push_back(infoOf(conn, registered_.count(name) != 0 ? "api" : "config"));
  }
  return out;
}

Result<api::ConnectionInfo> GatewayControl::putConnection(const api::ConnectionSpec& spec,
                                                          bool create) {
  std::lock_guard lock(connections_mu_);
  const auto cfg = config();
  auto sealer = box(*cfg);
  if (!sealer) return sealer.takeError();
  const bool exists_api = registered_.count(spec.name) != 0;
  if (cfg->connections.count(spec.name) != 0 && !exists_api) {
    return fail("409",
                "connection " + spec.name + " is defined in the config file; change it there");
  }
  if (create && exists_api) return fail("409", "connection " + spec.name + " already exists");
  if (!create && !exists_api) return fail("404", "no connection " + spec.name + " registered");
  if (std::find(kSslModes.begin(), kSslModes.end(), spec.tls_mode) == kSslModes.end()) {
    return fail("400", "tls.mode must be disable, require, verify-ca or verify-full");
  }
  if ((spec.tls_mode == "verify-ca" || spec.tls_mode == "verify-full") && spec.tls_ca.empty()) {
    return fail("400", "tls.ca is required for " + spec.tls_mode);
  }
  if (spec.credentials.empty()) return fail("400", "at least one credential is required");
  json sealed = json::object();
  for (const auto& c : spec.credentials) {
    sealed[c.name] =
        json{{"user", c.user},
             {"password", sealer->seal(c.password.reveal(), associatedData(spec.name, c.name))}};
  }
  json body{{"host", spec.host},
            {"port", spec.port},
            {"database", spec.database.empty() ? spec.name : spec.database},
            {"tls_mode", spec.tls_mode},
            {"tls_ca", spec.tls_ca},
            {"default_credential", spec.credentials.front().name}};
  review::StoredConnection row{spec.name, body.dump(), sealed.dump(), review::nowUs()};
  // Check that it builds (TLS files readable) before it is kept.
  if (auto opened = openConnection(row, *sealer); !opened) return opened.takeError();
  auto previous = reviews_.connections();
  if (auto st = reviews_.putConnection(row); !st) return st.takeError();
  if (auto st = reinstall("connection " + spec.name + " registered over the API"); !st) {
    // Put back what was there, so the store and the state agree.
    if (previous) {
      bool had = false;
      for (const auto& r : *previous) {
        if (r.name == spec.name) {
          (void)reviews_.putConnection(r);
          had = true;
        }
      }
      if (!had) (void)reviews_.deleteConnection(spec.name);
    }
    return fail("400", "connection " + spec.name + " is not usable: " + st.error().message);
  }
  const auto now = config();
  auto it = now->connections.find(spec.name);
  if (it == now->connections.end()) return fail("500", "connection was not installed");
  return infoOf(it->second, "api");
}

Status GatewayControl::deleteConnection(const std::string& name) {
  std::lock_guard lock(connections_mu_);
  if (registered_.count(name) == 0) {
    if (config()->connections.count(name) != 0) {
      return fail("409", "connection " + name + " is defined in the config file; change it there");
    }
    return fail("404", "no connection " + name + " registered");
  }
  if (auto st = reviews_.deleteConnection(name); !st) return st;
  return reinstall("connection " + name + " deleted over the API");
}

}  // namespace pgw::app
