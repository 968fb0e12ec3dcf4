/// `policies[].mask` and the top-level `masking:` section. Keep in step with
/// docs/masking.md. Custom patterns are compiled (RE2) by the mask module,
/// which reports with the same key paths.

#include "config/mask.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "config/config.h"
#include "config/yaml_reader.h"

namespace pgw::config {

namespace {

constexpr std::array<std::string_view, 8> kWith = {
    "redact", "partial", "email", "hash", "null", "format_preserving", "truncate_date", "round"};
constexpr std::array<std::string_view, 3> kDateUnits = {"year", "month", "day"};
constexpr std::array<std::string_view, 2> kOnUntraceable = {"mask", "deny"};

/// HMAC keys shorter than this are guessable by brute force over the masked
/// values' small domains (phone numbers, dates of birth).
constexpr size_t kMinHashKey = 16;

}  // namespace

const char* maskWithName(MaskWith with) {
  return kWith[static_cast<size_t>(with)].data();
}

const std::vector<std::string>& builtinDetectorNames() {
  static const std::vector<std::string> names = {"email", "phone", "credit_card", "ssn",    "iban",
                                                 "ipv4",  "ipv6",  "jwt",         "api_key"};
  return names;
}

}  // namespace pgw::config

namespace pgw::config::detail {
namespace {

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

/// `schema.table.column` with 1 to 3 non-empty parts.
void checkColumnPattern(const std::string& column, const std::string& path) {
  size_t parts = 1;
  size_t start = 0;
  for (size_t i = 0; i <= column.size(); ++i) {
    if (i < column.size() && column[i] != '.') continue;
    if (i == start) {
      failAt(path, fmt::format("'{}' has an empty name part; write schema.table.column, "
                               "table.column or column (\"*\" globs)",
                               column));
    }
    if (i < column.size()) ++parts;
    start = i + 1;
  }
  if (parts > 3) {
    failAt(path,
           fmt::format("'{}' has {} dotted parts; at most 3 (schema.table.column)", column, parts));
  }
}

/// A custom detector's name: it appears in the audit trail as `mask[N]:<name>`.
bool isDetectorName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '_' && c != '-') return false;
  }
  return true;
}

MaskDetectorConfig readDetector(const Context& ctx, const YAML::Node& node,
                                const std::string& path) {
  MaskDetectorConfig d;
  if (node.IsScalar()) {
    d.builtin = readString(ctx, node, path);
    const auto& names = builtinDetectorNames();
    if (std::find(names.begin(), names.end(), d.builtin) == names.end()) {
      failAt(path, fmt::format("'{}' is not a built-in detector (known: {}); for your own write "
                               "{{ pattern: \"<RE2>\", name: <name> }}",
                               d.builtin, joined(names)));
    }
    return d;
  }
  MapReader m(node, path, {"pattern", "name"});
  if (!m.has("pattern")) failAt(m.pathOf("pattern"), "is required: an RE2 regular expression");
  d.pattern = readString(ctx, m.get("pattern"), m.pathOf("pattern"));
  d.name = "pattern";
  if (m.has("name")) {
    d.name = readString(ctx, m.get("name"), m.pathOf("name"));
    if (!isDetectorName(d.name)) {
      failAt(m.pathOf("name"), "may hold only letters, digits, '_' and '-' (at most 63)");
    }
  }
  return d;
}

std::vector<MaskDetectorConfig> readDetectors(const Context& ctx, const YAML::Node& node,
                                              const std::string& path) {
  std::vector<MaskDetectorConfig> out;
  if (node.IsScalar() || node.IsMap()) {
    out.push_back(readDetector(ctx, node, path));
    return out;
  }
  std::vector<YAML::Node> items = readList(node, path);
  if (items.empty()) failAt(path, "must name at least one detector");
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back(readDetector(ctx, items[i], indexPath(path, i)));
    const MaskDetectorConfig& d = out.back();
    for (size_t j = 0; j + 1 < out.size(); ++j) {
      if (!d.builtin.empty() && out[j].builtin == d.builtin) {
        failAt(indexPath(path, i),
               fmt::format("'{}' is listed twice (also {})", d.builtin, indexPath(path, j)));
      }
    }
  }
  return out;
}

/// Which `with:` each parameter belongs to; a parameter of another function
/// is a mistake worth reporting (it would silently do nothing).
void checkParamOwners(const MapReader& m, MaskWith with) {
  struct Owner {
    std::string_view key;
    MaskWith with;
  };
  static constexpr std::array<Owner, 6> kOwners = {{{"text", MaskWith::Redact},
                                                    {"keep_first", MaskWith::Partial},
                                                    {"keep_last", MaskWith::Partial},
                                                    {"to", MaskWith::TruncateDate},
                                                    {"digits", MaskWith::Round},
                                                    {"length", MaskWith::Hash}}};
  for (const Owner& o : kOwners) {
    if (m.has(o.key) && o.with != with) {
      failAt(m.pathOf(o.key), fmt::format("belongs to with: {}, not with: {}", maskWithName(o.with),
                                          maskWithName(with)));
    }
  }
}

MaskRuleConfig readMaskRule(const Context& ctx, const YAML::Node& node, const std::string& path,
                            bool has_hash_key) {
  if (!node.IsMap()) {
    failAt(path,
           "must be a mapping such as { column: public.users.email, with: email } or "
           "{ detect: [credit_card], with: redact }");
  }
  MapReader m(node, path,
              {"column", "detect", "with", "text", "keep_first", "keep_last", "to", "digits",
               "length", "except"});
  MaskRuleConfig r;
  if (m.has("column") == m.has("detect")) {
    failAt(path, "must set exactly one of column (which columns) and detect (what content)");
  }
  if (m.has("column")) {
    r.column = readString(ctx, m.get("column"), m.pathOf("column"));
    checkColumnPattern(r.column, m.pathOf("column"));
  } else {
    r.detect = readDetectors(ctx, m.get("detect"), m.pathOf("detect"));
  }
  if (!m.has("with")) {
    failAt(m.pathOf("with"),
           "is required: redact, partial, email, hash, null, "
           "format_preserving, truncate_date or round");
  }
  r.with = static_cast<MaskWith>(readChoice(ctx, m.get("with"), m.pathOf("with"), kWith));
  checkParamOwners(m, r.with);

  if (!r.detect.empty() && (r.with == MaskWith::TruncateDate || r.with == MaskWith::Round)) {
    failAt(m.pathOf("with"),
           fmt::format("{} works on whole date or number values; use it with column:, not with "
                       "detect: (a detector finds spans inside text)",
                       maskWithName(r.with)));
  }
  if ((r.with == MaskWith::Hash || r.with == MaskWith::FormatPreserving) && !has_hash_key) {
    failAt(m.pathOf("with"),
           fmt::format("{} needs masking.hash_key (a secret of at least {} bytes, e.g. "
                       "\"${{env:PGW_MASK_KEY}}\"): the key makes its output impossible to "
                       "reverse by guessing",
                       maskWithName(r.with), kMinHashKey));
  }
  if (m.has("text")) {
    r.text = readString(ctx, m.get("text"), m.pathOf("text"));
    if (r.text.size() > 256) failAt(m.pathOf("text"), "is longer than 256 bytes");
  }
  if (m.has("keep_first")) {
    r.keep_first =
        static_cast<int>(readInt(ctx, m.get("keep_first"), m.pathOf("keep_first"), 0, 64));
  }
  if (m.has("keep_last")) {
    r.keep_last = static_cast<int>(readInt(ctx, m.get("keep_last"), m.pathOf("keep_last"), 0, 64));
  }
  if (r.with == MaskWith::Partial && r.keep_first == 0 && r.keep_last == 0) {
    failAt(path,
           "with: partial needs keep_first and/or keep_last (to hide everything, use "
           "with: redact)");
  }
  if (r.with == MaskWith::TruncateDate) {
    if (!m.has("to")) failAt(m.pathOf("to"), "is required with truncate_date: year, month or day");
    r.to = static_cast<DateUnit>(readChoice(ctx, m.get("to"), m.pathOf("to"), kDateUnits));
  }
  if (r.with == MaskWith::Round) {
    if (!m.has("digits")) {
      failAt(m.pathOf("digits"),
             "is required with round: decimal digits kept, e.g. 0, 2, or -3 "
             "for thousands");
    }
    r.digits = static_cast<int>(readInt(ctx, m.get("digits"), m.pathOf("digits"), -30, 30));
  }
  if (m.has("length")) {
    r.length = static_cast<int>(readInt(ctx, m.get("length"), m.pathOf("length"), 8, 64));
  }
  if (m.has("except")) {
    MapReader e(m.get("except"), m.pathOf("except"), {"groups", "ids"});
    r.except_groups = readStringList(ctx, e.get("groups"), e.pathOf("groups"));
    r.except_ids = readStringList(ctx, e.get("ids"), e.pathOf("ids"));
    if (r.except_groups.empty() && r.except_ids.empty()) {
      failAt(m.pathOf("except"), "must list at least one group or id");
    }
  }
  return r;
}

}  // namespace

void readMasking(const Context& ctx, const YAML::Node& node, Config& cfg) {
  MapReader m(node, "masking", {"hash_key", "on_untraceable", "catalog_ttl"});
  if (m.has("hash_key")) {
    cfg.masking.hash_key = readSecret(ctx, m.get("hash_key"), m.pathOf("hash_key"));
    if (cfg.masking.hash_key.reveal().size() < kMinHashKey) {
      failAt(m.pathOf("hash_key"),
             fmt::format("must be at least {} bytes (e.g. `openssl rand -hex 32`)", kMinHashKey));
    }
  }
  if (m.has("on_untraceable")) {
    cfg.masking.on_untraceable = static_cast<OnUntraceable>(
        readChoice(ctx, m.get("on_untraceable"), m.pathOf("on_untraceable"), kOnUntraceable));
  }
  if (m.has("catalog_ttl")) {
    cfg.masking.catalog_ttl =
        readDuration(ctx, m.get("catalog_ttl"), m.pathOf("catalog_ttl"), false);
  }
}

std::vector<MaskRuleConfig> readMaskRules(const Context& ctx, const YAML::Node& node,
                                          const std::string& path, bool has_hash_key) {
  std::vector<MaskRuleConfig> out;
  if (node.IsDefined() && !node.IsNull() && !node.IsSequence()) {
    failAt(path, "must be a list of rules, e.g. [{ column: public.users.email, with: email }]");
  }
  std::vector<YAML::Node> items = readList(node, path);
  for (size_t i = 0; i < items.size(); ++i) {
    out.push_back(readMaskRule(ctx, items[i], indexPath(path, i), has_hash_key));
  }
  return out;
}

}  // namespace pgw::config::detail
