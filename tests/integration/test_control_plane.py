"""The control plane beyond single reviews (docs/api.md, docs/approvals.md):
review rules on the planner's row estimate, just-in-time access through the
CLI, policies read, validated and replaced over the API (hot reload), live
sessions listed and terminated, health and metrics, and the state store
(reviews, grants, registered connections) surviving a restart with its
credentials sealed."""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import uuid

import psycopg
import pytest

from harness import clean_env, gateway_bin, run, wait_for
from test_approvals import api, ok, pending_review, start_control_gateway

MASTER_KEY = uuid.uuid4().hex + uuid.uuid4().hex

POLICIES = [
    {"name": "big-reads", "subjects": {"groups": ["analyst"]}, "connections": ["app"],
     "access": "read",
     "review": [{"estimated_rows": 1000, "reason": "large result sets need a human"}],
     "approval": {"mode": "retry", "approvers": ["dba"], "retry_ttl": "5m"}},
    {"name": "jit-readers", "subjects": {"groups": ["jit"]}, "connections": ["app"],
     "access": "read", "jit": {"max_level": "write", "max_duration": "2h"},
     "approval": {"approvers": ["dba"]}},
    {"name": "held", "subjects": {"groups": ["holder"]}, "connections": ["app"],
     "access": "write", "review": [{"kind": "delete"}],
     "approval": {"mode": "wait", "approvers": ["dba"], "timeout": "5m"}},
    {"name": "bulk-writes", "subjects": {"groups": ["bulk"]}, "connections": ["app"],
     "access": "write", "review": [{"kind": "delete", "estimated_rows": 100}],
     "approval": {"mode": "retry", "approvers": ["dba"]}},
    {"name": "interns", "subjects": {"groups": ["intern"]}, "connections": ["app"],
     "access": "read", "review_access": "write",
     "approval": {"mode": "retry", "approvers": ["dba"]}},
    {"name": "alice-anywhere", "subjects": {"ids": ["alice"]}, "connections": ["*"],
     "access": "read"},
]


@pytest.fixture(scope="module")
def cgw(module_gateway):
    return start_control_gateway(
        module_gateway,
        extra={
            "policies": POLICIES,
            "api": {"roles": {"admin": ["platform"], "approver": ["dba"],
                              "auditor": ["audit"]}},
            "state": {"path": "state/state.db", "master_key": "${env:PGW_IT_MASTER_KEY}"},
        },
        env={"PGW_IT_MASTER_KEY": MASTER_KEY},
        tokens=[("carol", "dba"), ("audra", "audit"), ("pat", "platform"), ("ana", "analyst"),
                ("jay", "jit"), ("hal", "holder"), ("bo", "bulk"), ("ian", "intern")])


def as_token(gw, name: str):
    return psycopg.connect(host=gw.host, port=gw.port, user=name, dbname="app",
                           password=gw.tokens[name], sslmode="require", autocommit=True)


def review_id_of(error: psycopg.Error) -> str:
    m = re.search(r"rv_[0-9a-f]{20}", error.diag.message_primary or "")
    assert m, error
    return m.group(0)


def cli(gw, token: str, *args: str, check: bool = True):
    env = clean_env(PGWARDEN_API=gw.api, PGWARDEN_TOKEN=gw.tokens[token])
    return run([gateway_bin(), *args], env=env, timeout=30, check=check)


@pytest.fixture
def table(pg):
    name = "cp_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id int primary key, note text)")
        c.execute(f"GRANT ALL ON {name} TO PUBLIC")
    yield name
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")


# ------------------------------------------------------- estimated rows rule

def test_the_planners_estimate_decides_a_review_rule(cgw):
    with as_token(cgw, "ana") as c:
        # Small estimates run without asking.
        assert c.execute("SELECT count(*) FROM generate_series(1, 10)").fetchone() == (10,)
        assert len(c.execute("SELECT g FROM generate_series(1, 500) g").fetchall()) == 500
        with pytest.raises(psycopg.Error) as ei:
            c.execute("SELECT g FROM generate_series(1, 200000) g")
        assert ei.value.sqlstate == "PW001", ei.value
        rid = review_id_of(ei.value)
        review = ok(cgw, "GET", f"/api/reviews/{rid}", token=cgw.tokens["carol"])
        assert review["policy"] == "big-reads" and review["rule"] == "review[0]"
        assert review["estimated_rows"] == 200000
        assert review["estimated_cost"] > 0
        assert review["reason"].endswith("large result sets need a human")
        # The approver sees what the session ran before.
        assert any("generate_series(1, 500)" in s or "generate_series($1, $2)" in s
                   for s in review["recent_statements"]), review["recent_statements"]
        ok(cgw, "POST", f"/api/reviews/{rid}/approve", token=cgw.tokens["carol"], body={})
        assert len(c.execute("SELECT g FROM generate_series(1, 200000) g").fetchall()) == 200000


def test_the_estimate_uses_bound_parameters(cgw):
    sql = "SELECT g FROM generate_series(1, %s::int) g"
    with as_token(cgw, "ana") as c:
        assert len(c.execute(sql, (50,), prepare=False).fetchall()) == 50
        with pytest.raises(psycopg.Error) as ei:
            c.execute(sql, (50000,), prepare=False)
        assert ei.value.sqlstate == "PW001", ei.value
        review = ok(cgw, "GET", f"/api/reviews/{review_id_of(ei.value)}",
                    token=cgw.tokens["carol"])
        assert review["estimated_rows"] == 50000
        assert review["parameters"] == ["50000"]


def test_a_write_is_estimated_by_the_rows_it_changes(cgw, table, pg):
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"INSERT INTO {table} SELECT g, 'n' FROM generate_series(1, 5000) g")
        c.execute(f"ANALYZE {table}")
    with as_token(cgw, "bo") as c:
        assert c.execute(f"DELETE FROM {table} WHERE id = 1").statusmessage == "DELETE 1"
        with pytest.raises(psycopg.Error) as ei:
            c.execute(f"DELETE FROM {table} WHERE id <= 3000")
        assert ei.value.sqlstate == "PW001", ei.value
        review = ok(cgw, "GET", f"/api/reviews/{review_id_of(ei.value)}",
                    token=cgw.tokens["carol"])
        assert 2000 < review["estimated_rows"] < 4000, review["estimated_rows"]
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (4999,)


def test_the_estimate_runs_on_a_read_only_connection(cgw, table, pg):
    # A function wrongly declared IMMUTABLE is run by the planner itself
    # (constant folding), so EXPLAIN alone would execute its INSERT. On the
    # read-only estimate connection it cannot: EXPLAIN fails, and the
    # statement goes to review (fails closed) without anything written.
    marker = table + "_marks"
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"CREATE TABLE {marker} (n int)")
        c.execute(f"GRANT ALL ON {marker} TO PUBLIC")
        c.execute(f"CREATE FUNCTION {marker}_f() RETURNS int IMMUTABLE LANGUAGE plpgsql AS "
                  f"$$ BEGIN INSERT INTO {marker} VALUES (1); RETURN 1; END $$")
    try:
        with as_token(cgw, "bo") as c:
            with pytest.raises(psycopg.Error) as ei:
                c.execute(f"DELETE FROM {table} WHERE id = {marker}_f()")
            assert ei.value.sqlstate == "PW001", ei.value
        with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
            assert c.execute(f"SELECT count(*) FROM {marker}").fetchone() == (0,)
    finally:
        with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
            c.execute(f"DROP FUNCTION IF EXISTS {marker}_f()")
            c.execute(f"DROP TABLE IF EXISTS {marker}")


# ---------------------------------------------------- review_access on read

def test_a_write_approved_under_review_access_runs_on_a_read_policy(cgw, table, pg):
    with as_token(cgw, "ian") as c:
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (0,)
        with pytest.raises(psycopg.Error) as ei:
            c.execute(f"INSERT INTO {table} VALUES (1, 'approved')")
        assert ei.value.sqlstate == "PW001", ei.value
        ok(cgw, "POST", f"/api/reviews/{review_id_of(ei.value)}/approve",
           token=cgw.tokens["carol"], body={})
        assert c.execute(f"INSERT INTO {table} VALUES (1, 'approved')").statusmessage \
            == "INSERT 0 1"
        # Without an approval a write is still asked for, never run.
        with pytest.raises(psycopg.Error) as again:
            c.execute(f"INSERT INTO {table} VALUES (2, 'not approved')")
        assert again.value.sqlstate == "PW001"
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        assert c.execute(f"SELECT id FROM {table}").fetchall() == [(1,)]


# ------------------------------------------------------------- JIT by the CLI

def test_jit_access_through_the_cli(cgw, table, pg):
    with as_token(cgw, "jay") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"INSERT INTO {table} VALUES (1, 'before')")
    asked = cli(cgw, "jay", "access", "request", "--connection", "app", "--level", "write",
                "--for", "1h", "--reason", "backfill the cp table")
    rid = re.search(r"ar_[0-9a-f]{20}", asked.stdout).group(0)
    listed = cli(cgw, "carol", "access", "list", "--state", "pending")
    assert rid in listed.stdout and "backfill the cp table" in listed.stdout
    # The requester cannot approve its own request.
    refused = cli(cgw, "jay", "access", "approve", rid, check=False)
    assert refused.returncode != 0
    cli(cgw, "carol", "access", "approve", rid, "--comment", "ok for an hour")
    with as_token(cgw, "jay") as c:
        c.execute(f"INSERT INTO {table} VALUES (1, 'granted')")
        # Revoked mid-session: the next statement is decided at read again.
        cli(cgw, "carol", "access", "revoke", rid, "--comment", "done")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"INSERT INTO {table} VALUES (2, 'after')")
        assert c.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    assert ok(cgw, "GET", f"/api/access-requests/{rid}",
              token=cgw.tokens["audra"])["state"] == "revoked"


# ------------------------------------------------------------------ policies

def test_policies_are_read_validated_and_replaced_with_a_hot_reload(cgw, table):
    current = ok(cgw, "GET", "/api/policies", token=cgw.tokens["audra"])
    assert [p["name"] for p in current["policies"]] == [p["name"] for p in POLICIES]
    original_yaml = current["yaml"]
    assert original_yaml.startswith("policies:")

    bad = "policies:\n  - name: x\n    subjects: { ids: [alice] }\n    connections: [prdo]\n"
    result = ok(cgw, "POST", "/api/policies/validate", token=cgw.tokens["audra"],
                body={"yaml": bad})
    assert result["valid"] is False
    assert "prdo" in result["errors"][0]["message"] and result["errors"][0]["line"] == 4

    # alice may no longer read one table.
    changed = json.loads(json.dumps(current["policies"]))
    alice = next(p for p in changed if p["name"] == "alice-anywhere")
    alice["deny"] = [{"table": f"public.{table}", "reason": "closed for now"}]
    stricter = "policies: " + json.dumps(changed) + "\n"
    status, body = api(cgw, "PUT", "/api/policies", token=cgw.tokens["carol"],
                       body={"yaml": stricter})
    assert status == 403, body
    status, body = api(cgw, "PUT", "/api/policies", token=cgw.tokens["pat"], body={"yaml": bad})
    assert status == 400 and body["valid"] is False, body
    try:
        replaced = ok(cgw, "PUT", "/api/policies", token=cgw.tokens["pat"],
                      body={"yaml": stricter})
        assert replaced["reloaded"] is True
        with cgw.connect(user="alice") as c:
            with pytest.raises(psycopg.errors.InsufficientPrivilege) as ei:
                c.execute(f"SELECT * FROM {table}")
            assert "closed for now" in str(ei.value)
        assert "closed for now" in cgw.config_path.read_text()
    finally:
        ok(cgw, "PUT", "/api/policies", token=cgw.tokens["pat"], body={"yaml": original_yaml})
    with cgw.connect(user="alice") as c:
        c.execute(f"SELECT * FROM {table}")


# ------------------------------------------------------------------ sessions

def test_sessions_are_listed_and_terminated(cgw):
    victim = cgw.connect(user="alice", application_name="victim")
    victim.execute("SELECT 1")

    def mine():
        found = ok(cgw, "GET", "/api/sessions", token=cgw.tokens["audra"])["sessions"]
        return next((s for s in found if s["subject"]["id"] == "alice"
                     and s["statements"] >= 1), None)
    session = wait_for(mine, 10, "alice's session in /api/sessions")
    assert session["connection"] == "app" and session["policy"] == "alice-anywhere"
    assert session["state"] == "idle"
    path = f"/api/sessions/{session['id']}?reason=runaway%20agent"
    status, body = api(cgw, "DELETE", path, token=cgw.tokens["audra"])
    assert status == 403, body
    assert ok(cgw, "DELETE", path, token=cgw.tokens["pat"]) == {"terminated": session["id"]}
    with pytest.raises(psycopg.OperationalError) as ei:
        victim.execute("SELECT 1")
    assert "runaway agent" in str(ei.value) or victim.closed
    victim.close()
    status, body = api(cgw, "DELETE", path, token=cgw.tokens["pat"])
    assert status == 404, body
    status, body = api(cgw, "DELETE", "/api/sessions/abc", token=cgw.tokens["pat"])
    assert status == 400, body

    def audited():
        # The audit writer commits in rounds (audit.flush_interval): poll.
        events = ok(cgw, "GET", "/api/audit?subject=pat&limit=1000",
                    token=cgw.tokens["audra"])["events"]
        return any(e.get("type") == "api_action" and e.get("reason") == "session.terminate"
                   for e in events)
    wait_for(audited, 10, "the session.terminate action in the audit trail")


def test_session_waiting_for_review_shows_its_review(cgw, table):
    with psycopg.connect(pg_dsn_of(cgw, "hal"), autocommit=True) as c:
        t = threading.Thread(target=lambda: _swallow(c, f"DELETE FROM {table} WHERE id = 1"),
                             daemon=True)
        t.start()

        def waiting():
            found = ok(cgw, "GET", "/api/sessions", token=cgw.tokens["audra"])["sessions"]
            return next((s for s in found if s["subject"]["id"] == "hal"
                         and s["state"] == "waiting for review"), None)
        session = wait_for(waiting, 15, "hal's session waiting for review")
        assert re.fullmatch(r"rv_[0-9a-f]{20}", session["review_id"])
        ok(cgw, "POST", f"/api/reviews/{session['review_id']}/deny", token=cgw.tokens["carol"],
           body={"comment": "no"})
        t.join(15)
        assert not t.is_alive()


def test_a_client_that_vanishes_while_waiting_withdraws_its_review(cgw, table, pg):
    # A raw socket speaking just enough protocol: startup over TLS is psycopg's
    # job, so use psycopg and then shut its socket down under it.
    conn = psycopg.connect(pg_dsn_of(cgw, "hal"), autocommit=True)
    t = threading.Thread(target=lambda: _swallow(conn, f"DELETE FROM {table} WHERE id = 42"),
                         daemon=True)
    t.start()

    review = pending_review(cgw, f"DELETE FROM {table} WHERE id = 42")
    socket.socket(fileno=os.dup(conn.pgconn.socket)).shutdown(socket.SHUT_RDWR)

    def withdrawn():
        r = ok(cgw, "GET", f"/api/reviews/{review['id']}", token=cgw.tokens["carol"])
        return r if r["state"] == "withdrawn" else None
    assert "disconnected" in wait_for(withdrawn, 10, "the review to be withdrawn")[
        "outcome_message"]
    status, body = api(cgw, "POST", f"/api/reviews/{review['id']}/approve",
                       token=cgw.tokens["carol"], body={})
    assert status == 409, body
    t.join(15)
    conn.close()


def pg_dsn_of(gw, name):
    return (f"host={gw.host} port={gw.port} user={name} dbname=app "
            f"password={gw.tokens[name]} sslmode=require")


def _swallow(conn, sql):
    try:
        conn.execute(sql)
    except psycopg.Error:
        pass


# ------------------------------------------------------------ health, metrics

def test_health_readiness_and_metrics(cgw):
    status, body = api(cgw, "GET", "/healthz")
    assert status == 200
    status, body = api(cgw, "GET", "/readyz")
    assert status == 200 and body == {"ready": True}, body
    with cgw.connect(user="alice") as c:
        c.execute("SELECT 1")
    text = api(cgw, "GET", "/metrics")[1]
    for series in ("pgwarden_sessions_total", "pgwarden_sessions_active",
                   "pgwarden_statements_total{decision=\"allow\"}",
                   "pgwarden_statement_duration_seconds_bucket{le=\"+Inf\"}",
                   "pgwarden_upstream_errors_total", "pgwarden_audit_queue_depth",
                   "pgwarden_reviews_pending", "pgwarden_api_requests_total"):
        assert series in text, series
    allowed = re.search(r'^pgwarden_statements_total\{decision="allow"\} (\d+)$', text, re.M)
    assert int(allowed.group(1)) >= 1


# ---------------------------------------------------------- state and restart

def test_state_survives_a_restart_and_credentials_are_sealed(cgw, pg, table):
    # A pending review, a live grant and a registered connection...
    with as_token(cgw, "ana") as c:
        with pytest.raises(psycopg.Error) as ei:
            c.execute("SELECT g FROM generate_series(1, 300000) g")
    pending = review_id_of(ei.value)
    grant = ok(cgw, "POST", "/api/access-requests", token=cgw.tokens["jay"],
               body={"connection": "app", "level": "write", "duration": "1h",
                     "reason": "restart test"})
    ok(cgw, "POST", f"/api/access-requests/{grant['id']}/approve", token=cgw.tokens["carol"],
       body={})
    password = pg.passwords["gw_scram"]
    name = "kept_" + uuid.uuid4().hex[:6]
    ok(cgw, "POST", "/api/connections", token=cgw.tokens["pat"],
       body={"name": name, "host": "127.0.0.1", "port": pg.port, "database": "app",
             "credentials": {"main": {"user": "gw_scram", "password": password}}})

    # ...are all there after a restart.
    problems = cgw.stop()
    assert problems == [], problems
    state_db = cgw.workdir / "state" / "state.db"
    raw = b"".join(p.read_bytes() for p in state_db.parent.iterdir() if p.is_file())
    assert password.encode() not in raw and MASTER_KEY.encode() not in raw
    cgw.stopped = False
    cgw.start()
    assert ok(cgw, "GET", f"/api/reviews/{pending}", token=cgw.tokens["carol"])["state"] \
        == "pending"
    ok(cgw, "POST", f"/api/reviews/{pending}/approve", token=cgw.tokens["carol"], body={})
    with as_token(cgw, "ana") as c:
        assert len(c.execute("SELECT g FROM generate_series(1, 300000) g").fetchall()) == 300000
    with as_token(cgw, "jay") as c:
        c.execute(f"INSERT INTO {table} VALUES (7, 'after restart')")
    with cgw.connect(user="alice", dbname=name) as c:
        assert c.execute("SELECT current_database()").fetchone() == ("app",)
    listed = json.dumps(ok(cgw, "GET", "/api/connections", token=cgw.tokens["pat"]))
    assert name in listed and password not in listed
    assert password not in cgw.log_text()
    ok(cgw, "DELETE", f"/api/connections/{name}", token=cgw.tokens["pat"])


def test_a_registered_connection_is_updated_and_deleted_at_once(cgw, pg):
    password = pg.passwords["gw_scram"]
    name = "upd_" + uuid.uuid4().hex[:6]

    def spec(pw, database="app"):
        return {"host": "127.0.0.1", "port": pg.port, "database": database,
                "credentials": {"main": {"user": "gw_scram", "password": pw}}}
    ok(cgw, "POST", "/api/connections", token=cgw.tokens["pat"],
       body={"name": name, **spec("wrong-" + password)})
    with pytest.raises(psycopg.OperationalError):
        cgw.connect(user="alice", dbname=name)
    status, body = api(cgw, "PUT", f"/api/connections/{name}", token=cgw.tokens["carol"],
                       body=spec(password))
    assert status == 403, body
    ok(cgw, "PUT", f"/api/connections/{name}", token=cgw.tokens["pat"], body=spec(password))
    with cgw.connect(user="alice", dbname=name) as c:
        assert c.execute("SELECT current_database()").fetchone() == ("app",)
    # Another database: sessions opened after the update use it.
    ok(cgw, "PUT", f"/api/connections/{name}", token=cgw.tokens["pat"],
       body=spec(password, "other"))
    with cgw.connect(user="alice", dbname=name) as c:
        assert c.execute("SELECT current_database()").fetchone() == ("other",)
    status, body = api(cgw, "PUT", "/api/connections/nosuch", token=cgw.tokens["pat"],
                       body=spec(password))
    assert status == 404, body
    ok(cgw, "DELETE", f"/api/connections/{name}", token=cgw.tokens["pat"])
    status, body = api(cgw, "DELETE", f"/api/connections/{name}", token=cgw.tokens["pat"])
    assert status == 404, body
    assert password not in cgw.log_text()


def test_a_held_review_is_withdrawn_when_the_gateway_stops(cgw, table):
    conn = psycopg.connect(pg_dsn_of(cgw, "hal"), autocommit=True)
    t = threading.Thread(target=lambda: _swallow(conn, f"DELETE FROM {table} WHERE id = 9"),
                         daemon=True)
    t.start()

    review = pending_review(cgw, f"DELETE FROM {table} WHERE id = 9")
    problems = cgw.stop()
    t.join(15)
    conn.close()
    assert problems == [], problems
    cgw.stopped = False
    cgw.start()
    # Nobody waits for it any more: it cannot be approved to run later.
    assert ok(cgw, "GET", f"/api/reviews/{review['id']}",
              token=cgw.tokens["carol"])["state"] == "withdrawn"
