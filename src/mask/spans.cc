/// maskSpans: replacing detector hits inside plain text and JSON documents.

#include <algorithm>
#include <vector>

#include "mask/detectors.h"
#include "mask/value.h"

namespace pgw::mask {
namespace {

/// A replacement must not end a JSON string, start an escape, or break a
/// CSV / COPY field or an error message's line.
void appendSanitized(std::string_view r, std::string& out) {
  for (char c : r) {
    const auto u = static_cast<unsigned char>(c);
    out += (c == '"' || c == '\\' || u < 0x20 || u == 0x7f) ? '*' : c;
  }
}

using SpecOf = const MaskSpec& (*)(const void* ctx, const Hit& h);

struct Piece {
  size_t begin, end;
  const MaskSpec* spec;  ///< nullptr: a JSON number, replaced by 0
};

/// String contents (between the quotes) and numbers of a JSON document.
struct Token {
  size_t begin, end;
  bool string;
};

bool jsonTokens(std::string_view doc, std::vector<Token>& out) {
  for (size_t i = 0; i < doc.size();) {
    const char c = doc[i];
    if (c == '"') {
      const size_t begin = ++i;
      while (i < doc.size() && doc[i] != '"') i += doc[i] == '\\' ? 2 : 1;
      if (i >= doc.size()) return false;
      out.push_back({begin, i, true});
      ++i;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const size_t begin = i;
      while (i < doc.size() &&
             (std::string_view("0123456789+-.eE").find(doc[i]) != std::string_view::npos)) {
        ++i;
      }
      out.push_back({begin, i, false});
    } else {
      ++i;
    }
  }
  return true;
}

/// Widens [begin, end) inside a string token so no escape sequence is split.
void coverEscapes(std::string_view doc, const Token& t, size_t& begin, size_t& end) {
  for (size_t i = t.begin; i < t.end;) {
    if (doc[i] != '\\') {
      ++i;
      continue;
    }
    const size_t esc_end = std::min(t.end, i + (i + 1 < t.end && doc[i + 1] == 'u' ? 6 : 2));
    if (begin > i && begin < esc_end) begin = i;
    if (end > i && end < esc_end) end = esc_end;
    i = esc_end;
  }
}

std::string render(std::string_view text, const std::vector<Piece>& pieces) {
  std::string out;
  out.reserve(text.size() + 16);
  size_t last = 0;
  for (const Piece& p : pieces) {
    out.append(text.substr(last, p.begin - last));
    if (p.spec == nullptr) {
      out += '0';
    } else {
      appendSanitized(maskText(*p.spec, text.substr(p.begin, p.end - p.begin)), out);
    }
    last = p.end;
  }
  out.append(text.substr(last));
  return out;
}

std::string maskSpansWith(std::string_view text, const Hits& hits, SpecOf spec_of, const void* ctx,
                          SpanSyntax syntax) {
  std::vector<Piece> pieces;
  if (syntax == SpanSyntax::Plain) {
    for (const Hit& h : hits) {
      if (h.end > text.size() || h.begin >= h.end) continue;
      pieces.push_back({h.begin, h.end, &spec_of(ctx, h)});
    }
    return render(text, pieces);
  }
  std::vector<Token> tokens;
  if (!jsonTokens(text, tokens)) {
    // Not JSON after all: the whole value becomes one JSON string.
    std::string out = "\"";
    appendSanitized(hits.empty() ? "***" : spec_of(ctx, hits.front()).text, out);
    return out + "\"";
  }
  for (const Hit& h : hits) {
    for (const Token& t : tokens) {
      if (t.end <= h.begin || t.begin >= h.end) continue;
      if (!t.string) {
        pieces.push_back({t.begin, t.end, nullptr});
        continue;
      }
      size_t begin = std::max<size_t>(h.begin, t.begin);
      size_t end = std::min<size_t>(h.end, t.end);
      coverEscapes(text, t, begin, end);
      if (begin < end) pieces.push_back({begin, end, &spec_of(ctx, h)});
    }
  }
  std::sort(pieces.begin(), pieces.end(),
            [](const Piece& a, const Piece& b) { return a.begin < b.begin; });
  std::vector<Piece> merged;
  for (const Piece& p : pieces) {
    if (!merged.empty() && p.begin < merged.back().end) {
      merged.back().end = std::max(merged.back().end, p.end);
    } else {
      merged.push_back(p);
    }
  }
  return render(text, merged);
}

}  // namespace

std::string maskSpans(std::string_view text, const Hits& hits, const Detectors& detectors,
                      SpanSyntax syntax) {
  return maskSpansWith(
      text, hits,
      [](const void* ctx, const Hit& h) -> const MaskSpec& {
        return static_cast<const Detectors*>(ctx)->spec(h.detector);
      },
      &detectors, syntax);
}

std::string maskSpans(std::string_view text, const Hits& hits, const MaskSpec& spec,
                      SpanSyntax syntax) {
  return maskSpansWith(
      text, hits,
      [](const void* ctx, const Hit&) -> const MaskSpec& {
        return *static_cast<const MaskSpec*>(ctx);
      },
      &spec, syntax);
}

}  // namespace pgw::mask
