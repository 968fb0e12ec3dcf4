#pragma once
/// Masking one value of a result column, in the column's own type and
/// format, so that every driver decodes the masked value. What each function
/// does per type is documented in docs/masking.md ("Per type").
///
///   auto v = maskValue(spec, 25 /*text*/, -1, 0 /*text*/, "alice@example.com");
///   // *v == "***@example.com"; std::nullopt = SQL NULL

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "mask/spec.h"
#include "mask/types.h"

namespace pgw::mask {

inline constexpr int16_t kTextFormat = 0;
inline constexpr int16_t kBinaryFormat = 1;

/// Masks `value` (a non-NULL cell; NULL stays NULL without asking) of type
/// `type_oid` / `typmod` in `format`. The result is encoded in the same
/// format and valid for the type (bpchar(n) keeps its length, varchar(n)
/// fits, numeric(p,s) fits its precision); nullopt = SQL NULL. A type the
/// gateway does not know becomes NULL. Errors: `value` is not a valid
/// encoding of its type (or, in text format, a date or timestamp not in ISO
/// style) — callers mask such a cell to NULL.
Result<std::optional<std::string>> maskValue(const MaskSpec& spec, uint32_t type_oid,
                                             int32_t typmod, int16_t format,
                                             std::string_view value);

/// maskValue() appending to `out`: returns false for NULL (nothing appended;
/// nothing is appended on error either).
Result<bool> maskValueInto(const MaskSpec& spec, uint32_t type_oid, int32_t typmod, int16_t format,
                           std::string_view value, std::string& out);
/// The same with the type already looked up (typeInfo(type_oid)), for
/// callers that mask many values of one column.
Result<bool> maskValueInto(const MaskSpec& spec, const TypeInfo& type, int32_t typmod,
                           int16_t format, std::string_view value, std::string& out);

/// `spec` applied to a piece of text (a detector's span, a value echoed in an
/// error message): text semantics, and `null` gives the redact text.
std::string maskText(const MaskSpec& spec, std::string_view text);

}  // namespace pgw::mask
