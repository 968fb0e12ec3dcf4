#!/usr/bin/env bash
# Installs everything pgwarden needs to build, run the demo and run the tests
# on Debian bookworm. Idempotent: packages already present are skipped, so a
# second run costs one dpkg query.
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config
  libasio-dev libssl-dev openssl libyaml-cpp-dev libpg-query-dev libprotobuf-c-dev
  nlohmann-json3-dev libre2-dev libsqlite3-dev libzstd-dev libpq-dev libspdlog-dev libfmt-dev
  libcli11-dev libcpp-httplib-dev libgtest-dev libgmock-dev libbenchmark-dev
)
runtime_pkgs=(postgresql-15 postgresql-client-15)
test_pkgs=(
  python3 python3-pytest python3-psycopg python3-asyncpg python3-zstandard
  default-jdk-headless libpostgresql-jdbc-java nodejs npm pgbouncer procps
)

want=("${build_pkgs[@]}" "${runtime_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
# node and npm may come from outside Debian (e.g. a preinstalled toolchain).
if [[ "${1:-}" == "--test" ]] && command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's pgbouncer package starts a service we never use.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now pgbouncer >/dev/null 2>&1 || true; fi
