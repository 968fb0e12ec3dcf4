// What `pgwarden review …` / `pgwarden access …` print (review/describe.h),
// from the JSON the API returns (review/json.h).

#include "review/describe.h"

#include <gtest/gtest.h>

#include "review/json.h"

namespace pgw::review {
namespace {

using nlohmann::json;

constexpr int64_t kT = 1764013371123456;  // 2025-11-24T19:42:51.123456Z
constexpr int64_t kMinute = 60'000'000;

Review sampleReview() {
  Review r;
  r.id = "rv_0123456789abcdef0123";
  r.mode = config::ApprovalMode::Wait;
  r.subject = Person{"alice", "Alice A.", {"ai-agents"}, "https://idp", "oidc"};
  r.connection = "prod";
  r.policy = "agents-prod";
  r.rule = "review[0]";
  r.reason = "DELETE needs an approval";
  r.statement = "DELETE FROM users\nWHERE id = $1 AND note = 'x'";
  r.normalized = "DELETE FROM users WHERE id = $1 AND note = $2";
  r.kind = "delete";
  r.tables = {"public.users", "public.orders"};
  r.parameters = {std::string("42"), std::nullopt, std::string("it's")};
  r.estimated_rows = 1200;
  r.estimated_cost = 35.5;
  r.recent_statements = {"SELECT 1", "SELECT *\n  FROM orders"};
  r.session_id = 7;
  r.client_address = "10.0.0.5:5000";
  r.approver_groups = {"dba"};
  r.min_approvals = 2;
  r.votes = {Vote{Person{"bob", "Bob", {"dba"}, "iss", "oidc"}, true, "looks fine", kT + 1000}};
  r.created_us = kT;
  r.expires_us = kT + 5 * kMinute;
  return r;
}

bool has(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(DescribeReview, ShowsWhatAnApproverNeeds) {
  const std::string text = describeReview(toJson(sampleReview()), kT + 2 * kMinute);
  for (std::string_view part : {
           "Review rv_0123456789abcdef0123: pending (1 of 2 approvals)",
           "Subject:     Alice A. (alice), oidc, groups ai-agents",
           "Connection:  prod (session 7 from 10.0.0.5:5000)",
           "Policy:      agents-prod, rule review[0]",
           "Reason:      DELETE needs an approval",
           "Kind:        delete",
           "Tables:      public.users, public.orders",
           "Estimate:    1200 rows, cost 35.5",
           // as sent, every line indented
           "Statement (as sent):\n    DELETE FROM users\n    WHERE id = $1 AND note = 'x'\n",
           "Normalized:\n    DELETE FROM users WHERE id = $1 AND note = $2\n",
           "    $1 = '42'\n",
           "    $2 = NULL\n",
           "    $3 = 'it''s'\n",
           "    1. SELECT 1\n",
           "    2. SELECT * FROM orders\n",
           "  approved by Bob (bob) at 2025-11-24T19:42:51.124Z: looks fine",
           "Approvers:   members of dba; 2 approvals needed",
           "Created:     2025-11-24T19:42:51.123Z (2m ago)",
           "Expires:     2025-11-24T19:47:51.123Z (in 3m)",
           "pgwarden review approve rv_0123456789abcdef0123",
       }) {
    EXPECT_TRUE(has(text, part)) << "missing: " << part << "\n--- got:\n" << text;
  }
}

TEST(DescribeReview, DecidedRetryReview) {
  Review r = sampleReview();
  r.mode = config::ApprovalMode::Retry;
  r.state = State::Denied;
  r.decided_us = kT + kMinute;
  r.outcome_message = "denied by carol: not now";
  r.estimated_rows.reset();
  r.estimated_cost.reset();
  r.parameters.clear();
  const std::string text = describeReview(toJson(r), kT + 2 * kMinute);
  EXPECT_TRUE(has(text, "Review rv_0123456789abcdef0123: denied\n")) << text;
  EXPECT_TRUE(has(text, "Mode:        retry")) << text;
  EXPECT_TRUE(has(text, "Estimate:    none")) << text;
  EXPECT_TRUE(has(text, "Decided:     2025-11-24T19:43:51.123Z (1m ago)")) << text;
  EXPECT_TRUE(has(text, "Outcome:     denied by carol: not now")) << text;
  EXPECT_FALSE(has(text, "Parameters:")) << text;
  EXPECT_FALSE(has(text, "Expires:")) << text;
  EXPECT_FALSE(has(text, "pgwarden review approve")) << text;
}

TEST(DescribeReview, ControlCharactersCannotHideAnything) {
  Review r = sampleReview();
  // An escape sequence that would clear the line, and a bidi override.
  r.statement = "DELETE FROM users; \x1b[2K\rSELECT 1 -- \u202e";
  r.parameters = {std::string("a\x1b]0;x\x07")};
  r.reason = "bad\rreason";
  const std::string text = describeReview(toJson(r), kT);
  EXPECT_FALSE(has(text, "\x1b")) << text;
  EXPECT_FALSE(has(text, "\r")) << text;
  EXPECT_FALSE(has(text, "\x07")) << text;
  EXPECT_FALSE(has(text, "\u202e")) << text;
  EXPECT_TRUE(has(text, "DELETE FROM users; \\x1b[2K\\x0dSELECT 1 -- \\u{202e}")) << text;
  EXPECT_TRUE(has(text, "$1 = 'a\\x1b]0;x\\x07'")) << text;
  EXPECT_TRUE(has(text, "bad\\x0dreason")) << text;
}

TEST(DescribeReview, ToleratesMissingAndMistypedMembers) {
  EXPECT_NO_THROW(describeReview(json::object(), kT));
  EXPECT_NO_THROW(describeReview(json::array(), kT));
  EXPECT_NO_THROW(describeReview(json{{"id", 5},
                                      {"votes", "x"},
                                      {"parameters", {1, true}},
                                      {"subject", "alice"},
                                      {"created_at", "yesterday"}},
                                 kT));
  EXPECT_NO_THROW(reviewTable(json{{"x", 1}}, kT, "none"));
  EXPECT_NO_THROW(reviewTable(json::array({1, "x", nullptr}), kT, "none"));
  EXPECT_NO_THROW(accessTable(json::array({json::object()}), kT, "none"));
  EXPECT_NO_THROW(describeAccessRequest(json{{"duration_seconds", "1h"}}, kT));
  EXPECT_NO_THROW(reviewOutcome(json(nullptr)));
  EXPECT_NO_THROW(accessOutcome(json(3), kT));
}

TEST(ReviewTable, OneLinePerReviewAlignedAndCut) {
  Review a = sampleReview();
  Review b = sampleReview();
  b.id = "rv_ffffffffffffffffffff";
  b.subject.id = "a-much-longer-subject";
  b.statement = "UPDATE t SET " + std::string(200, 'x');
  b.created_us = kT - 3 * 3600'000'000LL;
  const json list = json::array({toJson(a), toJson(b)});
  const std::string text = reviewTable(list, kT + 5 * kMinute, "no pending reviews");
  std::vector<std::string> lines;
  for (size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos;
       start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  ASSERT_EQ(lines.size(), 3u) << text;
  EXPECT_EQ(lines[0].rfind("ID", 0), 0u);
  // Columns line up: SUBJECT starts at the same offset on every line.
  const size_t col = lines[0].find("SUBJECT");
  EXPECT_EQ(lines[1].find("alice"), col) << text;
  EXPECT_EQ(lines[2].find("a-much-longer-subject"), col) << text;
  EXPECT_TRUE(has(lines[1], "pending")) << text;
  EXPECT_TRUE(has(lines[1], " 5m ")) << text;
  EXPECT_TRUE(has(lines[2], " 3h5m ")) << text;
  EXPECT_TRUE(has(lines[1], "1/2")) << text;
  // The statement on one line, cut.
  EXPECT_TRUE(has(lines[1], "DELETE FROM users WHERE id = $1")) << text;
  EXPECT_TRUE(has(lines[2], "…")) << text;
  EXPECT_FALSE(has(lines[2], std::string(100, 'x'))) << text;

  EXPECT_EQ(reviewTable(json::array(), kT, "no pending reviews"), "no pending reviews\n");
  // A paged answer: {"reviews": [...], ...}
  EXPECT_EQ(reviewTable(json{{"reviews", list}, {"next", nullptr}}, kT + 5 * kMinute, ""), text);
}

TEST(ReviewOutcome, SaysWhatHappened) {
  Review r = sampleReview();
  EXPECT_EQ(reviewOutcome(toJson(r)),
            "rv_0123456789abcdef0123 is still pending: 1 of 2 approvals.\n");
  r.votes.push_back(Vote{Person{"carol", "", {}, "", "oidc"}, true, "", kT});
  r.state = State::Approved;
  EXPECT_EQ(reviewOutcome(toJson(r)),
            "rv_0123456789abcdef0123 is approved (2 of 2 approvals); the waiting statement runs "
            "now.\n");
  r.mode = config::ApprovalMode::Retry;
  EXPECT_TRUE(has(reviewOutcome(toJson(r)), "the client may now re-send the statement"));
  r.state = State::Denied;
  r.outcome_message = "denied by carol";
  EXPECT_EQ(reviewOutcome(toJson(r)), "rv_0123456789abcdef0123 is denied: denied by carol.\n");
}

AccessRequest sampleAccess() {
  AccessRequest a;
  a.id = "ar_0123456789abcdef0123";
  a.subject = Person{"alice", "Alice A.", {"ai-agents"}, "https://idp", "oidc"};
  a.connection = "prod";
  a.level = config::AccessLevel::Write;
  a.duration_us = 5400'000'000LL;
  a.reason = "fix the refunds";
  a.policy = "agents-prod";
  a.approver_groups = {};
  a.created_us = kT;
  a.expires_us = kT + 10 * kMinute;
  return a;
}

TEST(DescribeAccessRequest, PendingAndApproved) {
  AccessRequest a = sampleAccess();
  std::string text = describeAccessRequest(toJson(a), kT + kMinute);
  EXPECT_TRUE(has(text, "Access request ar_0123456789abcdef0123: pending (0 of 1 approvals)"))
      << text;
  EXPECT_TRUE(has(text, "Access:      write on prod for 1h30m")) << text;
  EXPECT_TRUE(has(text, "Reason:      fix the refunds")) << text;
  EXPECT_TRUE(has(text, "Approvers:   any API approver; 1 approval needed")) << text;
  EXPECT_TRUE(has(text, "Expires:     2025-11-24T19:52:51.123Z (in 9m)")) << text;
  EXPECT_TRUE(has(text, "pgwarden access approve ar_0123456789abcdef0123")) << text;

  a.state = State::Approved;
  a.starts_us = kT + kMinute;
  a.ends_us = kT + 91 * kMinute;
  a.decided_us = kT + kMinute;
  text = describeAccessRequest(toJson(a), kT + 2 * kMinute);
  EXPECT_TRUE(has(text, "Starts:      2025-11-24T19:43:51.123Z (1m ago)")) << text;
  EXPECT_TRUE(has(text, "Ends:        2025-11-24T21:13:51.123Z (in 1h29m)")) << text;
  EXPECT_FALSE(has(text, "pgwarden access approve")) << text;
  EXPECT_EQ(accessOutcome(toJson(a), kT + 2 * kMinute),
            "ar_0123456789abcdef0123 is approved: write on prod until 2025-11-24T21:13:51.123Z "
            "(1h29m left).\n");
  a.state = State::Revoked;
  EXPECT_EQ(accessOutcome(toJson(a), kT), "ar_0123456789abcdef0123 is revoked.\n");
}

TEST(AccessTable, StatesAndWindows) {
  AccessRequest pending = sampleAccess();
  AccessRequest active = sampleAccess();
  active.id = "ar_1";
  active.state = State::Approved;
  const int64_t now = nowUs();
  active.created_us = now - 2 * kMinute;
  active.starts_us = now - kMinute;
  active.ends_us = now + 59 * kMinute + 30'000'000;
  pending.created_us = now - kMinute;
  pending.expires_us = now + 4 * kMinute + 30'000'000;
  const std::string text =
      accessTable(json::array({toJson(pending), toJson(active)}), now, "no access requests");
  EXPECT_TRUE(has(text, "LEVEL")) << text;
  EXPECT_TRUE(has(text, "expires in 4m")) << text;
  EXPECT_TRUE(has(text, "active")) << text;
  EXPECT_TRUE(has(text, "in 59m")) << text;
  EXPECT_TRUE(has(text, "1h30m")) << text;
  EXPECT_TRUE(has(text, "fix the refunds")) << text;
  EXPECT_EQ(accessTable(json::array(), now, "no access requests"), "no access requests\n");
}

TEST(Printable, EscapesControlsAndInvalidUtf8KeepsText) {
  EXPECT_EQ(printable("plain ascii"), "plain ascii");
  EXPECT_EQ(printable("naïve — 日本"), "naïve — 日本");
  EXPECT_EQ(printable("a\nb\tc"), "a\\x0ab\\x09c");
  EXPECT_EQ(printable("a\nb\tc", true), "a\nb\tc");
  EXPECT_EQ(printable("\x7f\x1b"), "\\x7f\\x1b");
  EXPECT_EQ(printable("\xc2\x9b"), "\\u{009b}");            // C1 CSI
  EXPECT_EQ(printable("x\xff\xc3"), "x\\xff\\xc3");         // invalid, truncated
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");           // overlong
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");  // surrogate
  EXPECT_EQ(printable("\u2066x\u2069"), "\\u{2066}x\\u{2069}");
}

TEST(ParseRfc3339, RoundTripsRfc3339AndRejectsOtherText) {
  EXPECT_EQ(parseRfc3339(rfc3339(kT)), kT - 456);  // milliseconds kept
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:01.5Z"), 1'500'000);
  for (const char* bad :
       {"", "yesterday", "2025-11-24 19:42:51Z", "2025-11-24T19:42:51", "2025-11-24T19:42:51.Z",
        "2025-13-24T19:42:51Z", "2025-11-24T19:42:51+01:00", "2025-11-24T19:42:5xZ"}) {
    EXPECT_FALSE(parseRfc3339(bad)) << bad;
  }
}

TEST(ShortDuration, Units) {
  EXPECT_EQ(shortDuration(-5), "0s");
  EXPECT_EQ(shortDuration(59'999'999), "59s");
  EXPECT_EQ(shortDuration(60'000'000), "1m");
  EXPECT_EQ(shortDuration(3600'000'000LL), "1h");
  EXPECT_EQ(shortDuration(5400'000'000LL), "1h30m");
  EXPECT_EQ(shortDuration(86400'000'000LL * 2 + 3600'000'000LL * 3), "2d3h");
}

}  // namespace
}  // namespace pgw::review
