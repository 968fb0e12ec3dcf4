"""Hot reload (SIGHUP or a change of the config file) and policy limits.

A reload installs the new config whole for new sessions and for the next
statement of every session; prepared statements are re-judged by the new
policy; an invalid config is rejected whole while the old one keeps serving;
a session whose access the reload revoked or changed in a way the upstream
login cannot follow ends at its next statement."""

from __future__ import annotations

import copy
import os
import signal
import uuid

import psycopg
import pytest

import harness

pytestmark = pytest.mark.skipif(harness.direct_mode(), reason="gateway feature")


def policies(alice_access="write", alice_deny=None, limits=None, with_alice=True):
    out = []
    if with_alice:
        p = {"name": "alice-policy", "subjects": {"ids": ["alice"]}, "connections": ["app"],
             "access": alice_access}
        if alice_deny:
            p["deny"] = alice_deny
        if limits:
            p["limits"] = limits
        out.append(p)
    out.append({"name": "bob-policy", "subjects": {"ids": ["bob"]}, "connections": ["app"],
                "access": "write"})
    return out


@pytest.fixture
def table(pg):
    name = "rl_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id int)")
        c.execute(f"INSERT INTO {name} SELECT generate_series(1, 50)")
    yield name
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")


def count(pg, table):
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        return c.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def reloads(gw) -> int:
    return gw.log_text().count("config reloaded")


def rejections(gw) -> int:
    return gw.log_text().count("config reload")  - reloads(gw)


def rewrite(gw, new_policies=None, *, text=None, hup=True, expect="reloaded"):
    """Writes a new config (policies replaced, or raw text), optionally sends
    SIGHUP, and waits until the gateway logs the outcome."""
    before_ok, before_bad = reloads(gw), rejections(gw)
    if text is None:
        cfg = copy.deepcopy(gw.config)
        cfg["policies"] = new_policies
        text = harness.to_yaml(cfg)
    gw.config_path.write_text(text)
    if hup:
        os.kill(gw.proc.pid, signal.SIGHUP)
    if expect == "reloaded":
        harness.wait_for(lambda: reloads(gw) > before_ok, 10, "the reload")
    else:
        harness.wait_for(lambda: rejections(gw) > before_bad, 10, "the rejection")


@pytest.fixture
def gw(module_gateway):
    # One gateway per test: each test rewrites the config.
    return module_gateway.start(extra={"policies": policies()})


def test_sighup_applies_a_new_deny_rule_to_open_sessions(gw, table, pg):
    with gw.connect(user="alice") as c:
        c.execute(f"INSERT INTO {table} VALUES (100)")
        rewrite(gw, policies(alice_deny=[{"table": table, "writes": True}]))
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as ei:
            c.execute(f"INSERT INTO {table} VALUES (101)")
        assert "deny[1]" in str(ei.value) or "deny" in str(ei.value)
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (51,)
    # New sessions see it too; other tables are still writable.
    with gw.connect(user="alice") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"DELETE FROM {table} WHERE id = 1")
    assert count(pg, table) == 51


def test_a_changed_file_reloads_without_a_signal(gw, table, pg):
    with gw.connect(user="alice") as c:
        rewrite(gw, policies(alice_deny=[{"table": table}]), hup=False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"SELECT * FROM {table}")
        c.execute("SELECT 1")


def test_an_invalid_config_is_rejected_whole_and_the_old_one_keeps_serving(gw, table, pg):
    with gw.connect(user="alice") as c:
        # A valid policy change next to an invalid one: neither applies.
        bad = policies(alice_deny=[{"table": table}])
        bad[1]["connections"] = ["no-such-connection"]
        rewrite(gw, bad, expect="rejected")
        rewrite(gw, text="listen: [unclosed\n", expect="rejected")
        assert gw.alive()
        c.execute(f"INSERT INTO {table} VALUES (7)")
    with gw.connect(user="alice") as c:
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (51,)
    assert "no-such-connection" in gw.log_text()
    # A fixed file is picked up.
    rewrite(gw, policies(alice_deny=[{"table": table}]))
    with gw.connect(user="alice") as c, pytest.raises(psycopg.errors.InsufficientPrivilege):
        c.execute(f"SELECT * FROM {table}")


def test_prepared_statements_are_rejudged_by_the_reloaded_policy(gw, table, pg):
    with gw.connect(user="alice") as c:
        # Protocol-level (Parse/Bind) and SQL-level (PREPARE/EXECUTE).
        for i in range(3):
            c.execute(f"INSERT INTO {table} VALUES (%s)", (200 + i,), prepare=True)
        c.execute(f"PREPARE ins AS INSERT INTO {table} VALUES ($1)")
        c.execute("EXECUTE ins(300)")
        assert count(pg, table) == 54
        rewrite(gw, policies(alice_deny=[{"table": table, "writes": True}]))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"INSERT INTO {table} VALUES (%s)", (203,), prepare=True)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("EXECUTE ins(301)")
        # Reads prepared before the reload still run.
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (54,)
    assert count(pg, table) == 54


def test_a_session_whose_policy_is_removed_ends_at_its_next_statement(gw, table, pg):
    with gw.connect(user="alice") as c, gw.connect(user="bob") as b:
        c.execute("BEGIN")
        c.execute(f"SELECT count(*) FROM {table}")
        rewrite(gw, policies(with_alice=False))
        # Mid-transaction the next statement is the boundary: access is gone.
        with pytest.raises(psycopg.OperationalError) as ei:
            c.execute(f"SELECT count(*) FROM {table}")
        assert "configuration reload" in str(ei.value)
        # Bob's session carries on under the new config.
        assert b.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError):
        gw.connect(user="alice")


def test_a_policy_turning_read_only_ends_sessions_that_logged_in_read_write(gw, table, pg):
    with gw.connect(user="alice") as c:
        c.execute("SELECT 1")
        rewrite(gw, policies(alice_access="read"))
        with pytest.raises(psycopg.OperationalError) as ei:
            c.execute("SELECT 1")
        assert "read-only" in str(ei.value)
    with gw.connect(user="alice") as c:
        assert c.execute("SHOW default_transaction_read_only").fetchone() == ("on",)


def test_max_rows_cuts_results_with_a_warning(module_gateway, table, pg):
    gw = module_gateway.start(extra={"policies": policies(limits={"max_rows": 10})})
    notices = []
    with gw.connect(user="alice") as c:
        c.add_notice_handler(lambda d: notices.append(d.message_primary))
        cur = c.execute(f"SELECT id FROM {table} ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == list(range(1, 11))
        assert cur.rowcount == 10
        assert any("max_rows" in n and "40 more rows" in n for n in notices)
        # Small results are untouched; the session is fine.
        assert c.execute(f"SELECT id FROM {table} WHERE id < 4").fetchall() == [(1,), (2,), (3,)]
        # Each FETCH is a statement with its own limit.
        with c.transaction():
            c.execute(f"DECLARE cur CURSOR FOR SELECT id FROM {table} ORDER BY id")
            assert len(c.execute("FETCH 20 FROM cur").fetchall()) == 10
            assert c.execute("FETCH 5 FROM cur").fetchall()[0] == (21,)


def test_statement_timeout_is_enforced_by_the_server_and_cannot_be_lifted(module_gateway, pg):
    gw = module_gateway.start(extra={"policies": policies(limits={"statement_timeout": "300ms"})})
    with gw.connect(user="alice") as c:
        assert c.execute("SHOW statement_timeout").fetchone() == ("300ms",)
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(2)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SET statement_timeout = 0")
        c.execute("SET statement_timeout = '100ms'")
        c.execute("RESET statement_timeout")
        assert c.execute("SHOW statement_timeout").fetchone() == ("300ms",)
