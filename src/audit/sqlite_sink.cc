#include "audit/sqlite_sink.h"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

namespace pgw::audit {
namespace {

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR IGNORE INTO audit_meta(key, value) VALUES ('schema_version', '1');
CREATE TABLE IF NOT EXISTS audit_events(
  gateway_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time_us INTEGER NOT NULL,
  type TEXT NOT NULL,
  session_id INTEGER NOT NULL,
  subject TEXT NOT NULL,
  decision TEXT NOT NULL,
  record TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE(gateway_id, seq));
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events(time_us);
CREATE INDEX IF NOT EXISTS audit_events_session ON audit_events(session_id);
CREATE INDEX IF NOT EXISTS audit_events_subject ON audit_events(subject);
CREATE INDEX IF NOT EXISTS audit_events_decision ON audit_events(decision)
  WHERE decision <> 'allow';
CREATE TABLE IF NOT EXISTS audit_anchor(
  gateway_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL,
  time_us INTEGER NOT NULL);
)sql";

constexpr const char* kColumns =
    "rowid, gateway_id, seq, time_us, type, session_id, subject, decision, record, prev_hash, hash";

/// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  void text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void i64(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_;
};

std::string columnText(sqlite3_stmt* s, int i) {
  const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s, i));
  return p == nullptr ? std::string()
                      : std::string(p, static_cast<size_t>(sqlite3_column_bytes(s, i)));
}

StoredRecord readRow(sqlite3_stmt* s) {
  StoredRecord r;
  r.position = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  r.gateway_id = columnText(s, 1);
  r.seq = static_cast<uint64_t>(sqlite3_column_int64(s, 2));
  r.time_us = sqlite3_column_int64(s, 3);
  r.type = columnText(s, 4);
  r.session_id = static_cast<uint64_t>(sqlite3_column_int64(s, 5));
  r.subject = columnText(s, 6);
  r.decision = columnText(s, 7);
  r.record = columnText(s, 8);
  r.prev = columnText(s, 9);
  r.hash = columnText(s, 10);
  return r;
}

}  // namespace

SqliteSink::SqliteSink(std::string path, sqlite3* db)
    : path_(std::move(path)), describe_("sqlite:" + path_), db_(db) {}

SqliteSink::~SqliteSink() {
  sqlite3_finalize(insert_);
  sqlite3_close_v2(db_);
}

Error SqliteSink::error(const std::string& what) const {
  return fail("", fmt::format("audit sink {}: {}: {}", describe_, what, sqlite3_errmsg(db_)));
}

Status SqliteSink::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string why = msg != nullptr ? msg : sqlite3_errmsg(db_);
    sqlite3_free(msg);
    return fail("", fmt::format("audit sink {}: {}", describe_, why));
  }
  return {};
}

Result<std::unique_ptr<SqliteSink>> SqliteSink::open(const std::string& path, int busy_timeout_ms) {
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
  std::unique_ptr<SqliteSink> sink(new SqliteSink(path, db));
  if (rc != SQLITE_OK) return sink->error("cannot open");
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // WAL lets `pgwarden audit tail` read while the gateway writes; FULL
  // syncs the WAL at every commit, so an acknowledged batch is on disk.
  // A 64 MiB page cache keeps the indexes' hot pages in memory, and a larger
  // WAL between checkpoints (64 MiB) means a checkpoint — which copies pages
  // into the database and syncs it — every few hundred thousand records, not
  // every few thousand.
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL",
                             "PRAGMA cache_size=-65536", "PRAGMA wal_autocheckpoint=16384"}) {
    if (auto st = sink->exec(pragma); !st) return st.takeError();
  }
  if (auto st = sink->exec(kSchema); !st) return st.takeError();
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO audit_events(gateway_id, seq, time_us, type, session_id, "
                         "subject, decision, record, prev_hash, hash) "
                         "VALUES (?,?,?,?,?,?,?,?,?,?)",
                         -1, &sink->insert_, nullptr) != SQLITE_OK) {
    return sink->error("cannot prepare the insert");
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
  std::unique_ptr<SqliteSink> sink(new SqliteSink(path, db));
  if (rc != SQLITE_OK) return sink->error("cannot open");
  sqlite3_busy_timeout(db, 5000);
  Stmt check(db, "SELECT 1 FROM audit_events LIMIT 0");
  if (!check.ok()) {
    return fail("",
                fmt::format("{} is not a pgwarden audit database ({})", path, sqlite3_errmsg(db)));
  }
  return sink;
}

Result<ChainHead> SqliteSink::head(const std::string& gateway_id) {
  Stmt s(db_, "SELECT seq, hash FROM audit_events WHERE gateway_id = ? ORDER BY seq DESC LIMIT 1");
  if (!s.ok()) return error("cannot read the chain head");
  s.text(1, gateway_id);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) {
    return ChainHead{static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)),
                     columnText(s.get(), 1), false};
  }
  if (rc != SQLITE_DONE) return error("cannot read the chain head");
  auto a = anchor(gateway_id);
  if (!a) return a.takeError();
  if (*a) return ChainHead{(*a)->seq, (*a)->hash, false};
  return ChainHead{};
}

Result<std::optional<ChainAnchor>> SqliteSink::anchor(const std::string& gateway_id) {
  Stmt s(db_, "SELECT seq, hash FROM audit_anchor WHERE gateway_id = ?");
  if (!s.ok()) return error("cannot read the anchor");
  s.text(1, gateway_id);
  const int rc = sqlite3_step(s.get());
  if (rc == SQLITE_ROW) {
    return std::optional<ChainAnchor>(ChainAnchor{
        static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)), columnText(s.get(), 1)});
  }
  if (rc != SQLITE_DONE) return error("cannot read the anchor");
  return std::optional<ChainAnchor>();
}

Status SqliteSink::prune(const std::string& gateway_id, uint64_t through) {
  Stmt h(db_, "SELECT hash FROM audit_events WHERE gateway_id = ? AND seq = ?");
  if (!h.ok()) return error("cannot prune");
  h.text(1, gateway_id);
  h.i64(2, static_cast<int64_t>(through));
  if (sqlite3_step(h.get()) != SQLITE_ROW) return {};  // already gone (joined later)
  const std::string hash = columnText(h.get(), 0);
  Stmt del(db_, "DELETE FROM audit_events WHERE gateway_id = ? AND seq <= ?");
  Stmt up(db_,
          "INSERT INTO audit_anchor(gateway_id, seq, hash, time_us) VALUES (?,?,?,?) "
          "ON CONFLICT(gateway_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
          "time_us = excluded.time_us");
  if (!del.ok() || !up.ok()) return error("cannot prune");
  del.text(1, gateway_id);
  del.i64(2, static_cast<int64_t>(through));
  up.text(1, gateway_id);
  up.i64(2, static_cast<int64_t>(through));
  up.text(3, hash);
  up.i64(4, nowUs().time_since_epoch().count());
  if (sqlite3_step(del.get()) != SQLITE_DONE || sqlite3_step(up.get()) != SQLITE_DONE) {
    return error("cannot prune");
  }
  return {};
}

Status SqliteSink::write(std::span<const StoredRecord> batch) {
  if (batch.empty()) return {};
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  auto rollback = [&](Error e) -> Status {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return e;
  };
  const StoredRecord& first = batch.front();
  if (first.seq > 1) {
    auto h = head(first.gateway_id);
    if (!h) return rollback(h.takeError());
    if (h->empty) {
      // Joining a chain that already has records elsewhere: start after them.
      Stmt a(db_, "INSERT INTO audit_anchor(gateway_id, seq, hash, time_us) VALUES (?,?,?,?)");
      if (!a.ok()) return rollback(error("cannot store the anchor"));
      a.text(1, first.gateway_id);
      a.i64(2, static_cast<int64_t>(first.seq - 1));
      a.text(3, first.prev);
      a.i64(4, nowUs().time_since_epoch().count());
      if (sqlite3_step(a.get()) != SQLITE_DONE) return rollback(error("cannot store the anchor"));
    }
  }
  for (const StoredRecord& r : batch) {
    sqlite3_stmt* s = insert_;
    sqlite3_reset(s);
    auto text = [&](int i, const std::string& v) {
      sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    };
    text(1, r.gateway_id);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(r.seq));
    sqlite3_bind_int64(s, 3, r.time_us);
    text(4, r.type);
    sqlite3_bind_int64(s, 5, static_cast<int64_t>(r.session_id));
    text(6, r.subject);
    text(7, r.decision);
    text(8, r.record);
    text(9, r.prev);
    text(10, r.hash);
    if (sqlite3_step(s) != SQLITE_DONE) {
      Error e = error(fmt::format("cannot store record {}", r.seq));
      sqlite3_reset(s);
      return rollback(std::move(e));
    }
    if (r.prune_through > 0) {
      if (auto st = prune(r.gateway_id, r.prune_through); !st) return rollback(st.takeError());
    }
  }
  sqlite3_reset(insert_);
  sqlite3_clear_bindings(insert_);
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return rollback(error("cannot commit"));
  }
  return {};
}

Result<std::vector<StoredRecord>> SqliteSink::readAfter(const std::string& gateway_id, uint64_t seq,
                                                        size_t limit) {
  const std::string sql = fmt::format(
      "SELECT {} FROM audit_events WHERE gateway_id = ? AND seq > ? ORDER BY seq LIMIT ?",
      kColumns);
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return error("cannot read records");
  s.text(1, gateway_id);
  s.i64(2, static_cast<int64_t>(seq));
  s.i64(3, static_cast<int64_t>(limit));
  std::vector<StoredRecord> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(readRow(s.get()));
  if (rc != SQLITE_DONE) return error("cannot read records");
  return out;
}

Result<std::optional<ChainAnchor>> SqliteSink::pruneCandidate(const std::string& gateway_id,
                                                              int64_t cutoff_us,
                                                              uint64_t max_records) {
  Stmt first(db_, "SELECT MIN(seq) FROM audit_events WHERE gateway_id = ?");
  Stmt young(db_, "SELECT MIN(seq) FROM audit_events WHERE gateway_id = ? AND time_us >= ?");
  Stmt last(db_, "SELECT MAX(seq) FROM audit_events WHERE gateway_id = ?");
  if (!first.ok() || !young.ok() || !last.ok()) return error("cannot plan retention");
  first.text(1, gateway_id);
  young.text(1, gateway_id);
  young.i64(2, cutoff_us);
  last.text(1, gateway_id);
  if (sqlite3_step(first.get()) != SQLITE_ROW || sqlite3_step(young.get()) != SQLITE_ROW ||
      sqlite3_step(last.get()) != SQLITE_ROW) {
    return error("cannot plan retention");
  }
  if (sqlite3_column_type(first.get(), 0) == SQLITE_NULL) return std::optional<ChainAnchor>();
  const auto lo = static_cast<uint64_t>(sqlite3_column_int64(first.get(), 0));
  // Never prune the newest record: the chain head must stay readable.
  uint64_t k = static_cast<uint64_t>(sqlite3_column_int64(last.get(), 0)) - 1;
  if (sqlite3_column_type(young.get(), 0) != SQLITE_NULL) {
    k = std::min(k, static_cast<uint64_t>(sqlite3_column_int64(young.get(), 0)) - 1);
  }
  k = std::min(k, lo - 1 + max_records);
  if (k < lo) return std::optional<ChainAnchor>();
  auto rows = readAfter(gateway_id, k - 1, 1);
  if (!rows) return rows.takeError();
  if (rows->empty() || rows->front().seq != k) return std::optional<ChainAnchor>();
  return std::optional<ChainAnchor>(ChainAnchor{k, rows->front().hash});
}

Result<std::vector<std::string>> SqliteSink::gateways() {
  Stmt s(db_,
         "SELECT gateway_id FROM audit_events UNION SELECT gateway_id FROM audit_anchor "
         "ORDER BY 1");
  if (!s.ok()) return error("cannot list gateways");
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(columnText(s.get(), 0));
  if (rc != SQLITE_DONE) return error("cannot list gateways");
  return out;
}

Result<VerifyResult> SqliteSink::verify(const std::string& gateway_id, const SigningKey* key) {
  auto a = anchor(gateway_id);
  if (!a) return a.takeError();
  ChainVerifier verifier(gateway_id, a->value_or(ChainAnchor{}), key);
  // Ordered by the stored seq column; the verifier checks it against each
  // record, so a swapped seq shows up as a broken link, not a silent re-sort.
  const std::string sql =
      fmt::format("SELECT {} FROM audit_events WHERE gateway_id = ? ORDER BY seq", kColumns);
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return error("cannot read records");
  s.text(1, gateway_id);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    if (!verifier.add(readRow(s.get()))) break;
  }
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return error("cannot read records");
  return verifier.finish();
}

Result<std::vector<StoredRecord>> SqliteSink::query(const Query& q) {
  std::string where = "rowid > ?1";
  if (!q.gateway_id.empty()) where += " AND gateway_id = ?2";
  if (q.since_us) where += " AND time_us >= ?3";
  if (q.until_us) where += " AND time_us < ?4";
  if (!q.subject.empty()) where += " AND subject = ?5";
  // The decision index is partial (only deny and review rows: allow is the
  // bulk); SQLite uses it only when the value is in the query text, so the
  // three known values are written in literally.
  if (q.decision == "deny" || q.decision == "review" || q.decision == "allow") {
    where += fmt::format(" AND decision = '{}'", q.decision);
  } else if (!q.decision.empty()) {
    where += " AND decision = ?6";
  }
  if (q.session_id) where += " AND session_id = ?7";
  const std::string sql =
      fmt::format("SELECT {} FROM audit_events WHERE {} ORDER BY rowid {} LIMIT ?8", kColumns,
                  where, q.newest_first ? "DESC" : "ASC");
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return error("cannot query records");
  s.i64(1, static_cast<int64_t>(q.after_position));
  s.text(2, q.gateway_id);
  s.i64(3, q.since_us.value_or(0));
  s.i64(4, q.until_us.value_or(0));
  s.text(5, q.subject);
  s.text(6, q.decision);
  s.i64(7, static_cast<int64_t>(q.session_id.value_or(0)));
  s.i64(8, q.limit == 0 ? -1 : static_cast<int64_t>(q.limit));
  std::vector<StoredRecord> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(readRow(s.get()));
  if (rc != SQLITE_DONE) return error("cannot query records");
  return out;
}

Result<std::unique_ptr<Store>> Store::openSqlite(const std::string& path) {
  auto s = SqliteSink::openReadOnly(path);
  if (!s) return s.takeError();
  return std::unique_ptr<Store>(std::move(*s));
}

}  // namespace pgw::audit
