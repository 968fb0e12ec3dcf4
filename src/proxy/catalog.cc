#include "proxy/catalog.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "protocol/messages.h"
#include "protocol/sqlstate.h"

namespace pgw::proxy {

std::atomic<uint64_t> CatalogCache::epoch_{0};

const CatalogColumn* CatalogRelation::column(int16_t attnum) const {
  for (const auto& c : columns) {
    if (c.attnum == attnum) return &c;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------
// CatalogCache
// ---------------------------------------------------------------------------

void CatalogCache::checkEpoch() {
  const uint64_t now = epoch_.load(std::memory_order_relaxed);
  if (now == seen_epoch_) return;
  seen_epoch_ = now;
  ++generation_;
  names_.clear();
  oids_.clear();
  functions_.clear();
}

RelationPtr CatalogCache::byOid(uint32_t oid) {
  auto it = oids_.find(oid);
  if (it == oids_.end() || !fresh(it->second.at)) return nullptr;
  return it->second.value;
}

std::optional<std::vector<RelationPtr>> CatalogCache::byName(const std::string& schema,
                                                             const std::string& name) {
  auto it = names_.find(name);
  if (it == names_.end() || !fresh(it->second.at)) return std::nullopt;
  if (schema.empty()) return it->second.value;
  std::vector<RelationPtr> in_schema;
  for (const auto& r : it->second.value) {
    if (r->schema == schema) in_schema.push_back(r);
  }
  return in_schema;
}

std::optional<bool> CatalogCache::userFunction(const std::string& name) {
  auto it = functions_.find(name);
  if (it == functions_.end() || !fresh(it->second.at)) return std::nullopt;
  return it->second.value;
}

void CatalogCache::putName(const std::string& name, std::vector<RelationPtr> relations) {
  names_[name] = {std::move(relations), Clock::now()};
}

void CatalogCache::putOid(uint32_t oid, RelationPtr relation) {
  oids_[oid] = {std::move(relation), Clock::now()};
}

void CatalogCache::putFunction(const std::string& name, bool user_defined) {
  functions_[name] = {user_defined, Clock::now()};
}

// ---------------------------------------------------------------------------
// MetadataConnection
// ---------------------------------------------------------------------------

std::string arrayLiteral(const std::vector<std::string>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i]) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

awaitable<Result<MetaRows>> MetadataConnection::query(const UpstreamTarget& target,
                                                      const std::string& sql,
                                                      const std::vector<std::string>& params,
                                                      std::chrono::milliseconds timeout) {
  co_return co_await query(target, sql, MetaParams(params.begin(), params.end()), timeout);
}

awaitable<Result<MetaRows>> MetadataConnection::query(const UpstreamTarget& target,
                                                      const std::string& sql,
                                                      const MetaParams& params,
                                                      std::chrono::milliseconds timeout) {
  // One query at a time on the connection; later callers queue up.
  while (busy_) {
    auto waiter = std::make_shared<asio::steady_timer>(ex_, asio::steady_timer::time_point::max());
    waiters_.push_back(waiter);
    co_await waiter->async_wait(nothrow);
  }
  busy_ = true;
  struct Release {
    MetadataConnection& self;
    ~Release() {
      self.busy_ = false;
      if (!self.waiters_.empty()) {
        self.waiters_.front()->cancel();
        self.waiters_.pop_front();
      }
    }
  } release{*this};

  asio::steady_timer timer(ex_);
  bool timed_out = false;
  timer.expires_after(timeout);
  timer.async_wait([this, &timed_out](error_code ec) {
    if (ec) return;
    timed_out = true;
    if (upstream_) upstream_->stream().cancel();
  });
  auto rows = co_await run(target, sql, params);
  timer.cancel();
  if (!rows) {
    upstream_.reset();  // reopened by the next query
    if (timed_out) {
      co_return fail(sqlstate::kConnectionFailure,
                     "catalog lookup on connection \"" + target.connection->name +
                         "\" timed out after " + std::to_string(timeout.count()) + " ms");
    }
  }
  co_return rows;
}

awaitable<Result<MetaRows>> MetadataConnection::run(const UpstreamTarget& target,
                                                    const std::string& sql,
                                                    const MetaParams& params) {
  if (!upstream_) {
    auto up = std::make_unique<Upstream>(ex_);
    auto greeting = co_await up->open(target);
    if (!greeting) co_return greeting.takeError();
    upstream_ = std::move(up);
  }
  std::string request;
  protocol::encodeParse(request, "", sql, {});
  std::vector<std::optional<std::string_view>> values;
  values.reserve(params.size());
  for (const auto& p : params) {
    values.push_back(p ? std::optional<std::string_view>(*p) : std::nullopt);
  }
  protocol::encodeBind(request, "", "", {}, values, {});
  protocol::encodeExecute(request, "", 0);
  protocol::encodeSync(request);
  co_return co_await exchange(request);
}

awaitable<Result<MetaRows>> MetadataConnection::exchange(const std::string& request) {
  Stream& stream = upstream_->stream();
  if (auto ec = co_await stream.writeAll(asio::buffer(request))) {
    co_return fail(sqlstate::kConnectionFailure, "catalog lookup: " + ec.message());
  }
  ReadBuffer& buf = upstream_->buffer();
  MetaRows rows;
  std::optional<Error> error;
  for (;;) {
    auto fr = protocol::frameMessage(buf.readable(), 64u << 20);
    if (fr.status == protocol::FrameStatus::Invalid) {
      co_return fail(sqlstate::kProtocolViolation, "catalog lookup: " + fr.error.message);
    }
    if (fr.status == protocol::FrameStatus::NeedMore) {
      buf.reserve(std::max(fr.needed, buf.size() + 4096));
      auto [ec, n] =
          co_await stream.readSome(asio::buffer(buf.writable().data(), buf.writable().size()));
      if (ec || n == 0) {
        co_return fail(sqlstate::kConnectionFailure,
                       "catalog lookup: the metadata connection was lost");
      }
      buf.commit(n);
      continue;
    }
    auto msg = protocol::decodeBackend(fr.frame);
    buf.consume(fr.frame.size);
    if (!msg) co_return msg.takeError();
    if (auto* d = std::get_if<protocol::DataRow>(&*msg)) {
      auto& row = rows.emplace_back();
      for (auto v : d->columns) {
        if (v) {
          row.emplace_back(std::string(reinterpret_cast<const char*>(v->data()), v->size()));
        } else {
          row.emplace_back(std::nullopt);
        }
      }
    } else if (auto* e = std::get_if<protocol::ErrorResponse>(&*msg)) {
      error = fail(std::string(e->fields.sqlstate()),
                   "catalog lookup failed: " + std::string(e->fields.message()));
    } else if (std::holds_alternative<protocol::ReadyForQuery>(*msg)) {
      break;
    }
  }
  if (error) co_return std::move(*error);
  co_return rows;
}

// ---------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------

namespace {

// One row per (relation, column); relations without columns come once with
// NULL column fields.
constexpr const char* kRelationSql =
    "SELECT c.oid, n.nspname, c.relname, c.relkind, "
    "CASE WHEN c.relkind IN ('v', 'm') THEN pg_catalog.pg_get_viewdef(c.oid) END, "
    "a.attnum, a.attname, a.atttypid, a.atttypmod "
    "FROM pg_catalog.pg_class c "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_attribute a "
    "ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped "
    "WHERE c.relname = ANY($1::text[]) OR c.oid = ANY($2::oid[]) "
    "ORDER BY c.oid, a.attnum";

constexpr const char* kFunctionSql =
    "SELECT DISTINCT p.proname FROM pg_catalog.pg_proc p "
    "JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.proname = ANY($1::text[]) AND n.nspname <> 'pg_catalog'";

template <class T>
T number(const std::optional<std::string>& s) {
  T v{};
  if (s) std::from_chars(s->data(), s->data() + s->size(), v);
  return v;
}

std::vector<std::shared_ptr<CatalogRelation>> relationsFrom(const MetaRows& rows) {
  std::vector<std::shared_ptr<CatalogRelation>> out;
  for (const auto& row : rows) {
    if (row.size() != 9 || !row[0]) continue;
    const auto oid = number<uint32_t>(row[0]);
    if (out.empty() || out.back()->oid != oid) {
      auto r = std::make_shared<CatalogRelation>();
      r->oid = oid;
      r->schema = row[1].value_or("");
      r->name = row[2].value_or("");
      r->relkind = row[3] && !row[3]->empty() ? (*row[3])[0] : 'r';
      r->view_definition = row[4].value_or("");
      out.push_back(std::move(r));
    }
    if (row[5]) {
      out.back()->columns.push_back({number<int16_t>(row[5]), row[6].value_or(""),
                                     number<uint32_t>(row[7]), number<int32_t>(row[8])});
    }
  }
  return out;
}

}  // namespace

CatalogCache& Catalog::cache(const std::string& connection, std::chrono::milliseconds ttl) {
  auto& c = caches_[connection];
  if (!c) c = std::make_unique<CatalogCache>(ttl);
  c->checkEpoch();
  return *c;
}

awaitable<Result<Catalog::Estimate>> Catalog::explain(UpstreamTarget target, const std::string& sql,
                                                      const MetaParams& params) {
  auto& conn = connections_[target.connection->name + '\0' + target.credential_name + "\0explain"];
  if (!conn) conn = std::make_unique<MetadataConnection>(ex_);
  target.params.emplace_back("default_transaction_read_only", "on");
  target.params.emplace_back("application_name", "pgwarden explain");
  auto rows = co_await conn->query(target, "EXPLAIN (FORMAT JSON) " + sql, params,
                                   std::chrono::milliseconds(5000));
  if (!rows) co_return rows.takeError();
  if (rows->empty() || rows->front().empty() || !rows->front().front()) {
    co_return fail("XX000", "EXPLAIN returned no plan");
  }
  try {
    const auto plan = nlohmann::json::parse(*rows->front().front()).at(0).at("Plan");
    // INSERT, UPDATE, DELETE and MERGE plan as a ModifyTable node that
    // returns no rows without RETURNING: the rows it would change are its
    // input's.
    const auto& counted = plan.at("Node Type") == "ModifyTable" && plan.contains("Plans")
                              ? plan.at("Plans").at(0)
                              : plan;
    co_return Estimate{counted.at("Plan Rows").get<double>(), plan.at("Total Cost").get<double>()};
  } catch (const std::exception& e) {
    co_return fail("XX000", std::string("EXPLAIN's plan does not read: ") + e.what());
  }
}

awaitable<Status> Catalog::fetch(const UpstreamTarget& target, std::chrono::milliseconds ttl,
                                 const std::vector<sql::RelationRef>& relations,
                                 const std::vector<uint32_t>& oids,
                                 const std::vector<std::string>& functions) {
  const std::string& conn_name = target.connection->name;
  CatalogCache& c = cache(conn_name, ttl);
  std::set<std::string> names;
  for (const auto& r : relations) {
    if (!c.byName(r.schema, r.name)) names.insert(r.name);
  }
  std::set<uint32_t> want_oids;
  for (uint32_t oid : oids) {
    if (oid != 0 && !c.byOid(oid)) want_oids.insert(oid);
  }
  std::set<std::string> want_functions;
  for (const auto& f : functions) {
    if (!c.userFunction(f)) want_functions.insert(f);
  }
  if (names.empty() && want_oids.empty() && want_functions.empty()) co_return Status{};

  auto& conn = connections_[conn_name + '\0' + target.credential_name];
  if (!conn) conn = std::make_unique<MetadataConnection>(ex_);
  const auto timeout = std::chrono::milliseconds(5000);
  if (!names.empty() || !want_oids.empty()) {
    std::vector<std::string> oid_text;
    for (uint32_t oid : want_oids) oid_text.push_back(std::to_string(oid));
    const std::string sql = kRelationSql;
    std::vector<std::string> params;
    params.push_back(arrayLiteral(std::vector<std::string>(names.begin(), names.end())));
    params.push_back(arrayLiteral(oid_text));
    auto rows = co_await conn->query(target, sql, params, timeout);
    if (!rows) co_return rows.takeError();
    // The same worker's cache may have been cleared by DDL meanwhile: fill
    // the current one.
    CatalogCache& now = cache(conn_name, ttl);
    std::map<std::string, std::vector<RelationPtr>> by_name;
    for (const auto& n : names) by_name[n];
    for (auto& r : relationsFrom(*rows)) {
      RelationPtr shared = r;
      now.putOid(r->oid, shared);
      want_oids.erase(r->oid);
      if (auto it = by_name.find(r->name); it != by_name.end()) it->second.push_back(shared);
    }
    for (auto& [n, list] : by_name) now.putName(n, std::move(list));
    for (uint32_t oid : want_oids) now.putOid(oid, nullptr);
  }
  if (!want_functions.empty()) {
    const std::string sql = kFunctionSql;
    std::vector<std::string> params;
    params.push_back(
        arrayLiteral(std::vector<std::string>(want_functions.begin(), want_functions.end())));
    auto rows = co_await conn->query(target, sql, params, timeout);
    if (!rows) co_return rows.takeError();
    CatalogCache& now = cache(conn_name, ttl);
    std::set<std::string> user;
    for (const auto& row : *rows) {
      if (!row.empty() && row[0]) user.insert(*row[0]);
    }
    for (const auto& f : want_functions) now.putFunction(f, user.contains(f));
  }
  co_return Status{};
}

}  // namespace pgw::proxy
