#pragma once
/// Reading whole messages during the startup and authentication phases, where
/// the gateway must look at every message before deciding what to send.

#include "common/result.h"
#include "protocol/messages.h"
#include "proxy/read_buffer.h"
#include "proxy/stream.h"

namespace pgw::proxy {

/// Reads until one complete typed message is at the head of `buf` and returns
/// it (a view into `buf`; the caller consumes `frame.size` when done). Errors:
/// 08006 when the peer closed or the read failed, 08P01 for a bad frame.
awaitable<Result<protocol::Frame>> readFrame(Stream& stream, ReadBuffer& buf,
                                             size_t max_message_size);

/// Reads one startup-phase packet (no type byte) exactly, never past its end,
/// so that what follows (a TLS ClientHello) stays in the socket.
awaitable<Result<std::string>> readStartupPacket(Stream& stream, size_t max_startup_size);

}  // namespace pgw::proxy
