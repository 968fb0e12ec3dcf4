#include "audit/postgres_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

namespace pgw::audit {
namespace {

/// COPY text format: backslash, tab, newline and carriage return escaped.
void appendCopyField(std::string& out, std::string_view v) {
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      default:
        out.push_back(c);
    }
  }
}

struct ResultGuard {
  PGresult* r;
  ~ResultGuard() { PQclear(r); }
};

StoredRecord readRow(PGresult* r, int row) {
  auto text = [&](int col) { return std::string(PQgetvalue(r, row, col)); };
  StoredRecord s;
  s.gateway_id = text(0);
  s.seq = std::stoull(text(1));
  s.time_us = std::stoll(text(2));
  s.type = text(3);
  s.session_id = static_cast<uint64_t>(std::stoll(text(4)));
  s.subject = text(5);
  s.decision = text(6);
  s.record = text(7);
  s.prev = text(8);
  s.hash = text(9);
  s.position = s.seq;
  return s;
}

constexpr const char* kColumns =
    "gateway_id, seq, time_us, type, session_id, subject, decision, record, prev_hash, hash";

}  // namespace

std::string PostgresSink::describeDsn(const std::string& dsn) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(dsn.c_str(), &err);
  if (opts == nullptr) {
    PQfreemem(err);
    return "postgres:(unparsable connection string)";
  }
  std::map<std::string_view, std::string> kept;
  for (PQconninfoOption* o = opts; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && *o->val != '\0') kept.emplace(o->keyword, o->val);
  }
  std::string out = "postgres:";
  for (std::string_view k : {"host", "hostaddr", "port", "dbname", "user"}) {
    auto it = kept.find(k);
    if (it == kept.end()) continue;
    if (out.back() != ':') out.push_back(' ');
    out += fmt::format("{}={}", k, it->second);
  }
  PQconninfoFree(opts);
  return out;
}

PostgresSink::PostgresSink(std::string dsn, std::string password, std::string table)
    : dsn_(std::move(dsn)),
      password_(std::move(password)),
      table_(std::move(table)),
      anchor_table_(table_ + "_anchor"),
      describe_(describeDsn(dsn_) + " table=" + table_) {}

PostgresSink::~PostgresSink() {
  if (conn_ != nullptr) PQfinish(conn_);
}

Error PostgresSink::error(const std::string& what, PGresult* res) const {
  std::string why = res != nullptr ? PQresultErrorMessage(res) : "";
  if (why.empty() && conn_ != nullptr) why = PQerrorMessage(conn_);
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  return fail("", fmt::format("audit sink {}: {}: {}", describe_, what, why));
}

Status PostgresSink::connect() {
  if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return {};
  if (conn_ != nullptr) PQfinish(conn_);
  // The DSN is expanded first; the keywords after it override it. NOTICEs
  // ("relation already exists, skipping") would go to stderr: silenced.
  std::vector<const char*> keys = {"dbname", "application_name", "connect_timeout", "options"};
  std::vector<const char*> values = {dsn_.c_str(), "pgwarden-audit", "10",
                                     "-c client_min_messages=warning"};
  if (!password_.empty()) {
    keys.push_back("password");
    values.push_back(password_.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  conn_ = PQconnectdbParams(keys.data(), values.data(), /*expand_dbname=*/1);
  if (PQstatus(conn_) != CONNECTION_OK) return error("cannot connect");
  return ensureSchema();
}

Result<PGresult*> PostgresSink::run(const char* sql, std::initializer_list<std::string> params,
                                    ExecStatusType want) {
  std::vector<const char*> values;
  for (const auto& p : params) values.push_back(p.c_str());
  PGresult* r = PQexecParams(conn_, sql, static_cast<int>(values.size()), nullptr, values.data(),
                             nullptr, nullptr, 0);
  if (PQresultStatus(r) != want) {
    Error e = error("query failed", r);
    PQclear(r);
    return e;
  }
  return r;
}

Status PostgresSink::ensureSchema() {
  const std::string base = table_.substr(table_.find('.') + 1);
  const std::string sql = fmt::format(
      "CREATE TABLE IF NOT EXISTS {0} (gateway_id text NOT NULL, seq bigint NOT NULL, "
      "time_us bigint NOT NULL, type text NOT NULL, session_id bigint NOT NULL, "
      "subject text NOT NULL, decision text NOT NULL, record text NOT NULL, "
      "prev_hash text NOT NULL, hash text NOT NULL, PRIMARY KEY (gateway_id, seq));"
      "CREATE INDEX IF NOT EXISTS {1}_time ON {0} (time_us);"
      "CREATE INDEX IF NOT EXISTS {1}_session ON {0} (session_id);"
      "CREATE INDEX IF NOT EXISTS {1}_subject ON {0} (subject);"
      "CREATE INDEX IF NOT EXISTS {1}_decision ON {0} (decision);"
      "CREATE TABLE IF NOT EXISTS {2} (gateway_id text PRIMARY KEY, seq bigint NOT NULL, "
      "hash text NOT NULL, time_us bigint NOT NULL);",
      table_, base, anchor_table_);
  ResultGuard g{PQexec(conn_, sql.c_str())};
  if (PQresultStatus(g.r) != PGRES_COMMAND_OK) return error("cannot create the tables", g.r);
  return {};
}

Result<std::unique_ptr<PostgresSink>> PostgresSink::open(const std::string& dsn,
                                                         const std::string& password,
                                                         const std::string& table) {
  std::unique_ptr<PostgresSink> sink(new PostgresSink(dsn, password, table));
  if (auto st = sink->connect(); !st) return st.takeError();
  return sink;
}

Result<ChainHead> PostgresSink::head(const std::string& gateway_id) {
  if (auto st = connect(); !st) return st.takeError();
  const std::string sql = fmt::format(
      "SELECT seq, hash FROM {} WHERE gateway_id = $1 ORDER BY seq DESC LIMIT 1", table_);
  auto r = run(sql.c_str(), {gateway_id}, PGRES_TUPLES_OK);
  if (!r) return r.takeError();
  ResultGuard g{*r};
  if (PQntuples(g.r) == 1) {
    return ChainHead{std::stoull(PQgetvalue(g.r, 0, 0)), PQgetvalue(g.r, 0, 1), false};
  }
  const std::string asql =
      fmt::format("SELECT seq, hash FROM {} WHERE gateway_id = $1", anchor_table_);
  auto a = run(asql.c_str(), {gateway_id}, PGRES_TUPLES_OK);
  if (!a) return a.takeError();
  ResultGuard ag{*a};
  if (PQntuples(ag.r) == 1) {
    return ChainHead{std::stoull(PQgetvalue(ag.r, 0, 0)), PQgetvalue(ag.r, 0, 1), false};
  }
  return ChainHead{};
}

Status PostgresSink::write(std::span<const StoredRecord> batch) {
  if (batch.empty()) return {};
  if (auto st = connect(); !st) return st;
  auto exec = [&](const std::string& sql, std::initializer_list<std::string> params) -> Status {
    auto r = run(sql.c_str(), params, PGRES_COMMAND_OK);
    if (!r) return r.takeError();
    PQclear(*r);
    return {};
  };
  auto abort = [&](Error e) -> Status {
    PQclear(PQexec(conn_, "ROLLBACK"));
    return e;
  };
  if (auto st = exec("BEGIN", {}); !st) return st;
  const StoredRecord& first = batch.front();
  const std::string now = std::to_string(nowUs().time_since_epoch().count());
  if (first.seq > 1) {
    auto h = head(first.gateway_id);
    if (!h) return abort(h.takeError());
    if (h->empty) {
      auto st = exec(fmt::format("INSERT INTO {} VALUES ($1, $2, $3, $4)", anchor_table_),
                     {first.gateway_id, std::to_string(first.seq - 1), first.prev, now});
      if (!st) return abort(st.takeError());
    }
  }
  {
    ResultGuard g{PQexec(conn_, fmt::format("COPY {} ({}) FROM STDIN", table_, kColumns).c_str())};
    if (PQresultStatus(g.r) != PGRES_COPY_IN) return abort(error("cannot start COPY", g.r));
  }
  std::string buf;
  for (const StoredRecord& r : batch) {
    const std::string nums[] = {std::to_string(r.seq), std::to_string(r.time_us),
                                std::to_string(static_cast<int64_t>(r.session_id))};
    const std::string_view fields[] = {r.gateway_id, nums[0],    nums[1],  r.type, nums[2],
                                       r.subject,    r.decision, r.record, r.prev, r.hash};
    for (size_t i = 0; i < std::size(fields); ++i) {
      if (i != 0) buf.push_back('\t');
      appendCopyField(buf, fields[i]);
    }
    buf.push_back('\n');
  }
  if (PQputCopyData(conn_, buf.data(), static_cast<int>(buf.size())) != 1 ||
      PQputCopyEnd(conn_, nullptr) != 1) {
    return abort(error("COPY failed"));
  }
  {
    ResultGuard g{PQgetResult(conn_)};
    if (PQresultStatus(g.r) != PGRES_COMMAND_OK) return abort(error("COPY failed", g.r));
    while (PGresult* extra = PQgetResult(conn_)) PQclear(extra);
  }
  for (const StoredRecord& r : batch) {
    if (r.prune_through == 0) continue;
    const std::string k = std::to_string(r.prune_through);
    const std::string sql = fmt::format(
        "WITH k AS (SELECT hash FROM {0} WHERE gateway_id = $1 AND seq = $2), "
        "del AS (DELETE FROM {0} WHERE gateway_id = $1 AND seq <= $2 AND EXISTS (SELECT 1 FROM k)) "
        "INSERT INTO {1} SELECT $1, $2, hash, $3 FROM k "
        "ON CONFLICT (gateway_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, "
        "time_us = excluded.time_us",
        table_, anchor_table_);
    if (auto st = exec(sql, {r.gateway_id, k, now}); !st) return abort(st.takeError());
  }
  if (auto st = exec("COMMIT", {}); !st) return abort(st.takeError());
  return {};
}

Result<std::vector<StoredRecord>> PostgresSink::readAfter(const std::string& gateway_id,
                                                          uint64_t seq, size_t limit) {
  if (auto st = connect(); !st) return st.takeError();
  const std::string sql =
      fmt::format("SELECT {} FROM {} WHERE gateway_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                  kColumns, table_);
  auto r =
      run(sql.c_str(), {gateway_id, std::to_string(seq), std::to_string(limit)}, PGRES_TUPLES_OK);
  if (!r) return r.takeError();
  ResultGuard g{*r};
  std::vector<StoredRecord> out;
  for (int i = 0; i < PQntuples(g.r); ++i) out.push_back(readRow(g.r, i));
  return out;
}

Result<std::optional<ChainAnchor>> PostgresSink::pruneCandidate(const std::string& gateway_id,
                                                                int64_t cutoff_us,
                                                                uint64_t max_records) {
  if (auto st = connect(); !st) return st.takeError();
  const std::string sql = fmt::format(
      "SELECT min(seq), max(seq), min(seq) FILTER (WHERE time_us >= $2) FROM {} "
      "WHERE gateway_id = $1",
      table_);
  auto r = run(sql.c_str(), {gateway_id, std::to_string(cutoff_us)}, PGRES_TUPLES_OK);
  if (!r) return r.takeError();
  ResultGuard g{*r};
  if (PQgetisnull(g.r, 0, 0)) return std::optional<ChainAnchor>();
  const uint64_t lo = std::stoull(PQgetvalue(g.r, 0, 0));
  uint64_t k = std::stoull(PQgetvalue(g.r, 0, 1)) - 1;  // keep the head
  if (!PQgetisnull(g.r, 0, 2)) {
    k = std::min<uint64_t>(k, std::stoull(PQgetvalue(g.r, 0, 2)) - 1);
  }
  k = std::min(k, lo - 1 + max_records);
  if (k < lo) return std::optional<ChainAnchor>();
  auto rows = readAfter(gateway_id, k - 1, 1);
  if (!rows) return rows.takeError();
  if (rows->empty() || rows->front().seq != k) return std::optional<ChainAnchor>();
  return std::optional<ChainAnchor>(ChainAnchor{k, rows->front().hash});
}

}  // namespace pgw::audit
