#pragma once
/// The asio pieces the proxy uses, and the no-throw completion token: on the
/// data path I/O errors are values (error_code), never exceptions.

#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>

namespace pgw::proxy {

using asio::awaitable;
using asio::ip::tcp;
using std::error_code;

/// `co_await op(..., nothrow)` yields a tuple (error_code, results...).
inline constexpr auto nothrow = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace pgw::proxy
