#include "common/bytes.h"

#include <cstring>

namespace pgw {

bool ByteReader::need(size_t n) {
  if (!ok_ || data_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  return true;
}

uint8_t ByteReader::u8() {
  if (!need(1)) return 0;
  return static_cast<uint8_t>(data_[pos_++]);
}

int16_t ByteReader::i16() {
  if (!need(2)) return 0;
  int16_t v = getI16(data_.data() + pos_);
  pos_ += 2;
  return v;
}

int32_t ByteReader::i32() {
  if (!need(4)) return 0;
  int32_t v = getI32(data_.data() + pos_);
  pos_ += 4;
  return v;
}

std::string_view ByteReader::cstring() {
  // With nothing left there is no terminator; this also keeps memchr from
  // being handed the null data() of an empty span.
  if (!ok_ || pos_ == data_.size()) {
    ok_ = false;
    return {};
  }
  const auto* start = data_.data() + pos_;
  const void* nul = std::memchr(start, 0, data_.size() - pos_);
  if (nul == nullptr) {
    ok_ = false;
    return {};
  }
  size_t len = static_cast<const std::byte*>(nul) - start;
  pos_ += len + 1;
  return {reinterpret_cast<const char*>(start), len};
}

Bytes ByteReader::bytes(int64_t n) {
  if (n < 0 || !need(static_cast<size_t>(n))) {
    ok_ = false;
    return {};
  }
  Bytes b = data_.subspan(pos_, static_cast<size_t>(n));
  pos_ += static_cast<size_t>(n);
  return b;
}

Bytes ByteReader::rest() {
  if (!ok_) return {};
  Bytes b = data_.subspan(pos_);
  pos_ = data_.size();
  return b;
}

void ByteWriter::cstring(std::string_view s) {
  out_.append(s);
  out_.push_back('\0');
}

void ByteWriter::beginMessage(char type) {
  out_.push_back(type);
  beginUntyped();
}

void ByteWriter::beginUntyped() {
  length_at_ = out_.size();
  out_.append(4, '\0');
}

void ByteWriter::endMessage() {
  putI32(out_.data() + length_at_, static_cast<int32_t>(out_.size() - length_at_));
}

std::string toHex(Bytes b) {
  std::string out;
  appendHex(out, b);
  return out;
}

void appendHex(std::string& out, Bytes b) {
  static constexpr char kHex[] = "0123456789abcdef";
  const size_t at = out.size();
  out.resize(at + b.size() * 2);
  char* p = out.data() + at;
  for (std::byte byte : b) {
    const auto v = std::to_integer<unsigned>(byte);
    *p++ = kHex[v >> 4];
    *p++ = kHex[v & 0xf];
  }
}

}  // namespace pgw
