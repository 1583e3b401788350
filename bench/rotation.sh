#!/bin/bash
# rotation.sh - a keyward gateway under load while the key it uses is
# rotated every second: bench/rotation/main.go sends chat completions with
# the newest and the previous value over keep-alive connections and counts
# every failed request (it exits 1 if there is one).
# Load on CPU 0, the keyward server on CPU 1, as in gateway.sh.
# usage: bench/rotation.sh   (env: DUR=60s EVERY=1s GRACE=10s CONNS=32)
set -eu
cd "$(dirname "$0")/.."
W=$(mktemp -d /tmp/kwrot.XXXXXX)
go build -o "$W/keyward" ./cmd/keyward
go build -o "$W/rotation" ./bench/rotation
PIN0= PIN1=
if command -v taskset >/dev/null; then PIN0="taskset -c 0" PIN1="taskset -c 1"; fi
ADMIN=127.0.0.1:${ADMIN_PORT:-8191}
GW=127.0.0.1:${GW_PORT:-8190}
$PIN1 "$W/keyward" server --data-dir "$W/data" --admin-addr "$ADMIN" --gateway-addr "$GW" --log-level warn >"$W/server.log" 2>&1 &
SRV=$!
trap 'kill $SRV 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 200); do [ -s "$W/data/bootstrap-token" ] && (exec 3<>"/dev/tcp/${ADMIN%:*}/${ADMIN#*:}") 2>/dev/null && break; sleep 0.05; done
$PIN0 "$W/rotation" -admin "http://$ADMIN" -token-file "$W/data/bootstrap-token" -gateway "http://$GW" \
  -duration "${DUR:-60s}" -every "${EVERY:-1s}" -grace "${GRACE:-10s}" -conns "${CONNS:-32}"
