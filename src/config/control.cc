#include "config/control.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

namespace pgw::config::detail {
namespace {

constexpr std::array<std::string_view, 4> kLevels = {"read", "write", "ddl", "admin"};

bool isHex(std::string_view s) {
  return s.find_first_not_of("0123456789abcdefABCDEF") == std::string_view::npos;
}

}  // namespace

void readApi(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "api", {"roles", "max_body", "public_url"});
  MapReader roles(m.get("roles"), m.pathOf("roles"), {"admin", "approver", "auditor"});
  cfg.api.admins = readStringList(ctx, roles.get("admin"), roles.pathOf("admin"));
  cfg.api.approvers = readStringList(ctx, roles.get("approver"), roles.pathOf("approver"));
  cfg.api.auditors = readStringList(ctx, roles.get("auditor"), roles.pathOf("auditor"));
  if (m.has("max_body")) {
    cfg.api.max_body = readSize(ctx, m.get("max_body"), m.pathOf("max_body"), 1024, 64u << 20);
  }
  if (m.has("public_url")) {
    std::string url = readString(ctx, m.get("public_url"), m.pathOf("public_url"));
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
      failAt(m.pathOf("public_url"), "must start with http:// or https://");
    }
    if (url.find_first_of("?# ") != std::string::npos) {
      failAt(m.pathOf("public_url"), "must not hold a query, a fragment or spaces");
    }
    while (url.back() == '/') url.pop_back();
    cfg.api.public_url = std::move(url);
  }
}

void readNotifications(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "notifications", {"webhooks"});
  std::vector<YAML::Node> items = readList(m.get("webhooks"), m.pathOf("webhooks"));
  static constexpr std::array<std::string_view, 2> kFormats = {"generic", "slack"};
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = indexPath(m.pathOf("webhooks"), i);
    MapReader w(items[i], path, {"name", "url", "format", "secret", "max_attempts", "timeout"});
    WebhookConfig hook;
    hook.name = w.has("name") ? readString(ctx, w.get("name"), w.pathOf("name"))
                              : fmt::format("webhook{}", i);
    if (!w.has("url")) failAt(w.pathOf("url"), "is required, e.g. https://hooks.example/pgwarden");
    // The URL may hold a secret (Slack's incoming webhooks do): read it as one.
    hook.url = readSecret(ctx, w.get("url"), w.pathOf("url")).reveal();
    if (hook.url.rfind("http://", 0) != 0 && hook.url.rfind("https://", 0) != 0) {
      failAt(w.pathOf("url"), "must start with http:// or https://");
    }
    if (w.has("format")) {
      hook.format = static_cast<WebhookConfig::Format>(
          readChoice(ctx, w.get("format"), w.pathOf("format"), kFormats));
    }
    if (w.has("secret")) hook.secret = readSecret(ctx, w.get("secret"), w.pathOf("secret"));
    if (w.has("max_attempts")) {
      hook.max_attempts =
          static_cast<int>(readInt(ctx, w.get("max_attempts"), w.pathOf("max_attempts"), 1, 20));
    }
    if (w.has("timeout")) {
      hook.timeout = readDuration(ctx, w.get("timeout"), w.pathOf("timeout"), false);
    }
    cfg.webhooks.push_back(std::move(hook));
  }
}

void readState(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "state", {"path", "master_key", "retention"});
  cfg.state.path = ctx.absolutePath(m.has("path") ? readString(ctx, m.get("path"), m.pathOf("path"))
                                                  : "data/state.db");
  if (m.has("master_key")) {
    Secret key = readSecret(ctx, m.get("master_key"), m.pathOf("master_key"));
    const std::string& v = key.reveal();
    if (v.size() != 32 && !(v.size() == 64 && isHex(v))) {
      failAt(m.pathOf("master_key"),
             "must be 32 bytes or 64 hex digits (e.g. the output of `openssl rand -hex 32`)");
    }
    cfg.state.master_key = std::move(key);
  }
  if (m.has("retention")) {
    cfg.state.retention = readDuration(ctx, m.get("retention"), m.pathOf("retention"), false);
    if (cfg.state.retention < std::chrono::hours(1)) {
      failAt(m.pathOf("retention"), "must be at least 1h (decided reviews are pruned after it)");
    }
  }
}

ApprovalConfig readApproval(const Context& ctx, const YAML::Node& node, const std::string& path) {
  MapReader m(node, path, {"mode", "approvers", "min_approvals", "timeout", "retry_ttl"});
  ApprovalConfig a;
  static constexpr std::array<std::string_view, 2> kModes = {"wait", "retry"};
  if (m.has("mode")) {
    a.mode = static_cast<ApprovalMode>(readChoice(ctx, m.get("mode"), m.pathOf("mode"), kModes));
  }
  a.approvers = readStringList(ctx, m.get("approvers"), m.pathOf("approvers"));
  if (m.has("min_approvals")) {
    a.min_approvals =
        static_cast<int>(readInt(ctx, m.get("min_approvals"), m.pathOf("min_approvals"), 1, 10));
  }
  if (m.has("timeout")) a.timeout = readDuration(ctx, m.get("timeout"), m.pathOf("timeout"), false);
  if (m.has("retry_ttl")) {
    a.retry_ttl = readDuration(ctx, m.get("retry_ttl"), m.pathOf("retry_ttl"), false);
  }
  return a;
}

JitConfig readJit(const Context& ctx, const YAML::Node& node, const std::string& path,
                  const Config& cfg, const PolicyConfig& policy) {
  MapReader m(node, path, {"max_level", "max_duration", "credential"});
  JitConfig j;
  if (!node.IsDefined() || node.IsNull()) return j;
  if (!m.has("max_level")) failAt(m.pathOf("max_level"), "is required, e.g. max_level: write");
  auto level =
      static_cast<AccessLevel>(readChoice(ctx, m.get("max_level"), m.pathOf("max_level"), kLevels));
  if (level <= policy.access) {
    failAt(m.pathOf("max_level"),
           fmt::format("must be a higher level than access ({}): a grant adds access",
                       kLevels[static_cast<size_t>(policy.access)]));
  }
  j.max_level = level;
  if (m.has("max_duration")) {
    j.max_duration = readDuration(ctx, m.get("max_duration"), m.pathOf("max_duration"), false);
  }
  if (m.has("credential")) {
    j.credential = readString(ctx, m.get("credential"), m.pathOf("credential"));
    for (const auto& [conn, cred] : policy.credentials) {
      const Connection& c = cfg.connections.at(conn);
      if (c.credentials.count(j.credential) == 0) {
        failAt(m.pathOf("credential"),
               fmt::format("'{}' is not a credential of connection '{}'", j.credential, conn));
      }
    }
  }
  return j;
}

}  // namespace pgw::config::detail
