// Cost of masking on the result path: RowRewriter on an 8-column DataRow with
// 2 masked columns (items = masked cells), per mask function and format, and
// the content detectors' cost on values with and without a hit.
//
//   cmake -S . -B build-mask-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build-mask-rel --target pgw_mask_bench && build-mask-rel/bench/pgw_mask_bench

#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include "mask/row_rewriter.h"
#include "mask/rules.h"
#include "mask/types.h"
#include "mask/value.h"
#include "protocol/messages.h"

namespace {

using namespace pgw;
using namespace pgw::mask;

/// id, email, name, phone, street, city, created_at, amount.
const std::vector<std::string> kTextRow = {"1048576",
                                           "alice.martin@example.com",
                                           "Alice Martin",
                                           "+1 415 555 0134",
                                           "1200 Market Street",
                                           "San Francisco",
                                           "2024-03-05 12:34:56.789",
                                           "1234.56"};

std::string encodeRow(const std::vector<std::string>& cells) {
  std::vector<std::optional<std::string_view>> views(cells.begin(), cells.end());
  std::string out;
  protocol::encodeDataRow(out, views);
  return out;
}

struct Row {
  std::string bytes;
  protocol::DataRow row;
  explicit Row(const std::vector<std::string>& cells) : bytes(encodeRow(cells)) {
    auto frame = protocol::frameMessage(asBytes(bytes), 1 << 20);
    row = std::get<protocol::DataRow>(*protocol::decodeBackend(frame.frame));
  }
};

MaskSpec spec(MaskFunction f) {
  static auto key = std::make_shared<const Hmac>("bench-key-0123456789abcdef");
  MaskSpec s;
  s.function = f;
  s.keep_last = 4;
  s.key = key;
  s.rule = "mask[0]";
  return s;
}

void runRewrite(benchmark::State& state, const Row& row,
                std::vector<std::optional<ColumnPlan>> plan) {
  RowRewriter rw(std::move(plan));
  std::string out;
  out.reserve(1024);
  for (auto _ : state) {
    out.clear();
    benchmark::DoNotOptimize(rw.rewrite(row.row, out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 2);  // masked cells
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(row.bytes.size()));
}

std::vector<std::optional<ColumnPlan>> twoColumns(const MaskSpec* a, uint32_t a_type,
                                                  const MaskSpec* b, uint32_t b_type,
                                                  int16_t format = kTextFormat) {
  std::vector<std::optional<ColumnPlan>> plan(8);
  plan[1] = ColumnPlan{.spec = a, .type_oid = a_type, .format = format};
  plan[3] = ColumnPlan{.spec = b, .type_oid = b_type, .format = format};
  return plan;
}

void BM_RowRewrite_EmailPartial(benchmark::State& state) {
  static const MaskSpec email = spec(MaskFunction::Email), last4 = spec(MaskFunction::Partial);
  runRewrite(state, Row(kTextRow), twoColumns(&email, oid::kText, &last4, oid::kText));
}
BENCHMARK(BM_RowRewrite_EmailPartial);

void BM_RowRewrite_Redact(benchmark::State& state) {
  static const MaskSpec r = spec(MaskFunction::Redact);
  runRewrite(state, Row(kTextRow), twoColumns(&r, oid::kText, &r, oid::kVarchar));
}
BENCHMARK(BM_RowRewrite_Redact);

void BM_RowRewrite_Hash(benchmark::State& state) {
  static const MaskSpec h = spec(MaskFunction::Hash);
  runRewrite(state, Row(kTextRow), twoColumns(&h, oid::kText, &h, oid::kText));
}
BENCHMARK(BM_RowRewrite_Hash);

void BM_RowRewrite_FormatPreserving(benchmark::State& state) {
  static const MaskSpec f = spec(MaskFunction::FormatPreserving), email = spec(MaskFunction::Email);
  runRewrite(state, Row(kTextRow), twoColumns(&email, oid::kText, &f, oid::kText));
}
BENCHMARK(BM_RowRewrite_FormatPreserving);

void BM_RowRewrite_BinaryNumericAndTimestamp(benchmark::State& state) {
  // Binary row: numeric 1234.56 and timestamp, rounded and truncated.
  std::vector<std::string> cells = kTextRow;
  cells[1] = std::string("\x00\x02\x00\x00\x00\x00\x00\x02\x04\xd2\x15\xe0", 12);
  cells[3] = std::string("\x00\x02\xb5\xe7\xd6\xa7\x66\x08", 8);
  static MaskSpec round = spec(MaskFunction::Round);
  static MaskSpec month = spec(MaskFunction::TruncateDate);
  runRewrite(state, Row(cells),
             twoColumns(&round, oid::kNumeric, &month, oid::kTimestamp, kBinaryFormat));
}
BENCHMARK(BM_RowRewrite_BinaryNumericAndTimestamp);

struct DetectorRules {
  CompiledMaskRules rules;
  DetectorRules() {
    config::MaskRuleConfig r;
    for (const auto& name : config::builtinDetectorNames()) r.detect.push_back({name, "", ""});
    r.with = config::MaskWith::Redact;
    rules = compileMaskRules({r}, "").value();
  }
};

void BM_RowRewrite_Detectors(benchmark::State& state) {
  static DetectorRules d;
  std::vector<std::optional<ColumnPlan>> plan(8);
  plan[1] = ColumnPlan{.detectors = d.rules.detectors(), .type_oid = oid::kText};
  plan[3] = ColumnPlan{.detectors = d.rules.detectors(), .type_oid = oid::kText};
  runRewrite(state, Row(kTextRow), std::move(plan));
}
BENCHMARK(BM_RowRewrite_Detectors);

void BM_DetectorsScan(benchmark::State& state, const char* text) {
  static DetectorRules d;
  Hits hits;
  const std::string_view v(text);
  for (auto _ : state) {
    hits.clear();
    benchmark::DoNotOptimize(d.rules.detectors()->scan(v, hits));
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(v.size()));
}
BENCHMARK_CAPTURE(BM_DetectorsScan, no_hit_words,
                  "Jane Doe, Apartment B, Main Street, Springfield");
BENCHMARK_CAPTURE(BM_DetectorsScan, no_hit_digits,
                  "Order 2024-0042 shipped on 2024-03-05 (3 items)");
BENCHMARK_CAPTURE(BM_DetectorsScan, email_hit, "Contact: alice.martin@example.com, any time");

}  // namespace
