#!/bin/bash
# local-cluster.sh - three keyward nodes on loopback, one PostgreSQL
# database and one Redis (the plans' limits, shared), for trying a cluster
# by hand (README, "Running a cluster").
#
#   deploy/local-cluster.sh            # start; Ctrl-C stops all three
#   env: KEYWARD_DATABASE_URL (default: the machine's PostgreSQL, database
#        keyward_cluster, created if missing), KEYWARD_REDIS_URL (default:
#        the machine's Redis, db 1; "none": limits per node), W (work dir, default
#        ./keyward-cluster), BASE_PORT (default 7170: admin 7170/7180/7190,
#        gateway 7171/7181/7191)
#
# To start over: dropdb -h 127.0.0.1 -U postgres keyward_cluster, and
# remove the work dir (the database holds keys sealed by its master.key).
#
# The first node creates the keyring (its master.key) and the bootstrap
# admin; the others start with the same keyring, as every node of a
# cluster must. The password, if the URL needs one, goes in the
# environment, never on a command line.
set -eu
cd "$(dirname "$0")/.."
W=${W:-$PWD/keyward-cluster}
BASE_PORT=${BASE_PORT:-7170}
if [ -z "${KEYWARD_DATABASE_URL:-}" ]; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'keyward_cluster'" | grep -q 1 ||
    psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE keyward_cluster"
  export KEYWARD_DATABASE_URL="postgres://postgres@127.0.0.1:5432/keyward_cluster?sslmode=disable"
fi
if [ -z "${KEYWARD_REDIS_URL:-}" ]; then
  export KEYWARD_REDIS_URL=redis://127.0.0.1:6379/1
elif [ "$KEYWARD_REDIS_URL" = none ]; then
  unset KEYWARD_REDIS_URL
fi
mkdir -p "$W"
go build -o "$W/keyward" ./cmd/keyward
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null; wait' EXIT INT TERM
for i in 1 2 3; do
  admin=$((BASE_PORT + (i - 1) * 10)); gw=$((admin + 1))
  keyring=()
  [ "$i" -gt 1 ] && keyring=(--keyring "file://$W/node1/master.key")
  "$W/keyward" server --data-dir "$W/node$i" --admin-addr "127.0.0.1:$admin" --gateway-addr "127.0.0.1:$gw" \
    "${keyring[@]}" >"$W/node$i.log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 200); do
    curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null && break
    kill -0 "${PIDS[-1]}" 2>/dev/null || { echo "node $i did not start:"; cat "$W/node$i.log"; exit 1; }
    sleep 0.1
  done
  echo "node $i: admin http://127.0.0.1:$admin  gateway http://127.0.0.1:$gw  log $W/node$i.log"
done
if [ -s "$W/node1/bootstrap-token" ]; then
  echo "bootstrap admin token: $W/node1/bootstrap-token; use any node with:"
  echo "  export KEYWARD_ADDR=http://127.0.0.1:$BASE_PORT KEYWARD_TOKEN_FILE=$W/node1/bootstrap-token"
else
  echo "the database already had an admin (an earlier run): its token is where that run wrote it"
fi
echo "each node's /readyz says whether it leads; Ctrl-C stops the cluster"
wait
