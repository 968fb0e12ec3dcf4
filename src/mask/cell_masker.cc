#include "mask/cell_masker.h"

#include "mask/array.h"
#include "mask/codec.h"
#include "mask/types.h"
#include "mask/value.h"

namespace pgw::mask {
namespace {

using detail::Cell;

struct Detection {
  const Detectors& detectors;
  uint64_t enabled;
  int32_t typmod;
  Hits& hits;
  uint64_t fired = 0;  ///< detectors that hit, one bit each

  Result<Cell> scalar(const TypeInfo& t, int16_t format, std::string_view value, std::string& out) {
    if (t.category != Category::Text && t.category != Category::Json) return Cell::Unchanged;
    const bool jsonb_binary = format == kBinaryFormat && t.oid == oid::kJsonb;
    std::string_view doc = value;
    if (jsonb_binary) {
      if (doc.empty() || doc.front() != 1) {
        return fail("22P03", "jsonb value: unknown binary version");
      }
      doc.remove_prefix(1);
    }
    hits.clear();
    if (!detectors.scan(doc, hits, enabled)) return Cell::Unchanged;
    for (const Hit& h : hits) fired |= uint64_t{1} << h.detector;
    if (anyNullHit(hits, detectors)) return Cell::Null;
    std::string r = maskSpans(doc, hits, detectors,
                              t.category == Category::Json ? SpanSyntax::Json : SpanSyntax::Plain);
    if (t.category == Category::Text) codec::fitText(t.oid, typmod, r);
    if (jsonb_binary) out += '\x01';
    out += r;
    return Cell::Value;
  }

  Result<Cell> value(const TypeInfo& t, int16_t format, std::string_view v, std::string& out) {
    if (!t.array) return scalar(t, format, v, out);
    if (t.category != Category::Text && t.category != Category::Json) return Cell::Unchanged;
    auto element = [&](uint32_t element_oid, std::string_view e, std::string& o) {
      return scalar(typeInfo(element_oid), format, e, o);
    };
    return detail::rewriteArray(t.oid, format, v, element, out);
  }
};

}  // namespace

CellMasker::CellMasker(std::vector<std::optional<ColumnPlan>> plan)
    : plan_(std::move(plan)),
      types_(plan_.size()),
      spec_cells_(plan_.size()),
      detector_cells_(plan_.size()) {
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (plan_[i]) types_[i] = typeInfo(plan_[i]->type_oid);
    if (plan_[i] && !plan_[i]->spec && plan_[i]->detectors) {
      detector_cells_[i].resize(plan_[i]->detectors->size());
    }
  }
}

CellOutcome CellMasker::mask(size_t column, int16_t format, std::string_view value,
                             std::string& out) {
  const ColumnPlan& p = *plan_[column];
  const size_t start = out.size();
  if (p.spec != nullptr) {
    ++spec_cells_[column];
    auto r = maskValueInto(*p.spec, types_[column], p.typmod, format, value, out);
    if (!r) {
      ++undecodable_;
      out.resize(start);
      return CellOutcome::Null;
    }
    return *r ? CellOutcome::Masked : CellOutcome::Null;
  }
  if (p.detectors == nullptr) return CellOutcome::Unchanged;
  Detection d{*p.detectors, p.enabled, p.typmod, hits_};
  auto r = d.value(types_[column], format, value, out);
  for (size_t k = 0; d.fired != 0 && k < detector_cells_[column].size(); ++k) {
    if ((d.fired >> k & 1) != 0) ++detector_cells_[column][k];
  }
  if (!r) {
    ++undecodable_;
    out.resize(start);
    return CellOutcome::Null;
  }
  switch (*r) {
    case Cell::Null:
      out.resize(start);
      return CellOutcome::Null;
    case Cell::Value:
      return CellOutcome::Masked;
    case Cell::Unchanged:
      break;
  }
  out.resize(start);
  return CellOutcome::Unchanged;
}

std::vector<MaskCount> CellMasker::counts() const {
  std::vector<MaskCount> out;
  for (size_t i = 0; i < plan_.size(); ++i) {
    if (!plan_[i]) continue;
    const ColumnPlan& p = *plan_[i];
    if (spec_cells_[i] != 0) {
      out.push_back({i, p.rule_name.empty() ? p.spec->rule : p.rule_name, spec_cells_[i]});
    }
    for (size_t k = 0; k < detector_cells_[i].size(); ++k) {
      if (detector_cells_[i][k] == 0) continue;
      out.push_back({i, p.rule_name.empty() ? p.detectors->spec(k).rule : p.rule_name,
                     detector_cells_[i][k]});
    }
  }
  return out;
}

}  // namespace pgw::mask
