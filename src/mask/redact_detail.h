#pragma once
/// Values echoed in ErrorResponse / NoticeResponse fields. PostgreSQL quotes
/// row values in details such as
///
///   Key (email)=(alice@example.com) already exists.
///   Key (lower(email::text))=(alice@example.com) is not present in table "users".
///   Key (a, b)=(1, x) conflicts with existing key (a, b)=(1, y).
///   Failing row contains (7, alice@example.com, null).
///
/// which would carry a masked column's raw value past the masking of results.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "mask/detectors.h"

namespace pgw::mask {

/// `detail` with the values of masked columns replaced by "***":
///  - in `Key (cols)=(values)`, a value whose column expression names a
///    column of `masked_columns` (case-insensitive; "*" = every column). When
///    the values cannot be matched one to one with the columns (a value holds
///    ", "), the whole value list is redacted (fail closed);
///  - `Failing row contains (...)` names no columns: its whole list is
///    redacted when `masked_columns` is not empty.
/// Then `detectors` (may be null), limited to `enabled`, mask what they find
/// in the rest.
std::string redactDetail(std::string_view detail, std::span<const std::string> masked_columns,
                         const Detectors* detectors, uint64_t enabled = ~uint64_t{0});

}  // namespace pgw::mask
