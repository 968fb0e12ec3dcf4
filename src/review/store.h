#pragma once
/// Internal to the review module: the SQLite file that keeps reviews,
/// access requests and connections registered over the API across restarts.
/// Each record is one row: its id, its state and time (for queries by hand)
/// and the whole record as JSON. Not thread-safe: ReviewService and
/// ConnectionRegistry serialize their calls.

#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "review/review.h"

struct sqlite3;

namespace pgw::review {

class Store {
 public:
  /// Opens (creating if needed) `path` in WAL mode; ":memory:" keeps nothing.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  Status put(const Review& review);
  Status put(const AccessRequest& request);
  Result<std::vector<Review>> reviews();
  Result<std::vector<AccessRequest>> accessRequests();
  /// Deletes these reviews and access requests, in one transaction.
  Status erase(const std::vector<std::string>& review_ids,
               const std::vector<std::string>& access_ids);

  Status putConnection(const StoredConnection& row);
  Status deleteConnection(const std::string& name);
  Result<std::vector<StoredConnection>> connections();

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Status exec(const char* sql);
  Status upsert(const char* table, const std::string& id, std::string_view state,
                int64_t created_us, const std::string& body);
  Result<std::vector<std::string>> bodies(const char* table);

  sqlite3* db_;
  std::string path_;
};

/// Persistence form (not the API's): lossless round trip.
std::string encode(const Review& review);
std::string encode(const AccessRequest& request);
Result<Review> decodeReview(const std::string& body);
Result<AccessRequest> decodeAccessRequest(const std::string& body);

}  // namespace pgw::review
