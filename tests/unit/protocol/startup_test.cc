// Startup-phase packets: StartupMessage, SSLRequest, GSSENCRequest,
// CancelRequest.

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages.h"
#include "test_util.h"

namespace pgw::protocol {
namespace {

using namespace std::string_literals;
using testing::bytesOf;
using testing::frameWholeStartup;

std::string i32(int32_t v) {
  std::string s(4, '\0');
  putI32(s.data(), v);
  return s;
}

Result<StartupPacket> decodeBody(const std::string& body) {
  return decodeStartup(bytesOf(body));
}

void expectError(const std::string& body, std::string_view sqlstate, std::string_view needle) {
  auto r = decodeBody(body);
  ASSERT_FALSE(r.ok()) << "decoded a malformed packet: " << needle;
  EXPECT_EQ(r.error().sqlstate, sqlstate);
  EXPECT_NE(r.error().message.find(needle), std::string::npos) << r.error().message;
}

TEST(StartupRoundTrip, StartupMessage) {
  StartupMessage m;
  m.params = {{"user", "alice"}, {"database", "prod"}, {"options", "-c search_path=x"}};
  std::string wire;
  encodeStartupMessage(wire, m);
  auto r = decodeStartup(frameWholeStartup(wire).body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& got = std::get<StartupMessage>(*r);
  EXPECT_EQ(got.version, kProtocolV3);
  EXPECT_EQ(got.major(), 3);
  EXPECT_EQ(got.minor(), 0);
  EXPECT_EQ(got.params, m.params);
  EXPECT_EQ(got.get("database"), "prod");
  EXPECT_EQ(got.get("user"), "alice");
  EXPECT_FALSE(got.get("application_name").has_value());
}

TEST(StartupRoundTrip, NewerMinorVersionIsAccepted) {
  StartupMessage m;
  m.version = (3 << 16) | 2;
  m.params = {{"user", "u"}, {"_pq_.feature", "on"}};
  std::string wire;
  encodeStartupMessage(wire, m);
  auto r = decodeStartup(frameWholeStartup(wire).body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& got = std::get<StartupMessage>(*r);
  EXPECT_EQ(got.minor(), 2);
  EXPECT_EQ(got.get("_pq_.feature"), "on");
}

TEST(StartupRoundTrip, SslGssAndCancel) {
  std::string wire;
  encodeSslRequest(wire);
  EXPECT_EQ(wire, "\0\0\0\x08\x04\xd2\x16\x2f"s);
  auto ssl = decodeStartup(frameWholeStartup(wire).body);
  ASSERT_TRUE(ssl.ok());
  EXPECT_TRUE(std::holds_alternative<SslRequest>(*ssl));

  wire.clear();
  encodeGssEncRequest(wire);
  auto gss = decodeStartup(frameWholeStartup(wire).body);
  ASSERT_TRUE(gss.ok());
  EXPECT_TRUE(std::holds_alternative<GssEncRequest>(*gss));

  wire.clear();
  encodeCancelRequest(wire, CancelRequest{8080, -1});
  EXPECT_EQ(wire.size(), 16u);
  auto cancel = decodeStartup(frameWholeStartup(wire).body);
  ASSERT_TRUE(cancel.ok());
  const auto& c = std::get<CancelRequest>(*cancel);
  EXPECT_EQ(c.process_id, 8080);
  EXPECT_EQ(c.secret_key, -1);
}

TEST(StartupRoundTrip, EveryAlternativeIsCovered) {
  std::vector<bool> seen(std::variant_size_v<StartupPacket>, false);
  for (const auto& s : testing::startupSamples()) {
    auto r = decodeStartup(frameWholeStartup(s.wire).body);
    ASSERT_TRUE(r.ok()) << s.name << ": " << r.error().message;
    seen[r->index()] = true;
    EXPECT_EQ(testing::reencodeStartup(*r), s.wire) << s.name;
  }
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_TRUE(seen[i]) << "alternative " << i;
}

TEST(DecodeStartup, MissingFinalNul) {
  expectError(i32(kProtocolV3) + "user\0alice\0"s, "08P01", "terminating NUL");
  expectError(i32(kProtocolV3), "08P01", "terminating NUL");
}

TEST(DecodeStartup, OnlyTheTerminatorIsValid) {
  auto r = decodeBody(i32(kProtocolV3) + "\0"s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_TRUE(std::get<StartupMessage>(*r).params.empty());
}

TEST(DecodeStartup, UnterminatedNameOrValue) {
  expectError(i32(kProtocolV3) + "user\0alice"s, "08P01", "parameter value is not NUL-terminated");
  expectError(i32(kProtocolV3) + "user"s, "08P01", "parameter name is not NUL-terminated");
}

TEST(DecodeStartup, BytesAfterTerminatorRejected) {
  expectError(i32(kProtocolV3) + "user\0u\0\0x"s, "08P01", "1 unexpected bytes left over");
  expectError(i32(kProtocolV3) + "\0\0"s, "08P01", "1 unexpected bytes left over");
}

TEST(DecodeStartup, DuplicateParameter) {
  expectError(i32(kProtocolV3) + "user\0a\0database\0d\0user\0b\0\0"s, "08P01",
              "parameter \"user\" is given more than once");
}

TEST(DecodeStartup, ManyParametersAndALateDuplicate) {
  std::string body = i32(kProtocolV3);
  for (int i = 0; i < 2000; ++i) body += "p" + std::to_string(i) + "\0v\0"s;
  auto ok = decodeBody(body + "\0"s);
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  const auto& m = std::get<StartupMessage>(*ok);
  ASSERT_EQ(m.params.size(), 2000u);
  EXPECT_EQ(m.params[1234].first, "p1234");
  EXPECT_EQ(m.get("p1999"), "v");
  expectError(body + "p7\0again\0\0"s, "08P01", "parameter \"p7\" is given more than once");
}

TEST(EncodeStartup, EmptyNameCannotBeSent) {
  // An empty name would end the list; the encoder leaves such a parameter out.
  StartupMessage m;
  m.params = {{"user", "u"}, {"", "x"}, {"database", "d"}};
  std::string wire;
  encodeStartupMessage(wire, m);
  auto r = decodeStartup(frameWholeStartup(wire).body);
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto& got = std::get<StartupMessage>(*r);
  ASSERT_EQ(got.params.size(), 2u);
  EXPECT_EQ(got.get("database"), "d");
}

TEST(DecodeStartup, UnsupportedMajorVersion) {
  expectError(i32(2 << 16) + "user\0u\0\0"s, "0A000", "unsupported frontend protocol 2.0");
  expectError(i32(4 << 16) + "\0"s, "0A000", "unsupported frontend protocol 4.0");
  // An unknown 1234.x request code is not a version either.
  expectError(i32((1234 << 16) | 5681), "0A000", "unsupported frontend protocol 1234.5681");
}

TEST(DecodeStartup, CancelRequestSize) {
  expectError(i32(kCancelRequestCode) + i32(1) + i32(2) + "x", "08P01",
              "CancelRequest: must be exactly 16 bytes");
  expectError(i32(kCancelRequestCode) + i32(1), "08P01", "CancelRequest: must be exactly 16");
}

TEST(DecodeStartup, SslAndGssRequestSize) {
  expectError(i32(kSslRequestCode) + "\0"s, "08P01", "SSLRequest: must be exactly 8 bytes");
  expectError(i32(kGssEncRequestCode) + i32(0), "08P01", "GSSENCRequest: must be exactly 8");
}

TEST(DecodeStartup, ShortBody) {
  expectError("", "08P01", "request code needs 4 bytes but only 0");
  expectError("\0\3"s, "08P01", "request code needs 4 bytes but only 2");
}

}  // namespace
}  // namespace pgw::protocol
