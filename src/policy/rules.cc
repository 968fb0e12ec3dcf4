#include "policy/rules.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "policy/kind_names.h"

namespace pgw::policy::detail {
namespace {

using K = sql::StatementKind;

char lowerChar(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lowerChar(c);
  return out;
}

Error ruleError(const std::string& path, const std::string& problem) {
  return fail("F0000", fmt::format("config: {}: {}", path, problem));
}

/// Kinds that take an object type (CREATE TABLE, DROP INDEX, ...).
constexpr std::array<K, 5> kObjectKinds = {K::Create, K::Alter, K::Drop, K::Rename, K::Comment};

bool takesObject(K kind) {
  return std::find(kObjectKinds.begin(), kObjectKinds.end(), kind) != kObjectKinds.end();
}

bool isObjectName(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

/// "drop_table" -> {Drop, "table"}: the shorthand for kind + object.
std::optional<std::pair<K, std::string>> splitKindObject(std::string_view name) {
  for (K kind : kObjectKinds) {
    const std::string_view prefix = kindName(kind);
    if (name.size() > prefix.size() + 1 && name.substr(0, prefix.size()) == prefix &&
        name[prefix.size()] == '_') {
      std::string object(name.substr(prefix.size() + 1));
      if (isObjectName(object)) return std::make_pair(kind, object);
    }
  }
  return std::nullopt;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  size_t p = 0, t = 0;
  size_t star = std::string_view::npos, resume = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      resume = t;
    } else if (p < pattern.size() && pattern[p] == lowerChar(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

Result<NamePattern> NamePattern::parse(std::string_view text, const std::string& path) {
  NamePattern out;
  out.text_ = std::string(text);
  const std::string low = lower(text);
  if (low.empty() || std::any_of(low.begin(), low.end(), [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) != 0 || c == '"';
      })) {
    return ruleError(path, fmt::format("'{}' must be name or schema.name, without spaces or "
                                       "quotes (`*` matches any characters)",
                                       text));
  }
  const size_t dot = low.find('.');
  if (dot == std::string::npos) {
    out.name_ = low;
    return out;
  }
  if (low.find('.', dot + 1) != std::string::npos || dot == 0 || dot + 1 == low.size()) {
    return ruleError(path, fmt::format("'{}' must be name or schema.name", text));
  }
  out.schema_ = low.substr(0, dot);
  out.name_ = low.substr(dot + 1);
  return out;
}

bool NamePattern::matches(std::string_view schema, std::string_view name) const {
  if (!globMatch(name_, name)) return false;
  return schema_.empty() || schema.empty() || globMatch(schema_, schema);
}

Result<CompiledRule> CompiledRule::compile(const config::PolicyRuleConfig& rule,
                                           const std::string& path, std::string label) {
  CompiledRule out;
  out.label_ = std::move(label);
  out.reason_ = rule.reason;
  out.estimated_rows_ = rule.estimated_rows;
  out.object_ = lower(rule.object);
  out.without_where_ = rule.without_where;
  out.writes_only_ = rule.writes;

  if (!rule.kind.empty()) {
    const std::string kind_path = path + ".kind";
    if (auto kind = kindFromName(rule.kind)) {
      out.kind_ = *kind;
    } else if (auto split = splitKindObject(rule.kind)) {
      if (!out.object_.empty()) {
        return ruleError(kind_path, fmt::format("'{}' already names the object type; remove "
                                                "object or write kind: {}",
                                                rule.kind, kindName(split->first)));
      }
      out.kind_ = split->first;
      out.object_ = split->second;
    } else {
      return ruleError(kind_path,
                       fmt::format("unknown statement kind '{}' (kinds are lower case, e.g. "
                                   "select, delete, drop, drop_table, truncate, copy_to_program; "
                                   "see docs/policy.md)",
                                   rule.kind));
    }
  }
  if (!out.object_.empty()) {
    if (!isObjectName(out.object_)) {
      return ruleError(path + ".object",
                       fmt::format("'{}' must be an object type such as table, index, view, "
                                   "function, schema (lower case, '_' between words)",
                                   rule.object));
    }
    if (out.kind_ && !takesObject(*out.kind_)) {
      return ruleError(path + ".object",
                       fmt::format("applies only to kinds create, alter, drop, rename and "
                                   "comment, not {}",
                                   kindName(*out.kind_)));
    }
  }
  if (out.without_where_ && out.kind_ && *out.kind_ != K::Delete && *out.kind_ != K::Update) {
    return ruleError(
        path + ".without_where",
        fmt::format("applies only to kinds delete and update, not {}", kindName(*out.kind_)));
  }
  if (!rule.function.empty()) {
    auto f = NamePattern::parse(rule.function, path + ".function");
    if (!f) return f.takeError();
    out.function_ = std::move(*f);
  }
  if (!rule.table.empty()) {
    auto t = NamePattern::parse(rule.table, path + ".table");
    if (!t) return t.takeError();
    out.table_ = std::move(*t);
  }
  if (!rule.pattern.empty()) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const RE2>(rule.pattern, options);
    if (!re->ok()) {
      return ruleError(path + ".pattern",
                       fmt::format("invalid regular expression (RE2 syntax): {}", re->error()));
    }
    out.pattern_ = std::move(re);
  }
  return out;
}

bool CompiledRule::tableMatches(const sql::StatementInfo& stmt, std::string* matched,
                                bool* written) const {
  auto find = [&](const std::vector<sql::RelationRef>& refs, bool is_write) {
    for (const sql::RelationRef& r : refs) {
      if (!table_->matches(r.schema, r.name)) continue;
      if (matched != nullptr) *matched = r.schema.empty() ? r.name : r.schema + "." + r.name;
      *written = is_write;
      return true;
    }
    return false;
  };
  if (find(stmt.relations_written, true)) return true;
  return !writes_only_ && find(stmt.relations_read, false);
}

bool CompiledRule::matches(const sql::StatementInfo& stmt, std::string* what) const {
  if (kind_ && stmt.kind != *kind_) return false;
  if (!object_.empty() && (!takesObject(stmt.kind) || lower(stmt.object_type) != object_)) {
    return false;
  }
  if (without_where_ && !stmt.missing_where) return false;

  std::string table_name;
  bool written = false;
  if (table_ && !tableMatches(stmt, what != nullptr ? &table_name : nullptr, &written)) {
    return false;
  }
  const sql::FunctionRef* function = nullptr;
  if (function_) {
    auto it = std::find_if(
        stmt.functions.begin(), stmt.functions.end(),
        [&](const sql::FunctionRef& f) { return function_->matches(f.schema, f.name); });
    if (it == stmt.functions.end()) return false;
    function = &*it;
  }
  if (pattern_) {
    const std::string& text = stmt.normalized.empty() ? stmt.text : stmt.normalized;
    if (!RE2::PartialMatch(text, *pattern_)) return false;
  }

  if (what != nullptr) {
    *what = kindDisplay(stmt.kind, stmt.object_type);
    if (without_where_) *what += " without WHERE";
    if (table_) *what += fmt::format(" {} table {}", written ? "writing" : "reading", table_name);
    if (function != nullptr) *what += fmt::format(" calling {}()", lower(function->name));
    if (pattern_) *what += " matching the rule's pattern";
  }
  return true;
}

}  // namespace pgw::policy::detail
