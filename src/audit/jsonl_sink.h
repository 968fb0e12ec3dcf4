#pragma once
/// The JSON Lines sink, for shipping to a SIEM: one line per record,
///
///     {"hash":"<64 hex>","prev":"<64 hex>","record":<canonical JSON>}
///
/// appended to `path` and made durable (fdatasync) before a batch counts as
/// written. When the next batch would take the file past `max_size`, the file
/// is renamed `path.1` (older ones shift to `path.2`, ...; only `keep` are
/// kept) and a new `path` is started — the way log shippers expect. A line
/// cut short by a crash was never acknowledged and is removed at start.

#include <memory>
#include <string>

#include "audit/sink.h"
#include "audit/store.h"

namespace pgw::audit {

class JsonlSink final : public Sink {
 public:
  static Result<std::unique_ptr<JsonlSink>> open(const std::string& path, size_t max_size,
                                                 int keep);
  ~JsonlSink() override;

  const std::string& describe() const override { return describe_; }
  Result<ChainHead> head(const std::string& gateway_id) override;
  Status write(std::span<const StoredRecord> batch) override;
  Result<std::vector<StoredRecord>> readAfter(const std::string& gateway_id, uint64_t seq,
                                              size_t limit) override;

  /// `path` and its rotated files, oldest first (what the reader reads).
  static std::vector<std::string> files(const std::string& path);
  /// The line of a record (without the newline).
  static void appendLine(std::string& out, const StoredRecord& r);
  /// Reads one line back; false when it is not a line this sink writes.
  static bool parseLine(std::string_view line, StoredRecord& out);

 private:
  JsonlSink(std::string path, size_t max_size, int keep);
  Status openCurrent();
  Status rotate();

  std::string path_;
  std::string describe_;
  size_t max_size_;
  int keep_;
  int fd_ = -1;
  size_t size_ = 0;
  std::string buf_;
};

}  // namespace pgw::audit
