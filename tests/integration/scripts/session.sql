-- A psql session run twice, through pgwarden and directly; outputs must match.
\pset pager off
\set VERBOSITY verbose
CREATE TEMP TABLE items (
    id int PRIMARY KEY,
    name text NOT NULL,
    price numeric(10,2),
    tags text[],
    created date DEFAULT '2024-01-01'
);
INSERT INTO items (id, name, price, tags) VALUES
    (1, 'apple', 1.50, '{fruit,red}'), (2, 'bread', 2.25, '{bakery}'), (3, 'cheese', 7.00, NULL);
SELECT * FROM items ORDER BY id;
UPDATE items SET price = price * 2 WHERE id = 2 RETURNING *;
DELETE FROM items WHERE id = 3;

-- a transaction rolled back
BEGIN;
INSERT INTO items (id, name) VALUES (10, 'rolled back');
SELECT count(*) AS inside_tx FROM items;
ROLLBACK;
SELECT count(*) AS after_rollback FROM items;

-- an error inside a transaction, then ROLLBACK
BEGIN;
INSERT INTO items (id, name) VALUES (11, 'doomed');
SELECT 1/0;
SELECT 'not run: transaction aborted';
ROLLBACK;
SELECT count(*) AS after_failed_tx FROM items;
BEGIN;
SELECT no_such_column FROM items;
COMMIT;
SELECT count(*) AS after_commit_of_failed_tx FROM items;

-- savepoints
BEGIN;
INSERT INTO items (id, name) VALUES (20, 'kept');
SAVEPOINT s1;
INSERT INTO items (id, name) VALUES (1, 'duplicate');
ROLLBACK TO SAVEPOINT s1;
INSERT INTO items (id, name) VALUES (21, 'kept too');
COMMIT;
SELECT id, name FROM items ORDER BY id;

-- errors with detail and hint
INSERT INTO items (id, name) VALUES (1, 'dup');
SELECT * FROM no_such_table;
SELEC 1;

-- COPY through the protocol, both directions
COPY items (id, name, price) FROM STDIN;
30	inline one	3.30
31	inline two	\N
\.
\copy items (id, name, price) FROM 'items_in.csv' WITH (FORMAT csv)
\copy items TO 'items_out.csv' WITH (FORMAT csv, HEADER)
\copy (SELECT id, name, tags FROM items ORDER BY id) TO 'items_out.txt'
COPY (SELECT id, name FROM items WHERE id > 29 ORDER BY id) TO STDOUT WITH (FORMAT csv);

-- a multi-statement simple query, a larger result, prepared statements
SELECT 'first' AS a \; SELECT 'second' AS b \; SELECT count(*) FROM items;
CREATE TEMP TABLE big AS SELECT g AS n, md5(g::text) AS h FROM generate_series(1, 20000) g;
SELECT count(*), sum(n), md5(string_agg(h, ',' ORDER BY n)) FROM big;
SELECT n, h FROM big WHERE n % 2000 = 0 ORDER BY n;
PREPARE twice(int) AS SELECT $1 * 2 AS doubled;
EXECUTE twice(21);
DEALLOCATE twice;

-- notices, notifications, describe
DO $$ BEGIN RAISE NOTICE 'notice from DO: %', 42; END $$;
SET client_min_messages = notice;
LISTEN pgw_chan;
NOTIFY pgw_chan, 'hello through the wire';
SELECT 'after notify' AS x;
\d items
SELECT current_user, current_database(), current_setting('server_version_num')::int >= 150000 AS pg15;
SHOW DateStyle;
\echo done
