#pragma once
// Shared by the REST API tests: a fake ControlPlane (tokens, sessions,
// connections, audit rows and the API's own audit records, all in memory),
// a config with two connections, three policies and the API roles, a real
// ReviewService on ":memory:", and an HttpServer on a free port with a
// small client.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "api/control_plane.h"
#include "api/http_server.h"
#include "config/config.h"
#include "review/service.h"
#include "support/temp_dir.h"

namespace pgw::api::testing {

using nlohmann::json;

/// The config the tests start with; a file so that policies can be edited.
inline constexpr const char* kConfigYaml = R"(# pgwarden test config
listen: { http: "127.0.0.1:18080" }

connections:
  prod:
    host: 127.0.0.1
    credentials: { ro: { user: ro } }
  staging:
    host: 127.0.0.1
    credentials: { app: { user: app } }

# Who may do what on each connection.
policies:
  # Agents read prod; writes need an access request approved by a DBA.
  - name: agents-prod
    subjects: { groups: [agents] }
    connections: [prod]
    access: read
    approval: { approvers: [dba], min_approvals: 1, timeout: 10m }
    jit: { max_level: ddl, max_duration: 4h }
  - name: agents-staging
    subjects: { groups: [agents] }
    connections: [staging]
    access: write

# The API's roles.
api:
  roles: { admin: [platform], approver: [dba, oncall], auditor: [security] }
  max_body: 4kB
)";

struct AuditedCall {
  std::string subject;
  std::string action;
  std::string target;
  int status = 0;
  std::string detail;
};

class FakeControlPlane : public ControlPlane {
 public:
  FakeControlPlane() {
    addToken("tok-admin", "alice", {"platform"});
    addToken("tok-dba", "bob", {"dba"});
    addToken("tok-dba2", "carol", {"dba"});
    addToken("tok-oncall", "dave", {"oncall"});
    addToken("tok-auditor", "erin", {"security"});
    addToken("tok-agent", "agent-1", {"agents"});
    addToken("tok-agent2", "agent-2", {"agents"});
    addToken("tok-agent-dba", "mallory", {"agents", "dba"});
  }

  void addToken(const std::string& token, const std::string& id, std::vector<std::string> groups) {
    auth::Subject s;
    s.id = id;
    s.display_name = id;
    s.groups = std::move(groups);
    s.issuer = "test";
    s.method = auth::AuthMethod::ServiceToken;
    tokens_[token] = s;
  }

  Result<auth::Subject> authenticate(const std::string& token) override {
    std::lock_guard lock(mu);
    auto it = tokens_.find(token);
    if (it == tokens_.end()) return fail("28000", "unknown service token");
    return it->second;
  }
  std::shared_ptr<const config::Config> config() override {
    std::lock_guard lock(mu);
    return config_;
  }
  void setConfig(std::shared_ptr<const config::Config> c) {
    std::lock_guard lock(mu);
    config_ = std::move(c);
  }

  std::vector<SessionInfo> sessions() override {
    std::lock_guard lock(mu);
    return sessions_;
  }
  bool terminateSession(uint64_t id, const std::string& why) override {
    std::lock_guard lock(mu);
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->id == id) {
        sessions_.erase(it);
        terminated.emplace_back(id, why);
        return true;
      }
    }
    return false;
  }

  std::string metrics() override { return "# TYPE pgwarden_sessions gauge\npgwarden_sessions 3\n"; }
  bool ready(std::string& why) override {
    if (!is_ready) why = "upstream prod unreachable";
    return is_ready;
  }

  std::string configPath() override { return config_path; }
  Status reload() override {
    ++reloads;
    if (fail_reload) return fail("F0000", "config: reload refused by the test");
    auto cfg = config::loadConfig(config_path);
    if (!cfg) return cfg.takeError();
    auto copy = std::make_shared<config::Config>(**cfg);
    copy->listen_http.port = 0;
    setConfig(copy);
    return {};
  }

  Result<std::vector<audit::StoredRecord>> queryAudit(const audit::Query& query) override {
    std::lock_guard lock(mu);
    last_query = query;
    std::vector<audit::StoredRecord> out;
    for (const audit::StoredRecord& r : audit_rows) {
      if (r.position <= query.after_position) continue;
      if (query.limit && out.size() >= query.limit) break;
      out.push_back(r);
    }
    return out;
  }
  void auditApi(const auth::Subject& subject, const std::string& action, const std::string& target,
                int status, const std::string& detail) override {
    std::lock_guard lock(mu);
    audited.push_back({subject.id, action, target, status, detail});
  }

  std::vector<ConnectionInfo> connections() override {
    std::lock_guard lock(mu);
    std::vector<ConnectionInfo> out;
    for (const auto& [name, c] : config_->connections) {
      ConnectionInfo info;
      info.name = name;
      info.host = c.host;
      info.port = c.port;
      info.database = c.database;
      info.tls_mode = "disable";
      for (const auto& [cred, v] : c.credentials) {
        info.credentials.push_back(cred);
        info.users.push_back(v.user);
      }
      info.source = "config";
      out.push_back(info);
    }
    for (const auto& [name, spec] : registered) out.push_back(infoOf(spec));
    return out;
  }
  Result<ConnectionInfo> putConnection(const ConnectionSpec& spec, bool create) override {
    std::lock_guard lock(mu);
    if (spec.host == "fail.example") {
      // A careless implementation that repeats what it was given.
      return fail("400", "cannot reach " + spec.host + " with password " +
                             spec.credentials.front().password.reveal());
    }
    if (config_->connections.count(spec.name)) {
      return fail("409", "connection '" + spec.name + "' is defined in the config file");
    }
    const bool exists = registered.count(spec.name) > 0;
    if (create && exists) return fail("409", "connection '" + spec.name + "' exists");
    if (!create && !exists) return fail("404", "no connection '" + spec.name + "'");
    registered[spec.name] = spec;
    return infoOf(spec);
  }
  Status deleteConnection(const std::string& name) override {
    std::lock_guard lock(mu);
    if (config_->connections.count(name)) {
      return fail("409", "connection '" + name + "' is defined in the config file");
    }
    if (registered.erase(name) == 0) return fail("404", "no connection '" + name + "'");
    return {};
  }

  std::vector<AuditedCall> auditedCalls() {
    std::lock_guard lock(mu);
    return audited;
  }

  static ConnectionInfo infoOf(const ConnectionSpec& spec) {
    ConnectionInfo info;
    info.name = spec.name;
    info.host = spec.host;
    info.port = spec.port;
    info.database = spec.database;
    info.tls_mode = spec.tls_mode;
    info.tls_ca = spec.tls_ca;
    for (const auto& c : spec.credentials) {
      info.credentials.push_back(c.name);
      info.users.push_back(c.user);
    }
    info.source = "api";
    return info;
  }

  std::mutex mu;
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, auth::Subject> tokens_;
  std::vector<SessionInfo> sessions_;
  std::vector<std::pair<uint64_t, std::string>> terminated;
  std::vector<audit::StoredRecord> audit_rows;
  audit::Query last_query;
  std::vector<AuditedCall> audited;
  std::map<std::string, ConnectionSpec> registered;
  std::string config_path;
  bool is_ready = true;
  bool fail_reload = false;
  int reloads = 0;
};

struct Response {
  int status = 0;
  json body;
  std::string text;
  httplib::Headers headers;

  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string error() const {
    return body.is_object() && body.contains("error") && body["error"].is_string()
               ? body["error"].get<std::string>()
               : std::string();
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    control_.config_path = dir_.write("pgwarden.yaml", kConfigYaml);
    ASSERT_EQ(control_.reload().ok(), true);
    control_.reloads = 0;
    auto svc = review::ReviewService::open(":memory:");
    ASSERT_TRUE(svc.ok()) << svc.error().message;
    reviews_ = std::move(*svc);
    server_ = std::make_unique<HttpServer>(control_.config(), &control_, reviews_.get());
    auto st = server_->start();
    ASSERT_TRUE(st.ok()) << st.error().message;
    port_ = server_->port();
  }
  void TearDown() override {
    if (server_) server_->stop();
  }

  Response call(const std::string& method, const std::string& path, const std::string& token = "",
                const std::optional<std::string>& body = std::nullopt) {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(70, 0);
    httplib::Headers headers;
    if (!token.empty()) headers.emplace("Authorization", "Bearer " + token);
    httplib::Result r{nullptr, httplib::Error::Unknown};
    const std::string data = body.value_or("");
    if (method == "GET") {
      r = client.Get(path, headers);
    } else if (method == "HEAD") {
      r = client.Head(path, headers);
    } else if (method == "DELETE") {
      r = body ? client.Delete(path, headers, data, "application/json")
               : client.Delete(path, headers);
    } else if (method == "POST") {
      r = client.Post(path, headers, data, "application/json");
    } else if (method == "PUT") {
      r = client.Put(path, headers, data, "application/json");
    } else if (method == "PATCH") {
      r = client.Patch(path, headers, data, "application/json");
    }
    Response out;
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": " << httplib::to_string(r.error());
      return out;
    }
    out.status = r->status;
    out.text = r->body;
    out.headers = r->headers;
    out.body = json::parse(r->body, nullptr, false);
    return out;
  }
  Response get(const std::string& path, const std::string& token = "") {
    return call("GET", path, token);
  }
  Response post(const std::string& path, const std::string& token, const json& body) {
    return call("POST", path, token, body.dump());
  }
  Response postRaw(const std::string& path, const std::string& token, const std::string& body) {
    return call("POST", path, token, body);
  }

  /// Waits (up to 10 s) until /metrics shows `n` long polls in progress.
  bool waitForLongPolls(int n) {
    const std::string line = "pgwarden_api_long_polls " + std::to_string(n) + "\n";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      if (get("/metrics").text.find(line) != std::string::npos) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  /// Files a pending review as the proxy would.
  review::Review fileReview(const std::string& subject_token, int min_approvals = 1,
                            std::vector<std::string> approvers = {"dba"}) {
    auto subject = control_.authenticate(subject_token);
    EXPECT_TRUE(subject.ok());
    review::Review r;
    r.subject = review::Person::from(*subject);
    r.connection = "prod";
    r.policy = "agents-prod";
    r.rule = "review[0]";
    r.reason = "writes need a review";
    r.statement = "UPDATE accounts SET plan = 'pro' WHERE id = 7";
    r.normalized = "UPDATE accounts SET plan = $1 WHERE id = $2";
    r.kind = "update";
    r.tables = {"public.accounts"};
    review::ApprovalRules rules;
    rules.approver_groups = std::move(approvers);
    rules.min_approvals = min_approvals;
    auto created = reviews_->create(std::move(r), rules);
    EXPECT_TRUE(created.ok()) << (created.ok() ? "" : created.error().message);
    return created.ok() ? *created : review::Review{};
  }

  test_support::TempDir dir_;
  FakeControlPlane control_;
  std::unique_ptr<review::ReviewService> reviews_;
  std::unique_ptr<HttpServer> server_;
  uint16_t port_ = 0;
};

}  // namespace pgw::api::testing
