// Hostile input: random bytes and byte-by-byte mutations of valid messages.
// Nothing may crash (ASan/UBSan builds make over-reads fatal), every error is
// a protocol error, and whatever does decode re-encodes to exactly the bytes
// it came from — so no decoder silently skips or ignores input.

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "protocol/messages.h"
#include "test_util.h"

namespace pgw::protocol {
namespace {

using testing::Sample;

struct Tally {
  size_t decoded = 0;
  size_t rejected = 0;
  size_t incomplete = 0;
};

/// Copies into a buffer of exactly that size so that ASan catches any read
/// past the end.
std::vector<std::byte> exact(std::string_view s) {
  std::vector<std::byte> v(s.size());
  if (!s.empty()) std::memcpy(v.data(), s.data(), s.size());
  return v;
}

template <class R>
void expectCleanError(const R& r, std::string_view wire) {
  EXPECT_EQ(r.error().sqlstate, "08P01") << "message of " << wire.size() << " bytes";
  EXPECT_FALSE(r.error().message.empty());
}

void checkPasswordBody(Bytes body, Tally& t) {
  auto pw = decodePassword(body);
  if (pw.ok()) {
    std::string again;
    encodePassword(again, *pw);
    EXPECT_EQ(again.substr(5), testing::str(body));
  } else {
    EXPECT_EQ(pw.error().sqlstate, "08P01");
  }
  auto sasl = decodeSaslInitialResponse(body);
  if (sasl.ok()) {
    ++t.decoded;
    // A NULL initial response has no encoder; compare the mechanism part.
    if (sasl->data) {
      std::string again;
      encodeSaslInitialResponse(again, sasl->mechanism, testing::str(*sasl->data));
      EXPECT_EQ(again.substr(5), testing::str(body));
    }
  } else {
    EXPECT_EQ(sasl.error().sqlstate, "08P01");
  }
}

/// Frames `wire` as a typed message and runs both decoders on it.
void checkTyped(std::string_view wire, Tally& t) {
  std::vector<std::byte> buf = exact(wire);
  FrameResult f = frameMessage(buf, 1 << 16);
  if (f.status == FrameStatus::NeedMore) {
    ++t.incomplete;
    return;
  }
  if (f.status == FrameStatus::Invalid) {
    ++t.rejected;
    EXPECT_EQ(f.error.sqlstate, "08P01");
    return;
  }
  ASSERT_LE(f.frame.size, buf.size());
  std::string_view framed = wire.substr(0, f.frame.size);
  auto fe = decodeFrontend(f.frame);
  if (fe.ok()) {
    ++t.decoded;
    EXPECT_EQ(testing::reencodeFrontend(*fe), framed);
    if (std::holds_alternative<PasswordPacket>(*fe)) checkPasswordBody(f.frame.body, t);
  } else {
    ++t.rejected;
    expectCleanError(fe, framed);
  }
  auto be = decodeBackend(f.frame);
  if (be.ok()) {
    ++t.decoded;
    EXPECT_EQ(testing::reencodeBackend(*be), framed);
    if (const auto* e = std::get_if<ErrorResponse>(&*be)) {
      (void)e->fields.sqlstate();
      (void)e->fields.get('Z');
    }
  } else {
    ++t.rejected;
    expectCleanError(be, framed);
  }
}

/// Frames `wire` as a startup packet and decodes it.
void checkStartup(std::string_view wire, Tally& t) {
  std::vector<std::byte> buf = exact(wire);
  FrameResult f = frameStartup(buf, 10000);
  if (f.status == FrameStatus::NeedMore) {
    ++t.incomplete;
    return;
  }
  if (f.status == FrameStatus::Invalid) {
    ++t.rejected;
    EXPECT_EQ(f.error.sqlstate, "08P01");
    return;
  }
  auto r = decodeStartup(f.frame.body);
  if (r.ok()) {
    ++t.decoded;
    EXPECT_EQ(testing::reencodeStartup(*r), wire.substr(0, f.frame.size));
  } else {
    ++t.rejected;
    EXPECT_TRUE(r.error().sqlstate == "08P01" || r.error().sqlstate == "0A000")
        << r.error().sqlstate;
  }
}

void setLength(std::string& wire, size_t at) {
  putI32(wire.data() + at, static_cast<int32_t>(wire.size() - at));
}

/// Single-byte substitutions, truncations and extensions of each sample.
/// Truncations and extensions keep the length word consistent so that the
/// decoder (not just the framer) sees them.
template <class Check>
void mutateAll(const std::vector<Sample>& samples, size_t length_at, Check check, Tally& t) {
  for (const Sample& s : samples) {
    for (size_t i = 0; i < s.wire.size(); ++i) {
      auto orig = static_cast<unsigned char>(s.wire[i]);
      for (int v : {0x00, 0x01, 0x7f, 0x80, 0xff, orig ^ 0x01, orig + 1, orig - 1}) {
        std::string m = s.wire;
        m[i] = static_cast<char>(v);
        check(m, t);
      }
    }
    for (size_t keep = length_at + 4; keep < s.wire.size(); ++keep) {
      std::string m = s.wire.substr(0, keep);
      setLength(m, length_at);
      check(m, t);
    }
    for (char extra : {'\0', 'x', '\xff'}) {
      std::string m = s.wire + extra;
      setLength(m, length_at);
      check(m, t);
    }
  }
}

TEST(Mutation, FrontendMessagesByteByByte) {
  Tally t;
  mutateAll(testing::frontendSamples(), 1, checkTyped, t);
  EXPECT_GT(t.decoded, 0u);
  EXPECT_GT(t.rejected, 0u);
  EXPECT_GT(t.incomplete, 0u);
}

TEST(Mutation, BackendMessagesByteByByte) {
  Tally t;
  mutateAll(testing::backendSamples(), 1, checkTyped, t);
  EXPECT_GT(t.decoded, 0u);
  EXPECT_GT(t.rejected, 0u);
}

TEST(Mutation, StartupPacketsByteByByte) {
  Tally t;
  mutateAll(testing::startupSamples(), 0, checkStartup, t);
  EXPECT_GT(t.decoded, 0u);
  EXPECT_GT(t.rejected, 0u);
}

TEST(Mutation, ExtraByteIsRejectedWhereTheFormatHasNoRest) {
  // Only CopyData, 'p' packets and SASL/GSS continuation data take "the rest
  // of the message"; every other message must reject a trailing byte.
  for (const Sample& s : testing::backendSamples()) {
    std::string m = s.wire + 'x';
    setLength(m, 1);
    auto r = decodeBackend(testing::frameWhole(m));
    bool takes_rest = s.name == "CopyData" || s.name == "AuthenticationSASLContinue" ||
                      s.name == "AuthenticationSASLFinal" || s.name == "AuthenticationGSSContinue";
    EXPECT_EQ(r.ok(), takes_rest) << s.name;
  }
  for (const Sample& s : testing::frontendSamples()) {
    std::string m = s.wire + 'x';
    setLength(m, 1);
    auto r = decodeFrontend(testing::frameWhole(m));
    bool takes_rest = s.name == "CopyData" || s.wire[0] == 'p';
    EXPECT_EQ(r.ok(), takes_rest) << s.name;
  }
}

/// Bodies built from pieces that look like protocol fields, so that random
/// input gets past the first length check often enough to be interesting.
std::string randomBody(std::mt19937& rng) {
  std::string body;
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  int pieces = pick(12);
  for (int p = 0; p < pieces; ++p) {
    char b4[4];
    switch (pick(7)) {
      case 0:
        body.push_back(static_cast<char>(rng()));
        break;
      case 1:
        body.push_back('\0');
        break;
      case 2:  // small int16 count
        body.push_back(pick(8) == 0 ? '\xff' : '\0');
        body.push_back(static_cast<char>(pick(4)));
        break;
      case 3:  // small int32 length, -2..8
        putI32(b4, pick(11) - 2);
        body.append(b4, 4);
        break;
      case 4:  // short C string
        body.append(static_cast<size_t>(pick(5)), static_cast<char>('a' + pick(26)));
        body.push_back('\0');
        break;
      case 5:  // an authentication code or a startup code
        putI32(b4, pick(2) == 0 ? pick(14) - 1 : kCancelRequestCode + pick(3));
        body.append(b4, 4);
        break;
      default: {
        size_t n = static_cast<size_t>(pick(9));
        for (size_t i = 0; i < n; ++i) body.push_back(static_cast<char>(rng()));
      }
    }
  }
  return body;
}

TEST(RandomBytes, TwoHundredThousandMessagesNeverCrash) {
  static constexpr char kTypes[] = "BCdcfDEHFPpQSXRK23CGHWDIEVvnNAtS1sZT";
  std::mt19937 rng(20240601);
  Tally t;
  for (int iter = 0; iter < 200000; ++iter) {
    std::string wire;
    wire.push_back(rng() % 4 == 0 ? static_cast<char>(rng()) : kTypes[rng() % (sizeof kTypes - 1)]);
    wire.append(4, '\0');
    wire += randomBody(rng);
    switch (rng() % 8) {
      case 0:  // arbitrary length word
        putI32(wire.data() + 1, static_cast<int32_t>(rng()));
        break;
      case 1:  // off by a little
        putI32(wire.data() + 1, static_cast<int32_t>(wire.size() - 1 + rng() % 5) - 2);
        break;
      default:
        setLength(wire, 1);
    }
    checkTyped(wire, t);

    std::string startup(4, '\0');
    char code[4];
    putI32(code, rng() % 3 == 0 ? kProtocolV3 : static_cast<int32_t>(rng() % 3 + 80877102));
    if (rng() % 4 != 0) startup.append(code, 4);
    startup += randomBody(rng);
    if (rng() % 8 == 0) {
      putI32(startup.data(), static_cast<int32_t>(rng()));
    } else {
      setLength(startup, 0);
    }
    checkStartup(startup, t);
  }
  // The generator must reach all three outcomes, or it is not testing much.
  EXPECT_GT(t.decoded, 1000u);
  EXPECT_GT(t.rejected, 1000u);
  EXPECT_GT(t.incomplete, 100u);
}

}  // namespace
}  // namespace pgw::protocol
