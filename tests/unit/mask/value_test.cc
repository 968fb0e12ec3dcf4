// maskValue per function × type × format. Two tables:
//  - every function on a sample of every type, in text and in binary (the
//    binary samples are PostgreSQL's own *_send output): both results must be
//    valid values of the type (checked by the tests' own decoders), NULL in
//    both or in neither, and the same value in both formats;
//  - exact expected text results, per function and type.

#include "mask/value.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mask/types.h"
#include "pg_decode.h"

namespace pgw::mask {
namespace {

using testing::binaryToText;
using testing::hex;
using testing::unhex;
using testing::validText;

std::shared_ptr<const Hmac> testKey() {
  static auto key = std::make_shared<const Hmac>("0123456789abcdef-test-key");
  return key;
}

MaskSpec make(MaskFunction f) {
  MaskSpec s;
  s.function = f;
  s.key = testKey();
  return s;
}
MaskSpec partial(int first, int last) {
  MaskSpec s = make(MaskFunction::Partial);
  s.keep_first = first;
  s.keep_last = last;
  return s;
}
MaskSpec truncateTo(DateUnit unit) {
  MaskSpec s = make(MaskFunction::TruncateDate);
  s.to = unit;
  return s;
}
MaskSpec roundTo(int digits) {
  MaskSpec s = make(MaskFunction::Round);
  s.digits = digits;
  return s;
}
MaskSpec redactWith(std::string text) {
  MaskSpec s = make(MaskFunction::Redact);
  s.text = std::move(text);
  return s;
}

struct Sample {
  const char* name;
  uint32_t oid;
  int32_t typmod;
  std::string text;
  std::string bin_hex;  ///< PostgreSQL's binary output for `text`
};

std::vector<Sample> samples() {
  return {
      {"text", oid::kText, -1, "alice@example.com", hex("alice@example.com")},
      {"varchar(10)", oid::kVarchar, 14, "bob@x.io", hex("bob@x.io")},
      {"bpchar(12)", oid::kBpchar, 16, "bob@x.io    ", hex("bob@x.io    ")},
      {"name", oid::kName, -1, "alice@example.com", hex("alice@example.com")},
      {"json string", oid::kJson, -1, "\"alice@example.com\"", hex("\"alice@example.com\"")},
      {"json object", oid::kJson, -1, R"({"a": 1, "e": "x@y.io"})",
       hex(R"({"a": 1, "e": "x@y.io"})")},
      {"jsonb object", oid::kJsonb, -1, R"({"a": 1})", "017b2261223a20317d"},
      {"jsonb string", oid::kJsonb, -1, "\"alice@example.com\"",
       "0122616c696365406578616d706c652e636f6d22"},
      {"bytea", oid::kBytea, -1, "\\x616263", "616263"},
      {"int2", oid::kInt2, -1, "1234", "04d2"},
      {"int4", oid::kInt4, -1, "123456789", "075bcd15"},
      {"int8", oid::kInt8, -1, "-9876543210", "fffffffdb34fe916"},
      {"numeric(10,4)", oid::kNumeric, 655368, "1234.5678", "000200000000000404d2162e"},
      {"numeric", oid::kNumeric, -1, "-1234567.891", "0003000140000003007b11d722ce"},
      {"float4", oid::kFloat4, -1, "3.25", "40500000"},
      {"float8", oid::kFloat8, -1, "-1234.5678", "c0934a456d5cfaad"},
      {"date", oid::kDate, -1, "1987-06-15", "ffffee19"},
      {"timestamp", oid::kTimestamp, -1, "2024-03-05 12:34:56.789", "0002b5e7d6a76608"},
      {"timestamptz", oid::kTimestampTz, -1, "2024-03-05 12:34:56.789+00", "0002b5e7d6a76608"},
      {"uuid", oid::kUuid, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
       "a0eebc999c0b4ef8bb6d6bb9bd380a11"},
      {"text[]", oid::kTextArray, -1, R"({alice@example.com,NULL,"b c"})",
       "000000010000000100000019000000030000000100000011616c696365406578616d706c652e636f6d"
       "ffffffff00000003622063"},
      {"numeric[]", oid::kNumericArray, -1, "{1.5,NULL,-2}",
       "0000000100000001000006a400000003000000010000000c000200000000000100011388ffffffff0000"
       "000a00010000400000000002"},
      {"date[]", oid::kDateArray, -1, "{1987-06-15,2001-02-03}",
       "00000001000000000000043a000000020000000100000004ffffee19000000040000018f"},
  };
}

std::vector<std::pair<std::string, MaskSpec>> specs() {
  return {{"redact", make(MaskFunction::Redact)},
          {"redact text", redactWith("[hidden]")},
          {"partial", partial(2, 2)},
          {"email", make(MaskFunction::Email)},
          {"hash", make(MaskFunction::Hash)},
          {"null", make(MaskFunction::Null)},
          {"format_preserving", make(MaskFunction::FormatPreserving)},
          {"truncate_date month", truncateTo(DateUnit::Month)},
          {"truncate_date year", truncateTo(DateUnit::Year)},
          {"round 1", roundTo(1)},
          {"round -2", roundTo(-2)}};
}

TEST(MaskValue, EveryFunctionOnEveryTypeDecodesInBothFormats) {
  for (const Sample& s : samples()) {
    ASSERT_TRUE(binaryToText(s.oid, unhex(s.bin_hex))) << s.name << ": bad fixture";
    ASSERT_EQ(*binaryToText(s.oid, unhex(s.bin_hex)), s.text) << s.name << ": bad fixture";
    for (const auto& [fname, spec] : specs()) {
      SCOPED_TRACE(std::string(s.name) + " / " + fname);
      auto t = maskValue(spec, s.oid, s.typmod, kTextFormat, s.text);
      auto b = maskValue(spec, s.oid, s.typmod, kBinaryFormat, unhex(s.bin_hex));
      ASSERT_TRUE(t.ok()) << t.error().message;
      ASSERT_TRUE(b.ok()) << b.error().message;
      ASSERT_EQ(t->has_value(), b->has_value());
      if (!t->has_value()) continue;
      EXPECT_TRUE(validText(s.oid, s.typmod, **t)) << "text result: " << **t;
      auto decoded = binaryToText(s.oid, **b);
      ASSERT_TRUE(decoded) << "binary result does not decode: " << hex(**b);
      EXPECT_TRUE(validText(s.oid, s.typmod, *decoded)) << "binary result: " << *decoded;
      EXPECT_EQ(*decoded, **t) << "text and binary results differ";
      // Functions that hide the whole value never let it through.
      if (spec.function == MaskFunction::Redact || spec.function == MaskFunction::Hash ||
          spec.function == MaskFunction::FormatPreserving) {
        EXPECT_EQ(decoded->find("alice"), std::string::npos) << *decoded;
        if (s.text.size() > 3) {
          EXPECT_NE(*decoded, s.text);
        }
      }
    }
  }
}

struct Expect {
  const char* what;
  MaskSpec spec;
  uint32_t oid;
  int32_t typmod;
  std::string in;
  std::optional<std::string> out;  ///< nullopt = NULL
};

TEST(MaskValue, ExpectedTextResults) {
  const std::optional<std::string> null;
  const std::vector<Expect> cases = {
      // redact: the text, fitted; a type-valid constant or NULL otherwise.
      {"redact text", make(MaskFunction::Redact), oid::kText, -1, "secret", "***"},
      {"redact varchar(2)", make(MaskFunction::Redact), oid::kVarchar, 6, "secret", "**"},
      {"redact bpchar(5)", redactWith("[hidden]"), oid::kBpchar, 9, "abcde", "[hidd"},
      {"redact bpchar(6)", make(MaskFunction::Redact), oid::kBpchar, 10, "abcdef", "***   "},
      {"redact json", make(MaskFunction::Redact), oid::kJson, -1, R"({"a":1})", "\"***\""},
      {"redact json quotes", redactWith("a\"b"), oid::kJson, -1, "1", "\"a\\\"b\""},
      {"redact bytea", make(MaskFunction::Redact), oid::kBytea, -1, "\\x00", "\\x2a2a2a"},
      {"redact int4", make(MaskFunction::Redact), oid::kInt4, -1, "42", "0"},
      {"redact numeric(10,4)", make(MaskFunction::Redact), oid::kNumeric, 655368, "1.5", "0.0000"},
      {"redact float8", make(MaskFunction::Redact), oid::kFloat8, -1, "1.5", "0"},
      {"redact date", make(MaskFunction::Redact), oid::kDate, -1, "2024-01-01", null},
      {"redact timestamptz", make(MaskFunction::Redact), oid::kTimestampTz, -1,
       "2024-01-01 00:00:00+00", null},
      {"redact uuid", make(MaskFunction::Redact), oid::kUuid, -1,
       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"},
      {"redact int4[]", make(MaskFunction::Redact), oid::kInt4Array, -1, "{1,NULL,3}",
       "{0,NULL,0}"},
      {"redact date[]", make(MaskFunction::Redact), oid::kDateArray, -1, "{2024-01-01}", "{NULL}"},
      {"redact unknown type", make(MaskFunction::Redact), 16 /* bool */, -1, "t", null},
      // partial
      {"partial card", partial(0, 4), oid::kText, -1, "4111111111111111", "************1111"},
      {"partial utf-8", partial(1, 1), oid::kText, -1, "\xc3\xa9t\xc3\xa9", "\xc3\xa9*\xc3\xa9"},
      {"partial short", partial(2, 2), oid::kText, -1, "abcd", "****"},
      {"partial int4", partial(2, 2), oid::kInt4, -1, "123456789", "120000089"},
      {"partial int8 negative", partial(0, 2), oid::kInt8, -1, "-987654", "-54"},
      {"partial numeric", partial(2, 2), oid::kNumeric, 655368, "1234.5678", "1200.0078"},
      {"partial float8", partial(1, 0), oid::kFloat8, -1, "-1234.5678", "-1000"},
      {"partial uuid", partial(2, 2), oid::kUuid, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
       "a0000000-0000-0000-0000-000000000011"},
      {"partial bytea", partial(1, 1), oid::kBytea, -1, "\\x61626364", "\\x612a2a64"},
      {"partial date", partial(2, 2), oid::kDate, -1, "2024-01-01", null},
      {"partial json string", partial(1, 4), oid::kJson, -1, "\"alice@x.io\"", "\"a*****x.io\""},
      // email
      {"email", make(MaskFunction::Email), oid::kText, -1, "alice@example.com", "***@example.com"},
      {"email not one", make(MaskFunction::Email), oid::kText, -1, "not an address", "***"},
      {"email varchar(8)", make(MaskFunction::Email), oid::kVarchar, 12, "a@example.com",
       "***@exam"},
      {"email jsonb", make(MaskFunction::Email), oid::kJsonb, -1, "\"bob@corp.io\"",
       "\"***@corp.io\""},
      {"email text[]", make(MaskFunction::Email), oid::kTextArray, -1,
       R"({alice@example.com,NULL,"b c"})", "{***@example.com,NULL,***}"},
      {"email int4", make(MaskFunction::Email), oid::kInt4, -1, "7", "0"},
      // null
      {"null text", make(MaskFunction::Null), oid::kText, -1, "x", null},
      {"null int4[]", make(MaskFunction::Null), oid::kInt4Array, -1, "{1}", null},
      // truncate_date
      {"truncate date month", truncateTo(DateUnit::Month), oid::kDate, -1, "1987-06-15",
       "1987-06-01"},
      {"truncate date year", truncateTo(DateUnit::Year), oid::kDate, -1, "1987-06-15",
       "1987-01-01"},
      {"truncate date infinity", truncateTo(DateUnit::Year), oid::kDate, -1, "infinity",
       "infinity"},
      {"truncate bc", truncateTo(DateUnit::Year), oid::kDate, -1, "0044-03-15 BC", "0044-01-01 BC"},
      {"truncate timestamp day", truncateTo(DateUnit::Day), oid::kTimestamp, -1,
       "2024-03-05 12:34:56.789", "2024-03-05 00:00:00"},
      {"truncate timestamptz keeps the zone", truncateTo(DateUnit::Month), oid::kTimestampTz, -1,
       "2024-03-05 12:34:56.789+05:30", "2024-03-01 00:00:00+05:30"},
      {"truncate text date", truncateTo(DateUnit::Month), oid::kText, -1, "2024-03-05",
       "2024-03-01"},
      {"truncate text timestamp", truncateTo(DateUnit::Year), oid::kText, -1,
       "2024-03-05T10:00:00Z", "2024-01-01T00:00:00+00"},
      {"truncate text not a date", truncateTo(DateUnit::Year), oid::kText, -1, "hello", "***"},
      {"truncate int4", truncateTo(DateUnit::Year), oid::kInt4, -1, "2024", "0"},
      {"truncate uuid", truncateTo(DateUnit::Year), oid::kUuid, -1,
       "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "00000000-0000-0000-0000-000000000000"},
      {"truncate date[]", truncateTo(DateUnit::Year), oid::kDateArray, -1, "{1987-06-15,NULL}",
       "{1987-01-01,NULL}"},
      // round
      {"round numeric 1", roundTo(1), oid::kNumeric, 655368, "1234.5678", "1234.6000"},
      {"round numeric -2", roundTo(-2), oid::kNumeric, 655368, "1234.5678", "1200.0000"},
      {"round numeric overflow", roundTo(-1), oid::kNumeric, 4 + (3 << 16), "999", "990"},
      {"round int4", roundTo(-2), oid::kInt4, -1, "1250", "1300"},
      {"round int4 negative", roundTo(-2), oid::kInt4, -1, "-1249", "-1200"},
      {"round int2 near max", roundTo(-2), oid::kInt2, -1, "32767", "32700"},
      {"round int4 positive digits", roundTo(2), oid::kInt4, -1, "1234", "1234"},
      {"round float8", roundTo(1), oid::kFloat8, -1, "-1234.5678", "-1234.6"},
      {"round float4", roundTo(0), oid::kFloat4, -1, "2.5", "3"},
      {"round text number", roundTo(2), oid::kText, -1, "12.345", "12.35"},
      {"round text not a number", roundTo(2), oid::kText, -1, "abc", "***"},
      {"round json number", roundTo(-3), oid::kJson, -1, "123456", "123000"},
      {"round date", roundTo(0), oid::kDate, -1, "2024-01-01", null},
  };
  for (const Expect& c : cases) {
    auto r = maskValue(c.spec, c.oid, c.typmod, kTextFormat, c.in);
    ASSERT_TRUE(r.ok()) << c.what << ": " << r.error().message;
    EXPECT_EQ(*r, c.out) << c.what;
  }
}

TEST(MaskValue, HashIsDeterministicAndCanonical) {
  const MaskSpec h = make(MaskFunction::Hash);
  auto a = maskValue(h, oid::kText, -1, kTextFormat, "alice@example.com");
  auto b = maskValue(h, oid::kVarchar, 100, kBinaryFormat, "alice@example.com");
  auto j = maskValue(h, oid::kJsonb, -1, kBinaryFormat, "\x01\"alice@example.com\"");
  ASSERT_TRUE(a.ok() && b.ok() && j.ok());
  EXPECT_EQ(**a, **b);  // joins across text types and formats still match
  EXPECT_EQ(a->value().size(), 16u);
  EXPECT_EQ(**j, "\x01\"" + **a + "\"");
  EXPECT_NE(**maskValue(h, oid::kText, -1, kTextFormat, "alice@example.org"), **a);

  // Another key, another output: the key is what makes it irreversible.
  MaskSpec other = h;
  other.key = std::make_shared<const Hmac>("another-key-of-16-bytes");
  EXPECT_NE(**maskValue(other, oid::kText, -1, kTextFormat, "alice@example.com"), **a);

  MaskSpec longer = h;
  longer.length = 64;
  EXPECT_EQ(maskValue(longer, oid::kText, -1, kTextFormat, "x")->value().size(), 64u);

  // int4 in text and binary hash alike; the result stays in range.
  auto t = maskValue(h, oid::kInt2, -1, kTextFormat, "1234");
  auto bin = maskValue(h, oid::kInt2, -1, kBinaryFormat, unhex("04d2"));
  EXPECT_EQ(**t, std::to_string(*testing::intValue(**bin, 2)));

  // A hashed uuid is a version 8 (custom) RFC 4122 variant uuid.
  auto u = maskValue(h, oid::kUuid, -1, kTextFormat, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
  EXPECT_EQ((*u)->at(14), '8');
  EXPECT_NE(std::string("89ab").find((*u)->at(19)), std::string::npos);

  // numeric(5,-2) holds multiples of 100 up to 9999900.
  auto hundreds = maskValue(h, oid::kNumeric, 329730, kTextFormat, "1234500");
  EXPECT_TRUE(validText(oid::kNumeric, 329730, **hundreds)) << **hundreds;
  EXPECT_EQ((*hundreds)->substr((*hundreds)->size() - 2), "00");
  auto fpe = maskValue(make(MaskFunction::FormatPreserving), oid::kNumeric, 329730, kTextFormat,
                       "1234500");
  EXPECT_EQ((*fpe)->size(), 7u);
  EXPECT_EQ((*fpe)->substr(5), "00");

  // numeric(5,2) holds at most 999.99: the hash fits.
  auto n = maskValue(h, oid::kNumeric, 4 + (5 << 16) + 2, kTextFormat, "12.34");
  EXPECT_TRUE(validText(oid::kNumeric, 4 + (5 << 16) + 2, **n)) << **n;
}

bool luhn(const std::string& digits) {
  int sum = 0;
  for (size_t i = 0; i < digits.size(); ++i) {
    int d = digits[digits.size() - 1 - i] - '0';
    if (i % 2 == 1) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
  }
  return sum % 10 == 0;
}

TEST(MaskValue, FormatPreservingKeepsTheShape) {
  const MaskSpec f = make(MaskFunction::FormatPreserving);
  auto spaced = **maskValue(f, oid::kText, -1, kTextFormat, "4111 1111 1111 1111");
  auto dashed = **maskValue(f, oid::kText, -1, kTextFormat, "4111-1111-1111-1111");
  ASSERT_EQ(spaced.size(), 19u);
  std::string digits;
  for (size_t i = 0; i < spaced.size(); ++i) {
    if (i % 5 == 4) {
      EXPECT_EQ(spaced[i], ' ');
      EXPECT_EQ(dashed[i], '-');
    } else {
      ASSERT_TRUE(std::isdigit(static_cast<unsigned char>(spaced[i])));
      EXPECT_EQ(spaced[i], dashed[i]);  // same digits whatever the separators
      digits += spaced[i];
    }
  }
  EXPECT_NE(digits, "4111111111111111");
  EXPECT_TRUE(luhn(digits)) << digits;  // still a syntactically valid card number

  auto phone = **maskValue(f, oid::kText, -1, kTextFormat, "+1 (555) 123-4567");
  EXPECT_EQ(phone.size(), 17u);
  for (size_t i : {0u, 2u, 3u, 7u, 8u, 12u}) EXPECT_EQ(phone[i], "+1 (555) 123-4567"[i]);
  EXPECT_NE(phone, "+1 (555) 123-4567");
  EXPECT_EQ(phone, **maskValue(f, oid::kText, -1, kTextFormat, "+1 (555) 123-4567"));

  auto name = **maskValue(f, oid::kText, -1, kTextFormat, "Zo\xc3\xab Smith");
  EXPECT_EQ(name.size(), 9u);  // ë became one ASCII letter
  EXPECT_TRUE(std::isupper(static_cast<unsigned char>(name[0])) && name[3] == ' ');
  EXPECT_EQ(name.find("Smith"), std::string::npos);

  // int2: same digit count where it fits, always in range.
  auto i2 = **maskValue(f, oid::kInt2, -1, kTextFormat, "-32768");
  EXPECT_TRUE(validText(oid::kInt2, -1, i2)) << i2;
}

TEST(MaskValue, MalformedValuesAreErrors) {
  EXPECT_FALSE(maskValue(make(MaskFunction::Hash), oid::kInt4, -1, kBinaryFormat, "abc").ok());
  EXPECT_FALSE(maskValue(partial(1, 1), oid::kNumeric, -1, kTextFormat, "1,5").ok());
  EXPECT_FALSE(maskValue(make(MaskFunction::Hash), oid::kNumeric, -1, kBinaryFormat,
                         unhex("0001000000000000"))
                   .ok());
  EXPECT_FALSE(maskValue(make(MaskFunction::Hash), oid::kJsonb, -1, kBinaryFormat, "\x02{}").ok());
  EXPECT_FALSE(maskValue(make(MaskFunction::Hash), oid::kUuid, -1, kBinaryFormat, "short").ok());
  EXPECT_FALSE(maskValue(make(MaskFunction::Hash), oid::kInt4Array, -1, kBinaryFormat,
                         unhex("00000001000000000000001700000002000000010000000400000001"))
                   .ok());  // two elements announced, one present
  EXPECT_FALSE(maskValue(make(MaskFunction::Redact), oid::kInt4Array, -1, kTextFormat, "{1,").ok());
  // Dates in another DateStyle are not guessed at.
  auto r = maskValue(truncateTo(DateUnit::Year), oid::kDate, -1, kTextFormat, "03/05/2024");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "22007");
  // Functions that do not read the value do not fail on it.
  EXPECT_TRUE(maskValue(make(MaskFunction::Redact), oid::kInt4, -1, kBinaryFormat, "abc").ok());
}

TEST(MaskValue, ArraysKeepTheirShape) {
  // '[0:1][1:2]={{1,2},{3,4}}'::int2[] as array_send writes it.
  const std::string two_d = unhex(
      "000000020000000000000015000000020000000000000002000000010000000200010000000200020000"
      "00020003000000020004");
  auto r = maskValue(roundTo(-1), oid::kInt2Array, -1, kBinaryFormat, two_d);
  ASSERT_TRUE(r.ok());
  auto a = testing::arrayValue(**r);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->ndim, 2);
  EXPECT_EQ(a->dims[0], std::make_pair(2, 0));
  EXPECT_EQ(*binaryToText(oid::kInt2Array, **r), "[0:1][1:2]={{0,0},{0,0}}");
  auto t = maskValue(roundTo(-1), oid::kInt2Array, -1, kTextFormat, "[0:1][1:2]={{1,2},{3,4}}");
  EXPECT_EQ(**t, "[0:1][1:2]={{0,0},{0,0}}");
  // Empty arrays and arrays of NULLs stay as they are.
  EXPECT_EQ(**maskValue(make(MaskFunction::Redact), oid::kTextArray, -1, kTextFormat, "{}"), "{}");
  const std::string empty = unhex("000000000000000000000019");
  EXPECT_EQ(**maskValue(make(MaskFunction::Redact), oid::kTextArray, -1, kBinaryFormat, empty),
            empty);
  // Quoting of masked elements.
  EXPECT_EQ(**maskValue(redactWith("a,b"), oid::kTextArray, -1, kTextFormat, R"({x,"y z"})"),
            R"({"a,b","a,b"})");
  EXPECT_EQ(**maskValue(redactWith("NULL"), oid::kTextArray, -1, kTextFormat, "{x}"),
            R"({"NULL"})");
}

}  // namespace
}  // namespace pgw::mask
