// SqliteSink: writing, reading, pruning and verifying segments. Creating,
// opening and converting the file: sqlite_schema.cc.

#include "audit/sqlite_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "audit/sqlite_stmt.h"

namespace pgw::audit {
namespace {

using sqlite::columnText;
using sqlite::Stmt;

constexpr const char* kSegmentColumns =
    "id, gateway_id, first_seq, last_seq, first_time_us, last_time_us, prev_hash, hash, records";

/// Positions: segment id in the high bits, the record's line (from 1) in
/// the low 20, so they grow in write order across gateways.
constexpr int kLineBits = 20;

/// A line holds its record's hash cut to this many hex digits, a tag: the
/// whole hash is recomputed when the segment is read, and the link to the
/// next segment (its prev_hash, and this one's hash column) keeps all 64.
/// The tag only says which line an edit starts at; whole hashes, random
/// digits, made up three quarters of a compressed segment (docs/audit.md,
/// "The SQLite file").
constexpr size_t kTagChars = 8;

/// The least and greatest time_us of `records` (not empty): what a
/// segment's first_time_us and last_time_us hold.
std::pair<int64_t, int64_t> timeRange(std::span<const StoredRecord> records) {
  int64_t lo = records.front().time_us;
  int64_t hi = lo;
  for (const StoredRecord& r : records) {
    lo = std::min(lo, r.time_us);
    hi = std::max(hi, r.time_us);
  }
  return {lo, hi};
}

/// What a segment holding `records` is found by (sorted, no duplicates).
/// The values are gathered and made unique first, so a key string is built
/// once per distinct session, subject and decision, not once per record.
std::vector<std::string> segmentKeys(std::span<const StoredRecord> records) {
  std::vector<uint64_t> sessions;
  std::vector<std::string_view> subjects;
  std::vector<std::string_view> decisions;
  auto add = [](auto& values, auto value) {
    // Neighbouring records mostly share a session and subject.
    if (values.empty() || values.back() != value) values.push_back(value);
  };
  for (const StoredRecord& r : records) {
    add(sessions, r.session_id);
    if (!r.subject.empty()) add(subjects, std::string_view(r.subject));
    if (!r.decision.empty() && r.decision != "allow") add(decisions, std::string_view(r.decision));
  }
  auto unique = [](auto& values) {
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
  };
  unique(sessions);
  unique(subjects);
  unique(decisions);
  std::vector<std::string> keys;
  keys.reserve(sessions.size() + subjects.size() + decisions.size());
  for (uint64_t id : sessions) keys.push_back(fmt::format("session:{}", id));
  for (std::string_view v : subjects) keys.push_back(fmt::format("subject:{}", v));
  for (std::string_view v : decisions) keys.push_back(fmt::format("decision:{}", v));
  std::sort(keys.begin(), keys.end());  // session ids sort as text
  return keys;
}

}  // namespace

/// One row of audit_segments.
struct SqliteSink::Segment {
  int64_t id = 0;
  std::string gateway_id;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  int64_t first_time_us = 0;
  int64_t last_time_us = 0;
  std::string prev_hash;
  std::string hash;
  std::string records;
  /// Why `records` could not be decoded (a damaged zstd frame); empty when
  /// it was.
  std::string damage;

  /// Fails, naming the segment, when its records could not be decoded.
  Status readable() const {
    if (damage.empty()) return {};
    return fail("", fmt::format("the segment of records {}..{} cannot be decoded ({}); run "
                                "`pgwarden audit verify`",
                                first_seq, last_seq, damage));
  }

  /// The records, with their links and derived columns; a line that cannot
  /// be read keeps empty columns (verify reports it at its seq). Nothing
  /// when the segment is damaged.
  ///
  /// A line's hash is recomputed from the link before it and its record;
  /// its tag must be that hash's first kTagChars digits (a version 3 line
  /// carries the whole hash instead). A line whose tag differs keeps the
  /// tag as its hash, which verify reports as an edited record.
  std::vector<StoredRecord> expand() const {
    std::vector<StoredRecord> out;
    if (!damage.empty()) return out;
    std::string_view rest = records;
    std::string prev = prev_hash;
    uint64_t seq = first_seq;
    uint64_t line = 1;
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      const std::string_view text = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      StoredRecord r;
      r.gateway_id = gateway_id;
      r.seq = seq++;
      r.position = (static_cast<uint64_t>(id) << kLineBits) | line++;
      r.prev = prev;
      const std::string_view tag = text.substr(0, text.find(' '));
      if (tag.size() < text.size() && (tag.size() == kTagChars || tag.size() == 64) &&
          isLowerHex(tag)) {
        r.record = std::string(text.substr(tag.size() + 1));
        r.hash = chainHash(r.prev, r.record);
        if (!r.hash.starts_with(tag)) r.hash = std::string(tag);
      } else {
        r.record = std::string(text);
      }
      if (auto parsed = parseRecord(r.record)) {
        const uint64_t position = r.seq;
        deriveColumns(*parsed, r);
        r.seq = position;  // where it is stored; verify compares the record's own
        r.gateway_id = gateway_id;
      }
      prev = r.hash;
      out.push_back(std::move(r));
    }
    return out;
  }
};

SqliteSink::SqliteSink(std::string path, sqlite3* db, SegmentCompression compression)
    : path_(std::move(path)), describe_("sqlite:" + path_), db_(db), compression_(compression) {}

SqliteSink::~SqliteSink() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(insert_key_);
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

Result<ChainHead> SqliteSink::head(const std::string& gateway_id) {
  Stmt s(db_,
         "SELECT last_seq, hash FROM audit_segments WHERE gateway_id = ? "
         "ORDER BY first_seq DESC LIMIT 1");
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

Result<std::vector<SqliteSink::Segment>> SqliteSink::segments(
    const std::string& where_sql, const std::function<void(sqlite3_stmt*)>& bind,
    size_t max_segments) {
  const std::string sql =
      fmt::format("SELECT {} FROM audit_segments WHERE {}{}", kSegmentColumns, where_sql,
                  max_segments > 0 ? fmt::format(" LIMIT {}", max_segments) : std::string());
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return error("cannot read records");
  bind(s.get());
  std::vector<Segment> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    Segment g;
    g.id = sqlite3_column_int64(s.get(), 0);
    g.gateway_id = columnText(s.get(), 1);
    g.first_seq = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 2));
    g.last_seq = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 3));
    g.first_time_us = sqlite3_column_int64(s.get(), 4);
    g.last_time_us = sqlite3_column_int64(s.get(), 5);
    g.prev_hash = columnText(s.get(), 6);
    g.hash = columnText(s.get(), 7);
    if (sqlite3_column_type(s.get(), 8) == SQLITE_BLOB) {
      const auto* p = static_cast<const char*>(sqlite3_column_blob(s.get(), 8));
      const std::string_view frame(p, static_cast<size_t>(sqlite3_column_bytes(s.get(), 8)));
      if (auto st = unpackSegment(frame, g.records); !st) g.damage = st.error().message;
    } else {
      g.records = columnText(s.get(), 8);
    }
    out.push_back(std::move(g));
  }
  if (rc != SQLITE_DONE) return error("cannot read records");
  return out;
}

Result<std::vector<SqliteSink::Segment>> SqliteSink::segmentsOf(const std::string& gateway_id,
                                                                const char* where_sql,
                                                                int64_t value,
                                                                size_t max_segments) {
  return segments(
      fmt::format("gateway_id = ?1 AND {}", where_sql),
      [&](sqlite3_stmt* s) {
        Stmt::bindText(s, 1, gateway_id);
        sqlite3_bind_int64(s, 2, value);
      },
      max_segments);
}

std::pair<int64_t, int64_t> SqliteSink::fillBody(std::span<const StoredRecord> records) {
  size_t size = 0;
  for (const StoredRecord& r : records) size += kTagChars + r.record.size() + 2;
  body_.clear();
  body_.reserve(size);
  for (const StoredRecord& r : records) {
    body_.append(r.hash, 0, kTagChars).push_back(' ');
    body_.append(r.record).push_back('\n');
  }
  return timeRange(records);
}

Status SqliteSink::bindBody(sqlite3_stmt* s, int index) {
  if (compression_ == SegmentCompression::None) {
    sqlite3_bind_text(s, index, body_.data(), static_cast<int>(body_.size()), SQLITE_STATIC);
    return {};
  }
  auto frame = packer_.pack(body_);
  if (!frame) return fail("", fmt::format("audit sink {}: {}", describe_, frame.error().message));
  sqlite3_bind_blob(s, index, frame->data(), static_cast<int>(frame->size()), SQLITE_STATIC);
  return {};
}

Status SqliteSink::insertKeys(int64_t segment, std::span<const StoredRecord> records) {
  for (const std::string& key : segmentKeys(records)) {
    sqlite3_reset(insert_key_);
    Stmt::bindText(insert_key_, 1, key);
    sqlite3_bind_int64(insert_key_, 2, segment);
    if (sqlite3_step(insert_key_) != SQLITE_DONE) {
      sqlite3_reset(insert_key_);
      return error("cannot store the segment keys");
    }
  }
  sqlite3_reset(insert_key_);
  return {};
}

Status SqliteSink::insertSegment(std::span<const StoredRecord> records) {
  const auto [lo, hi] = fillBody(records);
  const StoredRecord& first = records.front();
  sqlite3_stmt* s = insert_;
  sqlite3_reset(s);
  auto text = [&](int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  };
  text(1, first.gateway_id);
  sqlite3_bind_int64(s, 2, static_cast<int64_t>(first.seq));
  sqlite3_bind_int64(s, 3, static_cast<int64_t>(records.back().seq));
  sqlite3_bind_int64(s, 4, lo);
  sqlite3_bind_int64(s, 5, hi);
  text(6, first.prev);
  text(7, records.back().hash);
  if (auto st = bindBody(s, 8); !st) return st;
  const int rc = sqlite3_step(s);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  if (rc != SQLITE_DONE) {
    return error(fmt::format("cannot store records {}..{}", first.seq, records.back().seq));
  }
  return insertKeys(sqlite3_last_insert_rowid(db_), records);
}

/// Deletes records up to `through`: whole segments, and the older part of
/// the one that straddles it, which is rewritten in place (same id, so the
/// order of positions stays the order of writing) with its links, times
/// and keys.
Status SqliteSink::prune(const std::string& gateway_id, uint64_t through) {
  auto straddling =
      segmentsOf(gateway_id, "first_seq <= ?2 AND last_seq > ?2", static_cast<int64_t>(through));
  if (!straddling) return straddling.takeError();
  std::optional<std::string> hash;
  std::vector<StoredRecord> kept;
  if (!straddling->empty()) {
    if (auto st = straddling->front().readable(); !st) return st;
    for (StoredRecord& r : straddling->front().expand()) {
      if (r.seq == through) hash = r.hash;
      if (r.seq > through) kept.push_back(std::move(r));
    }
  } else {
    Stmt h(db_, "SELECT hash FROM audit_segments WHERE gateway_id = ? AND last_seq = ?");
    if (!h.ok()) return error("cannot prune");
    h.text(1, gateway_id);
    h.i64(2, static_cast<int64_t>(through));
    if (sqlite3_step(h.get()) == SQLITE_ROW) hash = columnText(h.get(), 0);
  }
  if (!hash) return {};  // already gone (this sink joined later)
  Stmt keys(db_,
            "DELETE FROM audit_keys WHERE segment IN (SELECT id FROM audit_segments WHERE "
            "gateway_id = ?1 AND last_seq <= ?2)");
  Stmt del(db_, "DELETE FROM audit_segments WHERE gateway_id = ?1 AND last_seq <= ?2");
  Stmt up(db_,
          "INSERT INTO audit_anchor(gateway_id, seq, hash, time_us) VALUES (?,?,?,?) "
          "ON CONFLICT(gateway_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
          "time_us = excluded.time_us");
  if (!keys.ok() || !del.ok() || !up.ok()) return error("cannot prune");
  for (Stmt* st : {&keys, &del}) {
    st->text(1, gateway_id);
    st->i64(2, static_cast<int64_t>(through));
    if (sqlite3_step(st->get()) != SQLITE_DONE) return error("cannot prune");
  }
  if (!kept.empty()) {
    const int64_t id = straddling->front().id;
    const auto [lo, hi] = fillBody(kept);
    Stmt trim(db_,
              "UPDATE audit_segments SET first_seq = ?, first_time_us = ?, last_time_us = ?, "
              "prev_hash = ?, records = ? WHERE id = ?");
    Stmt unkey(db_, "DELETE FROM audit_keys WHERE segment = ?");
    if (!trim.ok() || !unkey.ok()) return error("cannot prune");
    trim.i64(1, static_cast<int64_t>(kept.front().seq));
    trim.i64(2, lo);
    trim.i64(3, hi);
    trim.text(4, kept.front().prev);
    if (auto st = bindBody(trim.get(), 5); !st) return st;
    trim.i64(6, id);
    unkey.i64(1, id);
    if (sqlite3_step(trim.get()) != SQLITE_DONE || sqlite3_step(unkey.get()) != SQLITE_DONE) {
      return error("cannot prune");
    }
    if (auto st = insertKeys(id, kept); !st) return st;
  }
  up.text(1, gateway_id);
  up.i64(2, static_cast<int64_t>(through));
  up.text(3, *hash);
  up.i64(4, nowUs().time_since_epoch().count());
  if (sqlite3_step(up.get()) != SQLITE_DONE) return error("cannot prune");
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
  // Retention anchors delete older records in this transaction; they are
  // always older than the batch.
  for (const StoredRecord& r : batch) {
    if (r.prune_through > 0) {
      if (auto st = prune(r.gateway_id, r.prune_through); !st) return rollback(st.takeError());
    }
  }
  if (auto st = insertSegment(batch); !st) return rollback(st.takeError());
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return rollback(error("cannot commit"));
  }
  return {};
}

Result<std::vector<StoredRecord>> SqliteSink::readAfter(const std::string& gateway_id, uint64_t seq,
                                                        size_t limit) {
  std::vector<StoredRecord> out;
  uint64_t at = seq;
  while (out.size() < limit) {
    // The segment holding record at + 1, then the ones after it.
    auto segs =
        segmentsOf(gateway_id, "last_seq > ?2 ORDER BY first_seq", static_cast<int64_t>(at), 16);
    if (!segs) return segs.takeError();
    if (segs->empty()) break;
    for (const Segment& g : *segs) {
      if (auto st = g.readable(); !st) return st.takeError();
      for (StoredRecord& r : g.expand()) {
        if (r.seq <= at) continue;
        if (out.size() == limit) return out;
        at = r.seq;
        out.push_back(std::move(r));
      }
      at = std::max(at, g.last_seq);
    }
  }
  return out;
}

Result<std::optional<ChainAnchor>> SqliteSink::pruneCandidate(const std::string& gateway_id,
                                                              int64_t cutoff_us,
                                                              uint64_t max_records) {
  Stmt range(db_, "SELECT MIN(first_seq), MAX(last_seq) FROM audit_segments WHERE gateway_id = ?");
  if (!range.ok()) return error("cannot plan retention");
  range.text(1, gateway_id);
  if (sqlite3_step(range.get()) != SQLITE_ROW) return error("cannot plan retention");
  if (sqlite3_column_type(range.get(), 0) == SQLITE_NULL) return std::optional<ChainAnchor>();
  const auto lo = static_cast<uint64_t>(sqlite3_column_int64(range.get(), 0));
  // Never prune the newest record: the chain head must stay readable.
  uint64_t k = static_cast<uint64_t>(sqlite3_column_int64(range.get(), 1)) - 1;
  k = std::min(k, lo - 1 + max_records);
  // Segments entirely older than the cutoff go whole; in the first one that
  // is not, records before its first young one do.
  auto young = segmentsOf(gateway_id, "last_time_us >= ?2 ORDER BY first_seq", cutoff_us, 1);
  if (!young) return young.takeError();
  if (!young->empty()) {
    if (auto st = young->front().readable(); !st) return st.takeError();
    for (const StoredRecord& r : young->front().expand()) {
      if (r.time_us >= cutoff_us) {
        k = std::min(k, r.seq - 1);
        break;
      }
    }
  }
  if (k < lo) return std::optional<ChainAnchor>();
  auto rows = readAfter(gateway_id, k - 1, 1);
  if (!rows) return rows.takeError();
  if (rows->empty() || rows->front().seq != k) return std::optional<ChainAnchor>();
  return std::optional<ChainAnchor>(ChainAnchor{k, rows->front().hash});
}

Result<std::vector<std::string>> SqliteSink::gateways() {
  Stmt s(db_,
         "SELECT gateway_id FROM audit_segments UNION SELECT gateway_id FROM audit_anchor "
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
  Stmt keys(db_, "SELECT key FROM audit_keys WHERE segment = ? ORDER BY key");
  if (!keys.ok()) return error("cannot read records");
  // Segments in the order of their stored first_seq; the verifier checks
  // each record's own seq against its place, so an edited first_seq shows
  // up as a broken link, not a silent re-sort.
  int64_t after = std::numeric_limits<int64_t>::min();
  while (verifier.ok()) {
    auto segs = segmentsOf(gateway_id, "first_seq > ?2 ORDER BY first_seq", after, 64);
    if (!segs) return segs.takeError();
    if (segs->empty()) break;
    for (const Segment& g : *segs) {
      after = static_cast<int64_t>(g.first_seq);
      if (!g.damage.empty()) {
        verifier.reject(g.first_seq, fmt::format("the segment of records {}..{} cannot be decoded "
                                                 "({}): the segment row was edited or damaged",
                                                 g.first_seq, g.last_seq, g.damage));
        break;
      }
      const std::vector<StoredRecord> records = g.expand();
      for (const StoredRecord& r : records) {
        if (!verifier.add(r)) break;
      }
      if (!verifier.ok()) break;
      // The records are intact; the columns that summarize them must agree.
      auto summary = [&](const std::string& what) {
        return verifier.reject(
            g.first_seq, fmt::format("the segment of records {}..{} says {} but its records differ "
                                     "(the segment row was edited)",
                                     g.first_seq, g.last_seq, what));
      };
      if (records.empty()) {
        summary("nothing");
        break;
      }
      const auto [lo, hi] = timeRange(records);
      keys.i64(1, g.id);
      std::vector<std::string> stored;
      while (sqlite3_step(keys.get()) == SQLITE_ROW) stored.push_back(columnText(keys.get(), 0));
      sqlite3_reset(keys.get());
      if (records.back().seq < g.last_seq) {
        verifier.reject(
            records.back().seq + 1,
            fmt::format("record {} is missing (the segment of records {}..{} ends "
                        "after {})",
                        records.back().seq + 1, g.first_seq, g.last_seq, records.back().seq));
      } else if (records.back().seq > g.last_seq) {
        summary(fmt::format("last_seq {}", g.last_seq));
      } else if (records.back().hash != g.hash) {
        summary("another hash");
      } else if (lo != g.first_time_us || hi != g.last_time_us) {
        summary("other times");
      } else if (stored != segmentKeys(records)) {
        summary("other sessions, subjects or decisions in audit_keys");
      }
      if (!verifier.ok()) break;
    }
  }
  return verifier.finish();
}

Result<std::vector<StoredRecord>> SqliteSink::query(const Query& q) {
  // Candidate segments by their columns and keys; the records inside are
  // then filtered exactly.
  std::string where = "id >= ?1";
  if (!q.gateway_id.empty()) where += " AND gateway_id = ?2";
  if (q.since_us) where += " AND last_time_us >= ?3";
  if (q.until_us) where += " AND first_time_us < ?4";
  auto in_keys = [](int param) {
    return fmt::format(" AND id IN (SELECT segment FROM audit_keys WHERE key = ?{})", param);
  };
  if (!q.subject.empty()) where += in_keys(5);
  if (q.decision == "deny" || q.decision == "review") where += in_keys(6);
  if (q.session_id) where += in_keys(7);
  where += q.newest_first ? " ORDER BY id DESC" : " ORDER BY id";
  auto bind = [&](sqlite3_stmt* s) {
    sqlite3_bind_int64(s, 1, static_cast<int64_t>(q.after_position >> kLineBits));
    Stmt::bindText(s, 2, q.gateway_id);
    sqlite3_bind_int64(s, 3, q.since_us.value_or(0));
    sqlite3_bind_int64(s, 4, q.until_us.value_or(0));
    Stmt::bindText(s, 5, "subject:" + q.subject);
    Stmt::bindText(s, 6, "decision:" + q.decision);
    Stmt::bindText(s, 7, fmt::format("session:{}", q.session_id.value_or(0)));
  };
  auto matches = [&](const StoredRecord& r) {
    return r.position > q.after_position &&
           (q.gateway_id.empty() || r.gateway_id == q.gateway_id) &&
           (!q.since_us || r.time_us >= *q.since_us) && (!q.until_us || r.time_us < *q.until_us) &&
           (q.subject.empty() || r.subject == q.subject) &&
           (q.decision.empty() || r.decision == q.decision) &&
           (!q.session_id || r.session_id == *q.session_id);
  };
  // Segments are read a page at a time, so a limited query (tail) stops
  // early; pages continue from the last id seen, not by offset, so segments
  // written meanwhile neither repeat nor shift rows.
  constexpr int64_t kPage = 64;
  std::vector<StoredRecord> out;
  const std::string paged = where + " LIMIT ?8";
  int64_t bound = q.newest_first ? std::numeric_limits<int64_t>::max() : -1;
  for (;;) {
    auto segs = segments(fmt::format("id {} ?9 AND {}", q.newest_first ? "<" : ">", paged),
                         [&](sqlite3_stmt* s) {
                           bind(s);
                           sqlite3_bind_int64(s, 8, kPage);
                           sqlite3_bind_int64(s, 9, bound);
                         });
    if (!segs) return segs.takeError();
    for (const Segment& g : *segs) {
      bound = g.id;
      if (auto st = g.readable(); !st) return st.takeError();
      std::vector<StoredRecord> records = g.expand();
      if (q.newest_first) std::reverse(records.begin(), records.end());
      for (StoredRecord& r : records) {
        if (!matches(r)) continue;
        out.push_back(std::move(r));
        if (q.limit != 0 && out.size() == q.limit) return out;
      }
    }
    if (static_cast<int64_t>(segs->size()) < kPage) break;
  }
  return out;
}

Result<std::unique_ptr<Store>> Store::openSqlite(const std::string& path) {
  auto s = SqliteSink::openReadOnly(path);
  if (!s) return s.takeError();
  return std::unique_ptr<Store>(std::move(*s));
}

}  // namespace pgw::audit
