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

TEST_F(SqliteAudit, EditingAnyColumnOfAnyRowBreaksVerifyAtThatRow) {
  write(6);
  const std::string pristine = dir_.file("pristine.db");
  std::filesystem::copy_file(db_, pristine);
  const std::pair<std::string, std::string> edits[] = {
      {"gateway_id", "'other-gw'"},
      {"seq", "seq + 100"},
      {"time_us", "time_us + 1"},
      {"type", "'connect'"},
      {"session_id", "session_id + 1"},
      {"subject", "'mallory'"},
      {"decision", "CASE decision WHEN 'deny' THEN 'allow' ELSE 'deny' END"},
      {"record", "replace(record, '\"rows\":', '\"rows\":1')"},
      {"prev_hash", "'" + std::string(64, 'f') + "'"},
      {"hash", "'" + std::string(64, 'e') + "'"},
  };
  for (const auto& [column, value] : edits) {
    for (int seq : {1, 3, 6}) {
      const std::string db = dir_.file(fmt::format("edit-{}-{}.db", column, seq));
      std::filesystem::copy_file(pristine, db);
      sql(db, fmt::format("UPDATE audit_events SET {} = {} WHERE seq = {}", column, value, seq));
      auto r = verifyDb(db);
      EXPECT_FALSE(r.ok) << column << " of " << seq;
      // An edited hash is seen at the next row when it is still intact
      // (its prev no longer matches) — unless it is the last row, whose
      // own hash is recomputed. Either way the report names this row.
      EXPECT_EQ(r.broken_seq, static_cast<uint64_t>(seq)) << column << ": " << r.problem;
    }
  }
}

TEST_F(SqliteAudit, DeletedAndReorderedRowsAreFound) {
  write(8);
  const std::string deleted = dir_.file("deleted.db");
  std::filesystem::copy_file(db_, deleted);
  sql(deleted, "DELETE FROM audit_events WHERE seq = 4");
  auto r = verifyDb(deleted);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 4u);
  EXPECT_NE(r.problem.find("missing"), std::string::npos);

  const std::string swapped = dir_.file("swapped.db");
  std::filesystem::copy_file(db_, swapped);
  sql(swapped,
      "UPDATE audit_events SET seq = -1 WHERE seq = 5;"
      "UPDATE audit_events SET seq = 5 WHERE seq = 6;"
      "UPDATE audit_events SET seq = 6 WHERE seq = -1;");
  r = verifyDb(swapped);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 5u);

  // Deleting the oldest rows and inventing an anchor does not pass either.
  const std::string anchored = dir_.file("anchored.db");
  std::filesystem::copy_file(db_, anchored);
  sql(anchored,
      "INSERT INTO audit_anchor SELECT gateway_id, seq, hash, 0 FROM audit_events WHERE seq = 3;"
      "DELETE FROM audit_events WHERE seq <= 3;");
  r = verifyDb(anchored);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.problem.find("not attested"), std::string::npos) << r.problem;
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

  sql(db_,
      "UPDATE audit_events SET record = replace(record, '\"signature\":\"', "
      "'\"signature\":\"AAAA') WHERE type = 'checkpoint'");
  r = verifyDb(db_, "gw-test", &*pub);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.broken_seq, 5u);
}

TEST_F(SqliteAudit, ALockedDatabaseIsRetriedAndNothingIsLost) {
  std::vector<std::unique_ptr<Sink>> sinks;
  auto sink = SqliteSink::open(db_, /*busy_timeout_ms=*/20);
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

}  // namespace
}  // namespace pgw::audit
