#include "mask/row_rewriter.h"

#include "common/bytes.h"

namespace pgw::mask {

RowRewriter::RowRewriter(std::vector<std::optional<ColumnPlan>> plan) : cells_(std::move(plan)) {}

bool RowRewriter::rewrite(const protocol::DataRow& row, std::string& out) {
  const size_t start = out.size();
  ByteWriter w(out);
  w.beginMessage(protocol::be::kDataRow);
  w.i16(static_cast<int16_t>(row.columns.size()));
  bool changed = false;
  size_t column = 0;
  for (auto cell : row.columns) {
    const size_t len_at = out.size();
    if (!cell) {
      w.i32(-1);
    } else if (!cells_.planned(column)) {
      w.i32(static_cast<int32_t>(cell->size()));
      w.bytes(*cell);
    } else {
      const int16_t format = cells_.plan(column).format;
      w.i32(0);
      switch (cells_.mask(column, format, asChars(*cell), out)) {
        case CellOutcome::Masked:
          putI32(out.data() + len_at, static_cast<int32_t>(out.size() - len_at - 4));
          changed = true;
          break;
        case CellOutcome::Null:
          out.resize(len_at);
          w.i32(-1);
          changed = true;
          break;
        case CellOutcome::Unchanged:
          w.bytes(*cell);
          putI32(out.data() + len_at, static_cast<int32_t>(cell->size()));
          break;
      }
    }
    ++column;
  }
  if (!changed) {
    out.resize(start);
    return false;
  }
  w.endMessage();
  return true;
}

}  // namespace pgw::mask
