/// maskValue: decode a value of a known type, apply the mask function with
/// that type's semantics, encode it back in the same format. Hashes are
/// taken over the value's canonical text (so a text and a binary client, or
/// an int4 and a text column holding the same number, mask alike).

#include "mask/value.h"

#include <algorithm>
#include <cmath>

#include "mask/array.h"
#include "mask/codec.h"
#include "mask/functions.h"
#include "mask/types.h"

namespace pgw::mask {
namespace {

using codec::DateTimeText;
using codec::Decimal;
using detail::Cell;

/// Hash-derived dates fall in [1900-01-01, 2100-01-01): plausible, and never
/// derived from the original date.
constexpr int64_t kDerivedDays = 73049;

int32_t derivedDays(uint64_t h) {
  return codec::daysFromCivil(1900, 1, 1) + static_cast<int32_t>(h % kDerivedDays);
}

std::string canonicalOf(int64_t v) {
  std::string s;
  codec::formatInt(v, s);
  return s;
}

// --- json, bytea -------------------------------------------------------------

Result<bool> maskJson(const MaskSpec& spec, const TypeInfo& t, int16_t format, std::string_view in,
                      std::string& out) {
  const bool jsonb_binary = format == kBinaryFormat && t.oid == oid::kJsonb;
  std::string_view doc = in;
  if (jsonb_binary) {
    if (doc.empty() || doc.front() != 1)
      return fail("22P03", "jsonb value: unknown binary version");
    doc.remove_prefix(1);
  }
  std::string r;
  std::string text;
  if (spec.function == MaskFunction::Redact) {
    codec::appendJsonString(spec.text, r);
  } else if (auto inner = codec::simpleJsonString(doc)) {
    if (!detail::applyToText(spec, *inner, text)) return false;
    codec::appendJsonString(text, r);
  } else if (auto d = codec::parseDecimal(doc);
             spec.function == MaskFunction::Round && d && d->special == Decimal::Special::None) {
    codec::roundDecimal(*d, spec.digits);
    codec::formatDecimal(*d, r);
  } else {
    if (!detail::applyToText(spec, doc, text)) return false;
    codec::appendJsonString(text, r);
  }
  if (jsonb_binary) out += '\x01';
  out += r;
  return true;
}

Result<bool> maskBytea(const MaskSpec& spec, int16_t format, std::string_view in,
                       std::string& out) {
  std::string bytes;
  if (spec.function != MaskFunction::Redact) {
    if (format == kBinaryFormat) {
      bytes.assign(in);
    } else {
      auto parsed = codec::parseBytea(in);
      if (!parsed) return parsed.takeError();
      bytes = std::move(*parsed);
    }
  }
  std::string r;
  switch (spec.function) {
    case MaskFunction::Partial: {
      const auto n = bytes.size();
      const auto first = static_cast<size_t>(spec.keep_first);
      const auto last = static_cast<size_t>(spec.keep_last);
      r = bytes;
      for (size_t i = 0; i < n; ++i) {
        if (n <= first + last || (i >= first && i < n - last)) r[i] = '*';
      }
      break;
    }
    case MaskFunction::Email:
      if (!detail::emailText(bytes, r)) r = spec.text;
      break;
    case MaskFunction::Hash: {
      const Hmac::Digest d = spec.key->mac("hash", bytes);
      r.assign(reinterpret_cast<const char*>(d.data()), static_cast<size_t>(spec.length / 2));
      break;
    }
    case MaskFunction::FormatPreserving: {
      r.resize(bytes.size());
      spec.key->stream("fpe", bytes,
                       std::span<uint8_t>(reinterpret_cast<uint8_t*>(r.data()), r.size()));
      break;
    }
    default:
      r = spec.text;
  }
  if (format == kBinaryFormat) {
    out += r;
  } else {
    codec::formatBytea(r, out);
  }
  return true;
}

// --- numbers -----------------------------------------------------------------

/// Needs the input value (redact and friends do not read it).
bool readsInput(MaskFunction f) {
  return f == MaskFunction::Partial || f == MaskFunction::Hash ||
         f == MaskFunction::FormatPreserving || f == MaskFunction::Round ||
         f == MaskFunction::TruncateDate;
}

Result<bool> maskInt(const MaskSpec& spec, const TypeInfo& t, int16_t format, std::string_view in,
                     std::string& out) {
  int64_t v = 0;
  const MaskFunction f = spec.function;
  if (f == MaskFunction::Partial || f == MaskFunction::Hash ||
      f == MaskFunction::FormatPreserving || f == MaskFunction::Round) {
    auto decoded = format == kBinaryFormat ? codec::decodeIntBinary(in, t.width)
                                           : codec::parseInt(in, t.width);
    if (!decoded) return decoded.takeError();
    v = *decoded;
  }
  const auto max = static_cast<uint64_t>(codec::intMax(t.width));
  const bool negative = v < 0;
  uint64_t mag = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  int64_t result = 0;
  switch (f) {
    case MaskFunction::Partial:
    case MaskFunction::FormatPreserving: {
      std::string s = std::to_string(mag);
      if (f == MaskFunction::Partial) {
        detail::partialDigits(s, spec.keep_first, spec.keep_last);
      } else {
        detail::fpeDigits(*spec.key, canonicalOf(v), s);
      }
      mag = std::stoull(s);
      if (mag > max) mag %= max + 1;
      result = negative ? -static_cast<int64_t>(mag) : static_cast<int64_t>(mag);
      break;
    }
    case MaskFunction::Hash:
      result = static_cast<int64_t>(detail::hashNumber(*spec.key, canonicalOf(v)) % (max + 1));
      break;
    case MaskFunction::Round: {
      if (spec.digits >= 0) {
        result = v;
        break;
      }
      uint64_t unit = 1;
      for (int i = 0; i < -spec.digits && unit <= max; ++i) unit *= 10;
      if (unit > max) break;  // rounds to 0 (or past the type's range)
      uint64_t q = mag / unit;
      if ((mag % unit) * 2 >= unit && (q + 1) * unit <= max) ++q;
      result = negative ? -static_cast<int64_t>(q * unit) : static_cast<int64_t>(q * unit);
      break;
    }
    default:
      result = 0;
  }
  if (format == kBinaryFormat) {
    codec::encodeIntBinary(result, t.width, out);
  } else {
    codec::formatInt(result, out);
  }
  return true;
}

Result<bool> maskNumeric(const MaskSpec& spec, int32_t typmod, int16_t format, std::string_view in,
                         std::string& out) {
  const auto tm = codec::numericTypmod(typmod);
  Decimal d;
  if (readsInput(spec.function) && spec.function != MaskFunction::TruncateDate) {
    auto decoded =
        format == kBinaryFormat ? codec::decodeNumericBinary(in) : codec::parseDecimal(in);
    if (!decoded) return decoded.takeError();
    d = std::move(*decoded);
  } else {
    d.scale = tm && tm->scale > 0 ? tm->scale : 0;  // 0, at the column's scale
  }
  const bool special = d.special != Decimal::Special::None;
  switch (spec.function) {
    case MaskFunction::Partial:
      if (!special) {
        std::string s;
        codec::formatDecimal(d, s);
        detail::partialDigits(s, spec.keep_first, spec.keep_last);
        d = *codec::parseDecimal(s);
      }
      break;
    case MaskFunction::FormatPreserving:
      if (!special) {
        std::string canonical;
        codec::formatDecimal(d, canonical);
        detail::fpeDigits(*spec.key, canonical, d.digits);
        // numeric(p, -s) holds multiples of 10^s: keep those zeros.
        if (tm && tm->scale < 0 && d.scale == 0) {
          const auto zeros = std::min(d.digits.size(), static_cast<size_t>(-tm->scale));
          std::fill(d.digits.end() - static_cast<std::ptrdiff_t>(zeros), d.digits.end(), '0');
          if (d.digits.find_first_not_of('0') == std::string::npos) d.digits.clear();
        }
      }
      break;
    case MaskFunction::Hash: {
      std::string canonical;
      codec::formatDecimal(d, canonical);
      // An integer that fits numeric(p, s): p - s digits, or for a negative
      // scale p digits followed by -s zeros.
      int k = 15;
      int scale = 0;
      size_t zeros = 0;
      if (tm) {
        k = std::min(k, tm->precision - std::max(tm->scale, 0));
        scale = std::max(tm->scale, 0);
        zeros = tm->scale < 0 ? static_cast<size_t>(-tm->scale) : 0;
      }
      uint64_t limit = 1;
      for (int i = 0; i < k; ++i) limit *= 10;
      Decimal h;
      if (k > 0) h.digits = std::to_string(detail::hashNumber(*spec.key, canonical) % limit);
      if (h.digits == "0") h.digits.clear();
      if (!h.digits.empty()) h.digits.append(zeros + static_cast<size_t>(scale), '0');
      h.scale = scale;
      d = std::move(h);
      break;
    }
    case MaskFunction::Round:
      if (!special) {
        Decimal rounded = d;
        codec::roundDecimal(rounded, spec.digits);
        // Rounding up may need one more digit than numeric(p, s) holds.
        if (tm && codec::integerDigits(rounded) > tm->precision - tm->scale) {
          codec::roundDecimal(d, spec.digits, true);
        } else {
          d = std::move(rounded);
        }
      }
      break;
    default:
      break;
  }
  if (format == kBinaryFormat) {
    codec::encodeNumericBinary(d, out);
  } else {
    codec::formatDecimal(d, out);
  }
  return true;
}

Result<bool> maskFloat(const MaskSpec& spec, const TypeInfo& t, int16_t format, std::string_view in,
                       std::string& out) {
  double v = 0;
  const MaskFunction f = spec.function;
  if (readsInput(f) && f != MaskFunction::TruncateDate) {
    auto decoded = format == kBinaryFormat ? codec::decodeFloatBinary(in, t.width)
                                           : codec::parseFloat(in, t.width);
    if (!decoded) return decoded.takeError();
    v = *decoded;
  }
  std::string s;
  codec::formatFloat(v, t.width, s);
  double result = 0;
  if (f == MaskFunction::Hash) {
    const uint64_t limit = t.width == 4 ? (1ULL << 24) : (1ULL << 53);
    result = static_cast<double>(detail::hashNumber(*spec.key, s) % limit);
  } else if (!std::isfinite(v) && readsInput(f)) {
    result = v;  // NaN and infinities reveal nothing to hide
  } else if (f == MaskFunction::Partial || f == MaskFunction::FormatPreserving) {
    const std::string canonical = s;
    if (f == MaskFunction::Partial) {
      detail::partialDigits(s, spec.keep_first, spec.keep_last);
    } else {
      detail::fpeDigits(*spec.key, canonical, s);
    }
    auto parsed = codec::parseFloat(s, t.width);
    result = parsed ? *parsed : 0;
  } else if (f == MaskFunction::Round) {
    auto d = codec::parseDecimal(s);
    if (d) {
      codec::roundDecimal(*d, spec.digits);
      std::string rounded;
      codec::formatDecimal(*d, rounded);
      auto parsed = codec::parseFloat(rounded, t.width);
      result = parsed ? *parsed : 0;
    }
  }
  if (format == kBinaryFormat) {
    codec::encodeFloatBinary(result, t.width, out);
  } else {
    codec::formatFloat(result, t.width, out);
  }
  return true;
}

// --- dates, timestamps, uuid -------------------------------------------------

/// PostgreSQL's ranges ([min, end)): dates 4714-11-24 BC to 5874897 AD,
/// timestamps 4714-11-24 BC to 294276 AD. Outside them a value is not one.
constexpr int64_t kMinDate = -2451545;
constexpr int64_t kEndDate = 2145031949;
constexpr int64_t kMinTimestamp = -211813488000000000;
constexpr int64_t kEndTimestamp = 9223371331200000000;

bool inRange(bool is_date, int64_t v) {
  return is_date ? (v >= kMinDate && v < kEndDate) : (v >= kMinTimestamp && v < kEndTimestamp);
}

/// `dt`'s fields from days (date) or local microseconds (timestamps).
void setFields(DateTimeText& dt, bool is_date, int64_t v) {
  if (is_date) {
    const codec::Civil c = codec::civilFromDays(v);
    dt.year = c.year;
    dt.month = c.month;
    dt.day = c.day;
  } else {
    codec::setLocalMicros(dt, v);
  }
}

Result<bool> maskDateTime(const MaskSpec& spec, const TypeInfo& t, int16_t format,
                          std::string_view in, std::string& out) {
  const MaskFunction f = spec.function;
  if (f != MaskFunction::Hash && f != MaskFunction::FormatPreserving &&
      f != MaskFunction::TruncateDate) {
    return false;  // no meaningful stand-in for a date: NULL
  }
  const bool is_date = t.category == Category::Date;
  const auto out_of_range = [] { return fail("22008", "date/time value: out of range"); };
  DateTimeText dt;
  dt.has_time = !is_date;
  int64_t v = 0;  // days (date) or microseconds (timestamps, UTC for timestamptz)
  bool infinite = false;
  if (format == kBinaryFormat) {
    auto decoded = codec::decodeIntBinary(in, is_date ? 4 : 8);
    if (!decoded) return decoded.takeError();
    v = *decoded;
    infinite = is_date ? (v == codec::kDatePosInfinity || v == codec::kDateNegInfinity)
                       : (v == codec::kTimestampPosInfinity || v == codec::kTimestampNegInfinity);
    if (!infinite && !inRange(is_date, v)) return out_of_range();
    if (t.category == Category::TimestampTz) dt.offset = 0;
  } else {
    auto parsed = codec::parseDateTime(in);
    if (!parsed ||
        (parsed->special == DateTimeText::Special::None && parsed->has_time == is_date)) {
      return fail("22007", "date/time value: not in ISO style (pgwarden reads DateStyle ISO)");
    }
    dt = *parsed;
    dt.has_time = !is_date;
    // timestamp ignores a written zone (as timestamp_in does); timestamptz
    // output always shows one, and a value without one is read as UTC.
    if (t.category == Category::Timestamp) dt.offset.reset();
    if (t.category == Category::TimestampTz && !dt.offset) dt.offset = 0;
    infinite = dt.special != DateTimeText::Special::None;
    if (!infinite) {
      if (dt.year < -4713 || dt.year > (is_date ? 5874898 : 294277)) return out_of_range();
      v = is_date ? codec::daysFromCivil(dt.year, dt.month, dt.day)
                  : dt.localMicros() - int64_t{dt.offset.value_or(0)} * 1000000;
      if (!inRange(is_date, v)) return out_of_range();
    }
  }
  if (!infinite) {
    const int64_t offset_us = int64_t{dt.offset.value_or(0)} * 1000000;
    if (f == MaskFunction::TruncateDate) {
      // Truncated as written (text keeps the session's zone), else in UTC.
      setFields(dt, is_date, is_date ? v : v + offset_us);
      detail::truncateDateTime(dt, spec.to);
      v = is_date ? codec::daysFromCivil(dt.year, dt.month, dt.day) : dt.localMicros() - offset_us;
    } else {
      DateTimeText canonical;
      canonical.has_time = !is_date;
      if (t.category == Category::TimestampTz) canonical.offset = 0;
      setFields(canonical, is_date, v);
      std::string text;
      codec::formatDateTime(canonical, text);
      const uint64_t h = detail::hashNumber(*spec.key, text);
      v = derivedDays(h);
      if (!is_date) {
        v = v * codec::kMicrosPerDay + static_cast<int64_t>((h >> 32) % 86400) * 1000000;
      }
      if (dt.offset) dt.offset = 0;  // a derived instant is shown in UTC
    }
  }
  if (format == kBinaryFormat) {
    codec::encodeIntBinary(v, is_date ? 4 : 8, out);
    return true;
  }
  if (!infinite) setFields(dt, is_date, is_date ? v : v + int64_t{dt.offset.value_or(0)} * 1000000);
  codec::formatDateTime(dt, out);
  return true;
}

Result<bool> maskUuid(const MaskSpec& spec, int16_t format, std::string_view in, std::string& out) {
  codec::Uuid u{};
  const MaskFunction f = spec.function;
  if (f == MaskFunction::Partial || f == MaskFunction::Hash ||
      f == MaskFunction::FormatPreserving) {
    if (format == kBinaryFormat) {
      if (in.size() != 16) return fail("22P03", "uuid value: binary length is not 16");
      std::copy(in.begin(), in.end(), u.begin());
    } else {
      auto parsed = codec::parseUuid(in);
      if (!parsed) return parsed.takeError();
      u = *parsed;
    }
  }
  if (f == MaskFunction::Partial) {
    const int first = spec.keep_first, last = spec.keep_last;
    for (int k = 0; k < 32; ++k) {
      if (32 <= first + last || (k >= first && k < 32 - last)) {
        u[static_cast<size_t>(k / 2)] &= k % 2 == 0 ? 0x0f : 0xf0;
      }
    }
  } else if (f == MaskFunction::Hash || f == MaskFunction::FormatPreserving) {
    std::string canonical;
    codec::formatUuid(u, canonical);
    const Hmac::Digest d = spec.key->mac("hash", canonical);
    std::copy_n(d.begin(), 16, u.begin());
    u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x80);  // version 8: custom (RFC 9562)
    u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // RFC variant
  }
  if (format == kBinaryFormat) {
    out.append(reinterpret_cast<const char*>(u.data()), u.size());
  } else {
    codec::formatUuid(u, out);
  }
  return true;
}

Result<bool> maskScalar(const MaskSpec& spec, const TypeInfo& t, int32_t typmod, int16_t format,
                        std::string_view in, std::string& out) {
  if (spec.function == MaskFunction::Null) return false;
  switch (t.category) {
    case Category::Text: {
      std::string r;
      if (!detail::applyToText(spec, in, r)) return false;
      codec::fitText(t.oid, typmod, r);
      out += r;
      return true;
    }
    case Category::Json:
      return maskJson(spec, t, format, in, out);
    case Category::Bytea:
      return maskBytea(spec, format, in, out);
    case Category::Int:
      return maskInt(spec, t, format, in, out);
    case Category::Numeric:
      return maskNumeric(spec, typmod, format, in, out);
    case Category::Float:
      return maskFloat(spec, t, format, in, out);
    case Category::Date:
    case Category::Timestamp:
    case Category::TimestampTz:
      return maskDateTime(spec, t, format, in, out);
    case Category::Uuid:
      return maskUuid(spec, format, in, out);
    case Category::Unknown:
      break;
  }
  return false;
}

}  // namespace

Result<bool> maskValueInto(const MaskSpec& spec, uint32_t type_oid, int32_t typmod, int16_t format,
                           std::string_view value, std::string& out) {
  return maskValueInto(spec, typeInfo(type_oid), typmod, format, value, out);
}

Result<bool> maskValueInto(const MaskSpec& spec, const TypeInfo& t, int32_t typmod, int16_t format,
                           std::string_view value, std::string& out) {
  if (spec.function == MaskFunction::Null || t.category == Category::Unknown) return false;
  const size_t start = out.size();
  Result<bool> r = false;
  if (t.array) {
    auto element = [&](uint32_t element_oid, std::string_view v, std::string& o) -> Result<Cell> {
      auto m = maskScalar(spec, typeInfo(element_oid), typmod, format, v, o);
      if (!m) return m.takeError();
      return *m ? Cell::Value : Cell::Null;
    };
    auto cell = detail::rewriteArray(t.oid, format, value, element, out);
    if (!cell) {
      r = cell.takeError();
    } else {
      // Empty, or only NULL elements: nothing to mask, the value stays.
      if (*cell == Cell::Unchanged) out.append(value);
      r = true;
    }
  } else {
    r = maskScalar(spec, t, typmod, format, value, out);
  }
  if (!r || !*r) out.resize(start);
  return r;
}

Result<std::optional<std::string>> maskValue(const MaskSpec& spec, uint32_t type_oid,
                                             int32_t typmod, int16_t format,
                                             std::string_view value) {
  std::string out;
  auto r = maskValueInto(spec, type_oid, typmod, format, value, out);
  if (!r) return r.takeError();
  if (!*r) return std::optional<std::string>();
  return std::optional<std::string>(std::move(out));
}

std::string maskText(const MaskSpec& spec, std::string_view text) {
  std::string out;
  if (!detail::applyToText(spec, text, out)) out = spec.text;
  return out;
}

}  // namespace pgw::mask
