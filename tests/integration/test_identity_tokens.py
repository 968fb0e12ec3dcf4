"""Service tokens end to end: `pgwarden token create|list|revoke` against the
store file of a running gateway, clients presenting the `pgw_...` secret as
the password over TLS, and the gateway picking up every change to the store
without a restart."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import stat

import psycopg
import pytest

from harness import clean_env, gateway_bin, run, wait_for
from idhelpers import (assert_no_token, assert_refused, auth_error, auth_requests, connect,
                       connected_line, psql_ok, wait_log)

SECRET_RE = re.compile(r"pgw_[A-Za-z0-9]{43}")


def start_token_gateway(factory, **identity):
    identity.setdefault("max_auth_failures_per_minute", 0)
    return factory.start(tls=factory.gateway_tls(),
                         identity={"tokens": {"store": "tokens.json"}, **identity})


@pytest.fixture(scope="module")
def tgw(module_gateway):
    """TLS (not required), service tokens in tokens.json next to the config
    (the file does not exist when the gateway starts)."""
    return start_token_gateway(module_gateway)


def store_path(gw):
    return gw.config_path.parent / "tokens.json"


def cli(gw, *args, check: bool = True):
    """`pgwarden token <args> --config <the gateway's config>`, with the
    gateway's environment (its config references ${env:...} secrets)."""
    verb, *rest = args
    return run([gateway_bin(), "token", verb, "--config", str(gw.config_path), *rest],
               env=clean_env(**gw.env), check=check, timeout=60)


def create(gw, name: str, *flags) -> str:
    p = cli(gw, "create", "--name", name, *flags)
    assert SECRET_RE.fullmatch(p.stdout.rstrip("\n")) and p.stdout.count("\n") == 1, \
        "stdout must be exactly the secret and a newline"
    secret = p.stdout.strip()
    assert f'created service token "{name}"' in p.stderr and "only this once" in p.stderr, p.stderr
    assert secret not in p.stderr
    gw.secrets = sorted(set(gw.secrets) | {secret})  # teardown greps the log for it
    return secret


def list_rows(gw) -> dict:
    """`token list` as {name: line}."""
    p = cli(gw, "list")
    lines = p.stdout.splitlines()
    assert lines and lines[0].split() == ["NAME", "GROUPS", "CREATED", "EXPIRES", "STATUS"], p.stdout
    return {line.split()[0]: line for line in lines[1:]}


def app_name(conn) -> str:
    return conn.execute("SELECT current_setting('application_name')").fetchone()[0]


def test_service_token_lifecycle_without_restart(tgw):
    store = store_path(tgw)
    assert not store.exists()
    secret = create(tgw, "ci-bot", "--groups", "ci", "--expires", "30d")
    digest = hashlib.sha256(secret.encode()).hexdigest()

    # The store keeps only the hash, in a file only its owner can read.
    text = store.read_text()
    assert secret not in text and digest in text
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600

    row = list_rows(tgw)["ci-bot"]
    assert row.split()[1] == "ci" and row.split()[-1] == "active", row
    listing = cli(tgw, "list")
    for hidden in (secret, digest, secret[4:]):
        assert hidden not in listing.stdout + listing.stderr

    # The gateway was started before the store existed: no restart needed.
    assert psql_ok(tgw, "SELECT current_setting('application_name'), current_user",
                   password=secret) == "pgwarden:ci-bot|gw_scram"
    with connect(tgw, secret) as c:
        assert app_name(c) == "pgwarden:ci-bot"
    wait_log(tgw, connected_line("service-token", "ci-bot", ["ci"]))

    wrong = "pgw_" + "".join(secrets.choice("ABCdef123") for _ in range(43))
    assert_refused(tgw, wrong, r"unknown service token", codes=("28P01",))

    # An open session is not the point here; the next connection is.
    p = cli(tgw, "revoke", "--name", "ci-bot")
    assert 'revoked service token "ci-bot"' in p.stderr
    assert_refused(tgw, secret, r'service token "ci-bot" was revoked', codes=("28P01",))
    assert list_rows(tgw)["ci-bot"].split()[-2] == "revoked"
    assert_no_token(tgw.log_text(), secret, "the gateway log")


def test_a_token_created_while_the_gateway_runs_is_accepted_at_once(tgw):
    secret = create(tgw, "batch-" + secrets.token_hex(3), "--groups", "etl,reports")
    with connect(tgw, secret) as c:
        assert app_name(c).startswith("pgwarden:batch-")
    wait_log(tgw, r'service-token "batch-\w+" \(groups \[etl,reports\]\) connected')


def test_expired_service_token_ends_its_session_and_is_refused(tgw):
    secret = create(tgw, "short-lived", "--groups", "ci", "--expires", "3s")
    c = connect(tgw, secret)
    try:
        assert c.execute("SELECT 'while valid'").fetchone() == ("while valid",)
        wait_for(lambda: list_rows(tgw)["short-lived"].split()[-1] == "expired", 15,
                 "`token list` to show short-lived as expired")
        with pytest.raises(psycopg.OperationalError, match="the credential of this session expired"):
            c.execute("SELECT 'after expiry'")
    finally:
        c.close()
    assert_refused(tgw, secret, r'service token "short-lived" expired at ', codes=("28P01",))


def test_service_token_over_plaintext_is_refused_before_being_asked(tgw):
    secret = create(tgw, "plain-" + secrets.token_hex(3))
    e = auth_error(tgw, secret, tls=False)
    assert (e.severity, e.code) == ("FATAL", "28000"), e.fields
    assert "only over TLS" in e.fields["M"]
    assert 3 not in auth_requests(e.seen), e.seen


def test_application_name_template_with_method(gateway):
    gw = start_token_gateway(gateway, application_name="gw:{method}:{subject}")
    secret = create(gw, "ci-bot", "--groups", "ci")
    with connect(gw, secret) as c:
        assert app_name(c) == "gw:service-token:ci-bot"
    # SCRAM users on the same gateway get their own method.
    with gw.connect() as c:
        assert app_name(c) == "gw:scram:alice"


def test_cli_refuses_bad_input_without_touching_the_store(tgw):
    before = store_path(tgw).read_bytes() if store_path(tgw).exists() else b""
    for flags, message in ((["--expires", "0"], "greater than 0"),
                           (["--expires", "1.5s"], "--expires"),
                           (["--name", "bad name!"], "invalid service token name")):
        args = ["create"] + (flags if "--name" in flags else ["--name", "x", *flags])
        p = cli(tgw, *args, check=False)
        assert p.returncode == 2, (args, p.returncode, p.stderr)
        assert message in p.stderr and not SECRET_RE.search(p.stdout + p.stderr), p.stderr
    name = "dup-" + secrets.token_hex(3)
    secret = create(tgw, name)
    p = cli(tgw, "create", "--name", name, check=False)
    assert p.returncode != 0 and "already exists" in p.stderr, p.stderr
    assert secret not in p.stdout + p.stderr
    assert len(store_path(tgw).read_bytes()) > len(before)
