#include "review/secret_box.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>

#include "common/ascii.h"
#include "common/base64.h"

namespace pgw::review {
namespace {

constexpr unsigned char kVersion = 0x01;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kOverhead = 1 + kNonceBytes + kTagBytes;

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

[[noreturn]] void cryptoFailure(const char* what) {
  throw std::runtime_error(std::string("secret box: OpenSSL failed to ") + what);
}

}  // namespace

Result<SecretBox> SecretBox::fromKey(std::string_view master_key) {
  std::array<unsigned char, kKeyBytes> key{};
  if (master_key.size() == 2 * kKeyBytes) {
    for (size_t i = 0; i < kKeyBytes; ++i) {
      const int hi = ascii::hexValue(master_key[2 * i]);
      const int lo = ascii::hexValue(master_key[2 * i + 1]);
      if (hi < 0 || lo < 0) {
        OPENSSL_cleanse(key.data(), key.size());
        return fail("400",
                    "state.master_key of 64 characters must be hex digits (openssl rand -hex 32)");
      }
      key[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
  } else if (master_key.size() == kKeyBytes) {
    std::copy(master_key.begin(), master_key.end(), key.begin());
  } else {
    return fail("400",
                "state.master_key must be 32 bytes or 64 hex digits (openssl rand -hex 32), "
                "got " +
                    std::to_string(master_key.size()) + " characters");
  }
  SecretBox box(key);
  OPENSSL_cleanse(key.data(), key.size());
  return box;
}

SecretBox::~SecretBox() {
  OPENSSL_cleanse(key_.data(), key_.size());
}

std::string SecretBox::seal(std::string_view plaintext, std::string_view associated_data) const {
  std::string raw(kOverhead + plaintext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  out[0] = kVersion;
  unsigned char* nonce = out + 1;
  unsigned char* cipher = nonce + kNonceBytes;
  unsigned char* tag = cipher + plaintext.size();
  if (RAND_bytes(nonce, kNonceBytes) != 1) cryptoFailure("generate a nonce");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, &kVersion, 1) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    cryptoFailure("start AES-256-GCM");
  }
  int total = 0;
  if (EVP_EncryptUpdate(ctx.get(), cipher, &len, bytes(plaintext),
                        static_cast<int>(plaintext.size())) != 1) {
    cryptoFailure("encrypt");
  }
  total += len;
  if (EVP_EncryptFinal_ex(ctx.get(), cipher + total, &len) != 1) cryptoFailure("encrypt");
  total += len;
  if (static_cast<size_t>(total) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    cryptoFailure("finish AES-256-GCM");
  }
  return base64Encode(raw);
}

Result<std::string> SecretBox::open(std::string_view sealed,
                                    std::string_view associated_data) const {
  auto raw = base64Decode(sealed);
  if (!raw) return fail("400", "sealed secret is not valid base64");
  if (raw->size() < kOverhead) return fail("400", "sealed secret is too short");
  const auto* in = reinterpret_cast<const unsigned char*>(raw->data());
  if (in[0] != kVersion) {
    return fail("400", "sealed secret has unknown version " + std::to_string(in[0]));
  }
  const unsigned char* nonce = in + 1;
  const unsigned char* cipher = nonce + kNonceBytes;
  const size_t cipher_len = raw->size() - kOverhead;
  // EVP_CTRL_GCM_SET_TAG takes a non-const pointer; it only reads.
  unsigned char tag[kTagBytes];
  std::copy(cipher + cipher_len, cipher + cipher_len + kTagBytes, tag);

  std::string plain(cipher_len, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plain.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, in, 1) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, bytes(associated_data),
                        static_cast<int>(associated_data.size())) != 1) {
    return fail("500", "secret box: OpenSSL failed to start AES-256-GCM");
  }
  int total = 0;
  if (EVP_DecryptUpdate(ctx.get(), out, &len, cipher, static_cast<int>(cipher_len)) != 1) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return fail("500", "secret box: OpenSSL failed to decrypt");
  }
  total += len;
  const bool authentic =
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) == 1 &&
      EVP_DecryptFinal_ex(ctx.get(), out + total, &len) == 1;
  if (!authentic) {
    OPENSSL_cleanse(plain.data(), plain.size());
    return fail("400",
                "sealed secret does not authenticate: it was altered, belongs to another record, "
                "or was sealed with another state.master_key");
  }
  return plain;
}

}  // namespace pgw::review
