// The OpenAPI 3.0 document served at /api/openapi.json. Written by hand,
// apart from the router's table: tests/unit/api checks that the two list
// the same endpoints. docs/api.md is the prose version.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "api/services.h"

namespace pgw::api {
namespace {

using nlohmann::json;

json ref(const std::string& schema) {
  return {{"$ref", "#/components/schemas/" + schema}};
}

json str(const std::string& description = "") {
  json s = {{"type", "string"}};
  if (!description.empty()) s["description"] = description;
  return s;
}
json nullableStr(const std::string& description = "") {
  json s = str(description);
  s["nullable"] = true;
  return s;
}
json time() {
  return {{"type", "string"}, {"format", "date-time"}, {"nullable", true}};
}
json integer(const std::string& description = "") {
  json s = {{"type", "integer"}};
  if (!description.empty()) s["description"] = description;
  return s;
}
json boolean() {
  return {{"type", "boolean"}};
}
json array(json items) {
  return {{"type", "array"}, {"items", std::move(items)}};
}
json strings() {
  return array(str());
}
json object(json properties, std::vector<std::string> required = {}, bool closed = false) {
  json s = {{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) s["required"] = std::move(required);
  if (closed) s["additionalProperties"] = false;
  return s;
}
json enumOf(std::vector<std::string> values) {
  return {{"type", "string"}, {"enum", values}};
}

/// A parameter "in" path or query.
json param(const std::string& in, const std::string& name, json schema,
           const std::string& description) {
  return {{"in", in},
          {"name", name},
          {"required", in == "path"},
          {"schema", std::move(schema)},
          {"description", description}};
}

struct Op {
  std::string summary;
  std::string tag;
  std::string roles;  ///< "" = no token needed
  std::vector<json> parameters;
  std::string body;  ///< request schema name; "" = no body
  int ok = 200;
  json ok_schema;  ///< response schema; null = plain text
  std::vector<int> errors;
};

json operation(const Op& op) {
  json o = {{"summary", op.summary}, {"tags", {op.tag}}};
  if (!op.roles.empty()) {
    o["security"] = json::array({{{"bearer", json::array()}}});
    o["description"] = "Roles: " + op.roles + ".";
  } else {
    o["security"] = json::array();
  }
  if (!op.parameters.empty()) o["parameters"] = op.parameters;
  if (!op.body.empty()) {
    o["requestBody"] = {{"required", true},
                        {"content", {{"application/json", {{"schema", ref(op.body)}}}}}};
  }
  json responses;
  const std::string ok = std::to_string(op.ok);
  if (op.ok_schema.is_null()) {
    responses[ok] = {{"description", "OK"}, {"content", {{"text/plain", {{"schema", str()}}}}}};
  } else {
    responses[ok] = {{"description", "OK"},
                     {"content", {{"application/json", {{"schema", op.ok_schema}}}}}};
  }
  std::vector<int> errors = op.errors;
  if (!op.roles.empty()) errors.insert(errors.end(), {401, 403});
  if (!op.body.empty()) errors.insert(errors.end(), {400, 413});
  for (int code : errors) {
    responses[std::to_string(code)] = {{"$ref", "#/components/responses/E" + std::to_string(code)}};
  }
  o["responses"] = std::move(responses);
  return o;
}

const char* kReaders = "auditor, approver or admin; any subject for its own records";

json schemas() {
  json s;
  s["Error"] = object({{"error", str("what went wrong and what to do")}, {"status", integer()}},
                      {"error", "status"});
  s["Person"] = object({{"id", str()},
                        {"display_name", str()},
                        {"groups", strings()},
                        {"issuer", str()},
                        {"method", str("scram, oidc, service-token, client-certificate")}});
  s["Vote"] =
      object({{"by", ref("Person")}, {"approve", boolean()}, {"comment", str()}, {"at", time()}});
  const json states =
      enumOf({"pending", "approved", "denied", "expired", "withdrawn", "consumed", "revoked"});
  s["Review"] = object({{"id", str("rv_ and 20 hex digits")},
                        {"state", states},
                        {"mode", enumOf({"wait", "retry"})},
                        {"subject", ref("Person")},
                        {"connection", str()},
                        {"policy", str()},
                        {"rule", str("the rule that asked for the review")},
                        {"reason", str()},
                        {"statement", str("as sent")},
                        {"normalized", str("literals replaced by $n")},
                        {"fingerprint", str()},
                        {"kind", str()},
                        {"tables", strings()},
                        {"parameters", array(nullableStr())},
                        {"estimated_rows", {{"type", "number"}, {"nullable", true}}},
                        {"estimated_cost", {{"type", "number"}, {"nullable", true}}},
                        {"recent_statements", strings()},
                        {"session_id", integer()},
                        {"client_address", str()},
                        {"approver_groups", strings()},
                        {"min_approvals", integer()},
                        {"approvals", integer()},
                        {"approvals_needed", integer()},
                        {"votes", array(ref("Vote"))},
                        {"created_at", time()},
                        {"expires_at", time()},
                        {"decided_at", time()},
                        {"run_by", time()},
                        {"consumed_at", time()},
                        {"outcome_message", str()}});
  s["ReviewList"] = object({{"reviews", array(ref("Review"))},
                            {"next", nullableStr("pass as `before` for the next page")}});
  s["AccessRequest"] = object({{"id", str("ar_ and 20 hex digits")},
                               {"state", states},
                               {"subject", ref("Person")},
                               {"connection", str()},
                               {"level", enumOf({"read", "write", "ddl", "admin"})},
                               {"duration_seconds", integer()},
                               {"reason", str()},
                               {"policy", str()},
                               {"approver_groups", strings()},
                               {"min_approvals", integer()},
                               {"approvals", integer()},
                               {"approvals_needed", integer()},
                               {"votes", array(ref("Vote"))},
                               {"created_at", time()},
                               {"expires_at", time()},
                               {"starts_at", time()},
                               {"ends_at", time()},
                               {"decided_at", time()},
                               {"active", boolean()},
                               {"outcome_message", str()}});
  s["AccessRequestList"] =
      object({{"access_requests", array(ref("AccessRequest"))}, {"next", nullableStr()}});
  s["AccessRequestCreate"] = object(
      {{"connection", str()},
       {"level", enumOf({"write", "ddl", "admin"})},
       {"duration", {{"type", "string"}, {"pattern", "^[0-9]+(ms|s|m|h|d)$"}, {"example", "1h"}}},
       {"reason", str()}},
      {"connection", "level", "duration", "reason"}, true);
  s["Decision"] = object({{"comment", str()}}, {}, true);
  const json tls_mode = enumOf({"disable", "require", "verify-ca", "verify-full"});
  s["Connection"] = object(
      {{"name", str()},
       {"host", str()},
       {"port", integer()},
       {"database", str()},
       {"tls", object({{"mode", tls_mode}, {"ca", str("PEM file of the server's CA")}})},
       {"credentials", {{"type", "object"}, {"additionalProperties", object({{"user", str()}})}}},
       {"source", enumOf({"config", "api"})}});
  s["ConnectionList"] = object({{"connections", array(ref("Connection"))}});
  json password = str("write-only: never returned");
  password["writeOnly"] = true;
  s["ConnectionSpec"] = object(
      {{"name", str("required on POST; on PUT the name in the path")},
       {"host", str()},
       {"port", {{"type", "integer"}, {"minimum", 1}, {"maximum", 65535}, {"default", 5432}}},
       {"database", str("default: the name")},
       {"tls", object({{"mode", tls_mode}, {"ca", str()}}, {}, true)},
       {"credentials",
        {{"type", "object"},
         {"minProperties", 1},
         {"additionalProperties",
          object({{"user", str()}, {"password", password}}, {"user"}, true)}}}},
      {"host", "credentials"}, true);
  s["Deleted"] = object({{"deleted", str()}});
  s["Session"] = object({{"id", integer()},
                         {"subject", ref("Person")},
                         {"connection", str()},
                         {"policy", str()},
                         {"client_address", str()},
                         {"state", str("idle, active, idle in transaction, waiting for review")},
                         {"review_id", nullableStr()},
                         {"started_at", time()},
                         {"statements", integer()}});
  s["SessionList"] = object({{"sessions", array(ref("Session"))}});
  s["Terminated"] = object({{"terminated", integer()}});
  s["PolicySection"] = object(
      {{"path", str("the config file")},
       {"policies", {{"type", "array"}, {"items", {{"type", "object"}}}, {"nullable", true}}},
       {"yaml", str("the `policies:` section as written in the file")}});
  s["PolicyYaml"] = object(
      {{"yaml", str("a YAML document whose only top-level key is `policies:`")}}, {"yaml"}, true);
  s["PolicyIssue"] =
      object({{"message", str()}, {"line", {{"type", "integer"}, {"nullable", true}}}});
  s["PolicyValidation"] =
      object({{"valid", boolean()},
              {"errors", array(ref("PolicyIssue"))},
              {"warnings", array(ref("PolicyIssue"))},
              {"policies", {{"type", "array"}, {"items", str()}, {"nullable", true}}}});
  s["PolicyReplaced"] = {
      {"allOf", {ref("PolicyValidation"), object({{"path", str()}, {"reloaded", boolean()}})}}};
  s["AuditPage"] = object({{"events", array({{"type", "object"}})},
                           {"next",
                            {{"type", "integer"},
                             {"nullable", true},
                             {"description", "pass as `after` for the next page"}}}});
  s["WhoAmI"] = object({{"subject", ref("Person")},
                        {"roles", array(enumOf({"admin", "approver", "auditor"}))},
                        {"expires_at", time()}});
  s["Ready"] = object({{"ready", boolean()}, {"error", str()}, {"status", integer()}});
  return s;
}

json responses() {
  const std::pair<int, const char*> codes[] = {
      {400, "Bad input: malformed JSON, an unknown field, a wrong type, a bad value"},
      {401, "No valid bearer token (with WWW-Authenticate: Bearer)"},
      {403, "Authenticated, but without the role, or refused by the rules"},
      {404, "Unknown id or name"},
      {409, "Wrong state (already decided, exists, no config file)"},
      {413, "Body over api.max_body"},
      {503, "Not available on this gateway now"}};
  json out;
  for (const auto& [code, text] : codes) {
    // Not "E" + to_string(code): GCC 12 warns (-Wrestrict) on it, wrongly.
    std::string key = std::to_string(code);
    key.insert(key.begin(), 'E');
    out[key] = {{"description", text},
                {"content", {{"application/json", {{"schema", ref("Error")}}}}}};
  }
  return out;
}

json paths() {
  const json id = param("path", "id", str(), "the record's id");
  const json name = param("path", "name", str(), "the connection's name");
  const json limit =
      param("query", "limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}},
            "at most this many (default 100)");
  const std::vector<json> list_params = {
      param("query", "state", str(),
            "pending, approved, denied, expired, withdrawn, consumed, revoked"),
      param("query", "subject", str(), "subject id"),
      param("query", "connection", str(), "connection name"), limit,
      param("query", "before", str(), "the `next` of the previous page")};

  json p;
  p["/healthz"]["get"] = operation({"Liveness", "system", "", {}, "", 200, nullptr, {}});
  p["/readyz"]["get"] = operation({"Readiness: 503 while the gateway cannot serve",
                                   "system",
                                   "",
                                   {},
                                   "",
                                   200,
                                   ref("Ready"),
                                   {503}});
  p["/metrics"]["get"] =
      operation({"Prometheus text format 0.0.4", "system", "", {}, "", 200, nullptr, {}});
  p["/api/openapi.json"]["get"] =
      operation({"This document", "system", "", {}, "", 200, {{"type", "object"}}, {}});
  p["/api/whoami"]["get"] = operation({"The caller and its roles",
                                       "system",
                                       "any authenticated subject",
                                       {},
                                       "",
                                       200,
                                       ref("WhoAmI"),
                                       {}});
  p["/dev-issuer/.well-known/openid-configuration"]["get"] =
      operation({"The dev issuer's discovery document (only with identity.dev_issuer)",
                 "system",
                 "",
                 {},
                 "",
                 200,
                 {{"type", "object"}},
                 {404}});
  p["/dev-issuer/jwks.json"]["get"] =
      operation({"The dev issuer's public keys (only with identity.dev_issuer)",
                 "system",
                 "",
                 {},
                 "",
                 200,
                 {{"type", "object"}},
                 {404}});

  p["/api/reviews"]["get"] = operation({"List reviews, newest first",
                                        "reviews",
                                        kReaders,
                                        list_params,
                                        "",
                                        200,
                                        ref("ReviewList"),
                                        {400, 503}});
  p["/api/reviews/{id}"]["get"] =
      operation({"One review", "reviews", kReaders, {id}, "", 200, ref("Review"), {404, 503}});
  p["/api/reviews/{id}/approve"]["post"] =
      operation({"Approve (self-approval and approvers outside the policy's groups get 403)",
                 "reviews",
                 "approver or admin",
                 {id},
                 "Decision",
                 200,
                 ref("Review"),
                 {404, 409, 503}});
  p["/api/reviews/{id}/deny"]["post"] = operation({"Deny",
                                                   "reviews",
                                                   "approver or admin",
                                                   {id},
                                                   "Decision",
                                                   200,
                                                   ref("Review"),
                                                   {404, 409, 503}});
  p["/api/reviews/{id}/wait"]["get"] = operation(
      {"Long poll: answers when the review leaves pending, or at the timeout (still pending)",
       "reviews",
       kReaders,
       {id, param("query", "timeout", {{"type", "integer"}, {"minimum", 0}, {"maximum", 60}},
                  "seconds (default 30)")},
       "",
       200,
       ref("Review"),
       {400, 404, 503}});

  p["/api/access-requests"]["post"] = operation({"Ask for just-in-time access for oneself",
                                                 "access",
                                                 "any authenticated subject",
                                                 {},
                                                 "AccessRequestCreate",
                                                 201,
                                                 ref("AccessRequest"),
                                                 {404, 503}});
  p["/api/access-requests"]["get"] = operation({"List access requests, newest first",
                                                "access",
                                                kReaders,
                                                list_params,
                                                "",
                                                200,
                                                ref("AccessRequestList"),
                                                {400, 503}});
  p["/api/access-requests/{id}"]["get"] = operation(
      {"One access request", "access", kReaders, {id}, "", 200, ref("AccessRequest"), {404, 503}});
  const std::pair<const char*, const char*> verbs[] = {
      {"approve", "Approve"}, {"deny", "Deny"}, {"revoke", "End an approved grant now"}};
  for (const auto& [verb, summary] : verbs) {
    p[std::string("/api/access-requests/{id}/") + verb]["post"] = operation({summary,
                                                                             "access",
                                                                             "approver or admin",
                                                                             {id},
                                                                             "Decision",
                                                                             200,
                                                                             ref("AccessRequest"),
                                                                             {404, 409, 503}});
  }

  p["/api/connections"]["get"] = operation({"List connections (never a password)",
                                            "connections",
                                            "auditor or admin",
                                            {},
                                            "",
                                            200,
                                            ref("ConnectionList"),
                                            {}});
  p["/api/connections"]["post"] = operation({"Register a connection",
                                             "connections",
                                             "admin",
                                             {},
                                             "ConnectionSpec",
                                             201,
                                             ref("Connection"),
                                             {409, 503}});
  p["/api/connections/{name}"]["get"] = operation({"One connection",
                                                   "connections",
                                                   "auditor or admin",
                                                   {name},
                                                   "",
                                                   200,
                                                   ref("Connection"),
                                                   {404}});
  p["/api/connections/{name}"]["put"] =
      operation({"Replace a connection registered over the API (send its passwords again)",
                 "connections",
                 "admin",
                 {name},
                 "ConnectionSpec",
                 200,
                 ref("Connection"),
                 {404, 409, 503}});
  p["/api/connections/{name}"]["delete"] = operation({"Delete a connection registered over the API",
                                                      "connections",
                                                      "admin",
                                                      {name},
                                                      "",
                                                      200,
                                                      ref("Deleted"),
                                                      {404, 409}});

  p["/api/policies"]["get"] = operation({"The policies: section of the config file",
                                         "policies",
                                         "auditor or admin",
                                         {},
                                         "",
                                         200,
                                         ref("PolicySection"),
                                         {409}});
  p["/api/policies"]["put"] =
      operation({"Replace the policies: section, then reload (400 with errors when invalid)",
                 "policies",
                 "admin",
                 {},
                 "PolicyYaml",
                 200,
                 ref("PolicyReplaced"),
                 {409}});
  p["/api/policies/validate"]["post"] = operation({"Check a replacement without writing it",
                                                   "policies",
                                                   "auditor or admin",
                                                   {},
                                                   "PolicyYaml",
                                                   200,
                                                   ref("PolicyValidation"),
                                                   {409}});

  const json since_schema = {{"type", "string"}, {"description", "RFC 3339 time or Unix seconds"}};
  p["/api/audit"]["get"] =
      operation({"Query the audit trail, oldest first",
                 "audit",
                 "auditor or admin",
                 {param("query", "since", since_schema, "events at or after"),
                  param("query", "until", since_schema, "events before"),
                  param("query", "subject", str(), "subject id"),
                  param("query", "decision", enumOf({"allow", "deny", "review"}), "the decision"),
                  param("query", "session", integer(), "session id"), limit,
                  param("query", "after", integer(), "the `next` of the previous page")},
                 "",
                 200,
                 ref("AuditPage"),
                 {400, 503}});
  p["/api/sessions"]["get"] = operation({"Live client sessions",
                                         "sessions",
                                         "auditor or admin",
                                         {},
                                         "",
                                         200,
                                         ref("SessionList"),
                                         {}});
  p["/api/sessions/{id}"]["delete"] =
      operation({"Terminate a session (FATAL 57P01 to its client)",
                 "sessions",
                 "admin",
                 {param("path", "id", integer(), "the session's id"),
                  param("query", "reason", str(), "told to the client")},
                 "",
                 200,
                 ref("Terminated"),
                 {400, 404}});
  return p;
}

}  // namespace

json openApiDocument() {
  return {{"openapi", "3.0.3"},
          {"info",
           {{"title", "pgwarden control plane"},
            {"version", "1"},
            {"description",
             "Reviews, just-in-time access, connections, policies, audit and sessions of a "
             "pgwarden gateway. Errors are {\"error\": ..., \"status\": ...}. See docs/api.md."}}},
          {"paths", paths()},
          {"components",
           {{"schemas", schemas()},
            {"responses", responses()},
            {"securitySchemes",
             {{"bearer",
               {{"type", "http"},
                {"scheme", "bearer"},
                {"description", "an OIDC JWT or a pgw_ service token, as on the data path"}}}}}}}};
}

}  // namespace pgw::api
