#pragma once
/// Builds the OpenSSL contexts of both legs from the config, once at load:
/// the client-facing server context and one client context per upstream.

#include <memory>

#include "common/result.h"
#include "config/config.h"
#include "proxy/asio.h"

namespace pgw::proxy {

/// TLS 1.2+ server context with the gateway's certificate chain and key.
Result<std::shared_ptr<asio::ssl::context>> makeServerTlsContext(const config::ServerTls& tls);

/// Client context for an upstream: `require` encrypts without verifying,
/// `verify-ca` checks the chain against the CA file, `verify-full` also the
/// host name (checked per connection in Stream::startTls).
Result<std::shared_ptr<asio::ssl::context>> makeUpstreamTlsContext(const config::UpstreamTls& tls);

}  // namespace pgw::proxy
