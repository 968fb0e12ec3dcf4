// Content detectors: what each finds and what it must not (table-driven),
// span masking in plain text and JSON, and the cost guard for values
// without hits.

#include "mask/detectors.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "pg_decode.h"

namespace pgw::mask {
namespace {

MaskSpec redact() {
  MaskSpec s;
  s.rule = "mask[0]";
  return s;
}

struct Fixture {
  std::vector<std::unique_ptr<MaskSpec>> specs;
  std::unique_ptr<Detectors> detectors;
};

Fixture compileAll(std::vector<std::string> builtins, MaskSpec spec = redact()) {
  Fixture f;
  std::vector<DetectorDef> defs;
  for (const auto& b : builtins) {
    f.specs.push_back(std::make_unique<MaskSpec>(spec));
    defs.push_back({b, "", "", f.specs.back().get(), "mask[0].detect"});
  }
  auto d = Detectors::compile(std::move(defs));
  EXPECT_TRUE(d.ok()) << (d.ok() ? "" : d.error().message);
  f.detectors = std::move(*d);
  return f;
}

/// The spans `detector` finds in `text`, as strings.
std::vector<std::string> found(const std::string& detector, std::string_view text) {
  Fixture f = compileAll({detector});
  Hits hits;
  f.detectors->scan(text, hits);
  std::vector<std::string> out;
  for (const Hit& h : hits) out.emplace_back(text.substr(h.begin, h.end - h.begin));
  return out;
}

using Spans = std::vector<std::string>;

TEST(Detectors, FindWhatTheyShouldAndNothingElse) {
  struct Case {
    const char* detector;
    const char* text;
    Spans spans;
  };
  const std::vector<Case> cases = {
      {"email",
       "contact alice.o+news@mail.example.co.uk today",
       {"alice.o+news@mail.example.co.uk"}},
      {"email", "two: a@b.io, c@d.org", {"a@b.io", "c@d.org"}},
      {"email", "not@an-address and @twitter and a@b", {}},
      {"phone", "call +1 (555) 123-4567 now", {"+1 (555) 123-4567"}},
      {"phone", "+442079460958", {"+442079460958"}},
      {"phone", "us: (555) 123-4567 or 555.123.4567", {"(555) 123-4567", "555.123.4567"}},
      {"phone", "on 2024-01-15 at 12:30, order 1234567", {}},
      {"credit_card", "card 4111 1111 1111 1111 exp", {"4111 1111 1111 1111"}},
      {"credit_card", "4111-1111-1111-1111", {"4111-1111-1111-1111"}},
      {"credit_card", "amex 378282246310005.", {"378282246310005"}},
      {"credit_card", "card 4111111111111111 2", {"4111111111111111"}},
      {"credit_card", "order 4111111111111112 (bad checksum)", {}},
      {"credit_card", "id 94111111111111111111111", {}},  // too long: not a card
      {"credit_card", "x14111111111111111", {}},          // glued to a word
      {"ssn", "ssn 123-45-6789.", {"123-45-6789"}},
      {"ssn", "123 45 6789", {"123 45 6789"}},
      {"ssn", "000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000 123-45 6789", {}},
      {"iban", "pay DE89 3704 0044 0532 0130 00 now", {"DE89 3704 0044 0532 0130 00"}},
      {"iban", "GB82WEST12345698765432", {"GB82WEST12345698765432"}},
      {"iban", "GB82WEST12345698765433", {}},  // check digits wrong
      {"ipv4", "from 192.168.0.1:5432 and 10.0.0.255", {"192.168.0.1", "10.0.0.255"}},
      {"ipv4", "version 1.2.3.4.5 and 999.1.1.1 and 1.2.3", {}},
      {"ipv6", "peer 2001:db8::8a2e:370:7334 up", {"2001:db8::8a2e:370:7334"}},
      {"ipv6", "fe80::1 and ::ffff:192.0.2.1", {"fe80::1", "::ffff:192.0.2.1"}},
      {"ipv6", "std::string at 12:34:56", {}},
      {"jwt",
       "Bearer "
       "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
       "XgL0n3I9PlFUP0THsR8U",
       {"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_"
        "XgL0n3I9PlFUP0THsR8U"}},
      {"api_key", "key=sk_live_4eC39HqLyjWDarjtT1zdp7dc;", {"sk_live_4eC39HqLyjWDarjtT1zdp7dc"}},
      {"api_key",
       "AKIAIOSFODNN7EXAMPLE and ghp_1234567890abcdefghijklmnopqrstuvwxyz",
       {"AKIAIOSFODNN7EXAMPLE", "ghp_1234567890abcdefghijklmnopqrstuvwxyz"}},
      {"api_key", "xoxb-123456789012-abcdefghij", {"xoxb-123456789012-abcdefghij"}},
      {"api_key",
       "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY----- ok",
       {"-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----"}},
      {"api_key", "task_live_4eC39HqLyjWDarjtT1zdp7dc is a word", {}},
      {"api_key",
       "token pgw_0123456789abcdefghijABCDEFGHIJ0123456789abc.",
       {"pgw_0123456789abcdefghijABCDEFGHIJ0123456789abc"}},
      {"api_key", "pgw_relay_bench_with_a_long_name_here", {}},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(found(c.detector, c.text), c.spans) << c.detector << ": " << c.text;
  }
}

TEST(Detectors, CensusKeepsPlainTextCheap) {
  Fixture f = compileAll(
      {"email", "phone", "credit_card", "ssn", "iban", "ipv4", "ipv6", "jwt", "api_key"});
  Hits hits;
  EXPECT_FALSE(f.detectors->scan("Jane Doe, 42 Main Street, Springfield", hits));
  EXPECT_FALSE(f.detectors->scan("", hits));
  EXPECT_TRUE(hits.empty());
  // Overlapping matches merge into one span.
  EXPECT_TRUE(f.detectors->scan("x 4111 1111 1111 1111 y", hits));
  ASSERT_EQ(hits.size(), 1u);
}

TEST(Detectors, CustomPatternsAndErrors) {
  MaskSpec spec = redact();
  auto ok = Detectors::compile({{"", R"(EMP-\d{6})", "employee_id", &spec, "mask[1].detect"}});
  ASSERT_TRUE(ok.ok());
  Hits hits;
  EXPECT_TRUE((*ok)->scan("badge EMP-123456 issued", hits));
  EXPECT_EQ((*ok)->name(0), "employee_id");
  auto bad = Detectors::compile({{"", "(unclosed", "x", &spec, "policies[0].mask[1].detect"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind(
                "config: policies[0].mask[1].detect: invalid regular expression (RE2 syntax)", 0),
            0u)
      << bad.error().message;
  auto empty = Detectors::compile({{"", "x*", "x", &spec, "p"}});
  EXPECT_FALSE(empty.ok());
  auto unknown = Detectors::compile({{"passport", "", "", &spec, "p"}});
  EXPECT_FALSE(unknown.ok());
}

TEST(Detectors, EnabledBitsLimitTheScan) {
  Fixture f = compileAll({"email", "phone"});
  Hits hits;
  EXPECT_FALSE(f.detectors->scan("alice@example.com", hits, 0b10));
  EXPECT_TRUE(f.detectors->scan("alice@example.com", hits, 0b01));
}

TEST(MaskSpans, PlainAndJson) {
  Fixture f = compileAll({"email", "credit_card"});
  auto mask = [&](std::string_view text, SpanSyntax syntax) {
    Hits hits;
    f.detectors->scan(text, hits);
    return maskSpans(text, hits, *f.detectors, syntax);
  };
  EXPECT_EQ(mask("mail alice@example.com or 4111 1111 1111 1111.", SpanSyntax::Plain),
            "mail *** or ***.");
  EXPECT_EQ(mask(R"({"email": "alice@example.com", "n": 4111111111111111})", SpanSyntax::Json),
            R"({"email": "***", "n": 0})");
  // Escapes are never split; the result is valid JSON.
  const std::string escaped = R"({"e": "\u0061lice@example.com\n"})";
  const std::string out = mask(escaped, SpanSyntax::Json);
  EXPECT_TRUE(testing::validJson(out)) << out;
  EXPECT_EQ(out.find("example.com"), std::string::npos) << out;
}

TEST(MaskSpans, ReplacementsNeverBreakTheSyntax) {
  MaskSpec quoting = redact();
  quoting.text = "a\"b\\c\nd";
  const std::string doc = R"({"k": "secret-123", "n": [1, 2]})";
  // A custom match that crosses quotes and structure is cut at them.
  auto d = Detectors::compile({{"", R"(secret.*2)", "x", &quoting, "p"}});
  ASSERT_TRUE(d.ok());
  Hits hits;
  ASSERT_TRUE((*d)->scan(doc, hits));
  const std::string out = maskSpans(doc, hits, **d, SpanSyntax::Json);
  EXPECT_TRUE(testing::validJson(out)) << out;
  // The key "n" lies inside the match too: masked, still a string.
  EXPECT_EQ(out, R"({"k": "a*b*c*d", "a*b*c*d": [0, 0]})");
  EXPECT_EQ(maskSpans("x secret y", {{2, 8, 0}}, quoting), "x a*b*c*d y");
}

TEST(MaskSpans, FunctionsApplyToTheSpan) {
  MaskSpec email;
  email.function = MaskFunction::Email;
  MaskSpec last4;
  last4.function = MaskFunction::Partial;
  last4.keep_last = 4;
  Fixture f = compileAll({"email"}, email);
  Hits hits;
  const std::string text = "from bob@corp.io";
  ASSERT_TRUE(f.detectors->scan(text, hits));
  EXPECT_EQ(maskSpans(text, hits, *f.detectors), "from ***@corp.io");
  EXPECT_EQ(maskSpans("card 4111111111111111", {{5, 21, 0}}, last4), "card ************1111");
}

}  // namespace
}  // namespace pgw::mask
