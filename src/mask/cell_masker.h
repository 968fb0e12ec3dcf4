#pragma once
/// What to do with each column of a result (ColumnPlan), and the masking of
/// one cell by that plan, shared by DataRow and COPY rewriting.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mask/detectors.h"
#include "mask/spec.h"
#include "mask/types.h"

namespace pgw::mask {

/// How one result column is masked. Either `spec` (the whole value) or
/// `detectors` (content scanning of text, json and arrays of them; other
/// types are left alone).
struct ColumnPlan {
  const MaskSpec* spec = nullptr;
  const Detectors* detectors = nullptr;
  uint64_t enabled = ~uint64_t{0};  ///< detectors that apply (CompiledMaskRules::detectorsFor)
  uint32_t type_oid = 0;            ///< RowDescription's type OID
  int32_t typmod = -1;              ///< RowDescription's type modifier
  int16_t format = 0;               ///< 0 text, 1 binary (COPY uses its own format)
  /// The rule named in the audit trail; default: spec->rule, or per detector.
  std::string rule_name;
};

/// Audit: `cells` cells of result column `column` were masked by `rule`.
struct MaskCount {
  size_t column = 0;
  std::string rule;
  uint64_t cells = 0;
};

enum class CellOutcome {
  Masked,     ///< the replacement was appended
  Null,       ///< the cell becomes NULL
  Unchanged,  ///< nothing appended; the cell stays
};

/// A result's plan with its counters. Not thread-safe: one per result.
class CellMasker {
 public:
  explicit CellMasker(std::vector<std::optional<ColumnPlan>> plan);

  bool planned(size_t column) const { return column < plan_.size() && plan_[column]; }
  size_t columns() const { return plan_.size(); }
  const ColumnPlan& plan(size_t column) const { return *plan_[column]; }
  /// Masks the non-NULL cell `value` of `column` (which must be planned),
  /// encoded in `format`. Never fails: a value that does not decode as its
  /// type becomes NULL.
  CellOutcome mask(size_t column, int16_t format, std::string_view value, std::string& out);

  std::vector<MaskCount> counts() const;
  uint64_t undecodable() const { return undecodable_; }

 private:
  std::vector<std::optional<ColumnPlan>> plan_;
  std::vector<TypeInfo> types_;       ///< per column: typeInfo of its type, looked up once
  std::vector<uint64_t> spec_cells_;  ///< per column
  std::vector<std::vector<uint64_t>> detector_cells_;  ///< per column, per detector
  uint64_t undecodable_ = 0;
  Hits hits_;
};

}  // namespace pgw::mask
