#include "proxy/analysis_cache.h"

#include "sql/analyzer.h"

namespace pgw::proxy {

std::shared_ptr<const sql::Analysis> AnalysisCache::get(std::string_view sql) {
  if (auto it = index_.find(sql); it != index_.end()) {
    ++hits_;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->analysis;
  }
  ++misses_;
  auto analysis = std::make_shared<const sql::Analysis>(sql::analyze(sql));
  lru_.push_front(Entry{std::string(sql), analysis});
  index_.emplace(lru_.front().text, lru_.begin());  // the key views the list's own copy
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().text);
    lru_.pop_back();
  }
  return analysis;
}

}  // namespace pgw::proxy
