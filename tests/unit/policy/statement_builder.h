#pragma once
/// Hand-built StatementInfo values for policy tests, standing in for the
/// analyzer's output (src/sql), and a policy set compiled from YAML.

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "config/config.h"
#include "policy/policy_set.h"
#include "sql/statement_info.h"

namespace pgw::policy::testing {

using K = sql::StatementKind;

/// Fluent builder: `Stmt(K::Delete).writes().written("t").noWhere()`.
class Stmt {
 public:
  explicit Stmt(K kind, std::string text = "") {
    s_.kind = kind;
    s_.text = std::move(text);
    s_.normalized = s_.text;
  }
  Stmt& object(std::string type) {
    s_.object_type = std::move(type);
    return *this;
  }
  Stmt& read(std::string name, std::string schema = "") {
    s_.reads = true;
    s_.relations_read.push_back({std::move(schema), std::move(name)});
    return *this;
  }
  Stmt& written(std::string name, std::string schema = "") {
    s_.writes = true;
    s_.relations_written.push_back({std::move(schema), std::move(name)});
    return *this;
  }
  Stmt& writes() {
    s_.writes = true;
    return *this;
  }
  Stmt& fn(std::string name, std::string schema = "") {
    s_.functions.push_back({std::move(schema), std::move(name)});
    return *this;
  }
  Stmt& noWhere() {
    s_.missing_where = true;
    return *this;
  }
  Stmt& cte() {
    s_.data_modifying_cte = true;
    s_.writes = true;
    return *this;
  }
  Stmt& locking() {
    s_.locking_clause = true;
    return *this;
  }
  Stmt& analyze() {
    s_.explain_analyze = true;
    return *this;
  }
  Stmt& dynamic() {
    s_.dynamic_sql = true;
    return *this;
  }
  Stmt& set(std::string name, std::string value) {
    s_.settings.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  Stmt& nested(sql::StatementInfo inner) {
    s_.nested.push_back(std::move(inner));
    return *this;
  }
  Stmt& normalized(std::string text) {
    s_.normalized = std::move(text);
    return *this;
  }
  Stmt& error(std::string message) {
    s_.error = std::move(message);
    return *this;
  }
  operator sql::StatementInfo() const { return s_; }  // NOLINT: implicit by design
  const sql::StatementInfo& info() const { return s_; }

 private:
  sql::StatementInfo s_;
};

/// Parses `yaml` (no files referenced) and compiles its policies; fails the
/// test on error.
inline std::shared_ptr<const PolicySet> compileYaml(const std::string& yaml) {
  auto cfg = config::parseConfig(yaml, "/");
  EXPECT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error().message);
  if (!cfg.ok()) return nullptr;
  auto set = PolicySet::compile(**cfg);
  EXPECT_TRUE(set.ok()) << (set.ok() ? "" : set.error().message);
  return set.ok() ? *set : nullptr;
}

/// The error message of compiling `yaml`'s policies (config errors too); ""
/// when it compiles.
inline std::string compileError(const std::string& yaml) {
  auto cfg = config::parseConfig(yaml, "/");
  if (!cfg.ok()) return cfg.error().message;
  auto set = PolicySet::compile(**cfg);
  return set.ok() ? "" : set.error().message;
}

}  // namespace pgw::policy::testing
