/// Dates and timestamps in ISO style (DateStyle ISO: "2024-03-05 12:34:56.5+01",
/// "0044-03-15 BC"), and the proleptic Gregorian day arithmetic behind the
/// binary forms (days / microseconds since 2000-01-01).

#include <cctype>
#include <cstdio>

#include "mask/codec.h"

namespace pgw::mask::codec {
namespace {

/// 1970-01-01 to 2000-01-01.
constexpr int64_t kEpochShift = 10957;

int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

bool isLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int daysInMonth(int64_t y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

/// Reads exactly `n` digits (n > 0) at `pos`.
bool digits(std::string_view s, size_t& pos, size_t n, int64_t& out) {
  if (pos + n > s.size()) return false;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += n;
  out = v;
  return true;
}

/// "+05", "+05:30", "+0530", "-03:00:12", "Z"; seconds east of UTC.
bool parseOffset(std::string_view s, size_t& pos, int32_t& out) {
  if (pos < s.size() && s[pos] == 'Z') {
    ++pos;
    out = 0;
    return true;
  }
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return false;
  const int sign = s[pos++] == '-' ? -1 : 1;
  int64_t h = 0, m = 0, sec = 0;
  if (!digits(s, pos, 2, h)) return false;
  if (pos < s.size() && s[pos] == ':') {
    ++pos;
    if (!digits(s, pos, 2, m)) return false;
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!digits(s, pos, 2, sec)) return false;
    }
  } else if (pos + 2 <= s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) != 0) {
    if (!digits(s, pos, 2, m)) return false;
  }
  if (h > 15 || m > 59 || sec > 59) return false;
  out = static_cast<int32_t>(sign * (h * 3600 + m * 60 + sec));
  return true;
}

void appendPadded(int64_t v, int width, std::string& out) {
  char buf[32];
  const int n = std::snprintf(buf, sizeof buf, "%0*lld", width, static_cast<long long>(v));
  out.append(buf, static_cast<size_t>(n));
}

}  // namespace

int32_t daysFromCivil(int64_t year, int month, int day) {
  // Count from 0000-03-01 so the leap day ends a year (Neri/Hinnant style).
  const int64_t y = year - (month <= 2 ? 1 : 0);
  const int64_t era = floorDiv(y, 400);
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<int32_t>(era * 146097 + doe - 719468 - kEpochShift);
}

Civil civilFromDays(int64_t days) {
  const int64_t z = days + kEpochShift + 719468;
  const int64_t era = floorDiv(z, 146097);
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

int64_t DateTimeText::localMicros() const {
  const int64_t days = daysFromCivil(year, month, day);
  return days * kMicrosPerDay + ((hour * 60LL + minute) * 60 + second) * 1000000LL + micros;
}

void setLocalMicros(DateTimeText& t, int64_t micros) {
  const int64_t days = floorDiv(micros, kMicrosPerDay);
  int64_t rest = micros - days * kMicrosPerDay;
  const Civil c = civilFromDays(days);
  t.year = c.year;
  t.month = c.month;
  t.day = c.day;
  t.micros = static_cast<int32_t>(rest % 1000000);
  rest /= 1000000;
  t.second = static_cast<int>(rest % 60);
  t.minute = static_cast<int>(rest / 60 % 60);
  t.hour = static_cast<int>(rest / 3600);
}

std::optional<DateTimeText> parseDateTime(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  DateTimeText t;
  if (s == "infinity" || s == "+infinity") {
    t.special = DateTimeText::Special::PosInf;
    return t;
  }
  if (s == "-infinity") {
    t.special = DateTimeText::Special::NegInf;
    return t;
  }
  bool bc = false;
  if (s.size() > 3 && s.substr(s.size() - 3) == " BC") {
    bc = true;
    s.remove_suffix(3);
  }
  size_t pos = 0;
  size_t year_digits = 0;
  while (pos + year_digits < s.size() && year_digits < 8 &&
         std::isdigit(static_cast<unsigned char>(s[pos + year_digits])) != 0) {
    ++year_digits;
  }
  int64_t y = 0, mo = 0, d = 0;
  if (year_digits < 4 || !digits(s, pos, year_digits, y)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, mo)) return std::nullopt;
  if (pos >= s.size() || s[pos++] != '-' || !digits(s, pos, 2, d)) return std::nullopt;
  if (bc && y == 0) return std::nullopt;
  t.year = bc ? 1 - y : y;
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(t.year, static_cast<int>(mo)))
    return std::nullopt;
  t.month = static_cast<int>(mo);
  t.day = static_cast<int>(d);
  if (pos < s.size() && (s[pos] == ' ' || s[pos] == 'T')) {
    t.has_time = true;
    t.separator = s[pos++];
    int64_t h = 0, mi = 0, sec = 0;
    if (!digits(s, pos, 2, h) || pos >= s.size() || s[pos++] != ':' || !digits(s, pos, 2, mi)) {
      return std::nullopt;
    }
    if (pos < s.size() && s[pos] == ':') {
      ++pos;
      if (!digits(s, pos, 2, sec)) return std::nullopt;
      if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int64_t frac = 0;
        size_t n = 0;
        while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])) != 0) {
          if (n < 6) frac = frac * 10 + (s[pos] - '0');
          ++n;
          ++pos;
        }
        if (n == 0) return std::nullopt;
        for (size_t i = n; i < 6; ++i) frac *= 10;
        t.micros = static_cast<int32_t>(frac);
      }
    }
    if (h > 24 || mi > 59 || sec > 60 || (h == 24 && (mi != 0 || sec != 0 || t.micros != 0))) {
      return std::nullopt;
    }
    t.hour = static_cast<int>(h);
    t.minute = static_cast<int>(mi);
    t.second = static_cast<int>(sec);
    if (pos < s.size()) {
      int32_t offset = 0;
      if (!parseOffset(s, pos, offset)) return std::nullopt;
      t.offset = offset;
    }
  }
  if (pos != s.size()) return std::nullopt;
  return t;
}

void formatDateTime(const DateTimeText& t, std::string& out) {
  if (t.special == DateTimeText::Special::PosInf) {
    out += "infinity";
    return;
  }
  if (t.special == DateTimeText::Special::NegInf) {
    out += "-infinity";
    return;
  }
  const bool bc = t.year <= 0;
  appendPadded(bc ? 1 - t.year : t.year, 4, out);
  out += '-';
  appendPadded(t.month, 2, out);
  out += '-';
  appendPadded(t.day, 2, out);
  if (t.has_time) {
    out += t.separator;
    appendPadded(t.hour, 2, out);
    out += ':';
    appendPadded(t.minute, 2, out);
    out += ':';
    appendPadded(t.second, 2, out);
    if (t.micros != 0) {
      std::string frac;
      appendPadded(t.micros, 6, frac);
      while (frac.back() == '0') frac.pop_back();
      out += '.';
      out += frac;
    }
    if (t.offset) {
      const int32_t abs = *t.offset < 0 ? -*t.offset : *t.offset;
      out += *t.offset < 0 ? '-' : '+';
      appendPadded(abs / 3600, 2, out);
      if (abs % 3600 != 0) {
        out += ':';
        appendPadded(abs / 60 % 60, 2, out);
        if (abs % 60 != 0) {
          out += ':';
          appendPadded(abs % 60, 2, out);
        }
      }
    }
  }
  if (bc) out += " BC";
}

}  // namespace pgw::mask::codec
