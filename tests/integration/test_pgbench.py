"""pgbench through the gateway: initialization (COPY, DDL, VACUUM) and the
TPC-B-like workload in all three query modes, checked directly afterwards."""

import re
import subprocess

import psycopg
import pytest

from harness import clean_env

CLIENTS, TX = 4, 200


def pgbench(params, *args):
    cmd = ["pgbench", "-h", str(params["host"]), "-p", str(params["port"]), "-U", params["user"],
           *args, params["dbname"]]
    env = clean_env(PGPASSWORD=params["password"], PGSSLMODE="disable", PGCONNECT_TIMEOUT="10")
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def initialized(gw, pg):
    p = pgbench(gw.params(), "-i", "-s", "1", "-q")
    assert p.returncode == 0, p.stderr
    with psycopg.connect(pg.dsn("tester", "app")) as c:
        counts = c.execute("SELECT (SELECT count(*) FROM pgbench_accounts), "
                           "(SELECT count(*) FROM pgbench_branches), "
                           "(SELECT count(*) FROM pgbench_tellers), "
                           "(SELECT count(*) FROM pgbench_history)").fetchone()
    assert counts == (100000, 1, 10, 0)
    return gw


def check_consistent(pg, expected_history):
    with psycopg.connect(pg.dsn("tester", "app")) as c:
        a, t, b, h, n = c.execute(
            "SELECT (SELECT sum(abalance) FROM pgbench_accounts), "
            "(SELECT sum(tbalance) FROM pgbench_tellers), "
            "(SELECT sum(bbalance) FROM pgbench_branches), "
            "(SELECT coalesce(sum(delta), 0) FROM pgbench_history), "
            "(SELECT count(*) FROM pgbench_history)").fetchone()
    assert n == expected_history
    assert a == t == b == h, (a, t, b, h)


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
def test_pgbench_workload(initialized, pg, mode):
    with psycopg.connect(pg.dsn("tester", "app")) as c:
        before = c.execute("SELECT count(*) FROM pgbench_history").fetchone()[0]
    # -n: no vacuum/truncate before the run, so pgbench_history accumulates
    # across modes and sum(delta) must equal every balance total.
    p = pgbench(initialized.params(), "-n", "-M", mode, "-c", str(CLIENTS), "-j", "2", "-t", str(TX))
    out = p.stdout + p.stderr
    assert p.returncode == 0, out
    assert f"number of transactions actually processed: {CLIENTS * TX}/{CLIENTS * TX}" in out, out
    m = re.search(r"number of failed transactions: (\d+)", out)
    assert m and m.group(1) == "0", out
    check_consistent(pg, before + CLIENTS * TX)
