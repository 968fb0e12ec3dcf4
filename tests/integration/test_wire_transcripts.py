"""Byte-level transcripts: the same frontend bytes sent through the gateway
and directly must produce the same backend messages (type and body) —
pipelined extended protocol, errors skipping to Sync, Flush, PortalSuspended,
COPY in both protocols, CopyFail, ParameterStatus from SET."""

import struct

import pytest

import pgwire
from pgwire import cstr, msg


# ---------------------------------------------------------------- frontend messages

def P(name, sql, types=()):
    return msg(b"P", cstr(name) + cstr(sql) + struct.pack("!h", len(types))
               + b"".join(struct.pack("!I", t) for t in types))


def B(portal, stmt, params=(), result_formats=()):
    body = cstr(portal) + cstr(stmt) + struct.pack("!h", 0) + struct.pack("!h", len(params))
    for p in params:
        body += struct.pack("!i", -1) if p is None else struct.pack("!i", len(p)) + p
    body += struct.pack("!h", len(result_formats)) + b"".join(struct.pack("!h", f) for f in result_formats)
    return msg(b"B", body)


def D(kind, name):
    return msg(b"D", kind + cstr(name))


def E(portal, max_rows=0):
    return msg(b"E", cstr(portal) + struct.pack("!i", max_rows))


def C(kind, name):
    return msg(b"C", kind + cstr(name))


S = msg(b"S")
H = msg(b"H")


def Q(sql):
    return pgwire.query(sql)


def d(data):
    return msg(b"d", data)


CD = msg(b"c")


def f(reason):
    return msg(b"f", cstr(reason))


# A case is a list of steps: (bytes to send in one write, read until this many
# ReadyForQuery — or until a message of this type when given as bytes).
CASES = {
    "pipelined_extended": [
        (P("s1", "SELECT $1::int + 1 AS n, $2::text AS t") + D(b"S", "s1") + B("p1", "s1", [b"41", b"x"])
         + D(b"P", "p1") + E("p1") + S
         + P("", "SELECT generate_series(1, 5) AS g") + B("", "") + E("", 2) + E("", 2) + E("", 0) + S
         + C(b"S", "s1") + S
         + B("", "s1", [b"1", b"y"]) + E("") + S
         + P("s2", "SELECT 'after error'") + B("", "s2") + E("") + S, 5),
    ],
    "error_skips_to_sync_and_rolls_back": [
        (Q("CREATE TEMP TABLE t (i int)"), 1),
        (P("", "INSERT INTO t VALUES (1)") + B("", "") + E("")
         + P("", "SELECT 1/0") + B("", "") + E("")
         + P("", "INSERT INTO t VALUES (2)") + B("", "") + E("") + S
         + Q("SELECT count(*) FROM t"), 2),
    ],
    "flush_without_sync": [
        (P("fl", "SELECT 'flushed'") + B("", "fl") + D(b"P", "") + E("") + H, b"C"),
        (S, 1),
    ],
    "describe_param_types_and_binary_results": [
        (P("st", "SELECT $1 AS a, $2::int8 AS b, now() IS NOT NULL AS c", [25, 0]) + D(b"S", "st") + S, 1),
        (B("pt", "st", [b"hello", b"7"], [1]) + D(b"P", "pt") + E("pt") + S, 1),
        (B("pt2", "st", [None, b"-9"], [0, 1, 0]) + E("pt2") + C(b"P", "pt2") + S, 1),
    ],
    "simple_query_edges": [
        (Q("SELECT 1 AS one; SELECT 1/0; SELECT 2 AS never"), 1),
        (Q(""), 1),
        (Q(";"), 1),
        (Q("BEGIN; SELECT 1/0"), 1),
        (Q("SELECT 'aborted'"), 1),
        (Q("COMMIT"), 1),
        (Q("SET DateStyle = 'German'; SHOW DateStyle"), 1),
        (Q("SET application_name = 'set-by-client'"), 1),
        (Q("DO $$ BEGIN RAISE WARNING 'w %', 1; RAISE NOTICE 'n'; END $$"), 1),
        (Q("SELECT 'one write'") + Q("SELECT 'two queries'"), 2),
    ],
    "two_thousand_queries_in_one_write": [
        (b"".join(Q(f"SELECT {i}, repeat('q', {i % 300})") for i in range(2000)), 2000),
    ],
    "copy_simple_protocol": [
        (Q("CREATE TEMP TABLE c (i int, t text)"), 1),
        (Q("COPY c FROM STDIN") + d(b"1\ta\n") + d(b"2\tb\n3\t") + d(b"c\n") + CD, 1),
        (Q("COPY c FROM STDIN") + d(b"4\td\n") + f("client gave up"), 1),
        (Q("COPY c FROM STDIN") + d(b"not a number\tx\n") + CD, 1),
        (Q("COPY c TO STDOUT; SELECT count(*) FROM c"), 1),
        (Q("COPY (SELECT i FROM c ORDER BY i) TO STDOUT (FORMAT binary)"), 1),
    ],
    "copy_extended_protocol": [
        (Q("CREATE TEMP TABLE ce (i int)"), 1),
        (P("", "COPY ce FROM STDIN") + B("", "") + E("") + d(b"1\n2\n") + CD + S, 1),
        (P("", "COPY ce TO STDOUT") + B("", "") + E("") + S, 1),
    ],
    "sync_only_and_unknown_statement": [
        (S + S, 2),
        (B("", "no_such_statement") + E("") + S, 1),
        (D(b"S", "nope") + S, 1),
        (C(b"S", "never_existed") + C(b"P", "nor_this") + S, 1),
    ],
}


def transcript(params, steps):
    out = []
    with pgwire.connect(params) as c:
        for data, until in steps:
            c.send(data)
            z = 0
            while True:
                tag, body = c.read_msg(15)
                out.append((tag, body))
                if tag == b"Z":
                    z += 1
                    if isinstance(until, int) and z == until:
                        break
                elif isinstance(until, bytes) and tag == until:
                    break
        c.send(pgwire.terminate())
    return out


@pytest.mark.parametrize("case", list(CASES))
def test_transcript_equals_direct(gw, pg, case):
    direct = transcript(pg.params(), CASES[case])
    via = transcript(gw.params(), CASES[case])
    assert len(direct) > 3
    for i, (a, b) in enumerate(zip(via, direct)):
        assert a == b, f"message {i} differs: gateway {a!r} vs direct {b!r}"
    assert len(via) == len(direct)
