#pragma once
/// Big-endian byte reader and writer for wire formats.
///
/// ByteReader is a cursor over a borrowed buffer with a sticky failure flag:
/// every read past the end returns a zero value and marks the reader failed,
/// so a decoder reads all fields and checks `ok()` (and `atEnd()`) once.
/// ByteWriter appends to a caller-owned std::string that is reused across
/// messages, so steady-state encoding does not allocate.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pgw {

using Bytes = std::span<const std::byte>;

inline std::string_view asChars(Bytes b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
/// Lower-case hex of `b`, two characters per byte.
std::string toHex(Bytes b);
/// The same, appended to `out`.
void appendHex(std::string& out, Bytes b);

inline Bytes asBytes(std::string_view s) {
  return {reinterpret_cast<const std::byte*>(s.data()), s.size()};
}

class ByteReader {
 public:
  explicit ByteReader(Bytes data) : data_(data) {}
  explicit ByteReader(std::string_view data) : data_(asBytes(data)) {}

  uint8_t u8();
  int16_t i16();
  uint16_t u16() { return static_cast<uint16_t>(i16()); }
  int32_t i32();
  uint32_t u32() { return static_cast<uint32_t>(i32()); }
  /// A NUL-terminated string; the view excludes the terminator.
  std::string_view cstring();
  /// Exactly n bytes (n must be >= 0).
  Bytes bytes(int64_t n);
  /// Everything not read yet.
  Bytes rest();

  bool ok() const { return ok_; }
  bool atEnd() const { return pos_ == data_.size(); }
  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }
  void markFailed() { ok_ = false; }

 private:
  bool need(size_t n);

  Bytes data_;
  size_t pos_ = 0;
  bool ok_ = true;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}

  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void i16(int16_t v) {
    const auto u = static_cast<uint16_t>(v);
    const char b[2] = {static_cast<char>(u >> 8), static_cast<char>(u & 0xff)};
    out_.append(b, 2);
  }
  void i32(int32_t v);
  void u32(uint32_t v) { i32(static_cast<int32_t>(v)); }
  void cstring(std::string_view s);
  void bytes(Bytes b) { out_.append(asChars(b)); }
  void raw(std::string_view s) { out_.append(s); }

  /// Starts a typed message: writes the type byte and a length placeholder.
  void beginMessage(char type);
  /// Starts an untyped (startup-phase) message: a length placeholder only.
  void beginUntyped();
  /// Patches the length of the message begun last.
  void endMessage();

  size_t size() const { return out_.size(); }
  std::string& buffer() { return out_; }

 private:
  std::string& out_;
  size_t length_at_ = 0;
};

// Inline: they run once per field of every message the relay inspects.
/// Stores a big-endian int32 at `p`.
inline void putI32(char* p, int32_t v) {
  const auto u = static_cast<uint32_t>(v);
  p[0] = static_cast<char>(u >> 24);
  p[1] = static_cast<char>((u >> 16) & 0xff);
  p[2] = static_cast<char>((u >> 8) & 0xff);
  p[3] = static_cast<char>(u & 0xff);
}
/// Loads a big-endian int32 from `p`.
inline int32_t getI32(const std::byte* p) {
  const uint32_t u = (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) |
                     (static_cast<uint32_t>(p[2]) << 8) | static_cast<uint32_t>(p[3]);
  return static_cast<int32_t>(u);
}
inline int16_t getI16(const std::byte* p) {
  return static_cast<int16_t>((static_cast<uint16_t>(p[0]) << 8) | static_cast<uint16_t>(p[1]));
}

inline void ByteWriter::i32(int32_t v) {
  char b[4];
  putI32(b, v);
  out_.append(b, 4);
}

}  // namespace pgw
