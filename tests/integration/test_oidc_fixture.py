"""Tests of the OIDC provider fixture itself (no gateway involved).

Signatures are checked with the `openssl` CLI on the JWKS keys converted to
PEM, so this needs nothing beyond the standard library and openssl."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from oidc_fixture import (ALGS, AUDIENCE, OidcError, b64url_decode, decode_jwt,  # noqa: F401
                          oidc_provider, oidc_provider_isolated)


# ------------------------------------------------ JWK -> PEM, JWS verifying --

def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def _der(tag: int, content: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(content)) + content


def _der_int(b: bytes) -> bytes:
    i = int.from_bytes(b, "big")
    return _der(0x02, i.to_bytes(max(1, (i.bit_length() + 8) // 8), "big"))


def _spki(alg_id: bytes, key: bytes) -> bytes:
    return _der(0x30, _der(0x30, alg_id) + _der(0x03, b"\x00" + key))


OID_RSA = bytes.fromhex("06092a864886f70d010101") + bytes.fromhex("0500")
OID_EC_P256 = bytes.fromhex("06072a8648ce3d0201") + bytes.fromhex("06082a8648ce3d030107")
OID_ED25519 = bytes.fromhex("06032b6570")


def jwk_to_pem(jwk: dict) -> str:
    if jwk["kty"] == "RSA":
        der = _spki(OID_RSA, _der(0x30, _der_int(b64url_decode(jwk["n"]))
                                  + _der_int(b64url_decode(jwk["e"]))))
    elif jwk["kty"] == "EC" and jwk["crv"] == "P-256":
        der = _spki(OID_EC_P256, b"\x04" + b64url_decode(jwk["x"]) + b64url_decode(jwk["y"]))
    elif jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519":
        der = _spki(OID_ED25519, b64url_decode(jwk["x"]))
    else:
        raise ValueError(f"unsupported JWK {jwk}")
    b64 = base64.b64encode(der).decode()
    body = "\n".join(b64[i:i + 64] for i in range(0, len(b64), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def openssl_verify(token: str, jwk: dict, d: Path) -> bool:
    """Verifies a compact JWS with `openssl`, independently of any JWT library."""
    h, p, s = token.split(".")
    alg = json.loads(b64url_decode(h))["alg"]
    sig = b64url_decode(s)
    (d / "pub.pem").write_text(jwk_to_pem(jwk))
    (d / "data").write_bytes(f"{h}.{p}".encode())
    if alg == "ES256":
        assert len(sig) == 64
        sig = _der(0x30, _der_int(sig[:32]) + _der_int(sig[32:]))
    (d / "sig").write_bytes(sig)
    if alg == "EdDSA":
        cmd = ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin",
               "-in", "data", "-sigfile", "sig"]
    else:
        cmd = ["openssl", "dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig"]
        if alg == "PS256":
            cmd += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
        cmd += ["data"]
    r = subprocess.run(cmd, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    return r.returncode == 0


def jwk_by_kid(jwks: dict, kid: str) -> dict:
    matches = [k for k in jwks["keys"] if k["kid"] == kid]
    assert len(matches) == 1, (kid, [k["kid"] for k in jwks["keys"]])
    return matches[0]


# --------------------------------------------------------------------- tests --

def test_discovery(oidc_provider):
    disc = oidc_provider.discovery(refresh=True)
    assert oidc_provider.issuer.startswith("https://127.0.0.1:")
    assert disc["issuer"] == oidc_provider.issuer
    assert disc["jwks_uri"].startswith(oidc_provider.issuer + "/")
    assert disc["token_endpoint"].startswith(oidc_provider.issuer + "/")
    assert "client_credentials" in disc["grant_types_supported"]


def test_https_is_verified_against_the_fixture_ca(oidc_provider):
    # The system trust store must reject the certificate; the CA file accepts it,
    # also under the name localhost.
    with pytest.raises(urllib.error.URLError) as e:
        urllib.request.urlopen(oidc_provider.issuer + "/.well-known/openid-configuration",
                               context=ssl.create_default_context(), timeout=10)
    assert isinstance(e.value.reason, ssl.SSLCertVerificationError)
    url = f"https://localhost:{oidc_provider.port}/.well-known/openid-configuration"
    ctx = ssl.create_default_context(cafile=oidc_provider.ca_path)
    with urllib.request.urlopen(url, context=ctx, timeout=10) as r:
        assert json.loads(r.read())["issuer"] == oidc_provider.issuer


def test_jwks_has_all_key_types_with_distinct_kids(oidc_provider):
    keys = oidc_provider.jwks()["keys"]
    kids = [k["kid"] for k in keys]
    assert len(kids) == len(set(kids))
    kinds = {(k["kty"], k.get("crv")) for k in keys}
    assert {("RSA", None), ("EC", "P-256"), ("OKP", "Ed25519")} <= kinds
    assert {k["alg"] for k in keys} >= set(ALGS)
    for k in keys:  # public parts only
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(k), k["kid"]
    assert set(oidc_provider.current_kids().values()) <= set(kids)


@pytest.mark.parametrize("alg", ALGS)
def test_token_per_alg_is_signed_and_carries_claims(oidc_provider, alg, tmp_path):
    before = int(time.time())
    tok = oidc_provider.token(alg=alg, groups=["ai-agents", "db readers"], sub=f"agent-{alg}")
    header, payload = decode_jwt(tok)
    jwks = oidc_provider.jwks()
    assert header["alg"] == alg
    assert header["typ"] == "at+jwt"
    jwk = jwk_by_kid(jwks, header["kid"])
    assert jwk["alg"] == alg
    assert header["kid"] == oidc_provider.current_kids()[alg]
    assert payload["iss"] == oidc_provider.issuer
    assert payload["aud"] == AUDIENCE
    assert payload["groups"] == ["ai-agents", "db readers"]
    assert payload["sub"] == f"agent-{alg}"
    assert before - 5 <= payload["iat"] <= int(time.time()) + 5
    assert payload["exp"] - payload["iat"] == 300
    assert openssl_verify(tok, jwk, tmp_path)
    # The check is not vacuous: a changed payload or another key fails.
    h, p, s = tok.split(".")
    forged = dict(payload, groups=["admin"])
    forged_p = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    assert not openssl_verify(f"{h}.{forged_p}.{s}", jwk, tmp_path)
    other = next(k for k in jwks["keys"] if k["kid"] != jwk["kid"] and k["kty"] == jwk["kty"]
                 and k.get("crv") == jwk.get("crv")) if jwk["kty"] == "RSA" else None
    if other is not None:
        assert not openssl_verify(tok, other, tmp_path)


def test_defaults(oidc_provider):
    _, payload = decode_jwt(oidc_provider.token())
    assert payload["sub"] == oidc_provider.client_id
    assert payload["groups"] == []
    assert payload["aud"] == AUDIENCE


def test_ttl_is_honoured(oidc_provider):
    resp = oidc_provider.token_response(alg="ES256", ttl=3)
    assert resp["expires_in"] == 3
    _, payload = decode_jwt(resp["access_token"])
    assert payload["exp"] - payload["iat"] == 3
    with pytest.raises(OidcError) as e:
        oidc_provider.token(ttl=0)
    assert e.value.status == 400


def test_claim_and_header_overrides(oidc_provider, tmp_path):
    tok = oidc_provider.token(alg="EdDSA", claims={"exp": 1000, "aud": "someone-else",
                                                   "nbf": 4102444800, "groups": None},
                              header={"kid": "not-in-jwks"})
    header, payload = decode_jwt(tok)
    assert header["kid"] == "not-in-jwks"
    assert payload["exp"] == 1000 and payload["aud"] == "someone-else"
    assert payload["nbf"] == 4102444800 and "groups" not in payload
    # Still a genuine signature by the current EdDSA key.
    kid = oidc_provider.current_kids()["EdDSA"]
    assert openssl_verify(tok, jwk_by_kid(oidc_provider.jwks(), kid), tmp_path)


def test_wrong_client_secret_is_rejected(oidc_provider):
    with pytest.raises(OidcError) as e:
        oidc_provider.token_response(client_secret="wrong")
    assert e.value.status == 401 and e.value.body["error"] == "invalid_client"


def test_admin_needs_the_secret(oidc_provider):
    req = urllib.request.Request(oidc_provider.issuer + "/admin/rotate", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, context=oidc_provider.ssl_context, timeout=10)
    assert e.value.code == 401


def test_rotate_publishes_new_kids_used_by_new_tokens(oidc_provider_isolated, tmp_path):
    p = oidc_provider_isolated
    old = p.current_kids()
    old_tokens = {alg: p.token(alg=alg) for alg in ALGS}
    port = p.port

    state = p.rotate()
    new = state["kids"]
    assert p.port == port and p.running
    jwks = p.jwks()
    published = {k["kid"] for k in jwks["keys"]}
    for alg in ALGS:
        assert new[alg] != old[alg]
        assert {new[alg], old[alg]} <= published          # old keys still published
        tok = p.token(alg=alg)
        header, _ = decode_jwt(tok)
        assert header["kid"] == new[alg]
        assert openssl_verify(tok, jwk_by_kid(jwks, new[alg]), tmp_path)
        assert openssl_verify(old_tokens[alg], jwk_by_kid(jwks, old[alg]), tmp_path)

    # One alg only, retiring its previous keys.
    state = p.rotate(algs=["ES256"], retire=True)
    published = {k["kid"] for k in p.jwks()["keys"]}
    assert state["kids"]["ES256"] not in (old["ES256"], new["ES256"])
    assert state["kids"]["ES256"] in published
    assert old["ES256"] not in published and new["ES256"] not in published
    assert state["kids"]["RS256"] == new["RS256"]
    assert decode_jwt(p.token(alg="ES256"))[0]["kid"] == state["kids"]["ES256"]


def test_stop_and_restart_keep_issuer_and_keys(oidc_provider_isolated):
    p = oidc_provider_isolated
    p.rotate(algs=["RS256"])
    issuer, kids = p.issuer, p.current_kids()
    p.stop()
    assert not p.running
    with pytest.raises(OSError):   # nothing listens while it is down
        socket.create_connection(("127.0.0.1", p.port), timeout=2).close()
    p.start()
    assert p.issuer == issuer
    assert p.current_kids() == kids
    assert decode_jwt(p.token(alg="RS256"))[0]["kid"] == kids["RS256"]
    p.restart()
    assert p.issuer == issuer and p.discovery(refresh=True)["issuer"] == issuer


def test_fault_injection(oidc_provider_isolated):
    p = oidc_provider_isolated
    p.set_faults({"/jwks": {"status": 503}})
    with pytest.raises(OidcError) as e:
        p.jwks()
    assert e.value.status == 503
    p.clear_faults()
    assert p.jwks()["keys"]
