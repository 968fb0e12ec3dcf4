// compileMaskRules: column globs, first match wins, exemptions, detectors per
// subject, and the errors a bad rule set gives.

#include "mask/rules.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace pgw::mask {
namespace {

using config::MaskRuleConfig;
using config::MaskWith;

MaskRuleConfig column(std::string pattern, MaskWith with) {
  MaskRuleConfig r;
  r.column = std::move(pattern);
  r.with = with;
  return r;
}

MaskRuleConfig detect(std::vector<std::string> names, MaskWith with) {
  MaskRuleConfig r;
  for (auto& n : names) r.detect.push_back({n, "", ""});
  r.with = with;
  return r;
}

const std::vector<std::string> kNoGroups;
const std::vector<std::string> kSupport = {"support"};

TEST(MaskRules, GlobMatch) {
  EXPECT_TRUE(globMatch("*", ""));
  EXPECT_TRUE(globMatch("*", "anything"));
  EXPECT_TRUE(globMatch("e*l", "email"));
  EXPECT_TRUE(globMatch("*mail*", "E_MAIL_addr"));
  EXPECT_TRUE(globMatch("Users", "users"));
  EXPECT_FALSE(globMatch("user", "users"));
  EXPECT_FALSE(globMatch("*.x", "ax"));
  EXPECT_TRUE(globMatch("a*b*c", "aXbYbZc"));
}

TEST(MaskRules, FirstMatchingRuleThatAppliesWins) {
  auto email = column("public.users.email", MaskWith::Email);
  email.except_groups = {"support"};
  std::vector<MaskRuleConfig> cfg = {email, column("*.ssn", MaskWith::Redact),
                                     column("*mail*", MaskWith::Hash),
                                     column("billing.*.card*", MaskWith::Partial)};
  cfg[3].keep_last = 4;
  auto rules = compileMaskRules(cfg, "0123456789abcdef");
  ASSERT_TRUE(rules.ok()) << rules.error().message;

  const MaskSpec* s = rules->forColumn("public", "users", "email", kNoGroups, "bob");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->function, MaskWith::Email);
  EXPECT_EQ(s->rule, "mask[0]");
  // Case-insensitive: catalog names are usually lower case, rules may not be.
  EXPECT_EQ(rules->forColumn("PUBLIC", "Users", "EMAIL", kNoGroups, "bob"), s);
  // support is exempt from rule 0; rule 2 (any column like *mail*) still applies.
  const MaskSpec* t = rules->forColumn("public", "users", "email", kSupport, "carol");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->rule, "mask[2]");
  EXPECT_EQ(t->function, MaskWith::Hash);
  EXPECT_NE(t->key, nullptr);
  // "*.ssn" is table.column in any schema.
  EXPECT_EQ(rules->forColumn("hr", "people", "ssn", kNoGroups, "bob")->rule, "mask[1]");
  EXPECT_EQ(rules->forColumn("hr", "people", "ssn_last4", kNoGroups, "bob"), nullptr);
  EXPECT_EQ(rules->forColumn("billing", "cards", "card_number", kNoGroups, "bob")->keep_last, 4);
  EXPECT_EQ(rules->forColumn("public", "cards", "card_number", kNoGroups, "bob"), nullptr);
  EXPECT_EQ(rules->forColumn("public", "users", "name", kNoGroups, "bob"), nullptr);
  EXPECT_TRUE(rules->appliesTo(kSupport, "carol"));
  EXPECT_EQ(rules->detectors(), nullptr);
  EXPECT_EQ(rules->untraceable().function, MaskWith::Redact);
  EXPECT_EQ(rules->untraceable().rule, "untraceable");
}

TEST(MaskRules, ComputedValuesGetAMaskThatHidesThemWhole) {
  std::vector<MaskRuleConfig> cfg = {
      column("*.email", MaskWith::Email), column("*.ssn", MaskWith::Hash),
      column("*.salary", MaskWith::Round), column("*.note", MaskWith::Null)};
  cfg[0].text = "[hidden]";
  auto rules = compileMaskRules(cfg, "0123456789abcdef");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  for (const char* col : {"email", "salary"}) {
    const MaskSpec* s = rules->forColumn("public", "users", col, kNoGroups, "bob");
    ASSERT_NE(s, nullptr);
    ASSERT_NE(s->derived, nullptr);
    EXPECT_NE(s->derived, s) << col;
    EXPECT_EQ(s->derived->function, MaskWith::Redact) << col;
    EXPECT_EQ(s->derived->rule, s->rule) << col;
    EXPECT_EQ(s->derived->text, s->text) << col;
  }
  for (const char* col : {"ssn", "note"}) {
    const MaskSpec* s = rules->forColumn("public", "users", col, kNoGroups, "bob");
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->derived, s) << col;
  }
}

TEST(MaskRules, ExemptionsById) {
  auto r = column("*.*.salary", MaskWith::Null);
  r.except_ids = {"alice"};
  auto rules = compileMaskRules({r}, "");
  ASSERT_TRUE(rules.ok());
  EXPECT_EQ(rules->forColumn("hr", "pay", "salary", kNoGroups, "alice"), nullptr);
  EXPECT_NE(rules->forColumn("hr", "pay", "salary", kNoGroups, "bob"), nullptr);
  EXPECT_FALSE(rules->appliesTo(kNoGroups, "alice"));
  EXPECT_TRUE(rules->appliesTo(kNoGroups, "bob"));
}

TEST(MaskRules, DetectorsPerSubject) {
  auto emails = detect({"email"}, MaskWith::Email);
  emails.except_groups = {"support"};
  MaskRuleConfig custom;
  custom.detect.push_back({"", R"(EMP-\d{6})", "employee_id"});
  custom.with = MaskWith::Redact;
  auto rules = compileMaskRules({emails, detect({"credit_card", "ssn"}, MaskWith::Redact), custom},
                                "", "policies[3].mask");
  ASSERT_TRUE(rules.ok()) << rules.error().message;
  const Detectors* d = rules->detectors();
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->size(), 4u);
  EXPECT_EQ(d->spec(0).rule, "mask[0]:email");
  EXPECT_EQ(d->spec(2).rule, "mask[1]:ssn");
  EXPECT_EQ(d->spec(3).rule, "mask[2]:employee_id");
  EXPECT_EQ(rules->detectorsFor(kNoGroups, "bob"), 0b1111u);
  EXPECT_EQ(rules->detectorsFor(kSupport, "carol"), 0b1110u);
  Hits hits;
  EXPECT_FALSE(d->scan("mail alice@example.com", hits, rules->detectorsFor(kSupport, "carol")));
  EXPECT_TRUE(d->scan("mail alice@example.com", hits, rules->detectorsFor(kNoGroups, "bob")));
}

TEST(MaskRules, Errors) {
  MaskRuleConfig bad;
  bad.detect.push_back({"", "a(b", "x"});
  auto r = compileMaskRules({column("a.b", MaskWith::Redact), bad}, "", "policies[1].mask");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().sqlstate, "F0000");
  EXPECT_EQ(r.error().message.rfind("config: policies[1].mask[1].detect.pattern: invalid regular "
                                    "expression (RE2 syntax): ",
                                    0),
            0u)
      << r.error().message;
  auto no_key = compileMaskRules({column("a.b", MaskWith::Hash)}, "", "policies[0].mask");
  ASSERT_FALSE(no_key.ok());
  EXPECT_EQ(no_key.error().message,
            "config: policies[0].mask[0].with: hash needs masking.hash_key");
}

}  // namespace
}  // namespace pgw::mask
