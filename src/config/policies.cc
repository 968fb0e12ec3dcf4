/// The `policies:` section: who may use which connection, as which database
/// credential, with which access level and rules. Keep in step with
/// docs/policy.md. Also: finding the line of a key path in the YAML text, so
/// tools can print "file:line" for any config error.

#include "config/policies.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <exception>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/audit.h"
#include "config/control.h"
#include "config/mask.h"

namespace pgw::config::detail {
namespace {

constexpr std::array<std::string_view, 4> kAccessLevels = {"read", "write", "ddl", "admin"};

bool isPolicyName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_' || c == '-' || c == '.';
  });
}

std::string joinList(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

std::string credentialNames(const Connection& conn) {
  std::vector<std::string> names;
  for (const auto& [name, cred] : conn.credentials) names.push_back(name);
  return joinList(names);
}

void readSubjects(const Context& ctx, const YAML::Node& node, const std::string& path,
                  PolicyConfig& p) {
  if (!node.IsDefined()) {
    failAt(path, "is required; e.g. subjects: { groups: [ai-agents] } (\"*\" matches everyone)");
  }
  MapReader m(node, path, {"groups", "ids"});
  p.subject_groups = readStringList(ctx, m.get("groups"), m.pathOf("groups"));
  p.subject_ids = readStringList(ctx, m.get("ids"), m.pathOf("ids"));
  if (p.subject_groups.empty() && p.subject_ids.empty()) {
    failAt(path,
           "must list at least one group or id (a policy that matches nobody is a mistake; "
           "\"*\" matches everyone)");
  }
}

void readConnectionNames(const Context& ctx, const YAML::Node& node, const std::string& path,
                         const Config& cfg, PolicyConfig& p) {
  if (!node.IsDefined())
    failAt(path, "is required: the connections this policy governs, or [\"*\"]");
  p.connections = readStringList(ctx, node, path);
  if (p.connections.empty()) failAt(path, "must name at least one connection, or \"*\"");
  for (size_t i = 0; i < p.connections.size(); ++i) {
    const std::string& name = p.connections[i];
    const std::string item = indexPath(path, i);
    if (name == "*") {
      if (p.connections.size() > 1) {
        failAt(item, "\"*\" already covers every connection; list it alone");
      }
      continue;
    }
    if (cfg.connections.count(name) == 0) {
      std::vector<std::string> known;
      for (const auto& [n, c] : cfg.connections) known.push_back(n);
      failAt(item, fmt::format("'{}' is not a connection under connections: (known: {})", name,
                               joinList(known)));
    }
    for (size_t j = 0; j < i; ++j) {
      if (p.connections[j] == name) {
        failAt(item, fmt::format("'{}' is listed twice (also {})", name, indexPath(path, j)));
      }
    }
  }
}

/// Resolves the credential of every connection the policy covers.
void resolveCredentials(const Context& ctx, const MapReader& m, const Config& cfg,
                        PolicyConfig& p) {
  std::string wanted;
  if (m.has("credential")) wanted = readString(ctx, m.get("credential"), m.pathOf("credential"));
  for (const auto& [name, conn] : cfg.connections) {
    const bool covered =
        p.connections.front() == "*" ||
        std::find(p.connections.begin(), p.connections.end(), name) != p.connections.end();
    if (!covered) continue;
    if (wanted.empty()) {
      p.credentials.emplace(name, conn.default_credential);
      continue;
    }
    if (conn.credentials.count(wanted) == 0) {
      failAt(m.pathOf("credential"),
             fmt::format("'{}' is not a credential of connection '{}' (its credentials: {}); a "
                         "policy's credential must exist in every connection it lists",
                         wanted, name, credentialNames(conn)));
    }
    p.credentials.emplace(name, wanted);
  }
}

PolicyRuleConfig readRule(const Context& ctx, const YAML::Node& node, const std::string& path,
                          bool review_rule) {
  if (node.IsScalar()) {
    failAt(path, fmt::format("must be a mapping such as {{ kind: {} }} (built-in guardrails are "
                             "on by default and need no deny rule)",
                             node.Scalar()));
  }
  MapReader m(node, path,
              {"kind", "object", "without_where", "function", "table", "writes", "pattern",
               "estimated_rows", "reason"});
  PolicyRuleConfig r;
  auto str = [&](std::string_view key, std::string& out) {
    if (m.has(key)) out = readString(ctx, m.get(key), m.pathOf(key));
  };
  str("kind", r.kind);
  str("object", r.object);
  str("function", r.function);
  str("table", r.table);
  str("pattern", r.pattern);
  str("reason", r.reason);
  if (m.has("without_where")) {
    r.without_where = readBool(ctx, m.get("without_where"), m.pathOf("without_where"));
  }
  if (m.has("writes")) {
    r.writes = readBool(ctx, m.get("writes"), m.pathOf("writes"));
    if (r.table.empty()) {
      failAt(m.pathOf("writes"), "needs table: it narrows a table rule to writes of that table");
    }
  }
  if (m.has("estimated_rows")) {
    if (!review_rule) {
      failAt(m.pathOf("estimated_rows"),
             "is a review rule condition (the planner's estimate is a reason to ask a person, "
             "not proof); move the rule under review:");
    }
    r.estimated_rows = static_cast<double>(
        readInt(ctx, m.get("estimated_rows"), m.pathOf("estimated_rows"), 0, int64_t{1} << 52));
  }
  if (r.kind.empty() && r.object.empty() && !r.without_where && r.function.empty() &&
      r.table.empty() && r.pattern.empty() && !r.estimated_rows) {
    failAt(path,
           "must set at least one of kind, object, without_where, function, table, pattern, "
           "estimated_rows");
  }
  return r;
}

std::vector<PolicyRuleConfig> readRules(const Context& ctx, const YAML::Node& node,
                                        const std::string& path, bool review_rules) {
  std::vector<PolicyRuleConfig> out;
  std::vector<YAML::Node> items = readList(node, path);
  for (size_t i = 0; i < items.size(); ++i)
    out.push_back(readRule(ctx, items[i], indexPath(path, i), review_rules));
  return out;
}

void readPolicyLimits(const Context& ctx, const YAML::Node& node, const std::string& path,
                      PolicyLimits& limits) {
  MapReader m(node, path, {"statement_timeout", "max_rows"});
  if (m.has("statement_timeout")) {
    limits.statement_timeout =
        readDuration(ctx, m.get("statement_timeout"), m.pathOf("statement_timeout"), false);
  }
  if (m.has("max_rows")) {
    limits.max_rows = static_cast<uint64_t>(
        readInt(ctx, m.get("max_rows"), m.pathOf("max_rows"), 1, int64_t{1} << 50));
  }
}

PolicyConfig readPolicy(const Context& ctx, const YAML::Node& node, const std::string& path,
                        const Config& cfg) {
  MapReader m(node, path,
              {"name", "subjects", "connections", "credential", "access", "review_access", "deny",
               "review", "allow", "limits", "audit", "mask", "approval", "jit"});
  PolicyConfig p;
  if (!m.has("name")) failAt(m.pathOf("name"), "is required");
  p.name = readString(ctx, m.get("name"), m.pathOf("name"));
  if (!isPolicyName(p.name)) {
    failAt(m.pathOf("name"),
           fmt::format("'{}': policy names may hold only letters, digits, '_', '.' and '-' (at "
                       "most 63 characters)",
                       p.name));
  }
  readSubjects(ctx, m.get("subjects"), m.pathOf("subjects"), p);
  readConnectionNames(ctx, m.get("connections"), m.pathOf("connections"), cfg, p);
  resolveCredentials(ctx, m, cfg, p);
  if (m.has("access")) {
    p.access = static_cast<AccessLevel>(
        readChoice(ctx, m.get("access"), m.pathOf("access"), kAccessLevels));
  }
  if (m.has("review_access")) {
    auto level = static_cast<AccessLevel>(
        readChoice(ctx, m.get("review_access"), m.pathOf("review_access"), kAccessLevels));
    if (level <= p.access) {
      failAt(m.pathOf("review_access"),
             fmt::format("must be a higher level than access ({}): statements within access are "
                         "allowed without review",
                         kAccessLevels[static_cast<size_t>(p.access)]));
    }
    p.review_access = level;
  }
  p.deny = readRules(ctx, m.get("deny"), m.pathOf("deny"), false);
  p.review = readRules(ctx, m.get("review"), m.pathOf("review"), true);
  p.allow = readStringList(ctx, m.get("allow"), m.pathOf("allow"));
  readPolicyLimits(ctx, m.get("limits"), m.pathOf("limits"), p.limits);
  p.audit_parameters =
      readPolicyAudit(ctx, m.get("audit"), m.pathOf("audit"), cfg.audit.parameters);
  p.mask = readMaskRules(ctx, m.get("mask"), m.pathOf("mask"), !cfg.masking.hash_key.empty());
  p.approval = readApproval(ctx, m.get("approval"), m.pathOf("approval"));
  p.jit = readJit(ctx, m.get("jit"), m.pathOf("jit"), cfg, p);
  return p;
}

}  // namespace

void readPolicies(const Context& ctx, const YAML::Node& node, Config& cfg) {
  std::vector<YAML::Node> items = readList(node, "policies");
  for (size_t i = 0; i < items.size(); ++i) {
    const std::string path = indexPath("policies", i);
    PolicyConfig p = readPolicy(ctx, items[i], path, cfg);
    for (size_t j = 0; j < cfg.policies.size(); ++j) {
      if (cfg.policies[j].name == p.name) {
        failAt(childPath(path, "name"), fmt::format("duplicate policy name '{}' (also {})", p.name,
                                                    indexPath("policies", j)));
      }
    }
    cfg.policies.push_back(std::move(p));
  }
}

}  // namespace pgw::config::detail

namespace pgw::config {
namespace {

/// The 0-based line of a node, or -1 when yaml-cpp has no position for it.
int markLine(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line : -1;
}

}  // namespace

std::optional<int> keyPathLine(const std::string& yaml, std::string_view key_path) {
  YAML::Node node;
  try {
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml);
    if (docs.size() != 1) return std::nullopt;
    node = docs.front();
  } catch (const std::exception&) {
    return std::nullopt;
  }
  int line = -1;
  std::string_view rest = key_path;
  while (!rest.empty()) {
    if (rest.front() == '.') {
      rest.remove_prefix(1);
      continue;
    }
    if (rest.front() == '[') {
      size_t close = rest.find(']');
      size_t index = 0;
      if (close == std::string_view::npos || !node.IsSequence()) break;
      auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + close, index);
      if (ec != std::errc() || end != rest.data() + close || index >= node.size()) break;
      node = node[index];
      if (int l = markLine(node); l >= 0) line = l;
      rest.remove_prefix(close + 1);
      continue;
    }
    if (!node.IsMap()) break;
    // Keys may themselves hold dots (claim names): take the longest key that
    // is followed by a separator or the end of the path.
    YAML::Node best_key, best_value;
    size_t best_len = 0;
    for (const auto& kv : node) {
      if (!kv.first.IsScalar()) continue;
      const std::string& key = kv.first.Scalar();
      if (key.size() <= best_len || rest.substr(0, key.size()) != key) continue;
      if (key.size() < rest.size() && rest[key.size()] != '.' && rest[key.size()] != '[') continue;
      best_key = kv.first;
      best_value = kv.second;
      best_len = key.size();
    }
    if (best_len == 0) break;
    if (int l = markLine(best_key); l >= 0) line = l;
    node = best_value;
    rest.remove_prefix(best_len);
  }
  if (line < 0) return std::nullopt;
  return line + 1;
}

std::optional<int> errorLine(const std::string& yaml, std::string_view message) {
  constexpr std::string_view kPrefix = "config: ";
  if (message.substr(0, kPrefix.size()) == kPrefix) message.remove_prefix(kPrefix.size());
  const size_t colon = message.find(": ");
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view where = message.substr(0, colon);
  constexpr std::string_view kLine = "line ";
  if (where.substr(0, kLine.size()) == kLine) {
    int line = 0;
    auto [end, ec] =
        std::from_chars(where.data() + kLine.size(), where.data() + where.size(), line);
    if (ec == std::errc() && line > 0) return line;
    return std::nullopt;
  }
  return keyPathLine(yaml, where);
}

}  // namespace pgw::config
