#!/usr/bin/env bash
# Installs what is missing, builds pgwarden (Release) and runs `pgwarden demo`:
# a throwaway PostgreSQL with sample PII data behind the gateway. Ctrl-C stops
# everything and removes the temporary data.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPGW_TESTS=OFF -DPGW_BENCH=OFF >/dev/null
ninja -C build pgwarden
exec ./build/pgwarden demo "$@"
