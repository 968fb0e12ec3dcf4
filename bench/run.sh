#!/usr/bin/env bash
# pgwarden benchmark: pgbench directly against PostgreSQL, through pgwarden and
# through pgbouncer, in one run, plus pgwarden's memory per idle connection.
# Builds nothing; see bench/README.md. Everything it starts lives in one temp
# directory and is stopped and removed on exit, Ctrl-C included.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/run.sh [options]

  -T, --time SECONDS     duration of each pgbench run (default 10, env BENCH_SECONDS)
  -s, --scale N          pgbench scale factor (default 10)
      --targets LIST     comma-separated subset of direct,pgwarden,pgbouncer,
                         pgwarden-allow,pgwarden-policy (default: direct,pgwarden,pgbouncer;
                         a target whose binary is missing is skipped)
      --policy           the cost of policy enforcement: targets direct,pgwarden,
                         pgwarden-allow,pgwarden-policy and the 8-client cells only
      --audit            the cost of the audit trail: direct, pgwarden-policy (audit off)
                         and pgwarden-audit (the same with the SQLite sink); add
                         pgwarden-audit-sync with --targets (audit.synchronous: true)
      --mask             the cost of result masking: a large SELECT fetched in full, rows/s,
                         targets direct,pgbouncer,pgwarden-plain (a policy, no mask rules)
                         and pgwarden-mask (bench/mask_policy.yaml: 2 masked columns)
      --mask-rows N      rows of the --mask table (default 1000000)
      --rounds N         --mask: fetches per target and cell (default 5; the median is reported)
      --repeat N         pgbench cells: run every cell N times (rotating the target order),
                         report the median TPS and latency (default 1)
      --interleave       instead of pgbench cells: bench/ab_load.cc (pgw_ab_load) runs the
                         select-only workload against all targets at once, switching target
                         every --slot-ms (300 ms), and reports each target relative to the
                         first listed (with --audit: pgwarden-audit / pgwarden-policy) with
                         a 95% interval;
                         -T is then the seconds per protocol mode (default 300)
      --clients N        --interleave: client connections (default 8)
      --slot-ms MS       --interleave: how long each target is driven before the next
                         (default 300)
      --settle-ms MS     --interleave: the first part of a slot that is not counted
                         (default 75); a change that puts work off for longer must be
                         measured with long slots, e.g. --slot-ms 3000 --settle-ms 1000
      --pin-gateways CPUS
                         run the gateways and pgbouncer on these CPUs (comma-separated,
                         e.g. 1), PostgreSQL and the clients (pgbench, pgw_ab_load, the
                         --mask fetcher) on the others: roughly, the gateway on a host
                         of its own
      --idle-conns N     idle connections for the memory measurement (default 1000)
      --no-rss           skip the memory measurement
      --keep             keep the temp directory (logs, configs) for inspection
  -h, --help             this text

environment:
  PGWARDEN_BIN   gateway binary (default: build-release/pgwarden in the repo)
  PGW_AB_LOAD    --interleave driver (default: build-release/bench/pgw_ab_load)
  PG_BINDIR      PostgreSQL 15 binaries (default: /usr/lib/postgresql/15/bin)
  BENCH_OUT      also write the result tables to this file
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${BENCH_SECONDS:-}
interleave=0
ab_clients=8
ab_slot_ms=300
ab_settle_ms=75
scale=10
targets_arg="direct,pgwarden,pgbouncer"
policy_cells=0
mask_mode=0
mask_rows=1000000
mask_rounds=5
repeat=1
idle_conns=1000
measure_rss=1
keep=0
pin_gateways=""
while (($#)); do
  case "$1" in
    -T | --time) seconds=$2; shift 2 ;;
    -s | --scale) scale=$2; shift 2 ;;
    --targets) targets_arg=$2; shift 2 ;;
    --policy) targets_arg="direct,pgwarden,pgwarden-allow,pgwarden-policy"; policy_cells=1; shift ;;
    --audit) targets_arg="direct,pgwarden-policy,pgwarden-audit"; policy_cells=1; shift ;;
    --mask) targets_arg="direct,pgbouncer,pgwarden-plain,pgwarden-mask"; mask_mode=1; shift ;;
    --mask-rows) mask_rows=$2; shift 2 ;;
    --rounds) mask_rounds=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    --interleave) interleave=1; shift ;;
    --clients) ab_clients=$2; shift 2 ;;
    --slot-ms) ab_slot_ms=$2; shift 2 ;;
    --settle-ms) ab_settle_ms=$2; shift 2 ;;
    --pin-gateways) pin_gateways=$2; shift 2 ;;
    --idle-conns) idle_conns=$2; shift 2 ;;
    --no-rss) measure_rss=0; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "run.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
# The interleaved comparison needs minutes for a 1% resolution; pgbench cells seconds.
if [[ -z $seconds ]]; then
  if ((interleave)); then seconds=300; else seconds=10; fi
fi
if ((interleave)); then
  # Audit vs no audit: the gateway with the same policy is the baseline.
  [[ $targets_arg == "direct,pgwarden-policy,pgwarden-audit" ]] && targets_arg="pgwarden-policy,pgwarden-audit"
  ((mask_mode == 0)) || { echo "run.sh: --interleave and --mask do not combine" >&2; exit 2; }
  measure_rss=0
fi
[[ $ab_clients =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: --clients takes a positive integer" >&2; exit 2; }
[[ $ab_slot_ms =~ ^[0-9]+$ && $ab_settle_ms =~ ^[0-9]+$ ]] && ((ab_slot_ms >= 10 && ab_settle_ms < ab_slot_ms)) ||
  { echo "run.sh: --slot-ms takes at least 10 and --settle-ms less than it (milliseconds)" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+$ && $scale =~ ^[0-9]+$ && $idle_conns =~ ^[0-9]+$ ]] ||
  { echo "run.sh: -T, -s and --idle-conns take integers" >&2; exit 2; }
[[ $mask_rows =~ ^[1-9][0-9]*$ && $mask_rounds =~ ^[1-9][0-9]*$ && $repeat =~ ^[1-9][0-9]*$ ]] ||
  { echo "run.sh: --mask-rows, --rounds and --repeat take positive integers" >&2; exit 2; }

python=/usr/bin/python3

# --pin-gateways: command prefixes for the gateways' side and for the rest.
gw_cpu=()
rest_cpu=()
if [[ -n $pin_gateways ]]; then
  [[ $pin_gateways =~ ^[0-9]+(,[0-9]+)*$ ]] ||
    { echo "run.sh: --pin-gateways takes CPU numbers separated by commas" >&2; exit 2; }
  command -v taskset >/dev/null || { echo "run.sh: --pin-gateways needs taskset (util-linux)" >&2; exit 2; }
  # The CPUs this script may use that are not the gateways'.
  rest=$("$python" -c '
import os, sys
mine = os.sched_getaffinity(0)
gw = {int(c) for c in sys.argv[1].split(",")}
if not gw <= mine:
    sys.exit("run.sh: --pin-gateways: CPU %s is not available here" % ",".join(map(str, sorted(gw - mine))))
print(",".join(str(c) for c in sorted(mine - gw)))' "$pin_gateways") || exit 2
  [[ -n $rest ]] || { echo "run.sh: --pin-gateways leaves no CPU for PostgreSQL and the clients" >&2; exit 2; }
  gw_cpu=(taskset -c "$pin_gateways")
  rest_cpu=(taskset -c "$rest")
fi
# The report headers' lines about the machine (and the pinning, if any).
machine_note() {
  echo "- machine: $(nproc) cores, $(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
  if [[ -n $pin_gateways ]]; then
    echo "- pinned: gateways and pgbouncer on CPU $pin_gateways; PostgreSQL and the clients on CPU $rest"
  fi
}

pgwarden_bin=${PGWARDEN_BIN:-$repo/build-release/pgwarden}
pg_bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- prerequisites -----------------------------------------------------------
for tool in initdb pg_ctl psql pgbench; do
  [[ -x $pg_bindir/$tool ]] || die "$pg_bindir/$tool not found (apt-get install postgresql-15, or set PG_BINDIR)"
done
command -v openssl >/dev/null || die "openssl not found"

targets=()
IFS=, read -ra wanted <<<"$targets_arg"
for t in "${wanted[@]}"; do
  case "$t" in
    direct) targets+=(direct) ;;
    pgwarden | pgwarden-allow | pgwarden-policy | pgwarden-audit | pgwarden-audit-sync | pgwarden-plain | pgwarden-mask)
      if [[ -x $pgwarden_bin ]]; then
        targets+=("$t")
      else
        log "skipping pgwarden: $pgwarden_bin not found; build it with"
        log "  cmake -S . -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release -DPGW_TESTS=OFF && ninja -C build-release pgwarden"
        log "  (or set PGWARDEN_BIN)"
      fi
      ;;
    pgbouncer)
      if command -v pgbouncer >/dev/null; then
        targets+=(pgbouncer)
      else
        log "skipping pgbouncer: not installed (apt-get install pgbouncer)"
      fi
      ;;
    *) die "unknown target '$t' (direct, pgwarden, pgbouncer, pgwarden-allow, pgwarden-policy, pgwarden-audit, pgwarden-audit-sync, pgwarden-plain, pgwarden-mask)" ;;
  esac
done
if ((interleave)); then
  ab_load=${PGW_AB_LOAD:-$repo/build-release/bench/pgw_ab_load}
  [[ -x $ab_load ]] || die "$ab_load not found; build it with: ninja -C build-release pgw_ab_load (needs PGW_BENCH=ON and libpq-dev)"
  ((${#targets[@]} >= 2)) || die "--interleave needs two targets or more"
else
  [[ " ${targets[*]} " == *" direct "* ]] || die "the direct target is needed as the baseline"
fi
if ((measure_rss)) && ((policy_cells || mask_mode)); then
  measure_rss=0
fi
if ((mask_mode)) && ! "$python" -c 'import psycopg' 2>/dev/null; then
  die "--mask needs $python with psycopg (apt-get install python3-psycopg)"
fi
if ((measure_rss)) && [[ " ${targets[*]} " != *" pgwarden "* ]]; then
  log "skipping the memory measurement: no pgwarden"
  measure_rss=0
fi
if ((measure_rss)) && ! "$python" -c 'import psycopg' 2>/dev/null; then
  log "skipping the memory measurement: $python has no psycopg (apt-get install python3-psycopg)"
  measure_rss=0
fi

# --- workspace and cleanup -----------------------------------------------------
as_root=0
[[ $(id -u) == 0 ]] && as_root=1
# PostgreSQL and pgbouncer refuse to run as root: run them as postgres then.
as_pg() { if ((as_root)); then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d /tmp/pgwarden-bench.XXXXXX)
pgdir=$work/pg
data=$pgdir/data
bouncer_dir=$work/pgbouncer
mkdir -p "$pgdir" "$bouncer_dir" "$work/runs"
if ((as_root)); then
  id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' OS user to run PostgreSQL"
  chmod 711 "$work"
  chown postgres: "$pgdir" "$bouncer_dir"
fi
chmod 700 "$pgdir" "$bouncer_dir"

holder_pid=""
declare -A port=()
declare -A gateway_pid=()
# start_gateway <target>: serves $work/<target>/pgwarden.yaml on port[<target>].
start_gateway() {
  local t=$1
  "${gw_cpu[@]}" "$pgwarden_bin" serve --config "$work/$t/pgwarden.yaml" >>"$work/$t/pgwarden.log" 2>&1 &
  gateway_pid[$t]=$!
  wait_ready "host=127.0.0.1 port=${port[$t]} dbname=bench user=bench" "$t"
}
stop_gateway() {
  local t=$1 pid=${gateway_pid[$1]:-}
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  gateway_pid[$t]=""
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  set +e
  [[ -n $holder_pid ]] && kill "$holder_pid" 2>/dev/null
  for t in "${!gateway_pid[@]}"; do stop_gateway "$t"; done
  if [[ -f $bouncer_dir/pgbouncer.pid ]]; then
    kill "$(cat "$bouncer_dir/pgbouncer.pid")" 2>/dev/null
  fi
  if [[ -f $data/postmaster.pid ]]; then
    as_pg "$pg_bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1
  fi
  if ((keep)); then
    log "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

free_port() {
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until a libpq connection succeeds (conninfo in $1) or 30 s pass.
wait_ready() {
  local conninfo=$1 what=$2
  for _ in $(seq 1 150); do
    if "$pg_bindir/psql" -X -tA -c 'SELECT 1' "$conninfo connect_timeout=2" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  die "$what did not accept connections within 30 s"
}

password=$(openssl rand -hex 16)
export PGW_BENCH_PASSWORD=$password # referenced by the gateway config as ${env:...}
export PGPASSWORD=$password          # pgbench and psql: the same user everywhere
export PGSSLMODE=disable             # plaintext on every target unless a step says otherwise
unset PGHOST PGPORT PGUSER PGDATABASE PGSERVICE PGOPTIONS
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --- PostgreSQL --------------------------------------------------------------
pg_port=$(free_port)
log "PostgreSQL: initdb in $data, port $pg_port"
as_pg "$pg_bindir/initdb" -D "$data" -U postgres --auth-host=scram-sha-256 --auth-local=trust \
  --no-locale -E UTF8 --no-sync >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; die "initdb failed"; }
cat >>"$data/postgresql.conf" <<EOF
# bench/run.sh
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '$pgdir'
max_connections = 200
fsync = off
EOF
# --mask: the whole table stays in shared buffers (about 150 MB per million rows).
if ((mask_mode)); then
  echo "shared_buffers = $(((mask_rows / 1000000 + 1) * 256))MB" >>"$data/postgresql.conf"
fi
start_pg() {
  as_pg "${rest_cpu[@]}" "$pg_bindir/pg_ctl" -D "$data" -l "$pgdir/postgres.log" -w -t 60 start >/dev/null ||
    { tail -20 "$pgdir/postgres.log" >&2; die "PostgreSQL did not start"; }
}
start_pg
admin() { "$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$pg_port" -U postgres "$@"; }
admin -d postgres <<EOF
SET password_encryption = 'scram-sha-256';
CREATE ROLE bench LOGIN PASSWORD '$password';
CREATE DATABASE bench OWNER bench;
EOF
if ((mask_mode)); then
  log "--mask: table big, $mask_rows rows of 8 columns"
  "$pg_bindir/psql" -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$pg_port" -U bench -d bench <<EOF
CREATE TABLE big (id int PRIMARY KEY, email text, phone text, name text, city text,
                  amount numeric(12,2), created timestamptz, note text);
INSERT INTO big
SELECT g, 'user.' || g || '@example.com', '+1 415 555 ' || lpad((g % 10000)::text, 4, '0'),
       'Name ' || substr(md5(g::text), 1, 10), (ARRAY['Paris', 'Berlin', 'Lisbon', 'Oslo'])[1 + g % 4],
       (g % 1000000) / 100.0, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 second',
       'order note ' || g
FROM generate_series(1, $mask_rows) g;
VACUUM ANALYZE big;
EOF
else
  log "pgbench -i -s $scale"
  "$pg_bindir/pgbench" -i -q -s "$scale" -h "$pgdir" -p "$pg_port" -U bench bench >"$work/pgbench-init.log" 2>&1 ||
    { tail -20 "$work/pgbench-init.log" >&2; die "pgbench -i failed"; }
fi

port[direct]=$pg_port

# --- pgwarden ----------------------------------------------------------------
# pgwarden: no policies (a transparent gateway). pgwarden-allow: one policy
# allowing everything (every statement analyzed, nothing refused).
# pgwarden-policy: bench/policy.yaml — ten policies, twenty deny rules and the
# built-in guardrails, the bench user matched by the sixth policy.
write_gateway_config() {
  local t=$1
  mkdir -p "$work/$t"
  cp "$work/server.crt" "$work/server.key" "$work/$t/"
  cat >"$work/$t/pgwarden.yaml" <<EOF
listen:
  postgres: "127.0.0.1:${port[$t]}"
  http: "127.0.0.1:$(free_port)"
log_level: warn
timeouts:
  shutdown_grace: 2s
tls:
  cert: server.crt
  key: server.key
  require: false
identity:
  users:
    - name: bench
      password: "\${env:PGW_BENCH_PASSWORD}"
      groups: [bench]
connections:
  bench:
    host: 127.0.0.1
    port: $pg_port
    database: bench
    tls:
      mode: disable
    credentials:
      rw: { user: bench, password: "\${env:PGW_BENCH_PASSWORD}" }
    default_credential: rw
EOF
  case "$t" in
    pgwarden-allow)
      cat >>"$work/$t/pgwarden.yaml" <<EOF
policies:
  - name: allow-all
    subjects: { groups: [bench] }
    connections: ["*"]
    access: admin
EOF
      ;;
    pgwarden-policy | pgwarden-audit | pgwarden-audit-sync) cat "$repo/bench/policy.yaml" >>"$work/$t/pgwarden.yaml" ;;
    pgwarden-plain)
      # bench/mask_policy.yaml without its mask rules: the same policy decides
      # every statement, nothing is masked.
      cat >>"$work/$t/pgwarden.yaml" <<EOF
policies:
  - name: bench-mask
    subjects: { groups: [bench] }
    connections: [bench]
    access: read
EOF
      ;;
    pgwarden-mask) cat "$repo/bench/mask_policy.yaml" >>"$work/$t/pgwarden.yaml" ;;
  esac
  # Only pgwarden-audit(-sync) record statements (SQLite, the default sink).
  if [[ $t == pgwarden-audit ]]; then
    printf 'audit:\n  sinks: [ { type: sqlite, path: audit.db } ]\n' >>"$work/$t/pgwarden.yaml"
  elif [[ $t == pgwarden-audit-sync ]]; then
    printf 'audit:\n  sinks: [ { type: sqlite, path: audit.db } ]\n  synchronous: true\n' >>"$work/$t/pgwarden.yaml"
  else
    printf 'audit:\n  enabled: false\n' >>"$work/$t/pgwarden.yaml"
  fi
}
gateway_targets=()
for t in "${targets[@]}"; do [[ $t == pgwarden* ]] && gateway_targets+=("$t"); done
if ((${#gateway_targets[@]})); then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$work/server.key" -out "$work/server.crt" >/dev/null 2>&1 ||
    die "openssl could not make a certificate"
  for t in "${gateway_targets[@]}"; do
    port[$t]=$(free_port)
    write_gateway_config "$t"
    "$pgwarden_bin" check --config "$work/$t/pgwarden.yaml" >/dev/null ||
      die "$t: the gateway config does not load"
    log "$t: $pgwarden_bin on port ${port[$t]}"
    start_gateway "$t"
  done
fi

# --- pgbouncer ---------------------------------------------------------------
if [[ " ${targets[*]} " == *" pgbouncer "* ]]; then
  port[pgbouncer]=$(free_port)
  printf '"bench" "%s"\n' "$password" >"$bouncer_dir/userlist.txt"
  cat >"$bouncer_dir/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$pg_port dbname=bench

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port[pgbouncer]}
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $bouncer_dir/userlist.txt
pool_mode = session
max_client_conn = 2000
default_pool_size = 50
logfile = $bouncer_dir/pgbouncer.log
pidfile = $bouncer_dir/pgbouncer.pid
log_connections = 0
log_disconnections = 0
EOF
  chmod 600 "$bouncer_dir/userlist.txt" "$bouncer_dir/pgbouncer.ini"
  ((as_root)) && chown postgres: "$bouncer_dir/userlist.txt" "$bouncer_dir/pgbouncer.ini"
  log "pgbouncer: $(pgbouncer --version | head -1) on port ${port[pgbouncer]}"
  as_pg "${gw_cpu[@]}" pgbouncer -d -q "$bouncer_dir/pgbouncer.ini" >"$bouncer_dir/start.log" 2>&1 ||
    { cat "$bouncer_dir/start.log" "$bouncer_dir/pgbouncer.log" >&2 2>/dev/null; die "pgbouncer did not start"; }
  wait_ready "host=127.0.0.1 port=${port[pgbouncer]} dbname=bench user=bench" "pgbouncer"
fi

# --- --mask: one large SELECT fetched in full -----------------------------------
# Each fetch is one extended-protocol SELECT * FROM big on a fresh connection
# (connection time not counted); the client reads the result off the socket
# without decoding it, so what is measured is the server and the proxy. Cells:
# text and binary result format by that client, and pgbench (libpq builds the
# whole text result in memory, as an application would).
if ((mask_mode)); then
  cat >"$work/fetch_all.py" <<'EOF'
"""fetch_all.py CONNINFO SQL FORMAT ROWS: runs SQL with the extended protocol
(results in FORMAT 0 = text, 1 = binary), reads the result off the socket
without decoding it, prints "<seconds> <bytes>". Fails unless the command
tag says ROWS rows."""
import os
import socket
import sys
import time

from psycopg import pq

conninfo, sql, fmt, rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
conn = pq.PGconn.connect(conninfo.encode())
if conn.status != pq.ConnStatus.OK:
    sys.exit("connect: " + conn.error_message.decode(errors="replace"))
sock = socket.socket(fileno=os.dup(conn.socket))
sock.setblocking(True)
buf = bytearray(1 << 20)
view = memoryview(buf)
ready = b"Z\x00\x00\x00\x05I"  # ReadyForQuery (idle): the result is complete
t0 = time.perf_counter()
conn.send_query_params(sql.encode(), None, result_format=fmt)
total, tail = 0, b""
while not tail.endswith(ready):
    n = sock.recv_into(buf)
    if n == 0:
        sys.exit(f"connection closed after {total} bytes: {tail!r}")
    total += n
    tail = (tail + bytes(view[max(0, n - 64):n]))[-64:]
elapsed = time.perf_counter() - t0
if b"SELECT %d\x00" % rows not in tail:
    sys.exit(f"unexpected end of result: {tail!r}")
sock.close()
conn.finish()
print(f"{elapsed:.6f} {total}")
EOF
  echo "SELECT * FROM big;" >"$work/select_big.sql"
  mask_results=$work/mask_results.tsv
  : >"$mask_results"

  conninfo_of() { echo "host=127.0.0.1 port=${port[$1]} dbname=bench user=bench sslmode=disable"; }
  # fetch_once <target> <cell> <format> <round>: appends "cell target round seconds bytes".
  fetch_once() {
    local t=$1 cell=$2 fmt=$3 round=$4 out
    if out=$("${rest_cpu[@]}" "$python" "$work/fetch_all.py" "$(conninfo_of "$t")" "SELECT * FROM big" "$fmt" "$mask_rows" 2>&1); then
      printf '%s\t%s\t%s\t%s\n' "$cell" "$t" "$round" "${out// /$'\t'}" >>"$mask_results"
    else
      log "$cell via $t failed: $out"
      printf '%s\t%s\t%s\tnan\tnan\n' "$cell" "$t" "$round" >>"$mask_results"
    fi
  }

  # The masked target must really mask, and the plain one must not: otherwise
  # the numbers would compare the wrong things.
  check_sql="SELECT email, phone FROM big WHERE id = 1"
  for t in "${targets[@]}"; do
    got=$("$pg_bindir/psql" -X -tA -F ' ' -c "$check_sql" "$(conninfo_of "$t")" 2>&1) ||
      die "$t: $check_sql failed: $got"
    case "$t" in
      pgwarden-mask) [[ $got == "***@example.com ***********0001" ]] ||
        die "pgwarden-mask does not mask as bench/mask_policy.yaml says (got '$got'; is this binary's masking wired?)" ;;
      *) [[ $got == "user.1@example.com +1 415 555 0001" ]] || die "$t: unexpected result '$got'" ;;
    esac
  done

  log "targets: ${targets[*]}; $mask_rows rows; warm-up, then $mask_rounds rounds of 2 fetches + 1 pgbench cell per target"
  for t in "${targets[@]}"; do fetch_once "$t" warmup 0 0; done
  : >"$mask_results"
  n=${#targets[@]}
  for ((round = 1; round <= mask_rounds; round++)); do
    for ((i = 0; i < n; i++)); do
      t=${targets[$(((i + round) % n))]}
      log "round $round/$mask_rounds via $t"
      fetch_once "$t" select-text 0 "$round"
      fetch_once "$t" select-binary 1 "$round"
    done
  done
  for ((i = 0; i < n; i++)); do
    t=${targets[$i]}
    log "pgbench -M extended -t $mask_rounds via $t"
    out=$work/runs/mask-pgbench-$t.log
    if "${rest_cpu[@]}" "$pg_bindir/pgbench" -n -M extended -c 1 -j 1 -t "$mask_rounds" -f "$work/select_big.sql" \
      -h 127.0.0.1 -p "${port[$t]}" -U bench bench >"$out" 2>&1; then
      tps=$(awk '/^tps = /{print $3; exit}' "$out")
      printf 'pgbench-text\t%s\tall\t%s\tnan\n' "$t" "$(awk -v x="$tps" 'BEGIN { printf "%.6f", 1 / x }')" >>"$mask_results"
    else
      log "pgbench via $t failed:"
      tail -5 "$out" >&2
      printf 'pgbench-text\t%s\tall\tnan\tnan\n' "$t" >>"$mask_results"
    fi
  done

  report_mask() {
    echo "## pgwarden masking benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    machine_note
    echo "- PostgreSQL $("$pg_bindir/postgres" --version | awk '{print $3}') (fsync=off), table big: $mask_rows rows x 8 columns"
    [[ -n ${port[pgwarden-mask]:-${port[pgwarden-plain]:-}} ]] && echo "- $("$pgwarden_bin" version 2>/dev/null | head -1) ($pgwarden_bin), default workers"
    [[ -n ${port[pgbouncer]:-} ]] && echo "- $(pgbouncer --version | head -1), pool_mode=session"
    echo "- \`SELECT * FROM big\` fetched in full, 1 client, TCP 127.0.0.1, sslmode=disable; median of $mask_rounds rounds (pgbench: mean over -t $mask_rounds)"
    echo "- pgwarden-plain: one read policy, no mask rules; pgwarden-mask: the same with bench/mask_policy.yaml (email: email, phone: partial keep_last 4)"
    echo
    "$python" - "$mask_results" "$mask_rows" "${targets[*]}" <<'EOF'
import statistics
import sys

path, rows, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3].split()
runs = {}
order = []
for line in open(path):
    cell, target, _round, secs, nbytes = line.rstrip("\n").split("\t")
    if cell not in order:
        order.append(cell)
    runs.setdefault((cell, target), []).append((float(secs), float(nbytes)))


def med(cell, target, k):
    vals = [r[k] for r in runs.get((cell, target), []) if r[k] == r[k]]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return f"{a / b:.2f}" if a and b else "–"


print("| result | target | rows/s | MB/s | vs direct | mask / plain |")
print("|---|---|---:|---:|---:|---:|")
summary = []
for cell in order:
    direct = med(cell, "direct", 0)
    plain = med(cell, "pgwarden-plain", 0)
    for t in targets:
        if (cell, t) not in runs:
            continue
        s = med(cell, t, 0)
        b = med(cell, t, 1)
        rps = rows / s if s else None
        mbps = b / s / 1e6 if s and b else None
        vs_direct = ratio(direct, s) if t != "direct" else "1.00"
        vs_plain = ratio(plain, s) if t == "pgwarden-mask" else ""
        print(f"| {cell} | {t} | {f'{rps:,.0f}' if rps else 'failed'} | "
              f"{f'{mbps:.0f}' if mbps else '–'} | {vs_direct} | {vs_plain} |")
    mask = med(cell, "pgwarden-mask", 0)
    if plain and mask:
        summary.append(f"- {cell}: mask/plain **{plain / mask:.2f}** (goal ≥ 0.90)"
                       + (f", plain/direct {direct / plain:.2f}" if direct else ""))
print()
print("\n".join(summary))
EOF
  }
  echo
  report_mask | tee ${BENCH_OUT:+"$BENCH_OUT"}
  exit 0
fi

# --- --interleave: every target in the same seconds, pgw_ab_load --------------
if ((interleave)); then
  # --cpu: each target's PostgreSQL backends and its gateway (or pgbouncer)
  # charged per statement, from /proc.
  ab_args=(--cpu)
  i=0
  for t in "${targets[@]}"; do
    ab_args+=(--target "host=127.0.0.1 port=${port[$t]} dbname=bench user=bench sslmode=disable")
    if [[ -n ${gateway_pid[$t]:-} ]]; then
      ab_args+=(--process "$i=${gateway_pid[$t]}")
    elif [[ $t == pgbouncer && -f $bouncer_dir/pgbouncer.pid ]]; then
      ab_args+=(--process "$i=$(cat "$bouncer_dir/pgbouncer.pid")")
    fi
    i=$((i + 1))
  done
  ab_results=$work/interleave.txt
  : >"$ab_results"
  log "targets: ${targets[*]} (relative to ${targets[0]}); 3 modes x ${seconds}s (~$((3 * seconds / 60 + 1)) min)"
  for mode in simple extended prepared; do
    log "select-$mode, $ab_clients clients"
    out=$work/runs/interleave-$mode.log
    "${rest_cpu[@]}" "$ab_load" --clients "$ab_clients" --seconds "$seconds" --scale "$scale" --mode "$mode" \
      --slot-ms "$ab_slot_ms" --settle-ms "$ab_settle_ms" \
      "${ab_args[@]}" >"$out" 2>&1 || { cat "$out" >&2; die "pgw_ab_load failed"; }
    printf '%s\n' "$mode" >>"$ab_results"
    cat "$out" >>"$ab_results"
  done
  report_interleave() {
    echo "## pgwarden interleaved benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
    echo
    machine_note
    echo "- PostgreSQL $("$pg_bindir/postgres" --version | awk '{print $3}') (fsync=off), pgbench scale $scale"
    echo "- $("$pgwarden_bin" version 2>/dev/null | head -1) ($pgwarden_bin), default workers"
    echo "- pgw_ab_load: pgbench's select-only transaction, $ab_clients clients, each connected to every target; all switch target every $ab_slot_ms ms (first $ab_settle_ms ms of a slot not counted); ${seconds}s per mode"
    echo "- ratio: geometric mean over rounds of (target's TPS / ${targets[0]}'s TPS in the same round), 95% interval"
    echo
    # One pass over the driver's output, two tables: the ratios, then CPU.
    awk -v names="${targets[*]}" -v base="${targets[0]}" '
      BEGIN {
        split(names, name, " ")
        print "| mode | target | median TPS | / " base " | 95% interval |"
        print "|---|---|---:|---:|---|"
      }
      /^(simple|extended|prepared)$/ { mode = $1; next }
      /^(target|cpu) [0-9]+:/ { i = substr($2, 1, length($2) - 1) + 1 }
      /^target [0-9]+:/ {
        match($0, /median [0-9]+ tps/); tps = substr($0, RSTART + 7, RLENGTH - 11)
        match($0, /vs target 0: [0-9.]+/); r = substr($0, RSTART + 13, RLENGTH - 13)
        match($0, /\(95%: [0-9.]+\.\.[0-9.]+\)/); ci = substr($0, RSTART + 6, RLENGTH - 7)
        sub(/\.\./, "–", ci)
        printf "| select-%s | %s | %s | %s | %s |\n", mode, name[i], tps, (i == 1 ? "1" : r), (i == 1 ? "" : ci)
      }
      # "<what> T us/statement (user U, system S)" as "T (U + S)".
      function cputime(what,   m) {
        if (!match($0, what " [0-9.na]+ us/statement \\(user [0-9.na]+, system [0-9.na]+\\)")) return "–"
        split(substr($0, RSTART + length(what) + 1, RLENGTH - length(what) - 2), m, /[ ,]+/)
        return m[1] " (" m[4] " + " m[6] ")"
      }
      /^cpu [0-9]+:/ {
        cpu[++ncpu] = sprintf("| select-%s | %s | %s | %s |", mode, name[i],
                              cputime("backends"), cputime("process"))
      }
      END {
        if (ncpu == 0) exit
        print ""
        print "CPU per statement over each whole run, from /proc, as total (user + system): the PostgreSQL backends serving the target, and the target'"'"'s own process"
        print ""
        print "| mode | target | PostgreSQL µs | process µs |"
        print "|---|---|---:|---:|"
        for (k = 1; k <= ncpu; k++) print cpu[k]
      }' "$ab_results"
  }
  echo
  report_interleave | tee ${BENCH_OUT:+"$BENCH_OUT"}
  exit 0
fi

# --- pgbench -----------------------------------------------------------------
results=$work/results.tsv
: >"$results"

# run_pgbench <target> <label> <clients> <seconds> [pgbench args...]: appends a result row.
run_pgbench() {
  local target=$1 label=$2 clients=$3 secs=$4
  shift 4
  local jobs=$((clients < 2 ? clients : 2))
  local out=$work/runs/$label-c$clients-$target.log
  if "${rest_cpu[@]}" "$pg_bindir/pgbench" -n -h 127.0.0.1 -p "${port[$target]}" -U bench -c "$clients" -j "$jobs" \
    -T "$secs" "$@" bench >"$out" 2>&1; then
    local tps lat
    tps=$(awk '/^tps = /{print $3; exit}' "$out")
    lat=$(awk '/^latency average = /{print $4; exit}' "$out")
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$clients" "$target" "${tps:-nan}" "${lat:-nan}" >>"$results"
  else
    log "pgbench $label c=$clients via $target failed:"
    tail -5 "$out" >&2
    printf '%s\t%s\t%s\tnan\tnan\n' "$label" "$clients" "$target" >>"$results"
  fi
}

# Cells: label, clients, pgbench arguments. TPC-B is pgbench's default script.
cells=(
  "select-simple|1|-S -M simple"
  "select-simple|8|-S -M simple"
  "select-extended|1|-S -M extended"
  "select-extended|8|-S -M extended"
  "select-prepared|1|-S -M prepared"
  "select-prepared|8|-S -M prepared"
  "tpcb-simple|8|-M simple"
)
if ((policy_cells)); then
  cells=(
    "select-simple|8|-S -M simple"
    "select-extended|8|-S -M extended"
    "select-prepared|8|-S -M prepared"
    "tpcb-simple|8|-M simple"
  )
fi
n_runs=$((${#cells[@]} * ${#targets[@]} * repeat))
log "targets: ${targets[*]}; ${#cells[@]} cells x ${#targets[@]} targets x $repeat x ${seconds}s (~$((n_runs * (seconds + 1) / 60 + 1)) min)"

for t in "${targets[@]}"; do
  run_pgbench "$t" warmup 8 3 -S -M prepared
done
: >"$results"

cell_no=0
for ((rep = 1; rep <= repeat; rep++)); do
for cell in "${cells[@]}"; do
  IFS='|' read -r label clients args <<<"$cell"
  # Interleave the targets per cell and rotate who goes first, so that drift
  # (caches, neighbours on the machine) hits every target alike.
  n=${#targets[@]}
  for ((i = 0; i < n; i++)); do
    t=${targets[$(((i + cell_no) % n))]}
    if [[ $label == tpcb* ]]; then
      # What pgbench does before a run unless -n: same start for every target.
      admin -d bench -c 'VACUUM pgbench_branches, pgbench_tellers' -c 'TRUNCATE pgbench_history' >/dev/null
    fi
    log "$label c=$clients via $t"
    # shellcheck disable=SC2086  # args holds several pgbench options
    run_pgbench "$t" "$label" "$clients" "$seconds" $args
  done
  cell_no=$((cell_no + 1))
done
done

# --- memory per idle connection ------------------------------------------------
rss_kb() {
  if [[ ! -r /proc/$1/status ]]; then
    tail -5 "$work/pgwarden/pgwarden.log" >&2
    die "pgwarden (pid $1) has exited"
  fi
  awk '/^VmRSS:/{print $2}' "/proc/$1/status"
}
rss_rows=()
# measure_idle <label> <sslmode>: a fresh gateway, RSS before and with N idle clients.
measure_idle() {
  local label=$1 sslmode=$2
  stop_gateway pgwarden
  start_gateway pgwarden
  sleep 1
  local before after opened failed
  before=$(rss_kb "${gateway_pid[pgwarden]}")
  coproc HOLDER { PGSSLMODE=$sslmode "$python" "$repo/bench/idle_conns.py" -n "$idle_conns" \
    --dsn "host=127.0.0.1 port=${port[pgwarden]} dbname=bench user=bench sslmode=$sslmode"; }
  # shellcheck disable=SC2153  # HOLDER_PID is set by coproc
  holder_pid=$HOLDER_PID
  read -r -u "${HOLDER[0]}" _ opened _ failed || die "idle_conns.py died"
  sleep 2
  after=$(rss_kb "${gateway_pid[pgwarden]}")
  eval "exec ${HOLDER[1]}>&-"
  wait "$holder_pid" 2>/dev/null || true
  holder_pid=""
  ((failed == 0)) || log "$label: $failed of $idle_conns connections failed (see $work/pgwarden/pgwarden.log)"
  local per
  per=$(awk -v b="$before" -v a="$after" -v n="$opened" 'BEGIN { printf "%.1f", n ? (a - b) / n : 0 }')
  rss_rows+=("| $label | $opened | $((before / 1024)) | $((after / 1024)) | $per |")
  log "$label: RSS ${before} kB -> ${after} kB with $opened idle connections ($per kB each)"
}
if ((measure_rss)); then
  # Every gateway session holds its own upstream backend.
  log "memory: restarting PostgreSQL with max_connections = $((idle_conns + 100))"
  as_pg "$pg_bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
  echo "max_connections = $((idle_conns + 100))" >>"$data/postgresql.conf"
  start_pg
  measure_idle "plain (sslmode=disable)" disable
  measure_idle "TLS (sslmode=require)" require
fi

# --- report ------------------------------------------------------------------
report() {
  echo "## pgwarden benchmark ($(date -u +%Y-%m-%dT%H:%MZ))"
  echo
  machine_note
  echo "- PostgreSQL $("$pg_bindir/postgres" --version | awk '{print $3}') (fsync=off), pgbench scale $scale, ${seconds}s per run, -j 2 for 8 clients"
  [[ -n ${port[pgwarden]:-} ]] && echo "- $("$pgwarden_bin" version 2>/dev/null | head -1) ($pgwarden_bin), default workers"
  [[ -n ${port[pgbouncer]:-} ]] && echo "- $(pgbouncer --version | head -1), pool_mode=session"
  echo "- all targets over TCP 127.0.0.1, SCRAM, sslmode=disable"
  ((repeat > 1)) && echo "- every cell run $repeat times, target order rotating; the table shows medians"
  echo
  echo "| mode | clients | target | TPS | avg latency ms | vs direct | added latency µs/query |"
  echo "|---|---:|---|---:|---:|---:|---:|"
  awk -F'\t' '
    # The median of the runs of a cell and target (--repeat); "nan" if any failed.
    function median(list,   v, c, i, j, t) {
      c = split(list, v, " ")
      for (i = 1; i <= c; i++) if (v[i] == "nan") return "nan"
      for (i = 2; i <= c; i++) { t = v[i] + 0; for (j = i - 1; j >= 1 && v[j] + 0 > t; j--) v[j + 1] = v[j]; v[j + 1] = t }
      return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
    }
    { key = $1 "|" $2
      tl[key, $3] = tl[key, $3] (tl[key, $3] == "" ? "" : " ") $4
      ll[key, $3] = ll[key, $3] (ll[key, $3] == "" ? "" : " ") $5
      run[key, $3, ++runs[key, $3]] = $4
      if (!(key in seen)) { seen[key] = 1; order[++n] = key }
      if (!(($3) in tseen)) { tseen[$3] = 1; torder[++m] = $3 } }
    END {
      for (kt in tl) { tps[kt] = median(tl[kt]); lat[kt] = median(ll[kt]) }
      for (i = 1; i <= n; i++) {
        split(order[i], k, "|")
        dt = tps[order[i], "direct"]; dl = lat[order[i], "direct"]
        for (j = 1; j <= m; j++) {
          t = torder[j]
          if (!((order[i], t) in tps)) continue
          x = tps[order[i], t]; l = lat[order[i], t]
          ratio = (x != "nan" && dt != "nan" && dt > 0) ? sprintf("%.2f", x / dt) : "–"
          added = "–"
          if (k[2] == 1 && t != "direct" && l != "nan" && dl != "nan") added = sprintf("%+.0f", (l - dl) * 1000)
          printf "| %s | %s | %s | %s | %s | %s | %s |\n", k[1], k[2], t,
            (x == "nan" ? "failed" : sprintf("%.0f", x)), (l == "nan" ? "–" : sprintf("%.3f", l)), ratio, added
        }
      }
      # The cost of auditing: the audit targets against the same policy without it.
      # With --repeat, also the ratio within each round (the two targets ran
      # back to back there, so drift on the machine cancels): its median and range.
      for (j = 1; j <= m; j++) {
        t = torder[j]
        if (t !~ /^pgwarden-audit/ || !("pgwarden-policy" in tseen)) continue
        line = ""
        for (i = 1; i <= n; i++) {
          split(order[i], k, "|")
          x = tps[order[i], t]; b = tps[order[i], "pgwarden-policy"]
          if (x == "" || b == "" || x == "nan" || b == "nan" || b <= 0) continue
          line = line sprintf("%s%s c=%s **%.2f**", line == "" ? "" : ", ", k[1], k[2], x / b)
          r = runs[order[i], t]
          if (r > 1 && r == runs[order[i], "pgwarden-policy"]) {
            paired = ""; lo = ""; hi = ""
            for (q = 1; q <= r; q++) {
              pb = run[order[i], "pgwarden-policy", q]; px = run[order[i], t, q]
              if (pb == "nan" || px == "nan" || pb <= 0) { paired = ""; break }
              pr = px / pb
              paired = paired (paired == "" ? "" : " ") pr
              if (lo == "" || pr < lo) lo = pr
              if (hi == "" || pr > hi) hi = pr
            }
            if (paired != "") line = line sprintf(" (per round: median %.2f, %.2f–%.2f)", median(paired), lo, hi)
          }
        }
        if (line != "") printf "\n- %s / pgwarden-policy: %s\n", t, line
      }
    }' "$results"
  if ((${#rss_rows[@]})); then
    echo
    echo "### pgwarden memory with $idle_conns idle client connections (VmRSS)"
    echo
    echo "| clients | connections | RSS before MiB | RSS after MiB | per connection KiB |"
    echo "|---|---:|---:|---:|---:|"
    printf '%s\n' "${rss_rows[@]}"
  fi
}
echo
report | tee ${BENCH_OUT:+"$BENCH_OUT"}
