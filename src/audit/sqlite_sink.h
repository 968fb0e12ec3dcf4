#pragma once
/// The SQLite sink, the embedded default: one database file in WAL mode,
/// one transaction per batch with synchronous=FULL, so a batch the writer
/// counts as written survives a crash of the process or of the machine.
///
/// Schema (version 1):
///   audit_events(gateway_id, seq, time_us, type, session_id, subject,
///                decision, record, prev_hash, hash)  UNIQUE(gateway_id, seq)
///     indexed on time_us, session_id, subject, and decision (a partial
///     index of the deny and review rows: allow is the bulk and the rows
///     worth finding are the others)
///   audit_anchor(gateway_id PRIMARY KEY, seq, hash, time_us)
/// `record` is the canonical JSON; every other column except the hashes is
/// a copy of one of its fields, checked by `verify`.

#include <sqlite3.h>

#include <memory>
#include <string>

#include "audit/sink.h"
#include "audit/store.h"

namespace pgw::audit {

class SqliteSink final : public Sink, public Store {
 public:
  /// Opens (creating the file, its directory and the schema) for writing.
  /// `busy_timeout_ms`: how long a write waits for a lock another process
  /// holds on the file (e.g. a long `pgwarden audit export`) before failing.
  static Result<std::unique_ptr<SqliteSink>> open(const std::string& path,
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

 private:
  SqliteSink(std::string path, sqlite3* db);
  Status exec(const char* sql);
  Status prune(const std::string& gateway_id, uint64_t through);
  Error error(const std::string& what) const;

  std::string path_;
  std::string describe_;
  sqlite3* db_;
  sqlite3_stmt* insert_ = nullptr;
};

}  // namespace pgw::audit
