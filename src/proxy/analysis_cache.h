#pragma once
/// Analyses of recent statement texts, one cache per worker (no locks): a hot
/// statement is parsed once, not once per execution. Bounded; the least
/// recently used text is evicted.

#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sql/statement_info.h"

namespace pgw::proxy {

class AnalysisCache {
 public:
  explicit AnalysisCache(size_t capacity = 4096) : capacity_(capacity) {}

  /// The analysis of `sql`, computed on a miss.
  std::shared_ptr<const sql::Analysis> get(std::string_view sql);
  size_t hits() const { return hits_; }
  size_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string text;
    std::shared_ptr<const sql::Analysis> analysis;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  size_t capacity_;
  std::list<Entry> lru_;  ///< front = most recent
  std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>> index_;
  size_t hits_ = 0;
  size_t misses_ = 0;
};

}  // namespace pgw::proxy
