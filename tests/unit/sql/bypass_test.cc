// The attacker's list (issue 4, "Bypass resistance"): what a read-only agent
// could try to slip past the analysis, and the benign corpus that must stay
// plain reads.

#include "case_table.h"

namespace pgw::sql::test {
namespace {

class Bypass : public ::testing::TestWithParam<Case> {};
TEST_P(Bypass, Analysis) {
  expectCase(GetParam());
}

const std::vector<Case> kTricks = {
    // Comments and case.
    {.sql = "SeLeCt/**/1", .kind = K::Select, .reads = true},
    {.sql = "dElEtE/**/fRoM/* x */t",
     .kind = K::Delete,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kMissingWhere},
    {.sql = "/* /* nested */ still comment */ DELETE FROM t -- WHERE id = 1",
     .kind = K::Delete,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kMissingWhere},
    {.sql = "SELECT 1 /* ; DROP TABLE t */", .kind = K::Select, .reads = true},
    {.sql = "SELECT ';DROP TABLE t', $$;DELETE FROM t$$, E'\\';DROP TABLE u'",
     .kind = K::Select,
     .reads = true},
    {.sql = "SELECT \"a;b\" FROM \"t;DROP TABLE u\"",
     .kind = K::Select,
     .reads = true,
     .read = {"t;DROP TABLE u"}},
    {.sql = "UPDATE ONLY public.t SET a = 1",
     .kind = K::Update,
     .reads = true,
     .writes = true,
     .read = {"public.t"},
     .written = {"public.t"},
     .flags = kMissingWhere},
    // Unicode-escaped identifiers name the same relation.
    {.sql = "SELECT * FROM U&\"d\\0061ta\"", .kind = K::Select, .reads = true, .read = {"data"}},
    {.sql = "DELETE FROM U&\"!0073ecrets\" UESCAPE '!'",
     .kind = K::Delete,
     .reads = true,
     .writes = true,
     .read = {"secrets"},
     .written = {"secrets"},
     .flags = kMissingWhere},
    // Data-modifying CTEs make the whole statement a write.
    {.sql = "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kMissingWhere | kModifyingCte},
    {.sql = "WITH u AS (UPDATE t SET a = 1 WHERE id = 2 RETURNING id) SELECT count(*) FROM u",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .functions = {"count"},
     .flags = kModifyingCte},
    {.sql =
         "WITH a AS (SELECT 1), b AS (INSERT INTO log SELECT * FROM a RETURNING 1) SELECT * FROM b",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .written = {"log"},
     .flags = kModifyingCte},
    {.sql = "SELECT * FROM (WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x) s",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kMissingWhere | kModifyingCte},
    // A CTE name hides a table only inside its own WITH.
    {.sql = "SELECT * FROM users, (WITH users AS (SELECT 1) SELECT * FROM users) x",
     .kind = K::Select,
     .reads = true,
     .read = {"users"}},
    {.sql = "WITH a AS (SELECT * FROM b), b AS (SELECT 1) SELECT * FROM a, b",
     .kind = K::Select,
     .reads = true,
     .read = {"b"}},
    {.sql = "WITH t AS (SELECT 1) SELECT * FROM public.t, t",
     .kind = K::Select,
     .reads = true,
     .read = {"public.t"}},
    {.sql = "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT * "
            "FROM r",
     .kind = K::Select,
     .reads = true},
    // SELECT ... INTO and CREATE TABLE AS create tables.
    {.sql = "SELECT * INTO t2 FROM t",
     .kind = K::CreateTableAs,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t2"},
     .flags = kSelectInto},
    {.sql = "SELECT * INTO TEMP t2 FROM t WHERE false",
     .kind = K::CreateTableAs,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t2"},
     .flags = kSelectInto},
    // Side-effecting functions make a SELECT a write.
    {.sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .read = {"pg_stat_activity"},
     .functions = {"pg_terminate_backend"}},
    {.sql = "SELECT pg_cancel_backend(1)",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"pg_cancel_backend"}},
    {.sql = "SELECT nextval('s')",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"nextval"}},
    {.sql = "SELECT setval('s', 1, false)",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"setval"}},
    {.sql = "SELECT lo_import('/etc/passwd')",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"lo_import"}},
    {.sql = "SELECT lo_export(16400, '/tmp/x')",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"lo_export"}},
    {.sql = "SELECT lo_unlink(16400)",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"lo_unlink"}},
    {.sql = "SELECT dblink_exec('host=x', 'DROP TABLE t')",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"dblink_exec"},
     .flags = kDynamic},
    {.sql = "SELECT * FROM dblink('host=x', 'DELETE FROM t RETURNING 1') AS r(x int)",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"dblink"},
     .flags = kDynamic},
    {.sql = "SELECT pg_advisory_lock(42)",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"pg_advisory_lock"}},
    {.sql = "SELECT pg_reload_conf()",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"pg_reload_conf"}},
    {.sql = "SELECT pg_notify('ch', 'x')",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"pg_notify"}},
    {.sql = "SELECT x FROM t WHERE x = nextval('s')",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .functions = {"nextval"}},
    {.sql = "SELECT 1 FROM t ORDER BY (SELECT pg_terminate_backend(1))",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .functions = {"pg_terminate_backend"}},
    // Functions as FROM items and in ALTER ... DEFAULT.
    {.sql = "SELECT * FROM pg_read_file('/etc/passwd') AS f(line)",
     .kind = K::Select,
     .reads = true,
     .functions = {"pg_read_file"}},
    {.sql = "SELECT * FROM ROWS FROM (nextval('s'))",
     .kind = K::Select,
     .reads = true,
     .writes = true,
     .functions = {"nextval"}},
    {.sql = "ALTER TABLE t ALTER COLUMN c SET DEFAULT pg_read_file('/etc/passwd')",
     .kind = K::Alter,
     .writes = true,
     .written = {"t"},
     .functions = {"pg_read_file"}},
    // PL/pgSQL's SELECT ... INTO assigns variables: no table is created.
    {.sql = "DO $$DECLARE n int; BEGIN SELECT count(*) INTO n FROM t; END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .functions = {"count"},
     .nested = {K::Select}},
    // File readers: a read, but named so a guardrail can catch them.
    {.sql = "SELECT pg_read_file('/etc/passwd')",
     .kind = K::Select,
     .reads = true,
     .functions = {"pg_read_file"}},
    {.sql = "SELECT \"PG_READ_FILE\"('/etc/passwd')",
     .kind = K::Select,
     .reads = true,
     .functions = {"pg_read_file"}},
    {.sql = "SELECT pg_catalog.pg_read_file('/etc/passwd')",
     .kind = K::Select,
     .reads = true,
     .functions = {"pg_catalog.pg_read_file"}},
    {.sql = "SELECT \"pg_catalog\".\"pg_ls_dir\"('.')",
     .kind = K::Select,
     .reads = true,
     .functions = {"pg_catalog.pg_ls_dir"}},
    {.sql = "SELECT query_to_xml('SELECT * FROM secrets', true, true, '')",
     .kind = K::Select,
     .reads = true,
     .functions = {"query_to_xml"},
     .flags = kDynamic},
    // set_config is SET in disguise: judged by its settings (the policy
    // guards those), not as a write.
    {.sql = "SELECT set_config('role', 'postgres', false)",
     .kind = K::Select,
     .reads = true,
     .functions = {"set_config"},
     .settings = {{"role", "postgres"}}},
    {.sql = "SELECT set_config('Default_Transaction_Read_Only', 'off', false)",
     .kind = K::Select,
     .reads = true,
     .functions = {"set_config"},
     .settings = {{"default_transaction_read_only", "off"}}},
    {.sql = "SELECT set_config(name, 'x', true) FROM t",
     .kind = K::Select,
     .reads = true,
     .read = {"t"},
     .functions = {"set_config"},
     .settings = {{"*", "x"}}},
    {.sql = "SELECT set_config('role'::text, current_setting('x'), false)",
     .kind = K::Select,
     .reads = true,
     .functions = {"current_setting", "set_config"},
     .settings = {{"role", ""}}},
    // DO blocks: static SQL is analyzed, EXECUTE is dynamic.
    {.sql = "DO $$BEGIN EXECUTE 'DROP TABLE t'; END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .written = {"t"},
     .flags = kDynamic,
     .nested = {K::Drop}},
    {.sql = "DO $$BEGIN EXECUTE format('DROP TABLE %I', 't'); END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .functions = {"format"},
     .flags = kDynamic},
    {.sql = "DO $$DECLARE r record; BEGIN FOR r IN EXECUTE 'SELECT 1' LOOP END LOOP; END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .flags = kDynamic,
     .nested = {K::Select}},
    {.sql = "DO $$BEGIN DELETE FROM t; END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kMissingWhere,
     .nested = {K::Delete}},
    {.sql = "DO $body$ BEGIN PERFORM pg_terminate_backend(1); END $body$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .functions = {"pg_terminate_backend"},
     .nested = {K::Select}},
    {.sql =
         "DO $$DECLARE n int := nextval('s'); BEGIN IF n > 0 THEN UPDATE t SET a = n WHERE id = 1; "
         "ELSE INSERT INTO u VALUES (n); END IF; END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t", "u"},
     .functions = {"nextval"},
     .nested = {K::Update, K::Insert}},
    {.sql = "DO $$BEGIN SET ROLE postgres; END$$",
     .kind = K::Do,
     .writes = true,
     .settings = {{"role", "postgres"}},
     .nested = {K::SetRole}},
    {.sql = "DO $$BEGIN DO $i$BEGIN DELETE FROM t WHERE a = 1; END$i$; END$$",
     .kind = K::Do,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .nested = {K::Do}},
    {.sql = "DO LANGUAGE plpython3u $$import os; os.system('id')$$",
     .kind = K::Do,
     .writes = true,
     .flags = kDynamic},
    {.sql = "DO $$BEGIN this is not plpgsql; END$$",
     .kind = K::Do,
     .writes = true,
     .flags = kDynamic},
    // PREPARE is judged by what it will run.
    {.sql = "PREPARE p AS DELETE FROM t",
     .kind = K::Prepare,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kMissingWhere,
     .nested = {K::Delete}},
    {.sql = "EXECUTE p", .kind = K::Execute, .reads = true},
    // EXPLAIN ANALYZE runs its statement; EXPLAIN does not.
    {.sql = "EXPLAIN ANALYZE DELETE FROM t WHERE id = 1",
     .kind = K::Explain,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kAnalyze,
     .nested = {K::Delete}},
    {.sql = "EXPLAIN DELETE FROM t WHERE id = 1",
     .kind = K::Explain,
     .reads = true,
     .read = {"t"},
     .nested = {K::Delete}},
    {.sql = "explain (analyze) with d as (delete from t returning 1) select * from d",
     .kind = K::Explain,
     .reads = true,
     .writes = true,
     .read = {"t"},
     .written = {"t"},
     .flags = kAnalyze | kMissingWhere | kModifyingCte,
     .nested = {K::Select}},
    // Cursors.
    {.sql = "DECLARE c CURSOR FOR SELECT * FROM secrets",
     .kind = K::DeclareCursor,
     .reads = true,
     .read = {"secrets"},
     .nested = {K::Select}},
    {.sql = "DECLARE c CURSOR FOR SELECT nextval('s')",
     .kind = K::DeclareCursor,
     .reads = true,
     .writes = true,
     .functions = {"nextval"},
     .nested = {K::Select}},
    // Read-only escapes.
    {.sql = "BEGIN READ WRITE", .kind = K::Begin, .settings = {{"transaction_read_only", "off"}}},
    {.sql = "START TRANSACTION READ WRITE",
     .kind = K::Begin,
     .settings = {{"transaction_read_only", "off"}}},
    {.sql = "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
     .kind = K::Set,
     .settings = {{"default_transaction_read_only", "off"}}},
    {.sql = "SET transaction_read_only = 0",
     .kind = K::Set,
     .settings = {{"transaction_read_only", "0"}}},
    {.sql = "SET ROLE postgres", .kind = K::SetRole, .settings = {{"role", "postgres"}}},
    {.sql = "SET SESSION AUTHORIZATION 'postgres'",
     .kind = K::SetSessionAuthorization,
     .settings = {{"session_authorization", "postgres"}}},
    // Functions hidden in DDL defaults, constraints and CREATE FUNCTION bodies.
    {.sql = "CREATE TEMP TABLE x (a text DEFAULT pg_read_file('/etc/passwd'))",
     .kind = K::Create,
     .writes = true,
     .written = {"x"},
     .functions = {"pg_read_file"}},
    {.sql =
         "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$SELECT pg_read_file('/etc/passwd')$$",
     .kind = K::Create,
     .writes = true,
     .functions = {"pg_read_file"}},
    {.sql = "CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$BEGIN EXECUTE 'DROP TABLE t'; "
            "END$$",
     .kind = K::Create,
     .writes = true,
     .flags = kDynamic},
    {.sql = "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$BEGIN RETURN "
            "pg_terminate_backend(1)::int; END$$",
     .kind = K::Create,
     .writes = true,
     .functions = {"pg_terminate_backend"}},
    {.sql = "CREATE FUNCTION f() RETURNS int LANGUAGE c AS 'evil.so', 'f'",
     .kind = K::Create,
     .writes = true,
     .flags = kDynamic},
};
INSTANTIATE_TEST_SUITE_P(Tricks, Bypass, ::testing::ValuesIn(kTricks));

/// Analytic queries an agent runs every day: plain reads, nothing else.
const std::vector<Case> kBenign = {
    {.sql = "SELECT id, amount, sum(amount) OVER (PARTITION BY customer_id ORDER BY created_at "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS running FROM orders",
     .kind = K::Select,
     .reads = true,
     .read = {"orders"},
     .functions = {"sum"}},
    {.sql = "SELECT customer_id, rank() OVER w, lag(amount) OVER w FROM orders "
            "WINDOW w AS (PARTITION BY region ORDER BY amount DESC)",
     .kind = K::Select,
     .reads = true,
     .read = {"orders"},
     .functions = {"lag", "rank"}},
    {.sql = "WITH recent AS (SELECT * FROM orders WHERE created_at > now() - interval '7 days'), "
            "totals AS (SELECT customer_id, sum(amount) s FROM recent GROUP BY 1) "
            "SELECT c.name, t.s FROM totals t JOIN customers c ON c.id = t.customer_id ORDER BY "
            "t.s DESC LIMIT 10",
     .kind = K::Select,
     .reads = true,
     .read = {"customers", "orders"},
     .functions = {"now", "sum"}},
    {.sql = "SELECT payload->>'user' AS u, payload->'items'->0->>'sku', payload #>> '{a,b}' "
            "FROM events WHERE payload @> '{\"type\": \"click\"}' AND payload ? 'user'",
     .kind = K::Select,
     .reads = true,
     .read = {"events"}},
    {.sql = "SELECT jsonb_agg(jsonb_build_object('id', id, 'tags', tags)) FROM items WHERE tags && "
            "ARRAY['a','b']",
     .kind = K::Select,
     .reads = true,
     .read = {"items"},
     .functions = {"jsonb_agg", "jsonb_build_object"}},
    {.sql = "SELECT c.id, o.* FROM customers c CROSS JOIN LATERAL "
            "(SELECT * FROM orders WHERE customer_id = c.id ORDER BY created_at DESC LIMIT 3) o",
     .kind = K::Select,
     .reads = true,
     .read = {"customers", "orders"}},
    {.sql = "SELECT region, product, sum(amount) FROM sales GROUP BY GROUPING SETS ((region), "
            "(product), ())",
     .kind = K::Select,
     .reads = true,
     .read = {"sales"},
     .functions = {"sum"}},
    {.sql = "SELECT region, sum(amount) FROM sales GROUP BY ROLLUP (region), CUBE (product)",
     .kind = K::Select,
     .reads = true,
     .read = {"sales"},
     .functions = {"sum"}},
    {.sql = "SELECT count(*) FILTER (WHERE status = 'paid') AS paid, "
            "percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) FROM orders",
     .kind = K::Select,
     .reads = true,
     .read = {"orders"},
     .functions = {"count", "percentile_cont"}},
    {.sql = "SELECT date_trunc('month', created_at) m, count(DISTINCT customer_id) FROM orders "
            "GROUP BY 1 HAVING count(*) > 10 ORDER BY 1",
     .kind = K::Select,
     .reads = true,
     .read = {"orders"},
     .functions = {"count", "date_trunc"}},
    {.sql = "SELECT * FROM generate_series(1, 10) g(i) LEFT JOIN t ON t.id = g.i",
     .kind = K::Select,
     .reads = true,
     .read = {"t"},
     .functions = {"generate_series"}},
    {.sql = "SELECT CASE WHEN amount > 100 THEN 'big' ELSE 'small' END, coalesce(note, ''), "
            "amount::numeric(10,2), EXTRACT(year FROM created_at) FROM orders",
     .kind = K::Select,
     .reads = true,
     .read = {"orders"},
     .functions = {"pg_catalog.extract"}},
    {.sql = "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM refunds r WHERE r.order_id = o.id) "
            "AND o.status NOT IN ('void') AND o.note ILIKE '%gift%'",
     .kind = K::Select,
     .reads = true,
     .read = {"orders", "refunds"}},
    {.sql = "SELECT a.x FROM a UNION ALL SELECT b.x FROM b INTERSECT SELECT c.x FROM c ORDER BY 1 "
            "OFFSET 5 FETCH FIRST 5 ROWS ONLY",
     .kind = K::Select,
     .reads = true,
     .read = {"a", "b", "c"}},
    {.sql = "SELECT string_agg(name, ', ' ORDER BY name), array_agg(DISTINCT tag) FROM tags",
     .kind = K::Select,
     .reads = true,
     .read = {"tags"},
     .functions = {"array_agg", "string_agg"}},
    {.sql = "SELECT t.*, row_number() OVER () FROM (VALUES (1, 'a'), (2, 'b')) AS t(id, name)",
     .kind = K::Select,
     .reads = true,
     .functions = {"row_number"}},
    {.sql = "SELECT * FROM jsonb_to_recordset('[{\"a\":1}]') AS x(a int) "
            "JOIN LATERAL jsonb_array_elements(x.a::text::jsonb) e ON true",
     .kind = K::Select,
     .reads = true,
     .functions = {"jsonb_array_elements", "jsonb_to_recordset"}},
    {.sql = "SELECT current_user, current_setting('search_path'), version()",
     .kind = K::Select,
     .reads = true,
     .functions = {"current_setting", "version"}},
    {.sql = "SELECT n.nspname, c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n "
            "ON n.oid = c.relnamespace WHERE c.relkind = ANY (ARRAY['r','v'])",
     .kind = K::Select,
     .reads = true,
     .read = {"pg_catalog.pg_class", "pg_catalog.pg_namespace"}},
    {.sql = "SELECT * FROM t TABLESAMPLE SYSTEM (10) REPEATABLE (42)",
     .kind = K::Select,
     .reads = true,
     .read = {"t"}},
    {.sql = "SELECT DISTINCT ON (customer_id) * FROM orders ORDER BY customer_id, created_at DESC",
     .kind = K::Select,
     .reads = true,
     .read = {"orders"}},
    {.sql =
         "SELECT x, y FROM points WHERE (x, y) OVERLAPS (1, 2) IS NOT TRUE OR x IS DISTINCT FROM y",
     .kind = K::Select,
     .reads = true,
     .read = {"points"},
     .functions = {"pg_catalog.overlaps"}},
};
INSTANTIATE_TEST_SUITE_P(Benign, Bypass, ::testing::ValuesIn(kBenign));

TEST(BypassKinds, NoValidStatementIsLeftUnclassified) {
  // Other is for node types nobody listed; every PostgreSQL 15 statement
  // has a kind.
  for (const char* sql : {
           "CREATE CAST (int AS text) WITH INOUT",
           "CREATE CONVERSION c FOR 'LATIN1' TO 'UTF8' FROM f",
           "CREATE OPERATOR === (LEFTARG = int, RIGHTARG = int, FUNCTION = int4eq)",
           "CREATE OPERATOR CLASS c FOR TYPE int USING btree AS OPERATOR 1 <",
           "CREATE OPERATOR FAMILY f USING btree",
           "ALTER OPERATOR FAMILY f USING btree ADD OPERATOR 1 < (int, int)",
           "CREATE LANGUAGE plperl",
           "CREATE ACCESS METHOD m TYPE TABLE HANDLER h",
           "CREATE TRANSFORM FOR int LANGUAGE plperl (FROM SQL WITH FUNCTION f(internal))",
           "CREATE STATISTICS s ON a, b FROM t",
           "ALTER STATISTICS s SET STATISTICS 10",
           "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION f()",
           "ALTER EVENT TRIGGER e DISABLE",
           "CREATE FOREIGN DATA WRAPPER w",
           "ALTER SERVER s OPTIONS (host 'x')",
           "CREATE USER MAPPING FOR bob SERVER s",
           "DROP USER MAPPING FOR bob SERVER s",
           "CREATE FOREIGN TABLE ft (a int) SERVER s",
           "ALTER TEXT SEARCH DICTIONARY d (x = 1)",
           "ALTER TEXT SEARCH CONFIGURATION c ADD MAPPING FOR word WITH simple",
           "ALTER TYPE t ADD VALUE 'x'",
           "ALTER TYPE t OWNER TO bob",
           "ALTER DOMAIN d SET NOT NULL",
           "ALTER COLLATION c REFRESH VERSION",
           "ALTER TABLE ALL IN TABLESPACE a SET TABLESPACE b",
           "ALTER TABLESPACE a SET (seq_page_cost = 1)",
           "ALTER POLICY p ON t USING (true)",
           "ALTER PUBLICATION p ADD TABLE t",
           "ALTER SUBSCRIPTION s DISABLE",
           "ALTER FUNCTION f() DEPENDS ON EXTENSION e",
           "CREATE TYPE r AS RANGE (subtype = int)",
       }) {
    const Analysis a = analyze(sql);
    ASSERT_TRUE(a.parsed) << sql << "\n" << describe(a);
    ASSERT_EQ(a.statements.size(), 1u) << sql;
    EXPECT_NE(a.statements[0].kind, K::Other) << sql << "\n" << describe(a);
    EXPECT_TRUE(a.statements[0].writes) << sql;
  }
}

TEST(BypassMultiStatement, EachStatementIsAnalyzedOnItsOwn) {
  const Analysis a = analyze("SELECT 1; DROP TABLE t");
  ASSERT_TRUE(a.parsed);
  ASSERT_EQ(a.statements.size(), 2u);
  EXPECT_EQ(a.statements[0].kind, K::Select);
  EXPECT_FALSE(a.statements[0].writes);
  EXPECT_EQ(a.statements[0].text, "SELECT 1");
  EXPECT_EQ(a.statements[1].kind, K::Drop);
  EXPECT_TRUE(a.statements[1].writes);
  EXPECT_EQ(a.statements[1].text, "DROP TABLE t");
  EXPECT_EQ(names(a.statements[1].relations_written), std::vector<std::string>{"t"});
}

TEST(BypassMultiStatement, CommitThenDelete) {
  const Analysis a = analyze("COMMIT; DELETE FROM t");
  ASSERT_EQ(a.statements.size(), 2u);
  EXPECT_EQ(a.statements[0].kind, K::Commit);
  EXPECT_EQ(a.statements[1].kind, K::Delete);
  EXPECT_TRUE(a.statements[1].missing_where);
  EXPECT_EQ(a.statements[1].text, "DELETE FROM t");
}

TEST(BypassMultiStatement, SemicolonsInsideLiteralsAndCommentsDoNotSplit) {
  const Analysis a = analyze("SELECT ';' /* ; */, $x$;$x$ -- ;\n; SELECT 2;;");
  ASSERT_TRUE(a.parsed);
  ASSERT_EQ(a.statements.size(), 2u);
  EXPECT_EQ(a.statements[1].text, "SELECT 2");
}

TEST(BypassMultiStatement, OneUnparsableStatementMakesTheWholeQueryUnparsed) {
  const Analysis a = analyze("SELECT 1; DELET FROM t");
  EXPECT_FALSE(a.parsed);
  ASSERT_EQ(a.statements.size(), 1u);
  EXPECT_EQ(a.statements[0].kind, K::Unparsed);
  EXPECT_NE(a.statements[0].error.find("syntax error"), std::string::npos);
}

TEST(BypassDo, ExecuteOfAConstantIsDynamicAndItsStatementIsNested) {
  const Analysis a = analyze("DO $$BEGIN EXECUTE 'DROP TABLE t'; END$$");
  ASSERT_EQ(a.statements.size(), 1u);
  const StatementInfo& s = a.statements[0];
  EXPECT_TRUE(s.dynamic_sql);
  ASSERT_EQ(s.nested.size(), 1u);
  EXPECT_EQ(s.nested[0].kind, K::Drop);
  EXPECT_EQ(s.nested[0].text, "DROP TABLE t");
  EXPECT_FALSE(s.nested[0].fingerprint.empty());
}

TEST(BypassDo, BodyThatDoesNotCompileIsDynamicWithANote) {
  const Analysis a = analyze("DO $$BEGIN this is not plpgsql; END$$");
  ASSERT_TRUE(a.parsed);
  const StatementInfo& s = a.statements[0];
  EXPECT_EQ(s.kind, K::Do);
  EXPECT_TRUE(s.dynamic_sql);
  EXPECT_NE(s.error.find("PL/pgSQL body could not be analyzed"), std::string::npos) << s.error;
}

TEST(BypassDo, NestingOfCodeBlocksIsBounded) {
  // DO inside EXECUTE inside DO ... deeper than max_code_nesting.
  std::string sql = "DELETE FROM t";
  for (int i = 0; i < 12; ++i) {
    std::string escaped;
    for (char c : sql) escaped += c == '\'' ? std::string("''") : std::string(1, c);
    const std::string tag = "$t" + std::to_string(i) + "$";
    sql = "DO " + tag + "BEGIN EXECUTE '" + escaped + "'; END" + tag;
  }
  const Analysis a = analyze(sql);
  ASSERT_TRUE(a.parsed) << describe(a);
  EXPECT_TRUE(a.statements[0].dynamic_sql);
  EXPECT_NE(a.statements[0].error.find("nested more than"), std::string::npos)
      << a.statements[0].error;
}

}  // namespace
}  // namespace pgw::sql::test
