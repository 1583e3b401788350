#!/bin/bash
# evloop.sh - the shared gateway-vs-nginx harness with bench/evloop (a bare
# Go epoll proxy) in the gateway's place: what a Go proxy can reach against
# nginx on this machine, with no gateway work at all.
# usage: bench/evloop.sh   (env passes through: ROUNDS, DUR, PATHS, QUIET, EVLOOP_SYSCALL=runtime, ...)
set -eu
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-../shared/bench/gateway-vs-nginx.sh}
export W=${W:-$(mktemp -d /tmp/kwbench.XXXXXX)}
go build -o "$W/evloop" ./bench/evloop
PORT=${GW_PORT:-8090}
exec bash "$HARNESS" "$PORT" "$W/evloop" "127.0.0.1:$PORT" "127.0.0.1:${UP_PORT:-9000}"
