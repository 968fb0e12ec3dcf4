// Connections, policies, audit and sessions over HTTP: passwords never come
// back, policy edits are validated and reloaded, audit queries are parsed
// strictly, sessions are listed and terminated.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "api_fixture.h"

namespace pgw::api::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kPassword = "s3cr3t-XYZ";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

json connectionBody(const std::string& name, const std::string& host = "db.internal") {
  return {{"name", name},
          {"host", host},
          {"port", 6543},
          {"database", "app"},
          {"tls", {{"mode", "verify-full"}, {"ca", "/etc/ssl/db-ca.pem"}}},
          {"credentials", {{"rw", {{"user", "app_rw"}, {"password", kPassword}}}}}};
}

TEST_F(ApiTest, PasswordsAreNeverEchoed) {
  std::vector<Response> seen;
  seen.push_back(post("/api/connections", "tok-admin", connectionBody("billing")));
  ASSERT_EQ(seen.back().status, 201) << seen.back().text;
  EXPECT_EQ(seen.back().header("Location"), "/api/connections/billing");
  EXPECT_EQ(seen.back().body["credentials"], json({{"rw", {{"user", "app_rw"}}}}));
  EXPECT_EQ(seen.back().body["tls"]["mode"], "verify-full");
  EXPECT_EQ(seen.back().body["source"], "api");
  // The gateway did get it.
  EXPECT_EQ(control_.registered.at("billing").credentials.at(0).password.reveal(), kPassword);

  seen.push_back(get("/api/connections", "tok-admin"));
  EXPECT_EQ(seen.back().body["connections"].size(), 3u);
  seen.push_back(get("/api/connections/billing", "tok-auditor"));
  EXPECT_EQ(seen.back().body["host"], "db.internal");
  seen.push_back(call("PUT", "/api/connections/billing", "tok-admin",
                      connectionBody("billing", "db2.internal").dump()));
  EXPECT_EQ(seen.back().status, 200);
  // Errors: a duplicate, a bad body, a gateway error that repeats the password.
  seen.push_back(post("/api/connections", "tok-admin", connectionBody("billing")));
  EXPECT_EQ(seen.back().status, 409);
  seen.push_back(post("/api/connections", "tok-admin", connectionBody("x", "fail.example")));
  EXPECT_EQ(seen.back().status, 400);
  EXPECT_THAT(seen.back().error(), HasSubstr("***"));
  json bad = connectionBody("y");
  bad["credentials"]["rw"]["password"] = json::array({kPassword});
  seen.push_back(post("/api/connections", "tok-admin", bad));
  EXPECT_EQ(seen.back().status, 400);
  seen.push_back(postRaw("/api/connections", "tok-admin",
                         std::string(R"({"name": "z", "credentials": {"rw": {"password": ")") +
                             kPassword + "\" oops"));
  EXPECT_EQ(seen.back().status, 400);
  seen.push_back(post("/api/connections", "tok-auditor", connectionBody("w")));
  EXPECT_EQ(seen.back().status, 403);

  for (const Response& r : seen) {
    EXPECT_THAT(r.text, Not(HasSubstr(kPassword))) << r.text;
    for (const auto& [name, value] : r.headers) EXPECT_THAT(value, Not(HasSubstr(kPassword)));
  }
  const auto audited = control_.auditedCalls();
  EXPECT_GE(audited.size(), 5u);
  for (const AuditedCall& a : audited) {
    EXPECT_THAT(a.detail, Not(HasSubstr(kPassword))) << a.action;
    EXPECT_THAT(a.target, Not(HasSubstr(kPassword))) << a.action;
  }
  EXPECT_EQ(audited.front().action, "connection.create");
  EXPECT_THAT(audited.front().detail, HasSubstr("rw(user app_rw, password set)"));

  Response del = call("DELETE", "/api/connections/billing", "tok-admin");
  EXPECT_EQ(del.status, 200) << del.text;
  EXPECT_EQ(del.body["deleted"], "billing");
  EXPECT_EQ(call("DELETE", "/api/connections/billing", "tok-admin").status, 404);
  EXPECT_EQ(call("DELETE", "/api/connections/prod", "tok-admin").status, 409);
  EXPECT_EQ(get("/api/connections/billing", "tok-admin").status, 404);
}

TEST_F(ApiTest, ConnectionBodiesAreValidated) {
  struct Case {
    json body;
    std::string message;
  };
  json no_ca = connectionBody("a");
  no_ca["tls"].erase("ca");
  json bad_mode = connectionBody("a");
  bad_mode["tls"]["mode"] = "sometimes";
  json bad_port = connectionBody("a");
  bad_port["port"] = 70000;
  json no_host = connectionBody("a");
  no_host.erase("host");
  json no_creds = connectionBody("a");
  no_creds["credentials"] = json::object();
  json creds_list = connectionBody("a");
  creds_list["credentials"] = json::array();
  json no_user = connectionBody("a");
  no_user["credentials"]["rw"].erase("user");
  const std::vector<Case> cases = {
      {connectionBody("bad name"), "'name' must be 1 to 63"},
      {no_ca, "'tls.ca' is required with tls.mode verify-full"},
      {bad_mode, "'tls.mode' must be"},
      {bad_port, "'port' must be an integer from 1 to 65535"},
      {no_host, "'host' is required"},
      {no_creds, "'credentials' needs at least one"},
      {creds_list, "'credentials' must be a JSON object, not an array"},
      {no_user, "'credentials.rw.user' is required"},
  };
  for (const Case& c : cases) {
    const Response r = post("/api/connections", "tok-admin", c.body);
    EXPECT_EQ(r.status, 400) << c.body.dump() << " -> " << r.text;
    EXPECT_THAT(r.error(), HasSubstr(c.message)) << c.body.dump();
  }
  // PUT: the name is the path's.
  const Response r =
      call("PUT", "/api/connections/other", "tok-admin", connectionBody("billing").dump());
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.error(), HasSubstr("cannot be renamed"));
  EXPECT_EQ(
      call("PUT", "/api/connections/ghost", "tok-admin", connectionBody("ghost").dump()).status,
      404);
  EXPECT_TRUE(control_.registered.empty());
}

// ---- policies ------------------------------------------------------------------

constexpr const char* kNewPolicies = R"(policies:
  # Everyone reads staging now.
  - name: everyone-staging
    subjects: { groups: ["*"] }
    connections: [staging]
    access: read
)";

TEST_F(ApiTest, GetPoliciesShowsTheSectionAsWritten) {
  const Response r = get("/api/policies", "tok-auditor");
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["path"], control_.config_path);
  ASSERT_TRUE(r.body["policies"].is_array());
  EXPECT_EQ(r.body["policies"].size(), 2u);
  EXPECT_EQ(r.body["policies"][0]["name"], "agents-prod");
  EXPECT_EQ(r.body["policies"][0]["approval"]["min_approvals"], 1);
  const std::string yaml = r.body["yaml"];
  EXPECT_EQ(yaml.rfind("policies:\n", 0), 0u) << yaml;
  EXPECT_THAT(yaml, HasSubstr("# Agents read prod"));
  EXPECT_THAT(yaml, Not(HasSubstr("api:")));
  EXPECT_THAT(yaml, Not(HasSubstr("# The API's roles.")));
  EXPECT_EQ(get("/api/policies", "tok-dba").status, 403);
}

TEST_F(ApiTest, ValidateChecksWithoutWriting) {
  const std::string before = readFile(control_.config_path);
  Response r = post("/api/policies/validate", "tok-auditor", {{"yaml", kNewPolicies}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["valid"], true);
  EXPECT_EQ(r.body["errors"], json::array());
  EXPECT_EQ(r.body["policies"], json({"everyone-staging"}));

  const std::string bad =
      "policies:\n  - name: p\n    subjects: { groups: [x] }\n"
      "    connections: [nope]\n";
  r = post("/api/policies/validate", "tok-admin", {{"yaml", bad}});
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["valid"], false);
  ASSERT_EQ(r.body["errors"].size(), 1u);
  EXPECT_THAT(r.body["errors"][0]["message"].get<std::string>(), HasSubstr("'nope'"));
  EXPECT_EQ(r.body["errors"][0]["line"], 4);

  r = post("/api/policies/validate", "tok-admin", {{"yaml", "policies: [\n"}});
  EXPECT_EQ(r.body["valid"], false);
  r = post("/api/policies/validate", "tok-admin", {{"yaml", "api: {}\npolicies: []\n"}});
  EXPECT_EQ(r.body["valid"], false);
  EXPECT_THAT(r.body["errors"][0]["message"].get<std::string>(), HasSubstr("'api'"));
  EXPECT_EQ(post("/api/policies/validate", "tok-admin", {{"yml", "x"}}).status, 400);
  EXPECT_EQ(post("/api/policies/validate", "tok-admin", {{"yaml", 1}}).status, 400);

  EXPECT_EQ(readFile(control_.config_path), before);
  EXPECT_EQ(control_.reloads, 0);
}

TEST_F(ApiTest, PutPoliciesReplacesTheSectionAndReloads) {
  ::chmod(control_.config_path.c_str(), 0640);
  Response r = call("PUT", "/api/policies", "tok-admin", json{{"yaml", kNewPolicies}}.dump());
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["reloaded"], true);
  EXPECT_EQ(control_.reloads, 1);
  ASSERT_EQ(control_.config()->policies.size(), 1u);
  EXPECT_EQ(control_.config()->policies[0].name, "everyone-staging");

  const std::string text = readFile(control_.config_path);
  EXPECT_THAT(text, HasSubstr("# pgwarden test config\n"));
  EXPECT_THAT(text, HasSubstr("# The API's roles.\napi:"));
  EXPECT_THAT(text, HasSubstr("# Everyone reads staging now."));
  EXPECT_THAT(text, Not(HasSubstr("agents-prod")));
  struct stat st {};
  ASSERT_EQ(::stat(control_.config_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);

  // The new policies are in force for the API at once: agents have no jit on prod any more.
  r = post("/api/access-requests", "tok-agent",
           {{"connection", "staging"}, {"level", "write"}, {"duration", "1h"}, {"reason", "x"}});
  EXPECT_EQ(r.status, 400) << r.text;

  const auto audited = control_.auditedCalls();
  ASSERT_FALSE(audited.empty());
  EXPECT_EQ(audited.front().action, "policy.replace");
  EXPECT_EQ(audited.front().status, 200);
  EXPECT_THAT(audited.front().detail, HasSubstr("everyone-staging"));
}

TEST_F(ApiTest, InvalidPoliciesLeaveTheFileUntouched) {
  const std::string before = readFile(control_.config_path);
  const std::string bad =
      "policies:\n  - name: p\n    subjects: { groups: [x] }\n"
      "    connections: [prod]\n    deny: [{ pattern: \"(\" }]\n";
  Response r = call("PUT", "/api/policies", "tok-admin", json{{"yaml", bad}}.dump());
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_EQ(r.body["valid"], false);
  EXPECT_THAT(r.error(), HasSubstr("policies[0].deny[0].pattern"));
  EXPECT_EQ(readFile(control_.config_path), before);
  EXPECT_EQ(control_.reloads, 0);

  // The gateway refuses the reload: the file is put back.
  control_.fail_reload = true;
  r = call("PUT", "/api/policies", "tok-admin", json{{"yaml", kNewPolicies}}.dump());
  EXPECT_EQ(r.status, 400) << r.text;
  EXPECT_THAT(r.error(), HasSubstr("restored"));
  EXPECT_EQ(readFile(control_.config_path), before);
}

TEST_F(ApiTest, PoliciesNeedAConfigFile) {
  control_.config_path = "";
  EXPECT_EQ(get("/api/policies", "tok-admin").status, 409);
  EXPECT_EQ(post("/api/policies/validate", "tok-admin", {{"yaml", kNewPolicies}}).status, 409);
  EXPECT_EQ(call("PUT", "/api/policies", "tok-admin", json{{"yaml", kNewPolicies}}.dump()).status,
            409);
}

// ---- audit and sessions -----------------------------------------------------------

TEST_F(ApiTest, AuditQueriesAreParsedAndPaged) {
  for (uint64_t i = 1; i <= 5; ++i) {
    audit::StoredRecord row;
    row.position = i * 10;
    row.seq = i;
    row.record = json{{"seq", i}, {"type", "statement"}, {"subject", "agent-1"}}.dump();
    control_.audit_rows.push_back(row);
  }
  Response r =
      get("/api/audit?since=2026-01-02T03:04:05.5Z&until=1800000000&subject=agent-1&decision=deny"
          "&session=42&limit=2",
          "tok-auditor");
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_EQ(r.body["events"].size(), 2u);
  EXPECT_EQ(r.body["events"][0]["seq"], 1);
  EXPECT_EQ(r.body["next"], 20);
  const audit::Query q = control_.last_query;
  EXPECT_EQ(q.since_us, 1767323045500000);
  EXPECT_EQ(q.until_us, 1800000000000000);
  EXPECT_EQ(q.subject, "agent-1");
  EXPECT_EQ(q.decision, "deny");
  EXPECT_EQ(q.session_id, 42u);
  EXPECT_EQ(q.limit, 2u);

  r = get("/api/audit?after=40", "tok-admin");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body["events"].size(), 1u);
  EXPECT_EQ(r.body["next"], nullptr);
  EXPECT_EQ(control_.last_query.limit, 100u);

  for (const char* bad :
       {"since=yesterday", "until=2026-13-01T00:00:00Z", "decision=maybe", "limit=1001",
        "session=-1", "after=x", "since=2026-01-01T00:00:00", "since=2&until=1", "order=desc"}) {
    EXPECT_EQ(get(std::string("/api/audit?") + bad, "tok-admin").status, 400) << bad;
  }
}

TEST_F(ApiTest, SessionsAreListedAndTerminated) {
  SessionInfo s;
  s.id = 7;
  s.subject.id = "agent-1";
  s.connection = "prod";
  s.policy = "agents-prod";
  s.client_address = "127.0.0.1:5555";
  s.state = "idle";
  s.started_us = 1767323045000000;
  control_.sessions_.push_back(s);

  Response r = get("/api/sessions", "tok-auditor");
  ASSERT_EQ(r.status, 200) << r.text;
  ASSERT_EQ(r.body["sessions"].size(), 1u);
  EXPECT_EQ(r.body["sessions"][0]["id"], 7);
  EXPECT_EQ(r.body["sessions"][0]["subject"]["id"], "agent-1");
  EXPECT_EQ(r.body["sessions"][0]["started_at"], "2026-01-02T03:04:05.000Z");
  EXPECT_EQ(r.body["sessions"][0]["review_id"], nullptr);

  EXPECT_EQ(call("DELETE", "/api/sessions/7", "tok-auditor").status, 403);
  EXPECT_EQ(call("DELETE", "/api/sessions/abc", "tok-admin").status, 400);
  EXPECT_EQ(call("DELETE", "/api/sessions/99999999999999999999999", "tok-admin").status, 400);
  r = call("DELETE", "/api/sessions/7?reason=runaway%20query", "tok-admin");
  ASSERT_EQ(r.status, 200) << r.text;
  EXPECT_EQ(r.body["terminated"], 7);
  ASSERT_EQ(control_.terminated.size(), 1u);
  EXPECT_THAT(control_.terminated[0].second, HasSubstr("alice"));
  EXPECT_THAT(control_.terminated[0].second, HasSubstr("runaway query"));
  EXPECT_EQ(call("DELETE", "/api/sessions/7", "tok-admin").status, 404);

  bool audited = false;
  for (const AuditedCall& a : control_.auditedCalls()) {
    audited = audited || (a.action == "session.terminate" && a.target == "7" && a.status == 200);
  }
  EXPECT_TRUE(audited);
}

}  // namespace
}  // namespace pgw::api::testing
