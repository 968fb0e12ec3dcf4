"""asyncpg (binary format, named prepared statements, COPY) through the
gateway gives what it gives against PostgreSQL."""

import asyncio
import datetime
import decimal
import io

import asyncpg

from samples import TYPES_SQL

# asyncpg has no codec for these; leave them out of its type sweep.
_NO_CODEC = ("mon", "x", "tsq")


def _types_sql():
    return TYPES_SQL.replace("(g * 12.34)::money AS mon,", "").replace(
        "'<x a=\"1\"/>'::xml AS x, 'a & b'::tsquery AS tsq,", "")


async def _connect(params):
    return await asyncpg.connect(host=params["host"], port=params["port"], user=params["user"],
                                 password=params["password"], database=params["dbname"],
                                 ssl=False, timeout=10, command_timeout=60)


def both(pg, gw, coro_fn):
    async def one(params):
        c = await _connect(params)
        try:
            return await coro_fn(c)
        finally:
            await c.close(timeout=10)
    return (asyncio.run(one(pg.params())), asyncio.run(one(gw.params())))


def test_fetch_many_types_equal_direct(gw, pg):
    q = _types_sql()
    for name in _NO_CODEC:
        assert f" AS {name}," not in q

    async def go(c):
        rows = await c.fetch(q)
        stmt = await c.prepare("SELECT $1::int8 + 1, $2::text || '!', $3::numeric * 2, $4::timestamptz, "
                               "$5::int4[], $6::bytea, $7::jsonb")
        args = (2**40, "ü", decimal.Decimal("1.25"),
                datetime.datetime(2021, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc), [1, None, 3],
                b"\x00\xff", '{"k": [1, 2]}')
        prepared = [await stmt.fetchrow(*args) for _ in range(3)]
        return ([tuple(r.items()) for r in rows], [tuple(r) for r in prepared])
    direct, via = both(pg, gw, go)
    assert len(direct[0]) == 5 and len(direct[0][0]) > 35
    assert repr(via) == repr(direct)


def test_executemany_and_transactions(gw, pg):
    async def go(c):
        await c.execute("CREATE TEMP TABLE em (id int PRIMARY KEY, t text, v numeric)")
        await c.executemany("INSERT INTO em VALUES ($1, $2, $3)",
                            [(i, f"t{i}", decimal.Decimal(i) / 4) for i in range(1000)])
        async with c.transaction():
            await c.execute("UPDATE em SET t = upper(t) WHERE id < 10")
        try:
            async with c.transaction():
                await c.execute("DELETE FROM em")
                await c.execute("SELECT 1/0")
        except asyncpg.DivisionByZeroError:
            pass
        tr = c.transaction()
        await tr.start()
        await c.execute("INSERT INTO em VALUES (5000, 'rolled back', 0)")
        await tr.rollback()
        async with c.transaction():
            async with c.transaction():  # savepoint
                await c.execute("INSERT INTO em VALUES (6000, 'savepoint', 1)")
        dup = None
        try:
            await c.execute("INSERT INTO em VALUES (1, 'dup', 0)")
        except asyncpg.UniqueViolationError as e:
            dup = (e.sqlstate, e.detail, e.constraint_name)
        rows = await c.fetch("SELECT * FROM em ORDER BY id")
        return [tuple(r) for r in rows], dup
    direct, via = both(pg, gw, go)
    assert len(direct[0]) == 1001 and direct[0][3][1] == "T3"
    assert direct[1][0] == "23505"
    assert via == direct


def test_copy_records_and_copy_from_query(gw, pg):
    records = [(i, f"r{i}", datetime.date(2024, 1, 1) + datetime.timedelta(days=i % 400),
                None if i % 9 == 0 else i * 0.5) for i in range(5000)]

    async def go(c):
        await c.execute("CREATE TEMP TABLE cr (id int, t text, d date, f float8)")
        res = await c.copy_records_to_table("cr", records=records)
        out = io.BytesIO()
        res2 = await c.copy_from_query("SELECT * FROM cr WHERE id % 2 = 0 ORDER BY id",
                                       output=out, format="csv")
        rows = await c.fetch("SELECT * FROM cr ORDER BY id")
        return res, res2, out.getvalue(), [tuple(r) for r in rows]
    direct, via = both(pg, gw, go)
    assert direct[0] == "COPY 5000" and direct[3] == records
    assert via == direct


def test_cursor_iteration(gw, pg):
    async def go(c):
        out = []
        async with c.transaction():
            async for r in c.cursor("SELECT g, md5(g::text) FROM generate_series(1, 2500) g",
                                    prefetch=100):
                out.append(tuple(r))
            cur = await c.cursor("SELECT g FROM generate_series(1, 100) g")
            await cur.forward(10)
            chunk = await cur.fetch(5)
        return out, [tuple(r) for r in chunk]
    direct, via = both(pg, gw, go)
    assert len(direct[0]) == 2500 and direct[1] == [(11,), (12,), (13,), (14,), (15,)]
    assert via == direct
