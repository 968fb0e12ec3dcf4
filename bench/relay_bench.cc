// Throughput of the result path: planning the forwarding of a buffer of
// DataRows (8 columns) as it arrives from the server, untouched and with one
// column rewritten by a filter.

#include <benchmark/benchmark.h>

#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.h"
#include "proxy/relay.h"

namespace {

using namespace pgw;

struct NullObserver : proxy::BackendObserver {
  void onReadyForQuery(protocol::TxStatus) override {}
  bool onError(const protocol::NoticeFields&, std::string&) override { return false; }
  void onCommandComplete(std::string_view) override {}
  void onRowsWithheld(uint64_t, uint64_t, std::string&) override {}
};

struct RedactFirst : proxy::ResultFilter {
  bool beginResult(const protocol::RowDescription&, bool&) override { return true; }
  bool rewriteRow(const protocol::DataRow& row, std::string& out) override {
    cells.clear();
    bool first = true;
    for (auto c : row.columns) {
      if (first) {
        cells.emplace_back("xxx");
        first = false;
      } else if (c) {
        cells.emplace_back(asChars(*c));
      } else {
        cells.emplace_back(std::nullopt);
      }
    }
    protocol::encodeDataRow(out, cells);
    return true;
  }
  std::vector<std::optional<std::string_view>> cells;
};

std::string rows(int n) {
  std::string s;
  std::vector<protocol::FieldDescription> fields(8);
  for (auto& f : fields) f = {.name = "c", .type_oid = 25, .type_size = -1};
  protocol::encodeRowDescription(s, fields);
  for (int i = 0; i < n; ++i) {
    std::string v = "value-" + std::to_string(i);
    std::vector<std::optional<std::string_view>> cells(8, std::string_view(v));
    protocol::encodeDataRow(s, cells);
  }
  return s;
}

void run(benchmark::State& state, proxy::ResultFilter* filter) {
  const std::string wire = rows(1000);
  NullObserver obs;
  proxy::OutputPlan plan;
  for (auto _ : state) {
    proxy::BackendRelay relay(64 << 20, obs);
    relay.setFilter(filter);
    // 64 KiB reads, as the session does.
    size_t pos = 0;
    std::string_view all(wire);
    std::string carry;
    while (pos < all.size()) {
      carry.append(all.substr(pos, 65536));
      pos += 65536;
      plan.clear();
      auto step = relay.process(asBytes(carry), plan);
      benchmark::DoNotOptimize(plan.segments().data());
      carry.erase(0, step->consumed);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * wire.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * 1000));
}

void BM_RelayUntouched(benchmark::State& state) {
  run(state, nullptr);
}
void BM_RelayRewriteOneColumn(benchmark::State& state) {
  RedactFirst f;
  run(state, &f);
}

BENCHMARK(BM_RelayUntouched);
BENCHMARK(BM_RelayRewriteOneColumn);

}  // namespace
