"""SQL shared by several client tests."""

# One row per g of (almost) every built-in type a driver meets.
TYPES_SQL = r"""
SELECT g AS n,
       g::int2 AS i2, (g * 100000)::int4 AS i4, (g::int8 << 40) AS i8,
       (g * 12345.6789)::numeric(20,6) AS num, 'NaN'::numeric AS num_nan,
       (g / 3.0)::float4 AS f4, (g / 7.0)::float8 AS f8, 'Infinity'::float8 AS f8_inf,
       g % 2 = 0 AS b, 'text ü€ ' || g AS t, ('vc' || g)::varchar(10) AS vc, 'ch'::char(4) AS ch,
       decode(lpad(to_hex(g * 4095), 6, '0') || '00ff', 'hex') AS ba,
       date '2024-02-29' + g AS d, time '13:14:15.123456' AS tm, timetz '13:14:15+02' AS tmtz,
       timestamp '2024-02-29 13:14:15.5' + g * interval '1 hour' AS ts,
       timestamptz '2024-02-29 13:14:15.5+05' + g * interval '1 day' AS tstz,
       interval '1 year 2 mons 3 days 04:05:06.7' * g AS iv,
       ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a' || lpad(g::text, 2, '0'))::uuid AS u,
       json_build_object('a', json_build_array(g, 2.5, NULL)) AS js,
       jsonb_build_object('b', jsonb_build_object('c', g > 1)) AS jsb,
       ARRAY[g, 2, NULL]::int4[] AS arr_i4, ARRAY['x', 'y z', '"q"', NULL]::text[] AS arr_t,
       ARRAY[[g, 2], [3, 4]]::int8[] AS arr_2d, ARRAY[1.5, g]::numeric[] AS arr_num,
       ('192.168.0.' || g || '/24')::inet AS ip, '10.0.0.0/8'::cidr AS net,
       '08:00:2b:01:02:03'::macaddr AS mac, int4range(g, 10) AS rng, point(g, 2.5) AS pt,
       NULL::text AS nul, 'hello'::name AS nm, (g * 12.34)::money AS mon, 'pg_class'::regclass AS rc,
       (42 + g)::oid AS o, B'1010' AS bits, '<x a="1"/>'::xml AS x, 'a & b'::tsquery AS tsq,
       tstzrange('2024-01-01', '2024-02-01') AS tsr
FROM generate_series(1, 5) g
"""
