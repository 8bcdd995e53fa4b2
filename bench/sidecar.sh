#!/usr/bin/env bash
# The sidecar on the local cluster (mesh-local): pilot, the injector, and two injected pods, a
# client and a server (mesh/echo), each with its istio-proxy container (mesh-agent hosting
# mesh-proxy in one JVM, the injection template's flags). h2load runs in the client pod's network
# namespace as the app's uid (1000) against the server's service, so each request is captured by
# the client's sidecar and delivered through the server's, at a fixed rate (--h1 --rps), after a
# warm-up. Two phases: (a) pilot knows only that pair; (b) pilot also serves 1,000 Services with 3
# endpoints each (bench/pilot.sh's registry, applied to the local API), and the pods start afresh.
# Prints per istio-proxy container: RSS and PSS of all its processes (/proc/<pid>/smaps_rollup) at
# idle, peak under load and after; CPU per request (utime+stime over the measured run / requests);
# the time from the container's process start to /healthz/ready (the agent's "proxy ready" line);
# and the load generator's own CPU, latency p50/p99, and the rate held.
# CPU pinning (two or more CPUs): everything on CPU 1.. (this driver and all it starts: pilot, the
# injector, the apps, h2load), and both istio-proxy containers moved to CPU 0 once ready.
# No peer runs here: compare with Istio's published sidecar figures (docs/proxy.md).
# Usage: bench/sidecar.sh [--smoke] [--nmt]
#   --smoke  a few seconds per phase and 100 services, to prove the script works
#   --nmt    the sidecars with -XX:NativeMemoryTracking=summary (via proxyMetadata's
#            JAVA_TOOL_OPTIONS), and their NMT summary under load (NMT itself costs a few MB)
# Needs root (network namespaces), h2load (nghttp2-client), taskset, iptables, iproute2.
# SIDECAR_ENV="NAME=value;...": more variables for the sidecars (proxyMetadata), e.g.
#   SIDECAR_ENV="JAVA_TOOL_OPTIONS=-XX:TrimNativeHeapInterval=5000;MALLOC_ARENA_MAX=2"
# MVN_ARGS: extra arguments for the build, e.g. -Dmaven.repo.local=...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-30}; WARMUP=${WARMUP:-10}; RATE=${RATE:-1000}; SERVICES=${SERVICES:-1000}
nmt=""
for a in "$@"; do
  case "$a" in
    --smoke) DURATION=3; WARMUP=1; RATE=200; SERVICES=100 ;;
    --nmt) nmt=nmt ;;
    *) echo "usage: bench/sidecar.sh [--smoke] [--nmt]" >&2; exit 2 ;;
  esac
done
for tool in h2load taskset java ip iptables setpriv; do
  command -v $tool >/dev/null || { echo "bench/sidecar.sh needs $tool: apt-get install nghttp2-client util-linux iproute2 iptables" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "bench/sidecar.sh needs root: the local cluster's pods are network namespaces" >&2; exit 1; }
cd "$root"
for jar in mesh-istioctl/target/meshctl.jar mesh-pilot/target/mesh-pilot.jar mesh-injector/target/mesh-injector.jar \
    mesh-agent/target/mesh-agent.jar mesh-init/target/mesh-init.jar; do
  [ -f "$jar" ] || { ./mvnw -B -q -DskipTests -Djib.skip ${MVN_ARGS:-} package; break; }
done
ncpu=$(nproc); pin=(); proxy_cpu=""
if [ "$ncpu" -ge 2 ]; then pin=(taskset -c "1-$((ncpu-1))"); proxy_cpu=0; fi
[ "${DURATION}" -lt 10 ] && echo "smoke run: a few seconds per phase; it proves the script works, the figures mean little"
# meshctl.jar holds mesh-local; the driver is one source file, run by the java launcher.
exec "${pin[@]}" java -Xmx512m -cp mesh-istioctl/target/meshctl.jar bench/SidecarBench.java \
  "$root" "$DURATION" "$WARMUP" "$RATE" "$SERVICES" "$proxy_cpu" "$nmt"
