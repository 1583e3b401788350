#!/bin/bash
# keyward-gateway.sh GW_PORT - the gateway side of gateway-vs-nginx.sh: start a
# keyward server whose gateway listens on GW_PORT, then configure it through
# the CLI as a pipeline would: an OpenAI-compatible API "bench" in front of
# $UPSTREAM_URL, a plan with a throttle and a quota (high enough not to
# refuse, so every request pays for the check), and the harness's key
# imported from $W/keys.txt. Requests go to /bench/prod/<path>.
# env: KEYWARD_BIN (built binary), W (work dir), UPSTREAM_URL.
set -eu
GW_PORT=$1
ADMIN_PORT=$((GW_PORT + 1))
D=$W/keyward-data
rm -rf "$D"
"$KEYWARD_BIN" server --data-dir "$D" --gateway-addr "127.0.0.1:$GW_PORT" --admin-addr "127.0.0.1:$ADMIN_PORT" --log-level warn &
SRV=$!
trap 'kill $SRV 2>/dev/null' EXIT TERM INT
for i in $(seq 100); do [ -s "$D/bootstrap-token" ] && (exec 3<>/dev/tcp/127.0.0.1/$ADMIN_PORT) 2>/dev/null && break; sleep 0.05; done
export KEYWARD_ADDR=http://127.0.0.1:$ADMIN_PORT KEYWARD_TOKEN_FILE=$D/bootstrap-token
kw() { "$KEYWARD_BIN" "$@" >/dev/null; }
kw apis create bench --openai-compatible --stage "prod=$UPSTREAM_URL"
kw plans create bench-plan --rate 1000000 --burst 1000000 --quota 1000000000/DAY --stage bench/prod
head -1 "$W/keys.txt" | tr -d '\n' | kw keys create --name bench-key --stage bench/prod --plan bench-plan --import-value-from-file -
wait $SRV
