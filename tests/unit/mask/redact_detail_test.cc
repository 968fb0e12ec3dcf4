// redactDetail on the DETAIL texts PostgreSQL 15 produces (captured from a
// server: unique, expression-index, check, foreign-key and exclusion
// violations).

#include "mask/redact_detail.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgw::mask {
namespace {

struct Case {
  const char* detail;
  std::vector<std::string> masked;
  const char* expected;
};

TEST(RedactDetail, ValuesOfMaskedColumns) {
  const std::vector<Case> cases = {
      {"Key (email)=(alice@example.com) already exists.",
       {"email"},
       "Key (email)=(***) already exists."},
      {"Key (email)=(alice@example.com) already exists.",
       {"EMAIL"},
       "Key (email)=(***) already exists."},
      {"Key (email)=(alice@example.com) already exists.",
       {"name"},
       "Key (email)=(alice@example.com) already exists."},
      {"Key (lower(email))=(alice@example.com) already exists.",
       {"email"},
       "Key (lower(email))=(***) already exists."},
      {"Key (pid)=(99) is not present in table \"p\".",
       {"email"},
       "Key (pid)=(99) is not present in table \"p\"."},
      {"Key (id, email)=(7, alice@example.com) already exists.",
       {"email"},
       "Key (id, email)=(7, ***) already exists."},
      // ", " inside a value: the values cannot be matched to columns.
      {"Key (a, b)=(x, y, 1) already exists.", {"b"}, "Key (a, b)=(***) already exists."},
      // A value with ")" and a fake ending is redacted whole.
      {"Key (email)=(x) already exists. Key (id)=(5) already exists.",
       {"email"},
       "Key (email)=(***) already exists."},
      {"Key (e, during)=(carol@x.io, [\"2024-01-15 00:00:00\",\"2024-03-01 00:00:00\")) "
       "conflicts with existing key (e, during)=(carol@x.io, [\"2024-01-01 00:00:00\","
       "\"2024-02-01 00:00:00\")).",
       {"e"},
       "Key (e, during)=(***)."},
      {"Failing row contains (4, bob@example.com, toolong).",
       {"email"},
       "Failing row contains (***)."},
      {"Failing row contains (4, bob@example.com, toolong).",
       {},
       "Failing row contains (4, bob@example.com, toolong)."},
      {"Key (\"E-mail\")=(a@b.io) already exists.",
       {"e-mail"},
       "Key (\"E-mail\")=(***) already exists."},
      {"Key (email)=(unterminated", {"email"}, "Key (email)=(***"},
      {"Key (x)=(1) already exists.", {"*"}, "Key (x)=(***) already exists."},
      {"no values here", {"email"}, "no values here"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(redactDetail(c.detail, c.masked, nullptr), c.expected) << c.detail;
  }
}

TEST(RedactDetail, DetectorsCoverTheRest) {
  MaskSpec spec;
  auto d = Detectors::compile({{"email", "", "", &spec, "p"}});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(redactDetail("Failing row contains (4, bob@example.com, toolong).", {}, d->get()),
            "Failing row contains (4, ***, toolong).");
  EXPECT_EQ(
      redactDetail("invalid input syntax for type integer: \"bob@example.com\"", {}, d->get()),
      "invalid input syntax for type integer: \"***\"");
  const std::vector<std::string> email = {"email"};
  EXPECT_EQ(redactDetail("Key (id)=(bob@example.com) already exists.", email, d->get(), 0),
            "Key (id)=(bob@example.com) already exists.");  // no detector enabled
}

}  // namespace
}  // namespace pgw::mask
