"""Helpers shared by the identity tests (test_identity_*.py): connecting with
a bearer token as the password over TLS (psql, psycopg, raw wire), reading
the FATAL a refused client gets, and checking that a token never shows up in
an error or in the gateway's log."""

from __future__ import annotations

import re
import subprocess
from typing import Optional

import psycopg

import pgwire
from harness import clean_env, conninfo, wait_for

TOKEN_USER = "agent"  # not in identity.users: the gateway asks for a token


def psql(gw, sql: str, *, password: Optional[str] = None, user: str = TOKEN_USER,
         dbname: str = "app", sslmode: str = "require", timeout: float = 30,
         **conn) -> subprocess.CompletedProcess:
    """psql -c SQL through the gateway; the password (if any) via PGPASSWORD,
    never on the command line; -w: psql never prompts."""
    params = dict(host=gw.host, port=gw.port, user=user, dbname=dbname, sslmode=sslmode,
                  connect_timeout=10, **conn)
    env = clean_env(PGPASSWORD=password) if password is not None else clean_env()
    return subprocess.run(["psql", "-X", "-w", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                           "-d", conninfo(**params), "-c", sql],
                          env=env, capture_output=True, text=True, timeout=timeout)


def psql_ok(gw, sql: str, **kw) -> str:
    p = psql(gw, sql, **kw)
    assert p.returncode == 0, f"psql failed ({p.returncode}):\n{p.stderr}\nlog tail:\n" \
                              f"{gw.log_text()[-2000:]}"
    return p.stdout.strip()


def connect(gw, token: str, *, user: str = TOKEN_USER, dbname: str = "app",
            sslmode: str = "require", **kw) -> psycopg.Connection:
    """psycopg with the token as the password."""
    return psycopg.connect(conninfo(host=gw.host, port=gw.port, user=user, dbname=dbname,
                                    password=token, sslmode=sslmode, connect_timeout=10, **kw),
                           autocommit=True)


def auth_error(gw, password: str, *, user: str = TOKEN_USER, dbname: str = "app",
               tls: bool = True, cafile: Optional[str] = None) -> pgwire.PgError:
    """Raw wire: (SSLRequest + TLS,) StartupMessage, the password when asked;
    expects an ErrorResponse and returns it (`.seen`: every backend message)."""
    c = pgwire.RawConn(gw.host, gw.port, timeout=15)
    try:
        if tls:
            c.startup_tls(cafile)
        c.startup(user, dbname, password)
    except pgwire.PgError as e:
        e.seen = c.seen
        return e
    finally:
        c.close()
    raise AssertionError(f"authentication as {user!r} unexpectedly succeeded")


def auth_requests(seen: list) -> list:
    """The Authentication request codes among the backend messages seen."""
    import struct
    return [struct.unpack_from("!i", body, 0)[0] for tag, body in seen if tag == b"R"]


def token_parts(token: str) -> list:
    """The token and, for a JWT, its signature part: none may leak."""
    out = [token]
    if token.count(".") == 2:
        sig = token.rsplit(".", 1)[1]
        if len(sig) >= 16:
            out.append(sig)
    return out


def assert_no_token(text: str, token: str, where: str):
    for part in token_parts(token):
        assert part not in text, f"{where} contains the token (or its signature)"


def assert_refused(gw, token: str, message_re: str, *, codes=("28000", "28P01"),
                   **kw) -> pgwire.PgError:
    """The token is refused with a FATAL whose SQLSTATE is in `codes` and whose
    message matches `message_re`; neither the error nor the log holds the token."""
    e = auth_error(gw, token, **kw)
    assert e.severity == "FATAL", e.fields
    assert e.code in codes, e.fields
    assert re.search(message_re, e.fields.get("M", "")), e.fields
    assert_no_token(e.text, token, "the error sent to the client")
    # The log line of this refusal is written before the client is told.
    assert_no_token(gw.log_text(), token, "the gateway log")
    gw.secrets = sorted(set(gw.secrets) | set(token_parts(token)))  # checked again at teardown
    return e


def wait_log(gw, pattern: str, timeout: float = 10) -> re.Match:
    """Polls the gateway log for a regex (log lines may trail the client's view)."""
    rx = re.compile(pattern)
    return wait_for(lambda: rx.search(gw.log_text()), timeout, f"log line /{pattern}/ in "
                    f"{gw.log_path}")


def connected_line(method: str, subject: str, groups: list) -> str:
    """Regex of the session's info line, e.g. oidc "bob" (groups [a,b]) connected."""
    return (re.escape(f'{method} "{subject}" (groups [{",".join(groups)}]) connected to ')
            + r'"\w+"')
