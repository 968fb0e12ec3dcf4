// Frontend (client -> server) messages: encode, frame, decode, compare
// fields; and malformed bodies rejected with 08P01.

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages.h"
#include "test_util.h"

namespace pgw::protocol {
namespace {

using namespace std::string_literals;
using testing::decodeFe;
using testing::frameWhole;
using testing::str;
using testing::toValues;
using testing::toVector;
using testing::Values;

/// A typed message with `body` as its body, length computed.
std::string message(char type, const std::string& body) {
  std::string s(1, type);
  s.append(4, '\0');
  putI32(s.data() + 1, static_cast<int32_t>(4 + body.size()));
  return s + body;
}

std::string i16(int16_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
std::string i32(int32_t v) {
  std::string s(4, '\0');
  putI32(s.data(), v);
  return s;
}

/// Decodes `wire` and expects an 08P01 error whose message mentions `needle`.
void expectProtocolError(const std::string& wire, std::string_view needle) {
  FrameResult f = frameMessage(testing::bytesOf(wire), Limits{}.max_message_size);
  ASSERT_EQ(f.status, FrameStatus::Complete);
  auto r = decodeFrontend(f.frame);
  ASSERT_FALSE(r.ok()) << "decoded a malformed message: " << needle;
  EXPECT_EQ(r.error().sqlstate, "08P01");
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(FrontendRoundTrip, Query) {
  std::string wire;
  encodeQuery(wire, "SELECT 'x'; SELECT 2");
  EXPECT_EQ(decodeFe<Query>(wire).sql, "SELECT 'x'; SELECT 2");
}

TEST(FrontendRoundTrip, Parse) {
  std::string wire;
  const int32_t types[] = {23, 0, -5};
  encodeParse(wire, "stmt", "SELECT $1, $2, $3", types);
  Parse p = decodeFe<Parse>(wire);
  EXPECT_EQ(p.statement, "stmt");
  EXPECT_EQ(p.query, "SELECT $1, $2, $3");
  EXPECT_EQ(toVector(p.param_types), (std::vector<int32_t>{23, 0, -5}));
}

TEST(FrontendRoundTrip, Bind) {
  std::string wire;
  const int16_t formats[] = {0, 1, 0};
  const std::string binary = "\x00\x00\x00\x2a"s;
  const std::optional<std::string_view> params[] = {"abc", binary, std::nullopt};
  const int16_t results[] = {1, 0};
  encodeBind(wire, "portal", "stmt", formats, params, results);
  Bind b = decodeFe<Bind>(wire);
  EXPECT_EQ(b.portal, "portal");
  EXPECT_EQ(b.statement, "stmt");
  EXPECT_EQ(toVector(b.param_formats), (std::vector<int16_t>{0, 1, 0}));
  ASSERT_EQ(b.params.size(), 3u);
  EXPECT_EQ(toValues(b.params), (Values{"abc", binary, std::nullopt}));
  EXPECT_EQ(toVector(b.result_formats), (std::vector<int16_t>{1, 0}));
}

TEST(FrontendRoundTrip, BindEmptyValueIsNotNull) {
  std::string wire;
  const std::optional<std::string_view> params[] = {"", std::nullopt};
  encodeBind(wire, "", "", {}, params, {});
  Values v = toValues(decodeFe<Bind>(wire).params);
  ASSERT_EQ(v.size(), 2u);
  ASSERT_TRUE(v[0].has_value());
  EXPECT_EQ(*v[0], "");
  EXPECT_FALSE(v[1].has_value());
}

TEST(FrontendRoundTrip, BindWithMoreThanInt16MaxParameters) {
  // Counts are unsigned 16-bit on the wire: PostgreSQL allows 65535 parameters.
  std::string wire;
  std::vector<std::optional<std::string_view>> params(40000, std::nullopt);
  params[39999] = "last";
  encodeBind(wire, "", "", {}, params, {});
  Bind b = decodeFe<Bind>(wire);
  ASSERT_EQ(b.params.size(), 40000u);
  Values v = toValues(b.params);
  ASSERT_EQ(v.size(), 40000u);
  EXPECT_FALSE(v[0].has_value());
  EXPECT_EQ(v[39999], "last");
}

TEST(FrontendRoundTrip, DescribeAndClose) {
  std::string wire;
  encodeDescribe(wire, 'P', "portal");
  Describe d = decodeFe<Describe>(wire);
  EXPECT_EQ(d.target, 'P');
  EXPECT_EQ(d.name, "portal");
  wire.clear();
  encodeClose(wire, 'S', "stmt");
  Close c = decodeFe<Close>(wire);
  EXPECT_EQ(c.target, 'S');
  EXPECT_EQ(c.name, "stmt");
}

TEST(FrontendRoundTrip, Execute) {
  std::string wire;
  encodeExecute(wire, "p", 500);
  Execute e = decodeFe<Execute>(wire);
  EXPECT_EQ(e.portal, "p");
  EXPECT_EQ(e.max_rows, 500);
}

TEST(FrontendRoundTrip, EmptyMessages) {
  std::string wire;
  encodeSync(wire);
  EXPECT_EQ(wire, "S\0\0\0\4"s);
  decodeFe<Sync>(wire);
  wire.clear();
  encodeFlush(wire);
  EXPECT_EQ(wire, "H\0\0\0\4"s);
  decodeFe<Flush>(wire);
  wire.clear();
  encodeTerminate(wire);
  EXPECT_EQ(wire, "X\0\0\0\4"s);
  decodeFe<Terminate>(wire);
  wire.clear();
  encodeCopyDone(wire);
  EXPECT_EQ(wire, "c\0\0\0\4"s);
  decodeFe<CopyDone>(wire);
}

TEST(FrontendRoundTrip, CopyDataAndCopyFail) {
  std::string wire;
  const std::string data = "1\tal\0ice\n"s;
  encodeCopyData(wire, asBytes(data));
  EXPECT_EQ(str(decodeFe<CopyData>(wire).data), data);
  wire.clear();
  encodeCopyFail(wire, "aborted by user");
  EXPECT_EQ(decodeFe<CopyFail>(wire).message, "aborted by user");
}

TEST(FrontendRoundTrip, FunctionCall) {
  std::string wire;
  const int16_t formats[] = {1};
  const std::string arg = "\x01\x02"s;
  const std::optional<std::string_view> args[] = {arg, std::nullopt};
  encodeFunctionCall(wire, 1598, formats, args, 1);
  FunctionCall f = decodeFe<FunctionCall>(wire);
  EXPECT_EQ(f.function_oid, 1598);
  EXPECT_EQ(toVector(f.arg_formats), (std::vector<int16_t>{1}));
  EXPECT_EQ(toValues(f.args), (Values{arg, std::nullopt}));
  EXPECT_EQ(f.result_format, 1);
}

TEST(FrontendRoundTrip, PasswordMessage) {
  std::string wire;
  encodePassword(wire, "eyJhbGciOi.token");
  PasswordPacket p = decodeFe<PasswordPacket>(wire);
  auto pw = decodePassword(p.data);
  ASSERT_TRUE(pw.ok()) << pw.error().message;
  EXPECT_EQ(*pw, "eyJhbGciOi.token");
}

TEST(FrontendRoundTrip, SaslInitialResponse) {
  std::string wire;
  encodeSaslInitialResponse(wire, "SCRAM-SHA-256", "n,,n=,r=nonce");
  PasswordPacket p = decodeFe<PasswordPacket>(wire);
  auto sasl = decodeSaslInitialResponse(p.data);
  ASSERT_TRUE(sasl.ok()) << sasl.error().message;
  EXPECT_EQ(sasl->mechanism, "SCRAM-SHA-256");
  ASSERT_TRUE(sasl->data.has_value());
  EXPECT_EQ(str(*sasl->data), "n,,n=,r=nonce");
}

TEST(FrontendRoundTrip, SaslInitialResponseWithoutData) {
  std::string body = "SCRAM-SHA-256\0"s + i32(-1);
  auto sasl = decodeSaslInitialResponse(testing::bytesOf(body));
  ASSERT_TRUE(sasl.ok()) << sasl.error().message;
  EXPECT_EQ(sasl->mechanism, "SCRAM-SHA-256");
  EXPECT_FALSE(sasl->data.has_value());
}

TEST(FrontendRoundTrip, SaslResponse) {
  std::string wire;
  encodeSaslResponse(wire, "c=biws,r=x,p=y");
  PasswordPacket p = decodeFe<PasswordPacket>(wire);
  EXPECT_EQ(str(decodeSaslResponse(p.data)), "c=biws,r=x,p=y");
}

TEST(FrontendRoundTrip, EveryAlternativeIsCovered) {
  std::vector<bool> seen(std::variant_size_v<FrontendMessage>, false);
  for (const auto& s : testing::frontendSamples()) {
    auto r = decodeFrontend(frameWhole(s.wire));
    ASSERT_TRUE(r.ok()) << s.name << ": " << r.error().message;
    seen[r->index()] = true;
    EXPECT_EQ(testing::reencodeFrontend(*r), s.wire) << s.name;
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_TRUE(seen[i]) << "alternative " << i;
}

TEST(EncodeFrontend, EmbeddedNulIsCutSoTheMessageStaysWellFormed) {
  std::string wire;
  encodeQuery(wire, "SELECT 1\0; DROP TABLE t"s);
  EXPECT_EQ(decodeFe<Query>(wire).sql, "SELECT 1");
}

TEST(DecodeFrontend, UnknownTypeRejected) {
  expectProtocolError(message('z', ""), "unknown message type 'z'");
  expectProtocolError(message('\0', ""), "0x00");
  // Backend-only types are not frontend messages.
  expectProtocolError(message('T', ""), "'T'");
}

TEST(DecodeFrontend, BindParamLengthPastTheEnd) {
  std::string body = "\0\0"s + i16(0) + i16(1) + i32(10) + "abc" + i16(0);
  expectProtocolError(message('B', body), "parameter value 1 needs 10 bytes");
}

TEST(DecodeFrontend, BindNegativeLengthOtherThanMinusOne) {
  std::string body = "\0\0"s + i16(0) + i16(2) + i32(-1) + i32(-2) + i16(0);
  expectProtocolError(message('B', body), "parameter value 2 has invalid length -2");
}

TEST(DecodeFrontend, BindFormatCountMustMatchParams) {
  std::string body =
      "\0\0"s + i16(2) + i16(0) + i16(0) + i16(3) + i32(-1) + i32(-1) + i32(-1) + i16(0);
  expectProtocolError(message('B', body), "2 parameter formats for 3 parameters");
}

TEST(DecodeFrontend, BindMissingResultFormats) {
  std::string body = "\0\0"s + i16(0) + i16(0);
  expectProtocolError(message('B', body), "result format count needs 2 bytes but only 0");
}

TEST(DecodeFrontend, BindCountsAreUnsigned) {
  // 0x8000 parameter formats is a large count, not a negative one: it
  // overruns rather than being read as -32768.
  std::string body = "\0\0"s + i16(INT16_MIN);
  expectProtocolError(message('B', body), "parameter format codes needs 65536 bytes");
}

TEST(DecodeFrontend, LeftoverBytesRejected) {
  std::string wire;
  encodeExecute(wire, "p", 0);
  std::string body = wire.substr(5) + "x";
  expectProtocolError(message('E', body), "1 unexpected bytes left over");
  expectProtocolError(message('S', "\0"s), "Sync: 1 unexpected bytes left over");
  expectProtocolError(message('Q', "SELECT 1\0\0"s), "Query: 1 unexpected bytes");
  expectProtocolError(message('c', "zz"), "CopyDone: 2 unexpected bytes");
}

TEST(DecodeFrontend, QueryWithoutTerminatorRejected) {
  expectProtocolError(message('Q', "SELECT 1"), "Query: query string is not NUL-terminated");
  expectProtocolError(message('Q', ""), "Query: query string is not NUL-terminated");
}

TEST(DecodeFrontend, ParseTypeCountOverrun) {
  std::string body = "\0SELECT 1\0"s + i16(2) + i32(23);
  expectProtocolError(message('P', body), "Parse: parameter types needs 8 bytes but only 4");
}

TEST(DecodeFrontend, DescribeTargetMustBeStatementOrPortal) {
  expectProtocolError(message('D', "Xname\0"s), "target must be 'S' (statement) or 'P'");
  expectProtocolError(message('C', ""), "Close: target needs 1 bytes but only 0");
}

TEST(DecodeFrontend, ExecuteTruncatedMaxRows) {
  expectProtocolError(message('E', "\0\0\0"s), "Execute: maximum row count needs 4 bytes");
}

TEST(DecodeFrontend, FunctionCallArgumentOverrun) {
  std::string body = i32(1598) + i16(0) + i16(1) + i32(5) + "ab";
  expectProtocolError(message('F', body), "argument value 1 needs 5 bytes but only 2");
}

TEST(DecodeFrontend, FunctionCallMissingResultFormat) {
  std::string body = i32(1598) + i16(0) + i16(0);
  expectProtocolError(message('F', body), "result format needs 2 bytes");
}

TEST(DecodePassword, RequiresOneTerminatedString) {
  auto missing = decodePassword(testing::bytesOf("secret"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().sqlstate, "08P01");
  auto extra = decodePassword(testing::bytesOf("secret\0x"s));
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.error().message.find("left over"), std::string::npos);
  auto empty = decodePassword(testing::bytesOf("\0"s));
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(*empty, "");
}

TEST(DecodeSaslInitialResponse, RejectsBadLengths) {
  auto over = decodeSaslInitialResponse(testing::bytesOf("SCRAM-SHA-256\0"s + i32(10) + "abc"));
  ASSERT_FALSE(over.ok());
  EXPECT_NE(over.error().message.find("initial response needs 10 bytes"), std::string::npos)
      << over.error().message;
  auto extra = decodeSaslInitialResponse(testing::bytesOf("M\0"s + i32(1) + "ab"));
  ASSERT_FALSE(extra.ok());
  EXPECT_NE(extra.error().message.find("1 unexpected bytes left over"), std::string::npos);
  auto negative = decodeSaslInitialResponse(testing::bytesOf("M\0"s + i32(-7)));
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.error().message.find("invalid length -7"), std::string::npos);
  auto no_length = decodeSaslInitialResponse(testing::bytesOf("M\0"s));
  ASSERT_FALSE(no_length.ok());
  EXPECT_EQ(no_length.error().sqlstate, "08P01");
}

}  // namespace
}  // namespace pgw::protocol
