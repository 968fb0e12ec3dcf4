#!/usr/bin/env bash
# Installs what is missing, builds pgwarden and its tests with AddressSanitizer
# and UndefinedBehaviorSanitizer, and runs every test: unit tests per module and
# the integration suite (a real PostgreSQL 15 started by the harness, the real
# gateway, real clients: psql, pgbench, psycopg, asyncpg, JDBC, node-postgres).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh --test

build=${PGW_TEST_BUILD_DIR:-build-asan}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPGW_SANITIZE=ON -DPGW_BENCH=OFF >/dev/null
ninja -C "$build"

# Sanitizer settings for every binary the tests start, the gateway included.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

ctest --test-dir "$build" --output-on-failure -j2 "$@"
