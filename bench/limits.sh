#!/bin/bash
# limits.sh - gateway requests/s with the in-process limiter against the
# shared Redis limiter, side by side: the same keyward binary, plan (a
# throttle and a quota high enough never to refuse, so every request pays
# for both checks), key and wrk load, alternating A B A B ... rounds.
# The server is pinned to CPU 1 and wrk to CPU 0; Redis (the machine's, at
# $REDIS_URL, db 15 by default, flushed first) runs where it likes.
# Prints each round and the ratio of the means (Redis / local).
# usage: bench/limits.sh   (env: ROUNDS=3 DUR=10s CONN=64 REDIS_URL=redis://127.0.0.1:6379/15 W=dir)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}; DUR=${DUR:-10s}; CONN=${CONN:-64}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/15}
W=${W:-$(mktemp -d /tmp/kwlimits.XXXXXX)}; mkdir -p "$W"
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
PIN0= PIN1=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN0="taskset -c 0" PIN1="taskset -c 1"; fi
ADMIN=127.0.0.1:${ADMIN_PORT:-8391}; GW=127.0.0.1:${GW_PORT:-8390}; UP=127.0.0.1:${UP_PORT:-8392}
KW=$W/keyward
go build -o "$KW" ./cmd/keyward
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
wait_port() { for _ in $(seq 200); do (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
KEY=sk-bench-0123456789abcdef0123456789abcdef
cat > "$W/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
LUA
$PIN1 "$KW" mock-upstream --addr "$UP" >"$W/upstream.log" 2>&1 & PIDS+=($!)
wait_port "$UP"
redis-cli -u "$REDIS_URL" flushdb >/dev/null

# run LABEL [server flags...]: one server, configured, then one wrk round.
run() {
  local label=$1; shift
  local D=$W/data-$label; rm -rf "$D"
  $PIN1 "$KW" server --data-dir "$D" --admin-addr "$ADMIN" --gateway-addr "$GW" --log-level warn "$@" >>"$W/server-$label.log" 2>&1 &
  local SRV=$!
  wait_port "$ADMIN"; for _ in $(seq 100); do [ -s "$D/bootstrap-token" ] && break; sleep 0.05; done
  export KEYWARD_ADDR=http://$ADMIN KEYWARD_TOKEN_FILE=$D/bootstrap-token
  "$KW" apis create bench --openai-compatible --stage "prod=http://$UP" >/dev/null
  "$KW" plans create bench-plan --rate 1000000 --burst 1000000 --quota 1000000000/DAY --stage bench/prod >/dev/null
  printf '%s' "$KEY" | "$KW" keys create --name bench-key --stage bench/prod --plan bench-plan --import-value-from-file - >/dev/null 2>&1
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' -H "x-api-key: $KEY" -H 'content-type: application/json' -d '{"model":"m","messages":[]}' "http://$GW/bench/prod/v1/chat/completions")" = 200 ] && break
    sleep 0.05
  done
  $PIN0 wrk -t2 -c"$CONN" -d"$DUR" -H "x-api-key: $KEY" -H 'content-type: application/json' \
    -s "$W/post.lua" \
    "http://$GW/bench/prod/v1/chat/completions" > "$W/wrk-$label.txt"
  kill "$SRV"; wait "$SRV" 2>/dev/null || true
  # Every answer must be a 200: a refusal or a 503 is not throughput.
  if grep -q 'Non-2xx' "$W/wrk-$label.txt"; then echo "$label: $(grep 'Non-2xx' "$W/wrk-$label.txt")" >&2; exit 1; fi
  awk '/Requests\/sec/{print $2}' "$W/wrk-$label.txt"
}

printf '%-6s %12s %12s\n' round local redis
sl=0; sr=0
for r in $(seq "$ROUNDS"); do
  a=$(run local)
  redis-cli -u "$REDIS_URL" config resetstat >/dev/null
  b=$(run redis --redis-url "$REDIS_URL")
  calls=$(redis-cli -u "$REDIS_URL" info commandstats | sed -n 's/^cmdstat_evalsha:calls=\([0-9]*\),.*/\1/p')
  printf '%-6s %12.0f %12.0f\n' "$r" "$a" "$b"
  sl=$(echo "$sl + $a" | bc -l); sr=$(echo "$sr + $b" | bc -l)
done
printf '%-6s %12.0f %12.0f\n' mean "$(echo "$sl / $ROUNDS" | bc -l)" "$(echo "$sr / $ROUNDS" | bc -l)"
printf 'redis / local = %.2f\n' "$(echo "$sr / $sl" | bc -l)"
reqs=$(awk '/requests in/{print $1}' "$W/wrk-redis.txt")
echo "last Redis round: ${calls:-0} scripts run for $reqs requests (leases: most requests never wait for Redis)"
