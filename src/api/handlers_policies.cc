// /api/policies: read (auditor or admin), validate (auditor or admin) and
// replace (admin) the `policies:` section of the config file; a replacement
// is written atomically and then loaded (ControlPlane::reload, as SIGHUP).
// The logic lives in policy_editor.{h,cc}.

#include <nlohmann/json.hpp>

#include "api/call.h"
#include "api/policy_editor.h"
#include "api/services.h"

namespace pgw::api {
namespace {

using nlohmann::json;

json toJson(const std::vector<PolicyIssue>& issues) {
  json out = json::array();
  for (const PolicyIssue& i : issues) {
    out.push_back({{"message", i.message}, {"line", i.line ? json(*i.line) : json(nullptr)}});
  }
  return out;
}

json toJson(const PolicyCheck& check) {
  return {{"valid", check.valid},
          {"errors", toJson(check.errors)},
          {"warnings", toJson(check.warnings)},
          {"policies", check.valid ? json(check.policy_names) : json(nullptr)}};
}

/// The config file, or 409 when the gateway was started without one.
PolicyEditor editorFor(Services& services) {
  std::string path = services.gateway().configPath();
  if (path.empty()) {
    throw ApiError(409,
                   "this gateway was started without a config file, so its policies "
                   "cannot be read or replaced over the API");
  }
  return PolicyEditor(std::move(path));
}

std::string sentYaml(Call& call) {
  const JsonFields body = call.body({"yaml"});
  return body.string("yaml", false);
}

Reply getPolicies(Services& services, Call& call) {
  call.query({});
  const PolicyEditor editor = editorFor(services);
  auto section = editor.current();
  if (!section) throwError(section.error(), 500);
  return Reply::ofJson(
      {{"path", editor.path()}, {"policies", section->json}, {"yaml", section->yaml}});
}

Reply validatePolicies(Services& services, Call& call) {
  const std::string yaml = sentYaml(call);
  const PolicyEditor editor = editorFor(services);
  auto checked = editor.check(yaml);
  if (!checked) throwError(checked.error(), 500);
  return Reply::ofJson(toJson(*checked));
}

Reply replacePolicies(Services& services, Call& call) {
  const std::string yaml = sentYaml(call);
  const PolicyEditor editor = editorFor(services);
  call.audit_target = editor.path();
  std::lock_guard lock(services.policy_edit_mu);
  auto before = editor.read();
  if (!before) throwError(before.error(), 500);
  auto replaced = editor.replace(yaml);
  if (!replaced) throwError(replaced.error(), 500);
  if (!replaced->valid) {
    const PolicyIssue& first = replaced->errors.front();
    throw ApiError(400,
                   "the policies are not valid" +
                       (first.line ? " (line " + std::to_string(*first.line) + ")" : "") + ": " +
                       first.message,
                   toJson(*replaced));
  }
  if (auto st = services.gateway().reload(); !st) {
    // The gateway keeps its old config; put the file back to match it.
    std::string restored = "the previous file was restored";
    if (auto back = editor.write(*before); !back) {
      restored = "restoring the previous file failed too: " + back.error().message;
    }
    throw ApiError(
        httpStatusOf(st.error(), 400),
        "the gateway did not load the new config: " + st.error().message + "; " + restored,
        toJson(*replaced));
  }
  std::string names;
  for (const std::string& n : replaced->policy_names) names += (names.empty() ? "" : ", ") + n;
  call.audit_detail = "replaced the policies: " + std::to_string(replaced->policy_names.size()) +
                      (names.empty() ? "" : " (" + names + ")");
  json body = toJson(*replaced);
  body["path"] = editor.path();
  body["reloaded"] = true;
  return Reply::ofJson(std::move(body));
}

}  // namespace

void addPolicyRoutes(Router& router, Services& services) {
  Services* s = &services;
  router.add(Route{.method = "GET",
                   .pattern = "/api/policies",
                   .action = "policy.get",
                   .roles = kAuditor | kAdmin,
                   .handler = [s](Call& call) { return getPolicies(*s, call); }});
  router.add(Route{.method = "POST",
                   .pattern = "/api/policies/validate",
                   .action = "policy.validate",
                   .roles = kAuditor | kAdmin,
                   .body = true,
                   .handler = [s](Call& call) { return validatePolicies(*s, call); }});
  router.add(Route{.method = "PUT",
                   .pattern = "/api/policies",
                   .action = "policy.replace",
                   .roles = kAdmin,
                   .body = true,
                   .audited = true,
                   .handler = [s](Call& call) { return replacePolicies(*s, call); }});
}

}  // namespace pgw::api
