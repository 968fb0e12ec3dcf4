// StatementAudit: one event per statement, each matched to its own outcome,
// for simple queries, pipelines, errors, refusals and fast-path calls.

#include "proxy/statement_audit.h"

#include <gtest/gtest.h>

#include <vector>

#include "sql/analyzer.h"

namespace pgw::proxy {
namespace {

struct Recorder {
  std::vector<audit::AuditEvent> events;
  StatementAudit make(audit::ParamMode mode = audit::ParamMode::Full) {
    audit::AuditEvent base;
    base.session_id = 7;
    base.subject_id = "alice";
    return StatementAudit(base, mode, [this](const audit::AuditEvent& e) { events.push_back(e); });
  }
};

const AuditDecision kAllow{"allow", "access:write", "p", 0};

std::shared_ptr<const sql::Analysis> analysis(std::string_view sql) {
  return std::make_shared<const sql::Analysis>(sql::analyze(sql));
}

/// A decoded Bind of `statement` with text parameters; `wire` keeps the
/// bytes the message views.
protocol::Bind bindOf(std::string_view statement, const std::vector<std::string>& params) {
  static std::vector<std::unique_ptr<std::string>> wires;
  std::vector<std::optional<std::string_view>> values(params.begin(), params.end());
  auto& wire = *wires.emplace_back(std::make_unique<std::string>());
  protocol::encodeBind(wire, "", statement, {}, values, {});
  auto framed = protocol::frameMessage(asBytes(wire), 1 << 20);
  auto msg = protocol::decodeFrontend(framed.frame);
  return std::get<protocol::Bind>(*msg);
}

TEST(StatementAudit, MultiStatementQueryGivesOneEventPerStatementWithItsTag) {
  Recorder r;
  auto sa = r.make();
  sa.query(*analysis("SELECT 1; UPDATE t SET a = 1 WHERE b = 2"), kAllow, false);
  sa.commandComplete("SELECT 1");
  sa.commandComplete("UPDATE 3");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].statement_kind, "select");
  EXPECT_EQ(r.events[0].rows, 1);
  EXPECT_EQ(r.events[1].statement_kind, "update");
  EXPECT_EQ(r.events[1].command_tag, "UPDATE 3");
  EXPECT_EQ(r.events[1].rows, 3);
  EXPECT_EQ(r.events[1].tables, std::vector<std::string>{"t"});
  EXPECT_EQ(r.events[1].subject_id, "alice");
  EXPECT_EQ(sa.pending(), 0u);
}

TEST(StatementAudit, AnErrorFailsItsStatementAndTheRestOfTheQueryDidNotRun) {
  Recorder r;
  auto sa = r.make();
  sa.query(*analysis("SELECT 1; SELECT 1/0; SELECT 3"), kAllow, false);
  sa.commandComplete("SELECT 1");
  sa.error("22012");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[1].sqlstate, "22012");
  EXPECT_EQ(r.events[2].sqlstate, "");
  EXPECT_NE(r.events[2].reason.find("not run"), std::string::npos);
}

TEST(StatementAudit, RefusedQueryIsRecordedOnceAndItsMarkerErrorIsConsumed) {
  Recorder r;
  auto sa = r.make();
  AuditDecision deny{"deny", "guardrail:truncate", "p", 1};
  sa.query(*analysis("SELECT 1; TRUNCATE t"), deny, true);
  ASSERT_EQ(r.events.size(), 2u);  // recorded at once
  EXPECT_EQ(r.events[1].decision, "deny");
  EXPECT_EQ(r.events[1].rule, "guardrail:truncate");
  EXPECT_EQ(r.events[1].sqlstate, "42501");
  EXPECT_EQ(r.events[0].rule, "query");
  sa.error("42703");  // the server's error for the marker
  sa.readyForQuery();
  sa.query(*analysis("SELECT 2"), kAllow, false);
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[2].sqlstate, "");
  EXPECT_EQ(r.events[2].command_tag, "SELECT 1");
}

TEST(StatementAudit, PipelineStatementsAfterAFailureUpToSyncAreNotRun) {
  Recorder r;
  auto sa = r.make();
  std::vector<std::string> params = {"42"};
  for (const char* sql : {"INSERT INTO t VALUES ($1)", "SELECT $1::int / 0", "SELECT $1"}) {
    sa.parse("", analysis(sql), kAllow, false);
    sa.bind(bindOf("", params), nullptr);
    sa.execute("");
  }
  sa.sync();
  sa.commandComplete("INSERT 0 1");
  sa.error("22012");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].command_tag, "INSERT 0 1");
  EXPECT_EQ(r.events[0].parameters, (std::vector<std::optional<std::string>>{"42"}));
  EXPECT_EQ(r.events[1].sqlstate, "22012");
  EXPECT_NE(r.events[2].reason.find("not run"), std::string::npos);
  EXPECT_EQ(sa.pending(), 0u);
}

TEST(StatementAudit, AParseErrorIsChargedToTheExecuteThatNeededIt) {
  Recorder r;
  auto sa = r.make();
  sa.parse("", analysis("SELEC 1"), kAllow, false);
  std::vector<std::string> none;
  sa.bind(bindOf("", none), nullptr);
  sa.execute("");
  sa.sync();
  sa.error("42601");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].sqlstate, "42601");
  EXPECT_EQ(r.events[0].statement_kind, "unparsed");
}

TEST(StatementAudit, RefusedParseIsRecordedOnceNotAgainAtItsExecute) {
  Recorder r;
  auto sa = r.make();
  AuditDecision deny{"deny", "access:read", "p", 0};
  sa.parse("s1", analysis("DELETE FROM t WHERE id = 1"), deny, true);
  std::vector<std::string> none;
  sa.bind(bindOf("s1", none), nullptr);
  sa.execute("");
  sa.sync();
  sa.error("42703");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].decision, "deny");
}

TEST(StatementAudit, ABoundAgainPortalKeepsNothingOfItsEarlierBind) {
  // The unnamed portal is bound statement after statement; each Bind
  // replaces all of it: statement, refusal, parameters, review.
  Recorder r;
  auto sa = r.make();
  AuditDecision deny{"deny", "access:read", "p", 0};
  sa.parse("refused", analysis("DELETE FROM t WHERE id = 1"), deny, true);
  sa.parse("ok", analysis("SELECT $1::int, $2::int"), kAllow, false);
  sa.sync();
  sa.error("42501");  // the refused Parse's marker
  sa.readyForQuery();
  sa.bind(bindOf("refused", {}), nullptr, "rev-9");
  sa.execute("");  // refused: recorded at its Parse
  sa.bind(bindOf("missing", {}), nullptr);
  sa.execute("");
  sa.sync();
  sa.error("26000");  // no such prepared statement
  sa.readyForQuery();
  sa.bind(bindOf("ok", {"1", "2"}), nullptr);
  sa.execute("");
  sa.bind(bindOf("ok", {"3"}), nullptr);
  sa.execute("");
  sa.sync();
  sa.commandComplete("SELECT 1");
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 4u);
  EXPECT_EQ(r.events[0].decision, "deny");
  EXPECT_EQ(r.events[1].statement, "");
  EXPECT_EQ(r.events[1].decision, "");
  EXPECT_EQ(r.events[1].review_id, "");
  EXPECT_EQ(r.events[1].sqlstate, "26000");
  EXPECT_EQ(r.events[2].statement, "SELECT $1::int, $2::int");
  EXPECT_EQ(r.events[2].parameters,
            (std::vector<std::optional<std::string>>{std::string("1"), std::string("2")}));
  EXPECT_EQ(r.events[2].sqlstate, "");
  EXPECT_EQ(r.events[3].parameters, (std::vector<std::optional<std::string>>{std::string("3")}));
}

TEST(StatementAudit, RedactedModeKeepsTheShapeNotTheValues) {
  Recorder r;
  auto sa = r.make(audit::ParamMode::Redacted);
  std::vector<std::string> params = {"secret-value"};
  sa.parse("", analysis("SELECT * FROM t WHERE email = 'a@b.c' AND id = $1"), kAllow, false);
  sa.bind(bindOf("", params), nullptr);
  sa.execute("");
  sa.sync();
  sa.commandComplete("SELECT 0");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].statement.find("a@b.c"), std::string::npos);
  ASSERT_EQ(r.events[0].parameters.size(), 1u);
  EXPECT_NE(*r.events[0].parameters[0], "secret-value");
}

TEST(StatementAudit, PasswordsNeverReachTheTrailEvenInFullMode) {
  Recorder r;
  auto sa = r.make(audit::ParamMode::Full);
  sa.query(*analysis("ALTER ROLE bob PASSWORD 'hunter2'"), kAllow, false);
  sa.commandComplete("ALTER ROLE");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].statement.find("hunter2"), std::string::npos);
}

TEST(StatementAudit, ValuesOfStatementsNamingMaskedColumnsAreRedactedInFullMode) {
  Recorder r;
  auto sa = r.make(audit::ParamMode::Full);
  sa.setNamesMasked([](const sql::StatementInfo& info) {
    for (const auto& t : info.relations_read) {
      if (t.name == "users") return true;
    }
    return false;
  });
  sa.query(*analysis("SELECT id FROM users WHERE email = 'alice@example.com'"), kAllow, false);
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  sa.query(*analysis("SELECT id FROM orders WHERE note = 'kept'"), kAllow, false);
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  sa.parse("s", analysis("SELECT id FROM users WHERE email = $1"), kAllow, false);
  sa.bind(bindOf("s", {"bob@example.com"}), nullptr);
  sa.execute("");
  sa.sync();
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 3u);
  EXPECT_EQ(r.events[0].statement.find("alice@"), std::string::npos) << r.events[0].statement;
  EXPECT_NE(r.events[1].statement.find("'kept'"), std::string::npos) << r.events[1].statement;
  ASSERT_EQ(r.events[2].parameters.size(), 1u);
  EXPECT_EQ(r.events[2].parameters[0], std::string(audit::kRedacted));
}

TEST(StatementAudit, EmptyQueriesAndFunctionCallsStayInStep) {
  Recorder r;
  auto sa = r.make();
  sa.query(*analysis(";"), kAllow, false);  // no statement: EmptyQueryResponse
  sa.functionCall(764, kAllow, false);
  sa.query(*analysis("SELECT 1"), kAllow, false);
  sa.emptyQuery();
  sa.readyForQuery();
  sa.readyForQuery();  // the function call succeeded
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].statement_kind, "function_call");
  EXPECT_EQ(r.events[0].sqlstate, "");
  EXPECT_EQ(r.events[1].command_tag, "SELECT 1");
}

TEST(StatementAudit, BytesAreChargedToTheStatementAnswering) {
  Recorder r;
  auto sa = r.make();
  sa.query(*analysis("SELECT 1; SELECT 2"), kAllow, false);
  sa.bytesSent(100);
  sa.commandComplete("SELECT 1");
  sa.bytesSent(50);
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  ASSERT_EQ(r.events.size(), 2u);
  EXPECT_EQ(r.events[0].bytes_sent, 100);
  EXPECT_EQ(r.events[1].bytes_sent, 50);
}

TEST(StatementAudit, ARecycledEventKeepsNothingOfItsPreviousRecord) {
  // An emitted event is kept and the next statement is built in it.
  std::vector<audit::AuditEvent> events;
  audit::AuditEvent base;
  base.session_id = 7;
  base.subject_id = "alice";
  StatementAudit sa(base, audit::ParamMode::Full,
                    [&](const audit::AuditEvent& e) { events.push_back(e); });
  sa.parse("s", analysis("UPDATE accounts SET balance = $1 WHERE id = $2"), kAllow, false);
  sa.bind(bindOf("s", {"100", "42"}), nullptr, "rev-1");
  sa.execute("");
  sa.masked({{"public.accounts.balance", "redact", 1}});
  sa.bytesSent(99);
  sa.error("23505");
  sa.sync();
  sa.readyForQuery();
  sa.query(*analysis("SELECT 1"), kAllow, false);
  sa.commandComplete("SELECT 1");
  sa.readyForQuery();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].sqlstate, "23505");
  EXPECT_EQ(events[0].review_id, "rev-1");
  EXPECT_EQ(events[0].parameters.size(), 2u);
  ASSERT_EQ(events[0].masked.size(), 1u);
  // The second was built in the first one's memory, and holds only its own.
  const audit::AuditEvent& second = events[1];
  EXPECT_EQ(second.statement, "SELECT 1");
  EXPECT_EQ(second.statement_kind, "select");
  EXPECT_TRUE(second.sqlstate.empty());
  EXPECT_TRUE(second.review_id.empty());
  EXPECT_TRUE(second.parameters.empty());
  EXPECT_TRUE(second.masked.empty());
  EXPECT_TRUE(second.tables.empty());
  EXPECT_TRUE(second.reason.empty());
  EXPECT_EQ(second.bytes_sent, 0);
  EXPECT_EQ(second.rows, 1);
  EXPECT_EQ(second.subject_id, "alice");
}

TEST(StatementAudit, RowsFromTags) {
  EXPECT_EQ(rowsFromTag("SELECT 5"), 5);
  EXPECT_EQ(rowsFromTag("INSERT 0 3"), 3);
  EXPECT_EQ(rowsFromTag("COPY 10"), 10);
  EXPECT_EQ(rowsFromTag("BEGIN"), -1);
  EXPECT_EQ(rowsFromTag("CREATE TABLE"), -1);
}

}  // namespace
}  // namespace pgw::proxy
