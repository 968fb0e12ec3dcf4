// Stored SCRAM verifiers, the MD5 response, base64 and the small primitives
// under them.

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "auth/scram.h"

namespace pgw::auth {
namespace {

// --- Verifiers -----------------------------------------------------------------

TEST(ScramSecret, FormatParseRoundTrip) {
  ScramSecret secret = makeScramSecret("pw", 4096);
  std::string text = formatScramSecret(secret);
  ASSERT_TRUE(text.starts_with("SCRAM-SHA-256$4096:"));
  auto parsed = parseScramSecret(text);
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(parsed->iterations, secret.iterations);
  EXPECT_EQ(parsed->salt, secret.salt);
  EXPECT_EQ(parsed->stored_key, secret.stored_key);
  EXPECT_EQ(parsed->server_key, secret.server_key);
  EXPECT_EQ(formatScramSecret(*parsed), text);
}

TEST(ScramSecret, MakeUsesAFresh16ByteSalt) {
  ScramSecret a = makeScramSecret("pw");
  ScramSecret b = makeScramSecret("pw");
  EXPECT_EQ(a.iterations, 4096);
  EXPECT_EQ(a.salt.size(), 16u);
  EXPECT_EQ(a.stored_key.size(), 32u);
  EXPECT_EQ(a.server_key.size(), 32u);
  EXPECT_NE(a.salt, b.salt);
  EXPECT_NE(a.stored_key, b.stored_key);
}

TEST(ScramSecret, DeriveIsDeterministic) {
  ScramSecret a = deriveScramSecret("pw", "0123456789abcdef", 4096);
  ScramSecret b = deriveScramSecret("pw", "0123456789abcdef", 4096);
  EXPECT_EQ(formatScramSecret(a), formatScramSecret(b));
  EXPECT_NE(formatScramSecret(a),
            formatScramSecret(deriveScramSecret("pw", "0123456789abcdef", 4097)));
}

struct BadSecret {
  std::string_view text;
  std::string_view mentions;
};

class ScramSecretMalformed : public testing::TestWithParam<BadSecret> {};

constexpr std::string_view kKey = "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=";

TEST_P(ScramSecretMalformed, IsRejectedWithoutEchoingTheKeys) {
  const BadSecret& c = GetParam();
  auto parsed = parseScramSecret(c.text);
  ASSERT_FALSE(parsed.ok()) << c.text;
  EXPECT_NE(parsed.error().message.find(c.mentions), std::string::npos)
      << c.text << " -> " << parsed.error().message;
  EXPECT_EQ(parsed.error().message.find(kKey), std::string::npos);
  EXPECT_FALSE(parsed.error().sqlstate.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Table, ScramSecretMalformed,
    testing::Values(BadSecret{"", "does not start with"},
                    BadSecret{"md5f64541973f35f4cfe12d83e8ab9589d0", "does not start with"},
                    BadSecret{"SCRAM-SHA-1$4096:c2FsdA==$x:y", "does not start with"},
                    BadSecret{"scram-sha-256$4096:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "does not start with"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSxT5/Etg==", "'$'"},
                    BadSecret{"SCRAM-SHA-256$4096$rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "iteration count"},
                    BadSecret{"SCRAM-SHA-256$0:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "iteration count"},
                    BadSecret{"SCRAM-SHA-256$-1:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "iteration count"},
                    BadSecret{"SCRAM-SHA-256$4096x:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "iteration count"},
                    BadSecret{"SCRAM-SHA-256$99999999999:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "iteration count"},
                    BadSecret{"SCRAM-SHA-256$4096:$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "the salt"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSx*5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "the salt"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "between StoredKey"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSxT5/Etg==$"
                              "c2hvcnQ=:rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=",
                              "StoredKey is"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0",
                              "ServerKey is"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=$extra",
                              "ServerKey is"},
                    BadSecret{"SCRAM-SHA-256$4096:ITXjirRYu6fgIMSxT5/Etg==$"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0=:"
                              "rYD4kChMdQEZxAJsZGHA4j56gDNXrHDXWcSwl2pHQs0= ",
                              "ServerKey is"}));

// --- MD5 -----------------------------------------------------------------------

TEST(Md5Password, KnownAnswers) {
  // Expected values from Python's hashlib:
  //   "md5" + md5(md5(password + user).hexdigest() + salt).hexdigest()
  EXPECT_EQ(md5PasswordResponse("postgres", "secret", std::string_view("\x01\x02\x03\x04", 4)),
            "md5bb41a296aab6baccb36ff243a562abff");
  EXPECT_EQ(md5PasswordResponse("agent_ro", "pencil", "\xde\xad\xbe\xef"),
            "md558b184336286732a4f36ea35440d960e");
}

TEST(Md5Password, MatchesAPostgresMd5Verifier) {
  // PostgreSQL 15.18 stored "md5f64541973f35f4cfe12d83e8ab9589d0" for role
  // agent_md5, password "pencil"; the server expects "md5" + md5(that hex +
  // salt). A zero byte in the salt must not truncate anything.
  EXPECT_EQ(md5PasswordResponse("agent_md5", "pencil", "\xde\xad\xbe\xef"),
            "md5cd1f7cefa0875b4d202757d39ec5a3f0");
  EXPECT_EQ(md5PasswordResponse("agent_md5", "pencil", std::string_view("\0\0\0\0", 4)),
            "md5e1f38e1d2b16b3991e3ba9a54f5e995d");
}

// --- base64 --------------------------------------------------------------------

TEST(Base64, EncodesRfc4648Vectors) {
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode("foob"), "Zm9vYg==");
  EXPECT_EQ(base64Encode("fooba"), "Zm9vYmE=");
  EXPECT_EQ(base64Encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64Encode("n,,"), "biws");
  EXPECT_EQ(base64Encode("y,,"), "eSws");
}

TEST(Base64, DecodesRfc4648Vectors) {
  for (std::string_view raw : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
    auto decoded = base64Decode(base64Encode(raw));
    ASSERT_TRUE(decoded.ok()) << raw;
    EXPECT_EQ(*decoded, raw);
  }
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t len = 0; len <= all.size(); len += 37) {
    auto decoded = base64Decode(base64Encode(all.substr(0, len)));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, all.substr(0, len));
  }
}

class Base64Invalid : public testing::TestWithParam<std::string_view> {};

TEST_P(Base64Invalid, IsRejected) {
  auto decoded = base64Decode(GetParam());
  ASSERT_FALSE(decoded.ok()) << GetParam();
  EXPECT_EQ(decoded.error().sqlstate, "08P01");
}

INSTANTIATE_TEST_SUITE_P(Table, Base64Invalid,
                         testing::Values("Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v=",
                                         "Zm=v", "=m9v", "Zm9v\n", " Zm9v", "Zm 9v", "Zm9-", "Zm9_",
                                         "Zm9*", "Zh==",  // non-zero unused bits
                                         "Zm9=",          // non-zero unused bits
                                         std::string_view("Zm\0v", 4)));

// --- Primitives ------------------------------------------------------------------

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(constantTimeEquals("", ""));
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "ab"));
  EXPECT_FALSE(constantTimeEquals("", "a"));
  EXPECT_TRUE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0b", 3)));
  EXPECT_FALSE(constantTimeEquals(std::string_view("a\0b", 3), std::string_view("a\0c", 3)));
}

TEST(RandomBytes, HasTheRequestedLengthAndVaries) {
  EXPECT_TRUE(randomBytes(0).empty());
  std::set<std::string> seen;
  for (int i = 0; i < 8; ++i) {
    std::string r = randomBytes(18);
    EXPECT_EQ(r.size(), 18u);
    seen.insert(r);
  }
  EXPECT_EQ(seen.size(), 8u);
}

}  // namespace
}  // namespace pgw::auth
