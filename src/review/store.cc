#include "review/store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace pgw::review {
namespace {

using nlohmann::json;

constexpr const char* kSchema[] = {
    "CREATE TABLE IF NOT EXISTS reviews (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
    "created_us INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS access_requests (id TEXT PRIMARY KEY, state TEXT NOT NULL, "
    "created_us INTEGER NOT NULL, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS connections (name TEXT PRIMARY KEY, spec TEXT NOT NULL, "
    "sealed TEXT NOT NULL, updated_us INTEGER NOT NULL)",
};

Error sqliteError(sqlite3* db, const std::string& what) {
  return fail("58030", "state store: " + what + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

/// A prepared statement, finalized on scope exit.
struct Stmt {
  sqlite3_stmt* s = nullptr;
  ~Stmt() { sqlite3_finalize(s); }
};

json person(const Person& p) {
  return json{{"id", p.id},
              {"display_name", p.display_name},
              {"groups", p.groups},
              {"issuer", p.issuer},
              {"method", p.method}};
}

Person personFrom(const json& j) {
  Person p;
  p.id = j.at("id").get<std::string>();
  p.display_name = j.value("display_name", "");
  p.groups = j.value("groups", std::vector<std::string>{});
  p.issuer = j.value("issuer", "");
  p.method = j.value("method", "");
  return p;
}

json votes(const std::vector<Vote>& vs) {
  json out = json::array();
  for (const Vote& v : vs) {
    out.push_back(json{
        {"by", person(v.by)}, {"approve", v.approve}, {"comment", v.comment}, {"at", v.at_us}});
  }
  return out;
}

std::vector<Vote> votesFrom(const json& j) {
  std::vector<Vote> out;
  for (const json& v : j) {
    out.push_back(Vote{personFrom(v.at("by")), v.at("approve").get<bool>(), v.value("comment", ""),
                       v.value("at", int64_t{0})});
  }
  return out;
}

State stateFrom(const json& j) {
  auto s = parseState(j.get<std::string>());
  if (!s) throw std::runtime_error("unknown state");
  return *s;
}

}  // namespace

std::string encode(const Review& r) {
  json params = json::array();
  for (const auto& p : r.parameters) params.push_back(p ? json(*p) : json(nullptr));
  json j{{"id", r.id},
         {"state", stateName(r.state)},
         {"mode", r.mode == config::ApprovalMode::Retry ? "retry" : "wait"},
         {"subject", person(r.subject)},
         {"connection", r.connection},
         {"policy", r.policy},
         {"rule", r.rule},
         {"reason", r.reason},
         {"statement", r.statement},
         {"normalized", r.normalized},
         {"fingerprint", r.fingerprint},
         {"kind", r.kind},
         {"tables", r.tables},
         {"parameters", params},
         {"estimated_rows", r.estimated_rows ? json(*r.estimated_rows) : json(nullptr)},
         {"estimated_cost", r.estimated_cost ? json(*r.estimated_cost) : json(nullptr)},
         {"recent", r.recent_statements},
         {"session_id", r.session_id},
         {"client_address", r.client_address},
         {"approver_groups", r.approver_groups},
         {"min_approvals", r.min_approvals},
         {"votes", votes(r.votes)},
         {"created_us", r.created_us},
         {"expires_us", r.expires_us},
         {"decided_us", r.decided_us},
         {"run_by_us", r.run_by_us},
         {"consumed_us", r.consumed_us},
         {"retry_key", r.retry_key},
         {"retry_ttl_us", r.retry_ttl_us},
         {"outcome", r.outcome_message}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string encode(const AccessRequest& a) {
  json j{{"id", a.id},
         {"state", stateName(a.state)},
         {"subject", person(a.subject)},
         {"connection", a.connection},
         {"level", static_cast<int>(a.level)},
         {"duration_us", a.duration_us},
         {"reason", a.reason},
         {"policy", a.policy},
         {"approver_groups", a.approver_groups},
         {"min_approvals", a.min_approvals},
         {"votes", votes(a.votes)},
         {"created_us", a.created_us},
         {"expires_us", a.expires_us},
         {"starts_us", a.starts_us},
         {"ends_us", a.ends_us},
         {"decided_us", a.decided_us},
         {"outcome", a.outcome_message}};
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Review> decodeReview(const std::string& body) {
  try {
    const json j = json::parse(body);
    Review r;
    r.id = j.at("id").get<std::string>();
    r.state = stateFrom(j.at("state"));
    r.mode = j.at("mode") == "retry" ? config::ApprovalMode::Retry : config::ApprovalMode::Wait;
    r.subject = personFrom(j.at("subject"));
    r.connection = j.at("connection").get<std::string>();
    r.policy = j.value("policy", "");
    r.rule = j.value("rule", "");
    r.reason = j.value("reason", "");
    r.statement = j.at("statement").get<std::string>();
    r.normalized = j.value("normalized", "");
    r.fingerprint = j.value("fingerprint", "");
    r.kind = j.value("kind", "");
    r.tables = j.value("tables", std::vector<std::string>{});
    for (const json& p : j.at("parameters")) {
      r.parameters.push_back(p.is_null() ? std::nullopt
                                         : std::optional<std::string>(p.get<std::string>()));
    }
    if (!j.at("estimated_rows").is_null()) r.estimated_rows = j.at("estimated_rows").get<double>();
    if (!j.at("estimated_cost").is_null()) r.estimated_cost = j.at("estimated_cost").get<double>();
    r.recent_statements = j.value("recent", std::vector<std::string>{});
    r.session_id = j.value("session_id", uint64_t{0});
    r.client_address = j.value("client_address", "");
    r.approver_groups = j.value("approver_groups", std::vector<std::string>{});
    r.min_approvals = j.value("min_approvals", 1);
    r.votes = votesFrom(j.at("votes"));
    r.created_us = j.value("created_us", int64_t{0});
    r.expires_us = j.value("expires_us", int64_t{0});
    r.decided_us = j.value("decided_us", int64_t{0});
    r.run_by_us = j.value("run_by_us", int64_t{0});
    r.consumed_us = j.value("consumed_us", int64_t{0});
    r.retry_key = j.value("retry_key", "");
    r.retry_ttl_us = j.value("retry_ttl_us", int64_t{0});
    r.outcome_message = j.value("outcome", "");
    return r;
  } catch (const std::exception& e) {
    return fail("58030", std::string("state store: a review record does not decode: ") + e.what());
  }
}

Result<AccessRequest> decodeAccessRequest(const std::string& body) {
  try {
    const json j = json::parse(body);
    AccessRequest a;
    a.id = j.at("id").get<std::string>();
    a.state = stateFrom(j.at("state"));
    a.subject = personFrom(j.at("subject"));
    a.connection = j.at("connection").get<std::string>();
    const int level = j.at("level").get<int>();
    if (level < 0 || level > static_cast<int>(config::AccessLevel::Admin)) {
      throw std::runtime_error("bad level");
    }
    a.level = static_cast<config::AccessLevel>(level);
    a.duration_us = j.value("duration_us", int64_t{0});
    a.reason = j.value("reason", "");
    a.policy = j.value("policy", "");
    a.approver_groups = j.value("approver_groups", std::vector<std::string>{});
    a.min_approvals = j.value("min_approvals", 1);
    a.votes = votesFrom(j.at("votes"));
    a.created_us = j.value("created_us", int64_t{0});
    a.expires_us = j.value("expires_us", int64_t{0});
    a.starts_us = j.value("starts_us", int64_t{0});
    a.ends_us = j.value("ends_us", int64_t{0});
    a.decided_us = j.value("decided_us", int64_t{0});
    a.outcome_message = j.value("outcome", "");
    return a;
  } catch (const std::exception& e) {
    return fail("58030",
                std::string("state store: an access request record does not decode: ") + e.what());
  }
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  if (path != ":memory:") {
    // Reviews hold statements and parameters: readable by the gateway's
    // user only. SQLite gives its -wal and -shm files the same mode.
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return fail("58030", "cannot open " + path + ": " + std::strerror(errno));
    }
    ::close(fd);
  }
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Error e = sqliteError(db, "cannot open " + path);
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<Store> store(new Store(db));
  store->path_ = path;
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL"}) {
    if (auto st = store->exec(pragma); !st) return st.takeError();
  }
  for (const char* ddl : kSchema) {
    if (auto st = store->exec(ddl); !st) return st.takeError();
  }
  return store;
}

Store::~Store() {
  sqlite3_close(db_);
}

Status Store::exec(const char* sql) {
  char* msg = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
    std::string why = msg != nullptr ? msg : "unknown error";
    sqlite3_free(msg);
    return fail("58030", "state store " + path_ + ": " + why);
  }
  return {};
}

Status Store::upsert(const char* table, const std::string& id, std::string_view state,
                     int64_t created_us, const std::string& body) {
  const std::string sql = std::string("INSERT INTO ") + table +
                          " (id, state, created_us, body) VALUES (?1, ?2, ?3, ?4) "
                          "ON CONFLICT(id) DO UPDATE SET state = ?2, body = ?4";
  Stmt st;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) {
    return sqliteError(db_, "prepare");
  }
  sqlite3_bind_text(st.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, state.data(), static_cast<int>(state.size()), SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 3, created_us);
  sqlite3_bind_text(st.s, 4, body.data(), static_cast<int>(body.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return sqliteError(db_, "write " + id);
  return {};
}

Result<std::vector<std::string>> Store::bodies(const char* table) {
  const std::string sql = std::string("SELECT body FROM ") + table + " ORDER BY created_us, id";
  Stmt st;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st.s, nullptr) != SQLITE_OK) {
    return sqliteError(db_, "prepare");
  }
  std::vector<std::string> out;
  int rc;
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st.s, 0));
    out.emplace_back(text != nullptr ? text : "");
  }
  if (rc != SQLITE_DONE) return sqliteError(db_, std::string("read ") + table);
  return out;
}

Status Store::put(const Review& review) {
  return upsert("reviews", review.id, stateName(review.state), review.created_us, encode(review));
}

Status Store::put(const AccessRequest& request) {
  return upsert("access_requests", request.id, stateName(request.state), request.created_us,
                encode(request));
}

Result<std::vector<Review>> Store::reviews() {
  auto rows = bodies("reviews");
  if (!rows) return rows.takeError();
  std::vector<Review> out;
  for (const std::string& body : *rows) {
    auto r = decodeReview(body);
    if (!r) return r.takeError();
    out.push_back(std::move(*r));
  }
  return out;
}

Result<std::vector<AccessRequest>> Store::accessRequests() {
  auto rows = bodies("access_requests");
  if (!rows) return rows.takeError();
  std::vector<AccessRequest> out;
  for (const std::string& body : *rows) {
    auto a = decodeAccessRequest(body);
    if (!a) return a.takeError();
    out.push_back(std::move(*a));
  }
  return out;
}

Status Store::erase(const std::vector<std::string>& review_ids,
                    const std::vector<std::string>& access_ids) {
  if (review_ids.empty() && access_ids.empty()) return {};
  if (auto st = exec("BEGIN IMMEDIATE"); !st) return st;
  auto eraseFrom = [&](const char* sql, const std::vector<std::string>& ids) -> Status {
    Stmt st;
    if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) {
      return sqliteError(db_, "prepare");
    }
    for (const std::string& id : ids) {
      sqlite3_reset(st.s);
      sqlite3_bind_text(st.s, 1, id.data(), static_cast<int>(id.size()), SQLITE_TRANSIENT);
      if (sqlite3_step(st.s) != SQLITE_DONE) return sqliteError(db_, "delete " + id);
    }
    return {};
  };
  Status done = eraseFrom("DELETE FROM reviews WHERE id = ?1", review_ids);
  if (done) done = eraseFrom("DELETE FROM access_requests WHERE id = ?1", access_ids);
  if (!done) {
    exec("ROLLBACK");
    return done;
  }
  return exec("COMMIT");
}

Status Store::putConnection(const StoredConnection& row) {
  Stmt st;
  const char* sql =
      "INSERT INTO connections (name, spec, sealed, updated_us) VALUES (?1, ?2, ?3, ?4) "
      "ON CONFLICT(name) DO UPDATE SET spec = ?2, sealed = ?3, updated_us = ?4";
  if (sqlite3_prepare_v2(db_, sql, -1, &st.s, nullptr) != SQLITE_OK) {
    return sqliteError(db_, "prepare");
  }
  sqlite3_bind_text(st.s, 1, row.name.data(), static_cast<int>(row.name.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 2, row.spec.data(), static_cast<int>(row.spec.size()), SQLITE_TRANSIENT);
  sqlite3_bind_text(st.s, 3, row.sealed.data(), static_cast<int>(row.sealed.size()),
                    SQLITE_TRANSIENT);
  sqlite3_bind_int64(st.s, 4, row.updated_us);
  if (sqlite3_step(st.s) != SQLITE_DONE) return sqliteError(db_, "write connection " + row.name);
  return {};
}

Status Store::deleteConnection(const std::string& name) {
  Stmt st;
  if (sqlite3_prepare_v2(db_, "DELETE FROM connections WHERE name = ?1", -1, &st.s, nullptr) !=
      SQLITE_OK) {
    return sqliteError(db_, "prepare");
  }
  sqlite3_bind_text(st.s, 1, name.data(), static_cast<int>(name.size()), SQLITE_TRANSIENT);
  if (sqlite3_step(st.s) != SQLITE_DONE) return sqliteError(db_, "delete connection " + name);
  return {};
}

Result<std::vector<StoredConnection>> Store::connections() {
  Stmt st;
  if (sqlite3_prepare_v2(db_,
                         "SELECT name, spec, sealed, updated_us FROM connections ORDER BY name", -1,
                         &st.s, nullptr) != SQLITE_OK) {
    return sqliteError(db_, "prepare");
  }
  std::vector<StoredConnection> out;
  int rc;
  auto text = [&](int col) {
    const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st.s, col));
    return std::string(t != nullptr ? t : "");
  };
  while ((rc = sqlite3_step(st.s)) == SQLITE_ROW) {
    out.push_back(StoredConnection{text(0), text(1), text(2), sqlite3_column_int64(st.s, 3)});
  }
  if (rc != SQLITE_DONE) return sqliteError(db_, "read connections");
  return out;
}

}  // namespace pgw::review
