// SecretBox: AES-256-GCM sealing of credentials at rest (review/secret_box.h).

#include "review/secret_box.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace pgw::review {
namespace {

const std::string kHexKey = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kRawKey = [] {
  std::string k;
  for (int i = 0; i < 32; ++i) k += static_cast<char>(i);
  return k;
}();
constexpr std::string_view kPlain = "s3cret-passw0rd";
constexpr std::string_view kAd = "connection:prod/credential:readwrite";

SecretBox box(const std::string& key = kHexKey) {
  auto b = SecretBox::fromKey(key);
  EXPECT_TRUE(b.ok()) << (b.ok() ? "" : b.error().message);
  return *b;
}

// Standard base64, for the tests' own decoding (independent of the code under test).
std::string b64decode(std::string_view text) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    if (c == '=') break;
    acc = (acc << 6) | static_cast<uint32_t>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string b64encode(std::string_view raw) {
  static const char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < raw.size(); i += 3) {
    uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8) | uint8_t(raw[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (raw.size() - i == 1) {
    uint32_t v = uint8_t(raw[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (raw.size() - i == 2) {
    uint32_t v = (uint8_t(raw[i]) << 16) | (uint8_t(raw[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

TEST(SecretBox, RoundTrip) {
  const SecretBox b = box();
  for (std::string plain :
       {std::string(), std::string(kPlain), std::string("a\0b\xff", 4), std::string(100000, 'x')}) {
    const std::string sealed = b.seal(plain, kAd);
    auto opened = b.open(sealed, kAd);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(*opened, plain);
    // version + nonce + ciphertext + tag
    EXPECT_EQ(b64decode(sealed).size(), 1 + 12 + plain.size() + 16);
  }
}

TEST(SecretBox, LayoutVersionNonceCiphertextTag) {
  const std::string raw = b64decode(box().seal(kPlain, kAd));
  EXPECT_EQ(raw[0], '\x01');
  // The plaintext does not appear in the sealed form.
  EXPECT_EQ(raw.find(kPlain), std::string::npos);
  EXPECT_EQ(box().seal(kPlain, kAd).find(kPlain), std::string::npos);
}

TEST(SecretBox, FreshNonceEverySeal) {
  const SecretBox b = box();
  std::set<std::string> nonces;
  std::set<std::string> sealed;
  for (int i = 0; i < 50; ++i) {
    const std::string s = b.seal(kPlain, kAd);
    sealed.insert(s);
    nonces.insert(b64decode(s).substr(1, 12));
  }
  EXPECT_EQ(nonces.size(), 50u);
  EXPECT_EQ(sealed.size(), 50u);
}

TEST(SecretBox, HexAndRawFormsOfTheSameKeyAgree) {
  const std::string sealed = box(kHexKey).seal(kPlain, kAd);
  auto opened = box(kRawKey).open(sealed, kAd);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  EXPECT_EQ(*opened, kPlain);
  std::string upper = kHexKey;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(box(upper).open(sealed, kAd).ok());
}

TEST(SecretBox, RejectsBadKeys) {
  for (const std::string& key :
       {std::string(), std::string(31, 'k'), std::string(33, 'k'), std::string(63, 'a'),
        std::string(65, 'a'), std::string(63, 'a') + "g"}) {
    auto b = SecretBox::fromKey(key);
    ASSERT_FALSE(b.ok()) << key.size();
    EXPECT_NE(b.error().message.find("state.master_key"), std::string::npos);
    if (!key.empty()) {
      EXPECT_EQ(b.error().message.find(key), std::string::npos);
    }
  }
}

TEST(SecretBox, TamperingWithAnyPartFails) {
  const SecretBox b = box();
  const std::string raw = b64decode(b.seal(kPlain, kAd));
  ASSERT_EQ(raw.size(), 1 + 12 + kPlain.size() + 16);
  // Every byte: version (0), nonce (1..12), ciphertext, tag (last 16).
  for (size_t i = 0; i < raw.size(); ++i) {
    std::string bad = raw;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    auto opened = b.open(b64encode(bad), kAd);
    ASSERT_FALSE(opened.ok()) << "byte " << i;
    EXPECT_EQ(opened.error().sqlstate, "400");
    EXPECT_EQ(opened.error().message.find(kPlain), std::string::npos);
    if (i == 0) {
      EXPECT_NE(opened.error().message.find("version"), std::string::npos);
    } else {
      EXPECT_NE(opened.error().message.find("does not authenticate"), std::string::npos);
    }
  }
  // Truncated (a missing tag byte) or extended.
  EXPECT_FALSE(b.open(b64encode(raw.substr(0, raw.size() - 1)), kAd).ok());
  EXPECT_FALSE(b.open(b64encode(raw + "x"), kAd).ok());
  EXPECT_FALSE(b.open(b64encode(raw.substr(0, 28)), kAd).ok());
  auto short_one = b.open(b64encode(raw.substr(0, 20)), kAd);
  ASSERT_FALSE(short_one.ok());
  EXPECT_NE(short_one.error().message.find("too short"), std::string::npos);
}

TEST(SecretBox, WrongAssociatedDataFails) {
  const SecretBox b = box();
  const std::string sealed = b.seal(kPlain, kAd);
  for (std::string_view ad : {std::string_view(), std::string_view("connection:prod/credential:x"),
                              std::string_view("connection:prod/credential:readwritE")}) {
    auto opened = b.open(sealed, ad);
    ASSERT_FALSE(opened.ok());
    EXPECT_NE(opened.error().message.find("does not authenticate"), std::string::npos);
  }
  // Empty associated data round-trips too.
  EXPECT_EQ(*b.open(b.seal(kPlain, ""), ""), kPlain);
}

TEST(SecretBox, WrongKeyFails) {
  const std::string sealed = box().seal(kPlain, kAd);
  std::string other = kHexKey;
  other.back() = 'e';
  auto opened = box(other).open(sealed, kAd);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("state.master_key"), std::string::npos);
  EXPECT_EQ(opened.error().message.find(kPlain), std::string::npos);
}

TEST(SecretBox, BadBase64Fails) {
  const SecretBox b = box();
  const std::string sealed = b.seal(kPlain, kAd);
  const std::string cases[] = {
      "",                                   // empty: too short after decoding
      sealed.substr(0, sealed.size() - 1),  // not a multiple of 4
      "*" + sealed.substr(1),               // outside the alphabet
      sealed.substr(0, 4) + "\n" + sealed.substr(4, sealed.size() - 5),  // whitespace
      sealed.substr(0, 8) + "====" + sealed.substr(12),                  // padding inside
      "QQ==QUFB",                 // padding before the last quad
      "QR==",                     // non-zero unused bits
      "-_-_" + sealed.substr(4),  // base64url alphabet
  };
  for (const std::string& text : cases) {
    auto opened = b.open(text, kAd);
    ASSERT_FALSE(opened.ok()) << text;
    EXPECT_EQ(opened.error().sqlstate, "400");
  }
  auto opened = b.open("*" + sealed.substr(1), kAd);
  EXPECT_NE(opened.error().message.find("base64"), std::string::npos);
}

}  // namespace
}  // namespace pgw::review
