/// Standard base64: RFC 4648 §10 vectors, and the strict decoder refuses
/// every input that is not the one encoding of its value.

#include "common/base64.h"

#include <gtest/gtest.h>

namespace pgw {
namespace {

TEST(Base64, Rfc4648Vectors) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [raw, encoded] : vectors) {
    EXPECT_EQ(base64Encode(raw), encoded);
    EXPECT_EQ(base64Decode(encoded), std::string(raw)) << encoded;
  }
  const std::string bytes("\x00\xff\xfe\x80", 4);
  EXPECT_EQ(base64Decode(base64Encode(bytes)), bytes);
}

TEST(Base64, StrictDecoding) {
  for (const char* bad :
       {"Zg", "Zg=", "Zh==", "Zm9=", "Zm 9v", "Zm9v\n", "Z===", "=Zm9", "Zm-_", "Zg==Zg=="}) {
    EXPECT_FALSE(base64Decode(bad)) << bad;
  }
}

}  // namespace
}  // namespace pgw
