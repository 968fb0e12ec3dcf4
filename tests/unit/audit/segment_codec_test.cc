/// Segment compression: what the writer stores decodes to exactly the same
/// lines, and a frame that was cut, edited, padded or forged to claim a huge
/// size is refused with what is wrong, never decoded into other records.

#include "audit/segment_codec.h"

#include <gtest/gtest.h>
#include <zstd.h>

#include <string>

namespace pgw::audit {
namespace {

std::string sampleBody(int lines) {
  std::string body;
  for (int i = 0; i < lines; ++i) {
    body += std::string(64, 'a' + static_cast<char>(i % 6)) + " {\"seq\":" + std::to_string(i) +
            ",\"statement\":\"SELECT * FROM users WHERE id = $1\"}\n";
  }
  return body;
}

std::string packed(std::string_view body) {
  SegmentPacker packer;
  auto frame = packer.pack(body);
  EXPECT_TRUE(frame.ok());
  return std::string(*frame);
}

TEST(SegmentCodec, RoundTripsAndShrinksRepetitiveRecords) {
  const std::string body = sampleBody(500);
  const std::string frame = packed(body);
  EXPECT_LT(frame.size() * 10, body.size());
  std::string out = "left over from an earlier segment";
  ASSERT_TRUE(unpackSegment(frame, out).ok());
  EXPECT_EQ(out, body);
}

TEST(SegmentCodec, APackerReusedForManySegmentsKeepsThemApart) {
  SegmentPacker packer;
  const std::string big = sampleBody(300);
  const std::string small = "x {\"seq\":1}\n";
  const std::string first(*packer.pack(big));
  const std::string second(*packer.pack(small));
  std::string out;
  ASSERT_TRUE(unpackSegment(first, out).ok());
  EXPECT_EQ(out, big);
  ASSERT_TRUE(unpackSegment(second, out).ok());
  EXPECT_EQ(out, small);
  ASSERT_TRUE(unpackSegment(std::string(*packer.pack("")), out).ok());
  EXPECT_EQ(out, "");
}

TEST(SegmentCodec, DamagedFramesAreRefused) {
  const std::string frame = packed(sampleBody(200));
  std::string out;
  auto refused = [&](const std::string& f) {
    auto st = unpackSegment(f, out);
    return !st.ok() && !st.error().message.empty();
  };
  std::string flipped = frame;
  flipped[flipped.size() / 2] ^= 0x20;
  EXPECT_TRUE(refused(flipped));                            // content or checksum differs
  EXPECT_TRUE(refused(frame.substr(0, frame.size() - 5)));  // cut short
  EXPECT_TRUE(refused(frame + "x"));                        // bytes after the frame
  EXPECT_TRUE(refused(frame + frame));                      // two frames
  EXPECT_TRUE(refused("not a zstd frame at all"));
  EXPECT_TRUE(refused(""));
}

TEST(SegmentCodec, AFrameClaimingMoreThanASegmentMayHoldIsRefusedUpFront) {
  // A real frame whose header claims kMaxSegmentBytes + 1: no allocation of
  // that size happens, and the claim is named.
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ASSERT_EQ(ZSTD_CCtx_setPledgedSrcSize(c, kMaxSegmentBytes + 1), 0u);
  std::string frame(4096, '\0');
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  const std::string chunk(1024, 'z');
  ZSTD_inBuffer in{chunk.data(), chunk.size(), 0};
  ZSTD_compressStream2(c, &out, &in, ZSTD_e_flush);
  ZSTD_freeCCtx(c);
  frame.resize(out.pos);
  std::string decoded;
  auto st = unpackSegment(frame, decoded);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("more than a segment may hold"), std::string::npos)
      << st.error().message;
}

TEST(SegmentCodec, AFrameWithoutItsSizeStillDecodes) {
  // Other zstd writers may leave the size out; the reader grows as it goes.
  const std::string body = sampleBody(80000);  // 9 MiB: past the first 8 MiB buffer
  ZSTD_CCtx* c = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
  std::string frame(ZSTD_compressBound(body.size()), '\0');
  // Streaming without a pledged size leaves the size out of the header.
  ZSTD_outBuffer out{frame.data(), frame.size(), 0};
  ZSTD_inBuffer in{body.data(), body.size(), 0};
  ASSERT_EQ(ZSTD_compressStream2(c, &out, &in, ZSTD_e_end), 0u);
  ZSTD_freeCCtx(c);
  frame.resize(out.pos);
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), frame.size()), ZSTD_CONTENTSIZE_UNKNOWN);
  std::string decoded;
  ASSERT_TRUE(unpackSegment(frame, decoded).ok());
  EXPECT_EQ(decoded, body);
}

}  // namespace
}  // namespace pgw::audit
