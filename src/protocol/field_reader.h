#pragma once
/// Internal to pgw_protocol: a cursor over one message body that names the
/// first field that did not fit, so that a protocol error says which message
/// and what was wrong. Nothing is allocated unless an error is built.
///
/// Reference: https://www.postgresql.org/docs/15/protocol-message-formats.html

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/bytes.h"
#include "common/result.h"
#include "protocol/messages.h"

namespace pgw::protocol::detail {

/// An 08P01 error "<message>: <what>".
Error protocolError(std::string_view message, std::string_view what);

/// A type byte as it reads in an error message: 'Q' or 0x01.
std::string describeType(char type);

class FieldReader {
 public:
  /// `message` names the message in errors, e.g. "Bind".
  FieldReader(std::string_view message, Bytes body) : message_(message), body_(body), r_(body) {}

  uint8_t u8(const char* field);
  int16_t i16(const char* field);
  /// An unsigned 16-bit count (PostgreSQL reads counts as uint16).
  uint16_t count16(const char* field);
  int32_t i32(const char* field);
  std::string_view cstring(const char* field);
  /// `n` bytes; n must be 0 or more.
  Bytes bytes(size_t n, const char* field);
  /// Everything not read yet.
  Bytes rest() { return r_.rest(); }

  /// `count` int16 values (format codes) or int32 values (OIDs).
  Int16List int16s(size_t count, const char* field);
  Int32List int32s(size_t count, const char* field);
  /// `count` values, each an int32 length (-1 = NULL) and that many bytes.
  ValueList values(uint16_t count, const char* field);
  /// An int32 length (-1 = NULL) and that many bytes.
  std::optional<Bytes> value(const char* field);

  bool ok() const { return failure_ == Failure::None; }
  size_t remaining() const { return r_.remaining(); }

  /// The error for the first failure, or for bytes left over after the last
  /// field; std::nullopt when every field fit exactly.
  std::optional<Error> finish() const;

 private:
  enum class Failure { None, Overrun, NoTerminator, BadLength };

  void record(Failure kind, const char* field, int64_t value, size_t left, int64_t index = -1);

  std::string_view message_;
  Bytes body_;
  ByteReader r_;
  Failure failure_ = Failure::None;
  const char* field_ = "";
  int64_t value_ = 0;   ///< bytes needed (Overrun) or the bad length (BadLength)
  size_t left_ = 0;     ///< bytes left when the failure happened
  int64_t index_ = -1;  ///< which value of a list, or -1
};

}  // namespace pgw::protocol::detail
