#pragma once
/// Standard base64 (RFC 4648 §4, padded), shared by the SCRAM codec and the
/// sealed secrets of the state store.

#include <optional>
#include <string>
#include <string_view>

namespace pgw {

std::string base64Encode(std::string_view raw);
/// Strict: standard alphabet, whole quads, padding only at the end, no
/// whitespace, unused bits zero (one encoding per value). nullopt otherwise.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace pgw
