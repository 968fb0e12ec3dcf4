/// Redaction of statements and parameters, and how the CLI shows records:
/// times in and out, CSV quoting, summary and replay lines.

#include <gtest/gtest.h>

#include "audit/redact.h"
#include "audit/report.h"
#include "test_util.h"

namespace pgw::audit {
namespace {

const std::vector<std::optional<std::string>> kParams = {std::string("4111 1111 1111 1111"),
                                                         std::nullopt, std::string("x")};

TEST(Redact, FullKeepsTextAndParameters) {
  auto r = redactStatement(ParamMode::Full, "SELECT 'secret', $1", "SELECT $2, $1", kParams);
  EXPECT_EQ(r.text, "SELECT 'secret', $1");
  EXPECT_EQ(r.parameters, kParams);
}

TEST(Redact, RedactedKeepsTheShapeButNoValue) {
  auto r = redactStatement(ParamMode::Redacted, "SELECT 'secret', $1", "SELECT $2, $1", kParams);
  EXPECT_EQ(r.text, "SELECT $2, $1");
  ASSERT_EQ(r.parameters.size(), 3u);
  EXPECT_EQ(r.parameters[0], std::string(kRedacted));
  EXPECT_EQ(r.parameters[1], std::nullopt);  // NULL stays NULL
  EXPECT_EQ(r.parameters[2], std::string(kRedacted));
}

TEST(Redact, NoneKeepsOnlyTheNormalizedText) {
  auto r = redactStatement(ParamMode::None, "SELECT 'secret'", "SELECT $1", kParams);
  EXPECT_EQ(r.text, "SELECT $1");
  EXPECT_TRUE(r.parameters.empty());
}

TEST(Redact, AnUnparsedStatementIsNotKeptRaw) {
  auto r = redactStatement(ParamMode::Redacted, "SELEC 'secret'", "", {});
  EXPECT_EQ(r.text, std::string(kUnnormalized));
  EXPECT_EQ(redactStatement(ParamMode::Redacted, "", "", {}).text, "");
}

TEST(Redact, WritingIntoUsedBuffersKeepsNothingOfWhatTheyHeld) {
  // A session recycles its events: the buffers held another statement.
  const std::vector<std::optional<std::string>> two = {std::string("42"), std::nullopt};
  for (ParamMode mode : {ParamMode::Full, ParamMode::Redacted, ParamMode::None}) {
    RecordedStatement out{"SELECT 'earlier secret', $1, $2, $3", kParams};
    redactStatementInto(mode, "SELECT 1 + $1", "SELECT $2 + $1", two, out);
    const RecordedStatement fresh = redactStatement(mode, "SELECT 1 + $1", "SELECT $2 + $1", two);
    EXPECT_EQ(out.text, fresh.text);
    EXPECT_EQ(out.parameters, fresh.parameters);
  }
  RecordedStatement out{"SELECT 'earlier secret'", kParams};
  redactStatementInto(ParamMode::Redacted, "SELECT 1", "SELECT $1", two, out);
  EXPECT_EQ(out.parameters,
            (std::vector<std::optional<std::string>>{std::string(kRedacted), std::nullopt}));
}

TEST(Redact, SecretStatementKinds) {
  EXPECT_TRUE(looksLikeSecretStatement("alter_role"));
  EXPECT_TRUE(looksLikeSecretStatement("create_role"));
  EXPECT_FALSE(looksLikeSecretStatement("select"));
  // The analyzer names these create/alter with an object type.
  EXPECT_TRUE(looksLikeSecretStatement("create", "user_mapping"));
  EXPECT_TRUE(looksLikeSecretStatement("alter", "user_mapping"));
  EXPECT_TRUE(looksLikeSecretStatement("create", "server"));
  EXPECT_TRUE(looksLikeSecretStatement("alter", "subscription"));
  EXPECT_FALSE(looksLikeSecretStatement("create", "table"));
  EXPECT_FALSE(looksLikeSecretStatement("drop", "server"));
  EXPECT_EQ(toParamMode(config::AuditParams::None), ParamMode::None);
}

TEST(Report, TimesFormatAndParse) {
  EXPECT_EQ(formatTime(0), "1970-01-01T00:00:00.000000Z");
  EXPECT_EQ(formatTime(1764064862123456), "2025-11-25T10:01:02.123456Z");
  const int64_t now = 1764064862123456;
  struct Case {
    const char* text;
    int64_t want;
  } cases[] = {
      {"2025-11-25T10:01:02.123456Z", 1764064862123456},
      {"2025-11-25T10:01:02Z", 1764064862000000},
      {"2025-11-25T11:01:02.5+01:00", 1764064862500000},
      {"2025-11-25", 1764028800000000},
      {"24h", now - 86400000000},
      {"30m", now - 1800000000},
  };
  for (const auto& c : cases) {
    auto t = parseTimeArg(c.text, now);
    ASSERT_TRUE(t.ok()) << c.text << ": " << t.error().message;
    EXPECT_EQ(*t, c.want) << c.text;
  }
  for (const char* bad : {"", "yesterday", "2025-13-01", "2025-11-25T10:01:02", "12"}) {
    EXPECT_FALSE(parseTimeArg(bad, now).ok()) << bad;
  }
}

TEST(Report, CsvQuotesFieldsThatNeedIt) {
  AuditEvent e = testing::statement(1);
  e.gateway_id = "gw";
  e.statement = "SELECT 'a,b', \"x\"\nFROM t";
  StoredRecord row = sealRecord(e, 3, kGenesisHash);
  const std::string line = csvRow(row, e);
  EXPECT_NE(line.find("\"SELECT 'a,b', \"\"x\"\"\nFROM t\""), std::string::npos) << line;
  EXPECT_EQ(line.back(), '\n');
  // As many fields as the header (counting commas outside quotes).
  auto fields = [](const std::string& s) {
    size_t n = 1;
    bool quoted = false;
    for (char c : s) {
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) ++n;
    }
    return n;
  };
  EXPECT_EQ(fields(line), fields(csvHeader()));
}

TEST(Report, SummaryAndReplayLines) {
  AuditEvent e = testing::statement(4);  // a denied one
  e.gateway_id = "gw";
  e.time = TimePoint(std::chrono::microseconds(1764064862000000));
  e.sqlstate = "42501";
  e.statement = "DELETE FROM t\nWHERE true";
  const std::string line = summaryLine(e, 9);
  EXPECT_EQ(line,
            "2025-11-25T10:01:02.000000Z gw #9 statement session=101 subject=alice deny "
            "rule=delete_without_where kind=select tag=\"SELECT 4\" rows=4 sqlstate=42501 "
            "0.254ms | DELETE FROM t WHERE true");
  const std::string replay = replayLine(e, 1764064861500000);
  EXPECT_EQ(replay.rfind("+0.500s [deny delete_without_where] DELETE FROM t WHERE true", 0), 0u)
      << replay;
}

}  // namespace
}  // namespace pgw::audit
