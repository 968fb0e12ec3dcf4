#pragma once
/// The PostgreSQL sink, for fleets of gateways writing one table: each
/// gateway keeps its own chain (its `gateway_id`) in the same table. A batch
/// is one transaction (COPY into the table), committed with the server's
/// synchronous_commit; the table and its anchor table `<table>_anchor` are
/// created when missing. The connection string may hold a password: it is
/// never logged — describe() names host, port, database and user only.

#include <libpq-fe.h>

#include <memory>
#include <string>

#include "audit/sink.h"

namespace pgw::audit {

class PostgresSink final : public Sink {
 public:
  /// Connects and creates the tables; `password` (may be empty) is passed
  /// apart from the DSN.
  static Result<std::unique_ptr<PostgresSink>> open(const std::string& dsn,
                                                    const std::string& password,
                                                    const std::string& table);
  ~PostgresSink() override;

  const std::string& describe() const override { return describe_; }
  Result<ChainHead> head(const std::string& gateway_id) override;
  Status write(std::span<const StoredRecord> batch) override;
  Result<std::vector<StoredRecord>> readAfter(const std::string& gateway_id, uint64_t seq,
                                              size_t limit) override;
  Result<std::optional<ChainAnchor>> pruneCandidate(const std::string& gateway_id,
                                                    int64_t cutoff_us,
                                                    uint64_t max_records) override;

  /// "postgres:host=db port=5432 dbname=audit user=pgwarden": a DSN with
  /// everything but where it points removed.
  static std::string describeDsn(const std::string& dsn);

 private:
  PostgresSink(std::string dsn, std::string password, std::string table);
  Status connect();
  Status ensureSchema();
  /// Runs a parameterized statement; the result is cleared by the caller.
  Result<PGresult*> run(const char* sql, std::initializer_list<std::string> params,
                        ExecStatusType want);
  Error error(const std::string& what, PGresult* res = nullptr) const;

  std::string dsn_;
  std::string password_;
  std::string table_;
  std::string anchor_table_;
  std::string describe_;
  PGconn* conn_ = nullptr;
};

}  // namespace pgw::audit
