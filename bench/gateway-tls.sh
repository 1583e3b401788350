#!/bin/bash
# gateway-tls.sh - keyward's gateway against nginx, both terminating TLS in
# front of the same plain-HTTP upstream: the shared harness's scenario
# (../shared/bench/gateway-vs-nginx.sh: same upstream, same wrk load, rounds
# alternating, wrk on CPU 0 and servers on CPU 1) in a TLS mode, in two
# parts:
#   keep-alive   wrk -c$CONN over TLS connections kept open: requests/s
#   handshake    bench/handshake: every request on a new TCP connection
#                with a full TLS handshake (a Go client without a session
#                cache: nothing is resumed, and it counts any that were;
#                wrk would resume Go's session tickets on reconnect, and
#                make the comparison unfair): handshakes/s, with the Go
#                client's default key exchange (post-quantum
#                X25519MLKEM768, which keyward accepts and Debian's nginx on
#                OpenSSL 3.0 does not), and handshake-x25519 with X25519
#                only, the same exchange for both
# Both serve the same certificate (ECDSA P-256 from a throwaway CA) with
# TLS 1.2-1.3; nginx gets TLS 1.3's default suites like Go.
# usage: bench/gateway-tls.sh   (env: ROUNDS=2 DUR=10s CONN=64 HS_CONN=16 PATHS=... W=dir QUIET=1)
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-2}; DUR=${DUR:-10s}; CONN=${CONN:-64}; THREADS=${THREADS:-2}; HS_CONN=${HS_CONN:-16}
PATHS=${PATHS:-"/v1/chat/completions /stream"}
UP_PORT=${UP_PORT:-9100}; NGX_PORT=${NGX_PORT:-8443}; GW_PORT=${GW_PORT:-8444}; ADMIN_PORT=$((GW_PORT + 1))
W=${W:-$(mktemp -d /tmp/kwbench-tls.XXXXXX)}; mkdir -p "$W/tmp"
BENCH_KEY=${BENCH_KEY:-sk-bench-0123456789abcdef0123456789abcdef}
if [ "$(nproc)" -ge 2 ]; then WRK_CPUS=${WRK_CPUS:-0}; SRV_CPUS=${SRV_CPUS:-1}; else WRK_CPUS=0; SRV_CPUS=0; fi
export PATH=$PATH:/usr/local/go/bin:/usr/sbin
need=""; for t in wrk nginx openssl; do command -v $t >/dev/null || need="$need $t"; done
[ -z "$need" ] || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null; }

go build -o "$W/keyward" ./cmd/keyward
go build -o "$W/handshake" ./bench/handshake
# The harness's upstream: a ~600-byte chat completion and a 20-chunk stream.
sed -n "/^mkdir -p \"\$W\/up\" && cat > \"\$W\/up\/main.go\" <<'EOF'$/,/^EOF$/p" ../shared/bench/gateway-vs-nginx.sh | sed '1d;$d' > "$W/up.go"
[ -s "$W/up.go" ] || { echo "cannot take the upstream from ../shared/bench/gateway-vs-nginx.sh" >&2; exit 1; }
mkdir -p "$W/up" && mv "$W/up.go" "$W/up/main.go" && printf 'module up\ngo 1.21\n' > "$W/up/go.mod"
(cd "$W/up" && go build -o "$W/upstream" .)

# One certificate for both, from a throwaway CA.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=bench-ca -days 1 \
  -keyout "$W/ca-key.pem" -out "$W/ca.pem" 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=127.0.0.1 \
  -keyout "$W/key.pem" -out "$W/cert.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' > "$W/ext"
openssl x509 -req -in "$W/cert.csr" -CA "$W/ca.pem" -CAkey "$W/ca-key.pem" -CAcreateserial -days 1 -extfile "$W/ext" -out "$W/cert.pem" 2>/dev/null

cat > "$W/nginx.conf" <<NGX
$([ "$(id -u)" = 0 ] && echo 'user root;')
worker_processes 1; pid $W/nginx.pid; error_log $W/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off; keepalive_requests 100000;
  client_body_temp_path $W/tmp/b; proxy_temp_path $W/tmp/p; fastcgi_temp_path $W/tmp/f; uwsgi_temp_path $W/tmp/u; scgi_temp_path $W/tmp/s;
  upstream up { server 127.0.0.1:$UP_PORT; keepalive 128; keepalive_requests 100000; }
  server { listen 127.0.0.1:$NGX_PORT ssl backlog=4096;
    ssl_certificate $W/cert.pem; ssl_certificate_key $W/key.pem; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_tickets off; ssl_session_cache off;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
    location /stream { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; proxy_buffering off; }
  }
}
NGX
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
launch() { setsid taskset -c "$SRV_CPUS" "$@" > "$W/$(basename "$1").log" 2>&1 < /dev/null & PIDS+=($!); }
launch "$W/upstream" 127.0.0.1:$UP_PORT
launch nginx -c "$W/nginx.conf" -g 'daemon off;'
D=$W/keyward-data
launch "$W/keyward" server --data-dir "$D" --gateway-addr 127.0.0.1:$GW_PORT --admin-addr 127.0.0.1:$ADMIN_PORT \
  --tls-cert "$W/cert.pem" --tls-key "$W/key.pem" --log-level warn
GW_PID=${PIDS[2]}
for p in $UP_PORT $NGX_PORT $GW_PORT $ADMIN_PORT; do
  for i in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null && break; sleep 0.1; done
done
export KEYWARD_ADDR=https://127.0.0.1:$ADMIN_PORT KEYWARD_TOKEN_FILE=$D/bootstrap-token KEYWARD_CA_FILE=$W/ca.pem
kw() { "$W/keyward" "$@" >/dev/null; }
kw apis create bench --openai-compatible --stage "prod=http://127.0.0.1:$UP_PORT"
kw plans create bench-plan --rate 1000000 --burst 1000000 --quota 1000000000/DAY --stage bench/prod
printf %s "$BENCH_KEY" | kw keys create --name bench-key --stage bench/prod --plan bench-plan --import-value-from-file -
for i in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' --cacert "$W/ca.pem" -H "x-api-key: $BENCH_KEY" https://127.0.0.1:$GW_PORT/bench/prod/v1/chat/completions)" = 200 ] && break; sleep 0.1
done

busy() { awk '/^cpu /{print $2+$3+$4+$7+$8, $2+$3+$4+$5+$6+$7+$8}' /proc/stat; }
quiet() { # QUIET=1: before each run wait (max 5 min) until the machine is <8% busy, as other jobs skew numbers
  [ "${QUIET:-0}" = 1 ] || return 0; for i in $(seq 150); do a=($(busy)); sleep 2; b=($(busy)); [ $((100*(b[0]-a[0])/(b[1]-a[1]+1))) -lt 8 ] && return 0; done; }
cpu_ticks() { for q in $1 $(pgrep -P "$1"); do awk '{print $14+$15}' /proc/$q/stat 2>/dev/null; done | awk '{s+=$1} END{print s+0}'; }
RES="$W/results.txt"; : > "$RES"
echo "# wrk -t$THREADS -c$CONN -d$DUR over TLS (wrk on CPU $WRK_CPUS, servers on CPU $SRV_CPUS), $ROUNDS rounds"
printf "%-22s %-10s %-5s %-8s %10s %9s %7s %9s\n" path mode round target rate p99_ms non2xx proc_us/req
for path in $PATHS; do for mode in keepalive handshake handshake-x25519; do for r in $(seq "$ROUNDS"); do
  for t in nginx:$NGX_PORT:${PIDS[1]} gateway:$GW_PORT:$GW_PID; do
    IFS=: read -r name port pid <<< "$t"
    url=https://127.0.0.1:$port$path; [ "$name" = gateway ] && url=https://127.0.0.1:$port/bench/prod$path
    quiet
    if [ "$mode" != keepalive ]; then
      classic=false; [ "$mode" = handshake-x25519 ] && classic=true
      c0=$(cpu_ticks "$pid")
      o=$(timeout 60 taskset -c "$WRK_CPUS" "$W/handshake" -url "$url" -ca "$W/ca.pem" -H "x-api-key: $BENCH_KEY" -c "$HS_CONN" -d "$DUR" -classic=$classic 2>&1 || true)
      c1=$(cpu_ticks "$pid")
      rps=$(awk '{print $2}' <<< "$o"); n=$(awk '{print $4}' <<< "$o"); bad=$(awk '{print $6}' <<< "$o")
      [ "$(awk '{print $8}' <<< "$o")" = 0 ] || { echo "sessions were resumed: $o" >&2; exit 1; }
      us=$(awk -v d=$((c1-c0)) -v n="${n:-1}" 'BEGIN{printf "%.1f", d*1e6/100/n}')
      printf "%-22s %-10s %-5s %-8s %10s %9s %7s %9s\n" "$path" "$mode" "$r" "$name" "${rps:-0}" "-" "$bad" "$us"
      echo "$path $mode $name ${rps:-0} 0 $us" >> "$RES"
      continue
    fi
    timeout 10 taskset -c "$WRK_CPUS" wrk -t"$THREADS" -c"$CONN" -d2s -H "x-api-key: $BENCH_KEY" "$url" >/dev/null 2>&1 || true
    c0=$(cpu_ticks "$pid")
    o=$(timeout 60 taskset -c "$WRK_CPUS" wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency -H "x-api-key: $BENCH_KEY" "$url" 2>&1 || true)
    c1=$(cpu_ticks "$pid")
    rps=$(awk '/^Requests\/sec/{print $2}' <<< "$o"); n=$(awk '/requests in/{print $1}' <<< "$o")
    p99=$(awk '$1=="99%"{v=$2; if (v~/us$/) {sub(/us/,"",v); v/=1000} else if (v~/ms$/) sub(/ms/,"",v); else if (v~/s$/) {sub(/s/,"",v); v*=1000}; printf "%.3f", v}' <<< "$o")
    bad=$(awk '/Non-2xx/{print $NF}' <<< "$o"); bad=${bad:-0}
    us=$(awk -v d=$((c1-c0)) -v n="${n:-1}" 'BEGIN{printf "%.1f", d*1e6/100/n}')
    printf "%-22s %-10s %-5s %-8s %10s %9s %7s %9s\n" "$path" "$mode" "$r" "$name" "${rps:-0}" "$p99" "$bad" "$us"
    echo "$path $mode $name ${rps:-0} $p99 $us" >> "$RES"
  done
done; done; done
echo; echo "# means over rounds; rate = requests/s (keepalive) or full handshakes/s (handshake)"
awk '{k=$1" "$2" "$3; n[k]++; r[k]+=$4; p[k]+=$5; u[k]+=$6; if (!(($1" "$2) in seen)) {seen[$1" "$2]=1; ord[++m]=$1" "$2}}
  END { printf "%-22s %-10s %12s %12s %9s %9s %12s\n", "path", "mode", "nginx", "gateway", "ratio", "ngx_us", "gateway_us"
    for (i=1;i<=m;i++) { split(ord[i], a, " "); g=ord[i]" gateway"; x=ord[i]" nginx"
      printf "%-22s %-10s %12.0f %12.0f %9.3f %9.1f %12.1f\n", a[1], a[2], r[x]/n[x], r[g]/n[g], (r[g]/n[g])/(r[x]/n[x]), u[x]/n[x], u[g]/n[g] } }' "$RES"
