#!/usr/bin/env bash
# mesh-injector's review latency: the injector's jar with an API server (fabric8's mock) and with
# none reachable; AdmissionReviews one after another over HTTPS, as an API server sends them, after
# a warm-up. Prints p50, p99 and max per case. The API server waits at most 10 s for a webhook whose
# failurePolicy is Fail: the answer must never wait on the API server (target: p99 <= 10 ms).
# Usage: bench/injector.sh [--smoke]   (--smoke: a few reviews, to prove the script works)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-5000}
[ "${1:-}" = "--smoke" ] && N=200
cd "$root"
jar="$root/mesh-injector/target/mesh-injector.jar"
[ -f "$jar" ] || ./mvnw -B -q -DskipTests -Djib.skip -pl mesh-injector -am install
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
. "$root/bench/lib.sh"
cp=$(module_classpath mesh-injector "$work")
[ "${1:-}" = "--smoke" ] && echo "smoke run: a few reviews; it proves the script works, the figures mean nothing"
printf "%-28s %8s %9s %9s %9s\n" "case" "reviews" "p50 ms" "p99 ms" "max ms"
for mode in present absent; do
  java -cp "$cp" dev.mesh.injector.bench.ReviewLatency "$jar" "$mode" "$N"
done
