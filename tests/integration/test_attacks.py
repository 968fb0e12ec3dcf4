"""The attacker's list, end to end: a read-only agent (and a write-level CI
job) talks to the real gateway in front of the real PostgreSQL and tries
everything it can think of to change something. For every attack:

- the client gets the documented error (SQLSTATE 42501, or 42601 for SQL the
  gateway cannot parse) and nothing of a denied query runs;
- checked directly on PostgreSQL as the superuser: nothing changed — table
  rows, relations, functions, roles, memberships, role/database settings,
  ALTER SYSTEM's file, server files, sequences, large objects, advisory
  locks, prepared transactions, configuration reloads, statistics resets,
  checkpoints, extensions, notifications and a sentinel backend that must
  stay alive;
- the session stays usable, in the transaction state PostgreSQL would leave
  (an explicit transaction aborted), still read-only, still reading SQL the
  way the gateway reads it, still as the gateway's role.

The gateway's database role is deliberately over-privileged for these tests
(it owns every object, may read/write server files, run server programs,
signal backends, reload the configuration, reset statistics, switch to
another role): the policy is the only thing between the agent and the damage.

Known bypasses are `xfail(strict=True)` with the exact SQL in the reason (see
docs/threat-model.md). The benign corpus at the end must be allowed and
return exactly what PostgreSQL returns directly.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import psycopg
import pytest

import harness
import pgwire

# ---------------------------------------------------------------- policies

READ_POLICY = {
    "name": "agent-ro", "subjects": {"ids": ["alice"]}, "connections": ["app"],
    "access": "read",
    "deny": [{"function": "pg_sleep"}, {"table": "public.atk_payroll"}],
    "limits": {"statement_timeout": "2s"},
}
WRITE_POLICY = {
    "name": "ci-writer", "subjects": {"ids": ["bob"]}, "connections": ["app"],
    "access": "write",
    "limits": {"statement_timeout": "1s"},
}

LO_OID = 424242
SENTINEL_APP = "atk_sentinel"
CHANNEL = "atk_chan"

# Functions the gateway's role may execute here although PostgreSQL keeps
# them for superusers by default: only the policy stands in the way.
POWER_FUNCTIONS = (
    "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_ls_dir", "pg_ls_logdir",
    "pg_ls_waldir", "pg_ls_tmpdir", "lo_import", "lo_export", "pg_reload_conf",
    "pg_rotate_logfile", "pg_stat_reset", "pg_stat_reset_shared",
    "pg_stat_reset_single_table_counters", "pg_switch_wal", "pg_create_restore_point",
    "pg_log_backend_memory_contexts",
)
POWER_ROLES = ("pg_read_server_files", "pg_write_server_files", "pg_execute_server_program",
               "pg_signal_backend")

FIXTURE_SQL = f"""
DROP TABLE IF EXISTS atk_t, atk_payroll, atk_victim, atk_sales, atk_docs, atk_tree CASCADE;
DROP SEQUENCE IF EXISTS atk_seq;
CREATE TABLE atk_t (id int PRIMARY KEY, note text);
INSERT INTO atk_t VALUES (1, 'alpha'), (2, 'bravo'), (3, 'charlie');
CREATE TABLE atk_payroll (name text, salary int);
INSERT INTO atk_payroll VALUES ('ann', 100), ('ben', 200);
CREATE TABLE atk_victim (x int);
INSERT INTO atk_victim VALUES (1);
CREATE SEQUENCE atk_seq;
SELECT nextval('atk_seq');
SELECT lo_from_bytea({LO_OID}, 'large object kept');
CREATE TABLE atk_sales (id int PRIMARY KEY, region text, product text, amount numeric(10,2),
                        sold_on date);
INSERT INTO atk_sales
  SELECT g, (ARRAY['north','south','east','west'])[1 + g % 4],
         (ARRAY['apple','banana','cherry','durian','elder'])[1 + (g * 7) % 5],
         ((g * 37) % 500) + 0.25 * (g % 4), date '2024-01-01' + g * 3
  FROM generate_series(1, 200) g;
CREATE TABLE atk_docs (id int PRIMARY KEY, body jsonb);
INSERT INTO atk_docs VALUES
  (1, '{{"name": "ann", "tags": ["admin", "ops"], "vip": true, "address": {{"city": "Oslo"}}}}'),
  (2, '{{"name": "ben", "tags": ["dev"], "vip": false, "address": {{"city": "Rome"}}}}'),
  (3, '{{"name": "cid", "tags": [], "address": {{"city": "Lima", "zip": "15001"}}}}'),
  (4, '{{"name": "dee", "tags": ["analyst", "admin", "audit"], "vip": true}}');
CREATE TABLE atk_tree (id int PRIMARY KEY, parent int REFERENCES atk_tree);
INSERT INTO atk_tree VALUES (1, NULL), (2, 1), (3, 1), (4, 2), (5, 4), (6, 3), (7, NULL), (8, 7);
ANALYZE atk_t, atk_payroll, atk_sales, atk_docs, atk_tree;
"""

# ---------------------------------------------------------------- state of the database

STATE_SQL = f"""
SELECT json_build_object(
  'atk_t', (SELECT json_agg(json_build_array(id, note) ORDER BY id) FROM public.atk_t),
  'atk_payroll', (SELECT json_agg(json_build_array(name, salary) ORDER BY name)
                  FROM public.atk_payroll),
  'atk_victim', (SELECT json_agg(x) FROM public.atk_victim),
  'relations', (SELECT json_agg(json_build_array(n.nspname ~ '^pg_temp', c.relname, c.relkind,
                                                 coalesce(c.relacl::text, ''))
                                ORDER BY c.relname, n.nspname)
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                  AND n.nspname NOT LIKE 'pg_toast%'),
  'schemas', (SELECT json_agg(nspname ORDER BY nspname) FROM pg_namespace
              WHERE nspname !~ '^pg_(temp|toast_temp)'),
  'functions', (SELECT json_agg(p.oid::regprocedure::text || coalesce(p.proacl::text, '')
                                ORDER BY 1)
                FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                   OR p.proacl::text LIKE '%gw_scram%'),
  'roles', (SELECT json_agg(json_build_array(rolname, rolsuper, rolinherit, rolcreaterole,
                                             rolcreatedb, rolcanlogin, rolreplication,
                                             rolbypassrls, rolconnlimit, rolvaliduntil)
                            ORDER BY rolname) FROM pg_roles),
  'memberships', (SELECT json_agg(json_build_array(roleid::regrole::text, member::regrole::text,
                                                   admin_option) ORDER BY 1)
                  FROM pg_auth_members),
  'role_settings', (SELECT json_agg(json_build_array(setdatabase, setrole, setconfig)
                                    ORDER BY setdatabase, setrole) FROM pg_db_role_setting),
  'default_acl', (SELECT json_agg(defaclacl::text ORDER BY 1) FROM pg_default_acl),
  'databases', (SELECT json_agg(json_build_array(datname, datallowconn, datconnlimit,
                                                 coalesce(datacl::text, ''))
                                ORDER BY datname) FROM pg_database),
  'extensions', (SELECT json_agg(extname || ' ' || extversion ORDER BY 1) FROM pg_extension),
  'sequence', (SELECT json_build_array(last_value, is_called) FROM public.atk_seq),
  'large_objects', (SELECT json_agg(oid::bigint ORDER BY 1) FROM pg_largeobject_metadata),
  'lo_content', (SELECT encode(lo_get({LO_OID}), 'escape')),
  'advisory_locks', (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'),
  'prepared_xacts', (SELECT json_agg(gid ORDER BY gid) FROM pg_prepared_xacts),
  'replication_slots', (SELECT json_agg(slot_name ORDER BY 1) FROM pg_replication_slots),
  'conf_load_time', pg_conf_load_time(),
  'stats_reset', (SELECT stats_reset FROM pg_stat_database WHERE datname = 'app'),
  'bgwriter_reset', (SELECT stats_reset FROM pg_stat_bgwriter),
  'comments', (SELECT json_agg(description ORDER BY 1) FROM pg_description d
               JOIN pg_class c ON c.oid = d.objoid WHERE c.relname LIKE 'atk_%'),
  'sentinel', (SELECT json_agg(pid ORDER BY pid) FROM pg_stat_activity
               WHERE application_name = '{SENTINEL_APP}')
)
"""


@dataclass
class Env:
    pg: object
    gw: object
    files: Path          # a directory the postgres server may write to
    admin: object        # superuser psycopg connection to the app database
    sentinel: object = None
    notified: list = field(default_factory=list)
    baseline_session: Optional[list] = None

    # -- the sentinel: another backend of the gateway's role, listening
    def ensure_sentinel(self):
        if self.sentinel is not None and not self.sentinel.closed:
            try:
                self.sentinel.execute("SELECT 1")
                return
            except psycopg.Error:
                pass
        self.sentinel = psycopg.connect(self.pg.dsn("gw_scram", "app",
                                                    application_name=SENTINEL_APP),
                                        autocommit=True)
        self.sentinel.add_notify_handler(lambda n: self.notified.append((n.channel, n.payload)))
        self.sentinel.execute(f"LISTEN {CHANNEL}")

    def state(self) -> dict:
        self.ensure_sentinel()
        try:
            self.sentinel.execute("SELECT 1")  # also delivers pending notifications
            sentinel_alive = True
        except psycopg.Error:
            sentinel_alive = False
        row = self.admin.execute(STATE_SQL).fetchone()[0]
        auto_conf = (self.pg.data / "postgresql.auto.conf").read_text()
        log = self.pg.log_text()
        return {
            **row,
            "sentinel_alive": sentinel_alive,
            "notifications": list(self.notified),
            "postgresql.auto.conf": auto_conf,
            "server_files": sorted(os.listdir(self.files)),
            "immediate_checkpoints": log.count("checkpoint starting: immediate"),
        }

    # -- the attacker's sessions
    def raw(self, user: str = "alice", extra: Optional[dict] = None) -> pgwire.RawConn:
        return pgwire.connect(self.gw.params(user=user), extra=extra)

    def wait_gone(self, pid: Optional[int]):
        """Until the upstream backend `pid` has exited (its locks and temporary
        objects with it), so that the next test starts clean."""
        if pid is None:
            return
        harness.wait_for(lambda: self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()[0] == 0,
            15, f"backend {pid} to exit")

    @contextlib.contextmanager
    def attacker(self, before: dict, user: str = "alice", extra: Optional[dict] = None):
        """A fresh session through the gateway. On the way out, with the session
        still open (so a lock or temporary table it holds is seen), the database
        must be as it was `before`; then the session is closed and its backend
        gone. A bypass that did change something is undone for the next test."""
        c = self.raw(user, extra)
        r = c.simple_query("SELECT pg_backend_pid()")
        pid = int(r.rows[0][0]) if r.error is None else None
        body_ok = False
        try:
            yield c
            body_ok = True
        finally:
            after = self.state()
            c.close()
            self.wait_gone(pid)
            if after != before:
                _cleanup_bypass(self)
        if body_ok:
            assert_unchanged(before, after)

    def session_facts(self, c: pgwire.RawConn) -> list:
        r = c.simple_query(SESSION_FACTS)
        assert r.error is None, f"the session is no longer usable: {r.error}"
        assert r.status == b"I", r.status
        return r.rows


SESSION_FACTS = ("SELECT current_user, session_user, "
                 "current_setting('default_transaction_read_only'), "
                 "current_setting('transaction_read_only'), "
                 "current_setting('standard_conforming_strings'), "
                 "current_setting('client_encoding'), current_setting('statement_timeout'), "
                 "current_setting('row_security'), "
                 "(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                 "AND pid = pg_backend_pid())")


def assert_unchanged(before: dict, after: dict):
    diff = {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
            if before.get(k) != after.get(k)}
    assert not diff, "the database changed:\n" + "\n".join(
        f"  {k}: before={b!r}\n  {' ' * len(k)}  after ={a!r}"
        for k, (b, a) in sorted(diff.items()))


@pytest.fixture(scope="module")
def env(pg, module_gateway):
    files = Path(tempfile.mkdtemp(prefix="pgw-atk-files-"))
    pw = pwd.getpwnam("postgres")
    os.chown(files, pw.pw_uid, pw.pw_gid)
    (files / "rows.csv").write_text("99,pwned from a server file\n")
    os.chmod(files / "rows.csv", 0o644)
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as owner:
        owner.execute(FIXTURE_SQL)
    admin = psycopg.connect(pg.dsn("tester", "app"), autocommit=True)
    e = Env(pg=pg, gw=None, files=files, admin=admin)
    try:
        # The gateway's role may do (nearly) everything: the policy alone decides.
        admin.execute("""
DO $$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'atk_power') THEN
    CREATE ROLE atk_power NOLOGIN;
  END IF;
END$$;
GRANT atk_power TO gw_scram;
""")
        admin.execute(f"GRANT {', '.join(POWER_ROLES)} TO gw_scram")
        admin.execute(_each_power_function("GRANT EXECUTE ON FUNCTION %s TO gw_scram"))
        if admin.execute("SELECT count(*) FROM pg_available_extensions "
                         "WHERE name = 'dblink'").fetchone()[0]:
            admin.execute("CREATE EXTENSION IF NOT EXISTS dblink")
        e.gw = module_gateway.start(extra={"policies": [READ_POLICY, WRITE_POLICY]})
        e.ensure_sentinel()
        with e.raw() as c:
            e.baseline_session = e.session_facts(c)
        assert e.baseline_session[0][:6] == ["gw_scram", "gw_scram", "on", "on", "on", "UTF8"], \
            e.baseline_session
        yield e
    finally:
        if e.sentinel is not None:
            e.sentinel.close()
        admin.execute("DROP EXTENSION IF EXISTS dblink")
        admin.execute(_each_power_function("REVOKE EXECUTE ON FUNCTION %s FROM gw_scram"))
        admin.execute(f"REVOKE {', '.join(POWER_ROLES)} FROM gw_scram")
        admin.execute("REVOKE atk_power FROM gw_scram")
        admin.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata")
        admin.execute("DROP TABLE IF EXISTS atk_t, atk_payroll, atk_victim, atk_sales, atk_docs, "
                      "atk_tree, atk_pwned CASCADE; DROP SEQUENCE IF EXISTS atk_seq")
        admin.execute("DROP ROLE IF EXISTS atk_power")
        admin.close()
        shutil.rmtree(files, ignore_errors=True)


def _each_power_function(template: str) -> str:
    names = ", ".join(f"'{n}'" for n in POWER_FUNCTIONS)
    return f"""
DO $$DECLARE f regprocedure;
BEGIN
  FOR f IN SELECT oid::regprocedure FROM pg_proc WHERE proname IN ({names}) LOOP
    EXECUTE format('{template.replace("'", "''")}', f);
  END LOOP;
END$$"""


@pytest.fixture
def guard(env):
    """The state of the database before the test (see Env.attacker)."""
    return env.state()


# ---------------------------------------------------------------- the attack table

@dataclass
class Attack:
    id: str
    sql: Union[str, bytes]
    code: str = "42501"
    rule: Optional[str] = None    # a fragment of the denial message (names the rule)
    setup: tuple = ()             # statements (allowed) run first in the same session
    tx: bool = False              # inside BEGIN: the transaction must end up aborted
    then: tuple = ()              # (sql, sqlstate) that must fail afterwards, same session
    user: str = "alice"


def A(id, sql, rule=None, **kw):
    return pytest.param(Attack(id, sql, rule=rule, **kw), id=id)


def BYPASS(id, sql, reason, rule=None, **kw):
    return pytest.param(Attack(id, sql, rule=rule, **kw), id=id,
                        marks=pytest.mark.xfail(strict=True, reason=reason))


READ = "access:read"
SENTINEL_PIDS = f"FROM pg_stat_activity WHERE application_name = '{SENTINEL_APP}'"

ATTACKS = [
    # --- comments, case, quoting: the parser resolves them before any rule
    A("comment-inline", "DELETE /* just a comment */ FROM atk_t WHERE id = 1", READ),
    A("comment-before", "/* SELECT 1 */ DELETE FROM atk_t WHERE id = 1", READ),
    A("comment-dashes", "-- SELECT 1\nDELETE FROM atk_t WHERE id = 1", READ),
    A("comment-nested", "SELECT 1 /* outer /* nested */ still a comment */; "
      "DELETE FROM atk_t WHERE id = 1", READ),
    A("comment-unterminated", "SELECT 1 /* DELETE FROM atk_t WHERE id = 1", code="42601",
      rule="unparsed"),
    A("mixed-case", "dElEtE fRoM AtK_T wHeRe Id = 1", READ),
    A("quoted-identifiers", 'DELETE FROM "public"."atk_t" WHERE "id" = 1', READ),
    A("drop-mixed-case", 'DrOp TaBlE "atk_victim"', READ),
    A("string-then-statement", "SELECT '\\'; DELETE FROM atk_t WHERE id = 1; --'", READ),
    A("dollar-tags", "SELECT $a$ $$ $a$; DELETE FROM atk_t WHERE id = 1", READ),
    A("dollar-body-drop", "SELECT 1; DO $x$BEGIN DROP TABLE atk_victim; END$x$", READ),
    A("whitespace-tricks", "\tSELECT\x0c1;\r\nDELETE\x0bFROM atk_t WHERE id = 1", code="42601",
      rule="unparsed"),
    # --- unicode escapes in identifiers
    A("uescape-table", 'DELETE FROM U&"atk\\005ft" WHERE id = 1', READ),
    A("uescape-custom", 'DELETE FROM U&"atk!005ft" UESCAPE \'!\' WHERE id = 1', READ),
    A("uescape-function", f'SELECT U&"pg\\005fterminate\\005fbackend"(pid) {SENTINEL_PIDS}',
      "guardrail backend_signals"),
    A("uescape-keyword", 'U&"d\\0072op" TABLE atk_victim', code="42601", rule="unparsed"),
    A("uescape-deny-table", 'SELECT * FROM U&"atk\\005fpayroll"', "deny[1]"),
    A("quoted-upper-function", f'SELECT "PG_TERMINATE_BACKEND"(pid) {SENTINEL_PIDS}',
      "guardrail backend_signals"),
    # --- multi-statement queries: nothing runs if one statement is denied
    A("multi-select-drop", "SELECT 1; DROP TABLE atk_victim", READ),
    A("multi-select-delete", "SELECT 1; DELETE FROM atk_t WHERE id = 1", READ),
    A("multi-empty-statements", "SELECT 1;;; ;DELETE FROM atk_t WHERE id = 1", READ),
    A("multi-commit-delete", "COMMIT; DELETE FROM atk_t WHERE id = 1", READ, tx=True),
    A("multi-commit-begin-rw", "COMMIT; BEGIN READ WRITE; UPDATE atk_t SET note = 'x' "
      "WHERE id = 1; COMMIT", tx=True),
    A("multi-rollback-set", "ROLLBACK; SET default_transaction_read_only = off",
      "guardrail security_settings", tx=True),
    # --- data-modifying CTEs
    A("cte-delete", "WITH d AS (DELETE FROM atk_t WHERE id = 1 RETURNING *) SELECT * FROM d",
      READ),
    A("cte-update", "WITH u AS (UPDATE atk_t SET note = 'x' WHERE id = 1 RETURNING 1) "
      "SELECT 1", READ),
    A("cte-insert", "WITH i AS (INSERT INTO atk_t VALUES (9, 'x') RETURNING 1) SELECT 1", READ),
    A("cte-delete-nowhere", "WITH d AS (DELETE FROM atk_t RETURNING 1) SELECT count(*) FROM d",
      "without WHERE"),
    A("cte-nested", "WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM atk_t WHERE id = 1 "
      "RETURNING 1) SELECT * FROM c) SELECT * FROM b", READ),
    A("cte-in-subquery", "SELECT * FROM (WITH d AS (DELETE FROM atk_t WHERE id = 1 RETURNING *) "
      "SELECT * FROM d) s", READ),
    A("cte-recursive-name-shadow", "WITH RECURSIVE atk_t AS (SELECT 1) "
      "DELETE FROM atk_t WHERE id = 1", READ),
    A("merge", "MERGE INTO atk_t t USING (VALUES (1)) v(id) ON t.id = v.id "
      "WHEN MATCHED THEN DELETE", READ),
    A("insert-on-conflict", "INSERT INTO atk_t VALUES (1, 'x') ON CONFLICT (id) "
      "DO UPDATE SET note = 'pwned'", READ),
    # --- DO blocks, static and dynamic
    A("do-static", "DO $$BEGIN DELETE FROM atk_t WHERE id = 1; END$$", READ),
    A("do-execute", "DO $$BEGIN EXECUTE 'DELETE FROM atk_t WHERE id = 1'; END$$"),
    A("do-format", "DO $$BEGIN EXECUTE format('DELETE FROM %I WHERE id = %s', 'atk_t', 1); "
      "END$$"),
    A("do-concat", "DO $$DECLARE q text := 'DEL' || 'ETE FROM atk_t WHERE id = 1'; "
      "BEGIN EXECUTE q; END$$"),
    A("do-harmless", "DO $$BEGIN RAISE NOTICE 'hi'; END$$", READ),
    A("do-language", "DO LANGUAGE plpgsql $$BEGIN PERFORM pg_advisory_lock(1); END$$"),
    A("do-nested", "DO $a$BEGIN EXECUTE $b$DO $c$BEGIN DROP TABLE atk_victim; END$c$$b$; END$a$"),
    # --- functions that run SQL given as text
    A("query-to-xml", "SELECT query_to_xml('DELETE FROM atk_t WHERE id = 1 RETURNING 1', "
      "true, false, '')", "guardrail query_functions"),
    A("query-to-xml-schema", "SELECT query_to_xml_and_xmlschema('SELECT * FROM atk_payroll', "
      "true, false, '')", "guardrail query_functions"),
    A("table-to-xml", "SELECT table_to_xml('atk_payroll', true, false, '')",
      "guardrail query_functions"),
    A("cursor-to-xml", "SELECT cursor_to_xml('c', 10, true, false, '')"),
    A("ts-stat", "SELECT * FROM ts_stat('SELECT to_tsvector(note) FROM atk_t')",
      "guardrail query_functions"),
    A("dblink-exec", "SELECT dblink_exec('dbname=app', 'DELETE FROM atk_t WHERE id = 1')",
      "guardrail dblink"),
    A("dblink-query", "SELECT * FROM dblink('dbname=app', 'SELECT 1') AS t(x int)",
      "guardrail dblink"),
    A("dblink-connect", "SELECT dblink_connect('dbname=app')", "guardrail dblink"),
    # --- PREPARE / EXECUTE
    A("prepare-delete", "PREPARE p (int) AS DELETE FROM atk_t WHERE id = $1", READ,
      then=(("EXECUTE p(1)", "26000"),)),
    A("prepare-cte", "PREPARE p AS WITH d AS (DELETE FROM atk_t WHERE id = 1 RETURNING *) "
      "SELECT * FROM d", READ, then=(("EXECUTE p", "26000"),)),
    A("prepare-nextval", "PREPARE p AS SELECT nextval('atk_seq')", READ,
      then=(("EXECUTE p", "26000"),)),
    A("prepare-in-multi", "PREPARE p AS SELECT 1; PREPARE q AS DELETE FROM atk_t WHERE id = 1",
      READ, then=(("EXECUTE p", "26000"), ("EXECUTE q", "26000"))),
    # --- EXPLAIN ANALYZE runs its statement
    A("explain-analyze-delete", "EXPLAIN ANALYZE DELETE FROM atk_t WHERE id = 1", READ),
    A("explain-analyze-options", "EXPLAIN (ANALYZE, FORMAT JSON) DELETE FROM atk_t WHERE id = 1",
      READ),
    A("explain-analyze-on", "EXPLAIN (ANALYZE on, BUFFERS) UPDATE atk_t SET note = 'x' "
      "WHERE id = 1", READ),
    A("explain-analyze-1", "EXPLAIN (ANALYZE 1) DELETE FROM atk_t WHERE id = 1", READ),
    A("explain-analyze-cte", "EXPLAIN ANALYZE WITH i AS (INSERT INTO atk_t VALUES (9, 'x') "
      "RETURNING 1) SELECT * FROM i", READ),
    A("explain-analyze-nextval", "EXPLAIN ANALYZE SELECT nextval('atk_seq')", READ),
    A("explain-analyze-ctas", "EXPLAIN ANALYZE CREATE TABLE atk_pwned AS SELECT 1", READ),
    A("explain-analyze-select-into", "EXPLAIN ANALYZE SELECT 1 INTO atk_pwned", READ),
    A("explain-analyze-lock", "EXPLAIN ANALYZE SELECT pg_advisory_lock(1)", READ),
    A("explain-delete-nowhere", "EXPLAIN DELETE FROM atk_t", "guardrail delete_without_where"),
    A("explain-file-function", "EXPLAIN SELECT pg_read_file('/etc/hostname')",
      "guardrail file_functions"),
    A("explain-analyze-twice-ctas", "EXPLAIN (ANALYZE false, ANALYZE true) CREATE TABLE atk_pwned AS SELECT 1 AS x", READ),
    A("explain-analyze-twice-lock", "EXPLAIN (ANALYZE false, ANALYZE true) SELECT pg_advisory_lock(4242)", READ),
    A("explain-analyze-twice-delete", "EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM atk_t WHERE id = 1", READ),
    # --- SELECT ... INTO / CREATE TABLE AS / other DDL
    A("select-into", "SELECT * INTO atk_pwned FROM atk_t", READ),
    A("select-into-temp", "SELECT * INTO TEMP atk_pwned FROM atk_t", READ),
    A("ctas", "CREATE TABLE atk_pwned AS SELECT * FROM atk_t", READ),
    A("ctas-temp", "CREATE TEMP TABLE atk_pwned AS SELECT 1", READ),
    A("create-temp-table", "CREATE TEMP TABLE atk_pwned (x int)", READ),
    A("create-matview", "CREATE MATERIALIZED VIEW atk_pwned AS SELECT 1", READ),
    A("create-function", "CREATE FUNCTION atk_pwned() RETURNS int LANGUAGE sql AS 'SELECT 1'",
      READ),
    A("create-schema", "CREATE SCHEMA atk_pwned", READ),
    A("comment-on", "COMMENT ON TABLE atk_t IS 'pwned'", READ),
    A("alter-table", "ALTER TABLE atk_t ADD COLUMN pwned int", READ),
    A("drop-table", "DROP TABLE atk_victim", READ),
    A("drop-sequence", "DROP SEQUENCE atk_seq", READ),
    A("alter-sequence", "ALTER SEQUENCE atk_seq RESTART WITH 1000", READ),
    A("refresh-matview", "REFRESH MATERIALIZED VIEW atk_mv", READ),
    # --- COPY, every form
    A("copy-to-file", "COPY atk_t TO '@DIR@/out.csv'", "guardrail copy_file"),
    A("copy-query-to-file", "COPY (SELECT * FROM atk_t) TO '@DIR@/out.csv'",
      "guardrail copy_file"),
    A("copy-from-file", "COPY atk_t FROM '@DIR@/rows.csv' WITH (FORMAT csv)",
      "guardrail copy_file"),
    A("copy-to-program", "COPY atk_t TO PROGRAM 'touch @DIR@/pwned'", "guardrail copy_program"),
    A("copy-from-program", "COPY atk_t FROM PROGRAM 'echo 98,pwned' WITH (FORMAT csv)",
      "guardrail copy_program"),
    A("copy-from-stdin", "COPY atk_t FROM STDIN", READ),
    A("copy-from-stdin-csv", "COPY atk_t (id, note) FROM STDIN WITH (FORMAT csv)", READ),
    A("copy-delete-returning", "COPY (DELETE FROM atk_t WHERE id = 1 RETURNING *) TO STDOUT",
      READ),
    A("copy-nextval", "COPY (SELECT nextval('atk_seq')) TO STDOUT", READ),
    A("copy-deny-table", "COPY atk_payroll TO STDOUT", "deny[1]"),
    A("copy-then-copy-in", "COPY atk_t TO STDOUT; COPY atk_t FROM STDIN", READ),
    # --- cursors
    A("cursor-for-update", "DECLARE c CURSOR FOR SELECT * FROM atk_t FOR UPDATE", READ, tx=True),
    A("cursor-hold-for-share", "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM atk_t FOR SHARE",
      READ),
    A("cursor-cte-delete", "DECLARE c CURSOR FOR WITH d AS (DELETE FROM atk_t WHERE id = 1 "
      "RETURNING *) SELECT * FROM d", READ, tx=True),
    A("cursor-nextval", "DECLARE c CURSOR FOR SELECT nextval('atk_seq') FROM atk_t", READ,
      tx=True),
    A("cursor-deny-table", "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM atk_payroll", "deny[1]",
      then=(("FETCH ALL FROM c", "34000"),)),
    # --- row locks and table locks
    A("select-for-update", "SELECT * FROM atk_t FOR UPDATE", READ),
    A("select-for-no-key-update", "SELECT * FROM atk_t FOR NO KEY UPDATE SKIP LOCKED", READ),
    A("select-for-share", "SELECT * FROM atk_t FOR SHARE NOWAIT", READ),
    A("select-for-key-share", "SELECT * FROM atk_t FOR KEY SHARE OF atk_t", READ),
    A("subselect-for-update", "SELECT * FROM (SELECT * FROM atk_t FOR UPDATE) s", READ),
    A("lock-access-exclusive", "LOCK TABLE atk_t IN ACCESS EXCLUSIVE MODE", READ, tx=True),
    A("lock-default", "LOCK atk_t", READ, tx=True),
    A("lock-access-share", "LOCK TABLE atk_t IN ACCESS SHARE MODE", READ, tx=True),
    # --- roles and session authorization
    A("set-role", "SET ROLE atk_power", "guardrail set_role"),
    A("set-role-string", "SET role TO 'atk_power'", "guardrail set_role"),
    A("set-session-role", "SET SESSION ROLE atk_power", "guardrail set_role"),
    A("set-local-role", "SET LOCAL ROLE atk_power", "guardrail set_role", tx=True),
    A("set-session-authorization", "SET SESSION AUTHORIZATION tester", "guardrail set_role"),
    A("set-session-authorization-string", "SET SESSION AUTHORIZATION 'atk_power'",
      "guardrail set_role"),
    A("set-config-role", "SELECT set_config('role', 'atk_power', false)", "guardrail set_role"),
    A("set-config-role-upper", "SELECT set_config('ROLE', 'atk_power', false)",
      "guardrail set_role"),
    A("set-config-session-authorization",
      "SELECT set_config('session_authorization', 'tester', false)", "guardrail set_role"),
    A("set-config-dynamic-name", "SELECT set_config(n, 'atk_power', false) "
      "FROM (VALUES ('role')) v(n)", "parser_settings"),
    A("set-config-named-args", "SELECT set_config(new_value => 'atk_power', "
      "setting_name => 'role', is_local => false)", "parser_settings"),
    A("set-config-dynamic-value", "SELECT set_config('role', v, false) "
      "FROM (VALUES ('atk_power')) x(v)", "guardrail set_role"),
    A("set-config-in-from", "SELECT * FROM set_config('role', 'atk_power', false)",
      "guardrail set_role"),
    A("update-pg-settings-role", "UPDATE pg_settings SET setting = 'atk_power' "
      "WHERE name = 'role'", "parser_settings"),
    A("alter-role-set-role", "ALTER ROLE gw_scram SET role = 'atk_power'",
      "guardrail role_management"),
    # --- turning read-only off
    A("set-dtro-off", "SET default_transaction_read_only = off", "guardrail security_settings"),
    A("set-dtro-false", "SET default_transaction_read_only TO 'false'",
      "guardrail security_settings"),
    A("set-dtro-zero", "SET default_transaction_read_only = 0", "guardrail security_settings"),
    A("set-dtro-prefix", "SET default_transaction_read_only = 'of'",
      "guardrail security_settings"),
    A("set-session-dtro", "SET SESSION default_transaction_read_only = off",
      "guardrail security_settings"),
    A("set-local-tro", "SET LOCAL transaction_read_only = off", "guardrail security_settings",
      tx=True),
    A("set-config-dtro", "SELECT set_config('default_transaction_read_only', 'off', false)",
      "guardrail security_settings"),
    A("set-config-tro", "SELECT set_config('transaction_read_only', 'off', true)",
      "guardrail security_settings", tx=True),
    A("set-config-tro-null", "SELECT set_config('transaction_read_only', NULL, true)",
      "guardrail security_settings", tx=True),
    A("begin-read-write", "BEGIN READ WRITE", "guardrail security_settings"),
    A("begin-iso-read-write", "BEGIN ISOLATION LEVEL SERIALIZABLE, READ WRITE",
      "guardrail security_settings"),
    A("start-transaction-read-write", "START TRANSACTION READ WRITE",
      "guardrail security_settings"),
    A("set-transaction-read-write", "SET TRANSACTION READ WRITE", "guardrail security_settings",
      tx=True),
    A("set-session-characteristics", "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
      "guardrail security_settings"),
    A("update-pg-settings-dtro", "UPDATE pg_settings SET setting = 'off' "
      "WHERE name = 'default_transaction_read_only'", "parser_settings"),
    A("alter-database-dtro", "ALTER DATABASE app SET default_transaction_read_only = off",
      "guardrail security_settings"),
    A("alter-role-dtro", "ALTER ROLE gw_scram SET default_transaction_read_only = off",
      "guardrail role_management"),
    # --- settings that change how the server reads SQL
    A("set-scs-off", "SET standard_conforming_strings = off", "parser_settings",
      then=(("SELECT '\\'; DELETE FROM atk_t WHERE id = 1; --'", "42501"),)),
    A("set-scs-false", "SET standard_conforming_strings TO false", "parser_settings"),
    A("set-config-scs", "SELECT set_config('standard_conforming_strings', 'off', false)",
      "parser_settings", then=(("SELECT 'a\\' , ' ; DROP TABLE atk_victim ; --'", None),)),
    A("set-config-scs-param-value", "SELECT set_config('standard_conforming_strings', v, false) "
      "FROM (VALUES ('off')) x(v)", "parser_settings"),
    A("update-pg-settings-scs", "UPDATE pg_settings SET setting = 'off' "
      "WHERE name = 'standard_conforming_strings'", "parser_settings"),
    A("set-client-encoding-sjis", "SET client_encoding = 'SJIS'", "parser_settings",
      then=(("SELECT length(E'\u0081\\') ; DELETE FROM atk_t WHERE id = 1 ; --')", None),)),
    A("set-names-sjis", "SET NAMES 'SJIS'", "parser_settings"),
    A("set-client-encoding-big5", "SET client_encoding TO 'BIG5'", "parser_settings"),
    A("set-config-client-encoding", "SELECT set_config('client_encoding', 'SJIS', false)",
      "parser_settings"),
    A("set-local-client-encoding", "SET LOCAL client_encoding = 'GBK'", "parser_settings",
      tx=True),
    # --- other security settings
    A("set-row-security", "SET row_security = off", "guardrail security_settings"),
    A("set-session-replication-role", "SET session_replication_role = replica",
      "guardrail security_settings"),
    A("set-log-statement", "SET log_statement = 'none'", "guardrail security_settings"),
    A("set-config-lo-compat", "SELECT set_config('lo_compat_privileges', 'on', false)",
      "guardrail security_settings"),
    A("set-statement-timeout-zero", "SET statement_timeout = 0", "limits:statement_timeout"),
    A("set-statement-timeout-big", "SET statement_timeout = '1h'", "limits:statement_timeout"),
    A("set-config-statement-timeout", "SELECT set_config('statement_timeout', '0', false)",
      "limits:statement_timeout"),
    A("set-statement-timeout-negative", "SET statement_timeout = -1", "limits:statement_timeout"),
    A("set-local-statement-timeout-zero", "SET LOCAL statement_timeout = 0",
      "limits:statement_timeout", tx=True),
    A("set-statement-timeout-rounds-to-zero", "SET statement_timeout = '0.4'", "limits:statement_timeout"),
    A("set-statement-timeout-microseconds", "SET statement_timeout = '400us'", "limits:statement_timeout"),
    # --- side-effecting functions called from SELECT
    A("terminate-sentinel", f"SELECT pg_terminate_backend(pid) {SENTINEL_PIDS}",
      "guardrail backend_signals"),
    A("terminate-qualified", f"SELECT pg_catalog.pg_terminate_backend(pid) {SENTINEL_PIDS}",
      "guardrail backend_signals"),
    A("terminate-in-where", f"SELECT 1 {SENTINEL_PIDS} AND pg_terminate_backend(pid)",
      "guardrail backend_signals"),
    A("terminate-in-lateral", f"SELECT * FROM (SELECT pid {SENTINEL_PIDS}) a, "
      "LATERAL pg_terminate_backend(a.pid) t", "guardrail backend_signals"),
    A("cancel-sentinel", f"SELECT pg_cancel_backend(pid) {SENTINEL_PIDS}",
      "guardrail backend_signals"),
    A("terminate-self", "SELECT pg_terminate_backend(pg_backend_pid())",
      "guardrail backend_signals"),
    A("reload-conf", "SELECT pg_reload_conf()", "guardrail backend_signals"),
    A("rotate-logfile", "SELECT pg_rotate_logfile()", "guardrail backend_signals"),
    A("log-memory-contexts", "SELECT pg_log_backend_memory_contexts(pg_backend_pid())",
      "guardrail backend_signals"),
    A("nextval", "SELECT nextval('atk_seq')", READ),
    A("nextval-in-values", "VALUES (nextval('atk_seq'))", READ),
    A("setval", "SELECT setval('atk_seq', 1000)", READ),
    A("setval-qualified", "SELECT pg_catalog.setval('public.atk_seq'::regclass, 1000, true)",
      READ),
    A("lo-import", "SELECT lo_import('@DIR@/rows.csv')", "guardrail file_functions"),
    A("lo-import-oid", "SELECT lo_import('@DIR@/rows.csv', 555555)", "guardrail file_functions"),
    A("lo-export", f"SELECT lo_export({LO_OID}, '@DIR@/lo.out')", "guardrail file_functions"),
    A("lo-create", "SELECT lo_create(0)", READ),
    A("lo-creat", "SELECT lo_creat(-1)", READ),
    A("lo-unlink", f"SELECT lo_unlink({LO_OID})", READ),
    A("lo-put", f"SELECT lo_put({LO_OID}, 0, 'pwned')", READ),
    A("lo-from-bytea", "SELECT lo_from_bytea(0, 'pwned')", READ),
    A("lowrite", f"SELECT lowrite(lo_open({LO_OID}, 131072), 'pwned')", READ, tx=True),
    A("lo-truncate", f"SELECT lo_truncate(lo_open({LO_OID}, 131072), 0)", READ, tx=True),
    A("advisory-lock", "SELECT pg_advisory_lock(1)", READ),
    A("advisory-lock-shared", "SELECT pg_advisory_lock_shared(1)", READ),
    A("try-advisory-lock", "SELECT pg_try_advisory_lock(1)", READ),
    A("advisory-xact-lock", "SELECT pg_advisory_xact_lock(1)", READ, tx=True),
    A("pg-notify", f"SELECT pg_notify('{CHANNEL}', 'pwned')", READ),
    A("read-file", "SELECT pg_read_file('/etc/hostname')", "guardrail file_functions"),
    A("read-file-from", "SELECT * FROM pg_read_file('/etc/hostname') AS f(x)",
      "guardrail file_functions"),
    A("read-binary-file", "SELECT pg_read_binary_file('/etc/hostname')",
      "guardrail file_functions"),
    A("stat-file", "SELECT pg_stat_file('/etc/hostname')", "guardrail file_functions"),
    A("ls-dir", "SELECT pg_ls_dir('.')", "guardrail file_functions"),
    A("ls-dir-from", "SELECT * FROM pg_ls_dir('.') AS f", "guardrail file_functions"),
    A("ls-logdir", "SELECT * FROM pg_ls_logdir()", "guardrail file_functions"),
    A("ls-waldir", "SELECT * FROM pg_ls_waldir()", "guardrail file_functions"),
    A("stat-reset", "SELECT pg_stat_reset()", "guardrail admin_functions"),
    A("stat-reset-shared", "SELECT pg_stat_reset_shared('bgwriter')",
      "guardrail admin_functions"),
    A("stat-reset-table", "SELECT pg_stat_reset_single_table_counters('atk_t'::regclass)",
      "guardrail admin_functions"),
    A("switch-wal", "SELECT pg_switch_wal()", "guardrail admin_functions"),
    A("restore-point", "SELECT pg_create_restore_point('atk')", "guardrail admin_functions"),
    A("replication-slot", "SELECT pg_create_logical_replication_slot('atk', 'test_decoding')",
      "guardrail admin_functions"),
    A("pg-sleep-denied-by-rule", "SELECT pg_sleep(0)", "deny[0]"),
    A("pg-sleep-qualified", "SELECT pg_catalog.pg_sleep(0)", "deny[0]"),
    A("deny-table-unqualified", "SELECT * FROM atk_payroll", "deny[1]"),
    A("deny-table-quoted", 'SELECT * FROM "public"."atk_payroll"', "deny[1]"),
    A("deny-table-in-cte", "WITH p AS (SELECT * FROM atk_payroll) SELECT count(*) FROM p",
      "deny[1]"),
    A("deny-table-in-explain", "EXPLAIN SELECT * FROM atk_payroll", "deny[1]"),
    A("deny-table-catalog-qualified", "SELECT * FROM app.public.atk_payroll", "deny[1]"),
    A("deny-table-only", "SELECT salary FROM ONLY atk_payroll", "deny[1]"),
    A("deny-table-whole-row", "SELECT to_jsonb(p) FROM atk_payroll p", "deny[1]"),
    A("deny-table-cte-outer-scope", "SELECT * FROM (WITH atk_payroll AS (SELECT 1) "
      "SELECT * FROM atk_payroll) a, atk_payroll b", "deny[1]"),
    A("deny-table-cte-self-reference", "WITH atk_payroll AS (SELECT * FROM atk_payroll) "
      "SELECT * FROM atk_payroll", "deny[1]"),
    BYPASS("deny-table-via-pg-stats", "SELECT attname, histogram_bounds::text FROM pg_stats "
           "WHERE tablename = 'atk_payroll'",
           "a table rule matches relation names in the SQL; pg_stats (most_common_vals, "
           "histogram_bounds) shows the denied table's values to any role that may read it",
           rule="deny[1]"),
    # Column notation: (x).f is f(x). No FuncCall node in the parse tree.
    A("column-notation-terminate", f"SELECT (pid).pg_terminate_backend {SENTINEL_PIDS}", "guardrail backend_signals"),
    A("column-notation-lo-create", "SELECT (0::oid).lo_create", READ),
    A("column-notation-advisory-lock", "SELECT (4243::bigint).pg_advisory_lock", READ),
    A("column-notation-read-file", "SELECT ('/etc/hostname'::text).pg_read_file", "guardrail file_functions"),
    A("column-notation-deny-rule", "SELECT (0.01).pg_sleep", "deny[0]"),
    A("column-notation-nextval", "SELECT ('atk_seq'::regclass).nextval", READ),
    # --- server administration
    A("load", "LOAD 'auto_explain'", "guardrail load"),
    A("load-path", "LOAD '/tmp/pgw_atk_lib.so'", "guardrail load"),
    A("create-extension", "CREATE EXTENSION hstore", "guardrail create_extension"),
    A("create-extension-if-not-exists", "CREATE EXTENSION IF NOT EXISTS dblink",
      "guardrail create_extension"),
    A("alter-extension", "ALTER EXTENSION dblink UPDATE", "guardrail create_extension"),
    A("drop-extension", "DROP EXTENSION dblink", READ),
    A("alter-system", "ALTER SYSTEM SET work_mem = '1GB'", "guardrail alter_system"),
    A("alter-system-reset", "ALTER SYSTEM RESET ALL", "guardrail alter_system"),
    A("create-role", "CREATE ROLE atk_evil SUPERUSER LOGIN", "guardrail role_management"),
    A("create-user", "CREATE USER atk_evil", "guardrail role_management"),
    A("alter-role", "ALTER ROLE gw_scram CREATEROLE", "guardrail role_management"),
    A("alter-user-password", "ALTER USER gw_scram PASSWORD 'pwned'",
      "guardrail role_management"),
    A("drop-role", "DROP ROLE atk_power", "guardrail role_management"),
    A("grant-role", "GRANT atk_power TO PUBLIC", "guardrail role_management"),
    A("grant-table", "GRANT ALL ON atk_t TO PUBLIC", READ),
    A("revoke-table", "REVOKE SELECT ON atk_t FROM gw_scram", READ),
    A("default-privileges", "ALTER DEFAULT PRIVILEGES GRANT ALL ON TABLES TO PUBLIC", READ),
    A("reassign-owned", "REASSIGN OWNED BY gw_scram TO atk_power", "guardrail role_management"),
    A("truncate", "TRUNCATE atk_t", "guardrail truncate"),
    A("truncate-only-restart", "TRUNCATE TABLE ONLY atk_t RESTART IDENTITY CASCADE",
      "guardrail truncate"),
    A("vacuum", "VACUUM atk_t", READ),
    A("vacuum-full", "VACUUM FULL atk_t", READ),
    A("analyze", "ANALYZE atk_t", READ),
    A("reindex", "REINDEX TABLE atk_t", READ),
    A("cluster", "CLUSTER atk_t USING atk_t_pkey", READ),
    A("checkpoint", "CHECKPOINT", READ),
    A("security-label", "SECURITY LABEL ON TABLE atk_t IS 'pwned'", READ),
    A("call", "CALL atk_proc()", READ),
    A("notify", f"NOTIFY {CHANNEL}, 'pwned'", READ),
    A("prepare-transaction", "PREPARE TRANSACTION 'atk_gid'", READ, tx=True),
    A("commit-prepared", "COMMIT PREPARED 'atk_gid'", READ),
    A("rollback-prepared", "ROLLBACK PREPARED 'atk_gid'", READ),
    A("create-database", "CREATE DATABASE atk_pwned", READ),
    A("drop-database", "DROP DATABASE other", "guardrail drop_database"),
    A("create-server", "CREATE SERVER atk FOREIGN DATA WRAPPER dblink_fdw", READ),
    A("create-event-trigger", "CREATE EVENT TRIGGER atk ON ddl_command_start "
      "EXECUTE FUNCTION pg_catalog.now()", READ),
    # --- text the gateway refuses to guess at
    A("syntax-error", "SELEC 1", code="42601", rule="unparsed"),
    A("syntax-error-then-delete", "SELEC 1; DELETE FROM atk_t WHERE id = 1", code="42601",
      rule="unparsed"),
    A("overlong", "SELECT '" + "x" * 1_100_000 + "'", code="42601", rule="unparsed"),
    A("overlong-multi", "SELECT 1; " * 120_000 + "DELETE FROM atk_t WHERE id = 1", code="42601",
      rule="unparsed"),
    A("nested-parens", "SELECT " + "(" * 100_000 + "1" + ")" * 100_000, code="42601",
      rule="unparsed"),
    A("nested-not", "SELECT " + "NOT " * 50_000 + "true", code="42601", rule="unparsed"),
    A("nested-casts", "SELECT 1" + "::int" * 20_000, code="42601", rule="unparsed"),
    A("nested-subselects", "SELECT " + "(SELECT " * 5_000 + "1" + ")" * 5_000, code="42601",
      rule="unparsed"),
    A("nested-arrays", "SELECT " + "ARRAY[" * 20_000 + "1" + "]" * 20_000, code="42601",
      rule="unparsed"),
    A("long-concat-chain", "SELECT " + " || ".join(["'a'"] * 30_000), code="42601",
      rule="unparsed"),
    A("nested-do", "DO $a0$BEGIN EXECUTE " + "".join(
        f"$a{i}$DO $b{i}$BEGIN EXECUTE " for i in range(1, 12)) + "'DROP TABLE atk_victim'"
      + "".join(f"; END$b{i}$$a{i}$" for i in reversed(range(1, 12))) + "; END$a0$"),
    A("invalid-utf8", b"SELECT '\xff'", code="42601", rule="unparsed"),
    A("invalid-utf8-comment", b"SELECT 1 /* \xc0\xa7 */; DELETE FROM atk_t WHERE id = 1",
      code="42601", rule="unparsed"),
    A("overlong-utf8-quote", b"SELECT '\xc0\xa7; DELETE FROM atk_t WHERE id = 1; --'",
      code="42601", rule="unparsed"),
    A("surrogate-utf8", b"SELECT '\xed\xa0\x80'", code="42601", rule="unparsed"),
    # --- the write-level CI job: what write does not include
    A("writer-truncate", "TRUNCATE atk_t", "guardrail truncate", user="bob"),
    A("writer-delete-nowhere", "DELETE FROM atk_t", "guardrail delete_without_where",
      user="bob"),
    A("writer-drop", "DROP TABLE atk_victim", "access:write", user="bob"),
    A("writer-set-role", "SET ROLE atk_power", "guardrail set_role", user="bob"),
    A("writer-set-scs", "SET standard_conforming_strings = off", "parser_settings", user="bob"),
    A("writer-do-dynamic", "DO $$BEGIN EXECUTE 'DROP TABLE atk_victim'; END$$", "dynamic_sql",
      user="bob"),
    A("writer-statement-timeout", "SET statement_timeout = 0", "limits:statement_timeout",
      user="bob"),
    A("writer-update-pg-settings-scs", "UPDATE pg_settings SET setting = 'off' WHERE name = 'standard_conforming_strings'", "parser_settings", user="bob"),
    A("writer-update-pg-settings-row-security", "UPDATE pg_settings SET setting = 'off' WHERE name = 'row_security'", "parser_settings", user="bob"),
    A("writer-column-notation-terminate", f"SELECT (pid).pg_terminate_backend "
           f"{SENTINEL_PIDS}", "guardrail backend_signals", user="bob"),
]


def _materialize(env: Env, sql):
    if isinstance(sql, bytes):
        return sql.replace(b"@DIR@", str(env.files).encode())
    return sql.replace("@DIR@", str(env.files))


def _expect_session(env: Env, c: pgwire.RawConn, baseline: Optional[list] = None,
                    ignore_timeout: bool = False):
    facts = env.session_facts(c)
    baseline = baseline or env.baseline_session
    if ignore_timeout:
        facts = [row[:6] + row[7:] for row in facts]
        baseline = [row[:6] + row[7:] for row in baseline]
    assert facts == baseline, (
        "the session was changed: (current_user, session_user, default_transaction_read_only, "
        "transaction_read_only, standard_conforming_strings, client_encoding, "
        f"statement_timeout, row_security, advisory locks) {facts} != {baseline}")


def _cleanup_bypass(env: Env):
    """A bypass that worked may have left something behind: undo it so that
    the next test starts from the fixture's state."""
    a = env.admin
    a.execute("DROP TABLE IF EXISTS public.atk_pwned")
    a.execute("SELECT lo_unlink(oid) FROM pg_largeobject_metadata WHERE oid <> %s", (LO_OID,))
    a.execute("SELECT setval('public.atk_seq', 1, true)")
    with psycopg.connect(env.pg.dsn("gw_scram", "app"), autocommit=True) as owner:
        owner.execute("CREATE TABLE IF NOT EXISTS atk_victim (x int)")
        if owner.execute("SELECT count(*) FROM atk_victim").fetchone()[0] == 0:
            owner.execute("INSERT INTO atk_victim VALUES (1)")
        owner.execute("DELETE FROM atk_t WHERE id NOT IN (1, 2, 3)")
        owner.execute("INSERT INTO atk_t VALUES (1, 'alpha'), (2, 'bravo'), (3, 'charlie') "
                      "ON CONFLICT (id) DO UPDATE SET note = excluded.note")


@pytest.mark.parametrize("attack", ATTACKS)
def test_attack_is_denied_and_changes_nothing(env, guard, attack: Attack):
    sql = _materialize(env, attack.sql)
    with env.attacker(guard, attack.user) as c:
        baseline = env.session_facts(c)
        for s in attack.setup:
            r = c.simple_query(s)
            assert r.error is None, f"setup {s!r}: {r.error}"
        if attack.tx:
            assert c.simple_query("BEGIN").error is None
        r = c.simple_query(sql)
        assert r.error is not None, (
            f"the attack was not refused: tags={r.tags} rows={str(r.rows)[:300]}")
        assert r.error["C"] == attack.code, r.error
        if attack.rule:
            assert attack.rule in r.error.get("M", ""), r.error
        if attack.code == "42501":
            assert r.error["M"].startswith("pgwarden: policy "), r.error
        assert r.tags == [], f"part of a denied query ran: {r.tags}"
        assert r.status == (b"E" if attack.tx else b"I"), r.status
        if attack.tx:
            r = c.simple_query("SELECT 1")
            assert r.error is not None and r.error["C"] == "25P02", r.error
            assert c.simple_query("COMMIT").tags == ["ROLLBACK"]
        for follow, code in attack.then:
            r = c.simple_query(_materialize(env, follow))
            if code is None:  # must be harmless whatever it does: checked on the way out
                continue
            assert r.error is not None and r.error["C"] == code, (follow, r.error, r.tags)
        _expect_session(env, c, baseline)


# ---------------------------------------------------------------- allowed, and still harmless

HARMLESS = [
    # Look like attacks, are not: the parser says so.
    "SELECT 1 /* DELETE FROM atk_t WHERE id = 1 */",
    "SELECT 1 -- ; DROP TABLE atk_victim",
    "SELECT $$'; DELETE FROM atk_t WHERE id = 1; --$$",
    "SELECT E'\\'; DELETE FROM atk_t WHERE id = 1; --'",
    "SELECT 'a\\' , ' ; DROP TABLE atk_victim ; --'",
    "SELECT 'DROP TABLE atk_victim'",
    "SELECT length(E'\u0081\\') ; DELETE FROM atk_t WHERE id = 1 ; --')",  # SJIS bait
    "SELECT U&'d\\0072op'",
    "SELECT 'x' AS \"DELETE FROM atk_t\"",
    # Session statements a read policy allows, that must not weaken anything.
    "RESET default_transaction_read_only",
    "SET default_transaction_read_only TO DEFAULT",
    "SET default_transaction_read_only = on",
    "RESET ALL",
    "DISCARD ALL",
    "RESET ROLE",
    "SET ROLE NONE",
    "SET SESSION AUTHORIZATION DEFAULT",
    "RESET SESSION AUTHORIZATION",
    "SELECT set_config('role', 'none', false)",
    "SET client_encoding = 'UTF8'",
    "SET NAMES 'UTF8'",
    "RESET client_encoding",
    "SET standard_conforming_strings = on",
    "RESET standard_conforming_strings",
    "SET statement_timeout = '1s'",
    "RESET statement_timeout",
    "SET search_path = public, pg_catalog",
    "SELECT set_config('search_path', 'pg_catalog, public', false)",
    "SET work_mem = '8MB'",
    f"LISTEN {CHANNEL}",
    "UNLISTEN *",
    "EXPLAIN DELETE FROM atk_t WHERE id = 1",
    "EXPLAIN (ANALYZE false) DELETE FROM atk_t WHERE id = 1",
    "EXPLAIN UPDATE atk_t SET note = 'x' WHERE id = 1",
    "SELECT count(*) FROM pg_stat_activity",
    "SHOW ALL",
    "SELECT current_setting('default_transaction_read_only')",
    "BEGIN READ ONLY; SELECT 1; COMMIT",
    "BEGIN; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE; SELECT 1; COMMIT",
    "BEGIN; SAVEPOINT a; SELECT 1; ROLLBACK TO SAVEPOINT a; RELEASE a; COMMIT",
    "START TRANSACTION READ ONLY, DEFERRABLE; COMMIT",
    "DECLARE c CURSOR WITH HOLD FOR SELECT * FROM atk_t; FETCH 1 FROM c; CLOSE c",
    "PREPARE q (int) AS SELECT note FROM atk_t WHERE id = $1; EXECUTE q(2); DEALLOCATE q",
    "COPY atk_t TO STDOUT",
    "COPY (SELECT id FROM atk_t ORDER BY id) TO STDOUT WITH (FORMAT csv)",
    # A deny rule names exact functions: { function: pg_sleep } does not cover
    # pg_sleep_for / pg_sleep_until (SQL functions calling pg_sleep); write pg_sleep*.
    "SELECT pg_sleep_for('0')",
]




def _harmless_param(sql):
    return pytest.param(sql, id=sql[:60])


@pytest.mark.parametrize("sql", [_harmless_param(s) for s in HARMLESS])
def test_lookalikes_and_session_statements_are_allowed_and_change_nothing(env, guard, sql):
    with env.attacker(guard) as c:
        r = c.simple_query(sql)
        assert r.error is None, r.error
        assert r.status == b"I"
        _expect_session(env, c, ignore_timeout=True)


@pytest.mark.parametrize("reset", ["RESET transaction_read_only",
                                   "SET transaction_read_only TO DEFAULT",
                                   "SET LOCAL transaction_read_only = DEFAULT"])
def test_reset_of_transaction_read_only_keeps_the_transaction_read_only(env, guard, reset):
    with env.attacker(guard) as c:
        assert c.simple_query("BEGIN").error is None
        r = c.simple_query(reset)
        if r.error is not None:
            assert r.error["C"] == "42501", r.error
            c.simple_query("ROLLBACK")
            return
        shown = c.simple_query("SHOW transaction_read_only").rows
        c.simple_query("ROLLBACK")
        assert shown == [["on"]], f"{reset!r} made the transaction read-write"


def test_reset_read_only_then_column_notation_write(env, guard):
    with env.attacker(guard) as c:
        assert c.simple_query("BEGIN").error is None
        reset = c.simple_query("RESET transaction_read_only")
        r = c.simple_query("SELECT ('atk_seq'::regclass).nextval")
        c.simple_query("COMMIT")
        # The RESET is refused (the transaction is then aborted: 25P02), and
        # the column-notation nextval would be refused on its own too.
        assert reset.error is not None and reset.error["C"] == "42501", reset.error
        assert r.error is not None and r.error["C"] in ("42501", "25P02"), (r.error, r.rows)


def test_reset_read_only_then_explain_analyze_twice_deletes(env, guard):
    # The attacker context asserts at exit that the row is still there.
    with env.attacker(guard) as c:
        results = [c.simple_query(sql) for sql in (
            "BEGIN", "RESET transaction_read_only",
            "EXPLAIN (ANALYZE false, ANALYZE true) DELETE FROM atk_t WHERE id = 3", "COMMIT")]
        assert results[1].error is not None and results[1].error["C"] == "42501", results[1].error


def test_shape_cache_does_not_carry_a_verdict_to_other_constants(env, guard):
    """The analysis cache reuses an analysis for texts that differ only in
    constants; constants that decide the verdict (set_config's arguments, a
    DO body) must not share it."""
    with env.attacker(guard, user="bob") as c:
        for _ in range(3):
            assert c.simple_query("SELECT set_config('application_name', 'a', false)").error is None
            assert c.simple_query("DO $$BEGIN PERFORM 1; END$$").error is None
            assert c.simple_query("SELECT note FROM atk_t WHERE id = 1").error is None
        r = c.simple_query("SELECT set_config('standard_conforming_strings', 'off', false)")
        assert r.error is not None and "parser_settings" in r.error["M"], r.error
        r = c.simple_query("DO $$BEGIN EXECUTE 'DROP TABLE atk_victim'; END$$")
        assert r.error is not None and "dynamic_sql" in r.error["M"], r.error
        r = c.simple_query("SELECT note FROM atk_t WHERE id = 1 FOR UPDATE")
        assert r.error is None  # write access: row locks are allowed
        assert c.simple_query("SET application_name TO DEFAULT").error is None
    with env.attacker(guard) as c:
        for _ in range(3):
            assert c.simple_query("SELECT note FROM atk_t WHERE id = 2").error is None
        r = c.simple_query("SELECT note FROM atk_t WHERE id = 2 FOR UPDATE")
        assert r.error is not None and r.error["C"] == "42501", r.error


# ---------------------------------------------------------------- startup parameters

def _timeout_within_limit(value: str) -> bool:
    return value not in ("0", "") and harness._seconds(value) <= 2


SJIS_BAIT = "SELECT length(E'\u0081\\') ; {} ; --')"

STARTUP = [
    # (id, extra startup parameters, SQL showing the effect, is the answer safe?, bypass reason)
    ("dtro-exact", {"default_transaction_read_only": "off"},
     "SHOW default_transaction_read_only", lambda v: v == "on", None),
    ("dtro-case", {"Default_Transaction_Read_Only": "off"},
     "SHOW default_transaction_read_only", lambda v: v == "on", None),
    ("scs-exact", {"standard_conforming_strings": "off"},
     "SHOW standard_conforming_strings", lambda v: v == "on", None),
    ("scs-case", {"Standard_Conforming_Strings": "off"},
     "SHOW standard_conforming_strings", lambda v: v == "on", None),
    ("tro", {"transaction_read_only": "off"}, "SHOW transaction_read_only",
     lambda v: v == "on", None),
    ("client-encoding-exact", {"client_encoding": "SJIS"}, "SHOW client_encoding",
     lambda v: v == "UTF8", None),
    ("client-encoding-case", {"CLIENT_ENCODING": "SJIS"}, "SHOW client_encoding",
     lambda v: v == "UTF8", None),
    ("client-encoding-twice", {"client_encoding": "UTF8", "Client_Encoding": "SJIS"},
     "SHOW client_encoding", lambda v: v == "UTF8", None),
    ("role", {"role": "atk_power"}, "SELECT current_user", lambda v: v == "gw_scram", None),
    ("row-security", {"row_security": "off"}, "SHOW row_security", lambda v: v == "on", None),
    ("statement-timeout", {"statement_timeout": "0"}, "SHOW statement_timeout",
     _timeout_within_limit, None),
    ("statement-timeout-case", {"Statement_Timeout": "0"}, "SHOW statement_timeout",
     _timeout_within_limit, None),
]


@pytest.mark.parametrize("case", [
    pytest.param(c, id=c[0], marks=[pytest.mark.xfail(strict=True, reason=c[4])] if c[4] else [])
    for c in STARTUP])
def test_startup_parameters_cannot_weaken_the_session(env, guard, case):
    _, extra, show, safe, _ = case
    try:
        env.raw(extra=extra).close()
    except pgwire.PgError as e:  # refusing the session is a safe answer too
        assert e.code in ("08P01", "0A000", "42501", "28000"), e.fields
        return
    with env.attacker(guard, extra=extra) as c:
        r = c.simple_query(show)
        assert r.error is None, r.error
        assert len(r.rows) == 1 and safe(r.rows[0][0]), f"{extra}: {show} -> {r.rows}"
        if "client_encoding" in str(extra).lower():
            # Harmless when the server reads the bytes as UTF-8.
            c.send(pgwire.query(SJIS_BAIT.format("DELETE FROM atk_t WHERE id = 1").encode()))
            c.read_result()


def test_sjis_startup_hides_a_write_from_the_gateway(env, guard):
    """The full chain behind client-encoding-case, with a visible effect."""
    try:
        c = env.raw(extra={"CLIENT_ENCODING": "SJIS"})
    except pgwire.PgError:
        return
    try:
        for hidden in ("SET default_transaction_read_only = off", "DELETE FROM atk_t WHERE id = 3"):
            c.send(pgwire.query(SJIS_BAIT.format(hidden).encode()))
            c.read_result()
    finally:
        c.close()
        after = env.state()
        if after != guard:
            _cleanup_bypass(env)
    assert_unchanged(guard, after)


# ---------------------------------------------------------------- the extended protocol

def P(sql, name="", types=()):
    sql = sql.encode() if isinstance(sql, str) else sql
    return pgwire.msg(b"P", pgwire.cstr(name) + sql + b"\0" + struct.pack("!h", len(types))
                      + b"".join(struct.pack("!i", t) for t in types))


def Bind(stmt="", portal="", params=()):
    body = pgwire.cstr(portal) + pgwire.cstr(stmt) + struct.pack("!h", 0)
    body += struct.pack("!h", len(params))
    for p in params:
        if p is None:
            body += struct.pack("!i", -1)
        else:
            b = p.encode()
            body += struct.pack("!i", len(b)) + b
    return pgwire.msg(b"B", body + struct.pack("!h", 0))


def Describe(kind, name=""):
    return pgwire.msg(b"D", kind + pgwire.cstr(name))


def Execute(portal="", max_rows=0):
    return pgwire.msg(b"E", pgwire.cstr(portal) + struct.pack("!i", max_rows))


def Close(kind, name=""):
    return pgwire.msg(b"C", kind + pgwire.cstr(name))


SYNC = pgwire.msg(b"S")
FLUSH = pgwire.msg(b"H")


def FunctionCall(oid, args):
    body = struct.pack("!ih", oid, 1) + struct.pack("!h", 1) + struct.pack("!h", len(args))
    for a in args:
        body += struct.pack("!i", len(a)) + a
    return pgwire.msg(b"F", body + struct.pack("!h", 1))


def until_ready(c: pgwire.RawConn) -> list:
    """Messages up to and including ReadyForQuery: [(tag, body)]."""
    out = []
    while True:
        tag, body = c.read_msg()
        out.append((tag, body))
        if tag == b"Z":
            return out


def tags(msgs) -> list:
    return [t for t, _ in msgs]


def errors(msgs) -> list:
    return [pgwire.parse_error_fields(b) for t, b in msgs if t == b"E"]


def rows(msgs) -> list:
    return [pgwire.parse_data_row(b) for t, b in msgs if t == b"D"]


@pytest.fixture
def raw(env, guard):
    """An attacker's raw session; the database is checked when the test ends."""
    with env.attacker(guard) as c:
        yield c


def _end(env, c, guard):
    _expect_session(env, c)


def test_pipelined_parse_of_a_write_is_denied_and_skips_to_sync(env, guard, raw):
    raw.send(P("SELECT 1") + Bind() + Execute()
             + P("DELETE FROM atk_t WHERE id = 1") + Bind() + Execute()
             + P("SELECT 2") + Bind() + Execute() + SYNC)
    msgs = until_ready(raw)
    assert tags(msgs) == [b"1", b"2", b"D", b"C", b"E", b"Z"], tags(msgs)
    assert errors(msgs)[0]["C"] == "42501"
    assert msgs[-1][1] == b"I"
    _end(env, raw, guard)


def test_named_statement_denied_at_parse_does_not_exist_after_sync(env, guard, raw):
    raw.send(P("DELETE FROM atk_t WHERE id = 1", name="w") + SYNC)
    msgs = until_ready(raw)
    assert errors(msgs)[0]["C"] == "42501", msgs
    raw.send(Bind("w") + Execute() + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["26000"], msgs
    raw.send(Describe(b"S", "w") + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["26000"]
    _end(env, raw, guard)


def test_execute_after_sync_of_a_statement_prepared_before_runs_what_was_checked(env, guard, raw):
    raw.send(P("SELECT note FROM atk_t WHERE id = $1", name="s") + SYNC)
    assert errors(until_ready(raw)) == []
    # Re-parse the same name with a write: denied, and the old statement stays.
    raw.send(P("DELETE FROM atk_t WHERE id = $1", name="s") + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"], msgs
    raw.send(Bind("s", params=("1",)) + Execute() + SYNC)
    msgs = until_ready(raw)
    assert errors(msgs) == [] and rows(msgs) == [["alpha"]], msgs
    # Close it and prepare a write under the freed name: still denied.
    raw.send(Close(b"S", "s") + P("DELETE FROM atk_t WHERE id = $1", name="s")
             + Bind("s", params=("1",)) + Execute() + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"], msgs
    _end(env, raw, guard)


def test_unnamed_statement_reparsed_with_a_write(env, guard, raw):
    raw.send(P("SELECT 1") + Bind() + Execute() + SYNC)
    assert rows(until_ready(raw)) == [["1"]]
    raw.send(P("UPDATE atk_t SET note = 'pwned' WHERE id = 1") + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["42501"]
    # The unnamed statement is gone (PostgreSQL drops it at every Parse).
    raw.send(Bind() + Execute() + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["26000"]
    # With Flush instead of Sync in between: the Bind/Execute of the same batch are skipped.
    raw.send(P("DELETE FROM atk_t WHERE id = 2") + FLUSH)
    raw.send(Bind() + Execute() + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"] and b"C" not in tags(msgs), msgs
    _end(env, raw, guard)


def test_parse_of_allowed_text_then_describe_or_execute_of_another_name(env, guard, raw):
    raw.send(P("SELECT 1", name="ok") + Describe(b"S", "other") + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["26000"], msgs
    raw.send(Bind("other", portal="p") + Execute("p") + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["26000"]
    raw.send(Bind("ok", portal="p") + Describe(b"P", "p") + Execute("p") + SYNC)
    msgs = until_ready(raw)
    assert errors(msgs) == [] and rows(msgs) == [["1"]], msgs
    _end(env, raw, guard)


def test_portal_of_a_denied_statement_cannot_be_executed_later(env, guard, raw):
    raw.send(P("DELETE FROM atk_t WHERE id = 1", name="w") + Bind("w", portal="pw") + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["42501"]
    raw.send(Execute("pw") + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["34000"]
    _end(env, raw, guard)


def test_sql_prepare_denied_then_bound_at_protocol_level(env, guard, raw):
    r = raw.simple_query("PREPARE sqlw AS DELETE FROM atk_t WHERE id = 1")
    assert r.error["C"] == "42501"
    raw.send(Bind("sqlw") + Execute() + SYNC)
    assert [e["C"] for e in errors(until_ready(raw))] == ["26000"]
    # A SQL-prepared SELECT may be bound at protocol level: it was checked at PREPARE.
    assert raw.simple_query("PREPARE sqlr AS SELECT 7").error is None
    raw.send(Bind("sqlr") + Execute() + SYNC)
    assert rows(until_ready(raw)) == [["7"]]
    _end(env, raw, guard)


def test_parse_of_several_statements_is_refused(env, guard, raw):
    raw.send(P("SELECT 1; DELETE FROM atk_t WHERE id = 1") + Bind() + Execute() + SYNC)
    msgs = until_ready(raw)
    assert len(errors(msgs)) == 1 and errors(msgs)[0]["C"] in ("42501", "42601"), msgs
    assert b"C" not in tags(msgs)
    _end(env, raw, guard)


@pytest.mark.parametrize("sql,types", [
    ("SELECT set_config($1, 'off', false)", ()),
    ("SELECT set_config('standard_conforming_strings', $1, false)", ()),
    ("SELECT set_config('default_transaction_read_only', $1, false)", ()),
    ("SELECT set_config('statement_timeout', $1, false)", ()),
    ("SELECT set_config('role', $1, false)", ()),
    ("SELECT nextval($1)", (2205,)),
    ("SELECT lo_unlink($1)", (26,)),
])
def test_parameters_cannot_smuggle_a_setting_or_a_write(env, guard, raw, sql, types):
    raw.send(P(sql, types=types) + Bind(params=("x",)) + Execute() + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"], msgs
    _end(env, raw, guard)


def test_denied_parse_inside_a_transaction_aborts_it(env, guard, raw):
    assert raw.simple_query("BEGIN").status == b"T"
    raw.send(P("SELECT 1") + Bind() + Execute() + P("INSERT INTO atk_t VALUES (9, 'x')")
             + Bind() + Execute() + SYNC)
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"] and msgs[-1][1] == b"E", msgs
    assert raw.simple_query("SELECT 1").error["C"] == "25P02"
    assert raw.simple_query("COMMIT").tags == ["ROLLBACK"]
    _end(env, raw, guard)


@pytest.mark.parametrize("oid,args", [
    (957, [struct.pack("!i", 0x60000)]),        # lo_creat(int4)
    (715, [struct.pack("!I", 0)]),              # lo_create(oid)
    (964, [struct.pack("!I", LO_OID)]),         # lo_unlink(oid)
    (2274, []),                                 # pg_stat_reset()
    (2621, []),                                 # pg_reload_conf()
], ids=["lo_creat", "lo_create", "lo_unlink", "pg_stat_reset", "pg_reload_conf"])
def test_fast_path_function_call_is_denied(env, guard, raw, oid, args):
    raw.send(FunctionCall(oid, args))
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"], msgs
    assert b"V" not in tags(msgs)
    _end(env, raw, guard)


def test_copy_data_sent_blindly_after_a_denied_copy_from_stdin(env, guard, raw):
    # A client that does not wait for CopyInResponse: the data must go nowhere.
    raw.send(pgwire.query("COPY atk_t FROM STDIN")
             + pgwire.msg(b"d", b"97\tpwned\n") + pgwire.msg(b"c"))
    msgs = until_ready(raw)
    assert [e["C"] for e in errors(msgs)] == ["42501"], msgs
    assert b"G" not in tags(msgs)
    _end(env, raw, guard)


@pytest.mark.parametrize("message", [
    pgwire.msg(b"Q", b"SELECT 1\0DELETE FROM atk_t WHERE id = 1\0"),
    pgwire.msg(b"P", b"\0SELECT 1\0DELETE FROM atk_t WHERE id = 1\0\0\0"),
], ids=["query", "parse"])
def test_nul_byte_inside_a_message_is_a_protocol_error(env, guard, message):
    c = env.raw()
    try:
        c.send(message + SYNC)
        with pytest.raises((pgwire.PgError, pgwire.Closed)) as ei:
            while True:
                tag, body = c.read_msg()
                if tag == b"E":
                    raise pgwire.PgError(pgwire.parse_error_fields(body))
                if tag == b"Z":
                    raise AssertionError("the message was accepted")
        if isinstance(ei.value, pgwire.PgError):
            assert ei.value.code == "08P01", ei.value.fields
    finally:
        c.close()
    assert env.gw.alive()
    assert_unchanged(guard, env.state())


def test_psycopg_pipeline_mode_write_is_denied(env, guard):
    with env.gw.connect(user="alice") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            with c.pipeline():
                c.execute("SELECT 1")
                c.execute("DELETE FROM atk_t WHERE id = %s", (1,))
                c.execute("SELECT 2")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("UPDATE atk_t SET note = %s WHERE id = %s", ("x", 1), prepare=True)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT nextval(%s)", ("atk_seq",), binary=True)
        assert c.execute("SELECT note FROM atk_t WHERE id = %s", (2,)).fetchone() == ("bravo",)
    assert_unchanged(guard, env.state())


def test_statement_timeout_limit_stops_a_long_statement(env, guard):
    with env.gw.connect(user="bob") as c:
        start = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(3)")
        assert time.monotonic() - start < 2.5
    assert_unchanged(guard, env.state())


# ---------------------------------------------------------------- the benign corpus

BENIGN = [
    # window functions
    "SELECT id, region, amount, sum(amount) OVER (PARTITION BY region ORDER BY amount, id) "
    "AS running, rank() OVER (PARTITION BY region ORDER BY amount DESC, id), "
    "lag(amount) OVER w, lead(product, 2) OVER w, ntile(4) OVER w, "
    "first_value(product) OVER (PARTITION BY region ORDER BY id ROWS BETWEEN 2 PRECEDING "
    "AND CURRENT ROW) FROM atk_sales WINDOW w AS (ORDER BY id) ORDER BY id",
    "SELECT region, avg(amount) OVER (PARTITION BY region), percent_rank() OVER (ORDER BY "
    "amount, id), cume_dist() OVER (ORDER BY amount, id) FROM atk_sales ORDER BY id LIMIT 50",
    # CTEs, recursive too
    "WITH r AS (SELECT region, sum(amount) AS s FROM atk_sales GROUP BY region) "
    "SELECT * FROM r ORDER BY s DESC, region",
    "WITH RECURSIVE tree(id, parent, depth, path) AS (SELECT id, parent, 0, ARRAY[id] FROM "
    "atk_tree WHERE parent IS NULL UNION ALL SELECT t.id, t.parent, tree.depth + 1, "
    "tree.path || t.id FROM atk_tree t JOIN tree ON t.parent = tree.id) "
    "SELECT * FROM tree ORDER BY path",
    "WITH RECURSIVE fib(a, b, n) AS (SELECT 0::numeric, 1::numeric, 1 UNION ALL "
    "SELECT b, a + b, n + 1 FROM fib WHERE n < 60) SELECT n, a FROM fib ORDER BY n",
    "WITH a AS MATERIALIZED (SELECT * FROM atk_t), b AS NOT MATERIALIZED (SELECT * FROM a "
    "WHERE id > 1) SELECT * FROM b ORDER BY id",
    # JSON / JSONB
    "SELECT id, body->>'name', body->'tags'->0, body #>> '{address,city}', "
    "jsonb_array_length(body->'tags'), body ? 'vip', body @> '{\"vip\": true}', "
    "body ?| array['zip', 'vip'] FROM atk_docs ORDER BY id",
    "SELECT jsonb_path_query_array(body, '$.tags[*] ? (@ like_regex \"^a\")') FROM atk_docs "
    "ORDER BY id",
    "SELECT jsonb_build_object('regions', jsonb_agg(DISTINCT region ORDER BY region)) "
    "FROM atk_sales",
    "SELECT json_object_agg(product, total ORDER BY product) FROM (SELECT product, "
    "sum(amount) AS total FROM atk_sales GROUP BY product) s",
    "SELECT to_jsonb(s) - 'id', row_to_json(s) FROM atk_sales s ORDER BY id LIMIT 3",
    "SELECT jsonb_pretty(body), jsonb_set(body, '{name}', '\"x\"') FROM atk_docs WHERE id = 1",
    "SELECT * FROM jsonb_to_recordset('[{\"a\":1,\"b\":\"x\"},{\"a\":2,\"b\":\"y\"}]') "
    "AS r(a int, b text)",
    "SELECT key, value FROM atk_docs, jsonb_each(body) WHERE id = 2 ORDER BY key",
    # LATERAL
    "SELECT r.region, top.product, top.amount FROM (SELECT DISTINCT region FROM atk_sales) r, "
    "LATERAL (SELECT product, amount FROM atk_sales s WHERE s.region = r.region "
    "ORDER BY amount DESC, id LIMIT 2) top ORDER BY 1, 3 DESC, 2",
    "SELECT d.id, t.tag, t.n FROM atk_docs d CROSS JOIN LATERAL "
    "jsonb_array_elements_text(d.body->'tags') WITH ORDINALITY AS t(tag, n) ORDER BY d.id, t.n",
    "SELECT d.id, x.c FROM atk_docs d LEFT JOIN LATERAL (SELECT count(*) AS c FROM "
    "jsonb_array_elements(d.body->'tags')) x ON true ORDER BY 1",
    # GROUPING SETS, ROLLUP, CUBE, FILTER, DISTINCT ON
    "SELECT region, product, sum(amount), grouping(region, product) FROM atk_sales "
    "GROUP BY GROUPING SETS ((region, product), (region), ()) ORDER BY 1 NULLS LAST, "
    "2 NULLS LAST",
    "SELECT region, product, count(*) FROM atk_sales GROUP BY ROLLUP (region, product) "
    "ORDER BY 1 NULLS LAST, 2 NULLS LAST",
    "SELECT region, product, count(*) FROM atk_sales GROUP BY CUBE (region, product) "
    "ORDER BY 1 NULLS LAST, 2 NULLS LAST",
    "SELECT region, count(*) FILTER (WHERE amount > 100), sum(amount) FILTER "
    "(WHERE product LIKE 'a%') FROM atk_sales GROUP BY region ORDER BY region",
    "SELECT DISTINCT ON (region) region, product, amount FROM atk_sales "
    "ORDER BY region, amount DESC, id",
    "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount), mode() WITHIN GROUP "
    "(ORDER BY region), array_agg(id ORDER BY id DESC) FILTER (WHERE id < 5) FROM atk_sales",
    # generate_series, set operations, VALUES, TABLE
    "SELECT g, g * g, date '2024-01-01' + g FROM generate_series(1, 10) g",
    "SELECT * FROM generate_series('2024-01-01'::timestamp, '2024-01-02', '6 hours')",
    "SELECT region FROM atk_sales UNION SELECT 'x' EXCEPT SELECT 'south' ORDER BY 1",
    "VALUES (1, 'a'), (2, 'b') ORDER BY 1 DESC",
    "TABLE atk_t ORDER BY id",
    "SELECT x, n FROM unnest(ARRAY['a', 'b', 'c']) WITH ORDINALITY AS u(x, n)",
    # strings
    "SELECT upper(note), initcap(note), length(note), substr(note, 2, 3), "
    "replace(note, 'a', 'A'), regexp_replace(note, '[aeiou]', '_', 'g'), "
    "split_part('a,b,c', ',', 2), format('%s-%I-%L', 'x', 'Y z', 'q''t'), "
    "concat_ws('|', id, note), lpad(id::text, 5, '0'), md5(note), reverse(note), "
    "string_agg(note, ',') OVER (ORDER BY id) FROM atk_t ORDER BY id",
    "SELECT regexp_matches('foo123bar45', '\\d+', 'g')",
    "SELECT E'tab\\there', 'it''s', $$dollar 'quoted'$$, U&'\\0041BC', "
    "'a' || 'b' || 'c', position('b' in 'abc'), 'abc' ~ '^a', 'ABC' ILIKE 'a%'",
    "SELECT to_char(sold_on, 'YYYY-MM'), count(*) FROM atk_sales GROUP BY 1 ORDER BY 1",
    "SELECT xmlelement(name a, xmlattributes(1 AS b), 'text'), "
    "to_tsvector('english', 'The quick brown foxes') @@ to_tsquery('fox')",
    # joins, subqueries, expressions
    "SELECT t.id, t.note, count(s.id) FROM atk_t t LEFT JOIN atk_sales s ON s.id % 3 = t.id "
    "GROUP BY t.id, t.note HAVING count(s.id) > 0 ORDER BY t.id",
    "SELECT * FROM atk_t t1 FULL JOIN atk_t t2 USING (id) ORDER BY id",
    "SELECT id FROM atk_sales s WHERE EXISTS (SELECT 1 FROM atk_tree WHERE atk_tree.id = s.id) "
    "AND id IN (SELECT id FROM atk_t) ORDER BY id",
    "SELECT CASE WHEN amount > 250 THEN 'high' ELSE 'low' END, coalesce(NULL, region), "
    "nullif(product, 'apple'), greatest(amount, 100), amount::int FROM atk_sales "
    "ORDER BY id LIMIT 20",
    "SELECT 1 WHERE 1 IN (" + ", ".join(str(i) for i in range(20_000)) + ")",
    "SELECT relname FROM pg_class WHERE relname LIKE 'atk\\_%' ORDER BY 1",
    # comments and quoting in benign text
    "SELECT /* DELETE FROM atk_t */ 1 -- DROP TABLE atk_t",
    'SELECT "id", "note" FROM "public"."atk_t" ORDER BY "id"',
    # EXPLAIN (no ANALYZE), SHOW
    "EXPLAIN (COSTS OFF) SELECT * FROM atk_t WHERE id = 1",
    "EXPLAIN (COSTS OFF, VERBOSE) SELECT region, count(*) FROM atk_sales GROUP BY region",
    "EXPLAIN (FORMAT JSON, COSTS OFF) SELECT * FROM atk_t t JOIN atk_sales s USING (id)",
    "EXPLAIN (COSTS OFF) DELETE FROM atk_t WHERE id = 1",
    "SHOW search_path",
    "SHOW work_mem",
    "SHOW TimeZone",
    "SELECT current_setting('search_path'), current_database()",
]


@pytest.fixture(scope="module")
def pair(env):
    """One connection through the gateway (read policy) and one to PostgreSQL
    directly as the same database role."""
    via = env.gw.connect(user="alice")
    direct = psycopg.connect(env.pg.dsn("gw_scram", "app"), autocommit=True)
    yield via, direct
    via.close()
    direct.close()


def _fetch(conn, sql, params=None, binary=False, prepare=None):
    cur = conn.cursor(binary=binary)
    cur.execute(sql, params, prepare=prepare)
    return cur.fetchall() if cur.description else cur.statusmessage


@pytest.mark.parametrize("sql", BENIGN, ids=[f"{i:02d}-{s[7:47]}" for i, s in enumerate(BENIGN)])
def test_benign_query_is_allowed_and_returns_what_postgresql_returns(env, pair, sql):
    via, direct = pair
    expected = _fetch(direct, sql)
    assert _fetch(via, sql) == expected


BENIGN_PARAMS = [
    ("SELECT id, note FROM atk_t WHERE id = %s OR note = %s ORDER BY id", (2, "charlie")),
    ("SELECT region, sum(amount) FROM atk_sales WHERE sold_on >= %s::date GROUP BY region "
     "ORDER BY 1", ("2024-06-01",)),
    ("SELECT body->>%s FROM atk_docs WHERE body @> %s::jsonb ORDER BY id",
     ("name", '{"vip": true}')),
    ("SELECT * FROM generate_series(%s::int, %s::int) g", (3, 7)),
    ("SELECT %s::text, %s::int, %s::numeric, %s::bool, %s::date", ("x'; DROP TABLE atk_t; --",
                                                                  42, "1.5", True, "2024-02-29")),
    ("SELECT set_config('search_path', %s, false)", ("public",)),
]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
@pytest.mark.parametrize("sql,params", [
    pytest.param(s, p, id=s[:40]) for s, p in BENIGN_PARAMS])
def test_benign_prepared_query_with_parameters(env, pair, sql, params, binary):
    via, direct = pair
    expected = _fetch(direct, sql, params, binary=binary, prepare=True)
    assert _fetch(via, sql, params, binary=binary, prepare=True) == expected
    # Twice: the second execution reuses the server-side prepared statement.
    assert _fetch(via, sql, params, binary=binary, prepare=True) == expected


def test_benign_cursor_and_transaction_flow(env, guard, pair):
    via, direct = pair
    script = [
        "BEGIN READ ONLY",
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ",
        "SET LOCAL statement_timeout = 500",
        "DECLARE c SCROLL CURSOR FOR SELECT id, region, amount FROM atk_sales ORDER BY id",
        "FETCH 3 FROM c",
        "MOVE FORWARD 10 IN c",
        "FETCH NEXT FROM c",
        "FETCH PRIOR FROM c",
        "FETCH ABSOLUTE 100 FROM c",
        "CLOSE c",
        "SAVEPOINT s1",
        "SELECT count(*) FROM atk_docs",
        "ROLLBACK TO SAVEPOINT s1",
        "COMMIT",
        "PREPARE q (int) AS SELECT note FROM atk_t WHERE id = $1",
        "EXECUTE q(3)",
        "DEALLOCATE q",
        "DECLARE h CURSOR WITH HOLD FOR SELECT * FROM atk_tree ORDER BY id",
        "FETCH ALL FROM h",
        "CLOSE h",
        "SET search_path TO public",
        "SET statement_timeout = '1500ms'",
        "RESET statement_timeout",
        "SHOW search_path",
        "RESET search_path",
    ]
    for sql in script:
        assert _fetch(via, sql) == _fetch(direct, sql), sql
    with via.cursor(name="server_side") as cur:  # psycopg server-side cursor (DECLARE/FETCH)
        via.execute("BEGIN")
        cur.execute("SELECT id FROM atk_sales ORDER BY id")
        assert [r[0] for r in cur.fetchmany(5)] == [1, 2, 3, 4, 5]
        via.execute("COMMIT")
    assert_unchanged(guard, env.state())
