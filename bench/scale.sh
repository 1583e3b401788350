#!/bin/bash
# scale.sh - one keyward node holding N keys (default 1,000,000), imported
# through `keyward keys import` as a customer would, then measured:
#   import rate, server RSS, data dir size (database + WAL + everything),
#   restart-to-ready (SIGTERM, start, until the gateway admits an imported
#   key), one change to enforced (a disable through the CLI until the
#   gateway refuses that key; then without process starts, through
#   bench/changeprobe, printed under the table), and gateway requests/s with N keys loaded
#   (wrk, keep-alive, one key, the built-in mock upstream).
# The server runs on both cores (the import and the restart are its own
# work); for the gateway load it is pinned to CPU 1 and wrk to CPU 0, as
# in gateway.sh. Prints a table.
# usage: bench/scale.sh [N]   (env: W=dir to keep, DUR=10s)
set -eu
cd "$(dirname "$0")/.."
N=${1:-1000000}; DUR=${DUR:-10s}
W=${W:-$(mktemp -d /tmp/kwscale.XXXXXX)}; mkdir -p "$W"
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
PIN0= PIN1=
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then PIN0="taskset -c 0" PIN1="taskset -c 1"; fi
ADMIN=127.0.0.1:${ADMIN_PORT:-8291}; GW=127.0.0.1:${GW_PORT:-8290}; UP=127.0.0.1:${UP_PORT:-8292}
KW=$W/keyward
go build -o "$KW" ./cmd/keyward
D=$W/data; rm -rf "$D"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
now_ms() { date +%s%3N; }
wait_port() { for _ in $(seq 600); do (exec 3<>"/dev/tcp/${1%:*}/${1#*:}") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
start_server() {
  $1 "$KW" server --data-dir "$D" --admin-addr "$ADMIN" --gateway-addr "$GW" --log-level warn >>"$W/server.log" 2>&1 &
  SRV=$!; PIDS+=($SRV)
}
rss_mb() { awk '/VmRSS/{printf "%.0f", $2/1024}' "/proc/$SRV/status"; }
# Key values never go on a command line (ps shows it): curl reads the key's
# header from a 0600 file, wrk from its script.
status() { (umask 077; printf 'x-api-key: %s\n' "$1" > "$W/key.header")
  curl -s -o /dev/null -w '%{http_code}' -H @"$W/key.header" -H 'content-type: application/json' \
  -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}' "http://$GW/bench/prod/v1/chat/completions"; }

$PIN1 "$KW" mock-upstream --addr "$UP" >"$W/upstream.log" 2>&1 & PIDS+=($!)
start_server ""
wait_port "$ADMIN"; for _ in $(seq 100); do [ -s "$D/bootstrap-token" ] && break; sleep 0.05; done
export KEYWARD_ADDR=http://$ADMIN KEYWARD_TOKEN_FILE=$D/bootstrap-token
"$KW" apis create bench --openai-compatible --stage "prod=http://$UP" >/dev/null
"$KW" plans create bench-plan --rate 1000000 --burst 1000000 --quota 1000000000/DAY --stage bench/prod >/dev/null

# N keys with distinct values, in AWS ImportApiKeys' CSV shape.
awk -v n="$N" 'BEGIN { print "Name,Key"; for (i = 1; i <= n; i++) printf "k%d,sk-scale-%024d\n", i, i }' > "$W/keys.csv"
t0=$(now_ms)
"$KW" keys import --file "$W/keys.csv" --stage bench/prod --plan bench-plan >/dev/null
t1=$(now_ms)
import_rate=$(awk -v n="$N" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", n * 1000 / ms }')
KEY=$(printf 'sk-scale-%024d' "$N")
for _ in $(seq 200); do [ "$(status "$KEY")" = 200 ] && break; sleep 0.05; done
sleep 2
rss_loaded=$(rss_mb)
data_mb=$(du -sm "$D" | cut -f1)

# Restart: SIGTERM (graceful, checkpoints), start again, until admitted.
# On both cores: it reads the store on one and indexes keys on the other.
kill -TERM "$SRV"; wait "$SRV" 2>/dev/null || true
# Polled gently: a curl every few milliseconds would take the cores the
# server is loading on.
t0=$(now_ms); start_server ""
wait_port "$GW"
for _ in $(seq 3000); do [ "$(status "$KEY")" = 200 ] && break; sleep 0.02; done
t1=$(now_ms); restart_ms=$((t1 - t0))
sleep 2
rss_restart=$(rss_mb)
[ -n "$PIN1" ] && taskset -a -p -c 1 "$SRV" >/dev/null

# One change to enforced: disable a key, until the gateway refuses it.
VICTIM=$(printf 'sk-scale-%024d' 1)
ID=$("$KW" keys get k1 -o json | awk -F'"' '/"id": "key_/{print $4; exit}')
[ "$(status "$VICTIM")" = 200 ] || { echo "the first key is not admitted" >&2; exit 1; }
t0=$(now_ms)
"$KW" keys disable "$ID" >/dev/null
for _ in $(seq 2000); do [ "$(status "$VICTIM")" = 401 ] && break; done
t1=$(now_ms); change_ms=$((t1 - t0))
[ "$(status "$VICTIM")" = 401 ] || { echo "the disable was not enforced" >&2; exit 1; }
# The same without process starts (a CLI and a curl each cost tens of ms
# on a busy host): admin call to the first refusal on kept-alive
# connections, 20 times (bench/changeprobe).
go build -o "$W/changeprobe" ./bench/changeprobe
(umask 077; printf '%s' "$VICTIM" > "$W/victim.key")
probe=$("$W/changeprobe" -admin "http://$ADMIN" -token-file "$D/bootstrap-token" -id "$ID" -key-file "$W/victim.key" \
  -gateway "http://$GW/bench/prod/v1/chat/completions" -n 20)

# Gateway throughput with N keys loaded.
# The script is a file: wrk loads it once per thread, and from stdin only
# the first thread got it (the second sent GETs without a body, until
# 2026-12-05).
(umask 077; cat > "$W/load.lua" <<LUA
wrk.method = "POST"
wrk.body = '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-api-key"] = "$KEY"
LUA
)
o=$($PIN0 wrk -t2 -c64 -d"$DUR" -s "$W/load.lua" "http://$GW/bench/prod/v1/chat/completions" 2>&1 || true)
! grep -Eq 'Non-2xx|Socket errors' <<< "$o" || { echo "wrk saw refusals or errors: $(grep -E 'Non-2xx|Socket errors' <<< "$o")" >&2; exit 1; }
rps=$(awk '/^Requests\/sec/{print $2}' <<< "$o")

printf '\n| keys | import keys/s | RSS after import | RSS after restart | data dir | restart to ready | disable enforced (CLI call included) | gateway req/s |\n'
printf '|---:|---:|---:|---:|---:|---:|---:|---:|\n'
printf '| %s | %s | %s MB | %s MB | %s MB | %s ms | %s ms | %s |\n' "$N" "$import_rate" "$rss_loaded" "$rss_restart" "$data_mb" "$restart_ms" "$change_ms" "${rps:-?}"
printf '\n%s\n' "$probe"
