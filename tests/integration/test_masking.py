"""Result masking end to end (docs/masking.md): a policy's `mask:` rules keep
the raw values of sensitive columns inside the gateway, whatever the client,
protocol, format or statement shape.

Every client here connects through `Relay`, a TCP relay that records all the
bytes the gateway sends to the client, and the core assertion is that no raw
value ever appears in them — as text (any case), hex (bytea output), reversed,
base64, or in PostgreSQL's binary encoding (date, numeric, uuid). On top of
that each test checks that the driver decoded every row and that the masked
values are what the spec says per function and type, while unmasked columns
and unmasked tables come through unchanged.

Subjects (one module-scoped gateway, policies below):
  alice  read, masked (`agents`)
  carol  like alice but exempt from the email column rule: the column then
         falls through to the email detector (docs: "A subject exempted by
         `except` falls through to the next matching rule ... or a detector")
  dave   exempt from the email rule and from the detectors: email raw, the
         other column rules still apply
  bob    write access, the same rules (RETURNING, error details)
  erin   a policy without mask rules: everything raw, as PostgreSQL sends it
A second gateway with `masking.on_untraceable: deny` is started for the
untraceable-column tests only.

Self-check of the tests' own decoding and checks: PGWARDEN_IT_DIRECT=1
PGWARDEN_IT_MASK_SIM=1 seeds the table with the values the spec says alice
receives (concrete stand-ins for the hash and format_preserving outputs) and
runs every client against PostgreSQL itself; the alice-side tests of results
must then pass, and those about other subjects, errors, notifications and
untraceable columns fail by design.
"""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
import os
import re
import secrets
import socket
import struct
import subprocess
import tempfile
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Optional

import psycopg
import pytest
from psycopg.types.json import Jsonb

import pgwire
from harness import HERE, clean_env, run, wait_for

UTC = timezone.utc
COLS = ("id", "email", "ssn", "card", "phone", "birth", "salary", "ref", "note", "tags", "doc",
        "photo", "ts")
REF_A = uuid.UUID("6f1e2d3c-4b5a-4697-8877-aabbccddeeff")
REF_B = uuid.UUID("0a1b2c3d-4e5f-4a6b-9c7d-8e9fa0b1c2d3")

# The seed. Row 3 shares its ref with row 1 (hash keeps equal values equal);
# row 4 is all NULL but its id. Notes, tags and docs of row 2 and 3 hold an
# email / a card number for the detectors.
RAW = {
    1: dict(id=1, email="alice.raw@example.com", ssn="123-45-6789", card="4111 1111 1111 1111",
            phone="+1 415 555 0134", birth=date(1980, 6, 15), salary=Decimal("123456.78"),
            ref=REF_A, note="plain note one", tags=["red", "blue"], doc={"k": "v1", "n": 1},
            photo=b"\x00\xff\x10", ts=datetime(2021, 3, 4, 5, 6, 7, tzinfo=UTC)),
    2: dict(id=2, email="bruno.raw@example.org", ssn="234-56-7890", card="5500 0000 0000 0004",
            phone="+44 20 7946 0958", birth=date(1975, 11, 30), salary=Decimal("98765.43"),
            ref=REF_B, note="reach me at note.raw@example.net", tags=["green", "tag.raw@example.com"],
            doc={"contact": "doc.raw@example.com", "n": 2}, photo=b"\x01\x02",
            ts=datetime(2022, 12, 31, 23, 59, 59, 500000, tzinfo=UTC)),
    3: dict(id=3, email="chen.raw@example.com", ssn="345-67-8901", card="3782 822463 10005",
            phone="(555) 123-4567", birth=date(1990, 2, 3), salary=Decimal("500.00"),
            ref=REF_A, note="card 4111-1111-1111-1111 on file", tags=[], doc=[1, "x"], photo=b"",
            ts=datetime(2000, 1, 1, tzinfo=UTC)),
    4: dict(id=4, **{c: None for c in COLS if c != "id"}),
}
N_ROWS = len(RAW)

# What the detectors find in unruled columns (the whole span is redacted).
DETECTED = ["note.raw@example.net", "tag.raw@example.com", "doc.raw@example.com",
            "4111-1111-1111-1111"]

MASK_RULES = [
    {"column": "public.mcust.email", "with": "email", "except": {"ids": ["carol", "dave"]}},
    {"column": "mcust.ssn", "with": "redact"},
    {"column": "mcust.card", "with": "partial", "keep_last": 4},
    {"column": "mcust.phone", "with": "format_preserving"},
    {"column": "mcust.birth", "with": "truncate_date", "to": "year"},
    {"column": "mcust.salary", "with": "round", "digits": -3},
    {"column": "mcust.ref", "with": "hash"},
    {"detect": ["email", "credit_card"], "with": "redact", "except": {"ids": ["dave"]}},
]
POLICIES = [
    {"name": "agents", "subjects": {"ids": ["alice", "carol", "dave"]}, "connections": ["app"],
     "access": "read", "mask": MASK_RULES},
    {"name": "writers", "subjects": {"ids": ["bob"]}, "connections": ["app"], "access": "write",
     "mask": MASK_RULES, "audit": {"parameters": "full"}},
    {"name": "clear", "subjects": {"ids": ["erin"]}, "connections": ["app"], "access": "read"},
    {"name": "builders", "subjects": {"ids": ["frank"]}, "connections": ["app"], "access": "ddl",
     "mask": MASK_RULES},
]
EXTRA_USERS = [{"name": n, "password": f"{n.capitalize()}Pw-{secrets.token_hex(5)}"}
               for n in ("carol", "dave", "erin", "frank")]

SETUP_SQL = r"""
DROP VIEW IF EXISTS mcust_v;
DROP FUNCTION IF EXISTS public.mf(text);
DROP FUNCTION IF EXISTS public.memails();
DROP TABLE IF EXISTS mcust, mplain;
CREATE TABLE mcust (id int CHECK (id > 0), email text, ssn varchar(11), card text, phone text,
                    birth date, salary numeric(10,2), ref uuid, note text, tags text[], doc jsonb,
                    photo bytea, ts timestamptz);
CREATE VIEW mcust_v AS SELECT * FROM mcust;
CREATE FUNCTION public.mf(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'via:' || t $$;
CREATE OR REPLACE FUNCTION public.mraise(t text) RETURNS text LANGUAGE plpgsql
  AS $$ BEGIN RAISE EXCEPTION 'bad value %', t USING DETAIL = 'value ' || t; END $$;
CREATE OR REPLACE FUNCTION public.mnotice(t text) RETURNS int LANGUAGE plpgsql
  AS $$ BEGIN RAISE NOTICE 'saw %', t; RETURN 1; END $$;
CREATE FUNCTION public.memails() RETURNS SETOF text LANGUAGE sql STABLE
  AS $$ SELECT email FROM public.mcust ORDER BY id $$;
CREATE TABLE mplain (id int PRIMARY KEY, label text, amount numeric(8,2), at timestamptz,
                     flag bool, ip inet, nums int[], js jsonb, blob bytea, u uuid);
INSERT INTO mplain
SELECT g, 'label ' || g, g * 1.25, timestamptz '2024-01-02 03:04:05+00' + g * interval '1 day',
       g % 2 = 0, ('10.1.2.' || g)::inet, ARRAY[g, NULL, g * 2], jsonb_build_object('g', g, 'w', 'word'),
       decode(lpad(to_hex(g), 4, '0'), 'hex'), ('11111111-2222-4333-8444-' || lpad(g::text, 12, '0'))::uuid
FROM generate_series(1, 20) g;
"""


# ---------------------------------------------------------------- expected values

class Matcher:
    def ok(self, got) -> bool:
        raise NotImplementedError


class Fpe(Matcher):
    """format_preserving: same shape (digits stay digits, letters letters,
    everything else kept), not the raw value."""

    def __init__(self, raw: str):
        self.raw = raw

    def ok(self, got) -> bool:
        if not isinstance(got, str) or len(got) != len(self.raw) or got == self.raw:
            return False
        for r, g in zip(self.raw, got):
            if r.isdigit() != g.isdigit() or r.isalpha() != g.isalpha():
                return False
            if not r.isalnum() and r != g:
                return False
        return True

    def __repr__(self):
        return f"Fpe(shape of {self.raw!r})"


class Hashed(Matcher):
    """hash of a uuid: an HMAC-derived uuid, version 8, RFC variant."""

    def __init__(self, raw: str):
        self.raw = raw

    def ok(self, got) -> bool:
        return (isinstance(got, str) and got != self.raw
                and re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
                                 got) is not None)

    def __repr__(self):
        return "Hashed(uuid v8)"


def matches(exp, got) -> bool:
    return exp.ok(got) if isinstance(exp, Matcher) else exp == got


def parse_pg_array(text: str) -> list:
    """A one-dimensional text array literal, e.g. {a,"b c",NULL}."""
    assert text.startswith("{") and text.endswith("}"), text
    body, out, i = text[1:-1], [], 0
    if not body:
        return out
    while i <= len(body):
        if i < len(body) and body[i] == '"':
            j, item = i + 1, ""
            while body[j] != '"':
                if body[j] == "\\":
                    j += 1
                item += body[j]
                j += 1
            out.append(item)
            i = j + 2
        else:
            j = body.find(",", i)
            j = len(body) if j < 0 else j
            item = body[i:j]
            out.append(None if item == "NULL" else item)
            i = j + 1
    return out


def canon(col: str, v):
    """One value, as any client delivered it (text or a decoded object), in a
    comparable form."""
    if v is None:
        return None
    if col == "id":
        return int(v)
    if col == "birth":
        return v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v))
    if col == "salary":
        return str(v)
    if col == "ref":
        return str(v).lower()
    if col == "tags":
        return list(v) if not isinstance(v, str) else parse_pg_array(v)
    if col == "doc":
        return json.loads(v) if isinstance(v, (str, bytes)) else v
    if col == "photo":
        if isinstance(v, str):
            assert v.startswith("\\x"), v
            return bytes.fromhex(v[2:])
        return bytes(v)
    if col == "ts":
        return v if isinstance(v, datetime) else datetime.fromisoformat(str(v))
    return str(v)


def canon_row(values, cols=COLS) -> dict:
    return {c: canon(c, v) for c, v in zip(cols, values)}


def raw_canon(i: int) -> dict:
    return {c: canon(c, v) for c, v in RAW[i].items()}


def expected(subject: str) -> dict:
    """id -> column -> expected canonical value (or a Matcher), per the spec
    in docs/masking.md."""
    if subject == "erin":
        return {i: raw_canon(i) for i in RAW}
    out = {}
    for i, raw in RAW.items():
        if i == 4:
            out[i] = raw_canon(i)
            continue
        e = dict(
            id=i,
            email=raw["email"].replace(raw["email"].split("@")[0], "***", 1),  # email: keeps the domain
            ssn="***",                                                           # redact
            card="*" * (len(raw["card"]) - 4) + raw["card"][-4:],                # partial, keep_last 4
            phone=Fpe(raw["phone"]),                                             # format_preserving
            birth=date(raw["birth"].year, 1, 1),                                 # truncate_date year
            salary=None,                                                         # round -3, below
            ref=Hashed(str(raw["ref"])),                                         # hash
            photo=raw["photo"], ts=raw["ts"],                                    # not masked
        )
        e["salary"] = str(raw["salary"].scaleb(-3).quantize(Decimal(1), rounding="ROUND_HALF_UP")
                          .scaleb(3).quantize(Decimal("0.01")))
        detected = {1: dict(note="plain note one", tags=["red", "blue"], doc={"k": "v1", "n": 1}),
                    2: dict(note="reach me at ***", tags=["green", "***"], doc={"contact": "***", "n": 2}),
                    3: dict(note="card *** on file", tags=[], doc=[1, "x"])}[i]
        if subject == "dave":  # exempt from the email rule and the detectors
            e.update(email=raw["email"], note=raw["note"], tags=raw["tags"], doc=raw["doc"])
        else:
            e.update(detected)
            if subject == "carol":  # exempt from the email rule: the email detector redacts it
                e["email"] = "***"
        out[i] = e
    return out


# Spot checks of the expectation itself (it is the spec in code form).
assert expected("alice")[1]["salary"] == "123000.00"
assert expected("alice")[2]["salary"] == "99000.00"
assert expected("alice")[3]["salary"] == "1000.00"  # 500 rounds half away from zero
assert expected("alice")[1]["card"] == "***************1111"
assert expected("alice")[3]["card"] == "*************0005"
assert expected("alice")[2]["email"] == "***@example.org"


def check_rows(rows: list, subject: str, what: str, cols=COLS):
    """rows: canonical dicts. Every row present, each value as expected."""
    exp = expected(subject)
    ids = [r["id"] for r in rows]
    assert sorted(ids) == sorted(exp), f"{what}: rows {ids}, expected ids {sorted(exp)}"
    problems = []
    for r in rows:
        for c in cols:
            if not matches(exp[r["id"]][c], r[c]):
                problems.append(f"row {r['id']} {c}: got {r[c]!r}, expected {exp[r['id']][c]!r}")
    assert not problems, f"{what} ({subject}):\n  " + "\n  ".join(problems)
    if subject != "erin" and "ref" in cols:
        by = {r["id"]: r["ref"] for r in rows}
        assert by[1] == by[3] != by[2], f"{what}: hash must map equal values alike: {by}"
        assert by[4] is None


# ---------------------------------------------------------------- raw markers

def pg_date_binary(d: date) -> bytes:
    return struct.pack("!i", (d - date(2000, 1, 1)).days)


def pg_numeric_binary(v: Decimal) -> bytes:
    sign, digits, exp = v.as_tuple()
    dscale = max(0, -exp)
    text = f"{abs(v):f}"
    ip, _, fp = text.partition(".")
    ip = ip.lstrip("0")
    ip = "0" * (-len(ip) % 4) + ip
    fp = fp + "0" * (-len(fp) % 4)
    groups = [int(ip[k:k + 4]) for k in range(0, len(ip), 4)] + [int(fp[k:k + 4]) for k in range(0, len(fp), 4)]
    weight = len(ip) // 4 - 1
    while groups and groups[0] == 0:
        groups.pop(0)
        weight -= 1
    while groups and groups[-1] == 0:
        groups.pop()
    return struct.pack(f"!hhHh{len(groups)}h", len(groups), weight if groups else 0,
                       0x4000 if sign else 0, dscale, *groups)


assert pg_numeric_binary(Decimal("123456.78")) == struct.pack("!hhHh3h", 3, 1, 0, 2, 12, 3456, 7800)


class Markers:
    """Raw values that must never reach a client, in the forms a leak could take."""

    def __init__(self, texts, binaries=()):
        self.ci: list = []     # compared with the received bytes lower-cased
        self.exact: list = []
        for t in texts:
            b = t.encode()
            self.ci += [(t, b.lower()), (f"hex of {t!r}", b.hex().encode()),
                        (f"reversed {t!r}", b[::-1].lower())]
            self.exact.append((f"base64 of {t!r}", base64.b64encode(b)))
        for label, b in binaries:
            self.exact.append((label, b))

    def extend(self, texts):
        more = Markers(texts)
        self.ci += more.ci
        self.exact += more.exact
        return self

    def find(self, data: bytes) -> list:
        low = data.lower()
        hits = []
        for label, m in self.ci:
            k = low.find(m)
            if k >= 0:
                hits.append((label, data[max(0, k - 60):k + len(m) + 60]))
        for label, m in self.exact:
            k = data.find(m)
            if k >= 0:
                hits.append((label, data[max(0, k - 60):k + len(m) + 60]))
        return hits


def markers_for(subject: str) -> Markers:
    texts, binaries = [], []
    for i in (1, 2, 3):
        r = RAW[i]
        if subject not in ("dave",):
            texts += [r["email"], r["email"].split("@")[0]]
        texts += [r["ssn"], r["ssn"].replace("-", ""), r["card"], r["card"].replace(" ", ""),
                  r["phone"], re.sub(r"\D", "", r["phone"]), r["birth"].isoformat(), str(r["salary"]),
                  str(r["ref"]), r["ref"].hex]
        binaries += [(f"binary date {r['birth']}", pg_date_binary(r["birth"])),
                     (f"binary numeric {r['salary']}", pg_numeric_binary(r["salary"])),
                     (f"binary uuid {r['ref']}", r["ref"].bytes)]
    if subject != "dave":
        texts += DETECTED + [d.split("@")[0] for d in DETECTED if "@" in d]
    return Markers(sorted(set(texts)), binaries)


def assert_no_leak(data: bytes, markers: Markers, what: str):
    assert data, f"{what}: the relay recorded nothing"
    hits = markers.find(data)
    assert not hits, f"{what}: raw values reached the client:\n" + "\n".join(
        f"  {label}: ...{ctx!r}..." for label, ctx in hits[:10])


# ---------------------------------------------------------------- recording relay

class Relay:
    """A TCP relay in front of a gateway that records every byte sent to the
    client (the client connects with sslmode=disable, so the bytes are the
    protocol's). Recorded before being forwarded: whatever a client saw is
    in `data()` by the time the client has it."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(64)
        self.lsock.settimeout(0.2)
        self.host, self.port = self.lsock.getsockname()
        self._lock = threading.Lock()
        self._s2c = bytearray()
        self._socks: list = []
        self._threads: list = []
        self._stop = threading.Event()
        self.accepted = 0
        t = threading.Thread(target=self._accept, daemon=True)
        t.start()
        self._threads.append(t)

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            self.accepted += 1
            with self._lock:
                self._socks += [client, upstream]
            for src, dst, rec in ((client, upstream, False), (upstream, client, True)):
                t = threading.Thread(target=self._pump, args=(src, dst, rec), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src, dst, record):
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                if record:
                    with self._lock:
                        self._s2c += chunk
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def data(self) -> bytes:
        with self._lock:
            return bytes(self._s2c)

    def close(self):
        self._stop.set()
        self.lsock.close()
        with self._lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def params(self, gw, user: str, **kw) -> dict:
        p = gw.params(user=user, **kw)
        p.update(host=self.host, port=self.port)
        return p

    def dsn(self, gw, user: str, **kw) -> str:
        from harness import conninfo
        return conninfo(**self.params(gw, user, **kw))

    def connect(self, gw, user: str, autocommit: bool = True, **kw):
        """psycopg through the relay; `kw` goes to psycopg.connect."""
        return psycopg.connect(self.dsn(gw, user), autocommit=autocommit, **kw)

    def assert_clean(self, subject: str, what: str, extra=()):
        m = markers_for(subject)
        if extra:
            m.extend(extra)
        assert_no_leak(self.data(), m, what)


@pytest.fixture
def relay():
    """relay(gw) -> a Relay in front of gw, closed after the test."""
    made = []

    def make(gw):
        r = Relay(gw.host, gw.port)
        made.append(r)
        return r
    yield make
    for r in made:
        r.close()


# ---------------------------------------------------------------- fixtures

def simulated_alice_row(i: int) -> dict:
    """PGWARDEN_IT_MASK_SIM: what the gateway should deliver to alice, as
    seed values (see the module docstring)."""
    out = {}
    for c, e in expected("alice")[i].items():
        if isinstance(e, Fpe):
            e = "".join(str((int(ch) + 1) % 10) if ch.isdigit() else ch for ch in e.raw)
        elif isinstance(e, Hashed):
            b = bytearray(hashlib.md5(e.raw.encode()).digest())
            b[6], b[8] = (b[6] & 0x0F) | 0x80, (b[8] & 0x3F) | 0x80
            e = uuid.UUID(bytes=bytes(b))
        elif c == "salary" and e is not None:
            e = Decimal(e)
        out[c] = e
    return out


SIMULATE = os.environ.get("PGWARDEN_IT_MASK_SIM") == "1"


@pytest.fixture(scope="module")
def mdata(pg):
    """mcust (seeded), a view over it, two user functions, and mplain (no rules)."""
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute(SETUP_SQL)
        if not SIMULATE:  # the simulated (masked) emails repeat
            c.execute("CREATE UNIQUE INDEX mcust_email_key ON mcust (email)")
        with c.cursor() as cur:
            for r in (simulated_alice_row(i) if SIMULATE else RAW[i] for i in RAW):
                cur.execute(f"INSERT INTO mcust ({', '.join(COLS)}) VALUES ({', '.join(['%s'] * len(COLS))})",
                            [Jsonb(r[c]) if c == "doc" and r[c] is not None else r[c] for c in COLS])
        got = c.execute("SELECT count(*) FROM mcust").fetchone()[0]
        assert got == N_ROWS
    yield
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as c:
        c.execute("DROP VIEW IF EXISTS mcust_v; DROP FUNCTION IF EXISTS public.mf(text); "
                  "DROP FUNCTION IF EXISTS public.mraise(text); DROP FUNCTION IF EXISTS public.mnotice(text); "
                  "DROP FUNCTION IF EXISTS public.memails(); DROP TABLE IF EXISTS mcust, mplain")


@pytest.fixture(scope="module")
def hash_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("maskkey")
    key = "MaskHashKey-" + secrets.token_hex(16)
    p = d / "hash_key"
    p.write_text(key + "\n")
    os.chmod(p, 0o600)
    return p, key


def _start(module_gateway, hash_key, on_untraceable):
    path, key = hash_key
    gw = module_gateway.start(users=EXTRA_USERS, extra={
        "masking": {"hash_key": "${file:" + str(path) + "}", "on_untraceable": on_untraceable},
        "policies": POLICIES, "audit": {"sinks": [{"type": "jsonl", "path": "audit.jsonl"}]}})
    gw.secrets = sorted(set(gw.secrets) | {key})  # the key must never reach the log either
    return gw


@pytest.fixture(scope="module")
def mgw(module_gateway, hash_key, mdata):
    """masking.on_untraceable: mask."""
    return _start(module_gateway, hash_key, "mask")


@pytest.fixture(scope="module")
def deny_gw(module_gateway, hash_key, mdata):
    """masking.on_untraceable: deny."""
    return _start(module_gateway, hash_key, "deny")


def select_all(conn, binary: bool = False, sql: str = "SELECT * FROM mcust ORDER BY id") -> list:
    cur = conn.cursor(binary=binary)
    cur.execute(sql)
    assert [d.name for d in cur.description] == list(COLS)
    return [canon_row(r) for r in cur.fetchall()]


# ---------------------------------------------------------------- psql

PSQL_NULL = "<NULL>"
SEP = "\x1f"


def psql_rows(params: dict, script: str) -> list:
    """Runs `script` with psql (text format, simple protocol); the rows of
    every result, each a list of str/None."""
    p = run(["psql", "-X", "-q", "-A", "-t", "-F", SEP, "-P", f"null={PSQL_NULL}", "-v", "ON_ERROR_STOP=1",
             "-h", str(params["host"]), "-p", str(params["port"]), "-U", params["user"],
             "-d", params["dbname"]],
            input=script, timeout=60, env=clean_env(PGPASSWORD=params["password"], PGSSLMODE="disable",
                                                     PGCONNECT_TIMEOUT="10"))
    lines = [ln for ln in p.stdout.split("\n") if ln != ""]
    return [[None if v == PSQL_NULL else v for v in ln.split(SEP)] for ln in lines]


def _full(rows):
    return [canon_row(r) for r in rows]


def _email_like(i, v, subject="alice"):
    """A masked form of row i's email: the email function's, or the
    untraceable redaction ("***"); NULL stays NULL."""
    exp = expected(subject)[i]["email"]
    return v in (exp, "***") if exp is not None else v in (None, "***")


def _check_ids_and_email(rows, ids=(1, 2, 3, 4)):
    assert [int(r[0]) for r in rows] == list(ids)
    for r in rows:
        assert _email_like(int(r[0]), r[1]), r


def _check_json(rows, col=1):
    for r in rows:
        if r[col] is not None:
            json.loads(r[col])


def _check_bytea_email(rows):
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    for r in rows:
        v = None if r[1] is None else bytes.fromhex(r[1][2:]).decode()
        assert _email_like(int(r[0]), v), r


def _check_json_email(rows):
    assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
    for r in rows:
        v = None if r[1] is None else json.loads(r[1])
        assert _email_like(int(r[0]), v), r


def _check_exact_cols(cols):
    def check(rows):
        assert [int(r[0]) for r in rows] == [1, 2, 3, 4]
        exp = expected("alice")
        for r in rows:
            for c, v in zip(cols, r):
                assert matches(exp[int(r[0])][c], canon(c, v)), (c, r)
    return check


def _check_alias_swap(rows):
    # `email AS id, id AS email`: masking follows the column's origin, not its name.
    exp = expected("alice")
    assert [int(r[1]) for r in rows] == [1, 2, 3, 4]
    assert [r[0] for r in rows] == [exp[i]["email"] for i in (1, 2, 3, 4)]


def _check_where_only(rows):
    assert rows == [["1"], ["2"], ["3"]]


def _any(rows):
    pass


# (id, script, rows expected, check). Checks marked "exact" are columns whose
# origin PostgreSQL itself reports (RowDescription table OID/attnum):
# the rule's function must have been applied. Expressions may be traced to
# their column (same function) or be untraceable (redacted, "***"); either
# way no raw value may get through.
PSQL_CASES = [
    ("select_star", "SELECT * FROM mcust ORDER BY id", 4, lambda rows: check_rows(_full(rows), "alice", "psql *")),
    ("table_stmt", "TABLE mcust ORDER BY id", 4, lambda rows: check_rows(_full(rows), "alice", "TABLE")),
    ("c_star", "SELECT c.* FROM mcust c ORDER BY id", 4, lambda rows: check_rows(_full(rows), "alice", "c.*")),
    ("email", "SELECT id, email, ssn, card FROM mcust ORDER BY id", 4,
     _check_exact_cols(("id", "email", "ssn", "card"))),
    ("alias_swap", "SELECT email AS id, id AS email FROM mcust ORDER BY 2", 4, _check_alias_swap),
    ("where_only", "SELECT id FROM mcust WHERE email LIKE '%raw%' ORDER BY id", 3, _check_where_only),
    ("lower", "SELECT id, lower(email) FROM mcust ORDER BY id", 4, _check_ids_and_email),
    ("concat", "SELECT id, email || '' FROM mcust ORDER BY id", 4, _check_ids_and_email),
    ("upper_ssn_card", "SELECT id, upper(ssn), card || '' FROM mcust ORDER BY id", 4, _any),
    ("to_bytea", "SELECT id, email::bytea FROM mcust ORDER BY id", 4, _check_bytea_email),
    ("convert_to", "SELECT id, convert_to(email, 'UTF8'), ssn::bytea FROM mcust ORDER BY id", 4, _any),
    ("to_json", "SELECT id, to_json(email) FROM mcust ORDER BY id", 4, _check_json_email),
    ("row_to_json", "SELECT id, row_to_json(c) FROM mcust c ORDER BY id", 4, _check_json),
    ("to_jsonb", "SELECT id, to_jsonb(c) FROM mcust c ORDER BY id", 4, _check_json),
    ("field_select", "SELECT id, (c).email FROM mcust c ORDER BY id", 4, _check_ids_and_email),
    ("whole_row", "SELECT c FROM mcust c ORDER BY id", 4, _any),
    ("whole_row_text", "SELECT c::text FROM mcust c ORDER BY id", 4, _any),
    ("subquery", "SELECT s.id, s.email, s.ssn, s.birth FROM (SELECT * FROM mcust) s ORDER BY s.id", 4,
     _check_exact_cols(("id", "email", "ssn", "birth"))),
    ("cte", "WITH x AS (SELECT * FROM mcust) SELECT id, email, card, salary FROM x ORDER BY id", 4,
     _check_exact_cols(("id", "email", "card", "salary"))),
    ("join", "SELECT a.id, b.email, b.phone FROM mcust a JOIN mcust b ON a.id = b.id ORDER BY a.id", 4,
     _check_exact_cols(("id", "email", "phone"))),
    ("view", "SELECT id, email, ssn, card, birth FROM mcust_v ORDER BY id", 4, _check_ids_and_email),
    ("view_star", "SELECT * FROM mcust_v ORDER BY id", 4, _any),
    ("string_agg", "SELECT string_agg(email, ',' ORDER BY id) FROM mcust", 1, _any),
    ("array_agg", "SELECT array_agg(email ORDER BY id), array_agg(ssn) FROM mcust", 1, _any),
    ("jsonb_agg", "SELECT jsonb_agg(c ORDER BY id) FROM mcust c", 1, _any),
    ("unnest", "SELECT unnest(array[email, ssn, card]) FROM mcust", 12, _any),
    ("regexp_split", "SELECT id, regexp_split_to_table(email, '@') FROM mcust", 6, _any),
    ("jsonb_build_object", "SELECT id, jsonb_build_object('e', email, 's', ssn) FROM mcust ORDER BY id", 4,
     _check_json),
    ("union", "SELECT email FROM mcust UNION ALL SELECT ssn FROM mcust UNION ALL SELECT card FROM mcust", 12, _any),
    ("scalar_subquery",
     "SELECT m.id, (SELECT m2.email FROM mcust m2 WHERE m2.id = m.id) FROM mcust m ORDER BY m.id", 4,
     _check_ids_and_email),
    ("substr_replace", "SELECT id, substr(email, 1, 9), replace(ssn, '-', ''), replace(card, ' ', ''), "
     "split_part(email, '@', 1) FROM mcust ORDER BY id", 4, _any),
    ("base64", "SELECT id, encode(convert_to(email, 'UTF8'), 'base64') FROM mcust ORDER BY id", 4, _any),
    ("reverse", "SELECT id, reverse(email), reverse(ssn) FROM mcust ORDER BY id", 4, _any),
    ("format", "SELECT format('%s|%s|%s|%s|%s', email, ssn, card, birth, salary) FROM mcust", 4, _any),
    ("case_coalesce", "SELECT id, CASE WHEN id > 0 THEN email END, coalesce(ssn, 'none') FROM mcust ORDER BY id",
     4, _any),
    ("casts", "SELECT id, birth::text, salary::text, ref::text, salary::float8, birth + 0 FROM mcust ORDER BY id",
     4, _any),
    ("column_alias_list", "SELECT b, c FROM mcust AS x(a, b, c) ORDER BY a", 4, _any),
    ("array_sublink", "SELECT ARRAY(SELECT email FROM mcust ORDER BY id)", 1, _any),
    ("lateral", "SELECT m.id, l.e FROM mcust m, LATERAL (SELECT m.ssn AS e) l ORDER BY m.id", 4, _any),
    ("window", "SELECT id, first_value(email) OVER (ORDER BY id), lag(ssn) OVER (ORDER BY id) "
     "FROM mcust ORDER BY id", 4, _any),
    ("xmlelement", "SELECT xmlelement(name e, email) FROM mcust ORDER BY id", 4, _any),
    ("row_constructor", "SELECT ROW(email, ssn)::text FROM mcust ORDER BY id", 4, _any),
    ("table_name_as_row", "SELECT mcust FROM mcust ORDER BY id", 4, _any),
    ("union_other_table", "SELECT email FROM mcust UNION ALL SELECT label FROM mplain", 24, _any),
    ("grouping_sets", "SELECT email, count(*) FROM mcust GROUP BY GROUPING SETS ((email), ()) "
     "ORDER BY 1", 5, _any),
    ("values_join", "SELECT v.x, m.card FROM (VALUES (1), (2)) v(x) JOIN mcust m ON m.id = v.x "
     "ORDER BY 1", 2, _any),
    ("cte_dml_free", "WITH RECURSIVE r(n, e) AS (SELECT 1, email FROM mcust WHERE id = 1 "
     "UNION ALL SELECT n + 1, e FROM r WHERE n < 3) SELECT e FROM r", 3, _any),
    ("prepare_execute", "PREPARE mp AS SELECT * FROM mcust ORDER BY id;\nEXECUTE mp;\nEXECUTE mp;\n", 8,
     lambda rows: (check_rows(_full(rows[:4]), "alice", "EXECUTE 1"),
                   check_rows(_full(rows[4:]), "alice", "EXECUTE 2"))),
    ("cursor_fetch", "BEGIN;\nDECLARE mc CURSOR FOR SELECT * FROM mcust ORDER BY id;\nFETCH 2 FROM mc;\n"
     "FETCH ALL FROM mc;\nCOMMIT;\n", 4, lambda rows: check_rows(_full(rows), "alice", "FETCH")),
]


@pytest.mark.parametrize("case", PSQL_CASES, ids=[c[0] for c in PSQL_CASES])
def test_psql_results_are_masked(mgw, relay, case):
    name, script, n, check = case
    r = relay(mgw)
    rows = psql_rows(r.params(mgw, "alice"), script if script.endswith("\n") else script + ";\n")
    assert len(rows) == n, f"{name}: {len(rows)} rows, expected {n}: {rows}"
    r.assert_clean("alice", f"psql {name}")
    check(rows)


def test_hash_and_format_preserving_are_deterministic(mgw, relay):
    """The same raw value masks to the same output in every session, in text
    and binary results and across rows, so GROUP BY and DISTINCT on the
    masked column still group as on the raw one."""
    r = relay(mgw)
    seen = []
    for binary in (False, True, False):
        with r.connect(mgw, "alice") as c:
            rows = {x["id"]: x for x in select_all(c, binary)}
            seen.append({i: (rows[i]["ref"], rows[i]["phone"]) for i in rows})
    assert seen[0] == seen[1] == seen[2], seen
    with r.connect(mgw, "alice") as c:
        groups = c.execute("SELECT ref, count(*) FROM mcust GROUP BY ref ORDER BY count(*) DESC, ref").fetchall()
        distinct = c.execute("SELECT DISTINCT ref FROM mcust").fetchall()
    hashed = seen[0]
    assert [(str(g[0]) if g[0] else None, g[1]) for g in groups] == \
        [(hashed[1][0], 2), (hashed[2][0], 1), (None, 1)], groups
    assert {str(d[0]) if d[0] else None for d in distinct} == {hashed[1][0], hashed[2][0], None}
    r.assert_clean("alice", "hash determinism")


def test_exempt_subject_falls_through_to_the_detector(mgw, relay):
    """carol is exempt from the email column rule: the column is then scanned
    by the detectors, which redact the address whole; other rules apply."""
    r = relay(mgw)
    with r.connect(mgw, "carol") as c:
        rows = select_all(c)
    check_rows(rows, "carol", "carol")
    r.assert_clean("carol", "carol")


def test_subject_exempt_from_email_rule_and_detectors_sees_email(mgw, relay, pg):
    r = relay(mgw)
    with r.connect(mgw, "dave") as c:
        rows = select_all(c)
        rows_b = select_all(c, binary=True)
    check_rows(rows, "dave", "dave text")
    check_rows(rows_b, "dave", "dave binary")
    r.assert_clean("dave", "dave")
    assert "alice.raw@example.com" in r.data().decode(errors="replace")


def test_subject_without_mask_rules_gets_what_postgresql_sends(mgw, relay, pg):
    r = relay(mgw)
    for binary in (False, True):
        with r.connect(mgw, "erin") as c:
            via = c.cursor(binary=binary).execute("SELECT * FROM mcust ORDER BY id").fetchall()
        with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as d:
            direct = d.cursor(binary=binary).execute("SELECT * FROM mcust ORDER BY id").fetchall()
        assert via == direct
        check_rows([canon_row(x) for x in via], "erin", "erin")


# ---------------------------------------------------------------- psycopg, asyncpg, JDBC

@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_psycopg_decodes_every_masked_row(mgw, relay, binary):
    r = relay(mgw)
    with r.connect(mgw, "alice") as c:
        rows = select_all(c, binary)
        # The same with the view and through a server-side (named) cursor.
        with c.transaction():
            cur = c.cursor(name="mask_srv", binary=binary)
            cur.itersize = 3
            cur.execute("SELECT * FROM mcust ORDER BY id")
            named = [canon_row(x) for x in cur]
            cur.close()
    check_rows(rows, "alice", f"psycopg {'binary' if binary else 'text'}")
    check_rows(named, "alice", "psycopg named cursor")
    r.assert_clean("alice", "psycopg")


def _asyncpg_connect(params):
    import asyncpg
    return asyncpg.connect(host=params["host"], port=params["port"], user=params["user"],
                           password=params["password"], database=params["dbname"], ssl=False,
                           timeout=10, command_timeout=60)


def test_asyncpg_binary_results_and_prepared_statements(mgw, relay):
    r = relay(mgw)

    async def go():
        c = await _asyncpg_connect(r.params(mgw, "alice"))
        try:
            rows = await c.fetch("SELECT * FROM mcust ORDER BY id")
            stmt = await c.prepare("SELECT * FROM mcust WHERE id = $1")
            repeated = [await stmt.fetchrow(1 + k % 4) for k in range(20)]
            copy = io.BytesIO()
            await c.copy_from_query("SELECT * FROM mcust ORDER BY id", output=copy, format="binary")
            return rows, repeated, copy.getvalue()
        finally:
            await c.close(timeout=10)
    rows, repeated, copy = asyncio.run(go())
    check_rows([canon_row(tuple(x.values())) for x in rows], "alice", "asyncpg fetch")
    exp = expected("alice")
    for k, row in enumerate(repeated):
        got = canon_row(tuple(row.values()))
        bad = [c for c in COLS if not matches(exp[1 + k % 4][c], got[c])]
        assert not bad, f"prepared run {k}: {bad}: {got}"
    check_rows(parse_copy_binary(copy, TYPES), "alice", "asyncpg COPY binary")
    r.assert_clean("alice", "asyncpg")


JAR = "/usr/share/java/postgresql.jar"
MASK_JAVA = HERE / "clients" / "java" / "MaskCheck.java"


@pytest.fixture(scope="module")
def mask_java_classes():
    key = hashlib.sha256(MASK_JAVA.read_bytes() + str(os.path.getmtime(JAR)).encode()).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"pgwarden-it-javac-mask-{key}"
    if not (out / "MaskCheck.class").exists():
        tmp = Path(tempfile.mkdtemp(prefix="javac-", dir=tempfile.gettempdir()))
        run(["javac", "-d", str(tmp), "-cp", JAR, str(MASK_JAVA)], timeout=180)
        try:
            tmp.rename(out)
        except OSError:
            pass
    return out


@pytest.mark.parametrize("mode", ["extended", "simple"])
def test_jdbc_decodes_every_masked_row(mgw, relay, mask_java_classes, mode):
    r = relay(mgw)
    p = r.params(mgw, "alice")
    repeats = 3
    out = run(["java", "-Duser.timezone=UTC", "-cp", f"{mask_java_classes}:{JAR}", "MaskCheck",
               str(p["host"]), str(p["port"]), p["dbname"], p["user"], p["password"], mode, str(repeats)],
              env=clean_env(), timeout=120).stdout
    lines = out.splitlines()
    assert lines[-1] == "done", out
    for run_no in range(repeats):
        rows = [ln.split("\t")[2:] for ln in lines if ln.startswith(f"row\t{run_no}\t")]
        assert f"rows\t{run_no}\t{N_ROWS}" in lines, out
        check_rows([canon_row([None if v == "<NULL>" else v for v in x]) for x in rows], "alice",
                   f"JDBC {mode} run {run_no}")
    r.assert_clean("alice", f"JDBC {mode}")


# ---------------------------------------------------------------- COPY

TYPES = ("int4", "text", "varchar", "text", "text", "date", "numeric", "uuid", "text", "text[]",
         "jsonb", "bytea", "timestamptz")


def decode_binary(typ: str, b: Optional[bytes]):
    """PostgreSQL's binary send format of the types mcust uses."""
    if b is None:
        return None
    if typ in ("int4",):
        return struct.unpack("!i", b)[0]
    if typ in ("text", "varchar"):
        return b.decode()
    if typ == "date":
        return date(2000, 1, 1) + timedelta(days=struct.unpack("!i", b)[0])
    if typ == "timestamptz":
        return datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=struct.unpack("!q", b)[0])
    if typ == "uuid":
        assert len(b) == 16
        return str(uuid.UUID(bytes=b))
    if typ == "bytea":
        return bytes(b)
    if typ == "jsonb":
        assert b[:1] == b"\x01", b
        return json.loads(b[1:])
    if typ == "numeric":
        ndigits, weight, sign, dscale = struct.unpack_from("!hhHh", b)
        assert sign in (0, 0x4000), sign
        digits = struct.unpack_from(f"!{ndigits}h", b, 8)
        v = Decimal(0)
        for k, d in enumerate(digits):
            v += Decimal(d) * (Decimal(10000) ** (weight - k))
        v = v.quantize(Decimal(1).scaleb(-dscale))
        return str(-v if sign else v)
    if typ == "text[]":
        ndim, _flags, _elem = struct.unpack_from("!iiI", b)
        if ndim == 0:
            return []
        assert ndim == 1, ndim
        n, _lb = struct.unpack_from("!ii", b, 12)
        off, out = 20, []
        for _ in range(n):
            (ln,) = struct.unpack_from("!i", b, off)
            off += 4
            out.append(None if ln < 0 else b[off:off + ln].decode())
            off += max(ln, 0)
        return out
    raise AssertionError(typ)


OID_TYPES = {23: "int4", 25: "text", 1043: "varchar", 1082: "date", 1700: "numeric", 2950: "uuid",
             1009: "text[]", 3802: "jsonb", 17: "bytea", 1184: "timestamptz"}


def parse_copy_binary(data: bytes, types) -> list:
    assert data[:11] == b"PGCOPY\n\xff\r\n\0", data[:20]
    (_flags, ext) = struct.unpack_from("!iI", data, 11)
    off, rows = 19 + ext, []
    while True:
        (n,) = struct.unpack_from("!h", data, off)
        off += 2
        if n == -1:
            break
        vals = []
        for k in range(n):
            (ln,) = struct.unpack_from("!i", data, off)
            off += 4
            vals.append(None if ln < 0 else data[off:off + ln])
            off += max(ln, 0)
        rows.append(canon_row([decode_binary(t, v) for t, v in zip(types, vals)]))
    assert off == len(data), "bytes after the COPY binary trailer"
    return rows


def _unescape_copy_text(v: str) -> Optional[str]:
    if v == "\\N":
        return None
    out, i = [], 0
    while i < len(v):
        if v[i] == "\\" and i + 1 < len(v):
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}.get(v[i + 1], v[i + 1]))
            i += 2
        else:
            out.append(v[i])
            i += 1
    return "".join(out)


def copy_out(conn, sql: str) -> bytes:
    with conn.cursor() as cur:
        with cur.copy(sql) as cp:
            return b"".join(bytes(chunk) for chunk in cp)


@pytest.mark.parametrize("source", ["query", "table"])
def test_copy_to_stdout_text_csv_binary(mgw, relay, source):
    src = "(SELECT * FROM mcust ORDER BY id)" if source == "query" else "mcust"
    r = relay(mgw)
    with r.connect(mgw, "alice") as c:
        text = copy_out(c, f"COPY {src} TO STDOUT")
        csv_out = copy_out(c, f"COPY {src} TO STDOUT WITH (FORMAT csv, HEADER)")
        binary = copy_out(c, f"COPY {src} TO STDOUT WITH (FORMAT binary)")
        custom = copy_out(c, f"COPY {src} TO STDOUT WITH (FORMAT csv, HEADER, DELIMITER ';', NULL 'NIL', "
                             "FORCE_QUOTE (email, card))")
        cols = copy_out(c, "COPY mcust (id, email, ssn) TO STDOUT" if source == "table"
                        else "COPY (SELECT id, email, ssn FROM mcust) TO STDOUT")
    rows = [canon_row([_unescape_copy_text(v) for v in ln.split("\t")])
            for ln in text.decode().splitlines()]
    check_rows(rows, "alice", f"COPY {source} text")

    lines = list(csv.reader(io.StringIO(csv_out.decode())))
    assert lines[0] == list(COLS), "the HEADER line is kept"
    check_rows([canon_row([v if v != "" else None for v in ln]) for ln in lines[1:]], "alice",
               f"COPY {source} csv")

    check_rows(parse_copy_binary(binary, TYPES), "alice", f"COPY {source} binary")

    lines = list(csv.reader(io.StringIO(custom.decode()), delimiter=";"))
    assert lines[0] == list(COLS)
    check_rows([canon_row([None if v == "NIL" else v for v in ln]) for ln in lines[1:]], "alice",
               f"COPY {source} csv ; NIL")

    exp = expected("alice")
    got = sorted((ln.split("\t") for ln in cols.decode().splitlines()), key=lambda x: int(x[0]))
    assert got == [[str(i), exp[i]["email"] or "\\N", exp[i]["ssn"] or "\\N"] for i in (1, 2, 3, 4)]
    r.assert_clean("alice", f"COPY {source}")


# ---------------------------------------------------------------- cursors (simple protocol, binary)

def _read_until_ready(conn) -> tuple:
    """(RowDescriptions, DataRows as lists of bytes/None, tags, errors) until ReadyForQuery."""
    descs, rows, tags, errors = [], [], [], []
    while True:
        tag, body = conn.read_msg()
        if tag == b"T":
            descs.append(parse_row_description(body))
        elif tag == b"D":
            rows.append(parse_data_row_raw(body))
        elif tag == b"C":
            tags.append(body.rstrip(b"\0").decode())
        elif tag == b"E":
            errors.append(pgwire.parse_error_fields(body))
        elif tag == b"Z":
            return descs, rows, tags, errors


def parse_row_description(body: bytes) -> list:
    (n,) = struct.unpack_from("!h", body)
    off, out = 2, []
    for _ in range(n):
        end = body.index(b"\0", off)
        name = body[off:end].decode()
        off = end + 1
        tbl, att, typ, tlen, tmod, fmt = struct.unpack_from("!IhIhih", body, off)
        off += 18
        out.append((name, tbl, att, typ, tlen, tmod, fmt))
    return out


def parse_data_row_raw(body: bytes) -> list:
    (n,) = struct.unpack_from("!h", body)
    off, vals = 2, []
    for _ in range(n):
        (ln,) = struct.unpack_from("!i", body, off)
        off += 4
        vals.append(None if ln < 0 else body[off:off + ln])
        off += max(ln, 0)
    return vals


def test_binary_cursor_over_the_simple_protocol(mgw, relay):
    """DECLARE ... BINARY CURSOR + FETCH in simple query mode: the DataRows
    are in binary format (RowDescription says so) and masked as binary."""
    r = relay(mgw)
    conn = pgwire.connect(r.params(mgw, "alice"))
    try:
        conn.send(pgwire.query("BEGIN; DECLARE mb BINARY CURSOR FOR SELECT * FROM mcust ORDER BY id; "
                               "FETCH 3 FROM mb; FETCH ALL FROM mb; COMMIT"))
        descs, rows, tags, errors = _read_until_ready(conn)
    finally:
        conn.close()
    assert not errors, errors
    assert tags == ["BEGIN", "DECLARE CURSOR", "FETCH 3", "FETCH 1", "COMMIT"], tags
    assert len(descs) == 2 and all(f[6] == 1 for d in descs for f in d), descs
    types = [OID_TYPES[f[3]] for f in descs[0]]
    check_rows([canon_row([decode_binary(t, v) for t, v in zip(types, row)]) for row in rows], "alice",
               "binary cursor")
    r.assert_clean("alice", "binary cursor")


def test_binary_cursor_through_psycopg(mgw, relay):
    r = relay(mgw)
    with r.connect(mgw, "alice", autocommit=False) as c:
        cur = psycopg.ClientCursor(c)  # simple protocol: the cursor's BINARY applies
        cur.execute("DECLARE mb2 BINARY CURSOR FOR SELECT * FROM mcust ORDER BY id")
        cur.execute("FETCH 2 FROM mb2")
        rows = cur.fetchall()
        cur.execute("FETCH ALL FROM mb2")
        rows += cur.fetchall()
        c.rollback()
    check_rows([canon_row(x) for x in rows], "alice", "psycopg binary cursor")
    r.assert_clean("alice", "psycopg binary cursor")


# ---------------------------------------------------------------- extended protocol, repeated

def test_psycopg_prepared_statements_stay_masked(mgw, relay):
    r = relay(mgw)
    exp = expected("alice")
    with r.connect(mgw, "alice", prepare_threshold=0) as c:
        for k in range(12):
            i = 1 + k % 4
            for binary in (False, True):
                row = c.cursor(binary=binary).execute("SELECT * FROM mcust WHERE id = %s", (i,),
                                                      prepare=True).fetchone()
                got = canon_row(row)
                bad = [col for col in COLS if not matches(exp[i][col], got[col])]
                assert not bad, f"execution {k} ({'binary' if binary else 'text'}): {bad}: {got}"
        # A pipeline of the same prepared statement.
        with c.pipeline():
            curs = [c.cursor(binary=True).execute("SELECT * FROM mcust WHERE id = %s", (1 + k % 4,),
                                                  prepare=True) for k in range(8)]
        for k, cur in enumerate(curs):
            got = canon_row(cur.fetchone())
            assert all(matches(exp[1 + k % 4][col], got[col]) for col in COLS), got
    r.assert_clean("alice", "psycopg prepared")


# ---------------------------------------------------------------- writes: RETURNING, error details

NEW = dict(id=50, email="newbie.raw@example.com", ssn="456-78-9012", card="6011 0009 9013 9424",
           phone="+1 212 555 0199", birth=date(2001, 7, 8), salary=Decimal("45678.90"))


def test_returning_is_masked(mgw, relay, pg):
    r = relay(mgw)
    with r.connect(mgw, "bob", autocommit=False) as c:
        got = c.execute("UPDATE mcust SET note = note WHERE id = 1 RETURNING email, ssn, card, id").fetchone()
        assert got == ("***@example.com", "***", "***************1111", 1)
        # Through a data-modifying CTE, and with the value moved to another column.
        got = c.execute("WITH d AS (UPDATE mcust SET note = note WHERE id = 1 RETURNING email, ssn) "
                        "SELECT * FROM d").fetchone()
        assert got == ("***@example.com", "***")
        # The RETURNING value is computed (upper(email)), not the stored
        # column PostgreSQL names: redacted whole, not by the email function.
        got = c.execute("INSERT INTO mcust (id, email) SELECT 70, upper(email) FROM mcust WHERE id = 1 "
                        "RETURNING email, id").fetchone()
        assert got == ("***", 70), got
        row = c.execute("INSERT INTO mcust (id, email, ssn, card, phone, birth, salary) "
                        "VALUES (%(id)s, %(email)s, %(ssn)s, %(card)s, %(phone)s, %(birth)s, %(salary)s) "
                        "RETURNING *", NEW).fetchone()
        got = dict(zip(COLS, row))
        assert got["id"] == 50 and got["email"] == "***@example.com" and got["ssn"] == "***"
        assert got["card"] == "*" * 15 + "9424" and got["birth"] == date(2001, 1, 1)
        assert got["salary"] == Decimal("46000.00") and Fpe(NEW["phone"]).ok(got["phone"])
        rows = c.cursor(binary=True).execute(
            "DELETE FROM mcust WHERE id = 50 RETURNING id, email, birth, salary").fetchall()
        assert rows == [(50, "***@example.com", date(2001, 1, 1), Decimal("46000.00"))]
        c.rollback()
    r.assert_clean("bob", "RETURNING", extra=[NEW["email"], "newbie.raw", NEW["ssn"], NEW["card"],
                                              NEW["phone"], "2001-07-08", "45678.90"])
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as d:
        assert d.execute("SELECT count(*) FROM mcust").fetchone() == (N_ROWS,)


def test_unique_violation_detail_is_redacted(mgw, relay):
    r = relay(mgw)
    with r.connect(mgw, "bob") as c:
        with pytest.raises(psycopg.errors.UniqueViolation) as ei:
            c.execute("INSERT INTO mcust (id, email) VALUES (%s, %s)", (60, RAW[1]["email"]))
        assert ei.value.sqlstate == "23505"
        detail = ei.value.diag.message_detail or ""
        assert detail.startswith("Key (email)=("), detail
        assert "alice.raw" not in detail
        # Also over the simple protocol, the value inline in the SQL.
        with pytest.raises(psycopg.errors.UniqueViolation):
            psycopg.ClientCursor(c).execute("INSERT INTO mcust (id, email) VALUES (%s, %s)",
                                            (61, RAW[2]["email"]))
        assert c.execute("SELECT 1").fetchone() == (1,)
    r.assert_clean("bob", "unique violation")


def test_check_violation_failing_row_is_redacted(mgw, relay):
    """`Failing row contains (...)` names no columns: with masked columns in
    the statement's result (RETURNING *) the whole list is redacted."""
    r = relay(mgw)
    bad = dict(id=-1, email="zed.raw@example.com", ssn="987-65-4321", card="6011 1111 1111 1117")
    with r.connect(mgw, "bob") as c:
        with pytest.raises(psycopg.errors.CheckViolation) as ei:
            c.execute("INSERT INTO mcust (id, email, ssn, card) VALUES (%(id)s, %(email)s, %(ssn)s, %(card)s) "
                      "RETURNING *", bad)
        assert ei.value.sqlstate == "23514"
        detail = ei.value.diag.message_detail or ""
        for v in ("zed.raw", "987-65-4321", "6011 1111 1111 1117"):
            assert v not in detail, detail
    r.assert_clean("bob", "check violation", extra=["zed.raw@example.com", "zed.raw", "987-65-4321",
                                                     "6011 1111 1111 1117", "6011111111111117"])


# ---------------------------------------------------------------- notifications

def test_notification_payload_is_scanned_by_the_detectors(mgw, relay, pg):
    r = relay(mgw)
    got = []
    with r.connect(mgw, "alice") as c:
        c.add_notify_handler(lambda n: got.append((n.channel, n.payload)))
        c.execute("LISTEN mask_chan")
        with psycopg.connect(pg.dsn("tester", "app"), autocommit=True) as admin:
            admin.execute("SELECT pg_notify('mask_chan', %s)",
                          ("mail alice.raw@example.com card 4111 1111 1111 1111 end",))

        def arrived():
            c.execute("SELECT 1")
            return got
        wait_for(arrived, 10, "the notification through the gateway")
    assert got == [("mask_chan", "mail *** card *** end")], got
    r.assert_clean("alice", "NOTIFY payload")


# ---------------------------------------------------------------- untraceable columns

UNTRACEABLE = [
    ("user_function", "SELECT id, public.mf(email) AS x FROM mcust ORDER BY id"),
    ("user_srf", "SELECT e FROM public.memails() AS e"),
]


def test_untraceable_columns_are_redacted_with_on_untraceable_mask(mgw, relay):
    r = relay(mgw)
    with r.connect(mgw, "alice") as c:
        rows = c.execute(UNTRACEABLE[0][1]).fetchall()
        assert [x[0] for x in rows] == [1, 2, 3, 4]
        assert [x[1] for x in rows[:3]] == ["***"] * 3, rows
        assert rows[3][1] in (None, "***")
        srf = c.execute(UNTRACEABLE[1][1]).fetchall()
        assert len(srf) == N_ROWS
        assert all(x[0] in (None, "***") for x in srf), srf
    r.assert_clean("alice", "untraceable, mask")


@pytest.mark.parametrize("case", UNTRACEABLE, ids=[c[0] for c in UNTRACEABLE])
def test_untraceable_columns_are_refused_with_on_untraceable_deny(deny_gw, relay, case):
    r = relay(deny_gw)
    with r.connect(deny_gw, "alice") as c:
        with pytest.raises(psycopg.Error) as ei:
            c.execute(case[1]).fetchall()
        e = ei.value
        assert e.sqlstate and e.sqlstate.startswith("42"), (e.sqlstate, str(e))
        assert "mask" in (e.diag.message_primary or "").lower() + (e.diag.message_hint or "").lower() + \
            (e.diag.message_detail or "").lower(), str(e)
        # The session goes on; traceable statements are masked as usual.
        rows = select_all(c)
        check_rows(rows, "alice", "deny gateway, traceable")
        assert c.execute("SELECT id, note FROM mcust ORDER BY id").fetchall()[0] == (1, "plain note one")
    r.assert_clean("alice", f"untraceable, deny {case[0]}")


# ---------------------------------------------------------------- unmasked tables

def _raw_exchange(params, send: bytes) -> list:
    conn = pgwire.connect(params)
    try:
        conn.send(send)
        out = []
        while True:
            tag, body = conn.read_msg()
            if tag in (b"T", b"D", b"C", b"E", b"1", b"2", b"n"):
                out.append((tag, body))
            if tag == b"Z":
                return out
    finally:
        conn.close()


def _extended_binary(sql: str) -> bytes:
    m = pgwire.msg
    return (m(b"P", b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))
            + m(b"B", b"\0\0" + struct.pack("!hhh", 0, 0, 1) + struct.pack("!h", 1))
            + m(b"D", b"P\0") + m(b"E", b"\0" + struct.pack("!i", 0)) + m(b"S"))


@pytest.mark.parametrize("fmt", ["text", "binary"])
def test_unmasked_table_passes_byte_for_byte(mgw, relay, pg, fmt):
    """A table no rule names comes through exactly as PostgreSQL sends it,
    RowDescription and every DataRow byte, for a masked subject."""
    sql = "SELECT * FROM mplain ORDER BY id"
    send = pgwire.query(sql) if fmt == "text" else _extended_binary(sql)
    r = relay(mgw)
    via = _raw_exchange(r.params(mgw, "alice"), send)
    direct = _raw_exchange(pg.params("gw_scram", "app"), send)
    assert sum(1 for t, _ in direct if t == b"D") == 20
    assert via == direct


# ---------------------------------------------------------------- audit

def _audit_events(gw) -> list:
    p = gw.workdir / "audit.jsonl"
    lines = p.read_text().splitlines() if p.exists() else []
    return [json.loads(ln)["record"] for ln in lines if ln.strip()]


def test_audit_event_lists_the_masked_columns(mgw, relay):
    """The statement's audit event says which columns were masked, by which
    rule, and how many cells; the audit trail holds no raw value."""
    marker = f"audit_probe_{secrets.token_hex(4)}"
    sql = f"SELECT id, email, ssn, lower(email) AS {marker}, note FROM mcust ORDER BY id"
    r = relay(mgw)
    with r.connect(mgw, "alice") as c:
        assert len(c.execute(sql).fetchall()) == N_ROWS
    r.assert_clean("alice", "audit probe")

    def find():
        got = [e for e in _audit_events(mgw) if marker in (e.get("statement") or "")]
        return got or None
    ev = wait_for(find, 10, "the probe's audit event")[0]
    masked = {(m["column"], m["rule"]): m["cells"] for m in ev["masked"]}
    non_null = sum(1 for i in RAW if RAW[i]["email"] is not None)
    # email (plain: the email function) and lower(email) (computed: redacted
    # under the same rule) both come from public.mcust.email.
    assert masked.get(("public.mcust.email", "mask[0]")) == 2 * non_null, ev["masked"]
    assert masked.get(("public.mcust.ssn", "mask[1]")) == \
        sum(1 for i in RAW if RAW[i]["ssn"] is not None), ev["masked"]
    # note has no column rule: only the detectors touch it (rows 2 and 3).
    assert {rule for col, rule in masked if "note" in col} <= {"mask[7]:email", "mask[7]:credit_card"}
    assert sum(n for (col, _), n in masked.items() if "note" in col) == 2, ev["masked"]
    blob = (mgw.workdir / "audit.jsonl").read_bytes()
    assert_no_leak(blob, markers_for("alice"), "audit trail")


def test_audit_keeps_no_value_bound_to_a_masked_table(mgw, relay):
    """With `parameters: full`, a statement on a table with masked columns is
    recorded as with `redacted` (normalized text, parameters redacted); a
    statement on other tables keeps its values."""
    email = f"bound.{secrets.token_hex(4)}@example.com"
    label = f"label-{secrets.token_hex(4)}"
    r = relay(mgw)
    with r.connect(mgw, "bob", autocommit=False) as c:
        c.execute("INSERT INTO mcust (id, email) VALUES (%s, %s)", (60, email))
        c.execute(f"UPDATE mcust SET note = 'x' WHERE email = '{email}'")
        c.execute("UPDATE mplain SET label = %s WHERE id = 1", (label,))
        c.rollback()

    def find():
        evs = [e for e in _audit_events(mgw) if e.get("subject_id") == "bob"
               and e.get("type") == "statement" and "mplain" in (e.get("statement") or "")]
        return evs or None
    wait_for(find, 10, "bob's mplain update in the audit trail")
    blob = (mgw.workdir / "audit.jsonl").read_text()
    assert email not in blob and email.split("@")[0] not in blob
    bob = [e for e in _audit_events(mgw) if e.get("subject_id") == "bob"]
    insert = [e for e in bob if (e.get("statement") or "").startswith("INSERT INTO mcust (id, email) VALUES")]
    assert insert and insert[-1]["parameters"] == ["<redacted>", "<redacted>"], insert
    update = [e for e in bob if "UPDATE mcust SET note" in (e.get("statement") or "")]
    assert update and "$" in update[-1]["statement"], update
    plain = [e for e in bob if "UPDATE mplain" in (e.get("statement") or "")]
    assert plain[-1]["parameters"] == [label], plain


# ---------------------------------------------------------------- errors that echo values

ECHO_CASES = [
    ("json", "SELECT email::json FROM mcust ORDER BY id"),
    ("jsonb", "SELECT (ssn || '}')::jsonb FROM mcust ORDER BY id"),
    ("int", "SELECT ssn::int FROM mcust ORDER BY id"),
    ("numeric", "SELECT card::numeric FROM mcust ORDER BY id"),
    ("date", "SELECT phone::date FROM mcust ORDER BY id"),
    ("uuid", "SELECT email::uuid FROM mcust ORDER BY id"),
    ("inet", "SELECT ssn::inet FROM mcust ORDER BY id"),
    ("xml", "SELECT xmlparse(document email) FROM mcust ORDER BY id"),
    ("regexp", "SELECT regexp_match('x', email) FROM mcust ORDER BY id"),
    ("where_only", "SELECT id FROM mcust WHERE ssn::int > 0"),
    ("raise", "SELECT public.mraise(ssn) FROM mcust ORDER BY id"),
    ("raise_notice", "SELECT public.mnotice(ssn || ' ' || phone) FROM mcust ORDER BY id"),
]


@pytest.mark.parametrize("case", ECHO_CASES, ids=[c[0] for c in ECHO_CASES])
def test_errors_that_quote_a_masked_value_are_redacted(mgw, relay, case):
    """A cast or function that fails on a masked value quotes it in the
    message, detail or context; none of it reaches the client."""
    r = relay(mgw)
    with r.connect(mgw, "alice") as c:
        try:
            c.execute(case[1]).fetchall()
        except psycopg.Error as e:
            assert e.sqlstate and e.sqlstate[:2] in ("22", "P0"), (e.sqlstate, str(e))
        # The session goes on.
        assert c.execute("SELECT count(*) FROM mcust").fetchone() == (N_ROWS,)
    r.assert_clean("alice", f"error echo {case[0]}")


def test_foreign_key_detail_naming_another_table_is_redacted(mgw, relay, pg):
    """A delete blocked by a reference: PostgreSQL names the referencing
    table, but the key in the detail is the masked column's value."""
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as d:
        d.execute("CREATE UNIQUE INDEX mcust_ssn_key ON mcust (ssn)")
        d.execute("CREATE TABLE mref (ssn varchar(11) REFERENCES mcust (ssn))")
        d.execute("INSERT INTO mref VALUES (%s)", (RAW[1]["ssn"],))
    try:
        r = relay(mgw)
        with r.connect(mgw, "bob") as c:
            # The gateway's catalog knows mref (and that it has no rule).
            assert c.execute("SELECT count(*) FROM mref").fetchone() == (1,)
            with pytest.raises(psycopg.errors.ForeignKeyViolation) as ei:
                c.execute("DELETE FROM mcust WHERE id = 1")
            detail = ei.value.diag.message_detail or ""
            assert detail.startswith("Key (ssn)=("), detail
            assert c.execute("SELECT 1").fetchone() == (1,)
        r.assert_clean("bob", "foreign key violation")
    finally:
        with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as d:
            d.execute("DROP TABLE IF EXISTS mref")
            d.execute("DROP INDEX IF EXISTS mcust_ssn_key")


WRITE_REFUSED = [
    ("insert_select", "INSERT INTO mplain (id, label) SELECT 100 + id, email FROM mcust"),
    ("update_subquery", "UPDATE mplain SET label = (SELECT ssn FROM mcust WHERE id = 1) WHERE id = 1"),
    ("same_table_uncovered", "UPDATE mcust SET note = email WHERE id = 1"),
    ("expression", "UPDATE mcust SET note = 'x' || reverse(card) WHERE id = 1"),
    ("whole_row", "INSERT INTO mplain (id, label) SELECT 100 + id, m::text FROM mcust m"),
    ("cte", "WITH s AS (SELECT id, phone FROM mcust) INSERT INTO mplain (id, label) "
     "SELECT 300 + id, phone FROM s"),
    ("upsert", "INSERT INTO mplain (id, label) VALUES (1, 'x') ON CONFLICT (id) DO UPDATE "
     "SET label = (SELECT email FROM mcust WHERE id = 1)"),
    ("merge", "MERGE INTO mplain p USING mcust m ON p.id = m.id WHEN MATCHED THEN UPDATE SET label = m.email"),
    # card keeps its last 4 characters: ssn's would show.
    ("weaker_rule", "UPDATE mcust SET card = ssn WHERE id = 1"),
]


@pytest.mark.parametrize("case", WRITE_REFUSED, ids=[c[0] for c in WRITE_REFUSED])
def test_copying_a_masked_value_where_no_rule_covers_it_is_refused(mgw, relay, pg, case):
    """A subject with write access could copy a masked value into a column
    no rule covers and read it back raw: such statements are refused."""
    r = relay(mgw)
    with r.connect(mgw, "bob", autocommit=False) as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as ei:
            c.execute(case[1])
        assert "no masking rule covers for you as well" in str(ei.value), str(ei.value)
        c.rollback()
        # Writes that keep values covered, or store no masked value, run.
        c.execute("UPDATE mcust SET email = lower(email), ssn = left(card, 11) WHERE id = 1")
        c.execute("INSERT INTO mplain (id, label) VALUES (500, 'x')")
        c.rollback()
    r.assert_clean("bob", f"write refused {case[0]}")
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as d:
        assert d.execute("SELECT count(*) FROM mplain WHERE id > 20").fetchone() == (0,)



@pytest.mark.parametrize("sql", [
    "CREATE TABLE mleak AS SELECT id, email FROM mcust",
    "CREATE TABLE mleak (a, b) AS SELECT id, ssn FROM mcust",
    "SELECT card INTO TEMP mleak FROM mcust",
    "CREATE MATERIALIZED VIEW mleak AS SELECT phone FROM mcust",
], ids=["ctas", "ctas_columns", "select_into", "matview"])
def test_a_new_table_cannot_take_masked_values(mgw, relay, pg, sql):
    """With DDL access, CREATE TABLE AS / SELECT INTO would store masked
    values in a table no rule covers: refused, like any such write."""
    r = relay(mgw)
    with r.connect(mgw, "frank") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as ei:
            c.execute(sql)
        assert "no masking rule covers" in str(ei.value), str(ei.value)
        c.execute("CREATE TEMP TABLE mfine AS SELECT id, note FROM mcust")
        assert c.execute("SELECT count(*) FROM mfine").fetchone() == (N_ROWS,)
    r.assert_clean("alice", "create table as")
    with psycopg.connect(pg.dsn("gw_scram", "app"), autocommit=True) as d:
        assert d.execute("SELECT to_regclass('public.mleak')").fetchone() == (None,)
