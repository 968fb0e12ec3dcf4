"""Client certificates as the caller's identity (mTLS): `tls.client_ca` plus
`identity.client_certificates`. psql and psycopg present a certificate made
here with the openssl CLI and connect with no password at all."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

import pgwire
from harness import conninfo, run
from idhelpers import connected_line, psql, psql_ok, wait_log


@dataclass
class ClientPki:
    ca: Path
    runner: tuple       # (cert, key): CN=ci-runner, no SAN
    alice: tuple        # CN=Alice Example, SAN email:alice@example.com
    rogue_runner: tuple  # CN=ci-runner, signed by an unrelated CA


def _ca(d: Path, name: str, cn: str) -> Path:
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.crt"), "-days", "3",
         "-subj", f"/CN={cn}", "-addext", "basicConstraints=critical,CA:TRUE",
         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    return d / f"{name}.crt"


def _client(d: Path, name: str, ca: str, cn: str, san: str | None = None) -> tuple:
    ext = d / f"{name}.ext"
    ext.write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
                   "extendedKeyUsage=clientAuth\n" + (f"subjectAltName={san}\n" if san else ""))
    run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"), "-subj", f"/CN={cn}"])
    run(["openssl", "x509", "-req", "-in", str(d / f"{name}.csr"), "-CA", str(d / f"{ca}.crt"),
         "-CAkey", str(d / f"{ca}.key"), "-CAcreateserial", "-days", "3",
         "-out", str(d / f"{name}.crt"), "-extfile", str(ext)])
    os.chmod(d / f"{name}.key", 0o600)  # libpq refuses a key others can read
    return d / f"{name}.crt", d / f"{name}.key"


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> ClientPki:
    d = tmp_path_factory.mktemp("client-pki")
    ca = _ca(d, "clients_ca", "pgwarden test client CA")
    _ca(d, "rogue_ca", "some other CA")
    return ClientPki(ca=ca,
                     runner=_client(d, "runner", "clients_ca", "ci-runner"),
                     alice=_client(d, "alice", "clients_ca", "Alice Example",
                                   "email:alice@example.com"),
                     rogue_runner=_client(d, "rogue", "rogue_ca", "ci-runner"))


def start_cert_gateway(factory, pki: ClientPki, **client_certificates):
    tls = {**factory.gateway_tls(), "client_ca": str(pki.ca)}
    return factory.start(tls=tls, identity={"client_certificates": client_certificates})


@pytest.fixture(scope="module")
def cgw(module_gateway, pki):
    return start_cert_gateway(module_gateway, pki, id_from="cn", groups={"ci-runner": ["ci"]},
                              default_groups=["guests"])


def cert_params(pair: tuple) -> dict:
    return {"sslcert": str(pair[0]), "sslkey": str(pair[1])}


def test_psql_with_a_client_certificate_and_no_password(cgw, pki, pg):
    out = psql_ok(cgw, "SELECT current_setting('application_name'), current_user",
                  user="ci-runner", **cert_params(pki.runner))  # no PGPASSWORD at all
    assert out == "pgwarden:ci-runner|gw_scram"
    wait_log(cgw, connected_line("client-certificate", "ci-runner", ["ci"]))


def test_psycopg_with_a_certificate_not_in_the_groups_map(cgw, pki):
    with psycopg.connect(conninfo(host=cgw.host, port=cgw.port, user="whoever", dbname="app",
                                  sslmode="require", connect_timeout=10,
                                  **cert_params(pki.alice)), autocommit=True) as c:
        assert c.execute("SELECT current_setting('application_name')").fetchone() == \
            ("pgwarden:Alice Example",)
    wait_log(cgw, r'client-certificate "Alice Example" \(groups \[guests\]\) connected')


def test_certificate_from_an_unrelated_ca_is_refused_at_the_handshake(cgw, pki):
    before = cgw.log_text().count("TLS handshake failed")
    p = psql(cgw, "SELECT 1", user="ci-runner", **cert_params(pki.rogue_runner))
    assert p.returncode != 0
    assert "SSL error" in p.stderr and "unknown ca" in p.stderr, p.stderr
    wait_log(cgw, r"TLS handshake failed: certificate verify failed")
    log = cgw.log_text()
    assert log.count("TLS handshake failed") > before
    # It never got as far as authentication: nobody connected as ci-runner
    # through this attempt (the good certificate's line is from another test).
    assert log.count('client-certificate "ci-runner"') == \
        log.count('client-certificate "ci-runner" (groups [ci]) connected')


def test_without_a_certificate_local_users_still_log_in(cgw):
    with cgw.connect(sslmode="require") as c:
        assert c.execute("SELECT current_setting('application_name')").fetchone() == \
            ("pgwarden:alice",)


def test_identity_from_the_email_san(gateway, pki):
    gw = start_cert_gateway(gateway, pki, id_from="san_email",
                            groups={"alice@example.com": ["dba"]})
    assert psql_ok(gw, "SELECT current_setting('application_name')", user="alice",
                   **cert_params(pki.alice)) == "pgwarden:alice@example.com"
    wait_log(gw, r'client-certificate "alice@example\.com" \(groups \[dba\]\) connected')
    # A certificate without an email SAN identifies nobody here.
    e = _cert_auth_error(gw, pki.runner)
    assert (e.severity, e.code) == ("FATAL", "28000"), e.fields
    assert "identity.client_certificates.id_from" in e.fields["M"], e.fields


def _cert_auth_error(gw, pair):
    """Raw wire over TLS with a client certificate; the ErrorResponse."""
    c = pgwire.RawConn(gw.host, gw.port, timeout=15)
    try:
        assert c.request_ssl() == b"S"
        ctx = ssl._create_unverified_context()
        ctx.load_cert_chain(str(pair[0]), str(pair[1]))
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        c.startup("ci-runner", "app")
    except pgwire.PgError as e:
        return e
    finally:
        c.close()
    raise AssertionError("authentication unexpectedly succeeded")
