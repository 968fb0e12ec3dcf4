"""Fixtures: one PostgreSQL 15 for the whole session, test certificates, and
gateway factories (per test, per module).

Run: /usr/bin/python3 -m pytest -q -x -p no:cacheprovider tests/integration
with PGWARDEN_BIN=<pgwarden binary> (default /work/main/build/pgwarden).
PGWARDEN_IT_DIRECT=1 swaps every gateway for PostgreSQL itself, to check the
tests' own logic; gateway-specific tests then fail by design.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from pathlib import Path

import pytest

import harness

TEST_TIMEOUT = 150  # seconds per test, a hang fails instead of blocking ctest


@pytest.fixture(autouse=True)
def _per_test_deadline(request):
    def on_alarm(signum, frame):
        raise TimeoutError(f"{request.node.nodeid} exceeded {TEST_TIMEOUT}s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(autouse=True)
def _gateways_still_healthy():
    """After each test: every gateway it did not stop on purpose is alive and
    its log has no sanitizer report, so a crash is pinned on the test that
    caused it (module-scoped gateways would otherwise report at the end)."""
    yield
    problems = [p for f in list(harness.LIVE_FACTORIES) for p in f.health_problems()]
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(scope="session")
def certs(tmp_path_factory) -> harness.Certs:
    return harness.Certs.generate(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def pg(certs):
    """A real PostgreSQL 15 (TLS on; roles gw_scram/gw_md5/gw_plain/gw_sslonly
    and superuser tester; databases app and other)."""
    base = Path(tempfile.mkdtemp(prefix="pgwarden-it-pg-"))
    server = harness.Pg(base=base, certs=certs)
    try:
        server.start()
        yield server
    finally:
        try:
            server.stop()
        finally:
            shutil.rmtree(base, ignore_errors=True)


def _factory(pg, certs, tmp_path_factory, name):
    f = harness.GatewayFactory(pg, certs, tmp_path_factory.mktemp(name))
    yield f
    problems = f.stop_all()
    if problems:
        pytest.fail("gateway teardown: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def gateway(pg, certs, tmp_path_factory):
    """Call it to start a gateway for this test only: gateway(**config)."""
    yield from _factory(pg, certs, tmp_path_factory, "gw")


@pytest.fixture(scope="module")
def module_gateway(pg, certs, tmp_path_factory):
    """Same factory, gateways live until the module's tests are done."""
    yield from _factory(pg, certs, tmp_path_factory, "gwmod")


@pytest.fixture(scope="module")
def gw(module_gateway) -> harness.Gateway:
    """The default gateway: connections app, other, app_md5, app_plain; no TLS."""
    return module_gateway.start()
