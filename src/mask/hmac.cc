#include "mask/hmac.h"

// SHA-256 through OpenSSL's low-level interface (deprecated in OpenSSL 3,
// still shipped and still assembly-accelerated): its context is a plain
// struct, so starting from the precomputed pad states is a copy of 112
// bytes, where EVP_MD_CTX_copy_ex goes through the provider and costs about
// as much as the hashing itself (bench/mask_bench.cc, BM_RowRewrite_Hash).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <cstring>
#include <string>

namespace pgw::mask {
namespace {

constexpr size_t kBlock = 64;

}  // namespace

struct Hmac::State {
  SHA256_CTX inner;  ///< SHA-256 state after (key ^ ipad)
  SHA256_CTX outer;  ///< SHA-256 state after (key ^ opad)
};

Hmac::Hmac(std::string_view key) : state_(new State) {
  // RFC 2104: keys longer than a block are hashed first.
  unsigned char k[kBlock] = {};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), k);
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char ipad[kBlock], opad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
  }
  SHA256_Init(&state_->inner);
  SHA256_Update(&state_->inner, ipad, kBlock);
  SHA256_Init(&state_->outer);
  SHA256_Update(&state_->outer, opad, kBlock);
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
}

Hmac::~Hmac() {
  OPENSSL_cleanse(state_, sizeof *state_);
  delete state_;
}

Hmac::Digest Hmac::run(std::string_view domain, uint32_t counter, bool with_counter,
                       std::string_view message) const {
  Digest inner{}, out{};
  unsigned char separator[5] = {0};  // 0x00, then the counter (big-endian)
  size_t n = 1;
  if (with_counter) {
    for (int shift = 24; shift >= 0; shift -= 8) {
      separator[n++] = static_cast<unsigned char>(counter >> shift);
    }
  }
  SHA256_CTX w = state_->inner;
  SHA256_Update(&w, domain.data(), domain.size());
  SHA256_Update(&w, separator, n);
  SHA256_Update(&w, message.data(), message.size());
  SHA256_Final(inner.data(), &w);
  w = state_->outer;
  SHA256_Update(&w, inner.data(), inner.size());
  SHA256_Final(out.data(), &w);
  OPENSSL_cleanse(&w, sizeof w);
  return out;
}

Hmac::Digest Hmac::mac(std::string_view domain, std::string_view message) const {
  return run(domain, 0, false, message);
}

void Hmac::stream(std::string_view domain, std::string_view message, std::span<uint8_t> out) const {
  uint32_t counter = 0;
  for (size_t done = 0; done < out.size(); ++counter) {
    const Digest d = run(domain, counter, true, message);
    const size_t n = std::min(d.size(), out.size() - done);
    std::copy_n(d.begin(), n, out.begin() + static_cast<std::ptrdiff_t>(done));
    done += n;
  }
}

}  // namespace pgw::mask
