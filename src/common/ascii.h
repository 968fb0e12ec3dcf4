#pragma once
/// ASCII character classes. Unlike <cctype>'s, these never consult the C
/// locale (a call per character on hot paths: masking, detectors) and take
/// a `char` directly; bytes >= 0x80 are in no class.

namespace pgw::ascii {

inline bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
inline bool isAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool isAlnum(char c) {
  return isDigit(c) || isAlpha(c);
}
inline bool isHex(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
/// The value of a hex digit (either case), or -1 for any other byte.
inline int hexValue(char c) {
  if (isDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
/// Space, \t, \n, \v, \f, \r: what isspace() accepts in the C locale.
inline bool isSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r');
}

}  // namespace pgw::ascii
