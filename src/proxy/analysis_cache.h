#pragma once
/// Analyses of recent statements, one cache per worker (no locks), so a hot
/// statement is parsed once, not once per execution. Two levels:
///
/// 1. by exact text — a prepared or repeated statement;
/// 2. by shape (sql::QueryShape: the text with its constants cut out) — the
///    same statement sent with different literals (`WHERE id = 42`, then
///    `WHERE id = 43`), as ORMs and pgbench's simple protocol do. Only
///    analyses that hold for every text of the shape are kept here
///    (sql::shapeDetermines); anything else is parsed every time it misses
///    level 1.
///
/// Both levels are bounded and evict the least recently used entry.

#include <cstddef>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "sql/statement_info.h"

namespace pgw::proxy {

class AnalysisCache {
 public:
  explicit AnalysisCache(size_t capacity = 4096) : exact_(capacity), shapes_(capacity) {}

  /// The analysis of `sql`, computed on a miss.
  std::shared_ptr<const sql::Analysis> get(std::string_view sql);

  struct Stats {
    size_t exact_hits = 0;
    size_t shape_hits = 0;
    size_t misses = 0;  ///< full analyses
  };
  const Stats& stats() const { return stats_; }

 private:
  /// A bounded map from text to analysis, least recently used evicted.
  class Lru {
   public:
    explicit Lru(size_t capacity) : capacity_(capacity) {}
    const std::shared_ptr<const sql::Analysis>* find(std::string_view key);
    void put(std::string key, std::shared_ptr<const sql::Analysis> analysis);

   private:
    struct Entry {
      std::string key;
      std::shared_ptr<const sql::Analysis> analysis;
    };
    struct Hash {
      using is_transparent = void;
      size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    size_t capacity_;
    std::list<Entry> lru_;  ///< front = most recent
    std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>>
        index_;  ///< keys view the list's own copies
  };

  Lru exact_;
  Lru shapes_;
  Stats stats_;
};

}  // namespace pgw::proxy
