#include "proxy/denials.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/messages.h"
#include "proxy/relay.h"

namespace pgw::proxy {
namespace {

/// Pulls the failing SQL out of an encoded Query message.
std::string sqlOf(const std::string& query_message) {
  auto fr = protocol::frameMessage(asBytes(query_message), 1 << 20);
  EXPECT_EQ(fr.status, protocol::FrameStatus::Complete);
  auto msg = protocol::decodeFrontend(fr.frame);
  EXPECT_TRUE(msg.ok());
  return std::string(std::get<protocol::Query>(*msg).sql);
}

/// What PostgreSQL answers to `SELECT <name>` for an unknown column.
std::string serverError(const std::string& failing_sql) {
  std::string column = failing_sql.substr(std::string("SELECT ").size());
  std::string out;
  std::string message = "column \"" + column + "\" does not exist";
  protocol::encodeErrorResponse(out,
                                {.severity = "ERROR", .sqlstate = "42703", .message = message});
  return out;
}

protocol::NoticeFields fieldsOf(const std::string& error_message) {
  auto fr = protocol::frameMessage(asBytes(error_message), 1 << 20);
  auto msg = protocol::decodeBackend(fr.frame);
  return std::get<protocol::ErrorResponse>(*msg).fields;
}

TEST(Denials, ServerErrorForTheMarkerBecomesTheDenial) {
  Denials denials;
  std::string query;
  denials.denyQuery(query, {.message = "policy p denies DROP", .hint = "read only"});
  std::string sql = sqlOf(query);
  EXPECT_EQ(sql.find("DROP"), std::string::npos) << "the denied text must never go upstream";
  std::string err = serverError(sql);
  std::string out;
  ASSERT_TRUE(denials.rewrite(fieldsOf(err), out));
  auto fields = fieldsOf(out);
  EXPECT_EQ(fields.sqlstate(), "42501");
  EXPECT_EQ(fields.message(), "policy p denies DROP");
  EXPECT_EQ(fields.get('H').value_or(""), "read only");
  EXPECT_EQ(denials.inFlight(), 0u);
}

TEST(Denials, OtherErrorsPassUntouched) {
  Denials denials;
  std::string query;
  denials.denyQuery(query, {.message = "denied"});
  std::string out;
  // Same SQLSTATE, a column name the client chose: not ours.
  EXPECT_FALSE(denials.rewrite(fieldsOf(serverError("SELECT pgwarden_denied_00_1")), out));
  std::string aborted;
  protocol::encodeErrorResponse(aborted,
                                {.sqlstate = "25P02", .message = "current transaction is aborted"});
  EXPECT_FALSE(denials.rewrite(fieldsOf(aborted), out));
  EXPECT_TRUE(out.empty());
}

TEST(Denials, MarkersOfTwoSessionsDiffer) {
  Denials a, b;
  std::string qa, qb;
  a.denyQuery(qa, {.message = "a"});
  b.denyQuery(qb, {.message = "b"});
  std::string out;
  EXPECT_FALSE(a.rewrite(fieldsOf(serverError(sqlOf(qb))), out));
  EXPECT_TRUE(b.rewrite(fieldsOf(serverError(sqlOf(qb))), out));
}

TEST(Denials, ParseKeepsTheStatementNameAndTakesNoParameters) {
  Denials denials;
  std::string parse;
  denials.denyParse(parse, "stmt7", {.message = "denied"});
  auto fr = protocol::frameMessage(asBytes(parse), 1 << 20);
  auto msg = protocol::decodeFrontend(fr.frame);
  ASSERT_TRUE(msg.ok());
  const auto& p = std::get<protocol::Parse>(*msg);
  EXPECT_EQ(p.statement, "stmt7");
  EXPECT_EQ(p.param_types.size(), 0u);
  EXPECT_TRUE(p.query.starts_with("SELECT pgwarden_denied_"));
}

TEST(Denials, SettleForgetsMarkersTheServerSkipped) {
  Denials denials;
  std::string parse;
  denials.denyParse(parse, "", {.message = "denied"});
  EXPECT_EQ(denials.inFlight(), 1u);
  denials.settle();
  EXPECT_EQ(denials.inFlight(), 0u);
}

struct ReplaceQueries : FrontendObserver {
  Result<Verdict> onFrontendMessage(const protocol::FrontendMessage& m,
                                    std::string& replacement) override {
    if (const auto* q = std::get_if<protocol::Query>(&m); q && q->sql.starts_with("DROP")) {
      protocol::encodeQuery(replacement, "SELECT 'replaced'");
      return Verdict::Replace;
    }
    return Verdict::Forward;
  }
};

TEST(FrontendRelayReplace, OnlyTheDeniedMessageIsReplacedInPlace) {
  ReplaceQueries obs;
  FrontendRelay relay(1 << 20, obs);
  std::string wire, expected;
  protocol::encodeQuery(wire, "SELECT 1");
  protocol::encodeQuery(expected, "SELECT 1");
  protocol::encodeQuery(wire, "DROP TABLE t");
  protocol::encodeQuery(expected, "SELECT 'replaced'");
  protocol::encodeQuery(wire, "SELECT 2");
  protocol::encodeQuery(expected, "SELECT 2");
  OutputPlan plan;
  auto step = relay.process(asBytes(wire), plan);
  ASSERT_TRUE(step.ok());
  std::string out;
  for (const auto& s : plan.segments()) {
    out += s.produced ? plan.produced().substr(s.offset, s.length)
                      : std::string(asChars(asBytes(wire).subspan(s.offset, s.length)));
  }
  EXPECT_EQ(out, expected);
}

}  // namespace
}  // namespace pgw::proxy
