// Bytes from the server are not trusted: random and truncated values of every
// type, in both formats, through every function, and random COPY streams
// either fail cleanly or produce valid output (ASan/UBSan builds catch the
// rest).

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "mask/copy_rewriter.h"
#include "mask/detectors.h"
#include "mask/redact_detail.h"
#include "mask/types.h"
#include "mask/value.h"
#include "pg_decode.h"

namespace pgw::mask {
namespace {

const std::vector<uint32_t> kTypes = {
    oid::kText,        oid::kVarchar,   oid::kBpchar,    oid::kName,      oid::kJson,
    oid::kJsonb,       oid::kBytea,     oid::kInt2,      oid::kInt4,      oid::kInt8,
    oid::kNumeric,     oid::kFloat4,    oid::kFloat8,    oid::kDate,      oid::kTimestamp,
    oid::kTimestampTz, oid::kUuid,      oid::kTextArray, oid::kInt4Array, oid::kNumericArray,
    oid::kJsonbArray,  oid::kDateArray, oid::kUuidArray, oid::kByteaArray};

std::string randomBytes(std::mt19937& rng, size_t max_len, bool printable) {
  std::uniform_int_distribution<size_t> len(0, max_len);
  std::uniform_int_distribution<int> byte(0, 255);
  static const std::string alphabet = "0123456789.-+eE:{}\",\\ NULabcdefx@T[]=";
  std::string s(len(rng), '\0');
  for (char& c : s) {
    c = printable ? alphabet[static_cast<size_t>(byte(rng)) % alphabet.size()]
                  : static_cast<char>(byte(rng));
  }
  return s;
}

TEST(MaskRobustness, RandomValuesFailCleanlyOrDecode) {
  std::mt19937 rng(12345);
  auto key = std::make_shared<const Hmac>("robustness-key-0123456789");
  std::vector<MaskSpec> specs;
  for (int f = 0; f <= static_cast<int>(MaskFunction::Round); ++f) {
    MaskSpec s;
    s.function = static_cast<MaskFunction>(f);
    s.keep_first = 1;
    s.keep_last = 2;
    s.digits = -1;
    s.key = key;
    specs.push_back(s);
  }
  int valid = 0;
  for (int round = 0; round < 200; ++round) {
    for (uint32_t type : kTypes) {
      for (int16_t format : {kTextFormat, kBinaryFormat}) {
        const std::string in = randomBytes(rng, 40, format == kTextFormat && round % 2 == 0);
        for (const MaskSpec& spec : specs) {
          auto r = maskValue(spec, type, 4 + 8, format, in);
          if (!r.ok() || !r->has_value()) continue;
          ++valid;
          if (format == kBinaryFormat) {
            EXPECT_TRUE(testing::binaryToText(type, **r))
                << type << " " << static_cast<int>(spec.function) << " " << testing::hex(in);
          }
        }
      }
    }
  }
  EXPECT_GT(valid, 1000);
}

TEST(MaskRobustness, MutatedValidValues) {
  // PostgreSQL's own encodings with bytes flipped, inserted, dropped, cut.
  struct Seed {
    uint32_t type;
    int16_t format;
    std::string bytes;
  };
  const std::vector<Seed> seeds = {
      {oid::kNumeric, kBinaryFormat, testing::unhex("0003000140000003007b11d722ce")},
      {oid::kNumeric, kTextFormat, "-1234567.891"},
      {oid::kDate, kTextFormat, "0044-03-15 BC"},
      {oid::kTimestampTz, kTextFormat, "2024-03-05 12:34:56.789+05:30"},
      {oid::kTimestamp, kBinaryFormat, testing::unhex("0002b5e7d6a76608")},
      {oid::kUuid, kTextFormat, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
      {oid::kJsonb, kBinaryFormat, testing::unhex("017b2261223a20317d")},
      {oid::kTextArray, kBinaryFormat,
       testing::unhex("000000010000000100000019000000030000000100000011616c6963654065786"
                      "16d706c652e636f6dffffffff00000003622063")},
      {oid::kInt2Array, kTextFormat, "[0:1][1:2]={{1,2},{3,4}}"},
      {oid::kTextArray, kTextFormat, R"({"a\"b",NULL,"c d"})"},
      {oid::kBytea, kTextFormat, "\\001abc\\"},
  };
  std::mt19937 rng(4242);
  auto key = std::make_shared<const Hmac>("robustness-key-0123456789");
  std::uniform_int_distribution<int> op(0, 3), byte(0, 255);
  for (const Seed& seed : seeds) {
    for (int i = 0; i < 400; ++i) {
      std::string v = seed.bytes;
      for (int k = 0; k < 1 + i % 3 && !v.empty(); ++k) {
        const size_t at = static_cast<size_t>(byte(rng)) % v.size();
        switch (op(rng)) {
          case 0:
            v[at] = static_cast<char>(byte(rng));
            break;
          case 1:
            v.insert(at, 1, static_cast<char>(byte(rng)));
            break;
          case 2:
            v.erase(at, 1);
            break;
          default:
            v.resize(at);
            break;
        }
      }
      for (int f = 0; f <= static_cast<int>(MaskFunction::Round); ++f) {
        MaskSpec spec;
        spec.function = static_cast<MaskFunction>(f);
        spec.keep_last = 3;
        spec.key = key;
        auto r = maskValue(spec, seed.type, -1, seed.format, v);
        if (r.ok() && r->has_value() && seed.format == kBinaryFormat) {
          EXPECT_TRUE(testing::binaryToText(seed.type, **r)) << testing::hex(v);
        }
        if (r.ok() && r->has_value() && seed.format == kTextFormat) {
          EXPECT_TRUE(testing::validText(seed.type, -1, **r)) << v << " -> " << **r;
        }
      }
    }
  }
}

TEST(MaskRobustness, RandomCopyStreams) {
  std::mt19937 rng(777);
  MaskSpec spec;
  std::vector<std::optional<ColumnPlan>> plan(3);
  plan[0] = ColumnPlan{.spec = &spec, .type_oid = oid::kInt4};
  plan[2] = ColumnPlan{.spec = &spec, .type_oid = oid::kText};
  for (CopyFormat format : {CopyFormat::Text, CopyFormat::Csv, CopyFormat::Binary}) {
    for (int i = 0; i < 500; ++i) {
      CopyOptions o;
      o.format = format;
      CopyRewriter rw(plan, o);
      std::string stream = randomBytes(rng, 80, format != CopyFormat::Binary);
      if (format == CopyFormat::Binary && i % 2 == 0) {
        stream = std::string("PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0", 19) + stream;
      }
      std::string out;
      for (size_t at = 0; at < stream.size(); at += 7) {
        auto r = rw.rewrite(std::string_view(stream).substr(at, 7), at == 0, out);
        if (!r.ok()) break;
      }
    }
  }
}

TEST(MaskRobustness, RandomDetails) {
  std::mt19937 rng(99);
  MaskSpec spec;
  auto d = Detectors::compile({{"email", "", "", &spec, "p"}, {"ipv6", "", "", &spec, "p"}});
  ASSERT_TRUE(d.ok());
  const std::vector<std::string> masked = {"a", "*"};
  for (int i = 0; i < 3000; ++i) {
    std::string s = randomBytes(rng, 60, true);
    if (i % 3 == 0) s = "Key (a, b)=(" + s + ") already exists.";
    if (i % 3 == 1) s = "Failing row contains (" + s;
    (void)redactDetail(s, masked, d->get());
    Hits hits;
    if ((*d)->scan(s, hits)) {
      EXPECT_TRUE(testing::validJson(maskSpans("\"" + s + "\"", hits, **d, SpanSyntax::Json)) ||
                  !testing::validJson("\"" + s + "\""));
    }
  }
}

}  // namespace
}  // namespace pgw::mask
