// Framing: header validation before the body arrives, partial buffers at
// every offset, and several messages back to back in one buffer.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "protocol/messages.h"
#include "test_util.h"

namespace pgw::protocol {
namespace {

using testing::backendSamples;
using testing::bytesOf;
using testing::frontendSamples;
using testing::Sample;
using testing::startupSamples;
using testing::str;

std::string header(char type, int32_t length) {
  std::string s(1, type);
  s.append(4, '\0');
  putI32(s.data() + 1, length);
  return s;
}

std::string startupHeader(int32_t length) {
  std::string s(4, '\0');
  putI32(s.data(), length);
  return s;
}

TEST(FrameMessage, CompleteMessageGivesTypeBodyAndSize) {
  std::string wire;
  encodeQuery(wire, "SELECT 1");
  wire += "trailing bytes of the next message";
  FrameResult r = frameMessage(bytesOf(wire), 1024);
  ASSERT_EQ(r.status, FrameStatus::Complete);
  EXPECT_EQ(r.frame.type, 'Q');
  EXPECT_EQ(r.frame.size, 1u + 4u + 9u);
  EXPECT_EQ(str(r.frame.body), std::string_view("SELECT 1\0", 9));
}

TEST(FrameMessage, FewerThanFiveBytesNeedMoreWithoutSize) {
  std::string wire = header('Q', 9);
  for (size_t n = 0; n < 5; ++n) {
    FrameResult r = frameMessage(bytesOf(wire.substr(0, n)), 1024);
    EXPECT_EQ(r.status, FrameStatus::NeedMore) << n;
    EXPECT_EQ(r.needed, 0u) << n;
  }
}

TEST(FrameMessage, HeaderOnlyReportsTotalSizeNeeded) {
  FrameResult r = frameMessage(bytesOf(header('D', 100)), 1024);
  EXPECT_EQ(r.status, FrameStatus::NeedMore);
  EXPECT_EQ(r.needed, 101u);
}

TEST(FrameMessage, OversizeLengthRejectedFromHeaderAlone) {
  // Only the 5-byte header is present: the body is never waited for.
  FrameResult r = frameMessage(bytesOf(header('Q', 1024)), 1024);
  ASSERT_EQ(r.status, FrameStatus::Invalid);
  EXPECT_EQ(r.error.sqlstate, "08P01");
  EXPECT_NE(r.error.message.find("1024"), std::string::npos) << r.error.message;
  EXPECT_NE(r.error.message.find("'Q'"), std::string::npos) << r.error.message;

  FrameResult huge = frameMessage(bytesOf(header('D', INT32_MAX)), Limits{}.max_message_size);
  EXPECT_EQ(huge.status, FrameStatus::Invalid);
  EXPECT_EQ(huge.needed, 0u);
}

TEST(FrameMessage, LengthAtTheLimitIsAccepted) {
  // 1 + length == max is the largest message allowed.
  FrameResult r = frameMessage(bytesOf(header('d', 1023)), 1024);
  EXPECT_EQ(r.status, FrameStatus::NeedMore);
  EXPECT_EQ(r.needed, 1024u);
}

TEST(FrameMessage, LengthBelowFourRejected) {
  for (int32_t len : {3, 0, -1, -4, INT32_MIN}) {
    FrameResult r = frameMessage(bytesOf(header('S', len)), 1024);
    ASSERT_EQ(r.status, FrameStatus::Invalid) << len;
    EXPECT_EQ(r.error.sqlstate, "08P01");
    EXPECT_NE(r.error.message.find(std::to_string(len)), std::string::npos) << r.error.message;
  }
  FrameResult four = frameMessage(bytesOf(header('S', 4)), 1024);
  ASSERT_EQ(four.status, FrameStatus::Complete);
  EXPECT_TRUE(four.frame.body.empty());
  EXPECT_EQ(four.frame.size, 5u);
}

TEST(FrameMessage, NonPrintableTypeIsNamedInHex) {
  FrameResult r = frameMessage(bytesOf(header('\x01', 2)), 1024);
  ASSERT_EQ(r.status, FrameStatus::Invalid);
  EXPECT_NE(r.error.message.find("0x01"), std::string::npos) << r.error.message;
}

TEST(FrameStartup, LengthLimits) {
  for (int32_t len : {7, 4, 0, -1, INT32_MIN}) {
    FrameResult r = frameStartup(bytesOf(startupHeader(len)), 10000);
    ASSERT_EQ(r.status, FrameStatus::Invalid) << len;
    EXPECT_EQ(r.error.sqlstate, "08P01");
  }
  FrameResult over = frameStartup(bytesOf(startupHeader(10001)), 10000);
  EXPECT_EQ(over.status, FrameStatus::Invalid);
  FrameResult at = frameStartup(bytesOf(startupHeader(10000)), 10000);
  EXPECT_EQ(at.status, FrameStatus::NeedMore);
  EXPECT_EQ(at.needed, 10000u);
  FrameResult small = frameStartup(bytesOf(startupHeader(8)), 10000);
  EXPECT_EQ(small.status, FrameStatus::NeedMore);
  EXPECT_EQ(small.needed, 8u);
  FrameResult partial = frameStartup(bytesOf(startupHeader(8).substr(0, 3)), 10000);
  EXPECT_EQ(partial.status, FrameStatus::NeedMore);
  EXPECT_EQ(partial.needed, 0u);
}

TEST(FrameStartup, BodyExcludesLengthWord) {
  std::string wire;
  encodeSslRequest(wire);
  FrameResult r = frameStartup(bytesOf(wire), 10000);
  ASSERT_EQ(r.status, FrameStatus::Complete);
  EXPECT_EQ(r.frame.type, 0);
  EXPECT_EQ(r.frame.size, 8u);
  ASSERT_EQ(r.frame.body.size(), 4u);
  EXPECT_EQ(getI32(r.frame.body.data()), kSslRequestCode);
}

// Every prefix of a valid message is NeedMore (never Invalid); once the header
// is visible, `needed` is the whole size; the full message is Complete.
void expectSplitsCleanly(const Sample& s, bool startup) {
  size_t header_size = startup ? 4 : 5;
  for (size_t n = 0; n <= s.wire.size(); ++n) {
    // A fresh copy of exactly n bytes, so reading past n trips ASan.
    std::vector<std::byte> prefix(n);
    if (n > 0) std::memcpy(prefix.data(), s.wire.data(), n);
    FrameResult r = startup ? frameStartup(prefix, Limits{}.max_startup_size)
                            : frameMessage(prefix, Limits{}.max_message_size);
    if (n < s.wire.size()) {
      ASSERT_EQ(r.status, FrameStatus::NeedMore) << s.name << " at " << n;
      EXPECT_EQ(r.needed, n < header_size ? 0u : s.wire.size()) << s.name << " at " << n;
    } else {
      ASSERT_EQ(r.status, FrameStatus::Complete) << s.name;
      EXPECT_EQ(r.frame.size, s.wire.size()) << s.name;
      EXPECT_EQ(r.frame.body.size(), s.wire.size() - header_size) << s.name;
    }
  }
}

TEST(FrameSplit, EveryFrontendMessageAtEveryOffset) {
  for (const Sample& s : frontendSamples()) expectSplitsCleanly(s, false);
}

TEST(FrameSplit, EveryBackendMessageAtEveryOffset) {
  for (const Sample& s : backendSamples()) expectSplitsCleanly(s, false);
}

TEST(FrameSplit, EveryStartupPacketAtEveryOffset) {
  for (const Sample& s : startupSamples()) expectSplitsCleanly(s, true);
}

// All samples in one buffer, framed and decoded one after another.
template <class Decode>
void expectConcatenationDecodes(const std::vector<Sample>& samples, Decode decode) {
  std::string all;
  for (const Sample& s : samples) all += s.wire;
  Bytes rest = bytesOf(all);
  for (const Sample& s : samples) {
    FrameResult r = frameMessage(rest, Limits{}.max_message_size);
    ASSERT_EQ(r.status, FrameStatus::Complete) << s.name;
    ASSERT_EQ(r.frame.size, s.wire.size()) << s.name;
    EXPECT_EQ(r.frame.type, s.wire[0]) << s.name;
    auto decoded = decode(r.frame);
    ASSERT_TRUE(decoded.ok()) << s.name << ": " << decoded.error().message;
    rest = rest.subspan(r.frame.size);
  }
  EXPECT_TRUE(rest.empty());
  FrameResult end = frameMessage(rest, Limits{}.max_message_size);
  EXPECT_EQ(end.status, FrameStatus::NeedMore);
}

TEST(FrameConcatenated, AllFrontendMessagesInOneBuffer) {
  expectConcatenationDecodes(frontendSamples(), [](const Frame& f) { return decodeFrontend(f); });
}

TEST(FrameConcatenated, AllBackendMessagesInOneBuffer) {
  expectConcatenationDecodes(backendSamples(), [](const Frame& f) { return decodeBackend(f); });
}

TEST(FrameConcatenated, PipelineWithPartialTail) {
  std::string wire;
  const std::optional<std::string_view> params[] = {"7"};
  encodeParse(wire, "", "SELECT $1", {});
  encodeBind(wire, "", "", {}, params, {});
  encodeExecute(wire, "", 0);
  encodeSync(wire);
  size_t complete = wire.size();
  encodeQuery(wire, "SELECT 2");
  wire.resize(wire.size() - 3);  // the Query is cut short

  const char expected[] = {'P', 'B', 'E', 'S'};
  Bytes rest = bytesOf(wire);
  for (char type : expected) {
    FrameResult r = frameMessage(rest, 1024);
    ASSERT_EQ(r.status, FrameStatus::Complete);
    EXPECT_EQ(r.frame.type, type);
    ASSERT_TRUE(decodeFrontend(r.frame).ok());
    rest = rest.subspan(r.frame.size);
  }
  EXPECT_EQ(wire.size() - rest.size(), complete);
  FrameResult tail = frameMessage(rest, 1024);
  EXPECT_EQ(tail.status, FrameStatus::NeedMore);
  EXPECT_EQ(tail.needed, rest.size() + 3);
}

TEST(FrameConcatenated, StartupThenTypedMessages) {
  std::string wire;
  StartupMessage m;
  m.params = {{"user", "u"}};
  encodeStartupMessage(wire, m);
  encodePassword(wire, "tok");
  FrameResult first = frameStartup(bytesOf(wire), 10000);
  ASSERT_EQ(first.status, FrameStatus::Complete);
  ASSERT_TRUE(decodeStartup(first.frame.body).ok());
  FrameResult second = frameMessage(bytesOf(wire).subspan(first.frame.size), 1024);
  ASSERT_EQ(second.status, FrameStatus::Complete);
  EXPECT_EQ(second.frame.type, 'p');
  EXPECT_EQ(first.frame.size + second.frame.size, wire.size());
}

}  // namespace
}  // namespace pgw::protocol
