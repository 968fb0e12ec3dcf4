#include "pg_decode.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <functional>
#include <regex>

namespace pgw::mask::testing {
namespace {

uint64_t be(std::string_view b, size_t at, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}
int16_t i16(std::string_view b, size_t at) {
  return static_cast<int16_t>(be(b, at, 2));
}
int32_t i32(std::string_view b, size_t at) {
  return static_cast<int32_t>(be(b, at, 4));
}

bool leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
int monthDays(int64_t y, int m) {
  static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : d[m - 1];
}

/// Days since 2000-01-01 by walking years and months (slow, obviously right).
std::string civil(int64_t days) {
  int64_t y = 2000;
  while (days < 0) days += leap(--y) ? 366 : 365;
  while (days >= (leap(y) ? 366 : 365)) days -= leap(y++) ? 366 : 365;
  int m = 1;
  while (days >= monthDays(y, m)) days -= monthDays(y, m++);
  char buf[48];
  const bool bc = y <= 0;
  std::snprintf(buf, sizeof buf, "%04lld-%02d-%02d%s", static_cast<long long>(bc ? 1 - y : y), m,
                static_cast<int>(days) + 1, "");
  return std::string(buf) + (bc ? " BC" : "");
}

/// Recursive-descent JSON check.
struct Json {
  std::string_view s;
  size_t i = 0;
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  }
  bool lit(std::string_view w) {
    if (s.substr(i, w.size()) != w) return false;
    i += w.size();
    return true;
  }
  bool str() {
    if (i >= s.size() || s[i] != '"') return false;
    for (++i; i < s.size(); ++i) {
      const auto c = static_cast<unsigned char>(s[i]);
      if (c == '"') {
        ++i;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i >= s.size()) return false;
        if (s[i] == 'u') {
          for (int k = 0; k < 4; ++k) {
            if (++i >= s.size() || std::isxdigit(static_cast<unsigned char>(s[i])) == 0)
              return false;
          }
        } else if (std::string_view("\"\\/bfnrt").find(s[i]) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool num() {
    static const std::regex re(R"(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?)");
    size_t j = i;
    while (j < s.size() && std::string_view("+-.eE0123456789").find(s[j]) != std::string_view::npos)
      ++j;
    if (!std::regex_match(std::string(s.substr(i, j - i)), re)) return false;
    i = j;
    return true;
  }
  bool value(int depth = 0) {
    if (depth > 64) return false;
    ws();
    if (i >= s.size()) return false;
    bool ok = false;
    if (s[i] == '{' || s[i] == '[') {
      const char close = s[i] == '{' ? '}' : ']';
      const bool obj = s[i] == '{';
      ++i;
      ws();
      if (i < s.size() && s[i] == close) {
        ++i;
        ok = true;
      } else {
        while (true) {
          ws();
          if (obj) {
            if (!str()) return false;
            ws();
            if (i >= s.size() || s[i++] != ':') return false;
          }
          if (!value(depth + 1)) return false;
          ws();
          if (i < s.size() && s[i] == ',') {
            ++i;
            continue;
          }
          if (i < s.size() && s[i] == close) {
            ++i;
            ok = true;
          }
          break;
        }
      }
    } else if (s[i] == '"') {
      ok = str();
    } else if (s[i] == '-' || std::isdigit(static_cast<unsigned char>(s[i])) != 0) {
      ok = num();
    } else {
      ok = lit("true") || lit("false") || lit("null");
    }
    ws();
    return ok;
  }
};

uint32_t elementOf(uint32_t oid) {
  switch (oid) {
    case 199:
      return 114;
    case 1001:
      return 17;
    case 1003:
      return 19;
    case 1005:
      return 21;
    case 1007:
      return 23;
    case 1009:
      return 25;
    case 1014:
      return 1042;
    case 1015:
      return 1043;
    case 1016:
      return 20;
    case 1021:
      return 700;
    case 1022:
      return 701;
    case 1115:
      return 1114;
    case 1182:
      return 1082;
    case 1185:
      return 1184;
    case 1231:
      return 1700;
    case 2951:
      return 2950;
    case 3807:
      return 3802;
    default:
      return 0;
  }
}

void arrayElementText(std::string_view v, std::string& out) {
  bool quote = v.empty() || v == "NULL" || v == "null";
  for (char c : v)
    quote = quote || std::string_view("{}\",\\ \t\n\r\v\f").find(c) != std::string_view::npos;
  if (!quote) {
    out.append(v);
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

size_t utf8Chars(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string hex(std::string_view bytes) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += d[c >> 4];
    out += d[c & 15];
  }
  return out;
}

std::string unhex(std::string_view h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(h.substr(i, 2)), nullptr, 16));
  }
  return out;
}

std::optional<int64_t> intValue(std::string_view bin, int width) {
  if (bin.size() != static_cast<size_t>(width)) return std::nullopt;
  if (width == 2) return i16(bin, 0);
  if (width == 4) return i32(bin, 0);
  return static_cast<int64_t>(be(bin, 0, 8));
}

std::optional<std::string> numericText(std::string_view bin) {
  if (bin.size() < 8) return std::nullopt;
  const int ndigits = i16(bin, 0), weight = i16(bin, 2), dscale = i16(bin, 6);
  const auto sign = static_cast<uint16_t>(i16(bin, 4));
  if (ndigits < 0 || bin.size() != 8 + 2 * static_cast<size_t>(ndigits)) return std::nullopt;
  if (dscale < 0 || dscale > 0x3FFF) return std::nullopt;
  if (sign == 0xC000) return "NaN";
  if (sign == 0xD000) return "Infinity";
  if (sign == 0xF000) return "-Infinity";
  if (sign != 0 && sign != 0x4000) return std::nullopt;
  std::vector<int> d;
  for (int k = 0; k < ndigits; ++k) {
    const int v = i16(bin, 8 + 2 * static_cast<size_t>(k));
    if (v < 0 || v > 9999) return std::nullopt;
    d.push_back(v);
  }
  auto group = [&](int w) {  // the base-10000 digit of weight w
    const int idx = weight - w;
    return idx >= 0 && idx < ndigits ? d[static_cast<size_t>(idx)] : 0;
  };
  std::string out = sign == 0x4000 && ndigits > 0 ? "-" : "";
  if (weight < 0) {
    out += '0';
  } else {
    out += std::to_string(group(weight));
    char buf[8];
    for (int w = weight - 1; w >= 0; --w) {
      std::snprintf(buf, sizeof buf, "%04d", group(w));
      out += buf;
    }
  }
  if (dscale > 0) {
    std::string frac;
    char buf[8];
    for (int w = -1; static_cast<int>(frac.size()) < dscale; --w) {
      std::snprintf(buf, sizeof buf, "%04d", group(w));
      frac += buf;
    }
    out += '.' + frac.substr(0, static_cast<size_t>(dscale));
  }
  return out;
}

std::optional<double> floatValue(std::string_view bin, int width) {
  if (bin.size() != static_cast<size_t>(width)) return std::nullopt;
  if (width == 4) return std::bit_cast<float>(static_cast<uint32_t>(be(bin, 0, 4)));
  return std::bit_cast<double>(be(bin, 0, 8));
}

std::optional<std::string> dateText(std::string_view bin) {
  if (bin.size() != 4) return std::nullopt;
  const int32_t days = i32(bin, 0);
  if (days == INT32_MAX) return "infinity";
  if (days == INT32_MIN) return "-infinity";
  return civil(days);
}

std::optional<std::string> timestampText(std::string_view bin, bool tz) {
  if (bin.size() != 8) return std::nullopt;
  const auto us = static_cast<int64_t>(be(bin, 0, 8));
  if (us == INT64_MAX) return "infinity";
  if (us == INT64_MIN) return "-infinity";
  const int64_t day_us = 86400LL * 1000000;
  int64_t days = us / day_us, rest = us % day_us;
  if (rest < 0) {
    rest += day_us;
    --days;
  }
  std::string date = civil(days);
  std::string bc;
  if (date.size() > 3 && date.substr(date.size() - 3) == " BC") {
    bc = " BC";
    date.resize(date.size() - 3);
  }
  char buf[64];
  const int64_t s = rest / 1000000, frac = rest % 1000000;
  std::snprintf(buf, sizeof buf, " %02lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  std::string out = date + buf;
  if (frac != 0) {
    std::snprintf(buf, sizeof buf, ".%06lld", static_cast<long long>(frac));
    std::string f = buf;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + (tz ? "+00" : "") + bc;
}

std::optional<std::string> uuidText(std::string_view bin) {
  if (bin.size() != 16) return std::nullopt;
  const std::string h = hex(bin);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

std::optional<ArrayValue> arrayValue(std::string_view bin) {
  ArrayValue a;
  if (bin.size() < 12) return std::nullopt;
  a.ndim = i32(bin, 0);
  const int32_t flags = i32(bin, 4);
  a.element_oid = static_cast<uint32_t>(i32(bin, 8));
  if (a.ndim < 0 || a.ndim > 6 || (flags != 0 && flags != 1)) return std::nullopt;
  a.has_null_flag = flags == 1;
  size_t pos = 12;
  int64_t count = a.ndim == 0 ? 0 : 1;
  for (int k = 0; k < a.ndim; ++k) {
    if (bin.size() < pos + 8) return std::nullopt;
    a.dims.emplace_back(i32(bin, pos), i32(bin, pos + 4));
    if (a.dims.back().first < 0) return std::nullopt;
    count *= a.dims.back().first;
    pos += 8;
  }
  bool any_null = false;
  for (int64_t k = 0; k < count; ++k) {
    if (bin.size() < pos + 4) return std::nullopt;
    const int32_t len = i32(bin, pos);
    pos += 4;
    if (len == -1) {
      a.elements.emplace_back(std::nullopt);
      any_null = true;
      continue;
    }
    if (len < 0 || bin.size() - pos < static_cast<size_t>(len)) return std::nullopt;
    a.elements.emplace_back(std::string(bin.substr(pos, static_cast<size_t>(len))));
    pos += static_cast<size_t>(len);
  }
  if (pos != bin.size() || any_null != a.has_null_flag) return std::nullopt;
  return a;
}

bool validJson(std::string_view text) {
  Json j{text};
  return j.value() && j.i == text.size();
}

std::optional<std::string> binaryToText(uint32_t oid, std::string_view bin) {
  if (const uint32_t element = elementOf(oid); element != 0) {
    auto a = arrayValue(bin);
    if (!a || (a->ndim > 0 && a->element_oid != element)) return std::nullopt;
    if (a->ndim == 0) return "{}";
    std::string out;
    bool default_bounds = true;
    for (auto [size, lower] : a->dims) default_bounds = default_bounds && lower == 1;
    if (!default_bounds) {
      for (auto [size, lower] : a->dims)
        out += "[" + std::to_string(lower) + ":" + std::to_string(lower + size - 1) + "]";
      out += "=";
    }
    // Nested braces: one level per dimension.
    size_t next = 0;
    std::function<bool(size_t)> emit = [&](size_t k) {
      out += '{';
      for (int32_t j = 0; j < a->dims[k].first; ++j) {
        if (j > 0) out += ',';
        if (k + 1 < a->dims.size()) {
          if (!emit(k + 1)) return false;
          continue;
        }
        const auto& e = a->elements[next++];
        if (!e) {
          out += "NULL";
          continue;
        }
        auto t = binaryToText(element, *e);
        if (!t) return false;
        arrayElementText(*t, out);
      }
      out += '}';
      return true;
    };
    if (!emit(0)) return std::nullopt;
    return out;
  }
  switch (oid) {
    case 25:
    case 1043:
    case 1042:
    case 19:
    case 705:
      return std::string(bin);
    case 114:
      if (!validJson(bin)) return std::nullopt;
      return std::string(bin);
    case 3802:
      if (bin.empty() || bin[0] != 1 || !validJson(bin.substr(1))) return std::nullopt;
      return std::string(bin.substr(1));
    case 17:
      return "\\x" + hex(bin);
    case 21:
    case 23:
    case 20: {
      auto v = intValue(bin, oid == 21 ? 2 : oid == 23 ? 4 : 8);
      if (!v) return std::nullopt;
      return std::to_string(*v);
    }
    case 1700:
      return numericText(bin);
    case 700:
    case 701: {
      auto v = floatValue(bin, oid == 700 ? 4 : 8);
      if (!v) return std::nullopt;
      if (std::isnan(*v)) return "NaN";
      if (std::isinf(*v)) return *v < 0 ? "-Infinity" : "Infinity";
      char buf[64];
      auto r = oid == 700 ? std::to_chars(buf, buf + 64, static_cast<float>(*v))
                          : std::to_chars(buf, buf + 64, *v);
      return std::string(buf, r.ptr);
    }
    case 1082:
      return dateText(bin);
    case 1114:
      return timestampText(bin, false);
    case 1184:
      return timestampText(bin, true);
    case 2950:
      return uuidText(bin);
    default:
      return std::nullopt;
  }
}

bool validText(uint32_t oid, int32_t typmod, std::string_view text) {
  if (const uint32_t element = elementOf(oid); element != 0) {
    // Elements of a one- or more-dimensional text array, checked one by one.
    size_t i = 0;
    if (!text.empty() && text[0] == '[') {
      i = text.find('=');
      if (i == std::string_view::npos) return false;
      ++i;
    }
    int depth = 0;
    bool seen = false;
    while (i < text.size()) {
      const char c = text[i];
      if (c == '{') {
        ++depth;
        ++i;
        continue;
      }
      if (c == '}') {
        if (--depth < 0) return false;
        ++i;
        continue;
      }
      if (c == ',') {
        ++i;
        continue;
      }
      if (depth == 0) return false;
      std::string v;
      bool quoted = c == '"';
      if (quoted) {
        for (++i; i < text.size() && text[i] != '"'; ++i) {
          if (text[i] == '\\') ++i;
          v += text[i];
        }
        if (i++ >= text.size()) return false;
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '}') v += text[i++];
      }
      seen = true;
      if (!quoted && v == "NULL") continue;
      if (!validText(element, typmod, v)) return false;
    }
    (void)seen;
    return depth == 0;
  }
  const std::string s(text);
  auto matches = [&](const char* re) { return std::regex_match(s, std::regex(re)); };
  switch (oid) {
    case 25:
    case 705:
      return true;
    case 19:
      return s.size() <= 63;
    case 1043:
      return typmod < 4 || utf8Chars(s) <= static_cast<size_t>(typmod - 4);
    case 1042:
      return typmod < 4 || utf8Chars(s) == static_cast<size_t>(typmod - 4);
    case 114:
    case 3802:
      return validJson(s);
    case 17:
      return matches("\\\\x([0-9a-f]{2})*");
    case 21:
    case 23:
    case 20: {
      if (!matches("-?[0-9]+")) return false;
      int64_t v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      if (r.ec != std::errc()) return false;
      const int64_t max = oid == 21 ? INT16_MAX : oid == 23 ? INT32_MAX : INT64_MAX;
      return v <= max && v >= -max - 1;
    }
    case 1700: {
      if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
      std::smatch m;
      if (!std::regex_match(s, m, std::regex("-?([0-9]+)(?:\\.([0-9]+))?"))) return false;
      if (typmod < 4) return true;
      const int p = ((typmod - 4) >> 16) & 0xffff;
      const int sc = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
      std::string integer = m[1].str();
      while (integer.size() > 1 && integer[0] == '0') integer.erase(0, 1);
      const int int_digits = integer == "0" ? 0 : static_cast<int>(integer.size());
      return int_digits <= p - sc;
    }
    case 700:
    case 701: {
      if (s == "NaN" || s == "Infinity" || s == "-Infinity") return true;
      double v = 0;
      auto r = std::from_chars(s.data(), s.data() + s.size(), v);
      return r.ec == std::errc() && r.ptr == s.data() + s.size();
    }
    case 1082:
      return s == "infinity" || s == "-infinity" ||
             matches("[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])( BC)?");
    case 1114:
      return s == "infinity" || s == "-infinity" ||
             matches(
                 "[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) "
                 "([01][0-9]|2[0-4]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?( BC)?");
    case 1184:
      return s == "infinity" || s == "-infinity" ||
             matches(
                 "[0-9]{4,}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]) "
                 "([01][0-9]|2[0-4]):[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,6})?"
                 "[+-][0-9]{2}(:[0-9]{2}(:[0-9]{2})?)?( BC)?");
    case 2950:
      return matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
    default:
      return false;
  }
}

}  // namespace pgw::mask::testing
