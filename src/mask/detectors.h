#pragma once
/// Content detectors: the second net behind column rules. They find sensitive
/// spans inside text values (emails, phone numbers, card numbers, ...) where
/// no column rule applies, and inside error messages.
///
/// Compiled once per rule set (RE2 patterns, plus checks a regex cannot do:
/// Luhn for cards, mod-97 for IBANs, SSN area rules, address ranges). A value
/// with no hit costs one pass over its bytes for a character census that
/// rules detectors out (no '@': no email; fewer than 13 digits: no card), and
/// only the detectors the census allows run their regex.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "mask/spec.h"

namespace pgw::mask {

/// One detector match: bytes [begin, end) of the scanned text.
struct Hit {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint16_t detector = 0;  ///< index in its Detectors
};
using Hits = std::vector<Hit>;

/// One detector to compile: a built-in by name or a custom RE2 pattern.
struct DetectorDef {
  std::string builtin;  ///< email, phone, credit_card, ssn, iban, ipv4, ipv6, jwt, api_key
  std::string pattern;  ///< custom RE2 (when builtin is empty)
  std::string name;     ///< shown in the audit trail; default: the built-in's name
  const MaskSpec* spec = nullptr;  ///< what a hit becomes; must outlive the Detectors
  std::string path;                ///< config key path, for errors
};

class Detectors {
 public:
  /// Bits of `enabled` masks name detectors by index.
  static constexpr size_t kMaxDetectors = 64;

  /// Errors (F0000): an unknown built-in, a pattern RE2 rejects, more than
  /// kMaxDetectors — "config: <path>: <problem>".
  static Result<std::unique_ptr<Detectors>> compile(std::vector<DetectorDef> defs);
  ~Detectors();
  Detectors(const Detectors&) = delete;
  Detectors& operator=(const Detectors&) = delete;

  /// Appends the spans found in `text` to `out`, sorted and without overlaps
  /// (overlapping matches merge; the earlier detector names the span).
  /// Returns whether it found any. `enabled`: bit i set = detector i
  /// applies (a subject may be exempt from some).
  bool scan(std::string_view text, Hits& out, uint64_t enabled = ~uint64_t{0}) const;

  size_t size() const;
  /// Bits of every detector.
  uint64_t all() const;
  const MaskSpec& spec(size_t detector) const;
  /// "credit_card", or a custom detector's name.
  const std::string& name(size_t detector) const;

 private:
  Detectors();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// How replacements keep the scanned text valid.
enum class SpanSyntax {
  Plain,  ///< any text
  /// A JSON document: only string contents and numbers are rewritten (a
  /// match that crosses quotes or structure is cut at them, a number
  /// becomes 0), escape sequences are never split.
  Json,
};

/// `text` with each hit replaced by its detector's function applied to the
/// span (maskText). Replacements never hold quotes, backslashes or control
/// characters (they become '*'), so the result stays valid JSON, CSV, COPY
/// text and error-message text.
std::string maskSpans(std::string_view text, const Hits& hits, const Detectors& detectors,
                      SpanSyntax syntax = SpanSyntax::Plain);
/// The same with one function for every hit.
std::string maskSpans(std::string_view text, const Hits& hits, const MaskSpec& spec,
                      SpanSyntax syntax = SpanSyntax::Plain);

/// Whether a hit's function is `null`: the whole cell becomes NULL.
bool anyNullHit(const Hits& hits, const Detectors& detectors);

}  // namespace pgw::mask
