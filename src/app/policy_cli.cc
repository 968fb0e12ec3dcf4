#include "app/policy_cli.h"

#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>

#include "config/config.h"
#include "policy/policy_set.h"

namespace pgw::app {
namespace {

constexpr int kAllow = 0;
constexpr int kDeny = 1;
constexpr int kBadInput = 2;
constexpr int kReview = 3;

/// A config and its compiled policies, or the exit code after reporting.
struct Loaded {
  std::shared_ptr<const config::Config> config;
  std::shared_ptr<const policy::PolicySet> policies;
  std::string text;  ///< the file's text, to find lines
};

std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  if (in) text << in.rdbuf();
  return text.str();
}

/// "F:LINE: problem" (or "F: problem") for a "config: <path>: <problem>" message.
std::string located(const std::string& file, const std::string& text, const std::string& message,
                    std::string_view prefix = "") {
  constexpr std::string_view kConfig = "config: ";
  std::string_view body = message;
  if (body.substr(0, kConfig.size()) == kConfig) body.remove_prefix(kConfig.size());
  if (body.substr(0, file.size()) == file) return fmt::format("pgwarden: {}{}", prefix, body);
  // Invalid YAML: "line L, column C: problem" -> "F:L:C: problem".
  int yaml_line = 0, yaml_column = 0;
  if (std::sscanf(std::string(body).c_str(), "line %d, column %d: ", &yaml_line, &yaml_column) ==
      2) {
    const size_t colon = body.find(": ");
    return fmt::format("{}:{}:{}: {}{}", file, yaml_line, yaml_column, prefix,
                       body.substr(colon + 2));
  }
  const std::optional<int> line = config::errorLine(text, message);
  if (line) return fmt::format("{}:{}: {}{}", file, *line, prefix, body);
  return fmt::format("{}: {}{}", file, prefix, body);
}

std::optional<Loaded> load(const std::string& path, std::ostream& err) {
  Loaded l;
  auto cfg = config::loadConfig(path);
  if (!cfg) {
    l.text = readText(path);
    err << located(path, l.text, cfg.error().message) << "\n";
    return std::nullopt;
  }
  l.text = readText(path);
  l.config = *cfg;
  auto set = policy::PolicySet::compile(*l.config);
  if (!set) {
    err << located(path, l.text, set.error().message) << "\n";
    return std::nullopt;
  }
  l.policies = *set;
  return l;
}

void printWarnings(const std::string& path, const Loaded& l, std::ostream& err) {
  for (const std::string& w : l.policies->warnings()) {
    err << located(path, l.text, w, "warning: ") << "\n";
  }
}

int runCheck(const PolicyCommandState& state, std::ostream& out, std::ostream& err) {
  auto l = load(state.config_path, err);
  if (!l) return kBadInput;
  printWarnings(state.config_path, *l, err);
  const auto& policies = l->policies->policies();
  out << fmt::format("{}: OK ({} {}, {} {})\n", state.config_path, policies.size(),
                     policies.size() == 1 ? "policy" : "policies", l->config->connections.size(),
                     l->config->connections.size() == 1 ? "connection" : "connections");
  for (const policy::CompiledPolicy& p : policies) {
    std::string conns;
    for (const auto& [conn, cred] : p.credentials()) {
      if (!conns.empty()) conns += ", ";
      conns += fmt::format("{} as {}", conn, cred);
    }
    out << fmt::format("  {}: {} access on {}; {} deny, {} review rules\n", p.name(),
                       policy::accessName(p.access()), conns, p.denyRules().size(),
                       p.reviewRules().size());
  }
  return kAllow;
}

void printDecision(const policy::Decision& d, const policy::CompiledPolicy* p,
                   std::string_view connection, std::ostream& out) {
  out << policy::verdictName(d.verdict) << "\n";
  out << "rule: " << d.rule << "\n";
  if (!d.policy.empty()) out << "policy: " << d.policy << "\n";
  if (!d.message.empty()) out << "message: " << d.message << "\n";
  if (!d.detail.empty()) out << "detail: " << d.detail << "\n";
  if (!d.hint.empty()) out << "hint: " << d.hint << "\n";
  if (p != nullptr && d.verdict != policy::Verdict::Deny) {
    if (const std::string* cred = p->credential(connection)) {
      out << "credential: " << *cred << "\n";
    }
  }
}

int exitCode(policy::Verdict v) {
  switch (v) {
    case policy::Verdict::Allow:
      return kAllow;
    case policy::Verdict::Review:
      return kReview;
    case policy::Verdict::Deny:
      return kDeny;
  }
  return kDeny;
}

int runOne(const PolicyCommandState& state, const policy::AnalyzeFn& analyze, std::ostream& out,
           std::ostream& err) {
  if (state.config_path.empty() || state.connection.empty() || state.subjects.empty() ||
      state.sql.empty()) {
    err << "pgwarden: policy test needs --config, --subject (one or more), --connection and the "
           "SQL, or --cases FILE\n";
    return kBadInput;
  }
  std::string spec;
  for (const std::string& s : state.subjects) spec += s + " ";
  auto subject = policy::parseSubject(spec);
  if (!subject) {
    err << "pgwarden: --subject: " << subject.error().message << "\n";
    return kBadInput;
  }
  auto l = load(state.config_path, err);
  if (!l) return kBadInput;
  if (l->config->findConnection(state.connection) == nullptr) {
    err << fmt::format("pgwarden: --connection: '{}' is not a connection in {}\n", state.connection,
                       state.config_path);
    return kBadInput;
  }
  policy::CaseResult r =
      policy::evaluateCase(*l->policies, *subject, state.connection, state.sql, analyze);
  const policy::CompiledPolicy* p = l->policies->match(*subject, state.connection);
  printDecision(r.decision, p, state.connection, out);
  return exitCode(r.decision.verdict);
}

int runCaseFile(const PolicyCommandState& state, const policy::AnalyzeFn& analyze,
                std::ostream& out, std::ostream& err) {
  if (!state.subjects.empty() || !state.connection.empty() || !state.sql.empty()) {
    err << "pgwarden: policy test --cases takes no --subject, --connection or SQL\n";
    return kBadInput;
  }
  auto file = policy::loadCaseFile(state.cases_path);
  if (!file) {
    err << "pgwarden: " << file.error().message << "\n";
    return kBadInput;
  }
  const std::string config_path = state.config_path.empty() ? file->config : state.config_path;
  if (config_path.empty()) {
    err << fmt::format("pgwarden: {} has no @config line; pass --config\n", state.cases_path);
    return kBadInput;
  }
  auto l = load(config_path, err);
  if (!l) return kBadInput;
  std::vector<policy::CaseFailure> failures = policy::runCases(*l->policies, *file, analyze);
  for (const policy::CaseFailure& f : failures) out << f.report << "\n";
  out << fmt::format("{}: {} cases, {} failed\n", state.cases_path, file->cases.size(),
                     failures.size());
  return failures.empty() ? kAllow : kDeny;
}

}  // namespace

void addPolicyCommands(CLI::App& app, PolicyCommandState& state) {
  state.policy = app.add_subcommand("policy", "Check policies, and test what they decide");
  state.policy->require_subcommand(1);

  state.check = state.policy->add_subcommand(
      "check", "Validate a config and its policies; problems are printed as FILE:LINE");
  state.check->add_option("-c,--config", state.config_path, "Path to the YAML config")->required();

  state.test = state.policy->add_subcommand(
      "test", "Print the decision for a subject, connection and SQL, or run a case file");
  state.test->add_option("-c,--config", state.config_path, "Path to the YAML config");
  state.test->add_option("--subject", state.subjects,
                         "id:<id> or group:<group>; repeat for several groups");
  state.test->add_option("--connection", state.connection, "A connection name (dbname)");
  state.test->add_option("--cases", state.cases_path,
                         "Run a case file (subject | connection | SQL | expected)");
  state.test->add_option("sql", state.sql, "The SQL to decide");
}

int runPolicyCommand(const PolicyCommandState& state, const policy::AnalyzeFn& analyze) {
  return runPolicyCommand(state, analyze, std::cout, std::cerr);
}

int runPolicyCommand(const PolicyCommandState& state, const policy::AnalyzeFn& analyze,
                     std::ostream& out, std::ostream& err) {
  if (state.check != nullptr && state.check->parsed()) return runCheck(state, out, err);
  if (!analyze) {
    err << "pgwarden: policy test needs the SQL analyzer, which this build does not include\n";
    return kBadInput;
  }
  if (!state.cases_path.empty()) return runCaseFile(state, analyze, out, err);
  return runOne(state, analyze, out, err);
}

}  // namespace pgw::app
