#include "policy/case_file.h"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace pgw::policy {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

Error caseError(int line, const std::string& problem) {
  return fail("", fmt::format("{}: {}", line, problem));
}

std::vector<std::string_view> words(std::string_view s, std::string_view separators) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && separators.find(s[i]) != std::string_view::npos) ++i;
    size_t start = i;
    while (i < s.size() && separators.find(s[i]) == std::string_view::npos) ++i;
    if (i > start) out.push_back(s.substr(start, i - start));
  }
  return out;
}

Result<std::pair<Outcome, std::string>> parseExpectation(std::string_view text) {
  if (size_t hash = text.find('#'); hash != std::string_view::npos) text = text.substr(0, hash);
  std::vector<std::string_view> w = words(text, " \t");
  if (w.empty() || w.size() > 2) {
    return fail("",
                "the expectation must be allow, review, deny or refuse, optionally followed "
                "by a rule (e.g. deny guardrail:truncate)");
  }
  static constexpr Outcome kOutcomes[] = {Outcome::Allow, Outcome::Review, Outcome::Deny,
                                          Outcome::Refuse};
  for (Outcome o : kOutcomes) {
    if (w[0] == outcomeName(o)) return std::make_pair(o, std::string(w.size() > 1 ? w[1] : ""));
  }
  return fail("",
              fmt::format("unknown outcome '{}' (expected allow, review, deny or refuse)", w[0]));
}

/// Splits one logical line into a case.
Result<PolicyCase> parseCase(std::string_view text, int line) {
  const size_t first = text.find('|');
  const size_t second = first == std::string_view::npos ? first : text.find('|', first + 1);
  const size_t last = text.rfind('|');
  if (second == std::string_view::npos || last == second) {
    return caseError(line, "expected 'subject | connection | SQL | expectation'");
  }
  PolicyCase c;
  c.line = line;
  c.subject_text = std::string(trim(text.substr(0, first)));
  auto subject = parseSubject(c.subject_text);
  if (!subject) return caseError(line, subject.error().message);
  c.subject = std::move(*subject);
  c.connection = std::string(trim(text.substr(first + 1, second - first - 1)));
  if (c.connection.empty()) return caseError(line, "the connection is empty");
  c.sql = std::string(trim(text.substr(second + 1, last - second - 1)));
  if (c.sql.empty()) return caseError(line, "the SQL is empty");
  auto expected = parseExpectation(text.substr(last + 1));
  if (!expected) return caseError(line, expected.error().message);
  c.expected = expected->first;
  c.rule = std::move(expected->second);
  return c;
}

Outcome outcomeOf(Verdict v) {
  switch (v) {
    case Verdict::Allow:
      return Outcome::Allow;
    case Verdict::Review:
      return Outcome::Review;
    case Verdict::Deny:
      return Outcome::Deny;
  }
  return Outcome::Deny;
}

}  // namespace

std::string_view outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::Allow:
      return "allow";
    case Outcome::Review:
      return "review";
    case Outcome::Deny:
      return "deny";
    case Outcome::Refuse:
      return "refuse";
  }
  return "unknown";
}

Result<auth::Subject> parseSubject(std::string_view text) {
  auth::Subject s;
  s.issuer = "pgwarden:policy-test";
  text = trim(text);
  if (text == "-") return s;
  std::vector<std::string_view> tokens = words(text, " \t,");
  if (tokens.empty()) {
    return fail("", "the subject is empty (use id:<id>, group:<group>, or - for neither)");
  }
  for (std::string_view t : tokens) {
    if (t.substr(0, 3) == "id:" && t.size() > 3) {
      if (!s.id.empty()) return fail("", fmt::format("subject '{}' has two ids", text));
      s.id = std::string(t.substr(3));
      s.display_name = s.id;
    } else if (t.substr(0, 6) == "group:" && t.size() > 6) {
      s.groups.emplace_back(t.substr(6));
    } else {
      return fail("", fmt::format("'{}' is not id:<id> or group:<group>", t));
    }
  }
  return s;
}

Result<CaseFile> parseCaseFile(std::string_view text, const std::string& base_dir) {
  CaseFile file;
  std::string logical;
  int logical_line = 0;
  int line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view raw = text.substr(pos, nl == std::string_view::npos ? nl : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);

    std::string_view body = trim(raw);
    if (logical.empty() && (body.empty() || body.front() == '#')) continue;
    if (logical.empty()) logical_line = line_no;
    const bool continued = !body.empty() && body.back() == '\\';
    if (continued) body.remove_suffix(1);
    if (!logical.empty()) logical += '\n';
    logical += body;
    if (continued) {
      if (pos > text.size()) return caseError(logical_line, "the last line ends with '\\'");
      continue;
    }

    std::string_view entry = trim(logical);
    if (entry.substr(0, 7) == "@config") {
      std::string_view path = trim(entry.substr(7));
      if (path.empty()) return caseError(logical_line, "@config needs a path");
      if (!file.config.empty()) return caseError(logical_line, "@config is given twice");
      std::filesystem::path p(path);
      if (p.is_relative() && !base_dir.empty()) p = std::filesystem::path(base_dir) / p;
      file.config = p.lexically_normal().string();
    } else if (entry.front() == '@') {
      return caseError(logical_line, "unknown directive (the only one is @config)");
    } else {
      auto c = parseCase(entry, logical_line);
      if (!c) return c.takeError();
      file.cases.push_back(std::move(*c));
    }
    logical.clear();
  }
  return file;
}

Result<CaseFile> loadCaseFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail("", fmt::format("{}: cannot read the case file", path));
  std::ostringstream text;
  text << in.rdbuf();
  std::error_code ec;
  const std::filesystem::path abs = std::filesystem::absolute(path, ec);
  auto file = parseCaseFile(text.str(), ec ? std::string() : abs.parent_path().string());
  if (!file) return fail("", fmt::format("{}:{}", path, file.error().message));
  file->path = path;
  return file;
}

CaseResult evaluateCase(const PolicySet& policies, const auth::Subject& subject,
                        std::string_view connection, const std::string& sql,
                        const AnalyzeFn& analyze) {
  CaseResult r;
  const CompiledPolicy* policy = policies.match(subject, connection);
  if (policy == nullptr) {
    r.outcome = Outcome::Refuse;
    r.decision = PolicySet::refusal(subject, connection);
    return r;
  }
  if (!analyze) {
    r.decision.policy = policy->name();
    r.decision.rule = "no_analyzer";
    r.decision.message = "pgwarden: this build has no SQL analyzer";
    r.outcome = Outcome::Deny;
    return r;
  }
  r.decision = policies.decide(*policy, analyze(sql));
  r.outcome = outcomeOf(r.decision.verdict);
  return r;
}

std::vector<CaseFailure> runCases(const PolicySet& policies, const CaseFile& file,
                                  const AnalyzeFn& analyze) {
  std::vector<CaseFailure> failures;
  for (const PolicyCase& c : file.cases) {
    CaseResult r = evaluateCase(policies, c.subject, c.connection, c.sql, analyze);
    const bool rule_ok = c.rule.empty() || c.rule == r.decision.rule;
    if (r.outcome == c.expected && rule_ok) continue;
    CaseFailure f;
    f.expected = &c;
    f.report = fmt::format(
        "{}:{}: {} | {} | {}: expected {}{}{}, got {} {}{}{}", file.path.empty() ? "-" : file.path,
        c.line, c.subject_text, c.connection, c.sql, outcomeName(c.expected),
        c.rule.empty() ? "" : " ", c.rule, outcomeName(r.outcome), r.decision.rule,
        r.decision.policy.empty() ? "" : fmt::format(" (policy \"{}\")", r.decision.policy),
        r.decision.message.empty() ? "" : ": " + r.decision.message);
    f.actual = std::move(r);
    failures.push_back(std::move(f));
  }
  return failures;
}

}  // namespace pgw::policy
