"""Integration harness: a real PostgreSQL 15, test certificates, and the real
pgwarden binary, all on 127.0.0.1.

Nothing here synchronizes with a fixed sleep: every wait polls a condition
until a deadline and fails with a message saying what it waited for.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

PG_BIN = Path(os.environ.get("PGWARDEN_PG_BIN", "/usr/lib/postgresql/15/bin"))
DEFAULT_GATEWAY_BIN = str(Path(__file__).resolve().parents[2] / "build" / "pgwarden")
LOG_POISON = ("AddressSanitizer", "LeakSanitizer", "ThreadSanitizer", "runtime error:")
HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------- utilities

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WaitAbort(AssertionError):
    """Raised by a wait_for condition to stop waiting at once."""


def wait_for(cond: Callable[[], object], timeout: float, what: str, interval: float = 0.02):
    """Polls `cond` until it returns a truthy value or `timeout` seconds pass.
    Returns that value; raises AssertionError naming `what` otherwise."""
    deadline = time.monotonic() + timeout
    last_exc: Optional[BaseException] = None
    while True:
        try:
            v = cond()
            if v:
                return v
        except WaitAbort:
            raise
        except Exception as e:  # the condition may legitimately fail while waiting
            last_exc = e
        if time.monotonic() >= deadline:
            extra = f" (last error: {last_exc!r})" if last_exc else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{extra}")
        time.sleep(interval)


def can_connect(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def clean_env(**extra: str) -> dict:
    """os.environ without any libpq PG* variable, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.setdefault("LC_ALL", "C.UTF-8")
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(cmd, *, timeout: float = 120, check: bool = True, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    p = subprocess.run(cmd, timeout=timeout, **kw)
    if check and p.returncode != 0:
        raise AssertionError(
            f"command failed ({p.returncode}): {cmd}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
    return p


def to_yaml(config: dict) -> str:
    """The config as YAML. JSON is YAML (flow style), so no YAML library is
    needed; the header says what wrote it."""
    return "# written by tests/integration/harness.py\n" + json.dumps(config, indent=2) + "\n"


def conninfo(**params) -> str:
    """libpq key=value connection string, values quoted."""
    def q(v):
        v = str(v).replace("\\", "\\\\").replace("'", "\\'")
        return f"'{v}'"
    return " ".join(f"{k}={q(v)}" for k, v in params.items() if v is not None)


# ---------------------------------------------------------------- certificates

@dataclass
class Certs:
    """Test PKI made with the openssl CLI.

    ca_*: the test CA; pg_*: PostgreSQL's server cert; gw_*: the gateway's
    server cert (both with SAN DNS:localhost, IP:127.0.0.1, signed by the test
    CA); wrong_ca_crt: an unrelated CA that signed nothing we use."""
    dir: Path
    ca_crt: Path
    ca_key: Path
    pg_crt: Path
    pg_key: Path
    gw_crt: Path
    gw_key: Path
    wrong_ca_crt: Path

    @classmethod
    def generate(cls, d: Path) -> "Certs":
        d.mkdir(parents=True, exist_ok=True)

        def ca(name: str, cn: str):
            run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.crt"),
                 "-days", "3", "-subj", f"/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])

        def leaf(name: str, cn: str):
            ext = d / f"{name}.ext"
            ext.write_text("basicConstraints=CA:FALSE\n"
                           "keyUsage=critical,digitalSignature\n"
                           "extendedKeyUsage=serverAuth\n"
                           "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
            run(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-nodes", "-keyout", str(d / f"{name}.key"), "-out", str(d / f"{name}.csr"),
                 "-subj", f"/CN={cn}"])
            run(["openssl", "x509", "-req", "-in", str(d / f"{name}.csr"),
                 "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"), "-CAcreateserial",
                 "-days", "3", "-out", str(d / f"{name}.crt"), "-extfile", str(ext)])
            os.chmod(d / f"{name}.key", 0o600)

        ca("ca", "pgwarden integration test CA")
        ca("wrong_ca", "unrelated test CA")
        leaf("pg", "localhost")
        leaf("gw", "localhost")
        return cls(dir=d, ca_crt=d / "ca.crt", ca_key=d / "ca.key", pg_crt=d / "pg.crt",
                   pg_key=d / "pg.key", gw_crt=d / "gw.crt", gw_key=d / "gw.key",
                   wrong_ca_crt=d / "wrong_ca.crt")


# ---------------------------------------------------------------- PostgreSQL

ROLES = ("tester", "gw_scram", "gw_md5", "gw_plain", "gw_sslonly")


@dataclass
class Pg:
    """A throwaway PostgreSQL 15 cluster run as the `postgres` OS user."""
    base: Path
    certs: Certs
    port: int = 0
    host: str = "127.0.0.1"
    passwords: dict = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def sockdir(self) -> Path:
        return self.base / "sock"

    def _as_postgres(self, args, timeout=120):
        return run(["runuser", "-u", "postgres", "--"] + [str(a) for a in args],
                   timeout=timeout, cwd=str(self.base), env=clean_env())

    def start(self):
        pw = pwd.getpwnam("postgres")
        os.chown(self.base, pw.pw_uid, pw.pw_gid)
        os.chmod(self.base, 0o700)
        # Distinctive passwords: tests grep logs and messages for them.
        for r in ROLES:
            self.passwords[r] = f"Up{r.replace('_', '')}Pw-{secrets.token_hex(6)}"
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.passwords["tester"] + "\n")
        os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        ssl = self.base / "ssl"
        ssl.mkdir()
        for src, dst, mode in ((self.certs.pg_crt, "server.crt", 0o644),
                               (self.certs.pg_key, "server.key", 0o600),
                               (self.certs.ca_crt, "ca.crt", 0o644)):
            shutil.copy(src, ssl / dst)
            os.chown(ssl / dst, pw.pw_uid, pw.pw_gid)
            os.chmod(ssl / dst, mode)
        os.chown(ssl, pw.pw_uid, pw.pw_gid)
        self.sockdir.mkdir()
        os.chown(self.sockdir, pw.pw_uid, pw.pw_gid)

        self._as_postgres([PG_BIN / "initdb", "-D", self.data, "-U", "tester", f"--pwfile={pwfile}",
                           "--auth-local=trust", "--auth-host=scram-sha-256",
                           "-E", "UTF8", "--no-locale", "--no-sync"])
        pwfile.unlink()
        self.port = free_port()
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"""
# pgwarden integration harness
listen_addresses = '127.0.0.1'
port = {self.port}
unix_socket_directories = '{self.sockdir}'
max_connections = 200
ssl = on
ssl_cert_file = '{ssl / "server.crt"}'
ssl_key_file = '{ssl / "server.key"}'
ssl_ca_file = '{ssl / "ca.crt"}'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
datestyle = 'iso, mdy'
lc_messages = 'C'
log_min_messages = warning
""")
        # Order matters: first match wins.
        (self.data / "pg_hba.conf").write_text("""
local   all  all                        trust
hostssl all  gw_sslonly  127.0.0.1/32   scram-sha-256
host    all  gw_sslonly  127.0.0.1/32   reject
host    all  gw_md5      127.0.0.1/32   md5
host    all  gw_plain    127.0.0.1/32   password
host    all  all         127.0.0.1/32   scram-sha-256
host    all  all         ::1/128        scram-sha-256
""")
        self._as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.base / "postgres.log",
                           "-w", "-t", "60", "start"])
        p = self.passwords
        self.psql_admin("postgres", f"""
CREATE ROLE gw_scram LOGIN PASSWORD '{p["gw_scram"]}';
CREATE ROLE gw_plain LOGIN PASSWORD '{p["gw_plain"]}';
CREATE ROLE gw_sslonly LOGIN PASSWORD '{p["gw_sslonly"]}';
SET password_encryption = 'md5';
CREATE ROLE gw_md5 LOGIN PASSWORD '{p["gw_md5"]}';
RESET password_encryption;
GRANT gw_scram TO gw_md5, gw_plain, gw_sslonly;
CREATE DATABASE app OWNER gw_scram;
CREATE DATABASE other OWNER gw_scram;
""")
        for db in ("app", "other"):
            self.psql_admin(db, "GRANT ALL ON SCHEMA public TO PUBLIC;")
        # The md5 role really is stored as md5: otherwise pg would silently
        # answer with SCRAM and the MD5 path would go untested.
        out = self.psql_admin("postgres", "SELECT rolname, left(rolpassword, 6) FROM pg_authid "
                                          "WHERE rolname LIKE 'gw_%' ORDER BY 1", tuples=True)
        assert "gw_md5|md5" in out and "gw_scram|SCRAM-" in out, out

    def psql_admin(self, db: str, sql: str, tuples: bool = False) -> str:
        """Runs SQL as the superuser over the unix socket (trust)."""
        args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.sockdir), "-p",
                str(self.port), "-U", "tester", "-d", db]
        if tuples:
            return run(args + ["-At", "-c", sql], env=clean_env()).stdout
        return run(args, input=sql, env=clean_env()).stdout

    def stop(self):
        if self.port and (self.data / "postmaster.pid").exists():
            self._as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop"])

    def log_text(self) -> str:
        try:
            return (self.base / "postgres.log").read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # What a client dialing PostgreSQL itself uses.
    def params(self, user: str = "gw_scram", dbname: str = "app", **kw) -> dict:
        d = dict(host=self.host, port=self.port, user=user, password=self.passwords[user],
                 dbname=dbname, sslmode="disable", connect_timeout=10)
        d.update(kw)
        return d

    def dsn(self, user: str = "gw_scram", dbname: str = "app", **kw) -> str:
        return conninfo(**self.params(user, dbname, **kw))

    def admin(self):
        """A fresh autocommit psycopg connection as the superuser `tester`."""
        import psycopg
        return psycopg.connect(self.dsn("tester", "postgres"), autocommit=True)


# ---------------------------------------------------------------- gateway

def gateway_bin() -> str:
    return os.environ.get("PGWARDEN_BIN") or DEFAULT_GATEWAY_BIN


def direct_mode() -> bool:
    """Harness self-check: PGWARDEN_IT_DIRECT=1 makes every "gateway" a plain
    alias of PostgreSQL (clients use the upstream credential of the chosen
    connection). Only for validating the tests themselves; gateway-specific
    assertions are expected to fail in this mode."""
    return os.environ.get("PGWARDEN_IT_DIRECT") == "1"


class Gateway:
    """One running `pgwarden serve` built from a config dict.

    Secrets in the config are given as `${env:...}`/`${file:...}` references;
    `secrets` keeps every secret value so tests can grep for them."""

    def __init__(self, workdir: Path, config: dict, env: dict, secret_values: Iterable[str],
                 users: dict, grace: float):
        self.workdir = workdir
        self.config = config
        self.env = env
        self.secrets = sorted(set(s for s in secret_values if s))
        self.users = users  # local user name -> password
        self.grace = grace
        self.host, port = config["listen"]["postgres"].rsplit(":", 1)
        self.port = int(port)
        self.config_path = workdir / "pgwarden.yaml"
        self.log_path = workdir / "pgwarden.log"
        self.proc: Optional[subprocess.Popen] = None
        self.stopped = False
        self.problems: list[str] = []
        self.expect_exit_code = 0
        self.signalled = False  # a test sent a signal: exiting is expected
        self.health_reported = False

    # -- lifecycle
    def start(self, ready_timeout: float = 30):
        self.config_path.write_text(to_yaml(self.config))
        binary = gateway_bin()
        if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
            raise AssertionError(f"pgwarden binary not found or not executable: {binary} "
                                 "(set PGWARDEN_BIN)")
        env = clean_env(**self.env)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self._logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen([binary, "serve", "--config", str(self.config_path)],
                                     stdin=subprocess.DEVNULL, stdout=self._logf,
                                     stderr=subprocess.STDOUT, cwd=str(self.workdir.parent), env=env)

        def ready():
            if self.proc.poll() is not None:
                raise GatewayDied(f"pgwarden exited with {self.proc.returncode} before "
                                  f"listening; log:\n{self.log_text()[-4000:]}")
            return can_connect(self.host, self.port, 0.2)
        try:
            wait_for(ready, ready_timeout, f"pgwarden to listen on {self.host}:{self.port}")
        except GatewayDied:
            raise
        except AssertionError as e:
            self.kill()
            raise AssertionError(f"{e}; log:\n{self.log_text()[-4000:]}") from None
        return self

    def signal(self, sig=signal.SIGTERM):
        self.signalled = True
        self.proc.send_signal(sig)

    def health_problems(self) -> list[str]:
        """Between tests: died unexpectedly, or a sanitizer spoke."""
        if self.proc is None or self.stopped or self.health_reported:
            return []
        out = []
        if not self.signalled and self.proc.poll() is not None:
            out.append(f"pgwarden exited with {self.proc.returncode} during the test; log tail:\n"
                       + self.log_text()[-3000:])
        log = self.log_text()
        out += [f"pgwarden log contains {p!r}:\n" + log[max(0, log.find(p) - 500):log.find(p) + 2500]
                for p in LOG_POISON if p in log]
        self.health_reported = bool(out)  # report once; stop() reports again at teardown
        return out

    def wait_exit(self, timeout: float) -> Optional[int]:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def stop(self) -> list[str]:
        """SIGTERM, wait (grace + margin), kill -9 if needed; returns problems."""
        if self.stopped or self.proc is None:
            return self.problems
        self.stopped = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(self.grace + 10) is None:
                self.problems.append(f"pgwarden did not exit within {self.grace + 10}s of SIGTERM; "
                                     "killed with SIGKILL")
                self.kill()
        self._logf.close()
        rc = self.proc.returncode
        if rc != self.expect_exit_code:
            self.problems.append(f"pgwarden exited with {rc} (expected {self.expect_exit_code})")
        self.problems.extend(self.log_problems())
        return self.problems

    def log_problems(self) -> list[str]:
        log = self.log_text()
        out = [f"pgwarden log contains {p!r}" for p in LOG_POISON if p in log]
        out += [f"pgwarden log contains the secret {s!r}" for s in self.secrets if s in log]
        return out

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- how clients reach it
    def params(self, dbname: str = "app", user: str = "alice", password: Optional[str] = None,
               **kw) -> dict:
        d = dict(host=self.host, port=self.port, user=user,
                 password=self.users.get(user) if password is None else password,
                 dbname=dbname, sslmode="disable", connect_timeout=10)
        d.update(kw)
        return d

    def dsn(self, dbname: str = "app", user: str = "alice", **kw) -> str:
        return conninfo(**self.params(dbname, user, **kw))

    def connect(self, dbname: str = "app", user: str = "alice", **kw):
        import psycopg
        autocommit = kw.pop("autocommit", True)
        return psycopg.connect(self.dsn(dbname, user, **kw), autocommit=autocommit)


class GatewayDied(WaitAbort):
    pass


class DirectGateway(Gateway):
    """Self-check stand-in (see direct_mode): PostgreSQL itself."""

    def __init__(self, pg: Pg, config: dict):
        self.pg = pg
        self.config = config
        self.host, self.port = pg.host, pg.port
        self.secrets, self.users, self.problems = [], {}, []
        self.proc, self.stopped, self.grace = None, False, 0

    def start(self, ready_timeout: float = 30):
        return self

    def stop(self):
        return []

    def log_text(self):
        return ""

    def alive(self):
        return True

    def params(self, dbname="app", user="alice", password=None, **kw):
        conn = self.config["connections"].get(dbname)
        if conn is None:
            d = self.pg.params("gw_scram", dbname, **kw)
        else:
            cred = conn["credentials"][conn.get("default_credential", next(iter(conn["credentials"])))]
            role = cred["user"]
            d = self.pg.params(role if role in self.pg.passwords else "gw_scram",
                               conn.get("database", dbname), **kw)
            d["user"] = role
        if password is not None:
            d["password"] = password
        return d


LIVE_FACTORIES: set = set()


class GatewayFactory:
    """Builds configs and starts gateways; stops them all at teardown."""

    def __init__(self, pg: Pg, certs: Certs, tmp: Path):
        self.pg, self.certs, self.tmp = pg, certs, tmp
        self.started: list[Gateway] = []
        self.n = 0
        LIVE_FACTORIES.add(self)

    def connection(self, database: str = "app", role: str = "gw_scram", *,
                   port: Optional[int] = None, password: Optional[str] = None,
                   secret_via: str = "env", tls: Optional[dict] = None,
                   connect_timeout: str = "5s") -> dict:
        """One `connections.<name>` entry; the password is replaced by a
        reference when the gateway is started (see start)."""
        c = {"host": "127.0.0.1", "port": port or self.pg.port, "database": database,
             "connect_timeout": connect_timeout,
             "credentials": {"main": {"user": role,
                                      "password": _SecretRef(password if password is not None
                                                             else self.pg.passwords[role], secret_via)}},
             "default_credential": "main"}
        if tls is not None:
            c["tls"] = tls
        return c

    def default_connections(self) -> dict:
        return {
            "app": self.connection("app", "gw_scram", secret_via="env"),
            "other": self.connection("other", "gw_scram", secret_via="file"),
            "app_md5": self.connection("app", "gw_md5", secret_via="file"),
            "app_plain": self.connection("app", "gw_plain", secret_via="env"),
        }

    def build(self, *, connections: Optional[dict] = None, tls: Optional[dict] = None,
              timeouts: Optional[dict] = None, limits: Optional[dict] = None,
              log_level: str = "info", users: Optional[list] = None,
              identity: Optional[dict] = None, extra: Optional[dict] = None) -> Gateway:
        """A Gateway (not started) for this config. Secrets become references:
        alice's password ${env:...}, bob's a relative ${file:...} (resolved
        against the config file's directory; the gateway runs elsewhere).
        `identity`: more `identity.*` keys (oidc, tokens, ...) next to users."""
        self.n += 1
        workdir = Path(tempfile.mkdtemp(prefix=f"gw{self.n}-", dir=self.tmp))
        env: dict = {}
        secret_values: list[str] = []
        passwords = {"alice": f"AlicePw-{secrets.token_hex(5)}", "bob": f"BobPw-{secrets.token_hex(5)}"}

        def ref(value: str, via: str, label: str) -> str:
            secret_values.append(value)
            if via == "env":
                var = f"PGW_IT_SECRET_{label.upper()}"
                env[var] = value
                return "${env:" + var + "}"
            p = workdir / f"secret_{label}"
            p.write_text(value + "\n")
            os.chmod(p, 0o600)
            return "${file:" + (p.name if via == "relfile" else str(p)) + "}"

        conns = connections if connections is not None else self.default_connections()
        resolved = {}
        for name, c in conns.items():
            c = _deepcopy(c)
            for cname, cred in c.get("credentials", {}).items():
                pw = cred.get("password")
                if isinstance(pw, _SecretRef):
                    cred["password"] = ref(pw.value, pw.via, f"{name}_{cname}")
            resolved[name] = c

        user_entries = [
            {"name": "alice", "password": ref(passwords["alice"], "env", "alice"), "groups": ["dev"]},
            {"name": "bob", "password": ref(passwords["bob"], "relfile", "bob"), "groups": ["dev"]},
        ]
        for u in users or []:  # {"name", "password"} or {"name", "scram", "login_password"}
            u = dict(u)
            if "scram" in u:
                passwords[u["name"]] = u.pop("login_password")
                secret_values.append(passwords[u["name"]])
            else:
                passwords[u["name"]] = u["password"]
                u["password"] = ref(u["password"], u.pop("via", "env"), u["name"])
            user_entries.append(u)

        tmo = {"startup": "10s", "auth": "30s", "idle": "0", "shutdown_grace": "5s"}
        tmo.update(timeouts or {})
        cfg = {
            "listen": {"postgres": f"127.0.0.1:{free_port()}", "http": f"127.0.0.1:{free_port()}"},
            "workers": 2,
            "log_level": log_level,
            "limits": {"max_message_size": "64MB", "max_client_connections": 1000, **(limits or {})},
            "timeouts": tmo,
            "identity": {"users": user_entries, **_deepcopy(identity or {})},
            "connections": resolved,
        }
        if tls is not None:
            cfg["tls"] = tls
        if extra:
            cfg.update(extra)
        secret_values += [v for v in self.pg.passwords.values()]
        if direct_mode():
            return DirectGateway(self.pg, cfg)
        return Gateway(workdir, cfg, env, secret_values, passwords, _seconds(tmo["shutdown_grace"]))

    def start(self, ready_timeout: float = 30, **config) -> Gateway:
        """Builds (see build), starts, waits until it listens; stopped at teardown."""
        gw = self.build(**config)
        self.started.append(gw)
        return gw.start(ready_timeout)

    def run_to_exit(self, gw: Gateway, timeout: float = 20) -> tuple:
        """Runs a gateway expected to refuse its config: (exit code, log)."""
        gw.config_path.write_text(to_yaml(gw.config))
        p = run([gateway_bin(), "serve", "--config", str(gw.config_path)], check=False,
                timeout=timeout, cwd=str(gw.workdir.parent), env=clean_env(**gw.env),
                stdin=subprocess.DEVNULL)
        return p.returncode, p.stdout + p.stderr

    __call__ = start

    def gateway_tls(self, require: bool = False) -> dict:
        return {"cert": str(self.certs.gw_crt), "key": str(self.certs.gw_key), "require": require}

    def stop_all(self) -> list[str]:
        problems = []
        for gw in self.started:
            for p in gw.stop():
                problems.append(f"gateway {gw.config_path if hasattr(gw, 'config_path') else ''}: {p}")
        self.started.clear()
        LIVE_FACTORIES.discard(self)
        return problems

    def health_problems(self) -> list[str]:
        return [p for gw in self.started for p in gw.health_problems()]


class _SecretRef:
    def __init__(self, value: str, via: str):
        self.value, self.via = value, via

    def __deepcopy__(self, memo):
        return self


def _deepcopy(x):
    import copy
    return copy.deepcopy(x)


def _seconds(text: str) -> float:
    text = str(text)
    for suffix, mult in (("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)):
        if text.endswith(suffix) and text[: -len(suffix)].replace(".", "").isdigit():
            return float(text[: -len(suffix)]) * mult
    return float(text) / 1000


# ---------------------------------------------------------------- pg_stat_activity helpers

def active_queries(pg: Pg, marker: str) -> list:
    """Rows of pg_stat_activity (seen directly on PostgreSQL) still running a
    query containing `marker` (the query polling this is excluded)."""
    with pg.admin() as c:
        return c.execute(
            "SELECT pid, usename, state, query FROM pg_stat_activity "
            "WHERE state = 'active' AND query LIKE %s AND pid <> pg_backend_pid()",
            (f"%{marker}%",)).fetchall()


def backends_with(pg: Pg, marker: str) -> list:
    """Like active_queries, in any state (idle rows still show the last query)."""
    with pg.admin() as c:
        return c.execute(
            "SELECT pid, usename, state, query FROM pg_stat_activity "
            "WHERE query LIKE %s AND pid <> pg_backend_pid()", (f"%{marker}%",)).fetchall()


def marker() -> str:
    return f"pgw_it_{secrets.token_hex(6)}"
