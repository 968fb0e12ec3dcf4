"""OIDC JWTs as the password, end to end: a real OIDC provider (npm
`oidc-provider`, tests/integration/oidc_fixture.py) issues the tokens, psql
and psycopg present them over TLS, and the gateway verifies them against the
provider's JWKS. Covers every signing algorithm, the identity the database
sees (application_name), groups, big tokens, key rotation, an unreachable
IdP, every way a token is refused, expiry during a session, SCRAM users next
to tokens, and the failed-attempt limit."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time

import psycopg
import pytest

import pgwire
from harness import wait_for
from idhelpers import (TOKEN_USER, assert_no_token, assert_refused, auth_error, auth_requests,
                       connect, connected_line, psql, psql_ok, wait_log)
from oidc_fixture import ALGS, decode_jwt, oidc_provider, oidc_provider_isolated  # noqa: F401
from test_oidc_fixture import jwk_to_pem

TLS_ONLY = "pgwarden accepts tokens only over TLS: connect with sslmode=require"


def oidc_entry(provider, **kw) -> dict:
    """One identity.oidc item for this provider. jwks_min_refetch is short so
    a rotation done by another test is picked up at once."""
    return {"issuer": provider.issuer, "audience": "pgwarden", "ca": provider.ca_path,
            "jwks_min_refetch": "500ms", **kw}


def start_oidc_gateway(factory, provider, oidc: dict | None = None, **identity):
    identity.setdefault("max_auth_failures_per_minute", 0)
    return factory.start(tls=factory.gateway_tls(),
                         identity={"oidc": [oidc_entry(provider, **(oidc or {}))], **identity})


@pytest.fixture(scope="module")
def ogw(module_gateway, oidc_provider):
    """TLS (not required), users alice/bob, the session provider as issuer,
    no failed-attempt limit (this module refuses many tokens on purpose)."""
    return start_oidc_gateway(module_gateway, oidc_provider)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj: dict) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unique_sub(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def app_name(conn) -> str:
    return conn.execute("SELECT current_setting('application_name')").fetchone()[0]


def accepted_as(gw, token) -> str:
    """Connects with the token; the application_name the database sees."""
    with connect(gw, token) as c:
        return app_name(c)


# ------------------------------------------------------------- TLS rule --

def test_plaintext_client_is_refused_before_being_asked_for_the_token(ogw, oidc_provider):
    token = oidc_provider.token()
    e = auth_error(ogw, token, tls=False)
    assert (e.severity, e.code, e.fields.get("M")) == ("FATAL", "28000", TLS_ONLY), e.fields
    # Wire level: the first (and only) thing the gateway sent is the error;
    # it never sent AuthenticationCleartextPassword (R, code 3).
    assert e.seen and e.seen[0][0] == b"E", e.seen
    assert 3 not in auth_requests(e.seen), e.seen
    with pytest.raises(psycopg.OperationalError, match="sslmode=require"):
        connect(ogw, token, sslmode="disable")  # (libpq gives no SQLSTATE at connect)
    assert_no_token(ogw.log_text(), token, "the gateway log")
    # SCRAM users are not tokens: they still log in without TLS.
    with ogw.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_plaintext_tokens_when_allowed(gateway, oidc_provider):
    gw = start_oidc_gateway(gateway, oidc_provider, allow_plaintext_tokens=True)
    sub = unique_sub("plain")
    with connect(gw, oidc_provider.token(sub=sub), sslmode="disable") as c:
        assert not c.pgconn.ssl_in_use
        assert app_name(c) == f"pgwarden:{sub}"


# ------------------------------------------------------------ happy path --

@pytest.mark.parametrize("alg", ALGS)
def test_each_algorithm_with_psql_and_psycopg(ogw, oidc_provider, pg, alg):
    sub = unique_sub(f"agent-{alg.lower()}")
    groups = ["ai-agents", f"alg-{alg.lower()}"]
    token = oidc_provider.token(alg=alg, groups=groups, sub=sub)
    header, payload = decode_jwt(token)
    assert header["alg"] == alg and payload["sub"] == sub

    out = psql_ok(ogw, "SELECT current_setting('application_name'), current_user",
                  password=token)
    assert out == f"pgwarden:{sub}|gw_scram"

    with connect(ogw, token) as c:
        assert c.pgconn.ssl_in_use
        assert app_name(c) == f"pgwarden:{sub}"
        # The database itself sees who is behind the shared credential.
        with pg.admin() as a:
            rows = a.execute("SELECT usename FROM pg_stat_activity WHERE application_name = %s",
                             (f"pgwarden:{sub}",)).fetchall()
        assert rows == [("gw_scram",)], rows
    wait_log(ogw, connected_line("oidc", sub, groups) + r" as credential \"main\" \(TLS\)")
    assert_no_token(ogw.log_text(), token, "the gateway log")


def test_groups_from_a_dotted_claim_path_and_application_name_template(gateway, oidc_provider,
                                                                       pg):
    gw = start_oidc_gateway(gateway, oidc_provider, {"groups_claim": "realm_access.roles"},
                            application_name="gw:{method}:{subject}:{client_app}")
    sub = unique_sub("keycloak-like")
    token = oidc_provider.token(groups=["not-these"], sub=sub,
                                claims={"realm_access": {"roles": ["readers", "ops"]}})
    with connect(gw, token, application_name="etl-job") as c:
        assert app_name(c) == f"gw:oidc:{sub}:etl-job"
    wait_log(gw, connected_line("oidc", sub, ["readers", "ops"]))
    assert "not-these" not in gw.log_text()


def test_a_token_of_several_kilobytes(ogw, oidc_provider):
    sub = unique_sub("big")
    pad = secrets.token_urlsafe(4608)  # 6144 characters
    token = oidc_provider.token(alg="RS256", sub=sub, groups=["big"], claims={"pad": pad})
    assert len(token) > 8000, len(token)
    assert psql_ok(ogw, "SELECT current_setting('application_name')",
                   password=token) == f"pgwarden:{sub}"
    with connect(ogw, token) as c:
        assert app_name(c) == f"pgwarden:{sub}"
    wait_log(ogw, connected_line("oidc", sub, ["big"]))


def test_scram_users_alongside_tokens(ogw, oidc_provider):
    sub = unique_sub("mixed")
    with ogw.connect() as alice, connect(ogw, oidc_provider.token(sub=sub)) as agent, \
            ogw.connect(user="bob", sslmode="require") as bob:
        assert app_name(alice) == "pgwarden:alice"
        assert app_name(bob) == "pgwarden:bob"
        assert app_name(agent) == f"pgwarden:{sub}"
    wait_log(ogw, connected_line("scram", "alice", ["dev"]))
    # A configured user is asked for SCRAM, not for a token.
    e = auth_error(ogw, "not-alices-password", user="alice", tls=True)
    assert (e.severity, e.code) == ("FATAL", "28P01"), e.fields
    assert 10 in auth_requests(e.seen) and 3 not in auth_requests(e.seen), e.seen


# --------------------------------------------------------------- refusals --

def _tampered_signature(p):
    h, b, s = p.token().split(".")
    i = len(s) // 2
    return f"{h}.{b}.{s[:i]}{'A' if s[i] != 'A' else 'B'}{s[i + 1:]}"


def _tampered_payload(p):
    h, b, s = p.token(sub="someone").split(".")
    claims = json.loads(base64.urlsafe_b64decode(b + "=" * (-len(b) % 4)))
    claims["sub"], claims["groups"] = "admin", ["dba"]
    return f"{h}.{b64json(claims)}.{s}"


def _alg_none(p):
    _, b, _ = p.token().split(".")
    return f"{b64json({'alg': 'none', 'typ': 'JWT'})}.{b}."


def _hs256_with_public_key(p):
    """RFC 8725 §2.1: HMAC keyed with the issuer's public RSA key (PEM)."""
    h, b, _ = p.token(alg="RS256").split(".")
    kid = json.loads(base64.urlsafe_b64decode(h + "=" * (-len(h) % 4)))["kid"]
    jwk = next(k for k in p.jwks()["keys"] if k["kid"] == kid)
    header = b64json({"alg": "HS256", "typ": "JWT", "kid": kid})
    mac = hmac.new(jwk_to_pem(jwk).encode(), f"{header}.{b}".encode(), hashlib.sha256).digest()
    return f"{header}.{b}.{b64url(mac)}"


REFUSALS = {
    # name: (token maker, message regex, SQLSTATEs)
    "expired": (lambda p: p.token(claims={"exp": int(time.time()) - 600,
                                          "iat": int(time.time()) - 900}),
                r"token expired at ", ("28P01",)),
    "not_yet_valid": (lambda p: p.token(claims={"nbf": int(time.time()) + 3600}),
                      r"token is not valid before ", ("28P01",)),
    "wrong_audience": (lambda p: p.token(claims={"aud": "someone-else"}),
                       r'audience .*"someone-else".* does not include "pgwarden"', ("28P01",)),
    "no_expiry": (lambda p: p.token(claims={"exp": None}), r"token has no expiry", ("28P01",)),
    "unknown_issuer": (lambda p: p.token(claims={"iss": "https://idp.not-configured.example"}),
                       r'issuer "https://idp.not-configured.example" is not configured in '
                       r"identity.oidc", ("28000",)),
    "unknown_key_id": (lambda p: p.token(header={"kid": "no-such-kid"}),
                       r'key id "no-such-kid" is not one of the issuer\'s keys', ("28000",)),
    "tampered_signature": (_tampered_signature, r"signature does not verify", ("28P01",)),
    "tampered_payload": (_tampered_payload, r"signature does not verify", ("28P01",)),
    "alg_none": (_alg_none, r'algorithm "none" is not allowed: unsigned tokens', ("28000",)),
    "hs256_with_rsa_public_key": (_hs256_with_public_key,
                                  r'algorithm "HS256" is not allowed: shared-secret \(HMAC\)',
                                  ("28000",)),
    "malformed_three_parts": (lambda p: "abc.def.ghi",
                              r"token (header|payload|signature) is not", ("28000",)),
    "oversized": (lambda p: p.token(claims={"pad": secrets.token_urlsafe(15000)}),
                  r"token is \d+ bytes, more than the limit of 16384", ("28000",)),
    "garbage": (lambda p: "garbage-" + secrets.token_hex(12),
                r"not a credential pgwarden accepts here \(expected an OIDC access token",
                ("28P01",)),
}


@pytest.mark.parametrize("case", list(REFUSALS))
def test_refused_token(ogw, oidc_provider, case):
    make, message_re, codes = REFUSALS[case]
    token = make(oidc_provider)
    e = assert_refused(ogw, token, message_re, codes=codes)
    wait_log(ogw, r'authentication failed for user "agent": .*' + message_re)
    # psql sees the same refusal (and retries nothing over plaintext).
    p = psql(ogw, "SELECT 1", password=token)
    now = lambda text: re.sub(r"now \S+Z", "now <t>", text)  # noqa: E731 (a second later)
    assert p.returncode != 0 and now(e.fields["M"]) in now(p.stderr), p.stderr
    assert_no_token(p.stderr, token, "psql's error")


def test_issuer_restrictions_algorithms_required_claims_lifetime(gateway, oidc_provider):
    gw = start_oidc_gateway(gateway, oidc_provider, {"algorithms": ["ES256"],
                                                     "required_claims": {"azp": "ci-runner"},
                                                     "max_token_lifetime": "10m"})
    p = oidc_provider
    assert_refused(gw, p.token(alg="RS256", claims={"azp": "ci-runner"}),
                   r'algorithm "RS256" is not allowed \(allowed: ES256\)', codes=("28000",))
    assert_refused(gw, p.token(alg="ES256"), r'token has no claim "azp", which is required',
                   codes=("28P01",))
    assert_refused(gw, p.token(alg="ES256", claims={"azp": "someone"}),
                   r'token claim "azp" is "someone", required "ci-runner"', codes=("28P01",))
    assert_refused(gw, p.token(alg="ES256", ttl=3600, claims={"azp": "ci-runner"}),
                   r"token lifetime 3600s .* exceeds the maximum", codes=("28P01",))
    ok = p.token(alg="ES256", ttl=300, sub="restricted", claims={"azp": "ci-runner"})
    assert accepted_as(gw, ok) == "pgwarden:restricted"


def test_two_issuers_on_one_gateway(gateway, oidc_provider, oidc_provider_isolated):
    a, b = oidc_provider, oidc_provider_isolated
    gw = gateway.start(tls=gateway.gateway_tls(), identity={
        "max_auth_failures_per_minute": 0,
        "oidc": [oidc_entry(a), oidc_entry(b, subject_claim="email", groups_claim="team")]})
    assert accepted_as(gw, a.token(sub="from-a")) == "pgwarden:from-a"
    assert accepted_as(gw, b.token(sub="ignored", claims={"email": "bob@b.example",
                                                         "team": "blue"})) \
        == "pgwarden:bob@b.example"
    wait_log(gw, connected_line("oidc", "bob@b.example", ["blue"]))
    # Issuer confusion: signed by B, claiming to come from A -> A's keys refuse it.
    forged = b.token(alg="ES256", claims={"iss": a.issuer})
    assert_refused(gw, forged, r"(signature does not verify|is not one of the issuer's keys)")


# ------------------------------------------------------ keys and the IdP --

def test_key_rotation_without_restarting_the_gateway(gateway, oidc_provider_isolated):
    p = oidc_provider_isolated
    gw = start_oidc_gateway(gateway, p)
    old = {alg: p.token(alg=alg, sub=f"old-{alg}") for alg in ALGS}
    with connect(gw, old["ES256"]) as c:  # keys fetched and cached
        assert c.execute("SELECT 1").fetchone() == (1,)
    before = p.current_kids()
    after = p.rotate()["kids"]
    assert all(after[a] != before[a] for a in ALGS), (before, after)
    new = {alg: p.token(alg=alg, sub=f"new-{alg}") for alg in ALGS}
    for alg in ALGS:
        assert decode_jwt(new[alg])[0]["kid"] == after[alg]

    def accepted(token):
        return accepted_as(gw, token)
    # An unknown kid makes the gateway fetch the JWKS again (at most once per
    # jwks_min_refetch, 500ms here): poll instead of assuming the timing.
    assert wait_for(lambda: accepted(new["ES256"]), 15, "a token with the rotated kid to be "
                    "accepted") == "pgwarden:new-ES256"
    for alg in ALGS:
        assert accepted(new[alg]) == f"pgwarden:new-{alg}"
        assert accepted(old[alg]) == f"pgwarden:old-{alg}"  # old keys are still published
    assert gw.alive()


def test_idp_unreachable_before_keys_were_ever_fetched(gateway, oidc_provider_isolated):
    p = oidc_provider_isolated
    token = p.token(sub="early-bird")
    p.stop()
    gw = start_oidc_gateway(gateway, p)
    e = assert_refused(gw, token, r"identity provider could not be reached", codes=("28000",))
    assert "no keys are cached" in e.fields["M"], e.fields
    # Back up: the same token is accepted without restarting the gateway.
    p.start()
    assert wait_for(lambda: accepted_as(gw, token), 15,
                    "the token to be accepted once the IdP is back") == "pgwarden:early-bird"


def test_idp_down_after_keys_were_cached(gateway, oidc_provider_isolated):
    p = oidc_provider_isolated
    gw = start_oidc_gateway(gateway, p)
    first, later = p.token(alg="PS256", sub="cached-1"), p.token(alg="EdDSA", sub="cached-2")
    with connect(gw, first) as c:
        assert app_name(c) == "pgwarden:cached-1"
    p.stop()
    with connect(gw, later) as c:
        assert app_name(c) == "pgwarden:cached-2"
    assert psql_ok(gw, "SELECT 1", password=first) == "1"


# ---------------------------------------------------- expiry in a session --

def _wait_past(exp: int):
    wait_for(lambda: time.time() >= exp + 0.2, exp - time.time() + 10,
             f"the clock to pass the token's exp {exp}")


def test_token_expiry_ends_the_session(gateway, oidc_provider):
    # The session keeps the login's clock-skew tolerance, so a short skew
    # keeps this test short: the session ends at exp + 1 s.
    ogw = start_oidc_gateway(gateway, oidc_provider, oidc={"clock_skew": "1s"})
    token = oidc_provider.token(ttl=4, sub=unique_sub("short"))
    exp = decode_jwt(token)[1]["exp"]
    c = connect(ogw, token)
    ext = connect(ogw, token)  # the same, with the extended protocol (Parse/Bind/Execute)
    raw = pgwire.RawConn(ogw.host, ogw.port, timeout=15).startup_tls()
    try:
        assert ext.execute("SELECT %s::text", ("ext before",)).fetchone() == ("ext before",)
        raw.startup(TOKEN_USER, "app", token)
        assert raw.simple_query("SELECT 'raw before'").rows == [["raw before"]]
        assert c.execute("SELECT 'before expiry'").fetchone() == ("before expiry",)
        _wait_past(exp + 1)
        # psycopg (what a user sees): the message, and the connection is gone.
        # (libpq reports no SQLSTATE for a FATAL followed by a close, not even
        # from PostgreSQL itself, so the SQLSTATE is read on the wire below.)
        with pytest.raises(psycopg.OperationalError,
                           match="the credential of this session expired at .*; reconnect with "
                                 "a fresh token") as ei:
            c.execute("SELECT 'after expiry'")
        assert_no_token(str(ei.value), token, "the error")
        assert c.closed or c.broken
        with pytest.raises(psycopg.OperationalError, match="credential of this session expired"):
            ext.execute("SELECT %s::text", ("ext after",))
        with pytest.raises(pgwire.PgError) as we:
            raw.simple_query("SELECT 'raw after'")
        assert (we.value.severity, we.value.code) == ("FATAL", "28000"), we.value.fields
        assert "the credential of this session expired" in we.value.fields["M"]
        raw.read_until_eof(10)  # and the gateway closes the connection
    finally:
        c.close()
        ext.close()
        raw.close()
    wait_log(ogw, r"ended: credential expired")


def test_hard_limit_lets_a_session_outlive_its_token(gateway, oidc_provider):
    gw = start_oidc_gateway(gateway, oidc_provider,
                            token_expiry={"mode": "hard_limit", "hard_limit": "1h"})
    token = oidc_provider.token(ttl=2, sub="long-job")
    exp = decode_jwt(token)[1]["exp"]
    with connect(gw, token) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
        _wait_past(exp)
        assert c.execute("SELECT 'still here'").fetchone() == ("still here",)
        assert app_name(c) == "pgwarden:long-job"


def test_hard_limit_caps_a_session_whose_token_lives_longer(gateway, oidc_provider):
    gw = start_oidc_gateway(gateway, oidc_provider,
                            token_expiry={"mode": "hard_limit", "hard_limit": "2s"})
    token = oidc_provider.token(ttl=600, sub="capped")
    with connect(gw, token) as c:
        started = time.time()
        assert c.execute("SELECT 1").fetchone() == (1,)
        wait_for(lambda: time.time() >= started + 2.5, 10, "2.5 s into the session")
        # libpq reports no SQLSTATE for a FATAL followed by a close: match the message.
        with pytest.raises(psycopg.OperationalError, match="credential of this session expired"):
            c.execute("SELECT 'past the hard limit'")


def test_a_token_accepted_within_the_clock_skew_can_run_a_statement(ogw, oidc_provider):
    now = int(time.time())
    token = oidc_provider.token(sub="skewed", claims={"exp": now - 20, "iat": now - 300})
    with connect(ogw, token) as c:  # accepted: 20 s past exp, within the 60 s skew
        assert app_name(c) == "pgwarden:skewed"


# ------------------------------------------------------------ rate limit --

def test_failed_attempts_limit_blocks_even_a_valid_token(gateway, oidc_provider):
    gw = start_oidc_gateway(gateway, oidc_provider, max_auth_failures_per_minute=3)
    for i in range(3):
        e = auth_error(gw, f"wrong-{i}-" + secrets.token_hex(8))
        assert (e.severity, e.code) == ("FATAL", "28P01"), e.fields
    valid = oidc_provider.token(sub="unlucky")
    e = auth_error(gw, valid)
    assert (e.severity, e.code) == ("FATAL", "28000"), e.fields
    assert "too many failed authentication attempts" in e.fields["M"], e.fields
    assert 3 not in auth_requests(e.seen), "a blocked client was still asked for its token"
    with pytest.raises(psycopg.OperationalError, match="too many failed authentication"):
        connect(gw, valid)
    assert_no_token(gw.log_text(), valid, "the gateway log")
    assert "connected" not in gw.log_text()  # the valid token was never even verified

