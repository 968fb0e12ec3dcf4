// CopyRewriter on PostgreSQL's own COPY TO output (captured from PostgreSQL
// 15 for the table below), in text, csv and binary, one row per message and
// split at every byte offset.
//
//   create table u(id int, email text, note text, n numeric(6,2));
//   insert into u values (1, 'alice@example.com', E'tab\tand\nnewline \\ back', 12.5),
//                        (2, NULL, 'a,b "q"', NULL), (3, '', '', 0);

#include "mask/copy_rewriter.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mask/types.h"
#include "pg_decode.h"
#include "protocol/messages.h"

namespace pgw::mask {
namespace {

const std::string kText =
    "1\talice@example.com\ttab\\tand\\nnewline \\\\ back\t12.50\n"
    "2\t\\N\ta,b \"q\"\t\\N\n"
    "3\t\t\t0.00\n";

const std::string kCsv =
    "id,email,note,n\n"
    "1,alice@example.com,\"tab\tand\nnewline \\ back\",12.50\n"
    "2,,\"a,b \"\"q\"\"\",\n"
    "3,\"\",\"\",0.00\n";

const std::string kBinaryHex =
    "5047434f50590aff0d0a0000000000000000000004000000040000000100000011616c696365406578616d70"
    "6c652e636f6d0000001674616209616e640a6e65776c696e65205c206261636b0000000c0002000000000002"
    "000c138800040000000400000002ffffffff00000007612c6220227122ffffffff00040000000400000003"
    "0000000000000000000000080000000000000002ffff";

struct Specs {
  MaskSpec email, redact, partial3, round0;
  Specs() {
    email.function = MaskFunction::Email;
    email.rule = "mask[0]";
    redact.text = "a\tb\\c";  // needs escaping in every format
    redact.rule = "mask[1]";
    partial3.function = MaskFunction::Partial;
    partial3.keep_first = 3;
    partial3.rule = "mask[2]";
    round0.function = MaskFunction::Round;
    round0.rule = "mask[3]";
  }
};

std::vector<std::optional<ColumnPlan>> plan(const MaskSpec* email, const MaskSpec* note,
                                            const MaskSpec* n) {
  std::vector<std::optional<ColumnPlan>> p(4);
  p[1] = ColumnPlan{.spec = email, .type_oid = oid::kText};
  p[2] = ColumnPlan{.spec = note, .type_oid = oid::kText};
  p[3] = ColumnPlan{.spec = n, .type_oid = oid::kNumeric, .typmod = 4 + (6 << 16) + 2};
  return p;
}

/// CopyData payloads of `out` (a sequence of whole 'd' messages), joined.
std::string payloads(const std::string& out) {
  std::string joined;
  size_t pos = 0;
  while (pos < out.size()) {
    auto f = protocol::frameMessage(asBytes(std::string_view(out).substr(pos)), 1 << 20);
    EXPECT_EQ(f.status, protocol::FrameStatus::Complete);
    EXPECT_EQ(f.frame.type, 'd');
    if (f.status != protocol::FrameStatus::Complete) break;
    joined.append(asChars(f.frame.body));
    pos += f.frame.size;
  }
  return joined;
}

/// Feeds `messages` and returns what the client would receive.
std::string run(CopyRewriter& rw, const std::vector<std::string>& messages) {
  std::string received;
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string out;
    auto r = rw.rewrite(messages[i], i == 0, out);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r.ok()) return "";
    if (*r) {
      received += payloads(out);
    } else {
      EXPECT_TRUE(out.empty());
      received += messages[i];  // forwarded unchanged
    }
  }
  EXPECT_TRUE(rw.finish().ok());
  return received;
}

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n') {
      out.push_back(s.substr(start, i + 1 - start));
      start = i + 1;
    }
  }
  return out;
}

/// The same stream cut into two messages at every offset gives the same bytes.
void expectSplitInvariant(const std::vector<std::optional<ColumnPlan>>& p, const CopyOptions& o,
                          const std::string& stream, const std::string& expected) {
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    CopyRewriter rw(p, o);
    EXPECT_EQ(run(rw, {stream.substr(0, cut), stream.substr(cut)}), expected) << "cut " << cut;
  }
}

TEST(CopyRewriter, Text) {
  Specs s;
  const auto p = plan(&s.email, &s.redact, &s.round0);
  CopyRewriter rw(p, CopyOptions{});
  const std::string expected =
      "1\t***@example.com\ta\\tb\\\\c\t13.00\n"
      "2\t\\N\ta\\tb\\\\c\t\\N\n"
      "3\t***\ta\\tb\\\\c\t0.00\n";
  EXPECT_EQ(run(rw, lines(kText)), expected);
  expectSplitInvariant(p, CopyOptions{}, kText, expected);
  auto counts = rw.counts();
  ASSERT_EQ(counts.size(), 3u);
  EXPECT_EQ(counts[0].cells, 2u);  // email: rows 1 and 3 (row 2 is NULL)
  EXPECT_EQ(counts[1].cells, 3u);
}

TEST(CopyRewriter, TextUnplannedRowsAreForwarded) {
  std::vector<std::optional<ColumnPlan>> p(4);
  MaskSpec null_spec;
  null_spec.function = MaskFunction::Null;
  p[3] = ColumnPlan{.spec = &null_spec, .type_oid = oid::kNumeric};
  CopyRewriter rw(p, CopyOptions{});
  std::string out;
  auto r = rw.rewrite("2\t\\N\ta,b \"q\"\t\\N\n", true, out);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);  // the masked column is NULL already
  EXPECT_TRUE(out.empty());
}

TEST(CopyRewriter, CsvWithHeader) {
  Specs s;
  const auto p = plan(&s.email, &s.partial3, nullptr);
  std::vector<std::optional<ColumnPlan>> q = p;
  q[3].reset();
  CopyOptions o;
  o.format = CopyFormat::Csv;
  o.header = true;
  CopyRewriter rw(q, o);
  const std::string expected =
      "id,email,note,n\n"
      "1,***@example.com,\"tab*******************\",12.50\n"
      "2,,\"a,b****\",\n"
      "3,\"***\",\"\",0.00\n";
  // PostgreSQL sends the header and each row (even one spanning lines) whole.
  EXPECT_EQ(
      run(rw, {"id,email,note,n\n", "1,alice@example.com,\"tab\tand\nnewline \\ back\",12.50\n",
               "2,,\"a,b \"\"q\"\"\",\n", "3,\"\",\"\",0.00\n"}),
      expected);
  expectSplitInvariant(q, o, kCsv, expected);
}

TEST(CopyRewriter, CsvQuotesWhatNeedsQuoting) {
  MaskSpec r;
  r.text = "x,\"y\"";
  std::vector<std::optional<ColumnPlan>> p(2);
  p[0] = ColumnPlan{.spec = &r, .type_oid = oid::kText};
  CopyOptions o;
  o.format = CopyFormat::Csv;
  o.escape = '\\';
  CopyRewriter rw(p, o);
  EXPECT_EQ(run(rw, {"abc,\"k\\\"\"\n"}), "\"x,\\\"y\\\"\",\"k\\\"\"\n");
}

TEST(CopyRewriter, Binary) {
  Specs s;
  const auto p = plan(&s.email, &s.redact, &s.round0);
  CopyOptions o;
  o.format = CopyFormat::Binary;
  const std::string stream = testing::unhex(kBinaryHex);
  CopyRewriter rw(p, o);
  const std::string out = run(rw, {stream});
  // Walk the result: signature, flags, extension, 3 tuples, trailer.
  ASSERT_GE(out.size(), 19u);
  EXPECT_EQ(out.substr(0, 19), stream.substr(0, 19));
  size_t pos = 19;
  std::vector<std::vector<std::optional<std::string>>> rows;
  auto i32 = [&](size_t at) {
    return static_cast<int32_t>(*testing::intValue(out.substr(at, 4), 4));
  };
  while (true) {
    const int16_t n = static_cast<int16_t>(*testing::intValue(out.substr(pos, 2), 2));
    pos += 2;
    if (n == -1) break;
    ASSERT_EQ(n, 4);
    rows.emplace_back();
    for (int k = 0; k < n; ++k) {
      const int32_t len = i32(pos);
      pos += 4;
      if (len < 0) {
        rows.back().emplace_back(std::nullopt);
        continue;
      }
      rows.back().emplace_back(out.substr(pos, static_cast<size_t>(len)));
      pos += static_cast<size_t>(len);
    }
  }
  EXPECT_EQ(pos, out.size());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], "***@example.com");
  EXPECT_EQ(rows[0][2], "a\tb\\c");
  EXPECT_EQ(testing::numericText(*rows[0][3]), "13.00");
  EXPECT_EQ(rows[1][1], std::nullopt);
  EXPECT_EQ(rows[1][3], std::nullopt);
  EXPECT_EQ(rows[2][1], "***");
  expectSplitInvariant(p, o, stream, out);
}

TEST(CopyRewriter, Errors) {
  Specs s;
  const auto p = plan(&s.email, nullptr, nullptr);
  CopyOptions o;
  o.format = CopyFormat::Binary;
  {
    CopyRewriter rw(p, o);
    std::string out;
    EXPECT_FALSE(rw.rewrite("not a binary copy stream", true, out).ok());
  }
  {
    CopyRewriter rw(p, o);
    std::string out;
    const std::string stream = testing::unhex(kBinaryHex);
    ASSERT_TRUE(rw.rewrite(stream.substr(0, 30), true, out).ok());
    EXPECT_FALSE(rw.finish().ok());  // ended inside a row: nothing of it was sent
    EXPECT_EQ(payloads(out).size(), 19u);
  }
  {
    CopyRewriter rw(p, o);
    std::string out;
    const std::string stream = testing::unhex(kBinaryHex);
    EXPECT_FALSE(
        rw.rewrite(stream + std::string("\x00\x01", 2), true, out).ok());  // after the trailer
  }
}

}  // namespace
}  // namespace pgw::mask
