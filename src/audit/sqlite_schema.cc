// SqliteSink: creating, opening and converting the file (the schema and
// its versions). Reading and writing segments: sqlite_sink.cc.

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "audit/sqlite_sink.h"
#include "audit/sqlite_stmt.h"

namespace pgw::audit {
namespace {

using sqlite::columnText;
using sqlite::Stmt;

/// The file layout this build writes. Version 4 starts a segment's lines
/// with a short tag of the record's hash, version 3 and 2 with the whole
/// hash; version 3 and 4 may store the lines as a zstd frame (a BLOB),
/// version 2 only as text. Files of versions 2 and 3 are read as they are.
constexpr int kSchemaVersion = 4;

/// `{}`: kSchemaVersion.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO audit_meta(key, value) VALUES ('schema_version', '{}');
CREATE TABLE IF NOT EXISTS audit_segments(
  id INTEGER PRIMARY KEY,
  gateway_id TEXT NOT NULL,
  first_seq INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  first_time_us INTEGER NOT NULL,
  last_time_us INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  records TEXT NOT NULL,
  UNIQUE(gateway_id, first_seq));
CREATE INDEX IF NOT EXISTS audit_segments_time ON audit_segments(last_time_us);
CREATE TABLE IF NOT EXISTS audit_keys(
  key TEXT NOT NULL,
  segment INTEGER NOT NULL,
  PRIMARY KEY(key, segment)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_anchor(
  gateway_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  time_us INTEGER NOT NULL);
)sql";

/// Records kSchemaVersion as the file's version; `and_where` narrows which
/// files.
std::string setSchemaVersion(std::string_view and_where = "") {
  return fmt::format("UPDATE audit_meta SET value = '{}' WHERE key = 'schema_version'{}",
                     kSchemaVersion, and_where);
}

/// Whether the file still has the version 1 table of one row per record.
bool hasV1Table(sqlite3* db) {
  Stmt s(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'");
  return s.ok() && sqlite3_step(s.get()) == SQLITE_ROW;
}

/// The file's schema version (0 when it has none yet).
int schemaVersion(sqlite3* db) {
  Stmt s(db, "SELECT CAST(value AS INTEGER) FROM audit_meta WHERE key = 'schema_version'");
  return s.ok() && sqlite3_step(s.get()) == SQLITE_ROW ? sqlite3_column_int(s.get(), 0) : 0;
}

Status refuseNewer(sqlite3* db, const std::string& path) {
  const int version = schemaVersion(db);
  if (version <= kSchemaVersion) return {};
  return fail("", fmt::format("{} was written by a newer pgwarden (schema version {}; this one "
                              "reads up to {})",
                              path, version, kSchemaVersion));
}

}  // namespace

Result<std::unique_ptr<SqliteSink>> SqliteSink::open(const std::string& path,
                                                     SegmentCompression compression,
                                                     int busy_timeout_ms) {
  std::error_code ec;
  const auto dir = std::filesystem::path(path).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir, ec);
  if (ec) {
    return fail("", fmt::format("audit sink sqlite:{}: cannot create the directory {}: {}", path,
                                dir.string(), ec.message()));
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<SqliteSink> sink(new SqliteSink(path, db, compression));
  if (rc != SQLITE_OK) return sink->error("cannot open");
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // WAL lets `pgwarden audit tail` read while the gateway writes; FULL
  // syncs the WAL at every commit, so an acknowledged batch is on disk.
  // 16 KiB pages (set before the file has any) keep a segment on few
  // pages; the WAL is checkpointed every 4096 pages (64 MiB), so the
  // checkpoint's copy and sync come once per few hundred thousand records.
  for (const char* pragma :
       {"PRAGMA page_size=16384", "PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
        "PRAGMA cache_size=-16384", "PRAGMA wal_autocheckpoint=4096"}) {
    if (auto st = sink->exec(pragma); !st) return st.takeError();
  }
  if (auto st = sink->exec(fmt::format(kSchema, kSchemaVersion).c_str()); !st) {
    return st.takeError();
  }
  if (auto st = refuseNewer(db, path); !st) return st.takeError();
  // A version 2 or 3 file keeps its segments; from now on it may also hold
  // ones a pgwarden that knows only its version cannot read.
  if (auto st = sink->exec(setSchemaVersion(" AND value IN ('2', '3')").c_str()); !st) {
    return st.takeError();
  }
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO audit_segments(gateway_id, first_seq, last_seq, "
                         "first_time_us, last_time_us, prev_hash, hash, records) "
                         "VALUES (?,?,?,?,?,?,?,?)",
                         -1, &sink->insert_, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db, "INSERT INTO audit_keys(key, segment) VALUES (?,?)", -1,
                         &sink->insert_key_, nullptr) != SQLITE_OK) {
    return sink->error("cannot prepare the inserts");
  }
  if (hasV1Table(db)) {
    if (auto st = sink->convertV1(); !st) return st.takeError();
  }
  return sink;
}

Result<std::unique_ptr<SqliteSink>> SqliteSink::openReadOnly(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return fail("", fmt::format("{} is not an audit database (no such file)", path));
  }
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr);
  std::unique_ptr<SqliteSink> sink(new SqliteSink(path, db, SegmentCompression::None));
  if (rc != SQLITE_OK) return sink->error("cannot open");
  sqlite3_busy_timeout(db, 5000);
  if (hasV1Table(db)) {
    return fail("", fmt::format("{} was written by an older pgwarden (one row per record); start "
                                "the gateway on it once to convert it",
                                path));
  }
  Stmt check(db, "SELECT 1 FROM audit_segments LIMIT 0");
  if (!check.ok()) {
    return fail("",
                fmt::format("{} is not a pgwarden audit database ({})", path, sqlite3_errmsg(db)));
  }
  if (auto st = refuseNewer(db, path); !st) return st.takeError();
  return sink;
}

/// Packs the version 1 rows into segments of consecutive, linked records
/// (a gap or a broken link starts a new one, so verify still finds it) and
/// drops the old table, in one transaction.
Status SqliteSink::convertV1() {
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  auto rollback = [&](Error e) -> Status {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  };
  Stmt s(db_,
         "SELECT gateway_id, seq, time_us, type, session_id, subject, decision, record, "
         "prev_hash, hash FROM audit_events ORDER BY gateway_id, seq");
  if (!s.ok()) return rollback(error("cannot convert the version 1 table"));
  std::vector<StoredRecord> run;
  auto flush = [&]() -> Status {
    if (run.empty()) return {};
    Status st = insertSegment(run);
    run.clear();
    return st;
  };
  uint64_t converted = 0;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    StoredRecord r;
    r.gateway_id = columnText(s.get(), 0);
    r.seq = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 1));
    r.time_us = sqlite3_column_int64(s.get(), 2);
    r.type = columnText(s.get(), 3);
    r.session_id = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 4));
    r.subject = columnText(s.get(), 5);
    r.decision = columnText(s.get(), 6);
    r.record = columnText(s.get(), 7);
    r.prev = columnText(s.get(), 8);
    r.hash = columnText(s.get(), 9);
    if (!run.empty() && (run.back().gateway_id != r.gateway_id || run.back().seq + 1 != r.seq ||
                         run.back().hash != r.prev || run.size() >= kConvertChunk)) {
      if (auto st = flush(); !st) return rollback(st.takeError());
    }
    run.push_back(std::move(r));
    ++converted;
  }
  if (rc != SQLITE_DONE) return rollback(error("cannot convert the version 1 table"));
  if (auto st = flush(); !st) return rollback(st.takeError());
  const std::string finish = "DROP TABLE audit_events; " + setSchemaVersion() + "; COMMIT";
  if (sqlite3_exec(db_, finish.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return rollback(error("cannot convert the version 1 table"));
  }
  if (converted > 0) {
    (void)exec("VACUUM");  // gives the old table's pages back; harmless if it fails
  }
  return {};
}

}  // namespace pgw::audit
