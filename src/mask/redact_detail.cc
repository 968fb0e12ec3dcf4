#include "mask/redact_detail.h"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/ascii.h"

namespace pgw::mask {
namespace {

constexpr std::string_view kRedacted = "***";

bool equalsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

bool isIdentChar(char c) {
  return ascii::isAlnum(c) || c == '_' || c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

/// Whether a column expression ("email", "lower((email)::text)", "\"E-mail\"")
/// names a masked column.
bool namesMasked(std::string_view expr, std::span<const std::string> masked) {
  for (const std::string& m : masked) {
    if (m == "*") return true;
  }
  for (size_t i = 0; i < expr.size();) {
    if (expr[i] == '"') {
      const size_t close = expr.find('"', i + 1);
      const std::string_view word = expr.substr(
          i + 1, close == std::string_view::npos ? std::string_view::npos : close - i - 1);
      for (const std::string& m : masked) {
        if (equalsNoCase(word, m)) return true;
      }
      i = close == std::string_view::npos ? expr.size() : close + 1;
      continue;
    }
    if (!isIdentChar(expr[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < expr.size() && isIdentChar(expr[j])) ++j;
    const std::string_view word = expr.substr(i, j - i);
    for (const std::string& m : masked) {
      if (equalsNoCase(word, m)) return true;
    }
    i = j;
  }
  return false;
}

/// Splits at ", ". Column expressions (`nested`) keep their parenthesized and
/// quoted parts whole; values are data, so every ", " counts there (a value
/// holding one makes the counts differ, and the whole list is redacted).
std::vector<std::string_view> splitList(std::string_view s, bool nested) {
  std::vector<std::string_view> out;
  int depth = 0;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (nested) {
      if (c == '"') quoted = !quoted;
      if (quoted) continue;
      if (c == '(') ++depth;
      if (c == ')' && depth > 0) --depth;
    }
    if (depth == 0 && c == ',' && i + 1 < s.size() && s[i + 1] == ' ') {
      out.push_back(s.substr(start, i - start));
      start = i + 2;
      ++i;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

/// Where a value list that starts at `from` ends: the last ')' followed by
/// a phrase PostgreSQL puts after one (or by the end). The last one, so that a
/// value imitating the phrase is redacted with the rest.
size_t valuesEnd(std::string_view s, size_t from) {
  static constexpr std::string_view kAfter[] = {" already exists", " is not present",
                                                " is still referenced", " conflicts with"};
  size_t best = std::string_view::npos;
  for (size_t i = s.find(')', from); i != std::string_view::npos; i = s.find(')', i + 1)) {
    const std::string_view rest = s.substr(i + 1);
    bool ok = rest.empty() || rest == ".";
    for (std::string_view a : kAfter) ok = ok || rest.substr(0, a.size()) == a;
    if (ok) best = i;
  }
  return best;
}

struct Replacement {
  size_t begin, end;  ///< [begin, end) becomes "***"
};

}  // namespace

std::string redactDetail(std::string_view detail, std::span<const std::string> masked_columns,
                         const Detectors* detectors, uint64_t enabled) {
  std::vector<Replacement> cuts;
  if (!masked_columns.empty()) {
    constexpr std::string_view kFailing = "Failing row contains (";
    for (size_t at = detail.find(kFailing); at != std::string_view::npos;
         at = detail.find(kFailing, at + 1)) {
      const size_t begin = at + kFailing.size();
      const size_t end = detail.rfind(')');
      cuts.push_back({begin, end == std::string_view::npos || end < begin ? detail.size() : end});
    }
    for (size_t eq = detail.find(")=("); eq != std::string_view::npos;
         eq = detail.find(")=(", eq + 1)) {
      // The column list: the parenthesized group that ends at `eq`.
      int depth = 0;
      size_t open = std::string_view::npos;
      for (size_t i = eq + 1; i-- > 0;) {
        if (detail[i] == ')') ++depth;
        if (detail[i] == '(' && --depth == 0) {
          open = i;
          break;
        }
      }
      const size_t begin = eq + 3;
      size_t end = valuesEnd(detail, begin);
      if (end == std::string_view::npos) end = detail.size();
      const std::string_view values = detail.substr(begin, end - begin);
      if (open == std::string_view::npos) {
        cuts.push_back({begin, end});
      } else {
        const auto cols = splitList(detail.substr(open + 1, eq - open - 1), true);
        const auto vals = splitList(values, false);
        const bool any = std::any_of(cols.begin(), cols.end(), [&](std::string_view c) {
          return namesMasked(c, masked_columns);
        });
        if (any && cols.size() != vals.size()) {
          cuts.push_back({begin, end});
        } else if (any) {
          for (size_t k = 0; k < cols.size(); ++k) {
            if (!namesMasked(cols[k], masked_columns)) continue;
            const auto b = static_cast<size_t>(vals[k].data() - detail.data());
            cuts.push_back({b, b + vals[k].size()});
          }
        }
      }
      if (end >= detail.size()) break;
      eq = end - 1;  // the next group starts after this value list
    }
  }
  std::sort(cuts.begin(), cuts.end(),
            [](const Replacement& a, const Replacement& b) { return a.begin < b.begin; });
  std::string out;
  size_t last = 0;
  for (const Replacement& c : cuts) {
    if (c.begin < last) {  // inside a list already redacted whole
      last = std::max(last, c.end);
      continue;
    }
    out.append(detail.substr(last, c.begin - last));
    out += kRedacted;
    last = c.end;
  }
  out.append(detail.substr(std::min(last, detail.size())));
  if (detectors != nullptr) {
    Hits hits;
    if (detectors->scan(out, hits, enabled)) out = maskSpans(out, hits, *detectors);
  }
  return out;
}

}  // namespace pgw::mask
