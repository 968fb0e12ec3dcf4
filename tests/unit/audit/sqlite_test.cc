/// The SQLite sink through the audit log: what verify catches when the file
/// is edited behind pgwarden's back (any column of any row, deleted or
/// reordered rows, a moved anchor), restarts, retention and checkpoints.

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sqlite3.h>

#include <cstdio>
#include <filesystem>
#include <functional>
#include <thread>

#include "audit/store.h"
#include "test_util.h"

namespace pgw::audit {
namespace {

using testing::TempDir;

void sql(const std::string& db, const std::string& text) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  const int rc = sqlite3_exec(h, text.c_str(), nullptr, nullptr, &err);
  EXPECT_EQ(rc, SQLITE_OK) << text << ": " << (err ? err : "");
  sqlite3_free(err);
  sqlite3_close(h);
}

using testing::replaceFirst;

/// Edits the stored lines ("<hash> <json>") of the segment holding record
/// `seq`, as someone changing the file behind pgwarden's back would; `edit`
/// gets the lines and the index of that record's line. A compressed segment
/// is decompressed and compressed again, so it stays well-formed.
void editLines(const std::string& db, uint64_t seq,
               const std::function<void(std::vector<std::string>&, size_t)>& edit) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h,
                               "SELECT id, first_seq, records FROM audit_segments "
                               "WHERE first_seq <= ?1 AND last_seq >= ?1",
                               -1, &s, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(s, 1, static_cast<int64_t>(seq));
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW) << "no segment holds record " << seq;
  const int64_t id = sqlite3_column_int64(s, 0);
  const auto first = static_cast<uint64_t>(sqlite3_column_int64(s, 1));
  const bool packed = sqlite3_column_type(s, 2) == SQLITE_BLOB;
  std::string records;
  if (packed) {
    ASSERT_TRUE(unpackSegment({static_cast<const char*>(sqlite3_column_blob(s, 2)),
                               static_cast<size_t>(sqlite3_column_bytes(s, 2))},
                              records)
                    .ok());
  } else {
    records.assign(reinterpret_cast<const char*>(sqlite3_column_text(s, 2)),
                   static_cast<size_t>(sqlite3_column_bytes(s, 2)));
  }
  sqlite3_finalize(s);
  std::vector<std::string> lines;
  for (size_t at = 0; at < records.size();) {
    const size_t nl = records.find('\n', at);
    lines.push_back(records.substr(at, nl - at));
    at = nl + 1;
  }
  edit(lines, static_cast<size_t>(seq - first));
  std::string joined;
  for (const std::string& l : lines) joined += l + "\n";
  ASSERT_EQ(
      sqlite3_prepare_v2(h, "UPDATE audit_segments SET records = ? WHERE id = ?", -1, &s, nullptr),
      SQLITE_OK);
  SegmentPacker packer;
  if (packed) {
    auto frame = packer.pack(joined);
    ASSERT_TRUE(frame.ok());
    sqlite3_bind_blob(s, 1, frame->data(), static_cast<int>(frame->size()), SQLITE_TRANSIENT);
  } else {
    sqlite3_bind_text(s, 1, joined.data(), static_cast<int>(joined.size()), SQLITE_TRANSIENT);
  }
  sqlite3_bind_int64(s, 2, id);
  EXPECT_EQ(sqlite3_step(s), SQLITE_DONE);
  sqlite3_finalize(s);
  sqlite3_close(h);
}

/// Verifies every gateway in the file, as `pgwarden audit verify` does:
/// the first broken chain, else the chain of `gw`.
VerifyResult verifyDb(const std::string& db, const std::string& gw = "gw-test",
                      const SigningKey* key = nullptr) {
  auto store = Store::openSqlite(db);
  EXPECT_TRUE(store.ok()) << store.error().message;
  auto gateways = (*store)->gateways();
  EXPECT_TRUE(gateways.ok());
  VerifyResult wanted;
  for (const std::string& g : *gateways) {
    auto r = (*store)->verify(g, key);
    EXPECT_TRUE(r.ok()) << r.error().message;
    if (!r->ok) return *r;
    if (g == gw) wanted = *r;
  }
  return wanted;
}

class SqliteAudit : public ::testing::Test {
 protected:
  TempDir dir_;
  std::string db_ = dir_.file("data/audit.db");

  void write(int n, int first = 0, AuditLog::Options o = testing::fastOptions()) {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db_));
    auto log = testing::openLog(std::move(o), std::move(sinks));
    testing::writeEvents(*log, n, first);
  }
};

TEST_F(SqliteAudit, WrittenRecordsVerifyAndAreQueryable) {
  write(10);
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 10u);

  auto store = Store::openSqlite(db_);
  Query q;
  q.decision = "deny";
  auto denied = (*store)->query(q);
  ASSERT_TRUE(denied.ok());
  ASSERT_EQ(denied->size(), 2u);  // events 4 and 9
  EXPECT_EQ((*denied)[0].seq, 5u);
  q = Query{};
  q.subject = "alice";
  q.session_id = 100;
  EXPECT_EQ((*store)->query(q)->size(), 2u);  // i = 0 and 6
}

TEST_F(SqliteAudit, EverySessionAndSubjectOfASegmentFindsIt) {
  // One segment, sessions interleaved as concurrent sessions write, with
  // ids that sort differently as numbers and as text.
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(testing::sqliteSink(db_));
  auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
  const uint64_t sessions[] = {10, 9, 100, 9, 10, 1000, 9};
  for (size_t i = 0; i < std::size(sessions); ++i) {
    AuditEvent e = testing::statement(static_cast<int>(i));
    e.session_id = sessions[i];
    e.subject_id = "agent-" + std::to_string(sessions[i] % 7);
    ASSERT_TRUE(log->tryReserve());
    log->submit(std::move(e));
  }
  log->flush();
  log.reset();
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  auto store = Store::openSqlite(db_);
  for (const auto& [session, n] : {std::pair{9u, 3u}, {10u, 2u}, {100u, 1u}, {1000u, 1u}}) {
    Query q;
    q.session_id = session;
    EXPECT_EQ((*store)->query(q)->size(), n) << "session " << session;
  }
  Query q;
  q.subject = "agent-2";  // sessions 9 and 100
  EXPECT_EQ((*store)->query(q)->size(), 4u);
}

TEST_F(SqliteAudit, EditingAnyRecordBreaksVerifyAtThatRecord) {
  write(6);
  const std::string pristine = dir_.file("pristine.db");
  std::filesystem::copy_file(db_, pristine);
  using Edit = std::function<void(std::vector<std::string>&, size_t)>;
  const std::pair<std::string, Edit> edits[] = {
      {"content", [](auto& l, size_t i) { l[i] = replaceFirst(l[i], "\"rows\":", "\"rows\":1"); }},
      {"seq", [](auto& l, size_t i) { l[i] = replaceFirst(l[i], "\"seq\":", "\"seq\":10"); }},
      {"tag", [](auto& l, size_t i) { l[i].replace(0, 8, std::string(8, 'e')); }},
      {"deleted", [](auto& l, size_t i) { l.erase(l.begin() + static_cast<ptrdiff_t>(i)); }},
      {"duplicated",
       [](auto& l, size_t i) { l.insert(l.begin() + static_cast<ptrdiff_t>(i), l[i]); }},
  };
  for (const auto& [what, edit] : edits) {
    for (uint64_t seq : {1, 3, 6}) {
      const std::string db = dir_.file(fmt::format("edit-{}-{}.db", what, seq));
      std::filesystem::copy_file(pristine, db);
      editLines(db, seq, edit);
      auto r = verifyDb(db);
      EXPECT_FALSE(r.ok) << what << " of " << seq;
      // An edited tag no longer starts the record's recomputed hash.
      // A duplicated line is a record too many after the original.
      EXPECT_EQ(r.broken_seq, what == "duplicated" ? seq + 1 : seq) << what << ": " << r.problem;
    }
  }
  // Two records swapped: the first of them is out of place.
  const std::string swapped = dir_.file("swapped.db");
  std::filesystem::copy_file(pristine, swapped);
  editLines(swapped, 3, [](auto& l, size_t i) { std::swap(l[i], l[i + 1]); });
  auto r = verifyDb(swapped);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 3u) << r.problem;
}

TEST_F(SqliteAudit, EditingASegmentColumnOrKeyBreaksVerify) {
  write(6);
  write(6, 6);  // a second segment, records 7..12
  const std::string pristine = dir_.file("pristine.db");
  std::filesystem::copy_file(db_, pristine);
  const std::string edits[] = {
      "UPDATE audit_segments SET gateway_id = 'other-gw' WHERE first_seq = 7",
      "UPDATE audit_segments SET first_seq = first_seq + 1 WHERE first_seq = 7",
      "UPDATE audit_segments SET last_seq = last_seq + 1 WHERE first_seq = 7",
      "UPDATE audit_segments SET first_time_us = first_time_us + 1 WHERE first_seq = 7",
      "UPDATE audit_segments SET last_time_us = last_time_us - 1 WHERE first_seq = 7",
      "UPDATE audit_segments SET prev_hash = '" + std::string(64, 'f') + "' WHERE first_seq = 7",
      "UPDATE audit_segments SET hash = '" + std::string(64, 'e') + "' WHERE first_seq = 7",
      // Hiding a segment from `tail --subject` or `--decision deny`.
      "DELETE FROM audit_keys WHERE key = 'subject:alice' AND segment = "
      "(SELECT id FROM audit_segments WHERE first_seq = 7)",
      "DELETE FROM audit_keys WHERE key = 'decision:deny' AND segment = "
      "(SELECT id FROM audit_segments WHERE first_seq = 7)",
      "INSERT INTO audit_keys SELECT 'subject:mallory', id FROM audit_segments WHERE first_seq = 7",
  };
  for (size_t i = 0; i < std::size(edits); ++i) {
    const std::string db = dir_.file(fmt::format("column-{}.db", i));
    std::filesystem::copy_file(pristine, db);
    sql(db, edits[i]);
    auto r = verifyDb(db);
    EXPECT_FALSE(r.ok) << edits[i];
    EXPECT_GE(r.broken_seq, 7u) << edits[i] << ": " << r.problem;
    EXPECT_LE(r.broken_seq, 13u) << edits[i] << ": " << r.problem;
  }
}

TEST_F(SqliteAudit, DeletedSegmentsAndAForgedAnchorAreFound) {
  write(4);
  write(4, 4);
  write(4, 8);
  const std::string deleted = dir_.file("deleted.db");
  std::filesystem::copy_file(db_, deleted);
  sql(deleted, "DELETE FROM audit_segments WHERE first_seq = 5");
  auto r = verifyDb(deleted);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 5u);
  EXPECT_NE(r.problem.find("missing"), std::string::npos) << r.problem;

  // Deleting the oldest records and inventing an anchor does not pass either.
  const std::string anchored = dir_.file("anchored.db");
  std::filesystem::copy_file(db_, anchored);
  sql(anchored,
      "INSERT INTO audit_anchor SELECT gateway_id, last_seq, hash, 0 FROM audit_segments "
      "WHERE first_seq = 1;"
      "DELETE FROM audit_segments WHERE first_seq = 1;");
  r = verifyDb(anchored);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("not attested"), std::string::npos) << r.problem;
}

TEST_F(SqliteAudit, AVersion1FileIsConvertedWhenTheGatewayOpensIt) {
  // Schema 1: one row per record.
  std::filesystem::create_directories(std::filesystem::path(db_).parent_path());
  sql(db_,
      "CREATE TABLE audit_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
      "INSERT INTO audit_meta VALUES ('schema_version', '1');"
      "CREATE TABLE audit_events(gateway_id TEXT NOT NULL, seq INTEGER NOT NULL, time_us INTEGER "
      "NOT NULL, type TEXT NOT NULL, session_id INTEGER NOT NULL, subject TEXT NOT NULL, decision "
      "TEXT NOT NULL, record TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL, "
      "UNIQUE(gateway_id, seq));"
      "CREATE TABLE audit_anchor(gateway_id TEXT PRIMARY KEY, seq INTEGER NOT NULL, hash TEXT "
      "NOT NULL, time_us INTEGER NOT NULL);");
  std::string prev = kGenesisHash;
  std::string rows;
  for (int i = 0; i < 5; ++i) {
    AuditEvent e = testing::statement(i);
    e.gateway_id = "gw-test";
    const StoredRecord r = sealRecord(e, static_cast<uint64_t>(i + 1), prev);
    prev = r.hash;
    std::string quoted = r.record;
    for (size_t at = 0; (at = quoted.find('\'', at)) != std::string::npos; at += 2) {
      quoted.insert(at, 1, '\'');
    }
    rows += fmt::format(
        "INSERT INTO audit_events VALUES ('gw-test', {}, {}, '{}', {}, '{}', '{}', '{}', '{}', "
        "'{}');",
        r.seq, r.time_us, r.type, r.session_id, r.subject, r.decision, quoted, r.prev, r.hash);
  }
  sql(db_, rows);
  auto old = Store::openSqlite(db_);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.error().message.find("older pgwarden"), std::string::npos) << old.error().message;

  write(2, 5);  // the gateway converts the file, then continues the chain
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.first_seq, 1u);
  EXPECT_EQ(r.last_seq, 7u);
  Query q;
  q.subject = "alice";
  auto alice = (*Store::openSqlite(db_))->query(q);
  ASSERT_TRUE(alice.ok());
  EXPECT_EQ(alice->size(), 4u);  // events 0, 2, 4 and 6
}

TEST_F(SqliteAudit, RestartContinuesTheChain) {
  write(5);
  write(5, 5);
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.last_seq, 10u);
  EXPECT_EQ(r.records, 10u);
}

TEST_F(SqliteAudit, RetentionPrunesOldRecordsAndTheRestStillVerifies) {
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db_));
    auto log = testing::openLog(testing::fastOptions(), std::move(sinks));
    const auto old = nowUs() - std::chrono::hours(24 * 10);
    for (int i = 0; i < 12; ++i) {
      ASSERT_TRUE(log->tryReserve());
      log->submit(testing::statement(i, old + std::chrono::seconds(i)));
    }
    for (int i = 12; i < 15; ++i) {
      ASSERT_TRUE(log->tryReserve());
      log->submit(testing::statement(i));
    }
    log->flush();
  }
  AuditLog::Options o = testing::fastOptions();
  o.retention = std::chrono::hours(24);
  o.prune_chunk = 5;  // three passes: 1..5, then 6..10, then 11..12
  o.retention_check = std::chrono::milliseconds(20);
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db_));
    auto log = testing::openLog(o, std::move(sinks));
    for (int pass = 0; pass < 200; ++pass) {
      log->flush();
      auto a = dynamic_cast<SqliteSink&>(*Store::openSqlite(db_).value()).anchor("gw-test");
      if (a.ok() && *a && (*a)->seq == 12) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.first_seq, 13u);
  EXPECT_EQ(r.last_seq, 18u);  // 15 events + 3 anchor records
  // New records keep extending the pruned chain.
  write(2, 15);
  r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.last_seq, 20u);
}

TEST_F(SqliteAudit, CheckpointsAreSignedEveryNRecords) {
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  const std::string pem = dir_.file("signing.pem");
  FILE* f = std::fopen(pem.c_str(), "w");
  PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
  std::fclose(f);
  EVP_PKEY_free(key);

  AuditLog::Options o = testing::fastOptions();
  o.checkpoint_key = *SigningKey::loadPrivate(pem);
  o.checkpoint_every = 4;
  o.batch = 1;  // one event per writer pass, so checkpoints land every 4
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db_));
    auto log = testing::openLog(o, std::move(sinks));
    for (int i = 0; i < 10; ++i) {
      ASSERT_TRUE(log->tryReserve());
      log->submit(testing::statement(i));
      log->flush();
    }
  }
  auto pub = SigningKey::loadPublic(pem);
  auto r = verifyDb(db_, "gw-test", &*pub);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.checkpoints, 2u);
  EXPECT_EQ(r.checkpoints_verified, 2u);
  EXPECT_EQ(r.after_last_checkpoint, 2u);

  editLines(db_, 5, [](auto& l, size_t i) {
    l[i] = replaceFirst(l[i], "\"signature\":\"", "\"signature\":\"AAAA");
  });
  r = verifyDb(db_, "gw-test", &*pub);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 5u);
}

TEST_F(SqliteAudit, ALockedDatabaseIsRetriedAndNothingIsLost) {
  std::vector<std::unique_ptr<Sink>> sinks;
  auto sink = SqliteSink::open(db_, SegmentCompression::Zstd, /*busy_timeout_ms=*/20);
  ASSERT_TRUE(sink.ok());
  sinks.push_back(std::move(*sink));
  auto log = testing::openLog(testing::fastOptions(), std::move(sinks));

  // Another process holds the write lock: every write fails with "locked".
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(log->tryReserve());
    log->submit(testing::statement(i));
  }
  EXPECT_FALSE(log->flushFor(std::chrono::milliseconds(300)));
  auto s = log->stats();
  EXPECT_GT(s.sink_errors, 0u);
  EXPECT_EQ(s.failing_sinks, 1u);
  EXPECT_EQ(s.events_written, 0u);
  EXPECT_EQ(s.queue_depth, 5u);
  EXPECT_NE(s.last_error.find("locked"), std::string::npos) << s.last_error;

  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  log->flush();
  s = log->stats();
  EXPECT_EQ(s.events_written, 5u);
  EXPECT_EQ(s.failing_sinks, 0u);
  EXPECT_EQ(s.queue_depth, 0u);
  log.reset();
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 5u);
}

TEST_F(SqliteAudit, AnUncreatableDirectoryFailsAtOpenNamingThePath) {
  std::FILE* f = std::fopen(dir_.file("blocker").c_str(), "w");
  std::fclose(f);
  auto sink = SqliteSink::open(dir_.file("blocker/audit.db"));
  ASSERT_FALSE(sink.ok());
  EXPECT_NE(sink.error().message.find("blocker"), std::string::npos) << sink.error().message;
}

/// The first column of the first row `query` returns, as text.
std::string scalar(const std::string& db, const std::string& query) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, query.c_str(), -1, &s, nullptr), SQLITE_OK) << query;
  std::string out;
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0) != nullptr) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  }
  sqlite3_finalize(s);
  sqlite3_close(h);
  return out;
}

TEST_F(SqliteAudit, SegmentsAreStoredCompressedUnlessTurnedOff) {
  const std::string plain_db = dir_.file("plain/audit.db");
  const TimePoint time = nowUs();  // the same records in both files
  for (const auto& [db, compression] :
       {std::pair{db_, SegmentCompression::Zstd}, std::pair{plain_db, SegmentCompression::None}}) {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db, compression));
    auto o = testing::fastOptions();
    o.batch = 500;
    auto log = testing::openLog(o, std::move(sinks));
    for (int i = 0; i < 400; ++i) {
      ASSERT_TRUE(log->tryReserve());
      log->submit(testing::statement(i, time));
    }
    log->flush();
  }
  EXPECT_EQ(scalar(db_, "SELECT DISTINCT typeof(records) FROM audit_segments"), "blob");
  EXPECT_EQ(scalar(plain_db, "SELECT DISTINCT typeof(records) FROM audit_segments"), "text");
  const auto stored = [](const std::string& db) {
    return std::stoll(scalar(db, "SELECT sum(length(records)) FROM audit_segments"));
  };
  EXPECT_LT(stored(db_) * 5, stored(plain_db));
  // Both read back the same records.
  auto packed = (*Store::openSqlite(db_))->query(Query{});
  auto plain = (*Store::openSqlite(plain_db))->query(Query{});
  ASSERT_TRUE(packed.ok() && plain.ok());
  ASSERT_EQ(packed->size(), 400u);
  ASSERT_EQ(plain->size(), 400u);
  for (size_t i = 0; i < 400; ++i) EXPECT_EQ((*packed)[i].record, (*plain)[i].record);
  EXPECT_TRUE(verifyDb(db_).ok);
}

TEST_F(SqliteAudit, AFileMixingTextAndCompressedSegmentsReadsAndVerifies) {
  // Written by a version 2 gateway (text segments), then by this one.
  {
    std::vector<std::unique_ptr<Sink>> sinks;
    sinks.push_back(testing::sqliteSink(db_, SegmentCompression::None));
    testing::writeEvents(*testing::openLog(testing::fastOptions(), std::move(sinks)), 6);
  }
  sql(db_, "UPDATE audit_meta SET value = '2' WHERE key = 'schema_version'");
  ASSERT_TRUE(Store::openSqlite(db_).ok());  // version 2 is read as it is
  write(6, 6);
  EXPECT_EQ(scalar(db_, "SELECT value FROM audit_meta WHERE key = 'schema_version'"), "4");
  EXPECT_EQ(scalar(db_, "SELECT group_concat(typeof(records)) FROM audit_segments ORDER BY id"),
            "text,blob");
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 12u);
  Query q;
  q.subject = "alice";
  EXPECT_EQ((*Store::openSqlite(db_))->query(q)->size(), 6u);
}

TEST_F(SqliteAudit, EachLineCarriesATagOfItsHashAndReadsBackTheWholeHash) {
  std::vector<std::unique_ptr<Sink>> sinks;
  sinks.push_back(testing::sqliteSink(db_));
  sinks.push_back(testing::jsonlSink(dir_.file("audit.jsonl")));
  testing::writeEvents(*testing::openLog(testing::fastOptions(), std::move(sinks)), 8);
  // The JSON Lines file keeps every hash whole: the reference.
  auto file = Store::openJsonl(dir_.file("audit.jsonl"));
  ASSERT_TRUE(file.ok());
  auto want = (*file)->query(Query{});
  ASSERT_TRUE(want.ok());
  ASSERT_EQ(want->size(), 8u);
  editLines(db_, 1, [&](auto& lines, size_t) {
    ASSERT_EQ(lines.size(), 8u);
    for (size_t i = 0; i < lines.size(); ++i) {
      EXPECT_EQ(lines[i].substr(0, 9), (*want)[i].hash.substr(0, 8) + " ") << lines[i];
      EXPECT_EQ(lines[i].substr(9), (*want)[i].record);
    }
  });
  auto got = (*Store::openSqlite(db_))->query(Query{});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ((*got)[i].hash, (*want)[i].hash) << i;
    EXPECT_EQ((*got)[i].prev, (*want)[i].prev) << i;
  }
}

TEST_F(SqliteAudit, AnEditWithItsTagsRewrittenIsStillCaughtByTheChain) {
  write(6);
  write(6, 6);  // a second segment, records 7..12
  const std::string pristine = dir_.file("pristine.db");
  std::filesystem::copy_file(db_, pristine);
  // Record 3 edited, and the tags of the lines from `last_retagged` on
  // recomputed to match, as someone who knows the format would.
  auto forge = [&](uint64_t retag_through) {
    const std::string db = dir_.file(fmt::format("forged-{}.db", retag_through));
    std::filesystem::copy_file(pristine, db);
    editLines(db, 3, [&](auto& lines, size_t at) {
      lines[at] = replaceFirst(lines[at], "\"rows\":", "\"rows\":1");
      std::string prev = kGenesisHash;
      for (size_t i = 0; i < lines.size(); ++i) {
        const std::string record = lines[i].substr(lines[i].find(' ') + 1);
        prev = chainHash(prev, record);
        if (i >= at && i + 1 <= retag_through) lines[i] = prev.substr(0, 8) + " " + record;
      }
    });
    return verifyDb(db);
  };
  // Only its own tag: the next line's link no longer matches.
  auto r = forge(3);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 4u) << r.problem;
  // Every tag to the segment's end: the segment's whole hash differs.
  r = forge(6);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 1u) << r.problem;
  EXPECT_NE(r.problem.find("another hash"), std::string::npos) << r.problem;
}

TEST_F(SqliteAudit, AVersion3FileWithWholeHashesIsReadVerifiedAndContinued) {
  write(6);
  // Rewritten as a version 3 gateway stored it: the whole hash per line.
  editLines(db_, 1, [](auto& lines, size_t) {
    std::string prev = kGenesisHash;
    for (std::string& line : lines) {
      const std::string record = line.substr(line.find(' ') + 1);
      prev = chainHash(prev, record);
      line = prev + " " + record;
    }
  });
  sql(db_, "UPDATE audit_meta SET value = '3' WHERE key = 'schema_version'");
  ASSERT_EQ(scalar(db_, "SELECT length(hash) FROM audit_segments"), "64");
  const std::string pristine = dir_.file("v3.db");
  std::filesystem::copy_file(db_, pristine);
  write(6, 6);
  EXPECT_EQ(scalar(db_, "SELECT value FROM audit_meta WHERE key = 'schema_version'"), "4");
  auto r = verifyDb(db_);
  EXPECT_TRUE(r.ok) << r.problem;
  EXPECT_EQ(r.records, 12u);
  auto all = (*Store::openSqlite(db_))->query(Query{});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 12u);
  EXPECT_EQ((*all)[5].hash, (*all)[6].prev);  // the link between the two formats
  // An edit in a whole-hash line is still found at its record.
  editLines(pristine, 4,
            [](auto& l, size_t i) { l[i] = replaceFirst(l[i], "\"rows\":", "\"rows\":1"); });
  r = verifyDb(pristine);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 4u) << r.problem;
}

TEST_F(SqliteAudit, ADamagedCompressedSegmentFailsVerifyAndIsNeverReadAsRecords) {
  write(5);
  auto o = testing::fastOptions();
  write(5, 5, o);  // a second segment: records 6..10
  // One byte of the second segment's frame changed behind pgwarden's back.
  ASSERT_EQ(scalar(db_, "SELECT typeof(records) FROM audit_segments WHERE first_seq = 6"), "blob");
  sql(db_,
      "UPDATE audit_segments SET records = CAST(substr(records, 1, length(records) / 2) || "
      "x'00' || substr(records, length(records) / 2 + 2) AS BLOB) WHERE first_seq = 6");
  ASSERT_EQ(scalar(db_, "SELECT typeof(records) FROM audit_segments WHERE first_seq = 6"), "blob");
  auto r = verifyDb(db_);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 6u);
  EXPECT_NE(r.problem.find("cannot be decoded"), std::string::npos) << r.problem;
  // tail/export/replay report it instead of skipping it.
  auto all = (*Store::openSqlite(db_))->query(Query{});
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.error().message.find("records 6..10"), std::string::npos) << all.error().message;
  EXPECT_NE(all.error().message.find("pgwarden audit verify"), std::string::npos);
  // The gateway can still open the file and continue after the damage.
  write(1, 10);
  EXPECT_EQ(verifyDb(db_).broken_seq, 6u);
}

TEST_F(SqliteAudit, AFileFromANewerPgwardenIsRefused) {
  write(1);
  sql(db_, "UPDATE audit_meta SET value = '5' WHERE key = 'schema_version'");
  auto reader = Store::openSqlite(db_);
  ASSERT_FALSE(reader.ok());
  EXPECT_NE(reader.error().message.find("newer pgwarden"), std::string::npos)
      << reader.error().message;
  auto writer = SqliteSink::open(db_);
  ASSERT_FALSE(writer.ok());
  EXPECT_NE(writer.error().message.find("schema version 5"), std::string::npos)
      << writer.error().message;
}

}  // namespace
}  // namespace pgw::audit
