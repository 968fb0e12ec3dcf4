"""A tiny PostgreSQL v3 frontend for raw-socket tests: build messages with
struct, read typed backend messages, authenticate with SCRAM-SHA-256 / MD5 /
cleartext. Every read has a deadline; nothing blocks forever."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import ssl as ssl_mod
import struct
import time
from dataclasses import dataclass, field
from typing import Optional

PROTO_3_0 = 3 << 16
PROTO_3_1 = (3 << 16) | 1
SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102


# ---------------------------------------------------------------- encoders

def msg(tag: bytes, body: bytes = b"") -> bytes:
    return tag + struct.pack("!i", len(body) + 4) + body


def cstr(s) -> bytes:
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def startup_message(params: dict, protocol: int = PROTO_3_0) -> bytes:
    body = struct.pack("!i", protocol)
    for k, v in params.items():
        body += cstr(k) + cstr(v)
    body += b"\0"
    return struct.pack("!i", len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!ii", 8, SSL_REQUEST)


def gssenc_request() -> bytes:
    return struct.pack("!ii", 8, GSSENC_REQUEST)


def cancel_request(pid: int, key: int) -> bytes:
    return struct.pack("!iiII", 16, CANCEL_REQUEST, pid & 0xFFFFFFFF, key & 0xFFFFFFFF)


def query(sql: str) -> bytes:
    return msg(b"Q", cstr(sql))


def terminate() -> bytes:
    return msg(b"X")


# ---------------------------------------------------------------- decoding

def parse_error_fields(body: bytes) -> dict:
    """ErrorResponse/NoticeResponse body -> {'S': 'FATAL', 'C': '08P01', 'M': ...}."""
    out = {}
    i = 0
    while i < len(body) and body[i] != 0:
        code = chr(body[i])
        end = body.index(b"\0", i + 1)
        out[code] = body[i + 1:end].decode(errors="replace")
        i = end + 1
    return out


def parse_data_row(body: bytes) -> list:
    (n,) = struct.unpack_from("!h", body, 0)
    off, vals = 2, []
    for _ in range(n):
        (ln,) = struct.unpack_from("!i", body, off)
        off += 4
        if ln < 0:
            vals.append(None)
        else:
            vals.append(body[off:off + ln].decode())
            off += ln
    return vals


class PgError(Exception):
    def __init__(self, fields: dict, during: str = ""):
        self.fields = fields
        self.during = during
        super().__init__(f"{fields.get('S')} {fields.get('C')}: {fields.get('M')} ({during})")

    @property
    def code(self):
        return self.fields.get("C")

    @property
    def severity(self):
        return self.fields.get("V") or self.fields.get("S")

    @property
    def text(self):
        return " ".join(self.fields.values())


class Closed(Exception):
    """The server closed the connection."""


@dataclass
class QueryResult:
    rows: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    error: Optional[dict] = None
    notices: list = field(default_factory=list)
    status: bytes = b""


class RawConn:
    """One socket to a PostgreSQL-protocol server."""

    def __init__(self, host: str, port: int, timeout: float = 10):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.params: dict = {}
        self.backend_key: Optional[tuple] = None
        self.negotiate: Optional[tuple] = None  # (newest minor, [unrecognized options])
        self.seen: list = []  # every (type, body) received, for "no secret" checks

    # -- bytes
    def send(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self, n: int, deadline: float):
        while len(self.buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no data from {self.host}:{self.port} within the deadline")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise TimeoutError(f"no data from {self.host}:{self.port} within the deadline")
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise Closed(f"connection closed by server (buffered {self.buf[:64]!r})")
            self.buf += chunk

    def read_bytes(self, n: int, timeout: Optional[float] = None) -> bytes:
        self._fill(n, time.monotonic() + (timeout or self.timeout))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_msg(self, timeout: Optional[float] = None) -> tuple:
        deadline = time.monotonic() + (timeout or self.timeout)
        self._fill(5, deadline)
        tag = self.buf[:1]
        (ln,) = struct.unpack("!i", self.buf[1:5])
        if ln < 4 or ln > 256 << 20:
            raise AssertionError(f"bad length {ln} in backend message {tag!r}")
        self._fill(1 + ln, deadline)
        body, self.buf = self.buf[5:1 + ln], self.buf[1 + ln:]
        self.seen.append((tag, body))
        return tag, body

    def read_until_eof(self, timeout: float) -> bytes:
        """All bytes until the server closes; TimeoutError if it does not."""
        deadline = time.monotonic() + timeout
        data, self.buf = self.buf, b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"server did not close the connection within {timeout}s "
                                   f"(got {data[:200]!r})")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            except (ConnectionResetError, ssl_mod.SSLError):
                return data
            if not chunk:
                return data
            data += chunk

    def close(self, abort: bool = False):
        try:
            if abort:  # RST instead of FIN: the client "vanishes"
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # -- TLS
    def request_ssl(self) -> bytes:
        self.send(ssl_request())
        return self.read_bytes(1)

    def start_tls(self, cafile: Optional[str] = None, server_hostname: str = "localhost"):
        ctx = ssl_mod.create_default_context(cafile=cafile) if cafile else ssl_mod._create_unverified_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_hostname)

    # -- session
    def startup(self, user: str, database: str, password: Optional[str] = None,
                extra: Optional[dict] = None, protocol: int = PROTO_3_0,
                pipelined: bytes = b"") -> "RawConn":
        """StartupMessage + authentication + wait for ReadyForQuery.
        `pipelined` is sent in the same write as the last authentication
        message (before the server said AuthenticationOk).
        Raises PgError on ErrorResponse, Closed if the server hangs up."""
        params = {"user": user, "database": database}
        params.update(extra or {})
        self.send(startup_message(params, protocol))
        scram = None
        while True:
            tag, body = self.read_msg()
            if tag == b"E":
                raise PgError(parse_error_fields(body), "startup")
            if tag == b"v":
                (minor,) = struct.unpack_from("!i", body, 0)
                (n,) = struct.unpack_from("!i", body, 4)
                opts = [o.decode() for o in body[8:].split(b"\0")[:n]]
                self.negotiate = (minor, opts)
            elif tag == b"R":
                (kind,) = struct.unpack_from("!i", body, 0)
                if kind == 0:
                    pass
                elif kind == 3:
                    self.send(msg(b"p", cstr(password or "")) + pipelined)
                elif kind == 5:
                    salt = body[4:8]
                    inner = hashlib.md5((password + user).encode()).hexdigest().encode()
                    self.send(msg(b"p", cstr(b"md5" + hashlib.md5(inner + salt).hexdigest().encode()))
                              + pipelined)
                elif kind == 10:
                    mechs = body[4:].split(b"\0")
                    assert b"SCRAM-SHA-256" in mechs, mechs
                    scram = ScramClient(password or "")
                    first = scram.client_first().encode()
                    self.send(msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
                elif kind == 11:
                    self.send(msg(b"p", scram.client_final(body[4:].decode()).encode()) + pipelined)
                elif kind == 12:
                    scram.verify_server_final(body[4:].decode())
                else:
                    raise AssertionError(f"unsupported auth request {kind}")
            elif tag == b"S":
                k, v, _ = body.split(b"\0", 2)
                self.params[k.decode()] = v.decode()
            elif tag == b"K":
                self.backend_key = struct.unpack("!iI", body)
            elif tag == b"N":
                pass
            elif tag == b"Z":
                return self
            else:
                raise AssertionError(f"unexpected message {tag!r} during startup")

    def startup_tls(self, cafile: Optional[str] = None) -> "RawConn":
        """SSLRequest; on 'S' wrap the socket in TLS."""
        answer = self.request_ssl()
        if answer != b"S":
            raise AssertionError(f"SSLRequest answered {answer!r}")
        self.start_tls(cafile)
        return self

    def simple_query(self, sql: str, timeout: Optional[float] = None) -> QueryResult:
        self.send(query(sql))
        return self.read_result(timeout)

    def read_result(self, timeout: Optional[float] = None) -> QueryResult:
        """Reads until ReadyForQuery. A FATAL ErrorResponse raises PgError."""
        res = QueryResult()
        while True:
            tag, body = self.read_msg(timeout)
            if tag == b"D":
                res.rows.append(parse_data_row(body))
            elif tag == b"C":
                res.tags.append(body.rstrip(b"\0").decode())
            elif tag == b"E":
                f = parse_error_fields(body)
                if (f.get("V") or f.get("S")) in ("FATAL", "PANIC"):
                    raise PgError(f, "query")
                res.error = f
            elif tag == b"N":
                res.notices.append(parse_error_fields(body))
            elif tag == b"Z":
                res.status = body
                return res


class ScramClient:
    """RFC 5802/7677 SCRAM-SHA-256 client, channel binding off ("n,,")."""

    def __init__(self, password: str):
        self.password = password
        self.nonce = base64.b64encode(os.urandom(18)).decode()

    def client_first(self) -> str:
        self.first_bare = f"n=,r={self.nonce}"
        return "n,," + self.first_bare

    def client_final(self, server_first: str) -> str:
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        rnonce, salt, iters = attrs["r"], base64.b64decode(attrs["s"]), int(attrs["i"])
        if not rnonce.startswith(self.nonce):
            raise AssertionError("server nonce does not extend the client nonce")
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt, iters)
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored = hashlib.sha256(client_key).digest()
        without_proof = f"c=biws,r={rnonce}"
        self.auth_message = f"{self.first_bare},{server_first},{without_proof}".encode()
        sig = hmac.new(stored, self.auth_message, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        self.server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        return f"{without_proof},p={base64.b64encode(proof).decode()}"

    def verify_server_final(self, server_final: str):
        attrs = dict(kv.split("=", 1) for kv in server_final.split(","))
        expect = hmac.new(self.server_key, self.auth_message, hashlib.sha256).digest()
        if base64.b64decode(attrs.get("v", "")) != expect:
            raise AssertionError(f"bad SCRAM server signature: {server_final!r}")


def connect(params: dict, timeout: float = 10, extra: Optional[dict] = None,
            protocol: int = PROTO_3_0, pipelined: bytes = b"") -> RawConn:
    """RawConn authenticated with harness-style params (host/port/user/password/dbname)."""
    c = RawConn(params["host"], params["port"], timeout)
    try:
        return c.startup(params["user"], params["dbname"], params.get("password"), extra, protocol,
                         pipelined)
    except BaseException:
        c.close()
        raise


def startup_error(params: dict, timeout: float = 15, **kw) -> PgError:
    """Expects the startup to fail with an ErrorResponse; returns it."""
    c = RawConn(params["host"], params["port"], timeout)
    try:
        c.startup(params["user"], params["dbname"], params.get("password"), **kw)
    except PgError as e:
        e.seen = c.seen
        return e
    finally:
        c.close()
    raise AssertionError(f"startup as {params['user']}@{params['dbname']} unexpectedly succeeded")
