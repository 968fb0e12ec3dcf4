'use strict';
// Drives PostgreSQL through node-postgres and prints one JSON document, so a
// run through pgwarden can be compared with a run against the server.
// Usage: node check.js '{"host":...,"port":...,"user":...,"password":...,"database":...}'
const { Client } = require('pg');

function result(r) {
  return {
    command: r.command,
    rowCount: r.rowCount,
    fields: r.fields.map((f) => [f.name, f.dataTypeID, f.format]),
    rows: r.rows,
  };
}

async function expectError(client, q, values) {
  try {
    await client.query(q, values);
    return { error: null };
  } catch (e) {
    return { code: e.code, severity: e.severity, message: e.message, detail: e.detail, position: e.position };
  }
}

async function main() {
  const cfg = JSON.parse(process.argv[2]);
  const client = new Client({ ...cfg, ssl: false, connectionTimeoutMillis: 10000, statement_timeout: 60000 });
  const notices = [];
  client.on('notice', (n) => notices.push([n.severity, n.code, n.message]));
  await client.connect();
  const out = {};
  try {
    out.types = result(await client.query(
      `SELECT 1::int2 AS i2, 2147483647::int4 AS i4, 9007199254740993::int8 AS i8,
              12345.678901::numeric AS num, 1.5::float4 AS f4, 0.1::float8 AS f8,
              true AS b, 'tëxt'::text AS t, NULL::text AS nul, '2024-02-29'::date AS d,
              '2024-02-29 13:14:15.123+02'::timestamptz AS tstz, '2024-02-29 13:14:15'::timestamp AS ts,
              '{"a": [1, null]}'::json AS js, '{"b": 2}'::jsonb AS jsb, '\\x00ff'::bytea AS ba,
              ARRAY[1, 2, NULL]::int[] AS arr, ARRAY['a', 'b c']::text[] AS tarr,
              '1 day 02:03:04'::interval AS iv, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS u`));
    out.multi = (await client.query('SELECT 1 AS a; SELECT 2 AS b, 3 AS c; SELECT')).map(result);
    out.params = result(await client.query(
      'SELECT $1::int + 1 AS n, $2::text AS t, $3::jsonb AS j, $4::bytea AS b, $5::text IS NULL AS isnull, $6::timestamptz AS at',
      [41, 'x\'y"z', { k: [1, 2] }, Buffer.from([0, 1, 2]), null, new Date(Date.UTC(2020, 0, 2, 3, 4, 5))]));
    out.named = [];
    for (let i = 0; i < 3; i++) {
      out.named.push(result(await client.query({ name: 'square', text: 'SELECT $1::int * $1::int AS sq', values: [i + 7] })));
    }
    out.arrayMode = result(await client.query({ text: 'SELECT g, g * 2 FROM generate_series(1, 5) g', rowMode: 'array' }));
    out.many = result(await client.query('SELECT g, md5(g::text) FROM generate_series(1, 3000) g')).rowCount;

    await client.query('CREATE TEMP TABLE nt (id int PRIMARY KEY, v text)');
    await client.query('BEGIN');
    await client.query('INSERT INTO nt VALUES (1, $1)', ['rolled back']);
    await client.query('ROLLBACK');
    await client.query('BEGIN');
    await client.query('INSERT INTO nt VALUES (2, $1)', ['committed']);
    await client.query('INSERT INTO nt VALUES (3, $1)', ['committed too']);
    await client.query('COMMIT');
    await client.query('BEGIN');
    await client.query('INSERT INTO nt VALUES (4, $1)', ['doomed']);
    out.txError = await expectError(client, 'INSERT INTO nt VALUES (2, $1)', ['duplicate']);
    out.txAborted = await expectError(client, 'SELECT 1');
    out.commitOfFailed = (await client.query('COMMIT')).command;
    out.table = result(await client.query('SELECT * FROM nt ORDER BY id'));
    out.syntax = await expectError(client, 'SELEC 1');
    out.divZeroParams = await expectError(client, 'SELECT $1::int / 0', [1]);
    await client.query("DO $$ BEGIN RAISE NOTICE 'hello from node %', 1; END $$");
    out.after = result(await client.query('SELECT $1::text AS still', ['usable']));
  } finally {
    await client.end();
  }
  out.notices = notices;
  process.stdout.write(JSON.stringify(out, null, 1) + '\n');
}

main().catch((e) => {
  process.stderr.write(`check.js failed: ${e.stack || e}\n`);
  process.exit(1);
});
