#include "proxy/framed_io.h"

#include "protocol/sqlstate.h"

namespace pgw::proxy {

awaitable<Result<protocol::Frame>> readFrame(Stream& stream, ReadBuffer& buf,
                                             size_t max_message_size) {
  for (;;) {
    auto fr = protocol::frameMessage(buf.readable(), max_message_size);
    if (fr.status == protocol::FrameStatus::Complete) co_return fr.frame;
    if (fr.status == protocol::FrameStatus::Invalid) co_return fr.error;
    buf.reserve(std::max<size_t>(fr.needed, buf.size() + 1));
    auto [ec, n] =
        co_await stream.readSome(asio::buffer(buf.writable().data(), buf.writable().size()));
    if (ec || n == 0) {
      co_return fail(sqlstate::kConnectionFailure,
                     ec == asio::error::eof || n == 0 ? "connection closed by peer" : ec.message());
    }
    buf.commit(n);
  }
}

awaitable<Result<std::string>> readStartupPacket(Stream& stream, size_t max_startup_size) {
  std::string packet(4, '\0');
  if (auto ec = co_await stream.readExact(asio::buffer(packet.data(), 4))) {
    co_return fail(sqlstate::kConnectionFailure, "connection closed during startup");
  }
  int32_t len = getI32(reinterpret_cast<const std::byte*>(packet.data()));
  if (len < 8 || static_cast<size_t>(len) > max_startup_size) {
    co_return fail(sqlstate::kProtocolViolation,
                   "invalid length of startup packet (" + std::to_string(len) + " bytes)");
  }
  packet.resize(static_cast<size_t>(len));
  if (auto ec = co_await stream.readExact(asio::buffer(packet.data() + 4, packet.size() - 4))) {
    co_return fail(sqlstate::kConnectionFailure, "connection closed during startup");
  }
  co_return packet;
}

}  // namespace pgw::proxy
