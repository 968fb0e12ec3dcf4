#pragma once
/// The read side of the trail, for `pgwarden audit` and the tests: open a
/// SQLite database or a JSON Lines file (with its rotated siblings), list
/// gateways, verify their chains and query records.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "audit/chain.h"
#include "common/result.h"

namespace pgw::audit {

struct Query {
  std::string gateway_id;              ///< "" = every gateway
  std::optional<int64_t> since_us;     ///< time_us >= since
  std::optional<int64_t> until_us;     ///< time_us < until
  std::string subject;                 ///< exact subject id; "" = any
  std::string decision;                ///< "allow", "deny", "review"; "" = any
  std::optional<uint64_t> session_id;  ///< one session
  uint64_t after_position = 0;         ///< only rows stored after this position
  size_t limit = 0;                    ///< 0 = no limit
  bool newest_first = false;           ///< order by position descending (then `limit`)
};

class Store {
 public:
  /// Read-only: never creates or changes the file.
  static Result<std::unique_ptr<Store>> openSqlite(const std::string& path);
  /// `path` and its rotated files `path.1`, `path.2`, ...
  static Result<std::unique_ptr<Store>> openJsonl(const std::string& path);

  virtual ~Store() = default;
  virtual Result<std::vector<std::string>> gateways() = 0;
  /// Checks one gateway's chain (ChainVerifier). `key`: check checkpoints' signatures.
  virtual Result<VerifyResult> verify(const std::string& gateway_id, const SigningKey* key) = 0;
  /// Rows matching `q`, ordered by position (ascending unless newest_first).
  virtual Result<std::vector<StoredRecord>> query(const Query& q) = 0;
};

}  // namespace pgw::audit
