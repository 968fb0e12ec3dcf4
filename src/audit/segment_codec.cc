#include "audit/segment_codec.h"

#include <fmt/format.h>
#include <zstd.h>

#include <algorithm>

namespace pgw::audit {

struct SegmentPacker::Context {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ~Context() { ZSTD_freeCCtx(cctx); }
};

SegmentPacker::SegmentPacker(int level) : ctx_(std::make_unique<Context>()), level_(level) {}

SegmentPacker::~SegmentPacker() = default;

Result<std::string_view> SegmentPacker::pack(std::string_view body) {
  ZSTD_CCtx* c = ctx_->cctx;
  if (c == nullptr) return fail("", "cannot compress a segment: out of memory");
  // The content size lets a reader size its buffer once; the checksum tells
  // a damaged frame from one that decodes to other records.
  ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level_);
  ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 1);
  ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1);
  out_.resize(ZSTD_compressBound(body.size()));
  const size_t n = ZSTD_compress2(c, out_.data(), out_.size(), body.data(), body.size());
  if (ZSTD_isError(n) != 0U) {
    return fail("", fmt::format("cannot compress a segment: {}", ZSTD_getErrorName(n)));
  }
  return std::string_view(out_.data(), n);
}

Status unpackSegment(std::string_view frame, std::string& out) {
  out.clear();
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) return fail("", "not a zstd frame");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared > kMaxSegmentBytes) {
    return fail("",
                fmt::format("the frame claims {} bytes, more than a segment may hold", declared));
  }
  std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> d(ZSTD_createDCtx(), ZSTD_freeDCtx);
  if (d == nullptr) return fail("", "cannot decompress a segment: out of memory");
  // Grown as output appears, so a frame that lies about its size costs no
  // more memory than it really decodes to.
  constexpr size_t kFirst = size_t{8} << 20;
  out.resize(declared != ZSTD_CONTENTSIZE_UNKNOWN ? std::min<size_t>(declared, kFirst) : kFirst);
  ZSTD_inBuffer in{frame.data(), frame.size(), 0};
  size_t produced = 0;
  for (;;) {
    if (produced == out.size()) {
      if (out.size() >= kMaxSegmentBytes) {
        return fail("", "the frame decodes to more than a segment may hold");
      }
      out.resize(std::min(std::max(out.size() * 2, size_t{1} << 16), kMaxSegmentBytes));
    }
    ZSTD_outBuffer o{out.data(), out.size(), produced};
    const size_t r = ZSTD_decompressStream(d.get(), &o, &in);
    if (ZSTD_isError(r) != 0U) return fail("", ZSTD_getErrorName(r));
    produced = o.pos;
    if (r == 0) break;  // the frame is complete (and its checksum matched)
    if (in.pos == in.size && produced < out.size()) return fail("", "the frame is cut short");
  }
  if (in.pos != in.size) return fail("", "bytes follow the frame");
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN && produced != declared) {
    return fail("", fmt::format("the frame claims {} bytes but holds {}", declared, produced));
  }
  out.resize(produced);
  return {};
}

}  // namespace pgw::audit
