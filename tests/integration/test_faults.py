"""Faults a production gateway meets: bad bytes, bad credentials, a dead or
unreachable upstream, clients that vanish or dawdle, SIGTERM. After each, a
fresh client must still be served, and no secret may leak."""

import secrets
import socket
import struct
import time

import psycopg
import pytest

import harness
import pgwire
from harness import active_queries, marker, wait_for

WRONG_UPSTREAM_PW = f"WrongUpstreamPw-{secrets.token_hex(6)}"


@pytest.fixture(scope="module")
def fgw(module_gateway):
    f = module_gateway
    conns = f.default_connections()
    conns["unreachable_conn"] = f.connection("app", port=harness.free_port(), connect_timeout="2s")
    conns["badcred_conn"] = f.connection("app", "gw_scram", password=WRONG_UPSTREAM_PW,
                                         secret_via="file")
    return f.start(connections=conns, limits={"max_message_size": "1MB"}, log_level="debug")


def assert_serves(gw, dbname="app"):
    with gw.connect(dbname) as c:
        assert c.execute("SELECT 'still serving'").fetchone() == ("still serving",)


def no_secret_in(gw, *texts):
    for t in texts:
        if isinstance(t, bytes):
            t = t.decode(errors="replace")
        for s in gw.secrets or []:
            assert s not in t, f"secret {s!r} reached a client: {t[:300]!r}"


def messages_until_close(c: pgwire.RawConn, timeout=10):
    """Reads backend messages until the server closes; returns them."""
    got = []
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"connection still open after {timeout}s; got {got}")
        try:
            got.append(c.read_msg(left))
        except pgwire.Closed:
            return got
        except TimeoutError:
            raise AssertionError(f"connection still open after {timeout}s; got {got}") from None


def fatal_codes(msgs):
    return [(f.get("V") or f.get("S"), f.get("C"))
            for f in (pgwire.parse_error_fields(b) for t, b in msgs if t == b"E")]


# ---------------------------------------------------------------- bad bytes

MALFORMED = {
    "query_length_3": b"Q" + struct.pack("!i", 3),
    "query_string_overruns_message": pgwire.msg(b"Q", b"SELECT 1"),  # no terminator inside
    "query_bytes_left_over": pgwire.msg(b"Q", b"SELECT 1\0trailing"),
    "unknown_message_type": pgwire.msg(b"\x01", b"hello"),
    "bind_parameter_count_overruns": pgwire.msg(b"B", b"\0\0" + struct.pack("!hh", 0, 50)),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_message_is_fatal_08P01_for_that_client_only(fgw, name):
    with fgw.connect() as bystander:
        bystander.execute("SELECT 1")
        with pgwire.connect(fgw.params()) as c:
            c.send(MALFORMED[name])
            msgs = messages_until_close(c)
        assert ("FATAL", "08P01") in fatal_codes(msgs), msgs
        # Another session that was already open carries on.
        assert bystander.execute("SELECT 'bystander ok'").fetchone() == ("bystander ok",)
    assert_serves(fgw)


@pytest.mark.parametrize("packet", [struct.pack("!i", 3) + b"\0\0\0\0",
                                    struct.pack("!ii", 200_000, pgwire.PROTO_3_0)],
                         ids=["startup_length_3", "startup_length_200k"])
def test_malformed_startup_packet_is_refused(fgw, packet):
    with pgwire.RawConn(fgw.host, fgw.port) as c:
        c.send(packet)
        data = c.read_until_eof(10)
    if data:  # an ErrorResponse is optional, but if sent it says protocol violation
        assert data[:1] == b"E", data
        assert pgwire.parse_error_fields(data[5:]).get("C") == "08P01", data
    assert_serves(fgw)


def test_oversized_message_is_refused_before_its_body(fgw):
    """limits.max_message_size is 1MB: a 900kB query runs, a header claiming
    2MB is refused at once (the body is never sent)."""
    with pgwire.connect(fgw.params()) as c:
        r = c.simple_query("SELECT length('" + "x" * 900_000 + "')")
        assert r.rows == [["900000"]]
        c.send(b"Q" + struct.pack("!i", 2 * 1024 * 1024))
        msgs = messages_until_close(c, timeout=10)
    assert ("FATAL", "08P01") in fatal_codes(msgs), msgs
    assert_serves(fgw)


# ---------------------------------------------------------------- startup failures

def test_unknown_dbname_is_3D000(fgw):
    e = pgwire.startup_error(fgw.params(dbname="no_such_connection"))
    assert (e.severity, e.code) == ("FATAL", "3D000"), e.fields
    assert "no_such_connection" in e.fields.get("M", ""), e.fields
    with pytest.raises(psycopg.OperationalError, match="no_such_connection"):
        fgw.connect("no_such_connection")
    assert_serves(fgw)


@pytest.mark.parametrize("user,password", [("alice", "not-alices-password"),
                                           ("mallory", "whatever")])
def test_bad_password_or_unknown_user_is_28P01(fgw, user, password):
    e = pgwire.startup_error(fgw.params(user=user, password=password))
    assert (e.severity, e.code) == ("FATAL", "28P01"), e.fields
    with pytest.raises(psycopg.OperationalError):
        fgw.connect(user=user, password=password)
    assert_serves(fgw)


def test_upstream_unreachable_is_fatal_naming_the_connection(fgw):
    t0 = time.monotonic()
    e = pgwire.startup_error(fgw.params(dbname="unreachable_conn"))
    assert e.severity == "FATAL" and e.code.startswith("08"), e.fields
    assert "unreachable_conn" in e.fields.get("M", ""), e.fields
    assert time.monotonic() - t0 < 10, "connect_timeout 2s not honoured"
    no_secret_in(fgw, *(b for _, b in e.seen))
    with pytest.raises(psycopg.OperationalError) as ei:
        fgw.connect("unreachable_conn")
    assert "unreachable_conn" in str(ei.value)
    no_secret_in(fgw, str(ei.value))
    assert_serves(fgw)


def test_upstream_rejecting_the_held_credential_never_leaks_it(fgw):
    e = pgwire.startup_error(fgw.params(dbname="badcred_conn"))
    assert e.severity == "FATAL", e.fields
    assert e.code in ("28P01", "28000", "08001", "08004", "08006"), e.fields
    assert "badcred_conn" in e.fields.get("M", ""), e.fields
    for _, body in e.seen:
        assert WRONG_UPSTREAM_PW.encode() not in body
    no_secret_in(fgw, *(b for _, b in e.seen))
    with pytest.raises(psycopg.OperationalError) as ei:
        fgw.connect("badcred_conn")
    assert WRONG_UPSTREAM_PW not in str(ei.value)
    assert "badcred_conn" in str(ei.value)
    assert WRONG_UPSTREAM_PW not in fgw.log_text()
    assert_serves(fgw)


# ---------------------------------------------------------------- mid-session faults

def test_upstream_backend_terminated_mid_session(fgw, pg):
    """pg_terminate_backend on the upstream: the client learns why, as it
    would directly, and the gateway serves the next client."""
    seen = {}
    for name, dsn in (("direct", pg.dsn()), ("gateway", fgw.dsn())):
        conn = psycopg.connect(dsn, autocommit=True)
        try:
            pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
            with pg.admin() as adm:
                assert adm.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
            wait_for(lambda: not _backend_exists(pg, pid), 10, f"backend {pid} to go away")
            with pytest.raises(psycopg.OperationalError) as ei:
                conn.execute("SELECT 1")
            seen[name] = str(ei.value)
            assert conn.broken
        finally:
            conn.close()
    for name, text in seen.items():
        assert "terminating connection due to administrator command" in text, (name, text)
    no_secret_in(fgw, seen["gateway"])
    assert fgw.alive()
    assert_serves(fgw)


@pytest.mark.parametrize("kind", ["sleeping", "streaming"])
def test_client_vanishing_releases_the_upstream_query(fgw, pg, kind):
    m = marker()
    sql = {"sleeping": f"SELECT pg_sleep(60) /* {m} */",
           "streaming": f"SELECT generate_series(1, 20000000) AS g, repeat('x', 200) /* {m} */"}[kind]
    c = pgwire.connect(fgw.params())
    c.send(pgwire.query(sql))
    wait_for(lambda: active_queries(pg, m), 10, "the query to be running upstream")
    if kind == "streaming":
        c.read_bytes(1 << 20)  # rows are flowing
    c.close(abort=True)
    wait_for(lambda: not active_queries(pg, m), 15,
             "the upstream query to stop after its client vanished")
    assert_serves(fgw)


def test_cancel_with_a_wrong_key_does_nothing_right_key_cancels(fgw, pg):
    with pgwire.connect(fgw.params()) as c:
        pid, key = c.backend_key
        m = marker()
        c.send(pgwire.query(f"SELECT pg_sleep(2), 'completed' /* {m} */"))
        wait_for(lambda: active_queries(pg, m), 10, "pg_sleep(2) to be running")
        for bad in ((pid, key ^ 0x5A5A), (pid ^ 1, key)):
            with pgwire.RawConn(fgw.host, fgw.port) as cc:
                cc.send(pgwire.cancel_request(*bad))
                cc.read_until_eof(10)
        r = c.read_result(timeout=15)
        assert r.error is None, r.error
        assert r.rows == [["", "completed"]]

        m = marker()
        t0 = time.monotonic()
        c.send(pgwire.query(f"SELECT pg_sleep(30) /* {m} */"))
        wait_for(lambda: active_queries(pg, m), 10, "pg_sleep(30) to be running")
        with pgwire.RawConn(fgw.host, fgw.port) as cc:
            cc.send(pgwire.cancel_request(pid, key))
            cc.read_until_eof(10)
        r = c.read_result(timeout=15)
        assert r.error and r.error.get("C") == "57014", r.error
        assert time.monotonic() - t0 < 15
        assert c.simple_query("SELECT 'usable'").rows == [["usable"]]
    # The session is gone: its key is stale and must be ignored harmlessly.
    with pgwire.RawConn(fgw.host, fgw.port) as cc:
        cc.send(pgwire.cancel_request(pid, key))
        cc.read_until_eof(10)
    assert_serves(fgw)


def test_log_and_client_messages_hold_no_secret(fgw):
    # Everything clients were told in this module was checked as it came;
    # the log is checked here (and again at teardown).
    log = fgw.log_text()
    for s in fgw.secrets:
        assert s not in log, f"secret {s!r} in the gateway log"


# ---------------------------------------------------------------- timeouts and shutdown

@pytest.mark.parametrize("sent", [b"", struct.pack("!i", 40)], ids=["nothing", "half_a_header"])
def test_startup_timeout_closes_silent_clients(gateway, sent):
    gw = gateway(timeouts={"startup": "1s"})
    with pgwire.RawConn(gw.host, gw.port) as c:
        t0 = time.monotonic()
        c.send(sent)
        c.read_until_eof(8)
        assert time.monotonic() - t0 >= 0.5, "closed before the startup timeout could fire"
    assert_serves(gw)


def test_auth_timeout_closes_clients_that_stall_in_authentication(gateway):
    gw = gateway(timeouts={"auth": "1s"})
    with pgwire.RawConn(gw.host, gw.port) as c:
        c.send(pgwire.startup_message({"user": "alice", "database": "app"}))
        tag, body = c.read_msg()
        assert tag == b"R", (tag, body)  # asked for a password; we never answer
        t0 = time.monotonic()
        c.read_until_eof(8)
        assert time.monotonic() - t0 >= 0.5
    assert_serves(gw)


def test_idle_timeout_ends_idle_sessions_but_not_busy_ones(gateway):
    gw = gateway(timeouts={"idle": "1s"})
    with pgwire.connect(gw.params()) as busy:
        r = busy.simple_query("SELECT pg_sleep(2.5), 'busy is not idle'", timeout=10)
        assert r.rows == [["", "busy is not idle"]], r
    with pgwire.connect(gw.params()) as idle:
        t0 = time.monotonic()
        msgs = messages_until_close(idle, timeout=8)
        assert time.monotonic() - t0 >= 0.5
    for sev_code in fatal_codes(msgs):
        assert sev_code == ("FATAL", "57P05"), msgs
    assert_serves(gw)


def test_sigterm_drains_and_exits(gateway, pg):
    gw = gateway(timeouts={"shutdown_grace": "4s"})
    idle = gw.connect()
    idle.execute("SELECT 1")
    busy = pgwire.connect(gw.params())
    m = marker()
    busy.send(pgwire.query(f"SELECT pg_sleep(1.5), 'finished' /* {m} */"))
    wait_for(lambda: active_queries(pg, m), 10, "the in-flight query")
    t0 = time.monotonic()
    gw.signal()

    def refused():
        try:
            pgwire.connect(gw.params(), timeout=2).close()
            return False  # still served: not yet
        except (OSError, pgwire.Closed, pgwire.PgError):
            return True
    wait_for(refused, 2, "the gateway to stop accepting new clients after SIGTERM")

    r = busy.read_result(timeout=10)
    assert r.rows == [["", "finished"]], "an in-flight query was not allowed to finish"
    busy.close()
    rc = gw.wait_exit(4 + 5 - (time.monotonic() - t0))
    assert rc == 0, f"exit code {rc} after SIGTERM"
    assert time.monotonic() - t0 < 4 + 5
    with pytest.raises(psycopg.OperationalError):
        idle.execute("SELECT 1")
    idle.close()


# ---------------------------------------------------------------- resources

def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_disconnect_releases_the_upstream_backend(fgw, pg):
    c = fgw.connect()
    pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
    c.close()  # Terminate
    wait_for(lambda: not _backend_exists(pg, pid), 10, f"upstream backend {pid} to exit")
    with pgwire.connect(fgw.params()) as raw:
        pid = int(raw.simple_query("SELECT pg_backend_pid()").rows[0][0])
    # closed without Terminate
    wait_for(lambda: not _backend_exists(pg, pid), 10, f"upstream backend {pid} to exit")


def _backend_exists(pg, pid):
    with pg.admin() as adm:
        return adm.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone() is not None


def test_stalled_reader_gets_backpressure_not_buffering(fgw, pg):
    """A client that stops reading a 2 GB result must make PostgreSQL wait
    (wait_event ClientWrite) instead of the gateway buffering the result."""
    if fgw.proc is None:
        pytest.skip("needs the real gateway process")
    base = _rss_mb(fgw.proc.pid)
    m = marker()
    c = pgwire.connect(fgw.params())
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    c.send(pgwire.query(f"SELECT g, repeat('x', 1000) FROM generate_series(1, 2000000) g /* {m} */"))

    def blocked_on_client():
        with pg.admin() as adm:
            return adm.execute("SELECT wait_event FROM pg_stat_activity WHERE query LIKE %s "
                               "AND state = 'active' AND pid <> pg_backend_pid()",
                               (f"%{m}%",)).fetchone() == ("ClientWrite",)
    try:
        wait_for(blocked_on_client, 30, "PostgreSQL to block writing to the gateway")
        # Watch for a while: the gateway keeps the upstream blocked and its
        # memory flat (no unbounded buffering of a result nobody reads).
        peak = base
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            peak = max(peak, _rss_mb(fgw.proc.pid))
            time.sleep(0.1)
        assert blocked_on_client(), "upstream no longer blocked: the gateway is draining it"
        assert peak - base < 200, f"gateway RSS grew from {base:.0f} MB to {peak:.0f} MB"
    finally:
        c.close(abort=True)
    wait_for(lambda: not active_queries(pg, m), 15, "the stalled query to be released")
    assert_serves(fgw)


def test_max_client_connections(gateway):
    gw = gateway(limits={"max_client_connections": 3})
    held = [gw.connect() for _ in range(3)]
    try:
        e = pgwire.startup_error(gw.params())
        assert (e.severity, e.code) == ("FATAL", "53300"), e.fields
        held.pop().close()

        def served():
            try:
                assert_serves(gw)
                return True
            except psycopg.OperationalError:
                return False
        wait_for(served, 10, "a slot to free up after a client left")
        for c in held:
            assert c.execute("SELECT 1").fetchone() == (1,)
    finally:
        for c in held:
            c.close()
