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
bash "$HARNESS" "${GW_PORT:-8090}" bash "$PWD/bench/keyward-gateway.sh" "${GW_PORT:-8090}"
# The harness's means take each target's rounds as one sample. On a host
# whose speed drifts (a shared VM: 20-40% between rounds some hours) the
# mean of a ratio of means says little; the ratio of each nginx round to
# the gateway round run right after it sees the same host, so their median
# is what to compare with 1.0.
echo; echo "# gateway/nginx req/s of each round (the two run back to back), sorted; the median"
awk '$2=="nginx"{n[$1]=$3} $2=="gateway" && n[$1]>0 {r[$1]=r[$1]" "$3/n[$1]; if (!($1 in seen)) {seen[$1]=1; ord[++np]=$1}}
  END { for (i=1;i<=np;i++) { k=ord[i]; m=split(r[k], v, " ")
      for (a=2;a<=m;a++) { x=v[a]; for (b=a-1;b>=1 && v[b]>x;b--) v[b+1]=v[b]; v[b+1]=x }
      med=(m%2) ? v[(m+1)/2] : (v[m/2]+v[m/2+1])/2; s=""
      for (a=1;a<=m;a++) s=s sprintf(" %.3f", v[a])
      printf "%-22s median %.3f of%s\n", k, med, s } }' "$W/results.txt"
