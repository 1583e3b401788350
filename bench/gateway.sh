#!/bin/bash
# gateway.sh - keyward's gateway against direct upstream and nginx, on the
# shared harness (../shared/bench/gateway-vs-nginx.sh): same wrk scenario,
# alternating rounds, load pinned to CPU 0 and servers to CPU 1.
# usage: bench/gateway.sh   (env passes through: ROUNDS, DUR, CONN, PATHS, QUIET, ...)
set -eu
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-../shared/bench/gateway-vs-nginx.sh}
export W=${W:-$(mktemp -d /tmp/kwbench.XXXXXX)}
export KEYWARD_BIN=$W/keyward
go build -o "$KEYWARD_BIN" ./cmd/keyward
export GW_PREFIX=/bench/prod
exec bash "$HARNESS" "${GW_PORT:-8090}" bash "$PWD/bench/keyward-gateway.sh" "${GW_PORT:-8090}"
