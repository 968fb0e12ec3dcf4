#pragma once
/// The SQLite sink, the embedded default: one database file in WAL mode,
/// one transaction per batch with synchronous=FULL, so a batch the writer
/// counts as written survives a crash of the process or of the machine.
///
/// Schema (version 4): each batch is one segment row holding its records,
/// so storing a record costs a copy into the segment, not a row and five
/// index entries of its own (docs/audit.md, "The SQLite file").
///   audit_segments(id, gateway_id, first_seq, last_seq, first_time_us,
///                  last_time_us, prev_hash, hash, records)
///     UNIQUE(gateway_id, first_seq), indexed on last_time_us; `records` is
///     one line per record, `<tag> <canonical JSON>`, stored as TEXT or,
///     compressed, as a BLOB holding one zstd frame (segment_codec.h);
///     the tag is the first 8 hex digits of the record's hash, which
///     readers recompute along the chain; prev_hash links the first record,
///     hash is the last one's, both whole; the times are the least and
///     greatest time_us inside.
///   audit_keys(key, segment)  what a segment holds, for queries:
///     "session:<id>", "subject:<id>" and "decision:<deny|review>"
///   audit_anchor(gateway_id PRIMARY KEY, seq, hash, time_us)
/// `verify` checks every segment column and key against the records.
/// A version 1 file (one row per record) is converted when the gateway
/// opens it for writing; a version 2 (text segments only) or version 3 file
/// (a whole hash per line) is read as it is and marked version 4 then.

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "audit/segment_codec.h"
#include "audit/sink.h"
#include "audit/store.h"

namespace pgw::audit {

class SqliteSink final : public Sink, public Store {
 public:
  /// Opens (creating the file, its directory and the schema) for writing.
  /// `busy_timeout_ms`: how long a write waits for a lock another process
  /// holds on the file (e.g. a long `pgwarden audit export`) before failing.
  /// `compression`: how new segments are stored (files may mix both).
  static Result<std::unique_ptr<SqliteSink>> open(
      const std::string& path, SegmentCompression compression = SegmentCompression::Zstd,
      int busy_timeout_ms = 5000);
  /// Opens an existing file read-only (the CLI).
  static Result<std::unique_ptr<SqliteSink>> openReadOnly(const std::string& path);
  ~SqliteSink() override;

  const std::string& describe() const override { return describe_; }
  Result<ChainHead> head(const std::string& gateway_id) override;
  Status write(std::span<const StoredRecord> batch) override;
  Result<std::vector<StoredRecord>> readAfter(const std::string& gateway_id, uint64_t seq,
                                              size_t limit) override;
  Result<std::optional<ChainAnchor>> pruneCandidate(const std::string& gateway_id,
                                                    int64_t cutoff_us,
                                                    uint64_t max_records) override;

  Result<std::vector<std::string>> gateways() override;
  Result<VerifyResult> verify(const std::string& gateway_id, const SigningKey* key) override;
  Result<std::vector<StoredRecord>> query(const Query& q) override;

  /// The anchor of a gateway (nullopt: its chain starts at record 1).
  Result<std::optional<ChainAnchor>> anchor(const std::string& gateway_id);

  /// Records per segment the v1 conversion packs (and the most a segment
  /// can hold is 2^20 - 1: positions are segment id << 20 | line).
  static constexpr size_t kConvertChunk = 4096;

 private:
  struct Segment;
  SqliteSink(std::string path, sqlite3* db, SegmentCompression compression);
  Status exec(const char* sql);
  Status prune(const std::string& gateway_id, uint64_t through);
  Status insertSegment(std::span<const StoredRecord> records);
  /// Builds body_ from `records`; returns their least and greatest time.
  std::pair<int64_t, int64_t> fillBody(std::span<const StoredRecord> records);
  /// Binds body_ at `index`: as text, or compressed as a blob; valid until
  /// the next call.
  Status bindBody(sqlite3_stmt* s, int index);
  Status insertKeys(int64_t segment, std::span<const StoredRecord> records);
  Status convertV1();
  Result<std::vector<Segment>> segments(const std::string& where_sql,
                                        const std::function<void(sqlite3_stmt*)>& bind,
                                        size_t max_segments = 0);
  /// Segments of `gateway_id` (bound as ?1) where `where_sql` holds, with
  /// `value` bound as ?2.
  Result<std::vector<Segment>> segmentsOf(const std::string& gateway_id, const char* where_sql,
                                          int64_t value, size_t max_segments = 0);
  Error error(const std::string& what) const;

  std::string path_;
  std::string describe_;
  sqlite3* db_;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* insert_key_ = nullptr;
  SegmentCompression compression_;
  SegmentPacker packer_;
  std::string body_;  ///< the segment being written (reused)
};

}  // namespace pgw::audit
