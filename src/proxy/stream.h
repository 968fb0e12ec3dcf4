#pragma once
/// One leg of a session: a TCP socket that may be upgraded to TLS in place
/// (PostgreSQL negotiates TLS inside the plaintext connection with
/// SSLRequest). Reads and writes go through the TLS layer once it is up.

#include <memory>
#include <string>

#include "proxy/asio.h"

namespace pgw::proxy {

class Stream {
 public:
  explicit Stream(tcp::socket socket) : socket_(std::move(socket)) {}

  bool tls() const { return tls_ != nullptr; }
  tcp::socket& socket() { return socket_; }
  SSL* nativeTls() { return tls_ ? tls_->native_handle() : nullptr; }

  /// Starts TLS on this connection. `hostname` (client role only) sets SNI
  /// and, when `verify_host` is true, the name the certificate must carry.
  awaitable<error_code> startTls(asio::ssl::context& ctx,
                                 asio::ssl::stream_base::handshake_type role,
                                 const std::string& hostname = {}, bool verify_host = false);

  awaitable<std::tuple<error_code, size_t>> readSome(asio::mutable_buffer buf) {
    if (tls_) co_return co_await tls_->async_read_some(buf, nothrow);
    co_return co_await socket_.async_read_some(buf, nothrow);
  }

  template <class ConstBuffers>
  awaitable<error_code> writeAll(const ConstBuffers& buffers) {
    auto [ec, n] = tls_ ? co_await asio::async_write(*tls_, buffers, nothrow)
                        : co_await asio::async_write(socket_, buffers, nothrow);
    (void)n;
    co_return ec;
  }

  /// Reads exactly buf.size() bytes.
  awaitable<error_code> readExact(asio::mutable_buffer buf) {
    auto [ec, n] = tls_ ? co_await asio::async_read(*tls_, buf, nothrow)
                        : co_await asio::async_read(socket_, buf, nothrow);
    (void)n;
    co_return ec;
  }

  /// Bytes already received by the kernel and not read yet (plaintext only).
  size_t pendingPlaintext() {
    error_code ec;
    size_t n = socket_.available(ec);
    return ec ? 0 : n;
  }

  /// Aborts pending operations without closing (the session may still write
  /// a final message).
  void cancel() {
    error_code ec;
    socket_.cancel(ec);
  }
  void close() {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }
  bool isOpen() const { return socket_.is_open(); }

 private:
  tcp::socket socket_;
  std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
};

}  // namespace pgw::proxy
