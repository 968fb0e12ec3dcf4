"""Human approval end to end (docs/approvals.md): statements a policy sends to
review wait for an approver (wait mode) or must be re-sent after approval
(retry mode); just-in-time access grants; the REST API that approvers and
admins use, its roles and input checks; the webhook that announces reviews;
and connections registered over the API."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import uuid

import psycopg
import pytest

from harness import clean_env, gateway_bin, run, wait_for
from test_identity_tokens import create as create_token

WEBHOOK_SECRET = "hook-secret-" + uuid.uuid4().hex[:8]
MASTER_KEY = uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits

POLICIES = [
    {"name": "wait-deletes", "subjects": {"ids": ["alice"]}, "connections": ["app"],
     "access": "write",
     "review": [{"kind": "delete", "reason": "deletes need a human"}],
     "approval": {"mode": "wait", "approvers": ["dba"], "timeout": "4s"}},
    {"name": "retry-deletes", "subjects": {"ids": ["bob"]}, "connections": ["app"],
     "access": "write", "review": [{"kind": "delete"}],
     "approval": {"mode": "retry", "approvers": ["dba"], "retry_ttl": "1m"}},
    {"name": "self-review", "subjects": {"groups": ["selfish"]}, "connections": ["app"],
     "access": "write", "review": [{"kind": "delete"}],
     "approval": {"mode": "retry", "approvers": ["dba"]}},
    {"name": "jit-readers", "subjects": {"groups": ["jit"]}, "connections": ["app"],
     "access": "read", "jit": {"max_level": "write", "max_duration": "1h"},
     "approval": {"approvers": ["dba"]}},
    {"name": "alice-anywhere", "subjects": {"ids": ["alice"]}, "connections": ["*"],
     "access": "read"},
]


class Hooks(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Hooks.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def hook_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()


def start_control_gateway(factory, extra: dict, env: dict, tokens: list):
    """A gateway with TLS, service tokens and `extra` (policies, api, state,
    ...), started, with `api` (its HTTP base URL) and `tokens` (name -> a
    service token for `(name, "group,group")` in `tokens`). `env` holds the
    secrets that `extra` references; they are kept out of every log."""
    gw = factory.build(
        tls=factory.gateway_tls(),
        identity={"tokens": {"store": "tokens.json"}, "max_auth_failures_per_minute": 0},
        extra=extra)
    gw.env.update(env)
    gw.secrets = sorted(set(gw.secrets) | set(env.values()))
    factory.started.append(gw)
    gw.start()
    gw.api = "http://" + gw.config["listen"]["http"]
    gw.tokens = {name: create_token(gw, name, "--groups", groups) for name, groups in tokens}
    return gw


@pytest.fixture(scope="module")
def agw(module_gateway, hook_server):
    return start_control_gateway(
        module_gateway,
        extra={
            "policies": POLICIES,
            "api": {"roles": {"admin": ["platform"], "approver": ["dba"],
                              "auditor": ["audit"]}},
            "notifications": {"webhooks": [
                {"name": "ops", "url": f"http://127.0.0.1:{hook_server.server_port}/hook",
                 "secret": "${env:PGW_IT_HOOK_SECRET}"}]},
            "state": {"path": "state/state.db", "master_key": "${env:PGW_IT_MASTER_KEY}"},
        },
        env={"PGW_IT_HOOK_SECRET": WEBHOOK_SECRET, "PGW_IT_MASTER_KEY": MASTER_KEY},
        tokens=[("carol", "dba"), ("dave", "dba"), ("audra", "audit"), ("pat", "platform"),
                ("sam", "selfish,dba"), ("jay", "jit")])


def api(gw, method: str, path: str, *, token: str | None = None, body=None, raw: bytes | None = None,
        timeout: float = 30):
    """(status, parsed JSON or text) of one API call."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(gw.api + path, data=data, method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            status, text = r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        status, text = e.code, e.read().decode()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def ok(gw, method, path, **kw):
    status, body = api(gw, method, path, **kw)
    assert 200 <= status < 300, f"{method} {path}: {status} {body}"
    return body


@pytest.fixture
def table(pg):
    name = "appr_" + uuid.uuid4().hex[:8]
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"CREATE TABLE {name} (id int primary key, note text)")
        c.execute(f"INSERT INTO {name} SELECT g, 'row ' || g FROM generate_series(1, 5) g")
        c.execute(f"GRANT ALL ON {name} TO PUBLIC")
    yield name
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {name}")


def ids(pg, table):
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        return [r[0] for r in c.execute(f"SELECT id FROM {table} ORDER BY id")]


def pending_review(gw, statement_part: str, timeout: float = 15):
    """The pending review whose statement contains `statement_part`."""
    def find():
        body = ok(gw, "GET", "/api/reviews?state=pending", token=gw.tokens["carol"])
        return next((r for r in body["reviews"] if statement_part in r["statement"]), None)
    return wait_for(find, timeout, f"a pending review of {statement_part!r}")


class Waiting:
    """Runs one statement as alice (wait mode) on its own thread, keeping the
    notices the gateway sends meanwhile."""

    def __init__(self, gw, sql: str):
        self.conn = gw.connect(user="alice")
        self.notices: list = []
        # A Diagnostic is valid only inside the handler: keep its text.
        self.conn.add_notice_handler(
            lambda d: self.notices.append((d.sqlstate, d.message_primary, d.message_hint)))
        self.result = None
        self.error = None
        self.sql = sql
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            cur = self.conn.execute(self.sql)
            self.result = cur.statusmessage
        except Exception as e:  # the test inspects it
            self.error = e

    def join(self, timeout: float = 30):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the statement did not finish"
        return self


# ------------------------------------------------------------------ wait mode

def test_wait_mode_holds_the_statement_until_approved_over_rest(agw, table, pg):
    other = agw.connect(user="alice")
    other.execute(f"SELECT count(*) FROM {table}")
    w = Waiting(agw, f"DELETE FROM {table} WHERE id = 1")
    review = pending_review(agw, f"DELETE FROM {table}")
    # The client was told at once, with the review id.
    wait_for(lambda: w.notices, 10, "the review notice")
    assert w.notices[0][0] == "01000" and review["id"] in w.notices[0][1]
    assert "pgwarden review approve" in w.notices[0][2]
    # What the approver sees.
    assert review["subject"]["id"] == "alice"
    assert review["connection"] == "app"
    assert review["policy"] == "wait-deletes" and review["rule"] == "review[0]"
    assert review["statement"] == f"DELETE FROM {table} WHERE id = 1"
    assert "$1" in review["normalized"]
    assert any(table in t for t in review["tables"])
    assert review["mode"] == "wait"
    # Other sessions are not blocked, not even alice's own.
    assert other.execute("SELECT 7").fetchone() == (7,)
    assert ids(pg, table) == [1, 2, 3, 4, 5]
    decided = ok(agw, "POST", f"/api/reviews/{review['id']}/approve",
                 token=agw.tokens["carol"], body={"comment": "fine"})
    assert decided["state"] == "approved"
    w.join()
    assert w.error is None, w.error
    assert w.result == "DELETE 1"
    assert ids(pg, table) == [2, 3, 4, 5]
    # The session carries on normally.
    assert w.conn.execute("SELECT 1").fetchone() == (1,)
    other.close()
    w.conn.close()


def test_wait_mode_denial_fails_the_statement_and_keeps_the_session(agw, table, pg):
    w = Waiting(agw, f"DELETE FROM {table} WHERE id = 2")
    review = pending_review(agw, f"DELETE FROM {table} WHERE id = 2")
    ok(agw, "POST", f"/api/reviews/{review['id']}/deny", token=agw.tokens["carol"],
       body={"comment": "not today"})
    w.join()
    assert isinstance(w.error, psycopg.errors.InsufficientPrivilege), w.error
    assert "not today" in str(w.error) and review["id"] in str(w.error)
    assert ids(pg, table) == [1, 2, 3, 4, 5]
    assert w.conn.execute("SELECT 2").fetchone() == (2,)
    w.conn.close()


def test_wait_mode_times_out(agw, table, pg):
    start = time.monotonic()
    w = Waiting(agw, f"DELETE FROM {table} WHERE id = 3")
    w.join(30)
    assert isinstance(w.error, psycopg.errors.QueryCanceled), w.error
    assert "not decided" in str(w.error)
    assert time.monotonic() - start >= 3.5
    assert ids(pg, table) == [1, 2, 3, 4, 5]
    w.conn.close()


def test_cancel_withdraws_the_review(agw, table, pg):
    w = Waiting(agw, f"DELETE FROM {table} WHERE id = 4")
    review = pending_review(agw, f"DELETE FROM {table} WHERE id = 4")
    w.conn.cancel()
    w.join()
    assert isinstance(w.error, psycopg.errors.QueryCanceled), w.error
    assert ok(agw, "GET", f"/api/reviews/{review['id']}",
              token=agw.tokens["audra"])["state"] == "withdrawn"
    status, body = api(agw, "POST", f"/api/reviews/{review['id']}/approve",
                       token=agw.tokens["carol"], body={})
    assert status == 409, body
    assert ids(pg, table) == [1, 2, 3, 4, 5]
    w.conn.close()


def test_long_poll_returns_when_decided(agw, table):
    w = Waiting(agw, f"DELETE FROM {table} WHERE id = 5")
    review = pending_review(agw, f"DELETE FROM {table} WHERE id = 5")
    threading.Timer(0.5, lambda: api(agw, "POST", f"/api/reviews/{review['id']}/approve",
                                     token=agw.tokens["dave"], body={})).start()
    started = time.monotonic()
    body = ok(agw, "GET", f"/api/reviews/{review['id']}/wait?timeout=20",
              token=agw.tokens["carol"])
    assert body["state"] == "approved"
    assert time.monotonic() - started < 15
    w.join()
    assert w.result == "DELETE 1"
    w.conn.close()


# ----------------------------------------------------------------- retry mode

def test_retry_mode_runs_an_approved_statement_exactly_once(agw, table, pg):
    sql = f"DELETE FROM {table} WHERE id = 1"
    with agw.connect(user="bob") as c:
        with pytest.raises(psycopg.Error) as ei:
            c.execute(sql)
        assert ei.value.sqlstate == "PW001", ei.value
        m = re.search(r"rv_[0-9a-f]{20}", ei.value.diag.message_primary)
        assert m, ei.value.diag.message_primary
        review_id = m.group(0)
        # Asking again before approval points at the same review.
        with pytest.raises(psycopg.Error) as again:
            c.execute(sql)
        assert review_id in again.value.diag.message_primary
        ok(agw, "POST", f"/api/reviews/{review_id}/approve", token=agw.tokens["carol"], body={})
        assert ids(pg, table) == [1, 2, 3, 4, 5]
    with agw.connect(user="bob") as c:
        # Another statement is not covered by the approval.
        with pytest.raises(psycopg.Error) as other:
            c.execute(f"DELETE FROM {table} WHERE id = 2")
        assert other.value.sqlstate == "PW001"
        assert c.execute(sql).statusmessage == "DELETE 1"
        with pytest.raises(psycopg.Error) as third:
            c.execute(sql)
        assert third.value.sqlstate == "PW001"
        assert review_id not in third.value.diag.message_primary
    assert ids(pg, table) == [2, 3, 4, 5]
    assert ok(agw, "GET", f"/api/reviews/{review_id}",
              token=agw.tokens["carol"])["state"] == "consumed"


def test_retry_mode_matches_bound_parameters(agw, table, pg):
    sql = f"DELETE FROM {table} WHERE id = %s"
    with agw.connect(user="bob") as c:
        with pytest.raises(psycopg.Error) as ei:
            c.execute(sql, (3,))
        assert ei.value.sqlstate == "PW001"
        review_id = re.search(r"rv_[0-9a-f]{20}", ei.value.diag.message_primary).group(0)
        review = ok(agw, "GET", f"/api/reviews/{review_id}", token=agw.tokens["carol"])
        assert review["parameters"] == ["3"]
        ok(agw, "POST", f"/api/reviews/{review_id}/approve", token=agw.tokens["carol"], body={})
        with pytest.raises(psycopg.Error) as other:
            c.execute(sql, (4,))
        assert other.value.sqlstate == "PW001"
        assert c.execute(sql, (3,)).statusmessage == "DELETE 1"
    assert ids(pg, table) == [1, 2, 4, 5]


# -------------------------------------------------------------- roles and API

def test_self_approval_and_wrong_role_are_refused(agw, table, pg):
    with psycopg.connect(host=agw.host, port=agw.port, user="sam", dbname="app",
                         password=agw.tokens["sam"], sslmode="require",
                         autocommit=True) as c:
        with pytest.raises(psycopg.Error) as ei:
            c.execute(f"DELETE FROM {table} WHERE id = 5")
        review_id = re.search(r"rv_[0-9a-f]{20}", ei.value.diag.message_primary).group(0)
    status, body = api(agw, "POST", f"/api/reviews/{review_id}/approve",
                       token=agw.tokens["sam"], body={})
    assert status == 403 and "self-approval" in body["error"], body
    status, body = api(agw, "POST", f"/api/reviews/{review_id}/approve",
                       token=agw.tokens["audra"], body={})
    assert status == 403, body
    status, body = api(agw, "GET", "/api/reviews", token=None)
    assert status == 401, body
    status, body = api(agw, "GET", "/api/reviews", token="pgw_" + "x" * 43)
    assert status == 401, body
    assert ok(agw, "GET", f"/api/reviews/{review_id}", token=agw.tokens["audra"])["state"] \
        == "pending"


def test_api_input_validation(agw):
    carol = agw.tokens["carol"]
    good = {"connection": "app", "level": "write", "duration": "1h", "reason": "r"}
    for raw in (b"{", b"[1,2]", json.dumps({**good, "duration": 5}).encode(),
                json.dumps({**good, "extra": 1}).encode(),
                json.dumps({k: v for k, v in good.items() if k != "level"}).encode()):
        status, body = api(agw, "POST", "/api/access-requests", token=agw.tokens["jay"], raw=raw)
        assert status == 400, (raw, status, body)
        assert body["status"] == 400 and body["error"], body
    status, body = api(agw, "POST", "/api/reviews/rv_nope/approve", token=carol, body={})
    assert status == 404, body
    # An oversized body is refused from its Content-Length, before it is read.
    host, port = agw.config["listen"]["http"].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(b"POST /api/reviews/rv_00000000000000000000/approve HTTP/1.1\r\n"
                  b"Host: x\r\nAuthorization: Bearer " + carol.encode() +
                  b"\r\nContent-Type: application/json\r\nContent-Length: 4194304\r\n\r\n")
        reply = s.recv(65536).decode(errors="replace")
    assert reply.startswith("HTTP/1.1 413"), reply[:200]
    status, body = api(agw, "DELETE", "/api/reviews", token=carol)
    assert status == 405, body
    status, body = api(agw, "POST", "/api/access-requests", token=agw.tokens["jay"],
                       body={"connection": "app", "level": "admin", "duration": "1h",
                             "reason": "too much"})
    assert status == 400, body
    status, body = api(agw, "POST", "/api/access-requests", token=agw.tokens["jay"],
                       body={"connection": "app", "level": "write", "duration": "9h",
                             "reason": "too long"})
    assert status == 400, body
    assert "pgwarden_statements_total" in api(agw, "GET", "/metrics")[1]
    spec = api(agw, "GET", "/api/openapi.json")[1]
    assert spec["openapi"].startswith("3.") and "/api/reviews/{id}/approve" in spec["paths"]


def test_cli_lists_and_approves(agw, table, pg):
    w = Waiting(agw, f"DELETE FROM {table} WHERE id = 2")
    review = pending_review(agw, f"DELETE FROM {table} WHERE id = 2")
    env = clean_env(PGWARDEN_API=agw.api, PGWARDEN_TOKEN=agw.tokens["carol"])
    listed = run([gateway_bin(), "review", "list"], env=env, timeout=30)
    assert review["id"] in listed.stdout
    shown = run([gateway_bin(), "review", "show", review["id"]], env=env, timeout=30)
    assert f"DELETE FROM {table} WHERE id = 2" in shown.stdout
    run([gateway_bin(), "review", "approve", review["id"], "--comment", "cli"], env=env,
        timeout=30)
    w.join()
    assert w.result == "DELETE 1"
    assert agw.tokens["carol"] not in listed.stdout + listed.stderr + shown.stdout
    w.conn.close()


# ------------------------------------------------------------------ webhooks

def test_webhook_announces_reviews_with_a_valid_signature(agw, table):
    Hooks.received.clear()
    with agw.connect(user="bob") as c:
        with pytest.raises(psycopg.Error) as ei:
            c.execute(f"DELETE FROM {table} WHERE id = 5 AND note = 'hook'")
    review_id = re.search(r"rv_[0-9a-f]{20}", ei.value.diag.message_primary).group(0)

    def delivered():
        for headers, body in Hooks.received:
            if review_id.encode() in body:
                return headers, body
        return None
    headers, body = wait_for(delivered, 20, "the webhook delivery")
    lower = {k.lower(): v for k, v in headers.items()}
    expected = hmac.new(WEBHOOK_SECRET.encode(),
                        lower["x-pgwarden-timestamp"].encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    assert lower["x-pgwarden-signature"] == "sha256=" + expected
    payload = json.loads(body)
    assert payload["event"] == "review.created" and payload["review"]["id"] == review_id
    assert WEBHOOK_SECRET.encode() not in body


# ------------------------------------------------------------------ JIT access

def jay(gw):
    return psycopg.connect(host=gw.host, port=gw.port, user="jay", dbname="app",
                           password=gw.tokens["jay"], sslmode="require", autocommit=True)


def test_jit_grant_applies_and_expires_mid_session(agw, table, pg):
    with jay(agw) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute(f"INSERT INTO {table} VALUES (10, 'before')")
    req = ok(agw, "POST", "/api/access-requests", token=agw.tokens["jay"],
             body={"connection": "app", "level": "write", "duration": "4s",
                   "reason": "fix row 10"})
    assert req["state"] == "pending"
    status, body = api(agw, "POST", f"/api/access-requests/{req['id']}/approve",
                       token=agw.tokens["jay"], body={})
    assert status == 403, body  # neither an approver nor allowed to approve itself
    ok(agw, "POST", f"/api/access-requests/{req['id']}/approve", token=agw.tokens["carol"],
       body={})
    attempt = iter(range(10, 100))
    refused_id = None
    with jay(agw) as c:
        def refused():
            nonlocal refused_id
            row = next(attempt)
            try:
                c.execute(f"INSERT INTO {table} VALUES ({row}, 'granted')")
                return False
            except psycopg.errors.InsufficientPrivilege:
                refused_id = row
                return True
        # Writes work during the grant; the first statement after it ends is
        # refused, in the same session.
        assert not refused()
        wait_for(refused, 15, "the grant to expire mid-session", interval=0.5)
        assert c.execute("SELECT 1").fetchone() == (1,)
    rows = ids(pg, table)
    assert 10 in rows and refused_id not in rows


# ----------------------------------------------------- registered connections

def test_connection_registered_over_the_api_is_usable_at_once(agw, pg):
    password = pg.passwords["gw_scram"]
    name = "reg_" + uuid.uuid4().hex[:6]
    spec = {"name": name, "host": "127.0.0.1", "port": pg.port, "database": "app",
            "tls": {"mode": "disable"},
            "credentials": {"main": {"user": "gw_scram", "password": password}}}
    status, body = api(agw, "POST", "/api/connections", token=agw.tokens["carol"], body=spec)
    assert status == 403, body
    created = ok(agw, "POST", "/api/connections", token=agw.tokens["pat"], body=spec)
    with agw.connect(user="alice", dbname=name) as c:
        assert c.execute("SELECT current_database()").fetchone() == ("app",)
    listed = ok(agw, "GET", "/api/connections", token=agw.tokens["pat"])
    texts = [json.dumps(created), json.dumps(listed),
             json.dumps(ok(agw, "GET", f"/api/connections/{name}", token=agw.tokens["pat"]))]
    for t in texts:
        assert password not in t
    assert password not in agw.log_text()
    ok(agw, "DELETE", f"/api/connections/{name}", token=agw.tokens["pat"])
    with pytest.raises(psycopg.OperationalError):
        agw.connect(user="alice", dbname=name)


def test_api_actions_are_audited(agw):
    status, _ = api(agw, "POST", "/api/reviews/rv_00000000000000000000/approve",
                    token=agw.tokens["jay"], body={})
    assert status == 403
    events = ok(agw, "GET", "/api/audit?limit=1000", token=agw.tokens["audra"])["events"]
    api_events = [e for e in events if e.get("type") == "api_action"]
    assert any(e.get("subject_id") == "carol" for e in api_events), api_events[-5:]
