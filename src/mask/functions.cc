/// The mask functions on text values and detector spans.

#include "mask/functions.h"

#include <vector>

#include "common/ascii.h"

namespace pgw::mask::detail {
namespace {

constexpr char kHex[] = "0123456789abcdef";

using ascii::isDigit;

bool luhnValid(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

/// The check digit that makes `body` + digit Luhn-valid.
char luhnCheckDigit(std::string_view body) {
  int sum = 0;
  bool twice = true;  // the check digit itself is not doubled
  for (size_t i = body.size(); i-- > 0;) {
    int d = body[i] - '0';
    if (twice) d = d * 2 > 9 ? d * 2 - 9 : d * 2;
    sum += d;
    twice = !twice;
  }
  return static_cast<char>('0' + (10 - sum % 10) % 10);
}

/// Digits of a number's text up to an exponent ("1.5e+20": 1, 5).
size_t mantissaEnd(std::string_view s) {
  const size_t e = s.find_first_of("eE");
  return e == std::string_view::npos ? s.size() : e;
}

bool isDomain(std::string_view d) {
  if (d.size() < 3 || d.front() == '.' || d.back() == '.' || d.find('.') == std::string_view::npos)
    return false;
  for (char c : d) {
    const auto u = static_cast<unsigned char>(c);
    if (!ascii::isAlnum(c) && c != '-' && c != '.' && u < 0x80) return false;
  }
  return true;
}

}  // namespace

void partialText(std::string_view s, int first, int last, std::string& out) {
  const size_t n = codec::utf8Length(s);
  const auto keep_first = static_cast<size_t>(first);
  const auto keep_last = static_cast<size_t>(last);
  if (n <= keep_first + keep_last) {
    out.append(n, '*');
    return;
  }
  const size_t head = codec::utf8Prefix(s, keep_first);
  const size_t tail = codec::utf8Prefix(s, n - keep_last);
  out.append(s.substr(0, head));
  out.append(n - keep_first - keep_last, '*');
  out.append(s.substr(tail));
}

bool emailText(std::string_view s, std::string& out) {
  const size_t at = s.rfind('@');
  if (at == std::string_view::npos || at == 0) return false;
  for (size_t i = 0; i < at; ++i) {
    if (ascii::isSpace(s[i])) return false;
  }
  const std::string_view domain = s.substr(at + 1);
  if (!isDomain(domain)) return false;
  out += "***@";
  out.append(domain);
  return true;
}

void fpeText(const Hmac& key, std::string_view s, std::string& out) {
  // The stream is keyed by the letters and digits only, so the same card
  // written with spaces or dashes masks to the same digits.
  std::string canonical;
  std::string digits;
  size_t replaced = 0;  // characters that take a byte of the stream
  for (size_t i = 0; i < s.size(); ++i) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (isDigit(s[i])) digits += s[i];
    if (ascii::isAlnum(s[i]) || u >= 0x80) canonical += s[i];
    if (ascii::isAlnum(s[i]) || (u & 0xC0) == 0xC0) ++replaced;
  }
  std::vector<uint8_t> stream(replaced);
  key.stream("fpe", canonical, stream);
  const size_t start = out.size();
  size_t k = 0;
  for (size_t i = 0; i < s.size();) {
    const char c = s[i];
    const auto u = static_cast<unsigned char>(c);
    if (isDigit(c)) {
      out += static_cast<char>('0' + stream[k++] % 10);
      ++i;
    } else if (ascii::isAlpha(c)) {
      out += static_cast<char>((c >= 'a' ? 'a' : 'A') + stream[k++] % 26);
      ++i;
    } else if ((u & 0xC0) == 0xC0) {
      // A non-ASCII character becomes one ASCII letter: the length in
      // characters is kept, and nothing of the original survives.
      out += static_cast<char>('a' + stream[k++] % 26);
      ++i;
      while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    } else if (u >= 0x80) {
      ++i;  // a stray continuation byte: dropped
    } else {
      out += c;
      ++i;
    }
  }
  if (digits.size() >= 13 && digits.size() <= 19 && luhnValid(digits)) {
    std::string masked;
    size_t last = std::string::npos;
    for (size_t i = start; i < out.size(); ++i) {
      if (isDigit(out[i])) {
        masked += out[i];
        last = i;
      }
    }
    out[last] = luhnCheckDigit(std::string_view(masked).substr(0, masked.size() - 1));
  }
}

void hashHex(const Hmac& key, std::string_view canonical, int length, std::string& out) {
  const Hmac::Digest d = key.mac("hash", canonical);
  for (int i = 0; i < length && i < 64; ++i) {
    const uint8_t b = d[static_cast<size_t>(i / 2)];
    out += kHex[i % 2 == 0 ? b >> 4 : b & 15];
  }
}

uint64_t hashNumber(const Hmac& key, std::string_view canonical) {
  const Hmac::Digest d = key.mac("hash", canonical);
  uint64_t v = 0;
  for (size_t i = 0; i < 8; ++i) v = v << 8 | d[i];
  return v;
}

void truncateDateTime(codec::DateTimeText& t, DateUnit unit) {
  if (t.special != codec::DateTimeText::Special::None) return;
  if (unit == DateUnit::Year) t.month = 1;
  if (unit != DateUnit::Day) t.day = 1;
  t.hour = t.minute = t.second = 0;
  t.micros = 0;
}

void partialDigits(std::string& s, int first, int last) {
  const size_t end = mantissaEnd(s);
  size_t total = 0;
  for (size_t i = 0; i < end; ++i) total += isDigit(s[i]);
  const auto keep_first = static_cast<size_t>(first);
  const auto keep_last = static_cast<size_t>(last);
  const bool all = total <= keep_first + keep_last;
  size_t k = 0;
  for (size_t i = 0; i < end; ++i) {
    if (!isDigit(s[i])) continue;
    if (all || (k >= keep_first && k < total - keep_last)) s[i] = '0';
    ++k;
  }
}

void fpeDigits(const Hmac& key, std::string_view canonical, std::string& s) {
  const size_t end = mantissaEnd(s);
  std::vector<uint8_t> stream(end);
  key.stream("fpe", canonical, stream);
  bool first = true;
  for (size_t i = 0; i < end; ++i) {
    if (!isDigit(s[i])) continue;
    s[i] = first && s[i] != '0' ? static_cast<char>('1' + stream[i] % 9)
                                : static_cast<char>('0' + stream[i] % 10);
    first = false;
  }
}

bool applyToText(const MaskSpec& spec, std::string_view in, std::string& out) {
  switch (spec.function) {
    case MaskFunction::Null:
      return false;
    case MaskFunction::Redact:
      out += spec.text;
      return true;
    case MaskFunction::Partial:
      partialText(in, spec.keep_first, spec.keep_last, out);
      return true;
    case MaskFunction::Email:
      if (!emailText(in, out)) out += spec.text;
      return true;
    case MaskFunction::Hash:
      hashHex(*spec.key, in, spec.length, out);
      return true;
    case MaskFunction::FormatPreserving:
      fpeText(*spec.key, in, out);
      return true;
    case MaskFunction::TruncateDate:
      if (auto t = codec::parseDateTime(in)) {
        truncateDateTime(*t, spec.to);
        codec::formatDateTime(*t, out);
      } else {
        out += spec.text;
      }
      return true;
    case MaskFunction::Round:
      if (auto d = codec::parseDecimal(in); d && d->special == codec::Decimal::Special::None) {
        codec::roundDecimal(*d, spec.digits);
        // Text has no column scale to keep: "12.345" rounds to "12.35".
        if (spec.digits >= 0 && d->scale > spec.digits) {
          const auto drop = static_cast<size_t>(d->scale - spec.digits);
          d->digits.resize(d->digits.size() > drop ? d->digits.size() - drop : 0);
          d->scale = spec.digits;
        }
        codec::formatDecimal(*d, out);
      } else {
        out += spec.text;
      }
      return true;
  }
  return false;
}

}  // namespace pgw::mask::detail
