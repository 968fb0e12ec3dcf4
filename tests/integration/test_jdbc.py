"""pgjdbc through the gateway prints what it prints against PostgreSQL."""

import hashlib
import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import HERE, clean_env, marker, run

SRC = HERE / "clients" / "java" / "JdbcCheck.java"
JAR = "/usr/share/java/postgresql.jar"


@pytest.fixture(scope="module")
def jdbc_classes():
    """javac once per source version, cached across runs in the temp dir."""
    key = hashlib.sha256(SRC.read_bytes() + str(os.path.getmtime(JAR)).encode()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"pgwarden-it-javac-{key}"
    if not (out / "JdbcCheck.class").exists():
        tmp = Path(tempfile.mkdtemp(prefix="javac-", dir=tempfile.gettempdir()))
        run(["javac", "-d", str(tmp), "-cp", JAR, str(SRC)], timeout=180)
        try:
            tmp.rename(out)
        except OSError:  # another run won the race
            pass
    return out


@pytest.fixture(scope="module")
def tls_gw(module_gateway):
    return module_gateway.start(tls=module_gateway.gateway_tls(require=False))


def jdbc(classes, params, sslmode, rootcert=None):
    args = ["java", "-cp", f"{classes}:{JAR}", "JdbcCheck", str(params["host"]), str(params["port"]),
            params["dbname"], params["user"], params["password"], sslmode, f"jdbc_{marker()}"]
    if rootcert:
        args.append(str(rootcert))
    p = subprocess.run(args, env=clean_env(), capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"JdbcCheck failed ({p.returncode}):\n{p.stdout}\n{p.stderr}"
    return p.stdout


@pytest.mark.parametrize("sslmode", ["disable", "verify-full"])
def test_jdbc_program_output_matches_direct(jdbc_classes, tls_gw, pg, certs, sslmode):
    root = certs.ca_crt if sslmode == "verify-full" else None
    direct = jdbc(jdbc_classes, pg.params(), sslmode, root)
    via = jdbc(jdbc_classes, tls_gw.params(), sslmode, root)
    for expected in ("batch: 250 statements, 250 rows", "duplicate: 23505", "aborted: 25P02",
                     "fetched: 250 rows, id sum 31375", "column: amount numeric", "error: 42703",
                     "prepared2: Integer:44 | String:héllo 2! | BigDecimal:2.250", "done"):
        assert expected in direct, (expected, direct)
    assert via == direct
