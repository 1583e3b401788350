#!/bin/bash
# gateway-pairs.sh - the gateway against nginx in many short back-to-back
# pairs, for a host whose speed drifts. On the shared 2-core VM the rate of
# the same server moves 20-60% between seconds, so gateway.sh's three
# 10 s rounds cannot tell 0.97 from 1.03. Here each pair is one short wrk
# run against nginx and one against the gateway (which goes first
# alternates from pair to pair), and the ratio of the two is the sample:
# both saw nearly the same host. Prints, per path, the median ratio, the
# geometric mean and a 95% bootstrap interval of that mean.
# The upstream, nginx's configuration and the keyward side are the shared
# harness's (../shared/bench/gateway-vs-nginx.sh, built by running it with
# no rounds) and bench/keyward-gateway.sh; wrk on CPU 0, servers on CPU 1.
# usage: bench/gateway-pairs.sh   (env: PAIRS=30 DUR=1 CONN=64 PATHS="/v1/chat/completions /stream" W=dir)
set -eu
cd "$(dirname "$0")/.."
HARNESS=${HARNESS:-../shared/bench/gateway-vs-nginx.sh}
PAIRS=${PAIRS:-30}; DUR=${DUR:-1}; CONN=${CONN:-64}; PATHS=${PATHS:-"/v1/chat/completions /stream"}
export W=${W:-$(mktemp -d /tmp/kwpairs.XXXXXX)}
export KEYWARD_BIN=$W/keyward
UP_PORT=${UP_PORT:-9000}; NGX_PORT=${NGX_PORT:-8081}; GW_PORT=${GW_PORT:-8090}
go build -o "$KEYWARD_BIN" ./cmd/keyward
# The harness with no rounds builds its upstream and writes nginx.conf into
# $W, starts everything once and stops it again.
ROUNDS=0 PATHS=/ UP_PORT=$UP_PORT NGX_PORT=$NGX_PORT GW_PREFIX=/bench/prod \
  bash "$HARNESS" "$GW_PORT" bash "$PWD/bench/keyward-gateway.sh" "$GW_PORT" > "$W/harness.log" 2>&1
# The harness stops keyward-gateway.sh, whose trap stops the server, and
# does not wait for the server to exit: the next start would remove the
# data dir under it.
for _ in $(seq 100); do pgrep -f "$KEYWARD_BIN server" > /dev/null || break; sleep 0.1; done
! pgrep -f "$KEYWARD_BIN server" > /dev/null || { echo "the harness's keyward server did not exit" >&2; exit 1; }
export UPSTREAM_URL=http://127.0.0.1:$UP_PORT
KEY=$(head -1 "$W/keys.txt")
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
SRV_CPUS=1; [ "$(nproc)" -ge 2 ] || SRV_CPUS=0   # one core: everything on it, as the harness does
launch() { setsid taskset -c "$SRV_CPUS" "$@" > "$W/$(basename "$1").pairs.log" 2>&1 < /dev/null & PIDS+=($!); }
launch "$W/upstream" "127.0.0.1:$UP_PORT"
launch nginx -c "$W/nginx.conf" -g 'daemon off;'
launch bash "$PWD/bench/keyward-gateway.sh" "$GW_PORT"
for p in $UP_PORT $NGX_PORT $GW_PORT; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done
# The key stays off command lines (the harness's own wrk runs aside):
# curl reads its header from a 0600 file, wrk from a script.
(umask 077; printf 'x-api-key: %s\n' "$KEY" > "$W/key.header"
 printf 'wrk.headers["x-api-key"] = "%s"\n' "$KEY" > "$W/key.lua")
ok=0
for _ in $(seq 100); do   # the key is imported after the gateway listens
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H @"$W/key.header" "http://127.0.0.1:$GW_PORT/bench/prod/v1/chat/completions")" = 200 ] && { ok=1; break; }; sleep 0.1
done
[ $ok = 1 ] || { echo "the gateway never admitted the bench key; see $W/*.pairs.log" >&2; exit 1; }
# A run with refusals or errors in it measures something else: it stops the script.
rps() { local o; o=$(taskset -c 0 wrk -t2 -c"$CONN" -d"${DUR}s" -s "$W/key.lua" "$1")
  if grep -Eq 'Non-2xx|Socket errors' <<< "$o"; then echo "$1: $(grep -E 'Non-2xx|Socket errors' <<< "$o")" >&2; kill $$; fi
  awk '/^Requests\/sec/{print $2}' <<< "$o"; }
echo "# $PAIRS pairs of ${DUR}s wrk runs (-t2 -c$CONN, wrk on CPU 0, servers on CPU 1), order alternating; ratio = gateway/nginx req/s"
for path in $PATHS; do
  ngx=http://127.0.0.1:$NGX_PORT$path; gw=http://127.0.0.1:$GW_PORT/bench/prod$path
  rps "$ngx" > /dev/null; rps "$gw" > /dev/null   # warm both
  : > "$W/pairs$(echo "$path" | tr / _).txt"
  for i in $(seq "$PAIRS"); do
    if [ $((i % 2)) = 1 ]; then n=$(rps "$ngx"); g=$(rps "$gw"); else g=$(rps "$gw"); n=$(rps "$ngx"); fi
    echo "$n $g" >> "$W/pairs$(echo "$path" | tr / _).txt"
  done
  awk -v path="$path" 'BEGIN { srand(1) }
    $1 > 0 && $2 > 0 { m++; r[m] = $2 / $1; l[m] = log(r[m]); sn += $1; sg += $2 }
    function sort(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j+1] = a[j]; a[j+1] = x } }
    END {
      if (m == 0) { printf "%-22s no samples\n", path; exit 1 }
      for (i = 1; i <= m; i++) { s[i] = r[i]; g += l[i] } ; sort(s, m)
      med = (m % 2) ? s[(m+1)/2] : (s[m/2] + s[m/2+1]) / 2
      for (b = 1; b <= 2000; b++) { t = 0; for (i = 1; i <= m; i++) t += l[1 + int(rand() * m)]; bm[b] = exp(t / m) }
      sort(bm, 2000)
      printf "%-22s nginx %8.0f  gateway %8.0f req/s (means)  ratio: median %.3f  geomean %.3f  95%% interval %.3f-%.3f  (min %.3f, max %.3f, %d pairs)\n",
        path, sn / m, sg / m, med, exp(g / m), bm[50], bm[1950], s[1], s[m], m }' "$W/pairs$(echo "$path" | tr / _).txt"
done
