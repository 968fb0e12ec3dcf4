#pragma once
/// A reusable receive buffer: bytes are read into the writable tail, framed
/// and forwarded from the readable head, and a partial message left at the end
/// is moved to the front before the next read. Grows only when a single
/// message needs more room (bounded by max_message_size), so steady-state
/// relaying does not allocate.

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>

#include "common/bytes.h"

namespace pgw::proxy {

class ReadBuffer {
 public:
  explicit ReadBuffer(size_t capacity = 64 * 1024)
      : data_(std::make_unique<std::byte[]>(capacity)), capacity_(capacity) {}

  Bytes readable() const { return {data_.get() + begin_, end_ - begin_}; }
  std::span<std::byte> writable() { return {data_.get() + end_, capacity_ - end_}; }
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  size_t capacity() const { return capacity_; }

  void commit(size_t n) { end_ += n; }
  void consume(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }

  /// Makes room so that at least `total` bytes fit from the readable head:
  /// moves the unread bytes to the front, and grows if `total` exceeds the
  /// capacity. Call before reading when the tail is full.
  void reserve(size_t total) {
    if (begin_ > 0 && (capacity_ - begin_ < total || end_ == capacity_)) {
      std::memmove(data_.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (total > capacity_) {
      auto bigger = std::make_unique<std::byte[]>(total);
      std::memcpy(bigger.get(), data_.get() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
      data_ = std::move(bigger);
      capacity_ = total;
    }
  }

  /// Returns to the default capacity after an unusually large message, so
  /// one big row does not pin memory for the rest of the session.
  void shrinkTo(size_t capacity) {
    if (capacity_ <= capacity || size() > capacity) return;
    auto smaller = std::make_unique<std::byte[]>(capacity);
    std::memcpy(smaller.get(), data_.get() + begin_, size());
    end_ -= begin_;
    begin_ = 0;
    data_ = std::move(smaller);
    capacity_ = capacity;
  }

 private:
  std::unique_ptr<std::byte[]> data_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

}  // namespace pgw::proxy
