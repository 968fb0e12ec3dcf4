// Backend (server -> client) messages: encode, frame, decode, compare
// fields; and malformed bodies rejected with 08P01.

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages.h"
#include "test_util.h"

namespace pgw::protocol {
namespace {

using namespace std::string_literals;
using testing::decodeBe;
using testing::frameWhole;
using testing::str;
using testing::toValues;
using testing::toVector;
using testing::Values;

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

void expectProtocolError(const std::string& wire, std::string_view needle) {
  FrameResult f = frameMessage(testing::bytesOf(wire), Limits{}.max_message_size);
  ASSERT_EQ(f.status, FrameStatus::Complete);
  auto r = decodeBackend(f.frame);
  ASSERT_FALSE(r.ok()) << "decoded a malformed message: " << needle;
  EXPECT_EQ(r.error().sqlstate, "08P01");
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(BackendRoundTrip, AuthenticationCodesWithoutData) {
  for (AuthCode code : {AuthCode::Ok, AuthCode::KerberosV5, AuthCode::CleartextPassword,
                        AuthCode::SCMCredential, AuthCode::GSS, AuthCode::SSPI}) {
    std::string wire;
    encodeAuthentication(wire, code);
    EXPECT_EQ(wire.size(), 9u);
    Authentication a = decodeBe<Authentication>(wire);
    EXPECT_EQ(a.code, code);
    EXPECT_TRUE(a.data.empty());
    EXPECT_TRUE(a.mechanisms.empty());
  }
}

TEST(BackendRoundTrip, AuthenticationMd5Salt) {
  std::string wire;
  encodeAuthentication(wire, AuthCode::MD5Password, "\x00\xff\x10\x7f"s);
  Authentication a = decodeBe<Authentication>(wire);
  EXPECT_EQ(a.code, AuthCode::MD5Password);
  EXPECT_EQ(str(a.data), "\x00\xff\x10\x7f"s);
}

TEST(BackendRoundTrip, AuthenticationSasl) {
  std::string wire;
  const std::string_view mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
  encodeAuthenticationSasl(wire, mechs);
  Authentication a = decodeBe<Authentication>(wire);
  EXPECT_EQ(a.code, AuthCode::SASL);
  EXPECT_EQ(a.mechanisms, (std::vector<std::string_view>{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}));
  EXPECT_EQ(str(a.data), "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"s);
}

TEST(BackendRoundTrip, AuthenticationContinueAndFinalCarryData) {
  for (AuthCode code : {AuthCode::SASLContinue, AuthCode::SASLFinal, AuthCode::GSSContinue}) {
    std::string wire;
    encodeAuthentication(wire, code, "r=abc\0,s=1"s);
    Authentication a = decodeBe<Authentication>(wire);
    EXPECT_EQ(a.code, code);
    EXPECT_EQ(str(a.data), "r=abc\0,s=1"s);
  }
}

TEST(BackendRoundTrip, BackendKeyData) {
  std::string wire;
  encodeBackendKeyData(wire, BackendKeyData{31337, INT32_MIN});
  BackendKeyData k = decodeBe<BackendKeyData>(wire);
  EXPECT_EQ(k.process_id, 31337);
  EXPECT_EQ(k.secret_key, INT32_MIN);
}

TEST(BackendRoundTrip, EmptyMessages) {
  std::string wire;
  encodeBindComplete(wire);
  EXPECT_EQ(wire, "2\0\0\0\4"s);
  decodeBe<BindComplete>(wire);
  wire.clear();
  encodeCloseComplete(wire);
  decodeBe<CloseComplete>(wire);
  wire.clear();
  encodeParseComplete(wire);
  decodeBe<ParseComplete>(wire);
  wire.clear();
  encodeNoData(wire);
  decodeBe<NoData>(wire);
  wire.clear();
  encodePortalSuspended(wire);
  decodeBe<PortalSuspended>(wire);
  wire.clear();
  encodeEmptyQueryResponse(wire);
  decodeBe<EmptyQueryResponse>(wire);
  wire.clear();
  encodeCopyDone(wire);
  decodeBe<CopyDone>(wire);
}

TEST(BackendRoundTrip, CommandComplete) {
  std::string wire;
  encodeCommandComplete(wire, "INSERT 0 5");
  EXPECT_EQ(decodeBe<CommandComplete>(wire).tag, "INSERT 0 5");
}

TEST(BackendRoundTrip, CopyResponses) {
  const int16_t formats[] = {1, 1, 0};
  for (char kind : {be::kCopyInResponse, be::kCopyOutResponse, be::kCopyBothResponse}) {
    std::string wire;
    encodeCopyResponse(wire, kind, 1, formats);
    CopyResponse c = decodeBe<CopyResponse>(wire);
    EXPECT_EQ(c.kind, kind);
    EXPECT_EQ(c.format, 1);
    EXPECT_EQ(toVector(c.column_formats), (std::vector<int16_t>{1, 1, 0}));
  }
}

TEST(BackendRoundTrip, CopyData) {
  std::string wire;
  encodeCopyData(wire, asBytes("a\tb\n"));
  EXPECT_EQ(str(decodeBe<CopyData>(wire).data), "a\tb\n");
}

TEST(BackendRoundTrip, DataRow) {
  std::string wire;
  const std::string big(70000, 'z');
  const std::optional<std::string_view> cols[] = {"1", std::nullopt, "", big};
  encodeDataRow(wire, cols);
  DataRow d = decodeBe<DataRow>(wire);
  ASSERT_EQ(d.columns.size(), 4u);
  EXPECT_EQ(toValues(d.columns), (Values{"1", std::nullopt, "", big}));
}

TEST(BackendRoundTrip, ErrorResponseFields) {
  std::string wire;
  encodeErrorResponse(
      wire, ErrorFields{"FATAL", "28000", "token expired", "exp in the past", "get a new token"});
  ErrorResponse e = decodeBe<ErrorResponse>(wire);
  EXPECT_EQ(e.fields.severity(), "FATAL");
  EXPECT_EQ(e.fields.get('S'), "FATAL");
  EXPECT_EQ(e.fields.sqlstate(), "28000");
  EXPECT_EQ(e.fields.message(), "token expired");
  EXPECT_EQ(e.fields.get('D'), "exp in the past");
  EXPECT_EQ(e.fields.get('H'), "get a new token");
  EXPECT_FALSE(e.fields.get('P').has_value());
}

TEST(BackendRoundTrip, NoticeResponseOmitsEmptyOptionalFields) {
  std::string wire;
  encodeNoticeResponse(wire, ErrorFields{"WARNING", "01000", "careful", "", ""});
  NoticeResponse n = decodeBe<NoticeResponse>(wire);
  EXPECT_EQ(n.fields.severity(), "WARNING");
  EXPECT_EQ(n.fields.message(), "careful");
  EXPECT_FALSE(n.fields.get('D').has_value());
  EXPECT_FALSE(n.fields.get('H').has_value());
}

TEST(BackendRoundTrip, NoticeFieldsVerbatim) {
  std::string wire;
  const std::pair<char, std::string_view> fields[] = {
      {'S', "ERROR"}, {'C', "23505"}, {'M', "dup"}, {'n', "users_pkey"}, {'\0', "skipped"}};
  encodeNoticeFields(wire, be::kErrorResponse, fields);
  ErrorResponse e = decodeBe<ErrorResponse>(wire);
  EXPECT_EQ(e.fields.get('n'), "users_pkey");
  EXPECT_EQ(e.fields.severity(), "ERROR");  // falls back to 'S' without 'V'
  EXPECT_EQ(testing::noticePairs(e.fields).size(), 4u);
}

TEST(BackendRoundTrip, NoticeFieldsGetStaysInsideUnterminatedRaw) {
  // NoticeFields is a plain struct; a hand-built one without terminators must
  // not be read past its end.
  std::string raw = "Mhello";
  NoticeFields f{asBytes(raw)};
  EXPECT_FALSE(f.get('M').has_value());
  EXPECT_FALSE(NoticeFields{}.get('M').has_value());
}

TEST(BackendRoundTrip, FunctionCallResponse) {
  std::string wire;
  encodeFunctionCallResponse(wire, "\x01\x00"s);
  auto r = decodeBe<FunctionCallResponse>(wire);
  ASSERT_TRUE(r.result.has_value());
  EXPECT_EQ(str(*r.result), "\x01\x00"s);
  wire.clear();
  encodeFunctionCallResponse(wire, std::nullopt);
  EXPECT_FALSE(decodeBe<FunctionCallResponse>(wire).result.has_value());
}

TEST(BackendRoundTrip, NegotiateProtocolVersion) {
  std::string wire;
  const std::string_view names[] = {"_pq_.a", "_pq_.b"};
  encodeNegotiateProtocolVersion(wire, 0, names);
  NegotiateProtocolVersion n = decodeBe<NegotiateProtocolVersion>(wire);
  EXPECT_EQ(n.newest_minor, 0);
  EXPECT_EQ(n.unrecognized, (std::vector<std::string_view>{"_pq_.a", "_pq_.b"}));
}

TEST(BackendRoundTrip, NotificationResponse) {
  std::string wire;
  encodeNotificationResponse(wire, NotificationResponse{99, "jobs", "{\"id\":1}"});
  NotificationResponse n = decodeBe<NotificationResponse>(wire);
  EXPECT_EQ(n.process_id, 99);
  EXPECT_EQ(n.channel, "jobs");
  EXPECT_EQ(n.payload, "{\"id\":1}");
}

TEST(BackendRoundTrip, ParameterDescriptionAndStatus) {
  std::string wire;
  const int32_t types[] = {23, 1043};
  encodeParameterDescription(wire, types);
  EXPECT_EQ(toVector(decodeBe<ParameterDescription>(wire).types), (std::vector<int32_t>{23, 1043}));
  wire.clear();
  encodeParameterStatus(wire, "TimeZone", "UTC");
  ParameterStatus s = decodeBe<ParameterStatus>(wire);
  EXPECT_EQ(s.name, "TimeZone");
  EXPECT_EQ(s.value, "UTC");
}

TEST(BackendRoundTrip, ReadyForQuery) {
  for (TxStatus st : {TxStatus::Idle, TxStatus::InTransaction, TxStatus::Failed}) {
    std::string wire;
    encodeReadyForQuery(wire, st);
    EXPECT_EQ(decodeBe<ReadyForQuery>(wire).status, st);
  }
}

TEST(BackendRoundTrip, RowDescription) {
  std::string wire;
  const FieldDescription fields[] = {{"id", 16384, 1, 23, 4, -1, 0},
                                     {"", 0, 0, 25, -1, -1, 1},
                                     {"email", 16390, -7, 1043, -1, 259, 0}};
  encodeRowDescription(wire, fields);
  RowDescription r = decodeBe<RowDescription>(wire);
  ASSERT_EQ(r.fields.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const FieldDescription& a = r.fields[i];
    const FieldDescription& b = fields[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.table_oid, b.table_oid);
    EXPECT_EQ(a.column_attnum, b.column_attnum);
    EXPECT_EQ(a.type_oid, b.type_oid);
    EXPECT_EQ(a.type_size, b.type_size);
    EXPECT_EQ(a.type_modifier, b.type_modifier);
    EXPECT_EQ(a.format, b.format);
  }
}

TEST(BackendRoundTrip, EveryAlternativeIsCovered) {
  std::vector<bool> seen(std::variant_size_v<BackendMessage>, false);
  for (const auto& s : testing::backendSamples()) {
    auto r = decodeBackend(frameWhole(s.wire));
    ASSERT_TRUE(r.ok()) << s.name << ": " << r.error().message;
    seen[r->index()] = true;
    EXPECT_EQ(testing::reencodeBackend(*r), s.wire) << s.name;
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_TRUE(seen[i]) << "alternative " << i;
}

TEST(DecodeBackend, UnknownTypeRejected) {
  expectProtocolError(message('Q', ""), "unknown message type 'Q'");
  expectProtocolError(message('\x7f', ""), "0x7f");
}

TEST(DecodeBackend, DataRowNegativeLength) {
  expectProtocolError(message('D', i16(2) + i32(1) + "x" + i32(-2)),
                      "DataRow: column value 2 has invalid length -2");
}

TEST(DecodeBackend, DataRowOverrunAndLeftover) {
  expectProtocolError(message('D', i16(1) + i32(4) + "abc"), "column value 1 needs 4 bytes");
  expectProtocolError(message('D', i16(2) + i32(-1)), "column value 2 needs 4 bytes but only 0");
  expectProtocolError(message('D', i16(1) + i32(1) + "ab"), "DataRow: 1 unexpected bytes");
  expectProtocolError(message('D', ""), "column count needs 2 bytes");
}

TEST(DecodeBackend, RowDescriptionTruncatedField) {
  std::string field = "id\0"s + i32(1) + i16(1) + i32(23) + i16(4) + i32(-1) + i16(0);
  std::string body = i16(2) + field + field.substr(0, field.size() - 1);
  expectProtocolError(message('T', body), "RowDescription: format code needs 2 bytes but only 1");
}

TEST(DecodeBackend, RowDescriptionCountTooLargeForBody) {
  // 1000 fields cannot fit in a few bytes: rejected before any allocation.
  expectProtocolError(message('T', i16(1000) + "abc"), "1000 fields cannot fit");
}

TEST(DecodeBackend, RowDescriptionNameWithoutTerminator) {
  expectProtocolError(message('T', i16(1) + std::string(30, 'n')),
                      "field name is not NUL-terminated");
}

TEST(DecodeBackend, AuthenticationStrictness) {
  expectProtocolError(message('R', i32(0) + "x"), "Authentication: 1 unexpected bytes");
  expectProtocolError(message('R', i32(3) + "\0"s), "1 unexpected bytes");
  expectProtocolError(message('R', i32(5) + "abc"), "MD5 salt needs 4 bytes but only 3");
  expectProtocolError(message('R', i32(5) + "abcde"), "1 unexpected bytes");
  expectProtocolError(message('R', i32(4)), "unknown request code 4");
  expectProtocolError(message('R', i32(-1)), "unknown request code -1");
  expectProtocolError(message('R', "\0\0"s), "request code needs 4 bytes");
  expectProtocolError(message('R', i32(10) + "SCRAM-SHA-256\0"s),
                      "mechanism list does not end with an empty name");
  expectProtocolError(message('R', i32(10) + "SCRAM-SHA-256"),
                      "mechanism name is not NUL-terminated");
  expectProtocolError(message('R', i32(10) + "SCRAM-SHA-256\0\0x"s), "1 unexpected bytes");
}

TEST(DecodeBackend, BackendKeyDataExactSize) {
  expectProtocolError(message('K', i32(1)), "secret key needs 4 bytes");
  expectProtocolError(message('K', i32(1) + i32(2) + i32(3)), "4 unexpected bytes");
}

TEST(DecodeBackend, NoticeFieldsMustBeTerminated) {
  expectProtocolError(message('E', "SERROR\0"s), "does not end with a zero byte");
  expectProtocolError(message('N', "SERROR"), "field value is not NUL-terminated");
  expectProtocolError(message('E', "SERROR\0\0x"s), "1 unexpected bytes");
  expectProtocolError(message('E', ""), "ErrorResponse: the field list does not end");
}

TEST(DecodeBackend, ReadyForQueryStatus) {
  expectProtocolError(message('Z', "X"), "transaction status must be 'I', 'T' or 'E', got 'X'");
  expectProtocolError(message('Z', ""), "transaction status needs 1 bytes");
  expectProtocolError(message('Z', "II"), "1 unexpected bytes");
}

TEST(DecodeBackend, NegotiateProtocolVersionCounts) {
  expectProtocolError(message('v', i32(0) + i32(-1)), "negative option count -1");
  expectProtocolError(message('v', i32(0) + i32(INT32_MAX) + "a\0"s), "cannot fit");
  expectProtocolError(message('v', i32(0) + i32(2) + "a\0b"s), "option name is not NUL");
}

TEST(DecodeBackend, CopyResponseOverrun) {
  expectProtocolError(message('H', "\0"s + i16(3) + i16(0)), "column format codes needs 6 bytes");
}

TEST(DecodeBackend, FunctionCallResponseBadLength) {
  expectProtocolError(message('V', i32(-3)), "invalid length -3");
  expectProtocolError(message('V', i32(2) + "a"), "result value needs 2 bytes");
}

TEST(DecodeBackend, NotificationResponseMissingPayload) {
  expectProtocolError(message('A', i32(1) + "chan\0"s), "payload is not NUL-terminated");
}

}  // namespace
}  // namespace pgw::protocol
