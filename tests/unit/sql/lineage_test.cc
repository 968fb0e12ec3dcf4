// Column lineage: which stored columns each output column of a statement is
// computed from, as result masking needs it. A fake catalog: tables users
// and orders, schema-qualified billing.cards, and a view user_emails whose
// lineage comes from lineage() itself.

#include "sql/lineage.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

namespace pgw::sql {

// Readable failures.
void PrintTo(const SourceColumn& s, std::ostream* os) {
  *os << s.schema << "." << s.relation << "." << s.column;
}
void PrintTo(const RelationRef& r, std::ostream* os) {
  *os << r.schema << "." << r.name;
}

namespace test {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAreArray;
using Sources = std::vector<SourceColumn>;
using Relations = std::vector<RelationRef>;

class FakeResolver : public RelationResolver {
 public:
  FakeResolver() {
    add("public", "users", {"id", "email", "phone", "name"});
    add("public", "orders", {"id", "user_id", "total", "note"});
    add("billing", "cards", {"id", "number"});
    const std::vector<QueryLineage> v = lineage("SELECT id, email AS mail FROM users", *this);
    if (!v.empty()) view_ = v[0];
    add("public", "user_emails", {"id", "mail"}, &view_);
  }
  FakeResolver(const FakeResolver&) = delete;
  FakeResolver& operator=(const FakeResolver&) = delete;

  /// search_path = public.
  const Relation* find(const RelationRef& ref) const override {
    for (const Relation& r : relations_) {
      if (r.name == ref.name && r.schema == (ref.schema.empty() ? "public" : ref.schema)) return &r;
    }
    return nullptr;
  }

 private:
  void add(std::string schema, std::string name, std::vector<std::string> columns,
           const QueryLineage* view = nullptr) {
    relations_.push_back(Relation{std::move(schema), std::move(name), std::move(columns), view});
  }
  std::deque<Relation> relations_;
  QueryLineage view_;
};

const FakeResolver& catalog() {
  static const FakeResolver resolver;
  return resolver;
}

SourceColumn users(std::string column) {
  return {"public", "users", std::move(column)};
}
SourceColumn orders(std::string column) {
  return {"public", "orders", std::move(column)};
}
const RelationRef kUsers{"public", "users"};
const RelationRef kOrders{"public", "orders"};

QueryLineage one(const std::string& sql) {
  const std::vector<QueryLineage> all = lineage(sql, catalog());
  EXPECT_EQ(all.size(), 1u) << sql;
  return all.empty() ? QueryLineage{} : all[0];
}

/// The statement's only output column.
ColumnLineage column(const std::string& sql) {
  const QueryLineage q = one(sql);
  EXPECT_TRUE(q.has_result) << sql;
  EXPECT_EQ(q.columns.size(), 1u) << sql;
  return q.columns.empty() ? ColumnLineage{} : q.columns[0];
}

std::vector<std::string> names(const QueryLineage& q) {
  std::vector<std::string> out;
  for (const ColumnLineage& c : q.columns) out.push_back(c.name);
  return out;
}

bool calls(const ColumnLineage& c, const std::string& name, const std::string& schema = "") {
  return std::find(c.functions.begin(), c.functions.end(), FunctionRef{schema, name}) !=
         c.functions.end();
}

/// One output column: its name, sources, whole rows, plainness, traceability.
struct Case {
  std::string sql;
  std::string name;
  Sources sources;
  bool plain = false;
  bool untraceable = false;
  Relations whole_rows = {};
};

void expectCase(const Case& c) {
  SCOPED_TRACE(c.sql);
  const ColumnLineage col = column(c.sql);
  EXPECT_EQ(col.name, c.name);
  EXPECT_THAT(col.sources, UnorderedElementsAreArray(c.sources));
  EXPECT_THAT(col.whole_rows, UnorderedElementsAreArray(c.whole_rows));
  EXPECT_EQ(col.plain, c.plain);
  EXPECT_EQ(col.untraceable, c.untraceable);
}

TEST(Lineage, BareColumnsArePlainSources) {
  const std::vector<Case> cases = {
      {"SELECT email FROM users", "email", {users("email")}, true},
      {"SELECT u.email FROM users u", "email", {users("email")}, true},
      {"SELECT public.users.email FROM public.users", "email", {users("email")}, true},
      {"SELECT users.email FROM users", "email", {users("email")}, true},
      {"SELECT email AS contact FROM users", "contact", {users("email")}, true},
      {"SELECT (u).email FROM users u", "email", {users("email")}, true},
      {"SELECT number FROM billing.cards", "number", {{"billing", "cards", "number"}}, true},
      {"SELECT c.number FROM billing.cards c", "number", {{"billing", "cards", "number"}}, true},
      {"SELECT billing.cards.number FROM billing.cards",
       "number",
       {{"billing", "cards", "number"}},
       true},
      {"SELECT s.e FROM (SELECT email AS e FROM users) s", "e", {users("email")}, true},
      {"WITH c AS (SELECT email FROM users) SELECT email FROM c", "email", {users("email")}, true},
      {"WITH c(x) AS (SELECT email FROM users) SELECT c.x FROM c", "x", {users("email")}, true},
      {"SELECT mail FROM user_emails", "mail", {users("email")}, true},
      {"SELECT v.mail FROM user_emails v", "mail", {users("email")}, true},
      {"SELECT email FROM users UNION SELECT note FROM orders",
       "email",
       {users("email"), orders("note")},
       true},
      {"SELECT u.email FROM orders o, LATERAL (SELECT email FROM users WHERE id = o.user_id) u",
       "email",
       {users("email")},
       true},
      {"SELECT note FROM users JOIN orders USING (id)", "note", {orders("note")}, true},
      // USING merges the two columns: either side's value (COALESCE for FULL).
      {"SELECT id FROM users JOIN orders USING (id)", "id", {users("id"), orders("id")}, true},
      {"SELECT id FROM users FULL JOIN orders USING (id)", "id", {users("id"), orders("id")}, true},
      {"SELECT j.note FROM (users JOIN orders USING (id)) AS j", "note", {orders("note")}, true},
      // Ambiguous for PostgreSQL (the statement fails): both, never one.
      {"SELECT id FROM users, orders", "id", {users("id"), orders("id")}, true},
  };
  for (const Case& c : cases) expectCase(c);
}

TEST(Lineage, ExpressionsCarryTheirArgumentsSources) {
  const std::vector<Case> cases = {
      {"SELECT lower(email) FROM users", "lower", {users("email")}},
      {"SELECT email || '' FROM users", "?column?", {users("email")}},
      {"SELECT email::bytea FROM users", "email", {users("email")}},
      {"SELECT email::json FROM users", "email", {users("email")}},
      {"SELECT CAST(phone AS text) AS p FROM users", "p", {users("phone")}},
      {"SELECT string_agg(email, ',') FROM users", "string_agg", {users("email")}},
      {"SELECT array_agg(phone ORDER BY name) FROM users",
       "array_agg",
       {users("phone"), users("name")}},
      {"SELECT coalesce(phone, email) FROM users", "coalesce", {users("phone"), users("email")}},
      {"SELECT CASE WHEN id > 0 THEN email END FROM users", "case", {users("id"), users("email")}},
      {"SELECT jsonb_build_object('e', email) FROM users", "jsonb_build_object", {users("email")}},
      {"SELECT ARRAY[email, phone] FROM users", "array", {users("email"), users("phone")}},
      {"SELECT rank() OVER (ORDER BY email) FROM users", "rank", {users("email")}},
      {"SELECT sum(total) OVER (PARTITION BY user_id) FROM orders",
       "sum",
       {orders("total"), orders("user_id")}},
      {"SELECT (SELECT email FROM users LIMIT 1)", "email", {users("email")}},
      {"SELECT ARRAY(SELECT phone FROM users)", "array", {users("phone")}},
      {"SELECT EXISTS (SELECT email FROM users)", "exists", {}},
      {"SELECT (SELECT o.note FROM orders o WHERE o.user_id = u.id) FROM users u",
       "note",
       {orders("note")}},
      {"SELECT (SELECT u.email) FROM users u", "email", {users("email")}},
      {"SELECT email FROM users UNION ALL SELECT lower(note) FROM orders",
       "email",
       {users("email"), orders("note")}},
      {"SELECT count(*) FROM users", "count", {}},
      {"SELECT now()", "now", {}},
      {"SELECT 42", "?column?", {}},
      {"SELECT 'x'::text", "text", {}},
      {"SELECT current_user", "current_user", {}},
      {"SELECT $1::int AS n", "n", {}},
  };
  for (const Case& c : cases) expectCase(c);
  EXPECT_TRUE(calls(column("SELECT lower(email) FROM users"), "lower"));
  EXPECT_TRUE(calls(column("SELECT pg_catalog.upper(email) FROM users"), "upper", "pg_catalog"));
}

TEST(Lineage, WholeRowsFlowIn) {
  const std::vector<Case> cases = {
      {"SELECT row_to_json(u) FROM users u", "row_to_json", {}, false, false, {kUsers}},
      {"SELECT to_jsonb(u) FROM users u", "to_jsonb", {}, false, false, {kUsers}},
      {"SELECT u FROM users u", "u", {}, false, false, {kUsers}},
      {"SELECT row_to_json(u.*) FROM users u", "row_to_json", {}, false, false, {kUsers}},
      {"SELECT ROW(o.*) FROM orders o", "row", {}, false, false, {kOrders}},
      {"SELECT users FROM users", "users", {}, false, false, {kUsers}},
      // A subquery's or view's whole row is the columns it is made of.
      {"SELECT to_jsonb(s) FROM (SELECT email, 1 FROM users) s", "to_jsonb", {users("email")}},
      {"SELECT v FROM user_emails v", "v", {users("id"), users("email")}},
      // u.full_name is full_name(u) when users has no such column.
      {"SELECT u.full_name FROM users u", "full_name", {}, false, false, {kUsers}},
  };
  for (const Case& c : cases) expectCase(c);
  EXPECT_TRUE(calls(column("SELECT u.full_name FROM users u"), "full_name"));
}

TEST(Lineage, FunctionsInFromCarryTheirArguments) {
  const std::vector<Case> cases = {
      {"SELECT g FROM generate_series(1, 3) g", "g", {}},
      {"SELECT x FROM users, unnest(ARRAY[email]) AS x", "x", {users("email")}},
      {"SELECT unnest FROM users, unnest(ARRAY[phone])", "unnest", {users("phone")}},
      {"SELECT t.value FROM users, jsonb_each(to_jsonb(users)) t",
       "value",
       {},
       false,
       false,
       {kUsers}},
      {"SELECT r.a FROM users, json_to_record(name::json) AS r(a text)", "a", {users("name")}},
      {"SELECT n FROM orders, ROWS FROM (unnest(ARRAY[note])) WITH ORDINALITY AS f(n, i)",
       "n",
       {orders("note")}},
  };
  for (const Case& c : cases) expectCase(c);
  const QueryLineage q = one("SELECT * FROM generate_series(1, 3) WITH ORDINALITY AS g");
  EXPECT_TRUE(q.columns_complete);
  EXPECT_THAT(names(q), ElementsAre("g", "ordinality"));
  // A function whose columns are not known without the catalog.
  const QueryLineage f = one("SELECT * FROM users u, my_rows(u.id) r");
  EXPECT_FALSE(f.columns_complete);
  const ColumnLineage r = column("SELECT r.x FROM users u, my_rows(u.email) r");
  EXPECT_THAT(r.sources, ElementsAre(users("email")));
  EXPECT_TRUE(calls(r, "my_rows"));
  EXPECT_FALSE(r.untraceable);  // unqualified: the caller checks my_rows in the catalog
}

TEST(Lineage, OtherSchemasFunctionsAndDynamicSqlAreUntraceable) {
  const ColumnLineage c = column("SELECT audit.reveal(email) FROM users");
  EXPECT_TRUE(c.untraceable);
  EXPECT_THAT(c.sources, ElementsAre(users("email")));
  EXPECT_TRUE(calls(c, "reveal", "audit"));
  EXPECT_TRUE(column("SELECT query_to_xml('SELECT * FROM users', true, true, '')").untraceable);
  EXPECT_TRUE(column("SELECT r FROM audit.rows(1) r").untraceable);
  const QueryLineage q = one("SELECT * FROM audit.rows(1)");
  EXPECT_FALSE(q.columns_complete);
  EXPECT_TRUE(q.untraceable_any);
  // Untraceable outside the output: the columns are clean, the statement is not.
  const QueryLineage w = one("SELECT email FROM users WHERE audit.check(id)");
  EXPECT_FALSE(w.columns[0].untraceable);
  EXPECT_TRUE(w.untraceable_any);
  EXPECT_FALSE(one("SELECT email FROM users WHERE lower(name) = 'x'").untraceable_any);
}

TEST(Lineage, StarExpandsWithTheResolversColumns) {
  const QueryLineage q = one("SELECT * FROM users");
  EXPECT_THAT(names(q), ElementsAre("id", "email", "phone", "name"));
  ASSERT_EQ(q.columns.size(), 4u);
  EXPECT_THAT(q.columns[1].sources, ElementsAre(users("email")));
  EXPECT_TRUE(q.columns[1].plain);
  EXPECT_TRUE(q.columns_complete);
  EXPECT_THAT(q.relations, ElementsAre(kUsers));

  const QueryLineage t = one("SELECT o.*, u.email FROM users u JOIN orders o ON o.user_id = u.id");
  EXPECT_THAT(names(t), ElementsAre("id", "user_id", "total", "note", "email"));
  EXPECT_THAT(t.columns[0].sources, ElementsAre(orders("id")));
  EXPECT_THAT(t.relations, UnorderedElementsAreArray(Relations{kUsers, kOrders}));

  // USING columns once, first; then the other columns of each side.
  const QueryLineage j = one("SELECT * FROM users JOIN orders USING (id)");
  EXPECT_THAT(names(j), ElementsAre("id", "email", "phone", "name", "user_id", "total", "note"));
  EXPECT_THAT(j.columns[0].sources, UnorderedElementsAreArray(Sources{users("id"), orders("id")}));

  const QueryLineage v = one("SELECT * FROM user_emails");
  EXPECT_THAT(names(v), ElementsAre("id", "mail"));
  EXPECT_THAT(v.columns[1].sources, ElementsAre(users("email")));
  EXPECT_THAT(v.relations, UnorderedElementsAreArray(Relations{{"public", "user_emails"}, kUsers}));

  const QueryLineage s = one("SELECT * FROM (SELECT phone AS p, 1 AS one FROM users) s(a)");
  EXPECT_THAT(names(s), ElementsAre("a", "one"));
  EXPECT_THAT(s.columns[0].sources, ElementsAre(users("phone")));
  EXPECT_THAT(names(one("TABLE orders")), ElementsAre("id", "user_id", "total", "note"));
}

TEST(Lineage, UnknownRelationsAreUntraceableAndIncomplete) {
  const QueryLineage q = one("SELECT * FROM nope");
  EXPECT_TRUE(q.has_result);
  EXPECT_FALSE(q.columns_complete);
  EXPECT_TRUE(q.untraceable_any);
  EXPECT_THAT(q.relations, ElementsAre(RelationRef{"", "nope"}));

  const QueryLineage mixed = one("SELECT * FROM users, nope");
  EXPECT_FALSE(mixed.columns_complete);
  const ColumnLineage x = column("SELECT x FROM nope");
  EXPECT_TRUE(x.untraceable);
  EXPECT_FALSE(x.plain);
  // The column could be nope's: users.email is not the only candidate.
  EXPECT_TRUE(column("SELECT n.email FROM users, nope n").untraceable);
  EXPECT_TRUE(column("SELECT zzz FROM users").untraceable);     // no such column
  EXPECT_TRUE(column("SELECT number FROM cards").untraceable);  // not on the search path
  // A known column next to an unknown relation is still resolved.
  const ColumnLineage email = column("SELECT u.email FROM users u, nope");
  EXPECT_FALSE(email.untraceable);
  EXPECT_TRUE(email.plain);
}

TEST(Lineage, RecursiveCtesUnionBaseAndRecursivePart) {
  const ColumnLineage e = column(
      "WITH RECURSIVE t(n, e) AS (SELECT 1, email FROM users UNION ALL "
      "SELECT n + 1, e FROM t WHERE n < 3) SELECT e FROM t");
  EXPECT_THAT(e.sources, ElementsAre(users("email")));
  EXPECT_FALSE(e.untraceable);
  // Values move between columns from one round to the next.
  const ColumnLineage a = column(
      "WITH RECURSIVE t(a, b) AS (SELECT email, phone FROM users UNION ALL "
      "SELECT b, a FROM t) SELECT a FROM t");
  EXPECT_THAT(a.sources, UnorderedElementsAreArray(Sources{users("email"), users("phone")}));
  const ColumnLineage o = column(
      "WITH RECURSIVE t(x) AS (SELECT 1 UNION SELECT o.note FROM orders o, t) SELECT x FROM t");
  EXPECT_THAT(o.sources, ElementsAre(orders("note")));
}

TEST(Lineage, ValuesAndSetOperations) {
  const QueryLineage v = one("VALUES (1, 'a'), (2, 'b')");
  EXPECT_TRUE(v.has_result);
  EXPECT_THAT(names(v), ElementsAre("column1", "column2"));
  EXPECT_THAT(v.columns[0].sources, IsEmpty());
  const QueryLineage u =
      one("SELECT id, email FROM users INTERSECT SELECT user_id, note FROM orders");
  EXPECT_THAT(names(u), ElementsAre("id", "email"));
  EXPECT_THAT(u.columns[1].sources,
              UnorderedElementsAreArray(Sources{users("email"), orders("note")}));
  EXPECT_FALSE(column("SELECT email FROM users UNION SELECT lower(note) FROM orders").plain);
}

TEST(Lineage, ReturningTracesTheTargetAndAssignedValues) {
  const QueryLineage i = one("INSERT INTO users (email) VALUES ('a@b') RETURNING id, email");
  EXPECT_TRUE(i.has_result);
  ASSERT_EQ(i.columns.size(), 2u);
  EXPECT_THAT(i.columns[0].sources, ElementsAre(users("id")));
  EXPECT_TRUE(i.columns[1].plain);
  EXPECT_THAT(i.relations, ElementsAre(kUsers));

  // The returned value is what was assigned: its sources come along.
  const ColumnLineage copied =
      column("INSERT INTO users (email) SELECT note FROM orders RETURNING email");
  EXPECT_THAT(copied.sources, UnorderedElementsAreArray(Sources{users("email"), orders("note")}));
  EXPECT_FALSE(copied.plain);
  const ColumnLineage moved = column("UPDATE users SET name = email WHERE id = 1 RETURNING name");
  EXPECT_THAT(moved.sources, UnorderedElementsAreArray(Sources{users("name"), users("email")}));

  const QueryLineage f =
      one("UPDATE users u SET name = 'x' FROM orders o WHERE o.user_id = u.id RETURNING o.note, "
          "u.name");
  EXPECT_THAT(f.columns[0].sources, ElementsAre(orders("note")));
  EXPECT_THAT(f.columns[1].sources, ElementsAre(users("name")));
  EXPECT_TRUE(f.columns[1].plain);

  const QueryLineage d = one("DELETE FROM users WHERE id = 1 RETURNING *");
  EXPECT_THAT(names(d), ElementsAre("id", "email", "phone", "name"));
  const QueryLineage up =
      one("INSERT INTO users (id, email) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE "
          "SET phone = excluded.email RETURNING phone");
  EXPECT_THAT(up.columns[0].sources,
              UnorderedElementsAreArray(Sources{users("phone"), users("email")}));

  EXPECT_FALSE(one("INSERT INTO users (email) VALUES ('x')").has_result);
  EXPECT_FALSE(one("UPDATE users SET name = 'x'").has_result);
  EXPECT_FALSE(one("MERGE INTO users u USING orders o ON o.user_id = u.id "
                   "WHEN MATCHED THEN UPDATE SET name = o.note")
                   .has_result);
  const ColumnLineage cte =
      column("WITH d AS (DELETE FROM users WHERE id = 1 RETURNING email) SELECT email FROM d");
  EXPECT_THAT(cte.sources, ElementsAre(users("email")));
}

TEST(Lineage, CopyForms) {
  const QueryLineage all = one("COPY users TO STDOUT");
  EXPECT_TRUE(all.has_result);
  EXPECT_THAT(names(all), ElementsAre("id", "email", "phone", "name"));
  EXPECT_TRUE(all.columns[1].plain);
  EXPECT_THAT(all.copy_columns, IsEmpty());

  const QueryLineage some = one("COPY users (email, phone) TO STDOUT");
  EXPECT_THAT(some.copy_columns, ElementsAre("email", "phone"));
  EXPECT_THAT(names(some), ElementsAre("email", "phone"));
  EXPECT_THAT(some.columns[1].sources, ElementsAre(users("phone")));

  const QueryLineage q = one("COPY (SELECT lower(email) FROM users) TO STDOUT WITH (FORMAT csv)");
  EXPECT_TRUE(q.has_result);
  ASSERT_EQ(q.columns.size(), 1u);
  EXPECT_THAT(q.columns[0].sources, ElementsAre(users("email")));

  EXPECT_FALSE(one("COPY users TO '/tmp/users.csv'").has_result);
  EXPECT_FALSE(one("COPY users TO PROGRAM 'cat'").has_result);
  EXPECT_FALSE(one("COPY users FROM STDIN").has_result);
  EXPECT_FALSE(one("COPY nope TO STDOUT").columns_complete);
}

TEST(Lineage, CursorsAndPreparedStatements) {
  const QueryLineage d = one("DECLARE c CURSOR FOR SELECT email FROM users");
  EXPECT_EQ(d.cursor, "c");
  EXPECT_TRUE(d.has_result);
  ASSERT_EQ(d.columns.size(), 1u);
  EXPECT_THAT(d.columns[0].sources, ElementsAre(users("email")));

  const QueryLineage f = one("FETCH 10 FROM c");
  EXPECT_TRUE(f.fetch);
  EXPECT_TRUE(f.has_result);
  EXPECT_EQ(f.cursor, "c");
  const QueryLineage m = one("MOVE NEXT IN c");
  EXPECT_TRUE(m.fetch);
  EXPECT_FALSE(m.has_result);
  EXPECT_EQ(one("CLOSE c").cursor, "c");

  const QueryLineage p = one("PREPARE p AS SELECT email FROM users WHERE id = $1");
  EXPECT_EQ(p.prepared, "p");
  EXPECT_TRUE(p.has_result);
  EXPECT_THAT(p.columns[0].sources, ElementsAre(users("email")));
  const QueryLineage w = one("PREPARE w AS UPDATE users SET name = $1");
  EXPECT_EQ(w.prepared, "w");
  EXPECT_FALSE(w.has_result);

  const QueryLineage e = one("EXECUTE p(1)");
  EXPECT_TRUE(e.execute);
  EXPECT_TRUE(e.has_result);
  EXPECT_EQ(e.prepared, "p");
}

TEST(Lineage, StatementsWithoutStoredDataInTheirResult) {
  const QueryLineage e = one("EXPLAIN SELECT email FROM users");
  EXPECT_TRUE(e.explain);
  EXPECT_TRUE(e.has_result);
  EXPECT_THAT(e.columns, IsEmpty());
  EXPECT_THAT(e.relations, IsEmpty());
  const QueryLineage a = one("EXPLAIN (ANALYZE, FORMAT json) SELECT email FROM users");
  EXPECT_THAT(a.columns, IsEmpty());
  EXPECT_THAT(a.relations, ElementsAre(kUsers));

  const QueryLineage s = one("SHOW search_path");
  EXPECT_TRUE(s.has_result);
  EXPECT_THAT(s.columns, IsEmpty());
  EXPECT_FALSE(one("CREATE TABLE t2 AS SELECT email FROM users").has_result);
  EXPECT_FALSE(one("SELECT email INTO t3 FROM users").has_result);
  EXPECT_FALSE(one("SET search_path = public").has_result);
  const QueryLineage call = one("CALL refresh(1)");
  EXPECT_TRUE(call.has_result);
  EXPECT_FALSE(call.columns_complete);
}

TEST(Lineage, RelationsReadAnywhere) {
  const QueryLineage q =
      one("SELECT 1 FROM user_emails WHERE id IN (SELECT user_id FROM orders) "
          "AND EXISTS (SELECT 1 FROM billing.cards)");
  EXPECT_THAT(q.relations, UnorderedElementsAreArray(Relations{
                               {"public", "user_emails"}, kUsers, kOrders, {"billing", "cards"}}));
  EXPECT_THAT(one("WITH c AS (SELECT * FROM orders) SELECT 1 FROM c").relations,
              ElementsAre(kOrders));
}

TEST(Lineage, OutputNamesFollowPostgres) {
  const QueryLineage q =
      one("SELECT id, u.email, lower(name) AS l, upper(name), 1 + 1, (1 + 1)::int, "
          "CASE WHEN true THEN 1 END, nullif(phone, ''), (SELECT note FROM orders LIMIT 1), "
          "ARRAY[1], greatest(1, 2), email::text FROM users u");
  EXPECT_THAT(names(q), ElementsAre("id", "email", "l", "upper", "?column?", "int4", "case",
                                    "nullif", "note", "array", "greatest", "email"));
}

TEST(Lineage, RelationsToResolveLeaveCteNamesOut) {
  EXPECT_THAT(lineageRelations("WITH c AS (SELECT * FROM users) "
                               "SELECT * FROM c, public.orders, billing.cards"),
              ElementsAre(RelationRef{"", "users"}, RelationRef{"public", "orders"},
                          RelationRef{"billing", "cards"}));
  // Outside the WITH, c is a relation again; a later CTE is not in scope before it.
  EXPECT_THAT(lineageRelations("WITH c AS (SELECT 1) SELECT * FROM c; SELECT * FROM c"),
              ElementsAre(RelationRef{"", "c"}));
  EXPECT_THAT(lineageRelations("WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a"),
              ElementsAre(RelationRef{"", "b"}));
  EXPECT_THAT(lineageRelations("SELEC 1"), IsEmpty());
}

TEST(Lineage, MultiStatementTextGivesOneLineagePerStatement) {
  const std::vector<QueryLineage> all =
      lineage("SELECT email FROM users; SET x.y = 1; SELECT note FROM orders", catalog());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_THAT(all[0].columns[0].sources, ElementsAre(users("email")));
  EXPECT_FALSE(all[1].has_result);
  EXPECT_THAT(all[2].columns[0].sources, ElementsAre(orders("note")));
}

TEST(Lineage, TextThatDoesNotParseGivesNothing) {
  for (const std::string& sql : std::vector<std::string>{
           "SELEC 1", "SELECT (1", "", "   ", "SELECT '\xC3\x28'", std::string("SELECT 1\0", 9)}) {
    EXPECT_THAT(lineage(sql, catalog()), IsEmpty()) << sql;
  }
}

TEST(Lineage, DeepNestingIsBoundedNeverACrash) {
  auto nested = [](int depth, const std::string& open, const std::string& inner,
                   const std::string& close) {
    std::string sql = "SELECT ";
    for (int i = 0; i < depth; ++i) sql += open;
    sql += inner;
    for (int i = 0; i < depth; ++i) sql += close;
    return sql + " FROM users";
  };
  // Within the bound: traced.
  const ColumnLineage shallow = column(nested(50, "lower(", "email", ")"));
  EXPECT_THAT(shallow.sources, ElementsAre(users("email")));
  EXPECT_FALSE(shallow.untraceable);
  // Past it: untraceable and incomplete, or refused before parsing.
  for (int depth : {300, 3000, 30000}) {
    const std::vector<QueryLineage> deep =
        lineage(nested(depth, "lower(", "email", ")"), catalog());
    if (deep.empty()) continue;
    ASSERT_EQ(deep.size(), 1u);
    EXPECT_FALSE(deep[0].columns_complete) << depth;
    EXPECT_TRUE(deep[0].untraceable_any) << depth;
    for (const ColumnLineage& c : deep[0].columns) EXPECT_TRUE(c.untraceable);
  }
  for (int depth : {150, 1000}) {
    lineage(nested(depth, "(SELECT ", "email", ")"), catalog());
    lineage(nested(depth, "email || ", "email", ""), catalog());
  }
}

TEST(Lineage, RandomTextNeverCrashes) {
  const std::vector<std::string> words = {
      "SELECT", "*",     "FROM",  "users", "u",      ",",         "(",        ")",      "JOIN",
      "USING",  "id",    "email", "WITH",  "AS",     "UNION",     "LATERAL",  "VALUES", "1",
      "u.*",    "ROW",   "ON",    "true",  "WHERE",  "RETURNING", "INSERT",   "INTO",   "lower",
      "x.y.z",  "ARRAY", "[",     "]",     "::text", "RECURSIVE", "orders",   "COPY",   "TO",
      "STDOUT", ";",     "nope",  "s",     "t",      "EXISTS",    "ORDER BY", "OVER",   "."};
  std::mt19937 rng(42);
  for (int i = 0; i < 3000; ++i) {
    std::string sql;
    const int n = 1 + static_cast<int>(rng() % 25);
    for (int k = 0; k < n; ++k) sql += words[rng() % words.size()] + " ";
    for (const QueryLineage& q : lineage(sql, catalog())) {
      for (const ColumnLineage& c : q.columns) EXPECT_FALSE(c.name.empty()) << sql;
    }
  }
}

/// "table.column <- sources" for each write, for compact expectations.
std::vector<std::string> writes(const std::string& sql) {
  std::vector<std::string> out;
  for (const ColumnWrite& w : one(sql).writes) {
    std::string s = w.table.name + "." + w.column + " <-";
    for (const SourceColumn& src : w.value.sources) s += " " + src.relation + "." + src.column;
    for (const RelationRef& r : w.value.whole_rows) s += " " + r.name + ".*";
    if (w.value.untraceable) s += " ?";
    out.push_back(s);
  }
  return out;
}

TEST(Lineage, WritesRecordStoredValuesComputedFromColumns) {
  EXPECT_THAT(writes("INSERT INTO orders (note, total) SELECT email, id FROM users"),
              ElementsAre("orders.note <- users.email", "orders.total <- users.id"));
  EXPECT_THAT(writes("INSERT INTO orders (note) VALUES ('x'), ($1)"), IsEmpty());
  EXPECT_THAT(writes("UPDATE orders SET note = u.phone, total = 1 FROM users u WHERE u.id = 1"),
              ElementsAre("orders.note <- users.phone"));
  EXPECT_THAT(writes("UPDATE users SET name = lower(email)"),
              ElementsAre("users.name <- users.email"));
  EXPECT_THAT(writes("INSERT INTO orders (note) SELECT u::text FROM users u"),
              ElementsAre("orders.note <- users.*"));
  // Inside a data-modifying CTE, and for the columns of an INSERT without a list.
  EXPECT_THAT(
      writes("WITH c AS (INSERT INTO orders SELECT id, id, id, email FROM users RETURNING 1) "
             "SELECT * FROM c"),
      ElementsAre("orders.id <- users.id", "orders.user_id <- users.id", "orders.total <- users.id",
                  "orders.note <- users.email"));
  EXPECT_THAT(writes("INSERT INTO orders (id, note) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE "
                     "SET note = (SELECT email FROM users LIMIT 1)"),
              ElementsAre("orders.note <- users.email"));
  EXPECT_THAT(writes("CREATE TABLE copy AS SELECT id, lower(email) AS e FROM users"),
              ElementsAre("copy.id <- users.id", "copy.e <- users.email"));
  EXPECT_THAT(writes("CREATE TABLE copy (a, b) AS SELECT id, email FROM users"),
              ElementsAre("copy.a <- users.id", "copy.b <- users.email"));
  EXPECT_THAT(writes("SELECT phone INTO TEMP copy FROM users"),
              ElementsAre("copy.phone <- users.phone"));
  EXPECT_THAT(writes("CREATE MATERIALIZED VIEW mv AS SELECT note FROM orders"),
              ElementsAre("mv.note <- orders.note"));
  EXPECT_THAT(writes("MERGE INTO orders o USING users u ON o.user_id = u.id "
                     "WHEN MATCHED THEN UPDATE SET note = u.email"),
              ElementsAre("orders.* <- users.id users.email users.phone users.name"));
}

}  // namespace
}  // namespace test
}  // namespace pgw::sql
