#!/usr/bin/env bash
# mesh-proxy against haproxy and nginx, in one run, on loopback.
# Same nginx backend, same CPU pinning (proxies on CPU 0; backend and load on the other CPUs),
# one worker/thread each, keep-alive on both sides.
# Prints per target: requests/s at saturation (wrk), p50/p99 latency at a fixed rate (h2load
# --rps with --log-file), CPU time per request and peak RSS (from /proc), and the ratio to haproxy.
# Then the mTLS rows, sidecar to sidecar: wrk (plaintext) -> a client-side proxy originating mutual
# TLS with a workload certificate (checking the server's SPIFFE id) -> a server-side proxy
# terminating it (a client certificate from the mesh root required) -> the same nginx backend; both
# hops mesh-proxy, then both haproxy. Keep-alive req/s, latency, CPU per request summed over both
# proxies, peak RSS of each; then new mTLS handshakes (openssl s_time -new, a client certificate
# each time) per second of the server-side proxy's CPU, i.e. per core. docs/proxy.md says what each
# figure means.
# Usage: bench/proxy.sh [--smoke]   (--smoke: a few seconds per target, to prove the script works;
# of the mTLS part only the four proxies' start and one request through each pair)
# MTLS=0 leaves the mTLS rows out, MTLS=only runs only them; HAPROXY_SAN=none drops haproxy's
# per-response SAN check (below); HS_DURATION, HS_CLIENTS: the handshake run's seconds and openssl
# clients; WARM_MAX: the most seconds of warm-up per mTLS measurement (5 s rounds until the JVMs'
# JIT compiler threads use under 5 % of a CPU in a round; mTLS takes the JIT a minute or more).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
DURATION=${DURATION:-15}; RATE=${RATE:-1000}; CONNS=${CONNS:-32}
MTLS=${MTLS:-1}; HS_DURATION=${HS_DURATION:-10}; HS_CLIENTS=${HS_CLIENTS:-4}; HAPROXY_SAN=${HAPROXY_SAN:-acl}
M_DURATION=$DURATION; WARM_ROUND=5; WARM_MAX=${WARM_MAX:-120}
if [ "${1:-}" = "--smoke" ]; then DURATION=2; RATE=200; fi
for tool in nginx haproxy wrk h2load taskset java openssl curl; do
  command -v $tool >/dev/null || { echo "bench/proxy.sh needs $tool: apt-get install nginx-light haproxy wrk nghttp2-client util-linux openssl curl" >&2; exit 1; }
done
jar="$root/mesh-proxy/target/mesh-proxy.jar"
[ -f "$jar" ] || (cd "$root" && ./mvnw -B -q -DskipTests -Djib.skip -pl mesh-proxy -am package)
# The sidecar's JVM flags (docs/proxy-benchmark.md says why).
JVM_FLAGS=${JVM_FLAGS:-"-XX:+UseSerialGC -Xms24m -Xmx64m -XX:MaxDirectMemorySize=32m -Xss256k -XX:ReservedCodeCacheSize=32m -Dio.netty.allocator.numHeapArenas=1 -Dio.netty.allocator.numDirectArenas=1"}

work=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
ncpu=$(nproc); other="1-$((ncpu-1))"; [ "$ncpu" -lt 2 ] && other=0
BACKEND=18080; P_HAPROXY=18081; P_NGINX=18082; P_MESH=18083
# HTTP/2 (h2c, prior knowledge) front ends; mesh-proxy's AUTO codec serves both on one port.
H2_BACKEND=18084; H2_HAPROXY=18085; H2_NGINX=18086
# mTLS: client-side (plaintext in, mTLS out) and server-side (mTLS in) proxies; admin of mesh-proxy's.
M_MESH_OUT=18087; M_MESH_IN=18088; M_HAP_OUT=18089; M_HAP_IN=18090; M_MESH_OUT_ADMIN=18091; M_MESH_IN_ADMIN=18092

cat > "$work/backend.conf" <<NGX
worker_processes 1; daemon off; pid $work/backend.pid; error_log $work/backend.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  server { listen 127.0.0.1:$BACKEND; location / { return 200 "hello from the backend\n"; } }
  server { listen 127.0.0.1:$H2_BACKEND http2; location / { return 200 "hello from the backend\n"; } } }
NGX
cat > "$work/nginx-proxy.conf" <<NGX
worker_processes 1; daemon off; pid $work/nginx-proxy.pid; error_log $work/nginx-proxy.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 1000000;
  upstream backend { server 127.0.0.1:$BACKEND; keepalive 64; }
  server { listen 127.0.0.1:$P_NGINX;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } }
  server { listen 127.0.0.1:$H2_NGINX http2;
    location / { proxy_pass http://backend; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
NGX
cat > "$work/haproxy.cfg" <<HAP
global
  nbthread 1
  maxconn 4096
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s
  option http-keep-alive
frontend fe
  bind 127.0.0.1:$P_HAPROXY
  default_backend be
frontend fe2
  bind 127.0.0.1:$H2_HAPROXY proto h2
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$BACKEND
HAP
cat > "$work/mesh.yaml" <<YAML
static_resources:
  listeners:
  - name: bench
    address: {socket_address: {address: 127.0.0.1, port_value: $P_MESH}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: bench
          route_config:
            virtual_hosts:
            - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: backend}}]}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
  clusters:
  - name: backend
    type: STATIC
    load_assignment:
      cluster_name: backend
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $BACKEND}}}}]}]
YAML

if [ "$MTLS" != 0 ]; then
certs="$work/certs"
mesh_certs "$certs" bench client server
SERVER_ID=spiffe://cluster.local/ns/bench/sa/server
# The sidecar's secrets as the agent's SDS would serve them (`default` and `ROOTCA`), here static.
mesh_secrets() { # <workload>
  cat <<YAML
  secrets:
  - name: default
    tls_certificate: {certificate_chain: {filename: $certs/$1.pem}, private_key: {filename: $certs/$1.key}}
  - name: ROOTCA
    validation_context: {trusted_ca: {filename: $certs/root.pem}}
YAML
}
mesh_hcm() { # <stat prefix> <cluster>
  cat <<YAML
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: $1
          route_config:
            virtual_hosts:
            - {name: all, domains: ["*"], routes: [{match: {prefix: "/"}, route: {cluster: "$2"}}]}
          http_filters:
          - name: envoy.filters.http.router
            typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}
YAML
}
# Server side: Istio's inbound shape, mTLS required against ROOTCA, no SAN check (that is RBAC's job).
{ cat <<YAML
admin: {address: {socket_address: {address: 127.0.0.1, port_value: $M_MESH_IN_ADMIN}}}
static_resources:
YAML
  mesh_secrets server
  cat <<YAML
  listeners:
  - name: inbound
    address: {socket_address: {address: 127.0.0.1, port_value: $M_MESH_IN}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificate_sds_secret_configs: [{name: default}]
            combined_validation_context:
              default_validation_context: {}
              validation_context_sds_secret_config: {name: ROOTCA}
      filters:
YAML
  mesh_hcm inbound "inbound|80||"
  cat <<YAML
  clusters:
  - name: "inbound|80||"
    type: STATIC
    load_assignment:
      cluster_name: "inbound|80||"
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $BACKEND}}}}]}]
YAML
} > "$work/mesh-mtls-in.yaml"
# Client side: Istio's outbound cluster shape, the server's SPIFFE id matched, Istio's ALPN.
{ cat <<YAML
admin: {address: {socket_address: {address: 127.0.0.1, port_value: $M_MESH_OUT_ADMIN}}}
static_resources:
YAML
  mesh_secrets client
  cat <<YAML
  listeners:
  - name: outbound
    address: {socket_address: {address: 127.0.0.1, port_value: $M_MESH_OUT}}
    filter_chains:
    - filters:
YAML
  mesh_hcm outbound "outbound|80||server.bench.svc.cluster.local"
  cat <<YAML
  clusters:
  - name: "outbound|80||server.bench.svc.cluster.local"
    type: STATIC
    load_assignment:
      cluster_name: "outbound|80||server.bench.svc.cluster.local"
      endpoints: [{lb_endpoints: [{endpoint: {address: {socket_address: {address: 127.0.0.1, port_value: $M_MESH_IN}}}}]}]
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        common_tls_context:
          alpn_protocols: [istio-peer-exchange, istio]
          tls_certificate_sds_secret_configs: [{name: default}]
          combined_validation_context:
            default_validation_context:
              match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: "$SERVER_ID"}}]
            validation_context_sds_secret_config: {name: ROOTCA}
YAML
} > "$work/mesh-mtls-out.yaml"
hap_head() { printf 'global\n  nbthread 1\n  maxconn 4096\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n  option http-keep-alive\n'; }
{ hap_head; cat <<HAP
frontend inbound
  bind 127.0.0.1:$M_HAP_IN ssl crt $certs/server-bundle.pem ca-file $certs/root.pem verify required
  default_backend be
backend be
  http-reuse always
  server s1 127.0.0.1:$BACKEND
HAP
} > "$work/haproxy-mtls-in.cfg"
# haproxy 2.6 cannot match a URI SAN in the handshake (verifyhost checks DNS SANs and the CN only).
# The closest: the chain is verified in the handshake, and every response is refused unless the
# server's certificate (DER) holds the SAN as a URI GeneralName (tag 0x86, length, the id's bytes);
# a per-response check where mesh-proxy checks once per handshake. HAPROXY_SAN=none: chain only.
san_hex=$(printf '86%02X' ${#SERVER_ID}; printf %s "$SERVER_ID" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
{ hap_head; cat <<HAP
frontend outbound
  bind 127.0.0.1:$M_HAP_OUT
  default_backend server
backend server
  http-reuse always
  server s1 127.0.0.1:$M_HAP_IN ssl crt $certs/client-bundle.pem ca-file $certs/root.pem verify required alpn istio-peer-exchange,istio
HAP
  [ "$HAPROXY_SAN" = none ] || echo "  http-response deny unless { ssl_s_der,hex -m sub $san_hex }"
} > "$work/haproxy-mtls-out.cfg"
fi

taskset -c "$other" nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db & pids+=($!); pid_haproxy=$!
taskset -c 0 nginx -c "$work/nginx-proxy.conf" -p "$work" & pids+=($!); pid_nginx=$!
taskset -c 0 java $JVM_FLAGS -jar "$jar" -c "$work/mesh.yaml" --concurrency 1 --log-level warn & pids+=($!); pid_mesh=$!
start_mtls() {
  taskset -c 0 haproxy -f "$work/haproxy-mtls-in.cfg" -db & pids+=($!); pid_hap_in=$!
  taskset -c 0 haproxy -f "$work/haproxy-mtls-out.cfg" -db & pids+=($!); pid_hap_out=$!
  taskset -c 0 java $JVM_FLAGS -jar "$jar" -c "$work/mesh-mtls-in.yaml" --concurrency 1 --log-level warn & pids+=($!); pid_mesh_in=$!
  taskset -c 0 java $JVM_FLAGS -jar "$jar" -c "$work/mesh-mtls-out.yaml" --concurrency 1 --log-level warn & pids+=($!); pid_mesh_out=$!
}
[ "$MTLS" = 0 ] || [ "${1:-}" != "--smoke" ] || start_mtls

wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
for p in $BACKEND $P_HAPROXY $P_NGINX $P_MESH $H2_BACKEND $H2_HAPROXY $H2_NGINX; do wait_port $p; done
# nginx's master forks the worker that serves: measure the worker.
worker_of() { pgrep -P "$1" | head -1 || echo "$1"; }
cpu_ticks() { awk '{print $14+$15}' /proc/$1/stat 2>/dev/null || echo 0; }
hwm_kb() { awk '/VmHWM/{print $2}' /proc/$1/status 2>/dev/null || echo 0; }
hz=$(getconf CLK_TCK)

run() { # name port pid
  local name=$1 port=$2 pid=$3
  taskset -c "$other" wrk -t1 -c$CONNS -d$((DURATION < 5 ? 1 : 5))s "http://127.0.0.1:$port/" >/dev/null  # warm-up
  local t0; t0=$( [ "$pid" = 0 ] && echo 0 || cpu_ticks "$pid")
  local out; out=$(taskset -c "$other" wrk -t1 -c$CONNS -d${DURATION}s "http://127.0.0.1:$port/")
  local t1; t1=$( [ "$pid" = 0 ] && echo 0 || cpu_ticks "$pid")
  local reqs rps; reqs=$(echo "$out" | awk '/requests in/{print $1}'); rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  local log="$work/$name.lat"
  taskset -c "$other" h2load --h1 -c 10 --rps $((RATE / 10)) -D $DURATION --log-file "$log" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  local p50 p99; read -r p50 p99 < <(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "- -"} else {printf "%.3f %.3f\n", a[int(NR*0.50)+1]/1000, a[int(NR*0.99)]/1000}}')
  local cpu_us="-"; [ "$pid" != 0 ] && cpu_us=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$reqs" 'BEGIN{printf "%.1f", d/hz*1e6/n}')
  local rss="-"; [ "$pid" != 0 ] && rss=$(awk -v k="$(hwm_kb "$pid")" 'BEGIN{printf "%.1f", k/1024}')
  echo "$name $rps $p50 $p99 $cpu_us $rss"
}
if [ "$MTLS" != only ]; then
{
  run direct $BACKEND 0
  run haproxy $P_HAPROXY $pid_haproxy
  run nginx $P_NGINX "$(worker_of $pid_nginx)"
  run mesh-proxy $P_MESH $pid_mesh
} > "$work/results"
echo "duration ${DURATION}s per target, $CONNS connections, latency at $RATE rps; proxies pinned to CPU 0"
[ "${1:-}" = "--smoke" ] && echo "smoke run: seconds per target, JVM not warmed up; it proves the script works, the figures mean nothing"
awk 'NR==FNR { if ($1=="haproxy") { hr=$2; hc=$5 } ; next }
     FNR==1 { printf "%-11s %12s %9s %9s %12s %9s %10s %10s\n", "target", "req/s", "p50 ms", "p99 ms", "cpu us/req", "RSS MB", "rps/hap", "cpu/hap" }
     { r = ($2 && hr) ? sprintf("%.2f", $2/hr) : "-"; c = ($5 != "-" && hc != "-" && hc > 0) ? sprintf("%.2f", $5/hc) : "-";
       printf "%-11s %12s %9s %9s %12s %9s %10s %10s\n", $1, $2, $3, $4, $5, $6, r, c }' "$work/results" "$work/results"

h2() { # name port: requests/s over HTTP/2 at saturation, after a warm-up like HTTP/1.1's
  taskset -c "$other" h2load -c "$CONNS" -m 10 -D $((DURATION < 5 ? 1 : 5)) "http://127.0.0.1:$2/" >/dev/null 2>&1
  local out; out=$(taskset -c "$other" h2load -c "$CONNS" -m 10 -D "$DURATION" "http://127.0.0.1:$2/" 2>&1)
  echo "$1 $(echo "$out" | awk '/^finished in/{print $4}') $(echo "$out" | awk '/^requests:/{print $10}')"
}
{
  h2 direct $H2_BACKEND
  h2 haproxy $H2_HAPROXY
  h2 nginx $H2_NGINX
  h2 mesh-proxy $P_MESH
} > "$work/h2"
echo
echo "HTTP/2 (h2c prior knowledge, $CONNS connections x 10 streams, HTTP/1.1 to the backend)"
awk 'NR==FNR { if ($1=="haproxy") hr=$2; next }
     FNR==1 { printf "%-11s %12s %10s %10s\n", "target", "req/s", "failed", "rps/hap" }
     { printf "%-11s %12s %10s %10s\n", $1, $2, $3, (hr ? sprintf("%.2f", $2/hr) : "-") }' "$work/h2" "$work/h2"
fi

[ "$MTLS" != 0 ] || exit 0
# Started now, so that they take nothing from the rows above while those are measured (in a smoke
# run, at the start, to hide their start-up).
[ -n "${pid_mesh_out:-}" ] || start_mtls
for p in $M_HAP_IN $M_HAP_OUT $M_MESH_IN $M_MESH_OUT; do wait_port $p; done
jit_ticks() { # pid...: CPU ticks of their JIT compiler threads (none for haproxy)
  local p t n=0
  for p in "$@"; do
    for t in /proc/$p/task/*; do
      case "$(cat "$t/comm" 2>/dev/null)" in C[12]\ CompilerThre*) n=$((n + $(awk '{print $14+$15}' "$t/stat"))) ;; esac
    done
  done
  echo $n
}
warm() { # name pid... -- command: rounds of the command (it takes $WARM_ROUND seconds) until the JIT settles
  local name=$1; shift; local pids=(); while [ "$1" != -- ]; do pids+=("$1"); shift; done; shift
  local spent=0 j0 j1
  while :; do
    j0=$(jit_ticks "${pids[@]}"); "$@" >/dev/null 2>&1 || true; j1=$(jit_ticks "${pids[@]}")
    spent=$((spent + WARM_ROUND))
    [ $(((j1 - j0) * 100)) -lt $((WARM_ROUND * hz * 5)) ] && break
    [ "$spent" -lt "$WARM_MAX" ] || { echo "bench: $name: the JIT still compiling after ${spent}s of warm-up ($(((j1 - j0) * 100 / (WARM_ROUND * hz))) % of a CPU)" >&2; break; }
  done
  echo "$name $spent" >> "$work/warm"
}
mtls() { # name port pid-of-client-side pid-of-server-side: the two hops' keep-alive figures
  local name=$1 port=$2 po=$3 pi=$4
  warm "$name keep-alive" "$po" "$pi" -- taskset -c "$other" wrk -t1 -c$CONNS -d${WARM_ROUND}s "http://127.0.0.1:$port/"
  local o0 i0 o1 i1 out reqs rps
  local j0 j1; o0=$(cpu_ticks "$po"); i0=$(cpu_ticks "$pi"); j0=$(jit_ticks "$po" "$pi")
  out=$(taskset -c "$other" wrk -t1 -c$CONNS -d${M_DURATION}s "http://127.0.0.1:$port/")
  o1=$(cpu_ticks "$po"); i1=$(cpu_ticks "$pi"); j1=$(jit_ticks "$po" "$pi")
  reqs=$(echo "$out" | awk '/requests in/{print $1}'); rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  local errs; errs=$(echo "$out" | awk '/Non-2xx|Socket errors/{printf "%s ", $0}')
  [ -z "$errs" ] || echo "bench: $name: $errs" >&2
  local log="$work/$name.lat"
  taskset -c "$other" h2load --h1 -c 10 --rps $((RATE / 10)) -D "$M_DURATION" --log-file "$log" "http://127.0.0.1:$port/" >/dev/null 2>&1 || true
  local p50 p99; read -r p50 p99 < <(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "- -"} else {printf "%.3f %.3f\n", a[int(NR*0.50)+1]/1000, a[int(NR*0.99)]/1000}}')
  local cpu_us; cpu_us=$(awk -v d=$((o1 - o0 + i1 - i0)) -v hz="$hz" -v n="${reqs:-0}" 'BEGIN{if (n > 0) printf "%.1f", d/hz*1e6/n; else print "-"}')
  local jit; jit=$(awk -v j=$((j1 - j0)) -v d=$((o1 - o0 + i1 - i0)) 'BEGIN{printf "%.0f", d ? j*100/d : 0}')
  echo "$name $rps $p50 $p99 $cpu_us $(awk -v a="$(hwm_kb "$po")" -v b="$(hwm_kb "$pi")" 'BEGIN{printf "%.1f %.1f", a/1024, b/1024}') $jit"
}
s_time() ( # port seconds: new TLS connections (full handshakes, no request) from HS_CLIENTS openssl s_time, their sum
  local i
  for i in $(seq 1 "$HS_CLIENTS"); do
    taskset -c "$other" openssl s_time -connect "127.0.0.1:$1" -new -time "$2" \
      -cert "$certs/client.pem" -key "$certs/client.key" > "$work/s_time.$i" 2>&1 &
  done
  wait
  cat "$work"/s_time.* | awk '/connections in .* real seconds/{n+=$1} END{print n+0}'
)
handshakes() { # name port pid-of-server-side [admin port]: new mTLS handshakes on the server side, per second of its CPU
  local name=$1 port=$2 pid=$3 admin=${4:-}
  warm "$name handshakes" "$pid" -- s_time "$port" "$WARM_ROUND"
  local h0=0 h1=0 t0 t1 n w0 w1
  [ -z "$admin" ] || h0=$(curl -s "http://127.0.0.1:$admin/stats" | awk -v k="listener.127.0.0.1_$port.ssl.handshake:" '$1==k{print $2}')
  local j0 j1; t0=$(cpu_ticks "$pid"); j0=$(jit_ticks "$pid"); w0=$(date +%s.%N)
  n=$(s_time "$port" "$HS_DURATION")
  t1=$(cpu_ticks "$pid"); j1=$(jit_ticks "$pid"); w1=$(date +%s.%N)
  if [ -n "$admin" ]; then
    h1=$(curl -s "http://127.0.0.1:$admin/stats" | awk -v k="listener.127.0.0.1_$port.ssl.handshake:" '$1==k{print $2}')
    # s_time counts a handshake once its side is done; the server's own count is the one that matters.
    [ "$((h1 - h0))" -ge "$((n * 9 / 10))" ] || echo "bench: $name: s_time counted $n handshakes, the proxy $((h1 - h0))" >&2
  fi
  awk -v n="$n" -v d=$((t1 - t0)) -v j=$((j1 - j0)) -v hz="$hz" -v w="$(awk -v a="$w0" -v b="$w1" 'BEGIN{print b-a}')" -v name="$name" \
    'BEGIN{ us = n ? d/hz*1e6/n : 0; printf "%s %.0f %.1f %s %.0f %.0f\n", name, n/w, us, (us ? sprintf("%.0f", 1e6/us) : "-"), d/hz*100/w, d ? j*100/d : 0 }'
}
# Both peers accept the workload certificate (s_time alone would count a refused TLS 1.3 handshake).
for p in $M_HAP_IN $M_MESH_IN; do
  reply=$(printf 'GET / HTTP/1.1\r\nHost: server\r\nConnection: close\r\n\r\n' |
    timeout 5 openssl s_client -quiet -connect "127.0.0.1:$p" -cert "$certs/client.pem" -key "$certs/client.key" 2>&1 || true)
  case "$reply" in *"hello from the backend"*) ;; *) echo "bench: the server side on $p refused the client's certificate: $reply" >&2; exit 1 ;; esac
done
if [ "${1:-}" = "--smoke" ]; then # no rows (a cold JVM's figures mean nothing): one request through each pair
  for p in $M_HAP_OUT $M_MESH_OUT; do
    reply=$(curl -s --max-time 10 "http://127.0.0.1:$p/" || true)
    [ "$reply" = "hello from the backend" ] || { echo "bench: no answer through the mTLS pair at $p: $reply" >&2; exit 1; }
  done
  echo
  echo "mTLS (smoke: no figures): haproxy's and mesh-proxy's pairs each served a request through mutual TLS"
  exit 0
fi
{
  mtls haproxy $M_HAP_OUT $pid_hap_out $pid_hap_in
  mtls mesh-proxy $M_MESH_OUT $pid_mesh_out $pid_mesh_in
} > "$work/mtls"
echo
echo "mTLS, sidecar to sidecar: wrk -> client-side proxy -(mTLS, workload certs)-> server-side proxy -> backend; both proxies on CPU 0"
echo "${M_DURATION}s per target after a warm-up until the JIT settles ($(awk '/keep-alive/{printf "%s%s %ss", (n++ ? ", " : ""), $1, $3}' "$work/warm")), $CONNS connections, latency at $RATE rps"
echo "(cpu us/req: both proxies together, jit %: the part of it in JIT compiler threads; RSS out/in: peak RSS MB of the client and"
echo " the server side; haproxy's SAN check: ${HAPROXY_SAN})"
awk 'NR==FNR { if ($1=="haproxy") { hr=$2; hc=$5 } ; next }
     FNR==1 { printf "%-11s %12s %9s %9s %12s %6s %9s %9s %10s %10s\n", "target", "req/s", "p50 ms", "p99 ms", "cpu us/req", "jit %", "RSS out", "RSS in", "rps/hap", "cpu/hap" }
     { printf "%-11s %12s %9s %9s %12s %6s %9s %9s %10s %10s\n", $1, $2, $3, $4, $5, $8, $6, $7,
         (hr ? sprintf("%.2f", $2/hr) : "-"), (hc > 0 && $5 != "-" ? sprintf("%.2f", $5/hc) : "-") }' "$work/mtls" "$work/mtls"
{
  handshakes haproxy $M_HAP_IN $pid_hap_in
  handshakes mesh-proxy $M_MESH_IN $pid_mesh_in $M_MESH_IN_ADMIN
} > "$work/hs"
echo
echo "new mTLS handshakes (TLS 1.3, ECDSA P-256, client certificate required): $HS_CLIENTS openssl s_time on the other CPUs -> server-side proxy"
echo "on CPU 0, ${HS_DURATION}s after a warm-up until the JIT settles ($(awk '/handshakes/{printf "%s%s %ss", (n++ ? ", " : ""), $1, $3}' "$work/warm"))"
echo "(hs/core: handshakes per second of the proxy's own CPU time; cpu %: of CPU 0 during the run; jit %: of the proxy's CPU)"
awk 'NR==FNR { if ($1=="haproxy") hr=$4; next }
     FNR==1 { printf "%-11s %12s %12s %12s %9s %6s %10s\n", "target", "hs/s", "cpu us/hs", "hs/core", "cpu %", "jit %", "core/hap" }
     { printf "%-11s %12s %12s %12s %9s %6s %10s\n", $1, $2, $3, $4, $5, $6, (hr && $4 != "-" ? sprintf("%.2f", $4/hr) : "-") }' "$work/hs" "$work/hs"
