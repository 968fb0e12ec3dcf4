"""TLS on both legs: client to gateway (sslmode ladder, tls.require, no
plaintext after SSLRequest) and gateway to PostgreSQL (connections' tls.mode)."""

import threading

import psycopg
import pytest

import pgwire
from harness import active_queries, marker, wait_for

UPSTREAM_OK = {  # connection name -> (tls config builder, role), upstream leg expected to use TLS?
    "up_disable": (lambda c: {"mode": "disable"}, "gw_scram", False),
    "up_require": (lambda c: {"mode": "require"}, "gw_scram", True),
    "up_verify_ca": (lambda c: {"mode": "verify-ca", "ca": str(c.ca_crt)}, "gw_scram", True),
    "up_verify_full": (lambda c: {"mode": "verify-full", "ca": str(c.ca_crt), "server_name": "localhost"},
                       "gw_scram", True),
    "up_verify_full_ip": (lambda c: {"mode": "verify-full", "ca": str(c.ca_crt)}, "gw_scram", True),
    "sslonly_require": (lambda c: {"mode": "require"}, "gw_sslonly", True),
}
UPSTREAM_BAD = {
    "up_verify_ca_wrong_ca": (lambda c: {"mode": "verify-ca", "ca": str(c.wrong_ca_crt)}, "gw_scram"),
    "up_verify_full_wrong_ca": (lambda c: {"mode": "verify-full", "ca": str(c.wrong_ca_crt),
                                           "server_name": "localhost"}, "gw_scram"),
    "up_verify_full_bad_name": (lambda c: {"mode": "verify-full", "ca": str(c.ca_crt),
                                           "server_name": "db.not-in-the-cert.test"}, "gw_scram"),
    "sslonly_disable": (lambda c: {"mode": "disable"}, "gw_sslonly"),
}


@pytest.fixture(scope="module")
def tls_gw(module_gateway, certs):
    f = module_gateway
    conns = f.default_connections()
    for name, (tls, role, _) in UPSTREAM_OK.items():
        conns[name] = f.connection("app", role, tls=tls(certs))
    for name, (tls, role) in UPSTREAM_BAD.items():
        conns[name] = f.connection("app", role, tls=tls(certs))
    return f.start(connections=conns, tls=f.gateway_tls(require=False))


@pytest.fixture(scope="module")
def strict_gw(module_gateway):
    return module_gateway.start(tls=module_gateway.gateway_tls(require=True))


# ---------------------------------------------------------------- client leg

LADDER = [("disable", False), ("prefer", True), ("require", True), ("verify-ca", True),
          ("verify-full", True)]


@pytest.mark.parametrize("sslmode,encrypted", LADDER, ids=[m for m, _ in LADDER])
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_client_sslmodes(tls_gw, pg, certs, sslmode, encrypted, host):
    for target in (pg.params(), tls_gw.params()):
        target.update(sslmode=sslmode, sslrootcert=str(certs.ca_crt), host=host)
        with psycopg.connect(**target, autocommit=True) as c:
            assert c.pgconn.ssl_in_use is encrypted
            assert c.execute("SELECT 'over ' || %s", (sslmode,)).fetchone() == (f"over {sslmode}",)


@pytest.mark.parametrize("sslmode", ["verify-ca", "verify-full"])
def test_client_verify_with_wrong_ca_fails(tls_gw, pg, certs, sslmode):
    for target in (pg.params(), tls_gw.params()):
        target.update(sslmode=sslmode, sslrootcert=str(certs.wrong_ca_crt))
        with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
            psycopg.connect(**target)
    with tls_gw.connect(sslmode="require") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_tls_require_rejects_plaintext_with_28000(strict_gw):
    e = pgwire.startup_error(strict_gw.params())
    assert (e.severity, e.code) == ("FATAL", "28000"), e.fields
    assert "sslmode=require" in e.fields.get("M", ""), e.fields
    with pytest.raises(psycopg.OperationalError, match="sslmode=require"):
        strict_gw.connect(sslmode="disable")


@pytest.mark.parametrize("sslmode", ["prefer", "require", "verify-full"])
def test_tls_require_accepts_tls(strict_gw, certs, sslmode):
    with strict_gw.connect(sslmode=sslmode, sslrootcert=str(certs.ca_crt)) as c:
        assert c.pgconn.ssl_in_use
        assert c.execute("SELECT current_user").fetchone() == ("gw_scram",)


def _plaintext_after_ssl_request(host, port):
    startup = pgwire.startup_message({"user": "alice", "database": "app"})
    with pgwire.RawConn(host, port) as c:
        c.send(pgwire.ssl_request() + startup)  # one write: plaintext is already buffered
        return c.read_until_eof(10)


@pytest.mark.parametrize("which", ["tls_gw", "strict_gw"])
def test_plaintext_after_ssl_request_is_refused(request, which):
    gw = request.getfixturevalue(which)
    data = _plaintext_after_ssl_request(gw.host, gw.port)
    # Allowed: nothing, or 'S', optionally followed by a plaintext ErrorResponse
    # 08P01 — but never a TLS record (0x16 handshake / 0x15 alert).
    if data.startswith(b"S"):
        data = data[1:]
    if data:
        assert data[:1] == b"E", f"after SSLRequest+plaintext the gateway sent {data[:40]!r}"
        assert pgwire.parse_error_fields(data[5:]).get("C") == "08P01", data
    with gw.connect(sslmode="require") as c:
        assert c.execute("SELECT 'still serving'").fetchone() == ("still serving",)


# ---------------------------------------------------------------- upstream leg

@pytest.mark.parametrize("name", list(UPSTREAM_OK))
def test_upstream_tls_modes(tls_gw, name):
    _, role, encrypted = UPSTREAM_OK[name]
    with tls_gw.connect(name) as c:
        row = c.execute("SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()
    assert row == (role, encrypted)


@pytest.mark.parametrize("name", list(UPSTREAM_BAD))
def test_upstream_tls_failures_are_fatal_naming_the_connection(tls_gw, name):
    e = pgwire.startup_error(tls_gw.params(name))
    assert e.severity == "FATAL", e.fields
    assert name in e.fields.get("M", ""), e.fields
    for s in tls_gw.secrets:
        assert s not in e.text
    with tls_gw.connect("up_verify_full") as c:  # others unaffected
        assert c.execute("SELECT 1").fetchone() == (1,)


# ---------------------------------------------------------------- cancel and negotiation over TLS

def _sleep_then_cancel(pg, conn):
    """Runs pg_sleep(30) on `conn` in a thread, cancels with conn.cancel()
    once PostgreSQL shows it; returns what the query raised."""
    m = marker()
    out = {}

    def run():
        try:
            conn.execute(f"SELECT pg_sleep(30) /* {m} */")
            out["r"] = "completed"
        except psycopg.Error as e:
            out["r"] = (type(e).__name__, e.sqlstate)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    wait_for(lambda: active_queries(pg, m), 15, "pg_sleep(30) upstream")
    conn.cancel()
    th.join(20)
    assert not th.is_alive(), "the cancelled query did not return"
    return out["r"]


def test_plaintext_cancel_request_works_when_tls_is_required(strict_gw, pg):
    """libpq before 17 sends CancelRequest unencrypted even for an sslmode=
    require session: tls.require must not break cancel."""
    with strict_gw.connect(sslmode="require") as c:
        assert c.pgconn.ssl_in_use
        assert _sleep_then_cancel(pg, c) == ("QueryCanceled", "57014")
        assert c.execute("SELECT 'alive'").fetchone() == ("alive",)


def test_cancel_request_over_tls(tls_gw, pg, certs):
    """libpq 17+ encrypts the cancel connection like the session's."""
    with pgwire.RawConn(tls_gw.host, tls_gw.port) as s:
        s.startup_tls(str(certs.ca_crt))
        p = tls_gw.params()
        s.startup(p["user"], p["dbname"], p["password"])
        m = marker()
        s.send(pgwire.query(f"SELECT pg_sleep(30) /* {m} */"))
        wait_for(lambda: active_queries(pg, m), 15, "pg_sleep(30) upstream")
        with pgwire.RawConn(tls_gw.host, tls_gw.port) as cc:
            cc.startup_tls(str(certs.ca_crt))
            cc.send(pgwire.cancel_request(*s.backend_key))
            cc.read_until_eof(10)
        r = s.read_result(timeout=15)
        assert r.error and r.error.get("C") == "57014", r.error


def test_gssenc_declined_then_ssl_on_the_same_connection(tls_gw, certs):
    """libpq's gssencmode=prefer path: GSSENCRequest -> 'N', then SSLRequest."""
    with pgwire.RawConn(tls_gw.host, tls_gw.port) as c:
        c.send(pgwire.gssenc_request())
        assert c.read_bytes(1) == b"N"
        c.startup_tls(str(certs.ca_crt))
        p = tls_gw.params()
        c.startup(p["user"], p["dbname"], p["password"])
        assert c.simple_query("SELECT 'gss then ssl'").rows == [["gss then ssl"]]
