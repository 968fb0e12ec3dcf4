#pragma once
// Decoders for PostgreSQL's binary formats written for the tests, apart from
// the mask module's own codec: a masked value that these read (and that
// matches what PostgreSQL itself sends, see codec_test.cc) is one a driver
// reads. Each returns nullopt for bytes that are not a valid encoding.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pgw::mask::testing {

std::string hex(std::string_view bytes);
std::string unhex(std::string_view hex);

std::optional<int64_t> intValue(std::string_view bin, int width);
/// numeric_recv's checks, then the numeric_out text ("1234.5678", "NaN").
std::optional<std::string> numericText(std::string_view bin);
std::optional<double> floatValue(std::string_view bin, int width);
/// "1987-06-15", "infinity".
std::optional<std::string> dateText(std::string_view bin);
/// "2024-03-05 12:34:56.789" (UTC for timestamptz, with "+00").
std::optional<std::string> timestampText(std::string_view bin, bool tz);
std::optional<std::string> uuidText(std::string_view bin);

struct ArrayValue {
  int32_t ndim = 0;
  bool has_null_flag = false;
  uint32_t element_oid = 0;
  std::vector<std::pair<int32_t, int32_t>> dims;  ///< size, lower bound
  std::vector<std::optional<std::string>> elements;
};
/// array_recv's structure checks (flag set iff a NULL element exists).
std::optional<ArrayValue> arrayValue(std::string_view bin);

/// A complete JSON text (RFC 8259), for json and jsonb values.
bool validJson(std::string_view text);

/// The text form of a binary value of `type_oid` (scalars and arrays of the
/// types the mask module handles): what a driver would show.
std::optional<std::string> binaryToText(uint32_t type_oid, std::string_view bin);

/// Whether `text` is a valid text-format value of the type: parses, in
/// range, fits the typmod (varchar/bpchar length, numeric precision).
bool validText(uint32_t type_oid, int32_t typmod, std::string_view text);

}  // namespace pgw::mask::testing
