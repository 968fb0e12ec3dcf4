#include "proxy/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "protocol/sqlstate.h"

namespace pgw::proxy {
namespace {

std::string lastOpenSslError() {
  unsigned long code = ERR_peek_last_error();
  if (code == 0) return "unknown TLS error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

}  // namespace

Result<std::shared_ptr<asio::ssl::context>> makeServerTlsContext(const config::ServerTls& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(
      native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1) {
    return fail(sqlstate::kInternalError,
                "tls.cert: cannot load " + tls.cert_file + ": " + lastOpenSslError());
  }
  if (SSL_CTX_use_PrivateKey_file(native, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return fail(sqlstate::kInternalError,
                "tls.key: cannot load " + tls.key_file + ": " + lastOpenSslError());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return fail(sqlstate::kInternalError, "tls.key does not match tls.cert");
  }
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, tls.client_ca_file.c_str(), nullptr) != 1) {
      return fail(sqlstate::kInternalError,
                  "tls.client_ca: cannot load " + tls.client_ca_file + ": " + lastOpenSslError());
    }
    // Ask for a certificate; whether one is required is the identity layer's call.
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

Result<std::shared_ptr<asio::ssl::context>> makeUpstreamTlsContext(const config::UpstreamTls& tls) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
  SSL_CTX_set_options(native, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  const bool verify =
      tls.mode == config::SslMode::VerifyCa || tls.mode == config::SslMode::VerifyFull;
  if (verify) {
    if (SSL_CTX_load_verify_locations(native, tls.ca_file.c_str(), nullptr) != 1) {
      return fail(sqlstate::kInternalError,
                  "tls.ca: cannot load " + tls.ca_file + ": " + lastOpenSslError());
    }
    SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(native, SSL_VERIFY_NONE, nullptr);
  }
  if (!tls.cert_file.empty()) {
    if (SSL_CTX_use_certificate_chain_file(native, tls.cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(native, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
      return fail(sqlstate::kInternalError,
                  "tls.cert/tls.key: cannot load the client certificate: " + lastOpenSslError());
    }
  }
  return ctx;
}

}  // namespace pgw::proxy
