"""psql through the gateway behaves exactly as psql against PostgreSQL."""

import re
import select
import shutil
import signal
import subprocess
import time

import psycopg

from harness import HERE, active_queries, clean_env, marker, wait_for

SCRIPT = HERE / "scripts" / "session.sql"
ITEMS_IN = '40,from csv,4.40\n41,"quoted, with comma",\n42,"multi\nline",0.01\n'


def psql_cmd(params, *args):
    return ["psql", "-X", "-h", str(params["host"]), "-p", str(params["port"]),
            "-U", params["user"], "-d", params["dbname"], *args]


def psql_env(params):
    return clean_env(PGPASSWORD=params["password"], PGSSLMODE=params.get("sslmode", "disable"),
                     PGCONNECT_TIMEOUT="10")


def normalize(text: str) -> str:
    text = re.sub(r"server process with PID \d+", "server process with PID <pid>", text)
    return re.sub(r"pg_temp_\d+", "pg_temp_N", text)


def run_script(params, workdir):
    workdir.mkdir()
    shutil.copy(SCRIPT, workdir / "session.sql")
    (workdir / "items_in.csv").write_text(ITEMS_IN)
    p = subprocess.run(psql_cmd(params, "-a", "-v", "ON_ERROR_STOP=0", "-f", "session.sql"),
                       cwd=workdir, env=psql_env(params), capture_output=True, text=True, timeout=90)
    return p


def test_scripted_session_matches_direct(gw, pg, tmp_path):
    direct = run_script(pg.params(), tmp_path / "direct")
    via = run_script(gw.params(), tmp_path / "gateway")

    # The script itself did what it says (so equality below means something).
    assert direct.returncode == 0, direct.stderr
    for expected in ("after_rollback", "division by zero", "current transaction is aborted",
                     'duplicate key value violates unique constraint "items_pkey"',
                     'Asynchronous notification "pgw_chan" with payload "hello through the wire"',
                     "notice from DO: 42", "doubled", "done"):
        assert expected in direct.stdout + direct.stderr, expected

    assert via.returncode == direct.returncode, via.stderr
    assert normalize(via.stderr) == normalize(direct.stderr)
    assert normalize(via.stdout) == normalize(direct.stdout)
    for name in ("items_out.csv", "items_out.txt"):
        d = (tmp_path / "direct" / name).read_text()
        g = (tmp_path / "gateway" / name).read_text()
        assert g == d, name
    out = (tmp_path / "gateway" / "items_out.csv").read_text()
    assert "41,\"quoted, with comma\"," in out and out.startswith("id,name,price,tags,created\n")


def run_cancelled_sleep(params, pg):
    m = marker()
    p = subprocess.Popen(psql_cmd(params, "-c", f"SELECT pg_sleep(30) /* {m} */"),
                         env=psql_env(params), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        wait_for(lambda: active_queries(pg, m), 15, "pg_sleep(30) to show in pg_stat_activity")
        t0 = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
        elapsed = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    wait_for(lambda: not active_queries(pg, m), 10, "the cancelled query to leave pg_stat_activity")
    return p.returncode, err, elapsed


def test_ctrl_c_cancels_the_running_query(gw, pg):
    d_rc, d_err, _ = run_cancelled_sleep(pg.params(), pg)
    assert "canceling statement due to user request" in d_err
    rc, err, elapsed = run_cancelled_sleep(gw.params(), pg)
    assert "canceling statement due to user request" in err, err
    assert elapsed < 10, f"psql returned {elapsed:.1f}s after Ctrl-C"
    assert (rc, err) == (d_rc, d_err)


def _await_notification(conn, deadline):
    """Waits for a NotificationResponse the server pushes on its own (the
    listener sends nothing meanwhile, as an idle LISTENer would)."""
    pgc = conn.pgconn
    while True:
        n = pgc.notifies()
        if n is not None:
            return n
        left = deadline - time.monotonic()
        assert left > 0, "no notification arrived while the listener sat idle"
        readable, _, _ = select.select([conn.fileno()], [], [], left)
        if readable:
            pgc.consume_input()


def test_listen_notify_across_sessions(gw, pg):
    for params in (pg.params(), gw.params()):
        with psycopg.connect(**params, autocommit=True) as listener:
            listener.execute("LISTEN pgw_cross")
            payload = f"payload-{marker()}"
            p = subprocess.run(psql_cmd(params, "-c", f"NOTIFY pgw_cross, '{payload}'"),
                               env=psql_env(params), capture_output=True, text=True, timeout=30)
            assert p.returncode == 0, p.stderr
            n = _await_notification(listener, time.monotonic() + 10)
            assert (n.relname, n.extra) == (b"pgw_cross", payload.encode())


def test_large_objects_use_function_call(gw, pg, tmp_path):
    """psql's \\lo_import / \\lo_export go through libpq's fast-path
    FunctionCall message."""
    payload = bytes(range(256)) * 4000
    outs = {}
    for name, params in (("direct", pg.params()), ("gateway", gw.params())):
        d = tmp_path / name
        d.mkdir()
        (d / "in.bin").write_bytes(payload)
        script = ("BEGIN;\n\\lo_import 'in.bin'\n\\set oid :LASTOID\n"
                  "SELECT length(lo_get(:oid)), md5(lo_get(:oid));\n"
                  "\\lo_export :oid 'out.bin'\n\\lo_unlink :oid\nCOMMIT;\n")
        (d / "lo.sql").write_text(script)
        p = subprocess.run(psql_cmd(params, "-v", "ON_ERROR_STOP=1", "-f", "lo.sql"), cwd=d,
                           env=psql_env(params), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert (d / "out.bin").read_bytes() == payload
        outs[name] = re.sub(r"(lo_import|lo_unlink) \d+", r"\1 <oid>", p.stdout)
    assert outs["gateway"] == outs["direct"]
