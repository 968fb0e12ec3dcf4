#pragma once
/// Masking rules of a policy (`policies[].mask`) as plain data. The mask
/// module compiles them (mask/rules.h): it compiles custom RE2 patterns and
/// resolves the hash key; everything the loader can check without RE2 is
/// checked here, with the key path. Reference: docs/masking.md.

#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace pgw::config {

/// The mask function of a rule (`with:`).
enum class MaskWith { Redact, Partial, Email, Hash, Null, FormatPreserving, TruncateDate, Round };

/// `truncate_date`'s `to:`.
enum class DateUnit { Year, Month, Day };

/// One content detector of a `detect:` rule: a built-in (`builtin` set) or a
/// custom RE2 pattern (`pattern` set, `name` names it in the audit trail).
struct MaskDetectorConfig {
  std::string builtin;  ///< email, phone, credit_card, ssn, iban, ipv4, ipv6, jwt, api_key
  std::string pattern;  ///< RE2, compiled by the mask module
  std::string name;     ///< custom detectors: default "pattern"
};

/// One entry of `policies[].mask`. Exactly one of `column` and `detect` is set.
struct MaskRuleConfig {
  /// "schema.table.column", "table.column" (any schema) or "column" (any
  /// table); `*` globs within a part; case-insensitive.
  std::string column;
  std::vector<MaskDetectorConfig> detect;
  MaskWith with = MaskWith::Redact;
  std::string text = "***";       ///< redact: the replacement text
  int keep_first = 0;             ///< partial: characters kept at the start
  int keep_last = 0;              ///< partial: characters kept at the end
  DateUnit to = DateUnit::Month;  ///< truncate_date
  int digits = 0;                 ///< round: decimal digits kept (negative: tens, hundreds...)
  int length = 16;                ///< hash: hex characters of the digest kept (8..64)
  /// Subjects the rule does not apply to (`except: { groups, ids }`).
  std::vector<std::string> except_groups;
  std::vector<std::string> except_ids;
};

/// "redact", "partial", ... as written in the config.
const char* maskWithName(MaskWith with);

/// The built-in detector names, in documentation order.
const std::vector<std::string>& builtinDetectorNames();

struct Config;

}  // namespace pgw::config

namespace pgw::config::detail {

class Context;

/// Reads the top-level `masking:` section (undefined = the defaults) into
/// `cfg.masking`. Must run before `policies:`.
void readMasking(const Context& ctx, const YAML::Node& node, Config& cfg);

/// Reads `policies[i].mask` (a list; undefined = none). `has_hash_key`:
/// whether `masking.hash_key` is set (hash and format_preserving need it).
/// Throws `LoadError` like every reader.
std::vector<MaskRuleConfig> readMaskRules(const Context& ctx, const YAML::Node& node,
                                          const std::string& path, bool has_hash_key);

}  // namespace pgw::config::detail
