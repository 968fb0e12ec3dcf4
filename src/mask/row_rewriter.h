#pragma once
/// Rewriting the masked cells of DataRows. The caller builds one plan per
/// result (from RowDescription and the catalog names of its columns); rows
/// of a result without a planned column never reach this class.
///
///   std::vector<std::optional<ColumnPlan>> plan(desc.fields.size());
///   plan[2] = ColumnPlan{.spec = spec, .type_oid = f.type_oid, ...};
///   RowRewriter rw(std::move(plan));
///   if (!rw.rewrite(row, out)) forward the original bytes;
///   audit: rw.counts() -> {column 2, "mask[0]", 1234 cells}

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mask/cell_masker.h"
#include "protocol/messages.h"

namespace pgw::mask {

class RowRewriter {
 public:
  explicit RowRewriter(std::vector<std::optional<ColumnPlan>> plan);

  /// Appends the rewritten DataRow (a whole 'D' message) to `out` and returns
  /// true; returns false (appending nothing) when no cell changed — every
  /// planned cell NULL, or no detector hit — so the original is forwarded.
  /// A cell that cannot be decoded as its type becomes NULL (fail closed).
  /// Columns past the plan's end are copied.
  bool rewrite(const protocol::DataRow& row, std::string& out);

  /// Cells masked so far, per column and rule (for the audit event).
  std::vector<MaskCount> counts() const { return cells_.counts(); }
  /// Cells masked to NULL because they were not a valid value of their type.
  uint64_t undecodable() const { return cells_.undecodable(); }

 private:
  CellMasker cells_;
};

}  // namespace pgw::mask
