"""The development issuer: the gateway serves its own discovery document and
JWKS on listen.http, `pgwarden token mint` signs a JWT with its key, and a
client logs in with that JWT exactly as with a real IdP's token."""

from __future__ import annotations

import json
import subprocess
import urllib.request

import pytest

from harness import clean_env, free_port, gateway_bin, run
from idhelpers import assert_no_token, psql, psql_ok


@pytest.fixture(scope="module")
def dev_gw(module_gateway, tmp_path_factory):
    keydir = tmp_path_factory.mktemp("devissuer")
    key = keydir / "dev-issuer.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)],
                   check=True, capture_output=True)
    key.chmod(0o600)
    http_port = free_port()
    issuer = f"http://127.0.0.1:{http_port}/dev-issuer"
    gw = module_gateway.start(
        tls=module_gateway.gateway_tls(),
        extra={"listen": {"postgres": f"127.0.0.1:{free_port()}",
                          "http": f"127.0.0.1:{http_port}"}},
        identity={"dev_issuer": {"key": str(key), "audience": "pgwarden"},
                  "oidc": [{"issuer": issuer, "audience": "pgwarden", "algorithms": ["EdDSA"],
                            "jwks_min_refetch": "500ms"}],
                  "max_auth_failures_per_minute": 0})
    gw.issuer = issuer
    return gw


def mint(gw, *args, check=True):
    return run([gateway_bin(), "token", "mint", "--config", str(gw.config_path), *args],
               env=clean_env(**gw.env), check=check, timeout=60)


def fetch_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("application/json")
        return json.loads(r.read())


def test_discovery_and_jwks_are_served_on_the_http_port(dev_gw):
    doc = fetch_json(dev_gw.issuer + "/.well-known/openid-configuration")
    assert doc["issuer"] == dev_gw.issuer
    jwks = fetch_json(doc["jwks_uri"])
    (key,) = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert "d" not in key, "the private part of the key must never be published"


def test_minted_token_logs_in_as_its_subject(dev_gw):
    token = mint(dev_gw, "--sub", "alice", "--groups", "ai-agents,dev").stdout.strip()
    assert token.count(".") == 2
    out = psql_ok(dev_gw, "SELECT current_setting('application_name')", password=token)
    assert out == "pgwarden:alice"
    log = dev_gw.log_text()
    assert 'oidc "alice" (groups [ai-agents,dev]) connected' in log
    assert_no_token(log, token, "the gateway log")


def test_tampered_minted_token_is_refused(dev_gw):
    # A token is only as good as the gateway's verification of it: tamper with
    # the payload and the signature no longer verifies.
    token = mint(dev_gw, "--sub", "mallory").stdout.strip()
    head, payload, sig = token.split(".")
    forged = ".".join([head, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), sig])
    p = psql(dev_gw, "SELECT 1", password=forged)
    assert p.returncode != 0
    assert "FATAL" in p.stderr
    assert_no_token(p.stderr, forged, "the error")


def test_mint_without_a_dev_issuer_says_which_key_to_add(module_gateway):
    gw = module_gateway.start()
    p = mint(gw, "--sub", "alice", check=False)
    assert p.returncode == 2
    assert "identity.dev_issuer" in p.stderr
    assert p.stdout == ""
