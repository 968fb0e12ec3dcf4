// The REST API's envelope, over HTTP against a real server: routing, 401 /
// 403 / 404 / 405 / 411 / 413, bad bodies (malformed JSON, wrong types,
// unknown fields), role mapping, audit records of refusals, /readyz,
// /metrics, and the OpenAPI document matching the routes served.

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "api_fixture.h"
#include "raw_http.h"

namespace pgw::api::testing {
namespace {

using ::testing::HasSubstr;

void expectError(const Response& r, int status, const std::string& contains) {
  EXPECT_EQ(r.status, status) << r.text;
  EXPECT_EQ(r.header("Content-Type"), "application/json") << r.text;
  ASSERT_TRUE(r.body.is_object()) << r.text;
  EXPECT_EQ(r.body.value("status", 0), status) << r.text;
  EXPECT_THAT(r.error(), HasSubstr(contains)) << r.text;
}

TEST_F(ApiTest, WhoAmIMapsGroupsToRoles) {
  const std::map<std::string, std::vector<std::string>> expected = {
      {"tok-admin", {"admin", "approver", "auditor"}},
      {"tok-dba", {"approver"}},
      {"tok-oncall", {"approver"}},
      {"tok-auditor", {"auditor"}},
      {"tok-agent", {}},
  };
  for (const auto& [token, roles] : expected) {
    const Response r = get("/api/whoami", token);
    ASSERT_EQ(r.status, 200) << token << ": " << r.text;
    EXPECT_EQ(r.body["roles"], json(roles)) << token;
    EXPECT_EQ(r.body["subject"]["method"], "service-token");
  }
  EXPECT_EQ(get("/api/whoami", "tok-admin").body["subject"]["id"], "alice");
}

TEST_F(ApiTest, MissingOrInvalidTokensAre401AndAudited) {
  Response r = get("/api/reviews");
  expectError(r, 401, "needs a bearer token");
  EXPECT_EQ(r.header("WWW-Authenticate"), "Bearer realm=\"pgwarden\"");

  r = get("/api/reviews", "not-a-token");
  expectError(r, 401, "unknown service token");
  EXPECT_THAT(r.header("WWW-Authenticate"), HasSubstr("error=\"invalid_token\""));
  EXPECT_THAT(r.error(), ::testing::Not(HasSubstr("not-a-token")));

  httplib::Client client("127.0.0.1", port_);
  auto basic = client.Get("/api/reviews", {{"Authorization", "Basic YWxpY2U6cHc="}});
  ASSERT_TRUE(basic);
  EXPECT_EQ(basic->status, 401);
  EXPECT_THAT(basic->get_header_value("WWW-Authenticate"), HasSubstr("invalid_request"));

  const auto audited = control_.auditedCalls();
  ASSERT_EQ(audited.size(), 3u);
  for (const AuditedCall& a : audited) {
    EXPECT_EQ(a.status, 401);
    EXPECT_EQ(a.subject, "");
    EXPECT_EQ(a.action, "review.list");
    EXPECT_THAT(a.detail, HasSubstr("127.0.0.1"));
    EXPECT_THAT(a.detail, ::testing::Not(HasSubstr("not-a-token")));
  }
}

TEST_F(ApiTest, LackingTheRoleIs403AndAudited) {
  expectError(get("/api/connections", "tok-agent"), 403, "needs the role auditor or admin");
  expectError(get("/api/audit", "tok-dba"), 403, "bob holds approver");
  expectError(post("/api/reviews/rv_x/approve", "tok-auditor", json::object()), 403,
              "approver or admin");
  expectError(call("DELETE", "/api/sessions/1", "tok-auditor"), 403, "admin");
  expectError(call("PUT", "/api/policies", "tok-auditor", R"({"yaml": "policies: []"})"), 403,
              "admin");

  const auto audited = control_.auditedCalls();
  ASSERT_EQ(audited.size(), 5u);
  EXPECT_EQ(audited[0].subject, "agent-1");
  EXPECT_EQ(audited[0].action, "connection.list");
  EXPECT_EQ(audited[0].status, 403);
  EXPECT_EQ(audited[2].action, "review.approve");
  EXPECT_EQ(audited[2].target, "rv_x");
}

TEST_F(ApiTest, UnknownPathsAre404AndWrongMethods405WithAllow) {
  expectError(get("/api/nope", "tok-admin"), 404, "no such endpoint: /api/nope");
  expectError(get("/api/reviews/rv_1/extra", "tok-admin"), 404, "no such endpoint");
  expectError(get("/api/reviews/", "tok-admin"), 404, "no such endpoint");

  Response r = call("DELETE", "/api/reviews", "tok-admin");
  expectError(r, 405, "DELETE is not allowed on /api/reviews");
  EXPECT_EQ(r.header("Allow"), "GET, HEAD");

  r = call("PATCH", "/api/connections/prod", "tok-admin", "{}");
  EXPECT_EQ(r.status, 413) << r.text;  // a body on a method the path does not take
  r = call("POST", "/api/connections/prod", "tok-admin", "");
  expectError(r, 405, "allowed: GET, HEAD, PUT, DELETE");
  EXPECT_EQ(r.header("Allow"), "GET, HEAD, PUT, DELETE");

  r = call("GET", "/api/reviews/approve", "tok-admin");  // an id that does not exist
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.error(), ::testing::Not(HasSubstr("no such endpoint")));
}

TEST_F(ApiTest, HeadAnswersLikeGetWithoutABody) {
  const Response r = call("HEAD", "/api/whoami", "tok-admin");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.text, "");
}

TEST_F(ApiTest, BodiesOverTheLimitAre413) {
  const std::string big = R"({"comment": ")" + std::string(5000, 'x') + R"("})";
  const auto rv = fileReview("tok-agent");
  expectError(postRaw("/api/reviews/" + rv.id + "/approve", "tok-dba", big), 413,
              "api.max_body = 4096");
  // Refused before authentication and before reading: nothing was decided.
  EXPECT_EQ(reviews_->get(rv.id)->state, review::State::Pending);

  // A body where none is taken.
  expectError(call("DELETE", "/api/sessions/1", "tok-admin", "{}"), 413, "carry no body");
}

TEST_F(ApiTest, ExpectContinueIsAnsweredBeforeTheBody) {
  const auto rv = fileReview("tok-agent");
  httplib::Client client("127.0.0.1", port_);
  // Within the limit: 100 Continue, then the body is read and served.
  auto ok = client.Post("/api/reviews/" + rv.id + "/approve",
                        {{"Authorization", "Bearer tok-dba"}, {"Expect", "100-continue"}},
                        R"({"comment": "fine"})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(reviews_->get(rv.id)->state, review::State::Approved);
  // Over it: refused without reading.
  auto big = client.Post("/api/reviews/" + rv.id + "/approve",
                         {{"Authorization", "Bearer tok-dba"}, {"Expect", "100-continue"}},
                         std::string(5000, ' '), "application/json");
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
}

TEST_F(ApiTest, ChunkedBodiesNeedAContentLength) {
  // Sent in one write: the gateway answers 411 on the headers alone and
  // closes, so a client still streaming its body could see the connection
  // reset before it reads the answer (docs/api.md). httplib's client writes
  // each chunk separately, which made this test race.
  const RawReply r = roundTrip(port_,
                               "POST /api/access-requests HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                               "Authorization: Bearer tok-agent\r\n"
                               "Content-Type: application/json\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n");
  ASSERT_TRUE(r.connected);
  EXPECT_EQ(r.status, 411) << r.body;
  EXPECT_EQ(r.header("content-type"), "application/json");
  const json body = json::parse(r.body, nullptr, false);
  ASSERT_TRUE(body.is_object()) << r.body;
  EXPECT_EQ(body.value("status", 0), 411);
  EXPECT_THAT(body.value("error", ""), HasSubstr("Content-Length header"));
}

TEST_F(ApiTest, MalformedJsonWrongTypesAndUnknownFieldsAre400) {
  const auto rv = fileReview("tok-agent");
  const std::string approve = "/api/reviews/" + rv.id + "/approve";
  expectError(postRaw(approve, "tok-dba", "{\"comment\": "), 400, "malformed JSON body at line 1");
  expectError(postRaw(approve, "tok-dba", "{\n\"comment\": nope}"), 400, "line 2");
  expectError(postRaw(approve, "tok-dba", "[1, 2]"), 400, "must be a JSON object, not an array");
  expectError(postRaw(approve, "tok-dba", "\"text\""), 400, "must be a JSON object");
  expectError(post(approve, "tok-dba", {{"comment", 5}}), 400,
              "'comment' must be a string, not an integer");
  expectError(post(approve, "tok-dba", {{"commnt", "ok"}}), 400, "unknown field 'commnt'");
  expectError(postRaw(approve, "tok-dba", R"({"comment": "a", "comment": "b"})"), 400,
              "repeats the member 'comment'");
  expectError(postRaw(approve, "tok-dba", std::string(100, '[') + std::string(100, ']')), 400,
              "nested deeper");
  expectError(postRaw(approve, "tok-dba", "{\"comment\": \"\xff\"}"), 400, "malformed JSON");
  EXPECT_EQ(reviews_->get(rv.id)->state, review::State::Pending);

  // Nested objects name the member by its path.
  Response r = post("/api/connections", "tok-admin",
                    {{"name", "x"},
                     {"host", "h"},
                     {"credentials", {{"app", {{"user", "u"}, {"pasword", "p"}}}}}});
  expectError(r, 400, "unknown field 'credentials.app.pasword'");
  r = post("/api/connections", "tok-admin",
           {{"name", "x"}, {"host", "h"}, {"port", "5432"}, {"credentials", json::object()}});
  expectError(r, 400, "'port' must be an integer, not a string");

  // Unknown and repeated query parameters.
  expectError(get("/api/reviews?stat=pending", "tok-admin"), 400, "unknown query parameter 'stat'");
  expectError(get("/api/reviews?state=pending&state=denied", "tok-admin"), 400, "more than once");
  expectError(get("/api/reviews?state=maybe", "tok-admin"), 400, "'state' must be one of");
  expectError(get("/api/reviews?limit=0", "tok-admin"), 400, "'limit' must be an integer from 1");
  expectError(get("/api/reviews?limit=99999999999999999999999", "tok-admin"), 400, "'limit'");
}

TEST_F(ApiTest, ReadyzFollowsTheGateway) {
  Response r = get("/readyz");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body["ready"], true);
  control_.is_ready = false;
  r = get("/readyz");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body["ready"], false);
  EXPECT_EQ(r.error(), "upstream prod unreachable");
}

TEST_F(ApiTest, MetricsHoldTheGatewaysAndTheApisSeries) {
  fileReview("tok-agent");
  ASSERT_EQ(get("/api/whoami", "tok-admin").status, 200);
  ASSERT_EQ(get("/api/whoami").status, 401);
  ASSERT_EQ(get("/api/nowhere").status, 404);
  const Response r = get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.header("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.text, HasSubstr("pgwarden_sessions 3\n"));
  EXPECT_THAT(r.text, HasSubstr("# TYPE pgwarden_api_requests_total counter\n"));
  EXPECT_THAT(r.text,
              HasSubstr("pgwarden_api_requests_total{route=\"/api/whoami\",status=\"200\"} 1\n"));
  EXPECT_THAT(r.text,
              HasSubstr("pgwarden_api_requests_total{route=\"/api/whoami\",status=\"401\"} 1\n"));
  EXPECT_THAT(r.text,
              HasSubstr("pgwarden_api_requests_total{route=\"unmatched\",status=\"404\"} 1\n"));
  EXPECT_THAT(r.text, HasSubstr("pgwarden_reviews_pending 1\n"));
  EXPECT_THAT(r.text, HasSubstr("pgwarden_access_requests_pending 0\n"));
  // Every sample line is "name{labels} value" or "name value".
  std::istringstream lines(r.text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    EXPECT_NE(line.rfind(' '), std::string::npos) << line;
  }
}

TEST_F(ApiTest, TheOpenApiDocumentListsExactlyTheRoutesServed) {
  const Response r = get("/api/openapi.json");
  ASSERT_EQ(r.status, 200);
  ASSERT_TRUE(r.body.is_object()) << r.text.substr(0, 200);
  EXPECT_EQ(r.body["openapi"], "3.0.3");

  std::set<std::string> documented;
  for (const auto& [path, item] : r.body["paths"].items()) {
    for (const auto& [method, op] : item.items()) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      documented.insert(upper + " " + path);
      EXPECT_TRUE(op.contains("responses")) << path;
    }
  }
  std::set<std::string> served;
  for (const std::string& e : server_->endpoints()) served.insert(e);
  // The dev issuer's routes exist only when it is configured (not here).
  documented.erase("GET /dev-issuer/.well-known/openid-configuration");
  documented.erase("GET /dev-issuer/jwks.json");
  EXPECT_EQ(documented, served);
  EXPECT_GE(served.size(), 27u);

  // Every $ref resolves.
  std::function<void(const json&)> check = [&](const json& j) {
    if (j.is_object()) {
      if (auto it = j.find("$ref"); it != j.end()) {
        const std::string ref = it->get<std::string>();
        ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
        EXPECT_TRUE(r.body.contains(json::json_pointer(ref.substr(1)))) << ref;
      }
      for (const auto& [k, v] : j.items()) check(v);
    } else if (j.is_array()) {
      for (const auto& v : j) check(v);
    }
  };
  check(r.body);
}

TEST_F(ApiTest, DocumentedRoutesAnswerSomethingOtherThan404Or405) {
  const Response doc = get("/api/openapi.json");
  for (const auto& [path, item] : doc.body["paths"].items()) {
    if (path.rfind("/dev-issuer", 0) == 0) continue;
    std::string concrete = path;
    for (const char* p : {"{id}", "{name}"}) {
      if (auto at = concrete.find(p); at != std::string::npos) concrete.replace(at, strlen(p), "1");
    }
    for (const auto& [method, op] : item.items()) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
      const Response r = call(
          upper, concrete, "tok-agent",
          upper == "GET" || upper == "DELETE" ? std::nullopt : std::optional<std::string>("{}"));
      EXPECT_NE(r.status, 405) << upper << " " << concrete;
      if (r.status == 404) {
        EXPECT_THAT(r.error(), ::testing::Not(HasSubstr("no such endpoint")))
            << upper << " " << concrete;
      }
    }
  }
}

TEST_F(ApiTest, WithoutAControlPlaneOnlyHealthzIsServed) {
  HttpServer bare(control_.config());
  ASSERT_TRUE(bare.start().ok());
  httplib::Client client("127.0.0.1", bare.port());
  auto h = client.Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  auto w = client.Get("/api/whoami");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 404);
  EXPECT_EQ(bare.endpoints(), std::vector<std::string>{"GET /healthz"});
}

TEST_F(ApiTest, WithoutAReviewServiceReviewRoutesAre503) {
  HttpServer no_reviews(control_.config(), &control_, nullptr);
  ASSERT_TRUE(no_reviews.start().ok());
  httplib::Client client("127.0.0.1", no_reviews.port());
  auto r = client.Get("/api/reviews", {{"Authorization", "Bearer tok-admin"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  auto m = client.Get("/metrics");
  ASSERT_TRUE(m);
  EXPECT_THAT(m->body, HasSubstr("pgwarden_reviews_pending 0\n"));
}

}  // namespace
}  // namespace pgw::api::testing
