"""A real OpenID Connect provider for the integration tests.

`OidcProvider` runs tests/integration/oidc/provider.mjs (the npm package
`oidc-provider`) over HTTPS on 127.0.0.1 with its own throw-away CA, and gets
JWT access tokens from it with the client-credentials grant, using only the
standard library (urllib + ssl).

    from oidc_fixture import oidc_provider          # session-scoped fixture

    def test_x(oidc_provider):
        tok = oidc_provider.token(alg="ES256", groups=["ai-agents"], ttl=5)
        # gateway config: issuer=oidc_provider.issuer, audience="pgwarden",
        #                 CA file=oidc_provider.ca_path
        oidc_provider.rotate()          # new kid for every alg, old keys still published
        oidc_provider.restart()         # provider down, then back on the same port

How a token is chosen (all are plain form parameters of the token request, see
oidc/README.md): the alg by the resource indicator `urn:pgwarden:<alg>`
(audience is always `pgwarden`), the lifetime by `ttl`, the `groups` claim by
`groups`, the `sub` claim by `sub`; `claims` / `header` (JSON objects) override
payload claims / JOSE header fields to build deliberately bad tokens.

Key rotation happens inside the running process (the HTTPS server stays up;
the oidc-provider instance is rebuilt with the new key set and swapped in).
"""

from __future__ import annotations

import base64
import fcntl
import json
import queue
import shutil
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Iterable, Optional

import pytest

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
ALGS = ("RS256", "PS256", "ES256", "EdDSA")
AUDIENCE = "pgwarden"
CLIENT_ID = "pgwarden-tests"

START_TIMEOUT = 30.0      # deadline for READY (normally ~1 s)
NPM_CI_TIMEOUT = 600.0
HTTP_TIMEOUT = 10.0


class OidcError(RuntimeError):
    """The provider answered a request with an error (status + JSON body)."""

    def __init__(self, status: int, body):
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def b64url_decode(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def decode_jwt(token: str):
    """Returns (header, payload) of a compact JWS without verifying it."""
    h, p, _ = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p))


def ensure_node_modules() -> None:
    """Runs `npm ci` in tests/integration/oidc when node_modules is missing."""
    marker = OIDC_DIR / "node_modules" / "oidc-provider" / "package.json"
    if marker.exists():
        return
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"{tool} not found on PATH: the OIDC provider needs node and npm "
                               "(scripts/install-deps.sh --test installs them)")
    lock_path = Path(tempfile.gettempdir()) / "pgwarden-oidc-npm-ci.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # concurrent sessions: one npm ci at a time
        if marker.exists():
            return
        proc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                              cwd=OIDC_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=NPM_CI_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"npm ci in {OIDC_DIR} failed:\n{proc.stdout}")


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{proc.stdout}")


def make_certs(d: Path) -> tuple[Path, Path, Path]:
    """Creates a CA and a server certificate (SAN IP:127.0.0.1, DNS:localhost).

    Returns (ca.pem, server.crt, server.key)."""
    d.mkdir(parents=True, exist_ok=True)
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "7",
             "-subj", "/CN=pgwarden test OIDC CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "server.crt", "-days", "7", "-sha256",
             "-extfile", "server.ext", cwd=d)
    return d / "ca.pem", d / "server.crt", d / "server.key"


class OidcProvider:
    """One provider process; see the module docstring."""

    def __init__(self, client_secret: str = "pgwarden-tests-secret",
                 admin_secret: str = "pgwarden-oidc-admin"):
        self.client_id = CLIENT_ID
        self.client_secret = client_secret
        self.admin_secret = admin_secret
        self.audience = AUDIENCE
        self.dir: Optional[Path] = None
        self.port: Optional[int] = None
        self._issuer: Optional[str] = None
        self._ca: Optional[Path] = None
        self._cert: Optional[Path] = None
        self._key: Optional[Path] = None
        self._proc: Optional[subprocess.Popen] = None
        self._lines: "queue.Queue[Optional[str]]" = queue.Queue()
        self._discovery: Optional[dict] = None
        self._ssl: Optional[ssl.SSLContext] = None

    # ------------------------------------------------------------ lifecycle --

    def start(self, tmpdir=None, port: Optional[int] = None) -> "OidcProvider":
        """Starts the provider; returns when it printed READY.

        The first call needs tmpdir (certificates, keys file and log go there);
        later calls (after stop()) reuse it and, unless port is given, the same
        port, so the issuer does not change."""
        if self._proc is not None:
            raise RuntimeError("OIDC provider already running")
        if tmpdir is not None and self.dir is None:
            self.dir = Path(tmpdir)
            self._ca, self._cert, self._key = make_certs(self.dir / "certs")
            self._ssl = ssl.create_default_context(cafile=str(self._ca))
        if self.dir is None:
            raise ValueError("start() needs a tmpdir the first time")
        if port is not None:
            self.port = port
        ensure_node_modules()

        log = open(self.dir / "provider.log", "ab")
        cmd = ["node", str(OIDC_DIR / "provider.mjs"),
               "--host", "127.0.0.1", "--port", str(self.port or 0),
               "--cert", str(self._cert), "--key", str(self._key),
               "--keys", str(self.dir / "keys.json"),
               "--admin-secret", self.admin_secret, "--client-secret", self.client_secret]
        try:
            self._proc = subprocess.Popen(cmd, cwd=OIDC_DIR, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE, stderr=log, text=True)
        finally:
            log.close()
        self._lines = queue.Queue()
        threading.Thread(target=self._pump, args=(self._proc, self._lines),
                         name="oidc-provider-stdout", daemon=True).start()

        deadline = time.monotonic() + START_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.0)) if remaining > 0 else None
            except queue.Empty:
                line = None
            if line is None:
                why = "exited" if self._proc.poll() is not None else f"not READY after {START_TIMEOUT}s"
                self.stop()
                raise RuntimeError(f"OIDC provider {why}; log:\n{self.log_tail()}")
            if line.startswith("READY "):
                issuer = line.split(" ", 1)[1].strip()
                break
        if self._issuer is not None and issuer != self._issuer:
            raise RuntimeError(f"issuer changed across restart: {self._issuer} -> {issuer}")
        self._issuer = issuer
        self.port = urllib.parse.urlsplit(issuer).port
        return self

    @staticmethod
    def _pump(proc: subprocess.Popen, lines: "queue.Queue[Optional[str]]") -> None:
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    def stop(self) -> None:
        """Stops the process (the provider is down until start()/restart())."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()

    def restart(self) -> None:
        """Provider down, then back on the same port with the same keys."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, n: int = 4000) -> str:
        try:
            return (self.dir / "provider.log").read_text(errors="replace")[-n:]
        except (OSError, TypeError):
            return ""

    # ----------------------------------------------------------- properties --

    @property
    def issuer(self) -> str:
        assert self._issuer, "OIDC provider not started"
        return self._issuer

    @property
    def ca_path(self) -> str:
        """PEM CA file that verifies the provider's HTTPS certificate."""
        assert self._ca, "OIDC provider not started"
        return str(self._ca)

    @property
    def ssl_context(self) -> ssl.SSLContext:
        assert self._ssl, "OIDC provider not started"
        return self._ssl

    # ----------------------------------------------------------------- HTTP --

    def _request(self, url: str, data: Optional[bytes] = None, headers: Optional[dict] = None,
                 method: Optional[str] = None):
        req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ssl_context, timeout=HTTP_TIMEOUT) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            raise OidcError(e.code, body) from None

    def discovery(self, refresh: bool = False) -> dict:
        """The parsed /.well-known/openid-configuration."""
        if self._discovery is None or refresh:
            self._discovery = self._request(self.issuer + "/.well-known/openid-configuration")
        return self._discovery

    @property
    def jwks_uri(self) -> str:
        return self.discovery()["jwks_uri"]

    @property
    def token_endpoint(self) -> str:
        return self.discovery()["token_endpoint"]

    def jwks(self) -> dict:
        """The parsed JWKS as currently published."""
        return self._request(self.jwks_uri)

    def token_response(self, alg: str = "RS256", groups: Optional[Iterable[str]] = None,
                       ttl: int = 300, sub: Optional[str] = None,
                       claims: Optional[dict] = None, header: Optional[dict] = None,
                       client_secret: Optional[str] = None) -> dict:
        """Client-credentials token request; returns the token endpoint's JSON."""
        if alg not in ALGS:
            raise ValueError(f"alg must be one of {ALGS}")
        form = {"grant_type": "client_credentials",
                "resource": f"urn:pgwarden:{alg.lower()}",
                "ttl": str(int(ttl))}
        if groups is not None:
            form["groups"] = json.dumps(list(groups))
        if sub is not None:
            form["sub"] = sub
        if claims is not None:
            form["claims"] = json.dumps(claims)
        if header is not None:
            form["header"] = json.dumps(header)
        basic = base64.b64encode(
            f"{urllib.parse.quote(self.client_id, safe='')}:"
            f"{urllib.parse.quote(client_secret or self.client_secret, safe='')}".encode()).decode()
        return self._request(self.token_endpoint, data=urllib.parse.urlencode(form).encode(),
                             headers={"Authorization": f"Basic {basic}",
                                      "Content-Type": "application/x-www-form-urlencoded"})

    def token(self, alg: str = "RS256", groups: Optional[Iterable[str]] = None, ttl: int = 300,
              sub: Optional[str] = None, claims: Optional[dict] = None,
              header: Optional[dict] = None) -> str:
        """A signed JWT access token (aud 'pgwarden', iss = issuer).

        groups: the `groups` claim (default []); sub: the `sub` claim (default
        the client id 'pgwarden-tests'); ttl: lifetime in seconds (1..86400);
        claims: payload overrides, a None value removes the claim (`aud` cannot
        be removed, only changed); header: JOSE header overrides (e.g. kid)."""
        return self.token_response(alg=alg, groups=groups, ttl=ttl, sub=sub, claims=claims,
                                   header=header)["access_token"]

    # ---------------------------------------------------------------- admin --

    def _admin(self, path: str, body: Optional[dict] = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        headers = {"x-admin-secret": self.admin_secret}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self._request(self.issuer + path, data=data, headers=headers,
                             method="POST" if data is not None else "GET")

    def state(self) -> dict:
        """{'issuer', 'kids': {alg: current signing kid}, 'jwks_kids': [...], 'faults'}."""
        return self._admin("/admin/state")

    def current_kids(self) -> dict:
        return self.state()["kids"]

    def rotate(self, algs: Optional[Iterable[str]] = None, retire: bool = False) -> dict:
        """New signing key (new kid) for each alg (default all), used by new tokens.

        The previous keys stay in the JWKS unless retire=True. Done inside the
        running provider: no restart, same port. Returns state()."""
        body: dict = {"retire": bool(retire)}
        if algs is not None:
            body["algs"] = list(algs)
        return self._admin("/admin/rotate", body)

    def set_faults(self, faults: dict) -> dict:
        """Injects HTTP faults by exact path, e.g. {'/jwks': {'status': 503}} or
        {'/.well-known/openid-configuration': {'delay_ms': 3000}}; {} clears."""
        return self._admin("/admin/faults", faults)

    def clear_faults(self) -> dict:
        return self.set_faults({})


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """One provider for the whole session. Tests that stop it must start it
    again; tests that need exclusive key state should use oidc_provider_isolated."""
    p = OidcProvider()
    p.start(tmp_path_factory.mktemp("oidc"))
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture
def oidc_provider_isolated(tmp_path_factory):
    """A provider of the test's own (own port, CA and keys)."""
    p = OidcProvider()
    p.start(tmp_path_factory.mktemp("oidc-isolated"))
    try:
        yield p
    finally:
        p.stop()
