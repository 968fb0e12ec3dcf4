#include "mask/hmac.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace pgw::mask {
namespace {

constexpr size_t kBlock = 64;

/// A digest context reused by this thread: copying the precomputed pad
/// states into it allocates nothing once it exists.
EVP_MD_CTX* workContext() {
  struct Holder {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    ~Holder() { EVP_MD_CTX_free(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

}  // namespace

struct Hmac::State {
  EVP_MD* md = nullptr;
  EVP_MD_CTX* inner = nullptr;  ///< SHA-256 state after (key ^ ipad)
  EVP_MD_CTX* outer = nullptr;  ///< SHA-256 state after (key ^ opad)
};

Hmac::Hmac(std::string_view key) : state_(new State) {
  state_->md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  state_->inner = EVP_MD_CTX_new();
  state_->outer = EVP_MD_CTX_new();
  if (state_->md == nullptr || state_->inner == nullptr || state_->outer == nullptr) {
    throw std::runtime_error("mask: OpenSSL has no SHA-256");
  }
  // RFC 2104: keys longer than a block are hashed first.
  unsigned char k[kBlock] = {};
  if (key.size() > kBlock) {
    unsigned int n = 0;
    EVP_Digest(key.data(), key.size(), k, &n, state_->md, nullptr);
  } else {
    std::memcpy(k, key.data(), key.size());
  }
  unsigned char ipad[kBlock], opad[kBlock];
  for (size_t i = 0; i < kBlock; ++i) {
    ipad[i] = static_cast<unsigned char>(k[i] ^ 0x36);
    opad[i] = static_cast<unsigned char>(k[i] ^ 0x5c);
  }
  if (EVP_DigestInit_ex(state_->inner, state_->md, nullptr) != 1 ||
      EVP_DigestUpdate(state_->inner, ipad, kBlock) != 1 ||
      EVP_DigestInit_ex(state_->outer, state_->md, nullptr) != 1 ||
      EVP_DigestUpdate(state_->outer, opad, kBlock) != 1) {
    throw std::runtime_error("mask: SHA-256 setup failed");
  }
  OPENSSL_cleanse(k, sizeof k);
  OPENSSL_cleanse(ipad, sizeof ipad);
  OPENSSL_cleanse(opad, sizeof opad);
}

Hmac::~Hmac() {
  EVP_MD_CTX_free(state_->inner);
  EVP_MD_CTX_free(state_->outer);
  EVP_MD_free(state_->md);
  delete state_;
}

Hmac::Digest Hmac::run(std::string_view domain, uint32_t counter, bool with_counter,
                       std::string_view message) const {
  EVP_MD_CTX* w = workContext();
  Digest inner{}, out{};
  unsigned int n = 0;
  // One update call: each goes through the provider's dispatch.
  thread_local std::string input;
  input.assign(domain);
  input += '\0';
  if (with_counter) {
    for (int shift = 24; shift >= 0; shift -= 8) input += static_cast<char>(counter >> shift);
  }
  input.append(message);
  // A failing digest here would mean a broken OpenSSL; the output would
  // then be a fixed value, which still hides the input.
  EVP_MD_CTX_copy_ex(w, state_->inner);
  EVP_DigestUpdate(w, input.data(), input.size());
  EVP_DigestFinal_ex(w, inner.data(), &n);
  EVP_MD_CTX_copy_ex(w, state_->outer);
  EVP_DigestUpdate(w, inner.data(), inner.size());
  EVP_DigestFinal_ex(w, out.data(), &n);
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
