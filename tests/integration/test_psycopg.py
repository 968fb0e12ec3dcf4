"""psycopg 3 through the gateway gives what it gives against PostgreSQL:
text and binary results, executemany, pipeline mode, COPY, server-side
cursors, large streamed results, cancel."""

import hashlib
import threading
import time

import psycopg
import pytest
from psycopg import sql

from harness import active_queries, marker, wait_for
from samples import TYPES_SQL


def both(pg, gw, fn, **kw):
    out = {}
    for name, dsn in (("direct", pg.dsn(**kw)), ("gateway", gw.dsn(**kw))):
        with psycopg.connect(dsn, autocommit=True) as c:
            out[name] = fn(c)
    return out["direct"], out["gateway"]


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_many_types_equal_direct(gw, pg, binary):
    def fetch(c):
        cur = c.cursor(binary=binary)
        cur.execute(TYPES_SQL)
        desc = [(d.name, d.type_code) for d in cur.description]
        return desc, repr(cur.fetchall())
    direct, via = both(pg, gw, fetch)
    assert len(direct[0]) > 40
    assert via == direct


def test_binary_parameters_round_trip(gw, pg):
    import datetime
    import decimal
    import uuid
    params = (2**62, "ünïcode", b"\x00\x01\xff", decimal.Decimal("-1.000001"),
              datetime.datetime(2020, 5, 17, 1, 2, 3, 456789, tzinfo=datetime.timezone.utc),
              uuid.UUID("12345678-1234-5678-1234-567812345678"), [1, None, 3], None, True, 3.25)
    q = "SELECT %b, %b, %b, %b, %b, %b, %b::int4[], %b::text, %b, %b"

    def go(c):
        return repr(c.cursor(binary=True).execute(q, params).fetchone())
    direct, via = both(pg, gw, go)
    assert via == direct


def test_executemany(gw, pg):
    rows = [(i, f"name {i}", i * 1.5 if i % 3 else None) for i in range(500)]

    def go(c):
        t = sql.Identifier(f"psy_em_{marker()}")
        c.execute(sql.SQL("CREATE TABLE {} (id int PRIMARY KEY, name text, v float8)").format(t))
        try:
            c.cursor().executemany(sql.SQL("INSERT INTO {} VALUES (%s, %s, %s)").format(t), rows)
            cur = c.cursor()
            cur.executemany(sql.SQL("UPDATE {} SET name = upper(name) WHERE id = %s").format(t),
                            [(i,) for i in range(0, 500, 7)])
            got = c.execute(sql.SQL("SELECT * FROM {} ORDER BY id").format(t)).fetchall()
            # Committed: another session sees the rows directly on PostgreSQL.
            with psycopg.connect(pg.dsn("tester", "app")) as d:
                seen = d.execute(sql.SQL("SELECT count(*), count(*) FILTER (WHERE name LIKE 'NAME%%') "
                                         "FROM {}").format(t)).fetchone()
            assert seen == (500, 72)
            return got
        finally:
            c.execute(sql.SQL("DROP TABLE {}").format(t))
    direct, via = both(pg, gw, go)
    assert len(direct) == 500 and direct[7][1] == "NAME 7"
    assert via == direct


def test_pipeline_mode(gw, pg):
    def go(c):
        c.execute("CREATE TEMP TABLE pl (id int PRIMARY KEY, v text)")
        with c.pipeline():
            curs = [c.execute("SELECT %s::int * 2, %s::text", (i, f"r{i}")) for i in range(100)]
            for i in range(100):
                c.execute("INSERT INTO pl VALUES (%s, %s)", (i, f"v{i}"))
            upd = c.execute("UPDATE pl SET v = v || '!' WHERE id % 10 = 0 RETURNING id")
            cnt = c.execute("SELECT count(*), max(v) FROM pl")
        return ([cur.fetchall() for cur in curs], sorted(upd.fetchall()), cnt.fetchall(),
                upd.rowcount, upd.statusmessage)
    direct, via = both(pg, gw, go)
    assert direct[2] == [(100, "v99")]
    assert via == direct


def test_error_inside_pipeline_leaves_connection_usable(gw, pg):
    def go(c):
        c.execute("CREATE TEMP TABLE pe (id int)")
        err = None
        try:
            with c.pipeline():
                c.execute("INSERT INTO pe VALUES (1)")
                c.execute("SELECT 1/0")
                c.execute("INSERT INTO pe VALUES (2)")
        except psycopg.Error as e:
            err = (type(e).__name__, e.sqlstate)
        after = c.execute("SELECT count(*) FROM pe").fetchone()
        with c.pipeline():
            ok = c.execute("SELECT 'usable'")
        return err, after, ok.fetchone(), c.info.transaction_status.name
    direct, via = both(pg, gw, go)
    assert direct[0] == ("DivisionByZero", "22012")
    assert via == direct


def test_copy_from_stdin_text_and_binary(gw, pg):
    import datetime
    rows = [(i, f"row {i}\twith tab" if i % 5 == 0 else f"row {i}", bytes([i % 256, 0, 255]),
             datetime.date(2024, 1, 1) + datetime.timedelta(days=i)) for i in range(2000)]

    def go(c):
        c.execute("CREATE TEMP TABLE ci (id int, t text, b bytea, d date)")
        cur = c.cursor()
        with cur.copy("COPY ci FROM STDIN") as cp:
            for r in rows[:1000]:
                cp.write_row(r)
        with cur.copy("COPY ci FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "text", "bytea", "date"])
            for r in rows[1000:]:
                cp.write_row(r)
        return c.execute("SELECT * FROM ci ORDER BY id").fetchall()
    direct, via = both(pg, gw, go)
    assert direct == rows
    assert via == direct


@pytest.mark.parametrize("fmt", ["text", "csv", "binary"])
def test_copy_to_stdout(gw, pg, fmt):
    q = (f"COPY (SELECT g, md5(g::text), g * 1.5, now()::date - g, ARRAY[g, NULL] "
         f"FROM generate_series(1, 20000) g) TO STDOUT (FORMAT {fmt})")

    def go(c):
        buf = bytearray()
        with c.cursor().copy(q) as cp:
            for chunk in cp:
                buf += chunk
        return bytes(buf)
    direct, via = both(pg, gw, go)
    assert len(direct) > 400_000
    assert via == direct


def test_server_side_cursor(gw, pg):
    def go(c):
        with c.transaction():
            cur = c.cursor("ssc", scrollable=True)
            cur.itersize = 333
            cur.execute("SELECT g, repeat('y', g % 50) FROM generate_series(1, 3000) g ORDER BY g")
            first = cur.fetchmany(10)
            rest = list(cur)
            cur.scroll(5, mode="absolute")
            again = cur.fetchone()
            cur.close()
        return first, len(rest), rest[-1], again
    direct, via = both(pg, gw, go)
    assert direct[1] == 2990 and direct[3][0] == 6
    assert via == direct


def test_large_result_streamed_with_server_side_cursor(gw, pg):
    q = ("SELECT g, md5(g::text) || repeat('z', 160) || g FROM generate_series(1, 200000) g")

    def go(c):
        h = hashlib.sha256()
        n = 0
        with c.transaction():
            cur = c.cursor("big")
            cur.itersize = 5000
            cur.execute(q)
            for row in cur:
                h.update(repr(row).encode())
                n += 1
        return n, h.hexdigest()
    direct, via = both(pg, gw, go)
    assert direct[0] == 200_000
    assert via == direct


@pytest.mark.parametrize("attempt", range(3))  # sessions and cancels land on either worker
def test_cancel_running_query(gw, pg, attempt):
    m = marker()
    results = {}
    with gw.connect() as c:
        def run():
            t0 = time.monotonic()
            try:
                c.execute(f"SELECT pg_sleep(30) /* {m} */")
                results["outcome"] = "completed"
            except psycopg.Error as e:
                results["outcome"] = (type(e).__name__, e.sqlstate)
            results["elapsed"] = time.monotonic() - t0
        th = threading.Thread(target=run, daemon=True)
        th.start()
        wait_for(lambda: active_queries(pg, m), 15, "pg_sleep(30) upstream")
        c.cancel()
        th.join(20)
        assert not th.is_alive(), "the cancelled query did not return"
        assert results["outcome"] == ("QueryCanceled", "57014")
        assert results["elapsed"] < 15
        assert c.execute("SELECT 'after cancel'").fetchone() == ("after cancel",)
    assert not active_queries(pg, m)


@pytest.mark.parametrize("binary", [False, True], ids=["text", "binary"])
def test_large_values_both_directions(gw, pg, binary):
    """~20 MB DataRow from the server, ~16 MB Bind from the client."""
    blob = bytes(range(256)) * (8 * 1024 * 1024 // 256)
    text = "é" * (4 * 1024 * 1024)

    def go(c):
        cur = c.cursor(binary=binary)
        row = cur.execute("SELECT repeat('ü', 10000000), decode(repeat('00ff', 2500000), 'hex'), "
                          "%s::bytea, length(%s::text), md5(%s::bytea)", (blob, text, blob)).fetchone()
        return [hashlib.sha256(v if isinstance(v, bytes) else str(v).encode()).hexdigest()
                for v in row] + [len(row[0]), len(row[1]), len(row[2])]
    direct, via = both(pg, gw, go)
    assert direct[-3:] == [10_000_000, 5_000_000, len(blob)]
    assert via == direct


def test_error_in_the_middle_of_a_result(gw, pg):
    def go(c):
        try:
            c.execute("SELECT CASE WHEN g = 50000 THEN 1 / 0 ELSE g END, repeat('r', 100) "
                      "FROM generate_series(1, 100000) g").fetchall()
            err = None
        except psycopg.Error as e:
            err = (type(e).__name__, e.sqlstate)
        return err, c.execute("SELECT 'usable'").fetchone()
    direct, via = both(pg, gw, go)
    assert direct == (("DivisionByZero", "22012"), ("usable",))
    assert via == direct


def test_copy_aborted_by_the_client(gw, pg):
    class Abort(Exception):
        pass

    def go(c):
        c.execute("CREATE TEMP TABLE ca (id int)")
        err = None
        try:
            with c.cursor().copy("COPY ca FROM STDIN") as cp:
                for i in range(1000):
                    cp.write_row((i,))
                raise Abort()
        except psycopg.Error as e:  # CopyFail sent; the server answers 57014
            err = (type(e).__name__, e.sqlstate)
        return err, c.execute("SELECT count(*) FROM ca").fetchone(), c.info.transaction_status.name
    direct, via = both(pg, gw, go)
    assert direct == (("QueryCanceled", "57014"), (0,), "IDLE")
    assert via == direct


def test_many_concurrent_sessions(gw, pg):
    n_clients, n_queries = 40, 25
    errors, results = [], {}

    def client(i):
        try:
            with gw.connect() as c:
                out = []
                for q in range(n_queries):
                    out.append(c.execute("SELECT %s::int * 1000 + %s::int, pg_backend_pid()",
                                         (i, q)).fetchone()[0])
                    if q % 10 == 0:
                        c.execute("SELECT pg_sleep(0.01)")
                results[i] = out
        except Exception as e:  # reported below
            errors.append(f"client {i}: {e!r}")
    threads = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    assert results == {i: [i * 1000 + q for q in range(n_queries)] for i in range(n_clients)}
