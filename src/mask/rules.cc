#include "mask/rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace pgw::mask {
namespace {

char lower(char c) {
  return static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
}

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

/// "a.b.c" -> {a, b, c}; "b.c" -> {*, b, c}; "c" -> {*, *, c}.
std::array<std::string, 3> splitColumn(std::string_view column) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= column.size(); ++i) {
    if (i == column.size() || column[i] == '.') {
      parts.push_back(lowered(column.substr(start, i - start)));
      start = i + 1;
    }
  }
  std::array<std::string, 3> out = {"*", "*", "*"};
  const size_t n = std::min<size_t>(parts.size(), 3);
  for (size_t k = 0; k < n; ++k) out[3 - n + k] = parts[parts.size() - n + k];
  return out;
}

MaskSpec specOf(const config::MaskRuleConfig& r, std::shared_ptr<const Hmac> key,
                std::string rule) {
  MaskSpec s;
  s.function = r.with;
  s.text = r.text;
  s.keep_first = r.keep_first;
  s.keep_last = r.keep_last;
  s.to = r.to;
  s.digits = r.digits;
  s.length = r.length;
  if (r.with == MaskFunction::Hash || r.with == MaskFunction::FormatPreserving) s.key = key;
  s.rule = std::move(rule);
  return s;
}

}  // namespace

bool globMatch(std::string_view pattern, std::string_view text) {
  // Iterative matching with one backtrack point: linear for patterns
  // without '*', O(n*m) at worst.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(text[t])) {
      ++p;
      ++t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool CompiledMaskRules::Exemptions::exempts(std::span<const std::string> subject_groups,
                                            std::string_view id) const {
  for (const auto& e : ids) {
    if (e == "*" || e == id) return true;
  }
  for (const auto& e : groups) {
    if (e == "*") return true;
    if (std::find(subject_groups.begin(), subject_groups.end(), e) != subject_groups.end())
      return true;
  }
  return false;
}

CompiledMaskRules::CompiledMaskRules() : untraceable_(std::make_unique<MaskSpec>()) {
  untraceable_->rule = "untraceable";
}
CompiledMaskRules::CompiledMaskRules(CompiledMaskRules&&) noexcept = default;
CompiledMaskRules& CompiledMaskRules::operator=(CompiledMaskRules&&) noexcept = default;
CompiledMaskRules::~CompiledMaskRules() = default;

const MaskSpec* CompiledMaskRules::forColumn(std::string_view schema, std::string_view table,
                                             std::string_view column,
                                             std::span<const std::string> groups,
                                             std::string_view subject_id) const {
  for (const ColumnRule& r : columns_) {
    if (globMatch(r.parts[2], column) && globMatch(r.parts[1], table) &&
        globMatch(r.parts[0], schema) && !r.except.exempts(groups, subject_id)) {
      return r.spec;
    }
  }
  return nullptr;
}

uint64_t CompiledMaskRules::detectorsFor(std::span<const std::string> groups,
                                         std::string_view subject_id) const {
  uint64_t bits = 0;
  for (size_t i = 0; i < detector_except_.size(); ++i) {
    if (!detector_except_[i].exempts(groups, subject_id)) bits |= uint64_t{1} << i;
  }
  return bits;
}

bool CompiledMaskRules::appliesTo(std::span<const std::string> groups,
                                  std::string_view subject_id) const {
  return detectorsFor(groups, subject_id) != 0 || columnRulesApply(groups, subject_id);
}

bool CompiledMaskRules::columnRulesApply(std::span<const std::string> groups,
                                         std::string_view subject_id) const {
  return std::any_of(columns_.begin(), columns_.end(),
                     [&](const ColumnRule& r) { return !r.except.exempts(groups, subject_id); });
}

Result<CompiledMaskRules> compileMaskRules(const std::vector<config::MaskRuleConfig>& rules,
                                           std::string_view hash_key, const std::string& path) {
  CompiledMaskRules out;
  std::shared_ptr<const Hmac> key;
  if (!hash_key.empty()) key = std::make_shared<const Hmac>(hash_key);
  std::vector<DetectorDef> defs;
  for (size_t i = 0; i < rules.size(); ++i) {
    const config::MaskRuleConfig& r = rules[i];
    const std::string item = fmt::format("{}[{}]", path, i);
    if ((r.with == MaskFunction::Hash || r.with == MaskFunction::FormatPreserving) && !key) {
      return fail("F0000", fmt::format("config: {}.with: {} needs masking.hash_key", item,
                                       config::maskWithName(r.with)));
    }
    CompiledMaskRules::Exemptions except{r.except_groups, r.except_ids};
    if (!r.column.empty()) {
      out.specs_.push_back(std::make_unique<MaskSpec>(specOf(r, key, fmt::format("mask[{}]", i))));
      MaskSpec* spec = out.specs_.back().get();
      spec->derived = spec;
      if (!hidesWholeValue(spec->function)) {
        auto derived = std::make_unique<MaskSpec>();
        derived->text = spec->text;
        derived->rule = spec->rule;
        spec->derived = derived.get();
        out.specs_.push_back(std::move(derived));
      }
      out.columns_.push_back({splitColumn(r.column), std::move(except), spec});
      continue;
    }
    for (size_t j = 0; j < r.detect.size(); ++j) {
      const config::MaskDetectorConfig& d = r.detect[j];
      const std::string& name = d.builtin.empty() ? d.name : d.builtin;
      out.specs_.push_back(
          std::make_unique<MaskSpec>(specOf(r, key, fmt::format("mask[{}]:{}", i, name))));
      std::string at =
          r.detect.size() > 1 ? fmt::format("{}.detect[{}]", item, j) : item + ".detect";
      if (d.builtin.empty()) at += ".pattern";
      defs.push_back({d.builtin, d.pattern, name, out.specs_.back().get(), std::move(at)});
      out.detector_except_.push_back(except);
    }
  }
  if (!defs.empty()) {
    auto detectors = Detectors::compile(std::move(defs));
    if (!detectors) return detectors.takeError();
    out.detectors_ = std::move(*detectors);
  }
  return out;
}

}  // namespace pgw::mask
