#pragma once
/// Result<T>: the error channel of the data path. A small local `expected`
/// (C++23's std::expected is not available with g++ 12): either a value or an
/// Error carrying a SQLSTATE a client driver can act on.

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace pgw {

/// An error a user may see. `sqlstate` is the five-character SQLSTATE that
/// goes to the client (empty for internal errors that never reach a client);
/// `message` says what happened and, where it helps, what to do. Never put a
/// secret in either.
struct Error {
  std::string sqlstate;
  std::string message;
};

/// Builds an Error; reads well at call sites: `return fail("08P01", "...")`.
inline Error fail(std::string_view sqlstate, std::string message) {
  return Error{std::string(sqlstate), std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const {
    assert(!ok());
    return std::get<1>(v_);
  }
  Error&& takeError() {
    assert(!ok());
    return std::get<1>(std::move(v_));
  }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit by design

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const {
    assert(!ok_);
    return error_;
  }
  Error&& takeError() {
    assert(!ok_);
    return std::move(error_);
  }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace pgw
