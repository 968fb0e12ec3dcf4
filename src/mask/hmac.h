#pragma once
/// HMAC-SHA256 under the configured `masking.hash_key`, for the keyed mask
/// functions (hash, format_preserving). The key's inner and outer pads are
/// hashed once; each value then costs two SHA-256 compressions and no setup.
/// Deterministic: the same key and input give the same output in every
/// session and on every gateway sharing the key, so masked values still join.

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace pgw::mask {

class Hmac {
 public:
  using Digest = std::array<uint8_t, 32>;

  /// `key` must not be empty.
  explicit Hmac(std::string_view key);
  ~Hmac();
  Hmac(const Hmac&) = delete;
  Hmac& operator=(const Hmac&) = delete;

  /// HMAC(key, domain || 0x00 || message). The domain keeps the outputs of
  /// different functions unrelated ("hash" vs "fpe").
  Digest mac(std::string_view domain, std::string_view message) const;
  /// `out.size()` bytes of keyed stream: HMAC(key, domain || 0x00 || i ||
  /// message) for i = 0, 1, ... concatenated.
  void stream(std::string_view domain, std::string_view message, std::span<uint8_t> out) const;

 private:
  Digest run(std::string_view domain, uint32_t counter, bool with_counter,
             std::string_view message) const;

  struct State;
  State* state_;
};

}  // namespace pgw::mask
