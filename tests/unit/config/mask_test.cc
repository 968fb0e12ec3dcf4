/// `policies[].mask` and `masking:`: a full rule list round-trips, every
/// mistake the loader can see names its key path, and the hash key is a
/// secret that never appears in an error.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>

#include "config/config.h"

namespace pgw::config {
namespace {

constexpr const char* kBase = R"(
connections:
  prod:
    host: db.internal
    credentials:
      readonly: { user: agent_ro }
)";

Result<std::shared_ptr<const Config>> parse(const std::string& rest) {
  return parseConfig(std::string(kBase) + rest, "/");
}

std::string policyWith(const std::string& mask, const std::string& masking = "") {
  return masking + R"(
policies:
  - name: agents
    subjects: { groups: [ai-agents] }
    connections: [prod]
    mask:
)" + mask;
}

std::string errorOf(const Result<std::shared_ptr<const Config>>& r) {
  return r.ok() ? "(no error)" : r.error().message;
}

TEST(MaskConfig, FullRuleListRoundTrips) {
  ::setenv("PGW_TEST_MASK_KEY", "a-key-of-at-least-16-bytes", 1);
  auto r = parse(policyWith(R"(
      - { column: public.users.email, with: email, except: { groups: [support] } }
      - { column: "*.ssn", with: redact, text: "[ssn]" }
      - { column: users.card, with: partial, keep_last: 4 }
      - { column: users.card_token, with: hash, length: 24 }
      - { column: users.phone, with: format_preserving }
      - { column: users.birth, with: truncate_date, to: year }
      - { column: salary, with: round, digits: -3, except: { ids: [alice] } }
      - { column: users.notes, with: "null" }
      - { detect: [credit_card, email], with: redact }
      - { detect: { pattern: "EMP-\\d{6}", name: employee_id }, with: partial, keep_first: 4 }
      - { detect: ssn, with: "null" }
)",
                            R"(
masking:
  hash_key: "${env:PGW_TEST_MASK_KEY}"
  on_untraceable: deny
)"));
  ASSERT_TRUE(r.ok()) << errorOf(r);
  const Config& c = **r;
  EXPECT_EQ(c.masking.hash_key.reveal(), "a-key-of-at-least-16-bytes");
  EXPECT_EQ(c.masking.on_untraceable, OnUntraceable::Deny);
  const auto& m = c.policies.at(0).mask;
  ASSERT_EQ(m.size(), 11u);
  EXPECT_EQ(m[0].column, "public.users.email");
  EXPECT_EQ(m[0].with, MaskWith::Email);
  EXPECT_EQ(m[0].except_groups, std::vector<std::string>{"support"});
  EXPECT_EQ(m[1].text, "[ssn]");
  EXPECT_EQ(m[2].keep_last, 4);
  EXPECT_EQ(m[2].keep_first, 0);
  EXPECT_EQ(m[3].length, 24);
  EXPECT_EQ(m[4].with, MaskWith::FormatPreserving);
  EXPECT_EQ(m[5].to, DateUnit::Year);
  EXPECT_EQ(m[6].digits, -3);
  EXPECT_EQ(m[6].except_ids, std::vector<std::string>{"alice"});
  EXPECT_EQ(m[7].with, MaskWith::Null);
  ASSERT_EQ(m[8].detect.size(), 2u);
  EXPECT_EQ(m[8].detect[1].builtin, "email");
  ASSERT_EQ(m[9].detect.size(), 1u);
  EXPECT_EQ(m[9].detect[0].pattern, "EMP-\\d{6}");
  EXPECT_EQ(m[9].detect[0].name, "employee_id");
  EXPECT_EQ(m[10].detect[0].builtin, "ssn");
}

TEST(MaskConfig, Defaults) {
  auto r = parse(policyWith("      - { column: t.c, with: redact }\n"));
  ASSERT_TRUE(r.ok()) << errorOf(r);
  EXPECT_TRUE((*r)->masking.hash_key.empty());
  EXPECT_EQ((*r)->masking.on_untraceable, OnUntraceable::Mask);
  EXPECT_EQ((*r)->policies[0].mask[0].text, "***");
  auto none = parse(R"(
policies:
  - { name: p, subjects: { ids: [x] }, connections: [prod] }
)");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE((*none)->policies[0].mask.empty());
}

TEST(MaskConfig, ErrorsNameTheKey) {
  struct Case {
    std::string rules;
    std::string error;
  };
  const std::vector<Case> cases = {
      {"      - { with: redact }\n",
       "config: policies[0].mask[0]: must set exactly one of column (which columns) and detect "
       "(what content)"},
      {"      - { column: a.b, detect: [email], with: redact }\n",
       "config: policies[0].mask[0]: must set exactly one of column"},
      {"      - { column: a.b }\n", "config: policies[0].mask[0].with: is required"},
      {"      - { column: a.b, with: scramble }\n",
       "config: policies[0].mask[0].with: must be one of"},
      {"      - { column: a..b, with: redact }\n",
       "config: policies[0].mask[0].column: 'a..b' has an empty name part"},
      {"      - { column: a.b.c.d, with: redact }\n",
       "config: policies[0].mask[0].column: 'a.b.c.d' has 4 dotted parts"},
      {"      - { column: a.b, with: redact, keep_last: 4 }\n",
       "config: policies[0].mask[0].keep_last: belongs to with: partial, not with: redact"},
      {"      - { column: a.b, with: partial }\n",
       "config: policies[0].mask[0]: with: partial needs keep_first and/or keep_last"},
      {"      - { column: a.b, with: partial, keep_first: 65 }\n",
       "config: policies[0].mask[0].keep_first: "},
      {"      - { column: a.b, with: truncate_date }\n",
       "config: policies[0].mask[0].to: is required with truncate_date"},
      {"      - { column: a.b, with: truncate_date, to: week }\n",
       "config: policies[0].mask[0].to: must be one of"},
      {"      - { column: a.b, with: round }\n",
       "config: policies[0].mask[0].digits: is required with round"},
      {"      - { column: a.b, with: hash }\n",
       "config: policies[0].mask[0].with: hash needs masking.hash_key"},
      {"      - { column: a.b, with: format_preserving }\n",
       "config: policies[0].mask[0].with: format_preserving needs masking.hash_key"},
      {"      - { detect: [email], with: round, digits: 1 }\n",
       "config: policies[0].mask[0].with: round works on whole date or number values"},
      {"      - { detect: [passport], with: redact }\n",
       "config: policies[0].mask[0].detect[0]: 'passport' is not a built-in detector"},
      {"      - { detect: [email, email], with: redact }\n",
       "config: policies[0].mask[0].detect[1]: 'email' is listed twice"},
      {"      - { detect: [], with: redact }\n",
       "config: policies[0].mask[0].detect: must name at least one detector"},
      {"      - { detect: { name: x }, with: redact }\n",
       "config: policies[0].mask[0].detect.pattern: is required"},
      {"      - { detect: { pattern: x, name: \"a b\" }, with: redact }\n",
       "config: policies[0].mask[0].detect.name: may hold only"},
      {"      - { column: a.b, with: redact, except: {} }\n",
       "config: policies[0].mask[0].except: must list at least one group or id"},
      {"      - { column: a.b, with: redact, except: { roles: [x] } }\n",
       "config: policies[0].mask[0].except.roles: unknown key"},
      {"      - email\n", "config: policies[0].mask[0]: must be a mapping"},
  };
  for (const Case& c : cases) {
    auto r = parse(policyWith(c.rules));
    EXPECT_EQ(errorOf(r).rfind(c.error, 0), 0u) << c.rules << " -> " << errorOf(r);
  }
  EXPECT_EQ(errorOf(parse(policyWith("", "").replace(policyWith("", "").find("    mask:\n"), 10,
                                                     "    mask: { column: a.b }\n")))
                .rfind("config: policies[0].mask: must be a list of rules", 0),
            0u);
}

TEST(MaskConfig, HashKeyIsASecret) {
  ::setenv("PGW_TEST_SHORT_KEY", "short-secret", 1);
  auto r = parse(policyWith("      - { column: a.b, with: hash }\n",
                            "masking: { hash_key: \"${env:PGW_TEST_SHORT_KEY}\" }\n"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(errorOf(r).rfind("config: masking.hash_key: must be at least 16 bytes", 0), 0u)
      << errorOf(r);
  EXPECT_EQ(errorOf(r).find("short-secret"), std::string::npos);
  auto unknown = parse("masking: { key: x }\n");
  EXPECT_EQ(errorOf(unknown).rfind("config: masking.key: unknown key", 0), 0u) << errorOf(unknown);
  auto choice = parse("masking: { on_untraceable: allow }\n");
  EXPECT_EQ(errorOf(choice).rfind("config: masking.on_untraceable: must be one of", 0), 0u)
      << errorOf(choice);
}

TEST(MaskConfig, KeyPathLinePointsAtTheRule) {
  const std::string yaml = std::string(kBase) + policyWith(
                                                    "      - { column: a.b, with: redact }\n"
                                                    "      - { column: a.b, with: round }\n");
  auto r = parseConfig(yaml, "/");
  ASSERT_FALSE(r.ok());
  auto line = errorLine(yaml, r.error().message);
  ASSERT_TRUE(line);
  EXPECT_EQ(*line, 14);  // the second rule
}

}  // namespace
}  // namespace pgw::config
