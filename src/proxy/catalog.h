#pragma once
/// What masking needs from the database's catalog: which relation a result
/// column comes from (RowDescription's table OID and attribute number), the
/// columns of relations a statement names, view definitions, and whether a
/// function name has a definition outside pg_catalog (a user function can
/// read any table, so its result cannot be traced).
///
/// Looked up on the gateway's own metadata connection (one per worker,
/// connection and credential, opened on first use, with the credential the
/// gateway holds) and cached per worker. Entries expire after
/// `masking.catalog_ttl`, and every cache is cleared when a DDL statement
/// passes through any session (CatalogCache::invalidateAll), so a renamed or
/// re-created table is looked up again.
///
/// Queries use the extended protocol with parameters: names taken from client
/// SQL never become SQL text.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "proxy/asio.h"
#include "proxy/upstream.h"
#include "sql/statement_info.h"

namespace pgw::proxy {

struct CatalogColumn {
  int16_t attnum = 0;
  std::string name;
  uint32_t type_oid = 0;
  int32_t typmod = -1;
};

struct CatalogRelation {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  char relkind = 'r';                  ///< pg_class.relkind: r, p, v, m, f, ...
  std::string view_definition;         ///< views and materialized views: pg_get_viewdef
  std::vector<CatalogColumn> columns;  ///< attnum order, dropped columns left out

  bool isView() const { return relkind == 'v' || relkind == 'm'; }
  const CatalogColumn* column(int16_t attnum) const;
};
using RelationPtr = std::shared_ptr<const CatalogRelation>;

/// One worker's cache for one upstream connection. Not thread-safe: used on
/// its worker's thread only.
class CatalogCache {
 public:
  explicit CatalogCache(std::chrono::milliseconds ttl) : ttl_(ttl) {}

  /// nullptr: not cached (or expired).
  RelationPtr byOid(uint32_t oid);
  /// Every relation called `name`; in `schema` only when it is not empty.
  /// nullopt: not cached; an empty vector: known not to exist.
  std::optional<std::vector<RelationPtr>> byName(const std::string& schema,
                                                 const std::string& name);
  /// Whether a function of this (lower-case) name exists outside pg_catalog.
  std::optional<bool> userFunction(const std::string& name);

  void putName(const std::string& name, std::vector<RelationPtr> relations);
  void putOid(uint32_t oid, RelationPtr relation);  ///< relation may be null: no such OID
  void putFunction(const std::string& name, bool user_defined);

  /// Clears the cache when any session saw DDL since it was filled.
  void checkEpoch();
  /// Bumped each time the cache is cleared (plans built on it are stale).
  uint64_t generation() const { return generation_; }
  /// DDL passed through a session (any worker): every cache starts over.
  static void invalidateAll() { epoch_.fetch_add(1, std::memory_order_relaxed); }

 private:
  using Clock = std::chrono::steady_clock;
  template <class T>
  struct Entry {
    T value;
    Clock::time_point at;
  };
  bool fresh(Clock::time_point at) const { return Clock::now() - at < ttl_; }

  std::chrono::milliseconds ttl_;
  uint64_t seen_epoch_ = 0;
  uint64_t generation_ = 0;
  std::unordered_map<std::string, Entry<std::vector<RelationPtr>>> names_;
  std::unordered_map<uint32_t, Entry<RelationPtr>> oids_;
  std::unordered_map<std::string, Entry<bool>> functions_;
  static std::atomic<uint64_t> epoch_;
};

/// The rows of a metadata query, in text format (nullopt = NULL).
using MetaRows = std::vector<std::vector<std::optional<std::string>>>;
/// Text parameters of a metadata query (nullopt = NULL).
using MetaParams = std::vector<std::optional<std::string>>;

/// One metadata connection: serial use (one query at a time; others wait
/// their turn without blocking the loop), reopened after a failure.
class MetadataConnection {
 public:
  explicit MetadataConnection(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  /// Runs `sql` with text parameters. `target` opens the connection when
  /// it is not open. Bounded by `timeout`; errors carry a SQLSTATE.
  awaitable<Result<MetaRows>> query(const UpstreamTarget& target, const std::string& sql,
                                    const std::vector<std::string>& params,
                                    std::chrono::milliseconds timeout);
  awaitable<Result<MetaRows>> query(const UpstreamTarget& target, const std::string& sql,
                                    const MetaParams& params, std::chrono::milliseconds timeout);

 private:
  awaitable<Result<MetaRows>> run(const UpstreamTarget& target, const std::string& sql,
                                  const MetaParams& params);
  awaitable<Result<MetaRows>> exchange(const std::string& request);

  asio::any_io_executor ex_;
  std::unique_ptr<Upstream> upstream_;
  bool busy_ = false;
  std::deque<std::shared_ptr<asio::steady_timer>> waiters_;
};

/// A worker's catalog: caches and metadata connections by upstream
/// connection (and credential).
class Catalog {
 public:
  explicit Catalog(asio::any_io_executor ex) : ex_(std::move(ex)) {}

  CatalogCache& cache(const std::string& connection, std::chrono::milliseconds ttl);

  /// Looks up whatever of `relations` (by name), `oids` and `functions` the
  /// cache of `target.connection` does not hold, in one query each.
  awaitable<Status> fetch(const UpstreamTarget& target, std::chrono::milliseconds ttl,
                          const std::vector<sql::RelationRef>& relations,
                          const std::vector<uint32_t>& oids,
                          const std::vector<std::string>& functions);

  /// The planner's estimate for `sql` with text `params`: EXPLAIN (FORMAT
  /// JSON), without ANALYZE, on a metadata connection of its own opened
  /// read-only (default_transaction_read_only), so nothing the planner
  /// evaluates can write.
  struct Estimate {
    /// Rows returned; for INSERT, UPDATE, DELETE and MERGE, rows changed.
    double rows = 0;
    double cost = 0;
  };
  awaitable<Result<Estimate>> explain(UpstreamTarget target, const std::string& sql,
                                      const MetaParams& params);

 private:
  asio::any_io_executor ex_;
  std::map<std::string, std::unique_ptr<CatalogCache>> caches_;
  std::map<std::string, std::unique_ptr<MetadataConnection>> connections_;
};

/// A PostgreSQL array literal of `items` (text format), for array parameters.
std::string arrayLiteral(const std::vector<std::string>& items);

}  // namespace pgw::proxy
