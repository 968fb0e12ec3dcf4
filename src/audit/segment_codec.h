#pragma once
/// How the SQLite sink stores a segment's lines: as they are (a TEXT value)
/// or as one zstd frame (a BLOB value). The storage class of the value says
/// which, so a file may hold both (written before and after a change of
/// `compression`), and every reader decodes either.
///
/// Audit records compress well: the keys repeat in every record and most
/// values repeat between records of a session. A segment of `pgbench -S`
/// records shrinks about 15-fold at level 1 (docs/audit.md, "The SQLite
/// file"), and the writer's CPU per record drops by more than the
/// compression costs, because SQLite and the kernel copy, checksum, sync
/// and checkpoint every byte it stores.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::audit {

enum class SegmentCompression { None, Zstd };

/// The most a segment may grow to when decoded. A frame that claims or
/// yields more is treated as damaged, so a forged row cannot make a reader
/// allocate without bound.
inline constexpr size_t kMaxSegmentBytes = size_t{1} << 30;

/// Compresses segments on the writer; keeps its zstd context and output
/// buffer between segments. Not thread-safe.
class SegmentPacker {
 public:
  explicit SegmentPacker(int level = 1);
  ~SegmentPacker();
  SegmentPacker(const SegmentPacker&) = delete;
  SegmentPacker& operator=(const SegmentPacker&) = delete;

  /// One zstd frame holding `body` (with its size recorded); valid until the
  /// next call. Fails only when zstd does (out of memory).
  Result<std::string_view> pack(std::string_view body);

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
  int level_;
  std::string out_;
};

/// Decodes one zstd frame into `out` (replaced). Fails, with what is wrong,
/// when `frame` is not exactly one whole frame, is corrupt, or would decode
/// to more than kMaxSegmentBytes.
Status unpackSegment(std::string_view frame, std::string& out);

}  // namespace pgw::audit
