// The codec against PostgreSQL's own binary output: the hex below is what
// PostgreSQL 15 returns for `SELECT encode(<type>_send(<value>), 'hex')`, so
// a value encoded here is byte-for-byte what the server would send.

#include "mask/codec.h"

#include <gtest/gtest.h>

#include <cmath>

#include "mask/types.h"
#include "pg_decode.h"

namespace pgw::mask::codec {
namespace {

using testing::hex;
using testing::unhex;

std::string numericBinary(std::string_view text) {
  auto d = parseDecimal(text);
  EXPECT_TRUE(d.ok()) << text;
  std::string out;
  if (d) encodeNumericBinary(*d, out);
  return hex(out);
}

std::string numericText(std::string_view bin_hex) {
  auto d = decodeNumericBinary(unhex(bin_hex));
  EXPECT_TRUE(d.ok()) << bin_hex;
  std::string out;
  if (d) formatDecimal(*d, out);
  return out;
}

TEST(MaskCodec, NumericMatchesPostgresBinary) {
  struct Case {
    const char* text;
    const char* pg_hex;
  };
  for (const Case& c :
       std::initializer_list<Case>{{"12.50", "0002000000000002000c1388"},
                                   {"0.05", "0001ffff0000000201f4"},
                                   {"-1234567.891", "0003000140000003007b11d722ce"},
                                   {"0", "0000000000000000"},
                                   {"0.00", "0000000000000002"},
                                   {"100000000", "00010002000000000001"},
                                   {"0.00000000000000000001", "0001fffb000000140001"},
                                   {"99999.9999", "00030001000000040009270f270f"},
                                   {"1234.5678", "000200000000000404d2162e"},
                                   {"NaN", "00000000c0000000"}}) {
    EXPECT_EQ(numericBinary(c.text), c.pg_hex) << c.text;
    EXPECT_EQ(numericText(c.pg_hex), c.text) << c.pg_hex;
    EXPECT_EQ(testing::numericText(unhex(c.pg_hex)), c.text);
  }
  // PostgreSQL sends a display scale with infinities; it is ignored on input.
  EXPECT_EQ(numericText("00000000d0000020"), "Infinity");
  EXPECT_EQ(numericText("00000000f0000020"), "-Infinity");
}

TEST(MaskCodec, NumericRejectsMalformedBinary) {
  for (const char* h : {"", "0001", "00010000000000002710" /* digit 10000 */,
                        "000100000000000200" /* short */, "0000000012340000" /* sign */}) {
    EXPECT_FALSE(decodeNumericBinary(unhex(h)).ok()) << h;
  }
}

TEST(MaskCodec, NumericTextAndRounding) {
  auto round = [](const char* text, int digits, bool toward_zero = false) {
    auto d = parseDecimal(text);
    EXPECT_TRUE(d.ok());
    roundDecimal(*d, digits, toward_zero);
    std::string out;
    formatDecimal(*d, out);
    return out;
  };
  EXPECT_EQ(round("1234.5678", 2), "1234.5700");
  EXPECT_EQ(round("1234.5678", -2), "1200.0000");
  EXPECT_EQ(round("-1250", -2), "-1300");
  EXPECT_EQ(round("999.5", 0), "1000.0");
  EXPECT_EQ(round("999.5", 0, true), "999.0");
  EXPECT_EQ(round("0.004", 2), "0.000");
  EXPECT_EQ(round("-0.004", 2), "0.000");  // no negative zero
  EXPECT_EQ(round("1.5e3", 0), "1500");
  EXPECT_EQ(round("12", 5), "12");
  EXPECT_FALSE(parseDecimal("1e99999").ok());
  EXPECT_FALSE(parseDecimal("12abc").ok());
  EXPECT_FALSE(parseDecimal("").ok());
}

TEST(MaskCodec, NumericTypmod) {
  // From pg_attribute.atttypmod of numeric(10,4) and numeric(5,-2).
  auto a = numericTypmod(655368);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->precision, 10);
  EXPECT_EQ(a->scale, 4);
  auto b = numericTypmod(329730);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->precision, 5);
  EXPECT_EQ(b->scale, -2);
  EXPECT_FALSE(numericTypmod(-1));
}

TEST(MaskCodec, DatesMatchPostgres) {
  // date_send('2024-03-05') = 0000227e, date_send('1987-06-15') = ffffee19,
  // date_send('0044-03-15 BC') = fff49d7b.
  EXPECT_EQ(daysFromCivil(2024, 3, 5), 0x227e);
  EXPECT_EQ(daysFromCivil(1987, 6, 15), static_cast<int32_t>(0xffffee19));
  EXPECT_EQ(daysFromCivil(-43, 3, 15), static_cast<int32_t>(0xfff49d7b));
  for (int64_t d : {-800000LL, -1LL, 0LL, 59LL, 60LL, 365LL, 36524LL, 2000000LL}) {
    const Civil c = civilFromDays(d);
    EXPECT_EQ(daysFromCivil(c.year, c.month, c.day), d);
    DateTimeText t;
    setLocalMicros(t, d * kMicrosPerDay);
    std::string ours, bin;
    formatDateTime(t, ours);
    encodeIntBinary(d, 4, bin);
    EXPECT_EQ(testing::dateText(bin), ours) << d;
  }
  // timestamp_send('2024-03-05 12:34:56.789') = 0002b5e7d6a76608.
  auto t = parseDateTime("2024-03-05 12:34:56.789");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->localMicros(), 0x0002b5e7d6a76608LL);
}

TEST(MaskCodec, DateTimeTextShapes) {
  for (const char* s :
       {"2024-03-05", "2024-03-05 12:34:56", "2024-03-05 12:34:56.5+01",
        "2024-03-05 12:34:56.123456-03:30", "0044-03-15 BC", "2024-03-05T01:02:03+05:30:12",
        "infinity", "-infinity", "12345-01-01 00:00:00"}) {
    auto t = parseDateTime(s);
    ASSERT_TRUE(t) << s;
    std::string out;
    formatDateTime(*t, out);
    EXPECT_EQ(out, s);
  }
  for (const char* s : {"2024-02-30", "2024-13-01", "03/05/2024", "2024-03-05 25:00:00", "2024-3-5",
                        "hello", "2024-03-05 12:34:56+", "0000-01-01 BC"}) {
    EXPECT_FALSE(parseDateTime(s)) << s;
  }
}

TEST(MaskCodec, UuidByteaJson) {
  auto u = parseUuid("{A0EEBC99-9C0B4EF8-BB6D-6BB9BD380A11}");
  ASSERT_TRUE(u.ok());
  std::string text;
  formatUuid(*u, text);
  EXPECT_EQ(text, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_FALSE(parseUuid("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1").ok());
  EXPECT_FALSE(parseUuid("a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11").ok());

  EXPECT_EQ(*parseBytea("\\x616263"), "abc");
  EXPECT_EQ(*parseBytea("a\\\\b\\001"), std::string("a\\b\x01"));
  EXPECT_FALSE(parseBytea("\\x6").ok());
  EXPECT_FALSE(parseBytea("a\\q").ok());
  std::string b;
  formatBytea(std::string("\x00\xff", 2), b);
  EXPECT_EQ(b, "\\x00ff");

  std::string j;
  appendJsonString(std::string("a\"b\\c\n\x01\x00 \xc3\xa9 \xff", 13), j);
  EXPECT_EQ(j, "\"a\\\"b\\\\c\\n\\u0001\\ufffd \xc3\xa9 \\ufffd\"");
  EXPECT_TRUE(testing::validJson(j));
  EXPECT_EQ(simpleJsonString(" \"alice@x.io\" "), "alice@x.io");
  EXPECT_FALSE(simpleJsonString("\"a\\nb\""));
  EXPECT_FALSE(simpleJsonString("{\"a\":1}"));
}

TEST(MaskCodec, FitText) {
  std::string s = "h\xc3\xa9llo";
  fitText(oid::kVarchar, 4 + 3, s);
  EXPECT_EQ(s, "h\xc3\xa9l");
  s = "ab";
  fitText(oid::kBpchar, 4 + 4, s);
  EXPECT_EQ(s, "ab  ");
  s = "abcdef";
  fitText(oid::kBpchar, 4 + 4, s);
  EXPECT_EQ(s, "abcd");
  s = std::string(62, 'a') + "\xc3\xa9";  // 64 bytes: the last character does not fit
  fitText(oid::kName, -1, s);
  EXPECT_EQ(s, std::string(62, 'a'));
  s = "unchanged";
  fitText(oid::kText, 8, s);
  EXPECT_EQ(s, "unchanged");
}

TEST(MaskCodec, IntegersAndFloats) {
  EXPECT_EQ(*parseInt("-32768", 2), -32768);
  EXPECT_FALSE(parseInt("32768", 2).ok());
  EXPECT_FALSE(parseInt("12x", 4).ok());
  std::string out;
  encodeIntBinary(-9876543210, 8, out);
  EXPECT_EQ(hex(out), "fffffffdb34fe916");  // int8send(-9876543210)
  EXPECT_EQ(*decodeIntBinary(out, 8), -9876543210);
  out.clear();
  encodeFloatBinary(-1234.5678, 8, out);
  EXPECT_EQ(hex(out), "c0934a456d5cfaad");  // float8send(-1234.5678)
  out.clear();
  encodeFloatBinary(3.25, 4, out);
  EXPECT_EQ(hex(out), "40500000");  // float4send(3.25)
  EXPECT_TRUE(std::isnan(*parseFloat("NaN", 8)));
  EXPECT_EQ(*parseFloat("-Infinity", 8), -INFINITY);
  out.clear();
  formatFloat(0.1f, 4, out);
  EXPECT_EQ(out, "0.1");
}

}  // namespace
}  // namespace pgw::mask::codec
