"""Policy enforcement end to end: a denied statement never reaches the
server, the client gets 42501 naming the policy and rule, and the session is
left exactly as PostgreSQL leaves it after a failed statement — an explicit
transaction aborted, an extended pipeline skipped to Sync with its implicit
transaction rolled back — and stays usable."""

from __future__ import annotations

import struct
import uuid

import psycopg
import pytest

import pgwire

POLICIES = [
    {"name": "agents-read", "subjects": {"ids": ["alice"]}, "connections": ["app"],
     "access": "read"},
    {"name": "writers", "subjects": {"ids": ["bob"]}, "connections": ["app"],
     "access": "write"},
]


@pytest.fixture(scope="module")
def pgw(module_gateway):
    return module_gateway.start(extra={"policies": POLICIES})


@pytest.fixture
def table(pg):
    name = "pol_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id int, note text)")
        c.execute(f"INSERT INTO {name} VALUES (1, 'keep')")
    yield name
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")


def rows(pg, table):
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        return c.execute(f"SELECT id, note FROM {table} ORDER BY id").fetchall()


def test_read_policy_allows_select_and_denies_writes_with_a_clear_error(pgw, table, pg):
    with pgw.connect(user="alice") as c:
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as ei:
            c.execute(f"UPDATE {table} SET note = 'x' WHERE id = 1")
        diag = ei.value.diag
        assert 'policy "agents-read"' in diag.message_primary
        assert diag.message_hint and "read" in diag.message_hint
        # The session is still usable.
        assert c.execute("SELECT 42").fetchone() == (42,)
    assert rows(pg, table) == [(1, "keep")]


def test_denied_statement_aborts_the_explicit_transaction(pgw, table, pg):
    with pgw.connect(user="bob") as c:
        c.execute("BEGIN")
        c.execute(f"INSERT INTO {table} VALUES (2, 'in tx')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="without WHERE"):
            c.execute(f"DELETE FROM {table}")
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            c.execute("SELECT 1")
        cur = c.execute("COMMIT")
        assert cur.statusmessage == "ROLLBACK"
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert rows(pg, table) == [(1, "keep")]


def test_multi_statement_query_runs_nothing_if_one_statement_is_denied(pgw, table, pg):
    conn = pgwire.connect(pgw.params(user="bob"))
    try:
        res = conn.simple_query(f"INSERT INTO {table} VALUES (3, 'first'); DELETE FROM {table}")
        assert res.error is not None and res.error["C"] == "42501", res.error
        assert res.tags == [], "no statement of a denied query may run"
        assert res.status == b"I"
        assert conn.simple_query("SELECT 'alive'").rows == [["alive"]]
    finally:
        conn.close()
    assert rows(pg, table) == [(1, "keep")]


def _parse(sql, name=b""):
    return pgwire.msg(b"P", name + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))


def _bind(name=b""):
    return pgwire.msg(b"B", b"\0" + name + b"\0" + struct.pack("!hhh", 0, 0, 0))


def _execute():
    return pgwire.msg(b"E", b"\0" + struct.pack("!i", 0))


def test_denied_statement_in_a_pipeline_skips_to_sync_and_rolls_back(pgw, table, pg):
    conn = pgwire.connect(pgw.params(user="bob"))
    try:
        conn.send(_parse(f"INSERT INTO {table} VALUES (4, 'pipelined')") + _bind() + _execute()
                  + _parse(f"DELETE FROM {table}") + _bind() + _execute()
                  + _parse("SELECT 1") + _bind() + _execute()
                  + pgwire.msg(b"S"))
        seen = []
        while True:
            tag, body = conn.read_msg()
            seen.append(tag)
            if tag == b"E":
                err = pgwire.parse_error_fields(body)
            if tag == b"Z":
                assert body == b"I"
                break
        # INSERT parsed, bound and ran; the DELETE's Parse failed; the rest was skipped.
        assert seen == [b"1", b"2", b"C", b"E", b"Z"], seen
        assert err["C"] == "42501" and "without WHERE" in err["M"]
        assert conn.simple_query("SELECT 'alive'").rows == [["alive"]]
    finally:
        conn.close()
    # The implicit transaction rolled back: the INSERT before the denial is gone.
    assert rows(pg, table) == [(1, "keep")]


def test_read_only_policy_pins_the_upstream_session_read_only(pgw):
    with pgw.connect(user="alice") as c:
        assert c.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="security_settings"):
            c.execute("SET default_transaction_read_only = off")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("BEGIN READ WRITE")


def test_denied_text_never_reaches_the_server(pgw, table, pg):
    marker = "never_" + uuid.uuid4().hex
    with pgw.connect(user="alice") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"DROP TABLE {table} /* {marker} */")
    with pg.admin() as a:
        seen = a.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s",
                         (f"%{marker}%",)).fetchone()[0]
    assert seen == 0
    assert rows(pg, table) == [(1, "keep")]


def test_subject_without_a_policy_is_refused_at_connect(module_gateway):
    gw = module_gateway.start(extra={"policies": [POLICIES[1]]})
    with pytest.raises(psycopg.OperationalError, match='no policy allows subject "alice"'):
        gw.connect(user="alice")
    with gw.connect(user="bob") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_policy_sessions_are_read_by_the_server_as_the_gateway_read_them(pgw):
    # A client-only multibyte encoding could hide a quote inside a character.
    with pytest.raises(psycopg.OperationalError, match="client_encoding"):
        psycopg.connect(pgw.dsn(user="alice"), client_encoding="SJIS")
    with pgw.connect(user="alice") as c:
        assert c.execute("SHOW standard_conforming_strings").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="parser_settings"):
            c.execute("SET standard_conforming_strings = off")


def test_invalid_mask_rules_stop_the_gateway_with_the_key_named(module_gateway):
    """A custom detector RE2 rejects is a config error at start, naming the
    rule, not a policy that silently masks nothing."""
    policies = [dict(POLICIES[0], mask=[{"detect": {"pattern": "(unclosed", "name": "x"},
                                         "with": "redact"}])]
    gw = module_gateway.build(extra={"policies": policies})
    code, out = module_gateway.run_to_exit(gw)
    assert code == 2, out
    assert "policies[0].mask[0].detect.pattern" in out
