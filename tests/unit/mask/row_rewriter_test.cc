// RowRewriter: only planned cells change, the output is a well-formed
// DataRow, unchanged rows are reported as such, counts feed the audit.

#include "mask/row_rewriter.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "mask/rules.h"
#include "mask/types.h"
#include "mask/value.h"
#include "pg_decode.h"

namespace pgw::mask {
namespace {

using Cells = std::vector<std::optional<std::string>>;

std::string dataRow(const Cells& cells) {
  std::vector<std::optional<std::string_view>> views;
  for (const auto& c : cells)
    views.emplace_back(c ? std::optional<std::string_view>(*c) : std::nullopt);
  std::string out;
  protocol::encodeDataRow(out, views);
  return out;
}

/// Decodes a whole DataRow message strictly (framing and fields).
Cells decodeRow(const std::string& message) {
  auto frame = protocol::frameMessage(asBytes(message), 1 << 20);
  EXPECT_EQ(frame.status, protocol::FrameStatus::Complete);
  EXPECT_EQ(frame.frame.size, message.size());
  auto m = protocol::decodeBackend(frame.frame);
  EXPECT_TRUE(m.ok());
  Cells out;
  for (auto c : std::get<protocol::DataRow>(*m).columns) {
    out.emplace_back(c ? std::optional<std::string>(std::string(asChars(*c))) : std::nullopt);
  }
  return out;
}

/// Rewrites the row `cells` with `rw`; nullopt when it reports no change.
std::optional<Cells> rewrite(RowRewriter& rw, const Cells& cells) {
  const std::string in = dataRow(cells);
  auto frame = protocol::frameMessage(asBytes(in), 1 << 20);
  auto m = protocol::decodeBackend(frame.frame);
  std::string out = "prefix";
  if (!rw.rewrite(std::get<protocol::DataRow>(*m), out)) {
    EXPECT_EQ(out, "prefix");  // nothing appended
    return std::nullopt;
  }
  EXPECT_EQ(out.substr(0, 6), "prefix");
  return decodeRow(out.substr(6));
}

struct RulesFixture {
  CompiledMaskRules rules;
  RulesFixture() {
    config::MaskRuleConfig email;
    email.column = "users.email";
    email.with = config::MaskWith::Email;
    config::MaskRuleConfig ssn;
    ssn.column = "users.ssn";
    ssn.with = config::MaskWith::Hash;
    config::MaskRuleConfig cards;
    cards.detect = {{"credit_card", "", ""}, {"email", "", ""}};
    cards.with = config::MaskWith::Redact;
    rules = compileMaskRules({email, ssn, cards}, "0123456789abcdef").value();
  }
  const MaskSpec* spec(const char* column) const {
    return rules.forColumn("public", "users", column, {}, "agent");
  }
};

TEST(RowRewriter, RewritesOnlyPlannedCells) {
  RulesFixture f;
  std::vector<std::optional<ColumnPlan>> plan(5);
  plan[1] = ColumnPlan{.spec = f.spec("email"), .type_oid = oid::kText};
  plan[2] = ColumnPlan{.spec = f.spec("ssn"), .type_oid = oid::kInt4, .format = kBinaryFormat};
  plan[4] = ColumnPlan{
      .detectors = f.rules.detectors(), .type_oid = oid::kJsonb, .format = kBinaryFormat};
  RowRewriter rw(std::move(plan));

  const Cells row = {"1", "alice@example.com", testing::unhex("075bcd15"), "Alice",
                     std::string("\x01{\"card\": \"4111 1111 1111 1111\"}")};
  auto out = rewrite(rw, row);
  ASSERT_TRUE(out);
  ASSERT_EQ(out->size(), 5u);
  EXPECT_EQ((*out)[0], "1");
  EXPECT_EQ((*out)[1], "***@example.com");
  ASSERT_TRUE((*out)[2]);
  EXPECT_EQ((*out)[2]->size(), 4u);
  EXPECT_NE((*out)[2], row[2]);
  EXPECT_EQ((*out)[3], "Alice");
  EXPECT_EQ((*out)[4], std::string("\x01{\"card\": \"***\"}"));

  // NULLs stay NULL; a row whose only scanned cell has no hit is unchanged.
  const Cells quiet = {"2", std::nullopt, std::nullopt, "Bob", std::string("\x01{\"a\": 1}")};
  EXPECT_FALSE(rewrite(rw, quiet));

  auto counts = rw.counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].column, 1u);
  EXPECT_EQ(counts[0].rule, "mask[0]");
  EXPECT_EQ(counts[0].cells, 1u);
  EXPECT_EQ(counts[1].rule, "mask[1]");
  EXPECT_EQ(counts[2].column, 4u);
  EXPECT_EQ(counts[2].rule, "mask[2]:credit_card");
  EXPECT_EQ(counts[2].cells, 1u);
}

TEST(RowRewriter, UndecodableCellsBecomeNull) {
  RulesFixture f;
  std::vector<std::optional<ColumnPlan>> plan(2);
  plan[0] = ColumnPlan{.spec = f.spec("ssn"),
                       .type_oid = oid::kInt4,
                       .format = kBinaryFormat,
                       .rule_name = "lineage:users.ssn"};
  RowRewriter rw(std::move(plan));
  auto out = rewrite(rw, {"abc", "x"});  // 3 bytes are not an int4
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0], std::nullopt);
  EXPECT_EQ((*out)[1], "x");
  EXPECT_EQ(rw.undecodable(), 1u);
  EXPECT_EQ(rw.counts().at(0).rule, "lineage:users.ssn");
}

TEST(RowRewriter, DetectorsRespectTheTypeAndFit) {
  RulesFixture f;
  std::vector<std::optional<ColumnPlan>> plan(3);
  for (int i = 0; i < 3; ++i)
    plan[static_cast<size_t>(i)] = ColumnPlan{.detectors = f.rules.detectors()};
  plan[0]->type_oid = oid::kVarchar;
  plan[0]->typmod = 4 + 8;  // varchar(8)
  plan[1]->type_oid = oid::kInt8;
  plan[2]->type_oid = oid::kTextArray;
  RowRewriter rw(std::move(plan));
  auto out =
      rewrite(rw, {"a@b.io is mine", "4111111111111111", R"({"4111 1111 1111 1111",ok,NULL})"});
  ASSERT_TRUE(out);
  EXPECT_EQ((*out)[0], "*** is m");          // fitted to varchar(8)
  EXPECT_EQ((*out)[1], "4111111111111111");  // not a text type: left alone
  EXPECT_EQ((*out)[2], "{***,ok,NULL}");
}

TEST(RowRewriter, NullFunctionAndExtraColumns) {
  MaskSpec null_spec;
  null_spec.function = MaskFunction::Null;
  null_spec.rule = "mask[0]";
  std::vector<std::optional<ColumnPlan>> plan(1);
  plan[0] = ColumnPlan{.spec = &null_spec, .type_oid = oid::kText};
  RowRewriter rw(std::move(plan));
  auto out = rewrite(rw, {"secret", "beyond the plan"});
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, (Cells{std::nullopt, "beyond the plan"}));
  // All planned cells NULL already: nothing to change.
  EXPECT_FALSE(rewrite(rw, {std::nullopt, "x"}));
}

}  // namespace
}  // namespace pgw::mask
