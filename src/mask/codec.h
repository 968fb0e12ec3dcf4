#pragma once
/// Text and binary encodings of the types the mask functions rewrite, as
/// PostgreSQL's output and send functions produce them (and its input and
/// receive functions accept them). Internal to the mask module; tests use it
/// to check that every masked value decodes.
///
/// References: https://www.postgresql.org/docs/15/datatype.html and the
/// *_send / *_recv functions (numeric.c, date.c, timestamp.c, uuid.c,
/// arrayfuncs.c, jsonb.c) for the binary formats.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace pgw::mask::codec {

// --- numeric ---------------------------------------------------------------

/// A decimal number as numeric holds it: value = digits × 10^-scale.
struct Decimal {
  enum class Special : uint8_t { None, NaN, PosInf, NegInf };
  Special special = Special::None;
  bool negative = false;
  std::string digits;  ///< decimal digits without leading zeros; "" = zero
  int32_t scale = 0;   ///< digits after the decimal point (numeric's dscale), >= 0
};

/// "-12.50", "0.05", "NaN", "Infinity", "-Infinity"; also "1.5e3" and a
/// leading '+' (text columns), surrounding spaces ignored.
Result<Decimal> parseDecimal(std::string_view text);
/// numeric_out's form: "-12.50", "0.05", "0", "NaN", "Infinity".
void formatDecimal(const Decimal& d, std::string& out);
/// numeric_recv: int16 ndigits, int16 weight, uint16 sign, int16 dscale,
/// then ndigits base-10000 digits.
Result<Decimal> decodeNumericBinary(std::string_view bytes);
/// numeric_send's form (leading and trailing zero base-10000 digits stripped).
void encodeNumericBinary(const Decimal& d, std::string& out);
/// Rounds half away from zero (or, with `toward_zero`, truncates) to `digits`
/// after the point (negative: to tens, hundreds...), keeping `d.scale` as
/// the display scale.
void roundDecimal(Decimal& d, int digits, bool toward_zero = false);
/// Digits before the point.
int integerDigits(const Decimal& d);

/// numeric(p, s) from a typmod; nullopt when unconstrained (-1).
struct NumericTypmod {
  int precision = 0;
  int scale = 0;
};
std::optional<NumericTypmod> numericTypmod(int32_t typmod);

// --- integers and floats ---------------------------------------------------

/// A decimal integer that fits in `width` bytes (2, 4, 8).
Result<int64_t> parseInt(std::string_view text, int width);
int64_t intMax(int width);
void formatInt(int64_t v, std::string& out);
/// Big-endian, `width` bytes.
Result<int64_t> decodeIntBinary(std::string_view bytes, int width);
void encodeIntBinary(int64_t v, int width, std::string& out);

/// float4/float8 text: decimal or exponent form, NaN, Infinity, -Infinity.
Result<double> parseFloat(std::string_view text, int width);
/// The shortest text that reads back as the same value ("1.5", "1e+20").
void formatFloat(double v, int width, std::string& out);
Result<double> decodeFloatBinary(std::string_view bytes, int width);
void encodeFloatBinary(double v, int width, std::string& out);

// --- dates and timestamps --------------------------------------------------

inline constexpr int32_t kDateNegInfinity = INT32_MIN;
inline constexpr int32_t kDatePosInfinity = INT32_MAX;
inline constexpr int64_t kTimestampNegInfinity = INT64_MIN;
inline constexpr int64_t kTimestampPosInfinity = INT64_MAX;
inline constexpr int64_t kMicrosPerDay = 86400LL * 1000000;

/// Days since 2000-01-01 of a proleptic Gregorian date (year 0 = 1 BC).
int32_t daysFromCivil(int64_t year, int month, int day);
struct Civil {
  int64_t year;
  int month;
  int day;
};
Civil civilFromDays(int64_t days);

/// A date or timestamp as written in ISO style ("2024-03-05",
/// "2024-03-05 12:34:56.5+01", "0044-03-15 BC"), kept with its shape so a
/// rewritten value reads like the original.
struct DateTimeText {
  int64_t year = 2000;  ///< astronomical: 0 = 1 BC
  int month = 1;
  int day = 1;
  bool has_time = false;
  char separator = ' ';  ///< ' ' or 'T'
  int hour = 0, minute = 0, second = 0;
  int32_t micros = 0;
  std::optional<int32_t> offset;  ///< seconds east of UTC
  enum class Special : uint8_t { None, PosInf, NegInf } special = Special::None;

  /// Microseconds since 2000-01-01 00:00 of the written (local) time.
  int64_t localMicros() const;
};
/// ISO style only (DateStyle ISO, what drivers set); nullopt otherwise.
std::optional<DateTimeText> parseDateTime(std::string_view text);
/// The ISO form PostgreSQL prints for that shape ("+05:30", " BC", no
/// trailing zeros in the fraction).
void formatDateTime(const DateTimeText& t, std::string& out);
/// `t` set from microseconds since 2000-01-01 (keeping shape and offset).
void setLocalMicros(DateTimeText& t, int64_t micros);

// --- uuid, bytea, json -----------------------------------------------------

using Uuid = std::array<uint8_t, 16>;
/// "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", also upper case, braces, no dashes.
Result<Uuid> parseUuid(std::string_view text);
void formatUuid(const Uuid& u, std::string& out);

/// bytea text: hex ("\x0102") or escape format ("ab\\001"); raw bytes out.
Result<std::string> parseBytea(std::string_view text);
/// Hex format.
void formatBytea(std::string_view bytes, std::string& out);

/// Appends `text` as a JSON string literal. Control characters, quotes and
/// backslashes are escaped; invalid UTF-8 bytes become U+FFFD so the result
/// is always valid json and jsonb input.
void appendJsonString(std::string_view text, std::string& out);
/// The content of `doc` when it is one JSON string literal without escapes
/// ("\"alice@example.com\"" -> alice@example.com); nullopt otherwise.
std::optional<std::string_view> simpleJsonString(std::string_view doc);

// --- text ------------------------------------------------------------------

/// Number of UTF-8 characters (a stray continuation byte counts as one).
size_t utf8Length(std::string_view s);
/// Byte length of the first `chars` characters of `s`.
size_t utf8Prefix(std::string_view s, size_t chars);
/// varchar(n) cut to n characters; bpchar(n) cut or padded to exactly n;
/// name cut to 63 bytes at a character boundary. Other types unchanged.
void fitText(uint32_t type_oid, int32_t typmod, std::string& text);

}  // namespace pgw::mask::codec
