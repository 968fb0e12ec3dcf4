#include "proxy/mask_session.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "config/mask.h"
#include "mask/rules.h"
#include "protocol/messages.h"
#include "proxy/relay.h"

namespace pgw::proxy {
namespace {

using protocol::TxStatus;

constexpr uint32_t kUsers = 16400;
constexpr uint32_t kView = 16410;
constexpr const char* kRaw = "alice.raw@example.com";

/// The message types of a stream of backend messages, in order.
std::string types(std::string_view wire) {
  std::string out;
  size_t i = 0;
  while (i + 5 <= wire.size()) {
    out += wire[i];
    const auto* p = reinterpret_cast<const unsigned char*>(wire.data() + i + 1);
    i += 1 + ((size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3]);
  }
  return out;
}

std::string render(Bytes in, const OutputPlan& plan) {
  std::string out;
  for (const auto& s : plan.segments()) {
    out.append(s.produced ? std::string_view(plan.produced()).substr(s.offset, s.length)
                          : asChars(in.subspan(s.offset, s.length)));
  }
  return out;
}

/// What the session does with the server's messages, minus the audit.
struct Observer : BackendObserver {
  MaskSession* mask = nullptr;
  std::vector<std::vector<audit::MaskedColumn>> done;
  void onReadyForQuery(TxStatus) override { mask->readyForQuery(); }
  bool onError(const protocol::NoticeFields& f, std::string& out) override {
    // As ClientSession: judged against the failing statement, then dropped.
    const bool redacted = mask->redactNotice('E', f, out);
    mask->error();
    return redacted;
  }
  void onCommandComplete(std::string_view) override { done.push_back(mask->statementDone()); }
  void onRowsWithheld(uint64_t, uint64_t, std::string&) override {}
};

class MaskSessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto users = std::make_shared<CatalogRelation>();
    users->oid = kUsers;
    users->schema = "public";
    users->name = "users";
    users->columns = {
        {1, "id", 23, -1}, {2, "email", 25, -1}, {3, "ssn", 25, -1}, {4, "note", 25, -1}};
    cache_.putName("users", {users});
    cache_.putOid(kUsers, users);
    auto view = std::make_shared<CatalogRelation>();
    view->oid = kView;
    view->schema = "public";
    view->name = "user_mail";
    view->relkind = 'v';
    view->view_definition = " SELECT users.id, lower(users.email) AS mail FROM users;";
    view->columns = {{1, "id", 23, -1}, {2, "mail", 25, -1}};
    cache_.putName("user_mail", {view});
    cache_.putOid(kView, view);
    for (const char* f : {"lower", "count", "row_to_json"}) cache_.putFunction(f, false);
    cache_.putFunction("leak", true);

    config::MaskRuleConfig email;
    email.column = "public.users.email";
    email.with = config::MaskWith::Email;
    config::MaskRuleConfig ssn;
    ssn.column = "users.ssn";
    ssn.with = config::MaskWith::Redact;
    auto rules = mask::compileMaskRules({email, ssn}, "", "mask");
    ASSERT_TRUE(rules) << rules.error().message;
    rules_ = std::make_shared<const mask::CompiledMaskRules>(std::move(*rules));
    subject_.id = "alice";
    make(false);
  }

  void make(bool deny) {
    mask_ = std::make_unique<MaskSession>(rules_, subject_, deny, std::chrono::seconds(60), cache_);
    observer_.mask = mask_.get();
    relay_ = std::make_unique<BackendRelay>(1 << 20, observer_);
    relay_->setFilter(mask_.get());
  }

  /// Runs server bytes through the relay; returns what the client gets.
  std::string serve(const std::string& wire) {
    OutputPlan plan;
    Bytes in = asBytes(wire);
    auto step = relay_->process(in, plan);
    EXPECT_TRUE(step) << step.error().message;
    EXPECT_EQ(step->consumed, wire.size());
    return render(in, plan);
  }

  static std::string rowDescription(const std::vector<protocol::FieldDescription>& fields) {
    std::string s;
    protocol::encodeRowDescription(s, fields);
    return s;
  }
  static std::string dataRow(const std::vector<std::optional<std::string_view>>& cells) {
    std::string s;
    protocol::encodeDataRow(s, cells);
    return s;
  }
  static std::string end(std::string_view tag) {
    std::string s;
    protocol::encodeCommandComplete(s, tag);
    protocol::encodeReadyForQuery(s, TxStatus::Idle);
    return s;
  }

  CatalogCache cache_{std::chrono::seconds(60)};
  std::shared_ptr<const mask::CompiledMaskRules> rules_;
  auth::Subject subject_;
  std::unique_ptr<MaskSession> mask_;
  Observer observer_;
  std::unique_ptr<BackendRelay> relay_;
};

const protocol::FieldDescription kId{
    .name = "id", .table_oid = kUsers, .column_attnum = 1, .type_oid = 23, .type_size = 4};
const protocol::FieldDescription kEmail{
    .name = "email", .table_oid = kUsers, .column_attnum = 2, .type_oid = 25, .type_size = -1};
const protocol::FieldDescription kNote{
    .name = "note", .table_oid = kUsers, .column_attnum = 4, .type_oid = 25, .type_size = -1};
const protocol::FieldDescription kDerived{.name = "l", .type_oid = 25, .type_size = -1};

TEST_F(MaskSessionTest, PlainAndDerivedColumnsOfASimpleQueryAreMasked) {
  const std::string sql = "SELECT id, email, lower(email) AS l, note FROM users";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  mask_->query(sql);
  const std::string out = serve(rowDescription({kId, kEmail, kDerived, kNote}) +
                                dataRow({"1", kRaw, kRaw, "hello"}) + end("SELECT 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);
  EXPECT_NE(out.find("***@example.com"), std::string::npos);
  EXPECT_NE(out.find("hello"), std::string::npos);
  ASSERT_EQ(observer_.done.size(), 1u);
  // Both masked columns come from users.email: one audit entry, two cells.
  ASSERT_EQ(observer_.done[0].size(), 1u);
  EXPECT_EQ(observer_.done[0][0].column, "public.users.email");
  EXPECT_EQ(observer_.done[0][0].cells, 2);
}

TEST_F(MaskSessionTest, RowsWithoutMaskedColumnsAreForwardedAsTheyAre) {
  const std::string sql = "SELECT id, note FROM users";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  mask_->query(sql);
  const std::string wire = rowDescription({kId, kNote}) + dataRow({"1", "x"}) + end("SELECT 1");
  EXPECT_EQ(serve(wire), wire);
}

TEST_F(MaskSessionTest, ExtendedExecuteGetsADescribeWhoseAnswerIsConsumed) {
  const std::string sql = "SELECT email FROM users WHERE id = $1";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  mask_->parse("s1", sql);
  mask_->bind("", "s1");
  std::string upstream;
  mask_->execute({.portal = "", .max_rows = 0}, upstream);
  EXPECT_EQ(upstream[0], 'D');  // Describe portal, then the Execute
  mask_->sync();
  std::string parse_bind;
  protocol::encodeParseComplete(parse_bind);
  protocol::encodeBindComplete(parse_bind);
  const std::string out =
      serve(parse_bind + rowDescription({kEmail}) + dataRow({kRaw}) + end("SELECT 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);
  EXPECT_EQ(types(out), "12DCZ") << "the added Describe's answer is not forwarded";
  EXPECT_NE(out.find("***@example.com"), std::string::npos);
}

TEST_F(MaskSessionTest, AViewColumnFollowsTheViewDefinition) {
  const std::string sql = "SELECT mail FROM user_mail";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  mask_->query(sql);
  const protocol::FieldDescription mail{
      .name = "mail", .table_oid = kView, .column_attnum = 2, .type_oid = 25, .type_size = -1};
  const std::string out = serve(rowDescription({mail}) + dataRow({kRaw}) + end("SELECT 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);
}

TEST_F(MaskSessionTest, AUserFunctionMakesAColumnUntraceable) {
  const std::string sql = "SELECT leak(id) AS v FROM users";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  EXPECT_TRUE(mask_->untraceableRefusal(sql).empty()) << "on_untraceable: mask";
  mask_->query(sql);
  const protocol::FieldDescription v{.name = "v", .type_oid = 25, .type_size = -1};
  const std::string out = serve(rowDescription({v}) + dataRow({kRaw}) + end("SELECT 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);

  make(true);
  ASSERT_TRUE(mask_->prepare(sql).empty());
  EXPECT_NE(mask_->untraceableRefusal(sql).find("on_untraceable is deny"), std::string::npos);
}

TEST_F(MaskSessionTest, UnknownRelationsAndFunctionsAreAskedFor) {
  CatalogNeeds needs = mask_->prepare("SELECT upper(x) FROM orders");
  ASSERT_EQ(needs.relations.size(), 1u);
  EXPECT_EQ(needs.relations[0].name, "orders");
  cache_.putName("orders", {});
  needs = mask_->prepare("SELECT upper(x) FROM orders");
  ASSERT_EQ(needs.functions.size(), 1u);
  EXPECT_EQ(needs.functions[0], "upper");
}

TEST_F(MaskSessionTest, CopyToStdoutInCsvIsMasked) {
  const std::string sql = "COPY users TO STDOUT (FORMAT csv, HEADER)";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  mask_->query(sql);
  std::string wire;
  const int16_t formats[] = {0, 0, 0, 0};
  protocol::encodeCopyResponse(wire, 'H', 0, formats);
  for (std::string_view line :
       {"id,email,ssn,note\n", "1,alice.raw@example.com,123-45-6789,\"a, b\"\n"}) {
    protocol::encodeCopyData(wire, asBytes(line));
  }
  protocol::encodeCopyDone(wire);
  const std::string out = serve(wire + end("COPY 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);
  EXPECT_EQ(out.find("123-45-6789"), std::string::npos);
  EXPECT_NE(out.find("id,email,ssn,note"), std::string::npos);
  EXPECT_NE(out.find("\"a, b\""), std::string::npos);
}

TEST_F(MaskSessionTest, AUniqueViolationDetailDoesNotEchoAMaskedValue) {
  const std::string sql = "INSERT INTO users (email) VALUES ('x')";
  ASSERT_TRUE(mask_->prepare(sql).empty());
  mask_->query(sql);
  std::string wire;
  const std::string detail = std::string("Key (email)=(") + kRaw + ") already exists.";
  const std::pair<char, std::string_view> fields[] = {
      {'S', "ERROR"}, {'V', "ERROR"},
      {'C', "23505"}, {'M', "duplicate key value violates unique constraint \"users_email_key\""},
      {'D', detail},  {'s', "public"},
      {'t', "users"}};
  protocol::encodeNoticeFields(wire, 'E', fields);
  protocol::encodeReadyForQuery(wire, TxStatus::Idle);
  const std::string out = serve(wire);
  EXPECT_EQ(out.find(kRaw), std::string::npos);
  EXPECT_NE(out.find("23505"), std::string::npos);
  EXPECT_NE(out.find("Key (email)=("), std::string::npos);
}

TEST_F(MaskSessionTest, ADataErrorOnAMaskedColumnReadInWhereQuotesNothing) {
  auto error = [&](std::string_view sql, std::string_view state, std::string_view message) {
    EXPECT_TRUE(mask_->prepare(sql).empty());
    mask_->query(sql);
    std::string wire;
    const std::pair<char, std::string_view> fields[] = {
        {'S', "ERROR"}, {'V', "ERROR"}, {'C', state}, {'M', message}};
    protocol::encodeNoticeFields(wire, 'E', fields);
    protocol::encodeReadyForQuery(wire, TxStatus::Idle);
    return serve(wire);
  };
  // The result (id) is clean; the WHERE clause reads ssn.
  std::string out = error("SELECT id FROM users WHERE ssn::int > 0", "22P02",
                          "invalid input syntax for type integer: \"123-45-6789\"");
  EXPECT_EQ(out.find("123-45-6789"), std::string::npos);
  EXPECT_NE(out.find("invalid input syntax for type integer: \"***\""), std::string::npos);
  // Identifiers in other errors stay: they carry no data.
  out = error("SELECT emial FROM users", "42703", "column \"emial\" does not exist");
  EXPECT_NE(out.find("\"emial\""), std::string::npos);
  // A statement that reads no masked table keeps its data errors whole.
  cache_.putName("plain", {});
  out = error("SELECT 'x'::int", "22P02", "invalid input syntax for type integer: \"x\"");
  EXPECT_NE(out.find("\"x\""), std::string::npos) << out;
}

TEST_F(MaskSessionTest, CursorsAreMaskedByTheirDeclaration) {
  const std::string declare = "DECLARE c CURSOR WITH HOLD FOR SELECT lower(email) FROM users";
  ASSERT_TRUE(mask_->prepare(declare).empty());
  mask_->query(declare);
  serve(end("DECLARE CURSOR"));
  const std::string fetch = "FETCH 10 FROM c";
  ASSERT_TRUE(mask_->prepare(fetch).empty());
  mask_->query(fetch);
  const protocol::FieldDescription lower{.name = "lower", .type_oid = 25, .type_size = -1};
  const std::string out = serve(rowDescription({lower}) + dataRow({kRaw}) + end("FETCH 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);
}

TEST_F(MaskSessionTest, AResultNoStatementExplainsIsMaskedWhole) {
  // Rows the gateway cannot tie to a statement it planned (fail closed).
  const protocol::FieldDescription v{.name = "v", .type_oid = 25, .type_size = -1};
  const std::string out = serve(rowDescription({v}) + dataRow({kRaw}) + end("SELECT 1"));
  EXPECT_EQ(out.find(kRaw), std::string::npos);
}

}  // namespace
}  // namespace pgw::proxy
