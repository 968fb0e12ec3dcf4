#include "proxy/relay.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "protocol/messages.h"

namespace pgw::proxy {
namespace {

using protocol::TxStatus;

/// Materializes a plan into the bytes that would go on the wire.
std::string render(Bytes in, const OutputPlan& plan) {
  std::string out;
  for (const auto& s : plan.segments()) {
    if (s.produced) {
      out.append(plan.produced(), s.offset, s.length);
    } else {
      out.append(asChars(in.subspan(s.offset, s.length)));
    }
  }
  return out;
}

struct RecordingObserver : BackendObserver {
  std::vector<TxStatus> ready;
  std::vector<std::string> errors;
  std::vector<std::string> tags;
  void onReadyForQuery(TxStatus s) override { ready.push_back(s); }
  bool onError(const protocol::NoticeFields& f, std::string&) override {
    errors.emplace_back(f.sqlstate());
    return false;
  }
  void onCommandComplete(std::string_view tag) override { tags.emplace_back(tag); }
  void onRowsWithheld(uint64_t returned, uint64_t withheld, std::string& out) override {
    withheld_reports.emplace_back(returned, withheld);
    protocol::encodeNoticeResponse(out,
                                   {.severity = "WARNING", .sqlstate = "01000", .message = "cut"});
  }
  std::vector<std::pair<uint64_t, uint64_t>> withheld_reports;
};

/// Replaces every non-NULL cell of column `column` with "***".
struct MaskColumn : ResultFilter {
  explicit MaskColumn(std::string name) : name(std::move(name)) {}
  std::string name;
  std::optional<size_t> column;
  int rows_rewritten = 0;
  bool beginResult(const protocol::RowDescription& desc, bool& /*swallow*/) override {
    column.reset();
    for (size_t i = 0; i < desc.fields.size(); ++i) {
      if (desc.fields[i].name == name) column = i;
    }
    return column.has_value();
  }
  bool rewriteRow(const protocol::DataRow& row, std::string& out) override {
    std::vector<std::optional<std::string_view>> cells;
    size_t i = 0;
    for (auto cell : row.columns) {
      if (!cell) {
        cells.emplace_back(std::nullopt);
      } else if (i == *column) {
        cells.emplace_back("***");
      } else {
        cells.emplace_back(asChars(*cell));
      }
      ++i;
    }
    protocol::encodeDataRow(out, cells);
    ++rows_rewritten;
    return true;
  }
};

std::string sampleResult() {
  std::string s;
  protocol::FieldDescription f1{.name = "id", .type_oid = 23, .type_size = 4};
  protocol::FieldDescription f2{.name = "email", .type_oid = 25, .type_size = -1};
  const protocol::FieldDescription fields[] = {f1, f2};
  protocol::encodeRowDescription(s, fields);
  for (int i = 0; i < 3; ++i) {
    std::string id = std::to_string(i);
    std::string email = "user" + id + "@example.com";
    const std::optional<std::string_view> cells[] = {id, email};
    protocol::encodeDataRow(s, cells);
  }
  protocol::encodeCommandComplete(s, "SELECT 3");
  protocol::encodeReadyForQuery(s, TxStatus::Idle);
  return s;
}

/// Feeds `wire` to a relay in chunks cut at the given offsets, the way reads
/// arrive, keeping unconsumed bytes like the session's buffer does.
std::string pump(BackendRelay& relay, const std::string& wire, const std::vector<size_t>& cuts) {
  std::string out;
  std::string buffered;
  size_t prev = 0;
  std::vector<size_t> ends = cuts;
  ends.push_back(wire.size());
  OutputPlan plan;
  for (size_t end : ends) {
    buffered.append(wire, prev, end - prev);
    prev = end;
    plan.clear();
    auto step = relay.process(asBytes(buffered), plan);
    EXPECT_TRUE(step.ok());
    if (!step.ok()) return out;
    out += render(asBytes(buffered), plan);
    buffered.erase(0, step->consumed);
  }
  EXPECT_TRUE(buffered.empty());
  return out;
}

TEST(BackendRelay, ForwardsUntouchedBytesAsViewsOfTheInput) {
  RecordingObserver obs;
  BackendRelay relay(1 << 20, obs);
  std::string wire = sampleResult();
  OutputPlan plan;
  auto step = relay.process(asBytes(wire), plan);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->consumed, wire.size());
  ASSERT_EQ(plan.segments().size(), 1u);  // one contiguous slice, nothing copied
  EXPECT_FALSE(plan.segments()[0].produced);
  EXPECT_TRUE(plan.produced().empty());
  EXPECT_EQ(render(asBytes(wire), plan), wire);
  EXPECT_EQ(obs.tags, std::vector<std::string>{"SELECT 3"});
  ASSERT_EQ(obs.ready.size(), 1u);
}

TEST(BackendRelay, EverySplitPointYieldsTheSameBytes) {
  std::string wire = sampleResult();
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    RecordingObserver obs;
    BackendRelay relay(1 << 20, obs);
    EXPECT_EQ(pump(relay, wire, {cut}), wire) << "cut at " << cut;
    EXPECT_EQ(obs.ready.size(), 1u) << "cut at " << cut;
  }
}

TEST(BackendRelay, EverySplitPointWithFilterRewritesOnlyTheMaskedColumn) {
  std::string wire = sampleResult();
  RecordingObserver ref_obs;
  BackendRelay reference(1 << 20, ref_obs);
  MaskColumn ref_mask("email");
  reference.setFilter(&ref_mask);
  std::string expected = pump(reference, wire, {});
  EXPECT_EQ(ref_mask.rows_rewritten, 3);
  EXPECT_EQ(expected.find("@example.com"), std::string::npos);
  EXPECT_NE(expected.find("***"), std::string::npos);
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    RecordingObserver obs;
    BackendRelay relay(1 << 20, obs);
    MaskColumn mask("email");
    relay.setFilter(&mask);
    EXPECT_EQ(pump(relay, wire, {cut}), expected) << "cut at " << cut;
  }
}

TEST(BackendRelay, FilterNotInterestedLeavesRowsUncopied) {
  RecordingObserver obs;
  BackendRelay relay(1 << 20, obs);
  MaskColumn mask("no_such_column");
  relay.setFilter(&mask);
  std::string wire = sampleResult();
  OutputPlan plan;
  auto step = relay.process(asBytes(wire), plan);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(mask.rows_rewritten, 0);
  EXPECT_TRUE(plan.produced().empty());
  EXPECT_EQ(render(asBytes(wire), plan), wire);
}

TEST(BackendRelay, LargeRowStreamsThroughWithoutBufferingItWhole) {
  RecordingObserver obs;
  BackendRelay relay(64 << 20, obs);
  std::string big(4 << 20, 'x');
  std::string wire;
  const std::optional<std::string_view> cells[] = {big};
  protocol::encodeDataRow(wire, cells);
  protocol::encodeReadyForQuery(wire, TxStatus::Idle);

  // Deliver in 16 KiB reads: each read must be forwarded at once, in full,
  // although the row is far from complete.
  std::string out;
  OutputPlan plan;
  for (size_t pos = 0; pos < wire.size(); pos += 16384) {
    std::string chunk = wire.substr(pos, 16384);
    plan.clear();
    auto step = relay.process(asBytes(chunk), plan);
    ASSERT_TRUE(step.ok());
    if (pos + chunk.size() < wire.size() - 6) {
      EXPECT_EQ(step->consumed, chunk.size()) << "at " << pos;
    }
    out += render(asBytes(chunk), plan);
    // The tail of the last chunk may hold an incomplete ReadyForQuery.
    ASSERT_EQ(step->consumed, chunk.size()) << "at " << pos;
  }
  EXPECT_EQ(out, wire);
  EXPECT_FALSE(relay.midMessage());
  EXPECT_EQ(obs.ready.size(), 1u);
}

TEST(BackendRelay, InspectedMessageWaitsForItsWholeBody) {
  RecordingObserver obs;
  BackendRelay relay(1 << 20, obs);
  std::string wire;
  protocol::encodeErrorResponse(
      wire,
      {.severity = "ERROR", .sqlstate = "42P01", .message = "relation \"nope\" does not exist"});
  OutputPlan plan;
  auto step = relay.process(asBytes(wire).first(10), plan);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(step->consumed, 0u);
  EXPECT_EQ(step->needed, wire.size());
  EXPECT_TRUE(plan.empty());
  plan.clear();
  step = relay.process(asBytes(wire), plan);
  ASSERT_TRUE(step.ok());
  EXPECT_EQ(obs.errors, std::vector<std::string>{"42P01"});
}

TEST(BackendRelay, GarbageFromServerIsAProtocolError) {
  RecordingObserver obs;
  BackendRelay relay(1 << 20, obs);
  const char bad[] = {'Z', 0, 0, 0, 2};  // length below 4
  OutputPlan plan;
  auto step = relay.process(asBytes(std::string_view(bad, sizeof bad)), plan);
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().sqlstate, "08P01");
}

struct CountingFrontend : FrontendObserver {
  int queries = 0;
  int syncs = 0;
  Result<Verdict> onFrontendMessage(const protocol::FrontendMessage& m, std::string&) override {
    if (std::holds_alternative<protocol::Query>(m)) ++queries;
    if (std::holds_alternative<protocol::Sync>(m)) ++syncs;
    return Verdict::Forward;
  }
};

TEST(FrontendRelay, PipelinedMessagesAreForwardedInOrderAndTerminateStops) {
  CountingFrontend obs;
  FrontendRelay relay(1 << 20, obs);
  std::string wire;
  protocol::encodeParse(wire, "s1", "select $1::int", {});
  const std::optional<std::string_view> params[] = {"42"};
  protocol::encodeBind(wire, "", "s1", {}, params, {});
  protocol::encodeExecute(wire, "", 0);
  protocol::encodeSync(wire);
  protocol::encodeQuery(wire, "select 1");
  size_t before_terminate = wire.size();
  protocol::encodeTerminate(wire);
  protocol::encodeQuery(wire, "select 'never'");

  for (size_t cut = 1; cut < before_terminate; ++cut) {
    CountingFrontend o;
    FrontendRelay r(1 << 20, o);
    OutputPlan plan;
    std::string out;
    auto step = r.process(asBytes(wire).first(cut), plan);
    ASSERT_TRUE(step.ok());
    out += render(asBytes(wire), plan);
    plan.clear();
    size_t consumed = step->consumed;
    step = r.process(asBytes(wire).subspan(consumed), plan);
    ASSERT_TRUE(step.ok());
    out += render(asBytes(wire).subspan(consumed), plan);
    EXPECT_EQ(out, wire.substr(0, before_terminate)) << "cut at " << cut;
    EXPECT_TRUE(r.terminated());
    EXPECT_EQ(o.queries, 1);
    EXPECT_EQ(o.syncs, 1);
  }
}

TEST(FrontendRelay, MalformedMessageIsRejectedAndNothingAfterItForwarded) {
  CountingFrontend obs;
  FrontendRelay relay(1 << 20, obs);
  std::string wire;
  protocol::encodeQuery(wire, "select 1");
  // A Bind whose parameter claims more bytes than the message holds.
  std::string bad = {'B', 0, 0, 0, 14, 0, 0, 0, 0, 0, 1, 0, 0, 0, 99};
  wire += bad;
  OutputPlan plan;
  auto step = relay.process(asBytes(wire), plan);
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().sqlstate, "08P01");
}

TEST(FrontendRelay, OversizedMessageRejectedFromItsHeader) {
  CountingFrontend obs;
  FrontendRelay relay(1024, obs);
  const char header[] = {'Q', 0, 0x10, 0, 0};  // 1 MiB query, only the header present
  OutputPlan plan;
  auto step = relay.process(asBytes(std::string_view(header, sizeof header)), plan);
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().sqlstate, "08P01");
}

TEST(FrontendRelay, PasswordMessageAfterAuthenticationIsAProtocolError) {
  CountingFrontend obs;
  FrontendRelay relay(1 << 20, obs);
  std::string wire;
  protocol::encodePassword(wire, "secret");
  OutputPlan plan;
  auto step = relay.process(asBytes(wire), plan);
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.error().message.find("secret"), std::string::npos);
}

TEST(BackendRelay, RowLimitWithholdsTheRestAtEveryCutAndRewritesTheTag) {
  const std::string wire = sampleResult() + sampleResult();
  std::string expected_one;
  {
    protocol::FieldDescription f1{.name = "id", .type_oid = 23, .type_size = 4};
    protocol::FieldDescription f2{.name = "email", .type_oid = 25, .type_size = -1};
    const protocol::FieldDescription fields[] = {f1, f2};
    protocol::encodeRowDescription(expected_one, fields);
    for (int i = 0; i < 2; ++i) {
      std::string id = std::to_string(i);
      std::string email = "user" + id + "@example.com";
      const std::optional<std::string_view> cells[] = {id, email};
      protocol::encodeDataRow(expected_one, cells);
    }
    protocol::encodeNoticeResponse(expected_one,
                                   {.severity = "WARNING", .sqlstate = "01000", .message = "cut"});
    protocol::encodeCommandComplete(expected_one, "SELECT 2");
    protocol::encodeReadyForQuery(expected_one, TxStatus::Idle);
  }
  for (size_t cut = 1; cut < wire.size(); ++cut) {
    RecordingObserver obs;
    BackendRelay relay(1 << 20, obs);
    relay.setRowLimit(2);
    ASSERT_EQ(pump(relay, wire, {cut}), expected_one + expected_one) << "cut at " << cut;
    ASSERT_EQ(obs.withheld_reports.size(), 2u);
    EXPECT_EQ(obs.withheld_reports[0], std::make_pair(uint64_t{2}, uint64_t{1}));
    EXPECT_EQ(obs.tags, (std::vector<std::string>{"SELECT 3", "SELECT 3"}));
  }
}

TEST(BackendRelay, RowLimitCountsAPortalFetchedInBatchesAsOneResult) {
  std::string wire;
  for (int batch = 0; batch < 2; ++batch) {
    for (int i = 0; i < 2; ++i) {
      const std::optional<std::string_view> cells[] = {"x"};
      protocol::encodeDataRow(wire, cells);
    }
    wire += std::string("s\0\0\0\4", 5);  // PortalSuspended
  }
  protocol::encodeCommandComplete(wire, "SELECT 4");
  RecordingObserver obs;
  BackendRelay relay(1 << 20, obs);
  relay.setRowLimit(3);
  std::string out = pump(relay, wire, {});
  ASSERT_EQ(obs.withheld_reports.size(), 1u);
  EXPECT_EQ(obs.withheld_reports[0], std::make_pair(uint64_t{3}, uint64_t{1}));
  EXPECT_NE(out.find("SELECT 3"), std::string::npos);
}

}  // namespace
}  // namespace pgw::proxy
