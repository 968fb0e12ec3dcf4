#!/usr/bin/python3
"""Opens N client connections (libpq via psycopg), runs SELECT 1 on each so the
session is fully established, prints "open <n> failed <m>", then holds them
idle until stdin is closed. bench/run.sh uses it to measure the gateway's
memory per connection. The password comes from PGPASSWORD."""

import argparse
import resource
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import psycopg


def raise_fd_limit(wanted: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dsn", required=True, help="libpq conninfo, without the password")
    parser.add_argument("-n", type=int, default=1000, help="connections to hold")
    parser.add_argument("--threads", type=int, default=8, help="connections opened in parallel")
    args = parser.parse_args()
    raise_fd_limit(args.n + 64)

    errors: list[str] = []
    lock = threading.Lock()

    def open_one(_: int):
        try:
            conn = psycopg.connect(args.dsn, autocommit=True, connect_timeout=30)
            conn.execute("SELECT 1").fetchone()
            return conn
        except Exception as e:  # report, do not stop the others
            with lock:
                errors.append(str(e).strip().splitlines()[0] if str(e).strip() else repr(e))
            return None

    with ThreadPoolExecutor(args.threads) as pool:
        conns = [c for c in pool.map(open_one, range(args.n)) if c is not None]
    print(f"open {len(conns)} failed {len(errors)}", flush=True)
    if errors:
        print(f"idle_conns: first error: {errors[0]}", file=sys.stderr, flush=True)

    sys.stdin.read()  # the caller closes our stdin when it has measured
    for conn in conns:
        conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
