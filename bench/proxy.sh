#!/usr/bin/env bash
# mesh-proxy against haproxy and nginx, in one run, on loopback.
# Same nginx backend, same CPU pinning (proxies on CPU 0; backend and load on the other CPUs),
# one worker/thread each, keep-alive on both sides.
# Prints per target: requests/s at saturation (wrk), p50/p99 latency at a fixed rate (h2load
# --rps with --log-file), CPU time per request and peak RSS (from /proc), and the ratio to haproxy.
# Usage: bench/proxy.sh [--smoke]   (--smoke: a few seconds per target, to prove the script works)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-15}; RATE=${RATE:-1000}; CONNS=${CONNS:-32}
if [ "${1:-}" = "--smoke" ]; then DURATION=2; RATE=200; fi
for tool in nginx haproxy wrk h2load taskset java; do
  command -v $tool >/dev/null || { echo "bench/proxy.sh needs $tool: apt-get install nginx-light haproxy wrk nghttp2-client util-linux" >&2; exit 1; }
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

taskset -c "$other" nginx -c "$work/backend.conf" -p "$work" & pids+=($!)
taskset -c 0 haproxy -f "$work/haproxy.cfg" -db & pids+=($!); pid_haproxy=$!
taskset -c 0 nginx -c "$work/nginx-proxy.conf" -p "$work" & pids+=($!); pid_nginx=$!
taskset -c 0 java $JVM_FLAGS -jar "$jar" -c "$work/mesh.yaml" --concurrency 1 --log-level warn & pids+=($!); pid_mesh=$!

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
