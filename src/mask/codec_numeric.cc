/// numeric: text and binary forms, rounding. The binary form is numeric_send's
/// (src/backend/utils/adt/numeric.c): base-10000 digits with a weight.

#include <algorithm>
#include <cctype>

#include "common/bytes.h"
#include "mask/codec.h"

namespace pgw::mask::codec {
namespace {

constexpr uint16_t kNumericPos = 0x0000;
constexpr uint16_t kNumericNeg = 0x4000;
constexpr uint16_t kNumericNaN = 0xC000;
constexpr uint16_t kNumericPInf = 0xD000;
constexpr uint16_t kNumericNInf = 0xF000;
constexpr int kMaxDscale = 0x3FFF;
/// Bounds what a text value may expand to ("1e100000" would be 100k digits).
constexpr int kMaxExponent = 1000;

Error badNumeric(std::string_view why) {
  return fail("22P02", "numeric value: " + std::string(why));
}

bool equalsNoCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

void stripLeadingZeros(std::string& s) {
  size_t i = 0;
  while (i < s.size() && s[i] == '0') ++i;
  s.erase(0, i);
}

}  // namespace

Result<Decimal> parseDecimal(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0)
    text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0)
    text.remove_suffix(1);
  Decimal d;
  if (equalsNoCase(text, "nan")) {
    d.special = Decimal::Special::NaN;
    return d;
  }
  bool negative = false;
  std::string_view body = text;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (equalsNoCase(body, "infinity") || equalsNoCase(body, "inf")) {
    d.special = negative ? Decimal::Special::NegInf : Decimal::Special::PosInf;
    return d;
  }
  size_t i = 0;
  int frac = 0;
  bool seen_digit = false;
  bool seen_point = false;
  for (; i < body.size(); ++i) {
    const char c = body[i];
    if (c >= '0' && c <= '9') {
      d.digits.push_back(c);
      seen_digit = true;
      if (seen_point) ++frac;
    } else if (c == '.' && !seen_point) {
      seen_point = true;
    } else {
      break;
    }
  }
  if (!seen_digit) return badNumeric("not a number");
  int exponent = 0;
  if (i < body.size() && (body[i] == 'e' || body[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < body.size() && (body[i] == '+' || body[i] == '-')) exp_negative = body[i++] == '-';
    if (i == body.size()) return badNumeric("exponent without digits");
    for (; i < body.size() && body[i] >= '0' && body[i] <= '9'; ++i) {
      exponent = exponent * 10 + (body[i] - '0');
      if (exponent > kMaxExponent) return badNumeric("exponent out of range");
    }
    if (exp_negative) exponent = -exponent;
  }
  if (i != body.size()) return badNumeric("trailing characters");
  int scale = frac - exponent;
  if (scale < 0) {
    d.digits.append(static_cast<size_t>(-scale), '0');
    scale = 0;
  }
  if (scale > kMaxDscale) return badNumeric("too many digits after the point");
  d.scale = scale;
  stripLeadingZeros(d.digits);
  d.negative = negative && !d.digits.empty();
  return d;
}

void formatDecimal(const Decimal& d, std::string& out) {
  switch (d.special) {
    case Decimal::Special::NaN:
      out += "NaN";
      return;
    case Decimal::Special::PosInf:
      out += "Infinity";
      return;
    case Decimal::Special::NegInf:
      out += "-Infinity";
      return;
    case Decimal::Special::None:
      break;
  }
  if (d.negative && !d.digits.empty()) out += '-';
  const size_t scale = static_cast<size_t>(d.scale);
  const size_t len = d.digits.size();
  if (len <= scale) {
    out += '0';
  } else {
    out.append(d.digits, 0, len - scale);
  }
  if (scale == 0) return;
  out += '.';
  if (len < scale) out.append(scale - len, '0');
  out.append(d.digits, len > scale ? len - scale : 0, std::string::npos);
}

Result<Decimal> decodeNumericBinary(std::string_view bytes) {
  if (bytes.size() < 8) return badNumeric("binary value shorter than its header");
  const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
  const int ndigits = getI16(p);
  const int weight = getI16(p + 2);
  const uint16_t sign = static_cast<uint16_t>(getI16(p + 4));
  const int dscale = getI16(p + 6);
  if (ndigits < 0 || bytes.size() != 8 + 2 * static_cast<size_t>(ndigits)) {
    return badNumeric("binary digit count does not match its length");
  }
  if (dscale < 0 || dscale > kMaxDscale) return badNumeric("invalid display scale");
  Decimal d;
  if (sign == kNumericNaN || sign == kNumericPInf || sign == kNumericNInf) {
    d.special = sign == kNumericNaN    ? Decimal::Special::NaN
                : sign == kNumericPInf ? Decimal::Special::PosInf
                                       : Decimal::Special::NegInf;
    return d;
  }
  if (sign != kNumericPos && sign != kNumericNeg) return badNumeric("invalid sign");
  std::string all;
  all.reserve(4 * static_cast<size_t>(ndigits));
  for (int i = 0; i < ndigits; ++i) {
    const int digit = getI16(p + 8 + 2 * i);
    if (digit < 0 || digit > 9999) return badNumeric("invalid base-10000 digit");
    const char group[4] = {
        static_cast<char>('0' + digit / 1000), static_cast<char>('0' + digit / 100 % 10),
        static_cast<char>('0' + digit / 10 % 10), static_cast<char>('0' + digit % 10)};
    all.append(group, 4);
  }
  // The decimal point sits after 4 * (weight + 1) digits of `all`.
  const long int_len = 4L * (weight + 1);
  std::string integer, fraction;
  if (int_len >= static_cast<long>(all.size())) {
    integer = all;
    integer.append(static_cast<size_t>(int_len) - all.size(), '0');
  } else if (int_len <= 0) {
    fraction.assign(static_cast<size_t>(-int_len), '0');
    fraction += all;
  } else {
    integer = all.substr(0, static_cast<size_t>(int_len));
    fraction = all.substr(static_cast<size_t>(int_len));
  }
  while (fraction.size() > static_cast<size_t>(dscale) && fraction.back() == '0')
    fraction.pop_back();
  if (fraction.size() > kMaxDscale) return badNumeric("too many digits after the point");
  if (fraction.size() < static_cast<size_t>(dscale))
    fraction.append(static_cast<size_t>(dscale) - fraction.size(), '0');
  d.scale = static_cast<int32_t>(fraction.size());
  d.digits = integer + fraction;
  stripLeadingZeros(d.digits);
  d.negative = sign == kNumericNeg && !d.digits.empty();
  return d;
}

void encodeNumericBinary(const Decimal& d, std::string& out) {
  ByteWriter w(out);
  if (d.special != Decimal::Special::None) {
    w.i16(0);
    w.i16(0);
    w.i16(static_cast<int16_t>(d.special == Decimal::Special::NaN      ? kNumericNaN
                               : d.special == Decimal::Special::PosInf ? kNumericPInf
                                                                       : kNumericNInf));
    w.i16(0);
    return;
  }
  // Split at the decimal point and pad both sides to whole base-10000 digits.
  const long len = static_cast<long>(d.digits.size());
  const long int_len = len - d.scale;
  std::string integer = int_len > 0 ? d.digits.substr(0, static_cast<size_t>(int_len)) : "";
  std::string fraction = int_len >= 0 ? d.digits.substr(static_cast<size_t>(int_len))
                                      : std::string(static_cast<size_t>(-int_len), '0') + d.digits;
  integer.insert(0, (4 - integer.size() % 4) % 4, '0');
  fraction.append((4 - fraction.size() % 4) % 4, '0');
  std::string all = integer + fraction;
  int weight = static_cast<int>(integer.size() / 4) - 1;
  size_t first = 0;
  size_t last = all.size() / 4;  // one past the last group kept
  auto group = [&](size_t g) {
    return (all[4 * g] - '0') * 1000 + (all[4 * g + 1] - '0') * 100 + (all[4 * g + 2] - '0') * 10 +
           (all[4 * g + 3] - '0');
  };
  while (first < last && group(first) == 0) {
    ++first;
    --weight;
  }
  while (last > first && group(last - 1) == 0) --last;
  if (first == last) weight = 0;
  w.i16(static_cast<int16_t>(last - first));
  w.i16(static_cast<int16_t>(weight));
  w.i16(static_cast<int16_t>(d.negative && first < last ? kNumericNeg : kNumericPos));
  w.i16(static_cast<int16_t>(d.scale));
  for (size_t g = first; g < last; ++g) w.i16(static_cast<int16_t>(group(g)));
}

void roundDecimal(Decimal& d, int digits, bool toward_zero) {
  if (d.special != Decimal::Special::None || digits >= d.scale) return;
  const size_t drop = static_cast<size_t>(d.scale - digits);
  std::string s = d.digits;
  if (s.size() <= drop) s.insert(0, drop + 1 - s.size(), '0');
  const bool up = !toward_zero && s[s.size() - drop] >= '5';
  s.resize(s.size() - drop);
  if (up) {
    size_t i = s.size();
    while (i > 0 && s[i - 1] == '9') s[--i] = '0';
    if (i == 0) {
      s.insert(0, 1, '1');
    } else {
      ++s[i - 1];
    }
  }
  s.append(drop, '0');
  stripLeadingZeros(s);
  d.digits = std::move(s);
  if (d.digits.empty()) d.negative = false;
}

int integerDigits(const Decimal& d) {
  return std::max(0, static_cast<int>(d.digits.size()) - d.scale);
}

std::optional<NumericTypmod> numericTypmod(int32_t typmod) {
  if (typmod < 4) return std::nullopt;
  const int32_t t = typmod - 4;
  NumericTypmod m;
  m.precision = (t >> 16) & 0xffff;
  m.scale = ((t & 0x7ff) ^ 1024) - 1024;  // 11-bit signed since PostgreSQL 15
  return m;
}

}  // namespace pgw::mask::codec
