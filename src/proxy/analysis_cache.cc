#include "proxy/analysis_cache.h"

#include "sql/analyzer.h"

namespace pgw::proxy {

const std::shared_ptr<const sql::Analysis>* AnalysisCache::Lru::find(std::string_view key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return &it->second->analysis;
}

void AnalysisCache::Lru::put(std::string key, std::shared_ptr<const sql::Analysis> analysis) {
  if (capacity_ == 0 || index_.contains(key)) return;
  lru_.push_front(Entry{std::move(key), std::move(analysis)});
  index_.emplace(lru_.front().key, lru_.begin());
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

std::shared_ptr<const sql::Analysis> AnalysisCache::get(std::string_view sql) {
  if (const auto* hit = exact_.find(sql)) {
    ++stats_.exact_hits;
    return *hit;
  }
  auto shape = sql::shapeOf(sql);
  if (shape) {
    if (const auto* hit = shapes_.find(shape->key)) {
      // Not added to the exact level: texts that differ only in constants
      // would crowd out the statements that really repeat.
      ++stats_.shape_hits;
      return std::make_shared<const sql::Analysis>(sql::forShape(**hit, *shape));
    }
  }
  ++stats_.misses;
  auto analysis = std::make_shared<const sql::Analysis>(sql::analyze(sql));
  exact_.put(std::string(sql), analysis);
  if (shape && sql::shapeDetermines(*analysis, *shape))
    shapes_.put(std::move(shape->key), analysis);
  return analysis;
}

}  // namespace pgw::proxy
