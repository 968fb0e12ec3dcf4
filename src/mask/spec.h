#pragma once
/// A compiled mask function with its parameters: what one rule does to a
/// value. Built by compileMaskRules (mask/rules.h) from the config; shared,
/// immutable, read by every session without locks.

#include <memory>
#include <string>

#include "config/mask.h"
#include "mask/hmac.h"

namespace pgw::mask {

using MaskFunction = config::MaskWith;
using config::DateUnit;

struct MaskSpec {
  MaskFunction function = MaskFunction::Redact;
  std::string text = "***";       ///< redact; also the fallback text of the other functions
  int keep_first = 0;             ///< partial
  int keep_last = 0;              ///< partial
  DateUnit to = DateUnit::Month;  ///< truncate_date
  int digits = 0;                 ///< round
  int length = 16;                ///< hash: hex characters kept
  /// The key of hash and format_preserving (shared by every rule).
  std::shared_ptr<const Hmac> key;
  /// Names the rule in the audit trail: "mask[2]", "mask[3]:credit_card".
  std::string rule;
  /// What a value computed from the column (`reverse(email)`,
  /// `salary * 1000`) gets: this spec when its function hides the whole value
  /// (redact, null, hash); otherwise redact under the same rule name, since
  /// a function that keeps part of the value (partial, email, rounding, ...)
  /// would keep a part chosen by the query, not by the rule. Set by
  /// compileMaskRules for column rules; never null there.
  const MaskSpec* derived = nullptr;
};

/// Whether `function` reveals nothing of the value it masks, whatever value
/// it is given.
inline bool hidesWholeValue(MaskFunction function) {
  return function == MaskFunction::Redact || function == MaskFunction::Null ||
         function == MaskFunction::Hash;
}

}  // namespace pgw::mask
