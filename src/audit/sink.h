#pragma once
/// A destination of the audit trail. The writer thread owns every sink and
/// calls it from that thread only; sinks need no locking. A sink's `write`
/// is all-or-nothing and durable when it returns ok: that is what
/// "a batch acknowledged" means (docs/audit.md, "Guarantees").

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "audit/chain.h"
#include "common/result.h"

namespace pgw::audit {

/// Where a sink's copy of a gateway's chain ends.
struct ChainHead {
  uint64_t seq = 0;  ///< last record stored (or the anchor's seq with no records)
  std::string hash = kGenesisHash;
  bool empty = true;  ///< no record and no anchor of this gateway
};

class Sink {
 public:
  virtual ~Sink() = default;

  /// "sqlite:/var/lib/pgwarden/audit.db", "postgres:host=db dbname=audit" —
  /// for logs and errors; never holds a password.
  virtual const std::string& describe() const = 0;

  virtual Result<ChainHead> head(const std::string& gateway_id) = 0;

  /// Stores `batch` (consecutive records of one gateway) durably, or
  /// nothing. When the sink holds no record of the gateway and the batch
  /// does not start at 1, it records an anchor at the batch's link (the
  /// writer puts the attesting anchor record first in such a batch).
  virtual Status write(std::span<const StoredRecord> batch) = 0;

  /// Up to `limit` records of `gateway_id` after `seq`, ascending: how a
  /// sink that fell behind (a crash between two sinks' writes) is caught up
  /// from one that did not.
  virtual Result<std::vector<StoredRecord>> readAfter(const std::string& gateway_id, uint64_t seq,
                                                      size_t limit) = 0;

  /// Retention: the last record K such that K and every record before it
  /// started before `cutoff_us`, at most `max_records` past the current
  /// start; nullopt when there is nothing to prune or the sink never prunes
  /// (JSON Lines files are rotated by size instead).
  virtual Result<std::optional<ChainAnchor>> pruneCandidate(const std::string& gateway_id,
                                                            int64_t cutoff_us,
                                                            uint64_t max_records) {
    (void)gateway_id, (void)cutoff_us, (void)max_records;
    return std::optional<ChainAnchor>();
  }
};

}  // namespace pgw::audit
