"""Startup-phase protocol edges: connection selection by dbname, protocol
version negotiation, SSL/GSSENC requests, ParameterStatus and BackendKeyData."""

import psycopg
import pytest

import pgwire

def test_dbname_selects_the_registered_connection(gw):
    with gw.connect("app") as a, gw.connect("other") as o:
        assert a.execute("SELECT current_database(), current_user").fetchone() == ("app", "gw_scram")
        assert o.execute("SELECT current_database(), current_user").fetchone() == ("other", "gw_scram")
        # Both sessions are live at once and stay separate.
        a.execute("CREATE TEMP TABLE which (v text)")
        with pytest.raises(psycopg.errors.UndefinedTable):
            o.execute("SELECT * FROM which")


@pytest.mark.parametrize("dbname,role", [("app_md5", "gw_md5"), ("app_plain", "gw_plain")])
def test_upstream_md5_and_cleartext_credentials(gw, dbname, role):
    """The gateway answers whatever the server asks: MD5, cleartext."""
    with gw.connect(dbname) as c:
        assert c.execute("SELECT current_user, current_database()").fetchone() == (role, "app")


def test_second_local_user_with_file_secret(gw):
    """bob's password comes from ${file:...}; alice's from ${env:...}."""
    with gw.connect("app", user="bob") as c:
        assert c.execute("SELECT 40 + 2").fetchone() == (42,)


def test_protocol_3_1_is_negotiated_down_to_3_0(gw, pg):
    """PostgreSQL answers a 3.1 StartupMessage with NegotiateProtocolVersion
    carrying the newest version it speaks, 3.0 (sent as 3 << 16 | 0: libpq
    17 rejects anything else), then authenticates as usual."""
    for target in (pg.params(), gw.params()):
        with pgwire.connect(target, protocol=pgwire.PROTO_3_1) as c:
            assert c.seen[0][0] == b"v", f"first reply to a 3.1 StartupMessage: {c.seen[0]!r}"
            assert c.negotiate == (pgwire.PROTO_3_0, []), c.negotiate
            r = c.simple_query("SELECT 'negotiated'")
            assert r.rows == [["negotiated"]] and r.error is None


def test_query_pipelined_with_the_last_auth_message(gw, pg):
    """Bytes a client sends before AuthenticationOk arrives are kept, not lost."""
    for target in (pg.params(), gw.params()):
        with pgwire.connect(target, pipelined=pgwire.query("SELECT 'early bird'")) as c:
            r = c.read_result()
            assert (r.rows, r.error) == ([["early bird"]], None)


def test_gssenc_request_is_declined_then_session_proceeds(gw):
    with pgwire.RawConn(gw.host, gw.port) as c:
        c.send(pgwire.gssenc_request())
        assert c.read_bytes(1) == b"N"
        p = gw.params()
        c.startup(p["user"], p["dbname"], p["password"])
        assert c.simple_query("SELECT 1").rows == [["1"]]


def test_ssl_request_without_tls_configured_is_declined(gw):
    with pgwire.RawConn(gw.host, gw.port) as c:
        assert c.request_ssl() == b"N"
        p = gw.params()
        c.startup(p["user"], p["dbname"], p["password"])
        assert c.simple_query("SELECT 2").rows == [["2"]]
    # libpq with sslmode=prefer falls back to plaintext.
    with gw.connect(sslmode="prefer") as conn:
        assert conn.pgconn.ssl_in_use is False
        assert conn.execute("SELECT 3").fetchone() == (3,)


def test_parameter_status_equals_direct(gw, pg):
    with pgwire.connect(pg.params()) as d, pgwire.connect(gw.params()) as g:
        direct, via = dict(d.params), dict(g.params)
    # application_name legitimately carries the caller's identity upstream.
    direct.pop("application_name", None)
    via.pop("application_name", None)
    for must in ("server_version", "server_encoding", "client_encoding", "DateStyle",
                 "IntervalStyle", "TimeZone", "integer_datetimes", "standard_conforming_strings"):
        assert must in via, f"ParameterStatus {must} not relayed; got {sorted(via)}"
    assert via == direct


def test_startup_parameters_reach_postgres(gw, pg):
    """Settings a driver puts in the StartupMessage (pgjdbc sends DateStyle,
    TimeZone, extra_float_digits, client_encoding) apply upstream as they
    would directly."""
    extra = {"DateStyle": "SQL, DMY", "TimeZone": "Asia/Tokyo", "extra_float_digits": "0",
             "client_encoding": "LATIN1", "application_name": "pgw-startup-check"}
    sql = ("SELECT current_setting('DateStyle'), current_setting('TimeZone'), "
           "current_setting('client_encoding'), current_setting('extra_float_digits'), "
           "'2024-01-31 12:00+00'::timestamptz::text, (0.1::float8 + 0.2::float8)::text")
    out = {}
    for name, params in (("direct", pg.params()), ("gateway", gw.params())):
        with pgwire.connect(params, extra=extra) as c:
            ps = {k: v for k, v in c.params.items() if k != "application_name"}
            out[name] = (ps, c.simple_query(sql).rows)
    assert out["direct"][1] == [["SQL, DMY", "Asia/Tokyo", "LATIN1", "0",
                                 "31/01/2024 21:00:00 JST", "0.3"]]
    assert out["gateway"] == out["direct"]


def test_client_encoding_conversion(gw, pg):
    q = "SELECT 'café ñ ü', length('café'), convert_to('é', 'UTF8')"
    direct = psycopg.connect(pg.dsn(client_encoding="LATIN1"), autocommit=True)
    via = gw.connect(client_encoding="LATIN1")
    with direct, via:
        assert via.info.encoding == direct.info.encoding == "iso8859-1"
        assert via.execute(q).fetchone() == direct.execute(q).fetchone() == ("café ñ ü", 4, b"\xc3\xa9")


def test_options_startup_parameter_is_applied_or_refused_never_dropped(gw, pg):
    """`options=-c ...` either applies as on PostgreSQL or is refused with an
    error that names it; silently ignoring it would change query results."""
    opts = "-c DateStyle=SQL,DMY -c search_path=pg_catalog"
    with psycopg.connect(pg.dsn(options=opts), autocommit=True) as d:
        expect = d.execute("SHOW DateStyle").fetchone() + d.execute("SHOW search_path").fetchone()
    assert expect == ("SQL, DMY", "pg_catalog")
    try:
        c = gw.connect(options=opts)
    except psycopg.OperationalError as e:
        assert "options" in str(e), str(e)
        return
    with c:
        assert c.execute("SHOW DateStyle").fetchone() + c.execute("SHOW search_path").fetchone() == expect


def test_backend_key_is_the_gateways_own(gw, pg):
    with pgwire.connect(gw.params()) as a, pgwire.connect(gw.params()) as b:
        real_pid = int(a.simple_query("SELECT pg_backend_pid()").rows[0][0])
        assert a.backend_key is not None and b.backend_key is not None
        assert a.backend_key[0] != real_pid, "gateway handed out the upstream backend's pid"
        assert a.backend_key != b.backend_key
        with pg.admin() as adm:
            row = adm.execute("SELECT usename, datname FROM pg_stat_activity WHERE pid = %s",
                              (real_pid,)).fetchone()
        assert row == ("gw_scram", "app")
