#pragma once
/// Policy case files: a table of (subject, connection, SQL, expected
/// decision) rows, run against a config's policies by `pgwarden policy test
/// --cases FILE` and by the project's tests. Format (docs/policy.md, "Case
/// files"):
///
///   # comment
///   @config pgwarden.yaml      (optional; relative to the case file)
///   group:ai-agents | prod | DELETE FROM t | deny guardrail:delete_without_where
///   id:alice group:dev | prod | SELECT 1; DROP TABLE t | deny
///   group:nobody | prod | SELECT 1 | refuse
///
/// A line ending in a backslash continues on the next line (joined with a
/// newline). Fields are separated by '|': the subject, the connection, the SQL (which
/// may itself hold '|'; the expectation is after the last one) and the
/// expected outcome (`allow`, `review`, `deny` or `refuse`, optionally
/// followed by the exact rule).

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/subject.h"
#include "common/result.h"
#include "policy/policy_set.h"
#include "sql/statement_info.h"

namespace pgw::policy {

/// The SQL analyzer, passed in by the caller (policy does not link it):
/// in the binary `pgw::sql::analyze`, in tests a fake.
using AnalyzeFn = std::function<sql::Analysis(const std::string& sql)>;

/// What a case expects, or what actually happened.
enum class Outcome { Allow, Review, Deny, Refuse };  ///< Refuse: no policy matches the session

/// "allow", "review", "deny", "refuse".
std::string_view outcomeName(Outcome outcome);

struct PolicyCase {
  int line = 0;              ///< 1-based line of the case (its first line when continued)
  std::string subject_text;  ///< as written
  auth::Subject subject;
  std::string connection;
  std::string sql;
  Outcome expected = Outcome::Deny;
  std::string rule;  ///< expected rule; "" = any
};

struct CaseFile {
  std::string path;    ///< the case file, for reports ("" when parsed from text)
  std::string config;  ///< from `@config`, resolved against the file's directory; "" = none
  std::vector<PolicyCase> cases;
};

/// Parses a subject: whitespace- or comma-separated `id:<id>` (at most one)
/// and `group:<group>` tokens, or `-` for a subject with no id and no groups.
Result<auth::Subject> parseSubject(std::string_view text);

/// Parses case-file text; `base_dir` resolves `@config`. Errors: "LINE: problem".
Result<CaseFile> parseCaseFile(std::string_view text, const std::string& base_dir);
/// Reads and parses a file. Errors: "PATH:LINE: problem".
Result<CaseFile> loadCaseFile(const std::string& path);

/// What a session with `subject` on `connection` gets for `sql`.
struct CaseResult {
  Outcome outcome = Outcome::Deny;
  Decision decision;  ///< for Refuse: PolicySet::refusal()
};
CaseResult evaluateCase(const PolicySet& policies, const auth::Subject& subject,
                        std::string_view connection, const std::string& sql,
                        const AnalyzeFn& analyze);

/// A case whose result differs from its expectation.
struct CaseFailure {
  const PolicyCase* expected = nullptr;
  CaseResult actual;
  /// "FILE:LINE: expected deny guardrail:truncate, got allow access:admin (policy \"dba\")"
  std::string report;
};

/// Runs every case; returns the failures (empty = all passed).
std::vector<CaseFailure> runCases(const PolicySet& policies, const CaseFile& file,
                                  const AnalyzeFn& analyze);

}  // namespace pgw::policy
