#pragma once
/// The server leg of a session: connects to a registered PostgreSQL,
/// negotiates TLS per the connection's sslmode, and logs in with the
/// credential the gateway holds (SCRAM-SHA-256, MD5 or cleartext — whatever
/// the server asks). The credential never leaves this file: errors name the
/// connection, not the user's password.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "config/config.h"
#include "protocol/messages.h"
#include "proxy/read_buffer.h"
#include "proxy/stream.h"

namespace pgw::proxy {

/// Everything needed to open one upstream session.
struct UpstreamTarget {
  const config::Connection* connection = nullptr;
  const config::Credential* credential = nullptr;
  std::string credential_name;
  asio::ssl::context* tls = nullptr;  ///< null when the connection's sslmode is disable
  /// Startup parameters besides user and database (application_name, ...).
  std::vector<std::pair<std::string, std::string>> params;
  size_t max_message_size = 64u << 20;
};

/// What the server said while the session started, ready to replay to the
/// client: ParameterStatus and NoticeResponse messages as encoded bytes.
struct UpstreamGreeting {
  std::string replay;
  protocol::BackendKeyData key;
  protocol::TxStatus status = protocol::TxStatus::Idle;
};

class Upstream {
 public:
  explicit Upstream(const asio::any_io_executor& ex) : stream_(tcp::socket(ex)) {}

  /// Connects and logs in; bounded by the connection's connect_timeout.
  /// Errors carry a SQLSTATE and a message naming the connection.
  awaitable<Result<UpstreamGreeting>> open(const UpstreamTarget& target);

  Stream& stream() { return stream_; }
  /// Bytes received after ReadyForQuery (normally none); the relay starts here.
  ReadBuffer& buffer() { return buffer_; }
  const tcp::endpoint& endpoint() const { return endpoint_; }

 private:
  awaitable<Result<void>> connectTcp(const UpstreamTarget& target);
  awaitable<Result<void>> negotiateTls(const UpstreamTarget& target);
  awaitable<Result<UpstreamGreeting>> login(const UpstreamTarget& target);

  Stream stream_;
  ReadBuffer buffer_{16 * 1024};
  tcp::endpoint endpoint_;
};

}  // namespace pgw::proxy
