#pragma once
// Helpers shared by the protocol tests: framing a whole buffer, turning
// decoded views back into plain values, re-encoding decoded messages, and a
// catalogue of valid encoded messages of every type.

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/messages.h"

namespace pgw::protocol::testing {

using Values = std::vector<std::optional<std::string_view>>;

inline std::string_view str(Bytes b) {
  return asChars(b);
}
inline Bytes bytesOf(const std::string& s) {
  return asBytes(s);
}

std::vector<int16_t> toVector(Int16List list);
std::vector<int32_t> toVector(Int32List list);
Values toValues(const ValueList& list);
/// The (code, value) pairs of a NoticeFields list, parsed independently of
/// NoticeFields::get.
std::vector<std::pair<char, std::string_view>> noticePairs(const NoticeFields& fields);

/// Encodes a decoded message again; a decoder that is strict about leftover
/// and ignored bytes must reproduce its input exactly.
std::string reencodeFrontend(const FrontendMessage& m);
std::string reencodeBackend(const BackendMessage& m);
std::string reencodeStartup(const StartupPacket& p);

/// A valid message on the wire and a name for test output.
struct Sample {
  std::string name;
  std::string wire;
};
/// At least one sample of every frontend message type (and 'p' variants).
std::vector<Sample> frontendSamples();
/// At least one sample of every backend message type and authentication code.
std::vector<Sample> backendSamples();
/// StartupMessage, SSLRequest, GSSENCRequest, CancelRequest.
std::vector<Sample> startupSamples();

/// Frames `wire` as exactly one typed message (fails the test otherwise).
Frame frameWhole(const std::string& wire);
/// Frames `wire` as exactly one startup packet.
Frame frameWholeStartup(const std::string& wire);

/// Frame + decode helpers returning the specific alternative; fail the test
/// (and return a default value) when decoding fails or yields another type.
template <class T>
T decodeFe(const std::string& wire) {
  Frame f = frameWhole(wire);
  auto r = decodeFrontend(f);
  if (!r.ok()) {
    ADD_FAILURE() << "decodeFrontend failed: " << r.error().message;
    return T{};
  }
  if (!std::holds_alternative<T>(*r)) {
    ADD_FAILURE() << "decodeFrontend returned alternative " << r->index();
    return T{};
  }
  return std::get<T>(*r);
}

template <class T>
T decodeBe(const std::string& wire) {
  Frame f = frameWhole(wire);
  auto r = decodeBackend(f);
  if (!r.ok()) {
    ADD_FAILURE() << "decodeBackend failed: " << r.error().message;
    return T{};
  }
  if (!std::holds_alternative<T>(*r)) {
    ADD_FAILURE() << "decodeBackend returned alternative " << r->index();
    return T{};
  }
  return std::get<T>(*r);
}

}  // namespace pgw::protocol::testing
