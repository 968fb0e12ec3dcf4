#pragma once
/// A policy's `mask:` rules compiled once (at load and reload) into an
/// immutable CompiledMaskRules, read by every session without locks:
///
///   auto rules = compileMaskRules(policy.mask, cfg.masking.hash_key.reveal(),
///                                 "policies[0].mask");
///   const MaskSpec* spec = rules->forColumn("public", "users", "email",
///                                           subject.groups, subject.id);
///   uint64_t detect = rules->detectorsFor(subject.groups, subject.id);
///
/// Column rules are tried in file order; the first whose pattern matches and
/// that applies to the subject (not exempted by `except:`) masks the column.
/// Reference: docs/masking.md.

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/mask.h"
#include "mask/detectors.h"
#include "mask/spec.h"

namespace pgw::mask {

class CompiledMaskRules {
 public:
  CompiledMaskRules();
  CompiledMaskRules(CompiledMaskRules&&) noexcept;
  CompiledMaskRules& operator=(CompiledMaskRules&&) noexcept;
  ~CompiledMaskRules();

  /// The spec of the first column rule matching `schema.table.column`
  /// (case-insensitive) that applies to the subject; nullptr = none.
  const MaskSpec* forColumn(std::string_view schema, std::string_view table,
                            std::string_view column, std::span<const std::string> groups,
                            std::string_view subject_id) const;

  /// The content detectors of the `detect:` rules; nullptr when there are none.
  const Detectors* detectors() const { return detectors_.get(); }
  /// Which detectors apply to the subject (bits for Detectors::scan); 0 = none.
  uint64_t detectorsFor(std::span<const std::string> groups, std::string_view subject_id) const;

  /// Whether any rule (column or detect) applies to the subject: a session
  /// without one needs no mask plans at all.
  bool appliesTo(std::span<const std::string> groups, std::string_view subject_id) const;
  /// Whether any `column` rule applies to the subject: then a result column
  /// whose origin cannot be traced is treated per `masking.on_untraceable`.
  bool columnRulesApply(std::span<const std::string> groups, std::string_view subject_id) const;
  bool empty() const { return columns_.empty() && !detectors_; }

  /// What a result column whose origin cannot be traced becomes (with
  /// `masking.on_untraceable: mask`): redact, rule name "untraceable".
  const MaskSpec& untraceable() const { return *untraceable_; }

 private:
  friend Result<CompiledMaskRules> compileMaskRules(const std::vector<config::MaskRuleConfig>&,
                                                    std::string_view, const std::string&);
  struct Exemptions {
    std::vector<std::string> groups;
    std::vector<std::string> ids;
    bool exempts(std::span<const std::string> groups, std::string_view id) const;
  };
  struct ColumnRule {
    std::array<std::string, 3> parts;  ///< schema, table, column globs, lower case
    Exemptions except;
    const MaskSpec* spec;
  };

  std::vector<std::unique_ptr<MaskSpec>> specs_;
  std::vector<ColumnRule> columns_;
  std::unique_ptr<Detectors> detectors_;
  std::vector<Exemptions> detector_except_;  ///< per detector
  std::unique_ptr<MaskSpec> untraceable_;
};

/// Compiles one policy's rules. `hash_key`: `masking.hash_key` (may be empty
/// when no rule uses hash or format_preserving). `path`: the key path of
/// the list in errors ("policies[0].mask"). Errors (F0000) read
/// "config: policies[0].mask[2].detect.pattern: invalid regular expression ...".
Result<CompiledMaskRules> compileMaskRules(const std::vector<config::MaskRuleConfig>& rules,
                                           std::string_view hash_key,
                                           const std::string& path = "mask");

/// Case-insensitive glob: `*` matches any run of characters.
bool globMatch(std::string_view pattern, std::string_view text);

}  // namespace pgw::mask
