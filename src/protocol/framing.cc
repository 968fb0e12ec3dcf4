// Framing of typed and startup-phase messages, plus the field cursor and
// value-list iteration shared by the decoders.

#include <string>

#include "protocol/field_reader.h"
#include "protocol/messages.h"
#include "protocol/sqlstate.h"

namespace pgw::protocol {

namespace detail {

Error protocolError(std::string_view message, std::string_view what) {
  std::string text;
  text.reserve(message.size() + 2 + what.size());
  text.append(message).append(": ").append(what);
  return fail(sqlstate::kProtocolViolation, std::move(text));
}

std::string describeType(char type) {
  auto u = static_cast<unsigned char>(type);
  if (u > 0x20 && u < 0x7f) return std::string{'\'', type, '\''};
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string{'0', 'x', kHex[u >> 4], kHex[u & 0xf]};
}

void FieldReader::record(Failure kind, const char* field, int64_t value, size_t left,
                         int64_t index) {
  if (failure_ != Failure::None) return;
  failure_ = kind;
  field_ = field;
  value_ = value;
  left_ = left;
  index_ = index;
}

uint8_t FieldReader::u8(const char* field) {
  if (!ok()) return 0;
  size_t left = r_.remaining();
  uint8_t v = r_.u8();
  if (!r_.ok()) record(Failure::Overrun, field, 1, left);
  return v;
}

int16_t FieldReader::i16(const char* field) {
  if (!ok()) return 0;
  size_t left = r_.remaining();
  int16_t v = r_.i16();
  if (!r_.ok()) record(Failure::Overrun, field, 2, left);
  return v;
}

uint16_t FieldReader::count16(const char* field) {
  return static_cast<uint16_t>(i16(field));
}

int32_t FieldReader::i32(const char* field) {
  if (!ok()) return 0;
  size_t left = r_.remaining();
  int32_t v = r_.i32();
  if (!r_.ok()) record(Failure::Overrun, field, 4, left);
  return v;
}

std::string_view FieldReader::cstring(const char* field) {
  if (!ok()) return {};
  size_t left = r_.remaining();
  std::string_view s = r_.cstring();
  if (!r_.ok()) record(Failure::NoTerminator, field, 0, left);
  return s;
}

Bytes FieldReader::bytes(size_t n, const char* field) {
  if (!ok()) return {};
  size_t left = r_.remaining();
  if (n > left) {
    record(Failure::Overrun, field, static_cast<int64_t>(n), left);
    return {};
  }
  return r_.bytes(static_cast<int64_t>(n));
}

Int16List FieldReader::int16s(size_t count, const char* field) {
  return Int16List{bytes(2 * count, field)};
}

Int32List FieldReader::int32s(size_t count, const char* field) {
  return Int32List{bytes(4 * count, field)};
}

std::optional<Bytes> FieldReader::value(const char* field) {
  if (!ok()) return std::nullopt;
  size_t left = r_.remaining();
  int32_t len = r_.i32();
  if (!r_.ok()) {
    record(Failure::Overrun, field, 4, left);
    return std::nullopt;
  }
  if (len == -1) return std::nullopt;
  if (len < -1) {
    record(Failure::BadLength, field, len, r_.remaining());
    return std::nullopt;
  }
  return bytes(static_cast<size_t>(len), field);
}

ValueList FieldReader::values(uint16_t count, const char* field) {
  if (!ok()) return {};
  size_t start = r_.position();
  for (uint16_t i = 0; i < count; ++i) {
    size_t left = r_.remaining();
    int32_t len = r_.i32();
    if (!r_.ok()) {
      record(Failure::Overrun, field, 4, left, i);
      return {};
    }
    if (len == -1) continue;
    if (len < -1) {
      record(Failure::BadLength, field, len, r_.remaining(), i);
      return {};
    }
    if (static_cast<size_t>(len) > r_.remaining()) {
      record(Failure::Overrun, field, len, r_.remaining(), i);
      return {};
    }
    (void)r_.bytes(len);
  }
  return ValueList(body_.subspan(start, r_.position() - start), count);
}

std::optional<Error> FieldReader::finish() const {
  auto fieldName = [&] {
    std::string name(field_);
    if (index_ >= 0) name.append(" ").append(std::to_string(index_ + 1));
    return name;
  };
  switch (failure_) {
    case Failure::Overrun:
      return protocolError(message_, fieldName() + " needs " + std::to_string(value_) +
                                         " bytes but only " + std::to_string(left_) +
                                         " are left in the message");
    case Failure::NoTerminator:
      return protocolError(message_, fieldName() + " is not NUL-terminated within the message");
    case Failure::BadLength:
      return protocolError(message_, fieldName() + " has invalid length " + std::to_string(value_) +
                                         " (only -1 means NULL)");
    case Failure::None:
      break;
  }
  if (!r_.atEnd()) {
    return protocolError(message_, std::to_string(r_.remaining()) +
                                       " unexpected bytes left over after the last field");
  }
  return std::nullopt;
}

}  // namespace detail

std::optional<std::string_view> StartupMessage::get(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) return std::string_view(value);
  }
  return std::nullopt;
}

namespace {

FrameResult invalid(Error error) {
  FrameResult r;
  r.status = FrameStatus::Invalid;
  r.error = std::move(error);
  return r;
}

FrameResult needMore(size_t needed) {
  FrameResult r;
  r.status = FrameStatus::NeedMore;
  r.needed = needed;
  return r;
}

}  // namespace

FrameResult frameMessage(Bytes buf, size_t max_message_size) {
  constexpr size_t kHeader = 5;
  if (buf.size() < kHeader) return needMore(0);
  char type = static_cast<char>(buf[0]);
  int32_t length = getI32(buf.data() + 1);
  if (length < 4) {
    return invalid(detail::protocolError(
        "message " + detail::describeType(type),
        "invalid length " + std::to_string(length) + " (the length word counts itself, so >= 4)"));
  }
  size_t total = 1 + static_cast<size_t>(length);
  if (total > max_message_size) {
    return invalid(detail::protocolError(
        "message " + detail::describeType(type),
        "length " + std::to_string(length) + " exceeds the limit of " +
            std::to_string(max_message_size) + " bytes (limits.max_message_size)"));
  }
  if (buf.size() < total) return needMore(total);
  FrameResult r;
  r.status = FrameStatus::Complete;
  r.frame.type = type;
  r.frame.body = buf.subspan(kHeader, total - kHeader);
  r.frame.size = total;
  return r;
}

FrameResult frameStartup(Bytes buf, size_t max_startup_size) {
  constexpr size_t kHeader = 4;
  if (buf.size() < kHeader) return needMore(0);
  int32_t length = getI32(buf.data());
  if (length < 8) {
    return invalid(detail::protocolError(
        "startup packet", "invalid length " + std::to_string(length) + " (must be at least 8)"));
  }
  auto total = static_cast<size_t>(length);
  if (total > max_startup_size) {
    return invalid(detail::protocolError("startup packet", "length " + std::to_string(length) +
                                                               " exceeds the limit of " +
                                                               std::to_string(max_startup_size) +
                                                               " bytes (limits.max_startup_size)"));
  }
  if (buf.size() < total) return needMore(total);
  FrameResult r;
  r.status = FrameStatus::Complete;
  r.frame.type = 0;
  r.frame.body = buf.subspan(kHeader, total - kHeader);
  r.frame.size = total;
  return r;
}

}  // namespace pgw::protocol
