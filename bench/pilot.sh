#!/usr/bin/env bash
# mesh-pilot at scale: a generated registry (1,000 services x 3 endpoints, 100 VirtualServices) in
# a config directory, pilot as a child process, 1,000 simulated sidecars (ADS streams of grpc-java)
# in one process. Prints: time until every client has a full config; convergence p50 and p99
# after one endpoint change and after one VirtualService change; pilot's CPU seconds and peak RSS.
# No peer can run here (no Kubernetes, no istiod): compare with Istio's published figures
# (docs/pilot.md).
# Usage: bench/pilot.sh [--smoke]   (--smoke: 100 services, 100 clients, to prove the script works)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
SERVICES=${SERVICES:-1000}; ENDPOINTS=${ENDPOINTS:-3}; VS=${VS:-100}; CLIENTS=${CLIENTS:-1000}
# delta (incremental) xDS, as Istio sidecars use by default since 1.22; PROTOCOL=sotw for the other
PROTOCOL=${PROTOCOL:-delta}
if [ "${1:-}" = "--smoke" ]; then SERVICES=100; VS=10; CLIENTS=100; fi
PILOT_JVM_FLAGS=${PILOT_JVM_FLAGS:-"-Xmx1g -XX:+UseParallelGC"}
cd "$root"
jar="$root/mesh-pilot/target/mesh-pilot.jar"
[ -f "$jar" ] || ./mvnw -B -q -DskipTests -Djib.skip -pl mesh-pilot -am install
[ -d mesh-pilot/target/test-classes/dev/mesh/pilot/bench ] || ./mvnw -B -q -DskipTests -pl mesh-pilot test-compile
work=$(mktemp -d); trap '[ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
. "$root/bench/lib.sh"
cp=$(module_classpath mesh-pilot "$work")
[ "${1:-}" = "--smoke" ] && echo "smoke run: a small registry; it proves the script works, the figures mean nothing"
java -Xmx2g -cp "$cp" dev.mesh.pilot.bench.PilotScale "$jar" "$work" "$SERVICES" "$ENDPOINTS" "$VS" "$CLIENTS" "$PILOT_JVM_FLAGS" "$PROTOCOL"
