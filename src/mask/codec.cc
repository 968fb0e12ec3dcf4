/// Integers, floats, uuid, bytea, JSON strings and UTF-8 text fitting.

#include "mask/codec.h"

#include <bit>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/ascii.h"
#include "common/bytes.h"
#include "mask/types.h"

namespace pgw::mask::codec {
namespace {

constexpr char kHex[] = "0123456789abcdef";

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) s.remove_suffix(1);
  return s;
}

bool equalsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != b[i]) return false;
  }
  return true;
}

/// Length of the valid UTF-8 sequence at s[i], or 0 when it is not one
/// (overlong forms, surrogates and code points past U+10FFFF are invalid).
size_t utf8Sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  uint32_t cp = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

}  // namespace

// --- integers and floats ---------------------------------------------------

int64_t intMax(int width) {
  return width == 2   ? std::numeric_limits<int16_t>::max()
         : width == 4 ? std::numeric_limits<int32_t>::max()
                      : std::numeric_limits<int64_t>::max();
}

Result<int64_t> parseInt(std::string_view text, int width) {
  text = trimmed(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) {
    return fail("22P02", "integer value: not a decimal integer");
  }
  if (v > intMax(width) || v < -intMax(width) - 1) {
    return fail("22003", "integer value: out of range for its type");
  }
  return v;
}

void formatInt(int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

Result<int64_t> decodeIntBinary(std::string_view bytes, int width) {
  if (bytes.size() != static_cast<size_t>(width)) {
    return fail("22P03", "integer value: binary length does not match its type");
  }
  const auto* p = reinterpret_cast<const std::byte*>(bytes.data());
  if (width == 2) return static_cast<int64_t>(getI16(p));
  if (width == 4) return static_cast<int64_t>(getI32(p));
  return (static_cast<int64_t>(getI32(p)) << 32) |
         static_cast<int64_t>(static_cast<uint32_t>(getI32(p + 4)));
}

void encodeIntBinary(int64_t v, int width, std::string& out) {
  ByteWriter w(out);
  if (width == 2) {
    w.i16(static_cast<int16_t>(v));
  } else if (width == 4) {
    w.i32(static_cast<int32_t>(v));
  } else {
    w.i32(static_cast<int32_t>(static_cast<uint64_t>(v) >> 32));
    w.i32(static_cast<int32_t>(static_cast<uint64_t>(v) & 0xffffffffu));
  }
}

Result<double> parseFloat(std::string_view text, int width) {
  text = trimmed(text);
  if (equalsNoCase(text, "nan")) return std::numeric_limits<double>::quiet_NaN();
  bool negative = false;
  std::string_view body = text;
  if (!body.empty() && (body.front() == '+' || body.front() == '-')) {
    negative = body.front() == '-';
    body.remove_prefix(1);
  }
  if (equalsNoCase(body, "infinity") || equalsNoCase(body, "inf")) {
    return negative ? -std::numeric_limits<double>::infinity()
                    : std::numeric_limits<double>::infinity();
  }
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  const char* first = text.data();
  const char* last = text.data() + text.size();
  std::from_chars_result r{};
  double v = 0;
  if (width == 4) {
    float f = 0;
    r = std::from_chars(first, last, f);
    v = f;
  } else {
    r = std::from_chars(first, last, v);
  }
  if (r.ec != std::errc() || r.ptr != last || text.empty()) {
    return fail("22P02", "float value: not a number");
  }
  return v;
}

void formatFloat(double v, int width, std::string& out) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v < 0 ? "-Infinity" : "Infinity";
    return;
  }
  char buf[64];
  auto [end, ec] = width == 4 ? std::to_chars(buf, buf + sizeof buf, static_cast<float>(v))
                              : std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

Result<double> decodeFloatBinary(std::string_view bytes, int width) {
  if (bytes.size() != static_cast<size_t>(width)) {
    return fail("22P03", "float value: binary length does not match its type");
  }
  auto i64 = decodeIntBinary(bytes, width);
  if (width == 4) return static_cast<double>(std::bit_cast<float>(static_cast<uint32_t>(*i64)));
  return std::bit_cast<double>(static_cast<uint64_t>(*i64));
}

void encodeFloatBinary(double v, int width, std::string& out) {
  if (width == 4) {
    encodeIntBinary(static_cast<int32_t>(std::bit_cast<uint32_t>(static_cast<float>(v))), 4, out);
  } else {
    encodeIntBinary(std::bit_cast<int64_t>(v), 8, out);
  }
}

// --- uuid, bytea, json -----------------------------------------------------

Result<Uuid> parseUuid(std::string_view text) {
  text = trimmed(text);
  if (text.size() >= 2 && text.front() == '{' && text.back() == '}') {
    text = text.substr(1, text.size() - 2);
  }
  Uuid u{};
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    // A dash may follow any group of four hex digits, as uuid_in allows.
    if (c == '-' && n > 0 && n % 4 == 0 && n < 32 && i + 1 < text.size() && text[i - 1] != '-') {
      continue;
    }
    const int v = ascii::hexValue(c);
    if (v < 0 || n >= 32) return fail("22P02", "uuid value: not a uuid");
    u[n / 2] = static_cast<uint8_t>(n % 2 == 0 ? v << 4 : u[n / 2] | v);
    ++n;
  }
  if (n != 32) return fail("22P02", "uuid value: not a uuid");
  return u;
}

void formatUuid(const Uuid& u, std::string& out) {
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[u[i] >> 4];
    out += kHex[u[i] & 15];
  }
}

Result<std::string> parseBytea(std::string_view text) {
  std::string out;
  if (text.size() >= 2 && text[0] == '\\' && text[1] == 'x') {
    out.reserve((text.size() - 2) / 2);
    for (size_t i = 2; i < text.size();) {
      if (std::isspace(static_cast<unsigned char>(text[i])) != 0) {
        ++i;
        continue;
      }
      const int hi = ascii::hexValue(text[i]);
      const int lo = i + 1 < text.size() ? ascii::hexValue(text[i + 1]) : -1;
      if (hi < 0 || lo < 0) return fail("22P02", "bytea value: invalid hex digits");
      out += static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    return out;
  }
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
    } else if (i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else if (i + 3 < text.size() && text[i + 1] >= '0' && text[i + 1] <= '3' &&
               text[i + 2] >= '0' && text[i + 2] <= '7' && text[i + 3] >= '0' &&
               text[i + 3] <= '7') {
      out += static_cast<char>((text[i + 1] - '0') << 6 | (text[i + 2] - '0') << 3 |
                               (text[i + 3] - '0'));
      i += 3;
    } else {
      return fail("22P02", "bytea value: invalid escape sequence");
    }
  }
  return out;
}

void formatBytea(std::string_view bytes, std::string& out) {
  out.reserve(out.size() + 2 + 2 * bytes.size());
  out += "\\x";
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
}

void appendJsonString(std::string_view text, std::string& out) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t n = utf8Sequence(text, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text, i, n);
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case 0:
        out += "\\ufffd";
        break;  // jsonb refuses \u0000
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
}

std::optional<std::string_view> simpleJsonString(std::string_view doc) {
  doc = trimmed(doc);
  if (doc.size() < 2 || doc.front() != '"' || doc.back() != '"') return std::nullopt;
  doc = doc.substr(1, doc.size() - 2);
  for (char c : doc) {
    if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20) return std::nullopt;
  }
  return doc;
}

// --- text ------------------------------------------------------------------

size_t utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

size_t utf8Prefix(std::string_view s, size_t chars) {
  size_t i = 0;
  while (i < s.size() && chars > 0) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    --chars;
  }
  return i;
}

void fitText(uint32_t type_oid, int32_t typmod, std::string& text) {
  if (type_oid == oid::kName) {
    // NAMEDATALEN - 1 bytes, cut where a character starts.
    if (text.size() <= 63) return;
    size_t cut = 63;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text.resize(cut);
    return;
  }
  if ((type_oid != oid::kVarchar && type_oid != oid::kBpchar) || typmod < 4) return;
  const size_t n = static_cast<size_t>(typmod - 4);
  text.resize(utf8Prefix(text, n));
  if (type_oid == oid::kBpchar) {
    const size_t len = utf8Length(text);
    if (len < n) text.append(n - len, ' ');
  }
}

}  // namespace pgw::mask::codec
