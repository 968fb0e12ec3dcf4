#pragma once
/// The `policies:` section of the gateway's config file, read and replaced
/// over the API (GET/PUT /api/policies, POST /api/policies/validate).
///
/// A replacement is a YAML document whose only top-level key is `policies:`.
/// It is checked as the gateway will load it: spliced into the config file
/// in place of the old section, the whole file parsed
/// (config::parseConfigFile, so connections, secrets and paths resolve as on
/// reload) and its policies compiled (policy::PolicySet::compile). Only a
/// valid result is written, atomically (a temporary file in the same folder
/// with the same permissions, then rename), so the file is never seen half
/// written and an invalid replacement leaves it untouched.
///
/// The splice keeps the rest of the file as it was, comments included: the
/// lines of the old section are replaced by the text sent. When the file's
/// layout does not allow that (a flow-style top level), the file is
/// re-emitted by yaml-cpp instead (same content, comments lost).

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace pgw::api {

struct PolicyIssue {
  std::string message;      ///< "config: policies[1].deny[0].pattern: ..."
  std::optional<int> line;  ///< 1-based line in the YAML that was sent, when known
};

struct PolicyCheck {
  bool valid = false;
  std::vector<PolicyIssue> errors;
  std::vector<PolicyIssue> warnings;      ///< from PolicySet::warnings(); only when it compiles
  std::vector<std::string> policy_names;  ///< valid: the new policies, in order
  std::string config_text;                ///< valid: the whole new config file
};

struct PolicySection {
  std::string yaml;     ///< "policies:\n  - ..." as written in the file ("" when absent)
  nlohmann::json json;  ///< the same section as JSON (null when absent)
};

/// A YAML document as JSON. Plain scalars follow the YAML 1.2 core schema
/// (null, true/false, integers, floats); quoted scalars stay strings.
/// Errors: the YAML does not parse.
Result<nlohmann::json> yamlToJson(const std::string& yaml);

class PolicyEditor {
 public:
  /// `config_path`: the file the gateway loads (and reloads).
  explicit PolicyEditor(std::string config_path);

  /// The section as it is in the file now. Errors: the file cannot be read
  /// or does not parse (sqlstate "409").
  Result<PolicySection> current() const;

  /// Whether `yaml` would be a valid replacement; nothing is written. Errors
  /// (not the caller's YAML but the file's state): the config file cannot be
  /// read or is not YAML itself.
  Result<PolicyCheck> check(const std::string& yaml) const;

  /// check(), then, when valid, writes the new file atomically. The old file
  /// is left as it was when the replacement is invalid or writing fails.
  Result<PolicyCheck> replace(const std::string& yaml) const;

  /// Replaces the whole file with `text`, atomically, keeping its
  /// permissions (and owner, where allowed). Follows a symbolic link to
  /// the file it names.
  Status write(const std::string& text) const;

  /// The file's text now.
  Result<std::string> read() const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pgw::api
