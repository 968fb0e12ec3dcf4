#include "proxy/stream.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace pgw::proxy {

awaitable<error_code> Stream::startTls(asio::ssl::context& ctx,
                                       asio::ssl::stream_base::handshake_type role,
                                       const std::string& hostname, bool verify_host) {
  tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(socket_, ctx);
  SSL* ssl = tls_->native_handle();
  if (role == asio::ssl::stream_base::client && !hostname.empty()) {
    asio::ip::address addr;
    error_code parse_ec;
    addr = asio::ip::make_address(hostname, parse_ec);
    if (parse_ec) SSL_set_tlsext_host_name(ssl, hostname.c_str());  // SNI is for names only
    if (verify_host) {
      // SSL_set1_host checks DNS names; IP literals are checked against IP SANs.
      if (parse_ec) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        SSL_set1_host(ssl, hostname.c_str());
      } else {
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hostname.c_str());
      }
    }
  }
  auto [ec] = co_await tls_->async_handshake(role, nothrow);
  co_return ec;
}

}  // namespace pgw::proxy
