#!/usr/bin/env bash
# Builds Kubernetes' control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl) with `go build` from the Go modules pinned beside this script, into a
# cache outside the clone keyed by the pinned versions, and reuses them when all five are there.
#
# Why: no release binaries, images or kind can be had on our machines, only the Go module proxy, so
# the real control plane of the local cluster is built here (docs/local-cluster.md, "Kubernetes'
# binaries"). A cold build takes minutes; the cache makes every later run cost nothing.
#
# Usage: install/kube/build.sh [--if-no-go=exit|warn|fail] [--rebuild]
#   --if-no-go=exit  (default) without a usable Go toolchain, say so and exit 3: the caller decides
#   --if-no-go=warn  say that the e2e suite will use the embedded API, and exit 0 (Maven's step)
#   --if-no-go=fail  say so and exit 1 (Maven's step under CI=true)
#   --rebuild        build even if the cache holds the binaries
# Environment: MESH_KUBE_CACHE (default ~/.cache/mesh/kube); the Go module and build caches are
# Go's own (~/go/pkg/mod, ~/.cache/go-build).
# Prints one line per binary, the cold build's time, and the bin directory as its last line.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
if_no_go=exit
rebuild=false
for arg in "$@"; do
  case "$arg" in
    --if-no-go=exit | --if-no-go=warn | --if-no-go=fail) if_no_go="${arg#--if-no-go=}" ;;
    --rebuild) rebuild=true ;;
    *)
      echo "usage: $0 [--if-no-go=exit|warn|fail] [--rebuild]" >&2
      exit 2
      ;;
  esac
done

# The one source of truth for the versions (KubeBinaries reads the same file).
# shellcheck source=versions.env
source "$here/versions.env"
: "${KUBE_VERSION:?versions.env sets no KUBE_VERSION}" "${ETCD_VERSION:?versions.env sets no ETCD_VERSION}"

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl)
cache="${MESH_KUBE_CACHE:-${HOME:?}/.cache/mesh/kube}"
release="$cache/${KUBE_VERSION}-etcd${ETCD_VERSION}"
bin="$release/bin"

no_go() {
  case "$if_no_go" in
    warn)
      echo "kube: $1; the Kubernetes binaries are not built, the e2e suite will use the embedded API"
      exit 0
      ;;
    fail)
      echo "kube: $1; the Kubernetes binaries cannot be built (CI needs them: install Go 1.26)" >&2
      exit 1
      ;;
    *)
      echo "kube: $1; the Kubernetes binaries cannot be built" >&2
      exit 3
      ;;
  esac
}

# The modules must require what versions.env says, or the cache key would lie about its contents.
require_pinned() {
  local mod="$1" module="$2" version="$3"
  if ! grep -Eq "^(require[[:space:]]+)?[[:space:]]*${module//./\\.}[[:space:]]+${version//./\\.}([[:space:]]|$)" "$mod"; then
    echo "kube: $mod does not require $module $version as versions.env says; update one of them" >&2
    exit 1
  fi
}
require_pinned "$here/kubernetes/go.mod" k8s.io/kubernetes "$KUBE_VERSION"
require_pinned "$here/etcd/go.mod" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
# Kubernetes v1.X.Y's staging modules are released as v0.X.Y: every replace line must say so.
staging_version="v0.${KUBE_VERSION#v1.}"
if grep -E '^[[:space:]]*k8s\.io/[^ ]+ => k8s\.io/[^ ]+ v' "$here/kubernetes/go.mod" |
  grep -v " ${staging_version}\$" | grep -q .; then
  echo "kube: kubernetes/go.mod replaces a staging module with a version other than $staging_version" >&2
  exit 1
fi

# What the binaries are made from besides the versions: the module files and this recipe. A change
# to any of them (a replace line, a flag) rebuilds; the Go toolchain's patch version does not.
recipe_version=1
inputs="$(cat "$here/kubernetes/go.mod" "$here/kubernetes/go.sum" "$here/etcd/go.mod" \
  "$here/etcd/go.sum" <(echo "recipe $recipe_version") | sha256sum | cut -d' ' -f1)"

all_present() {
  local b
  for b in "${binaries[@]}"; do
    [ -x "$bin/$b" ] || return 1
  done
  [ "$(cat "$release/inputs.sha256" 2>/dev/null)" = "$inputs" ]
}

report_cached() {
  local b
  for b in "${binaries[@]}"; do
    echo "kube: reusing $b ($(du -m "$bin/$b" | cut -f1) MB)"
  done
  if [ -f "$release/build-time" ]; then
    echo "kube: $(cat "$release/build-time")"
  fi
  echo "$bin"
}

if ! $rebuild && all_present; then
  report_cached
  exit 0
fi

# Go's own install location, for shells (CI's, Maven's) whose PATH does not name it.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || no_go "no Go toolchain (go is not on PATH)"
go_version="$(go env GOVERSION 2>/dev/null || true)"
# go.mod says go 1.26.0: an older go would try to fetch a toolchain; we use the machine's own.
case "$go_version" in
  go1.2[6-9]* | go1.[3-9][0-9]* | go[2-9]*) ;;
  *) no_go "Go ${go_version:-of unknown version} is older than the 1.26 these modules need" ;;
esac

mkdir -p "$cache"
# One build per release at a time: a second caller waits, then finds the binaries.
exec 9>"$release.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
  echo "kube: another build of $KUBE_VERSION/etcd $ETCD_VERSION is running; waiting for it"
  flock 9
  if ! $rebuild && all_present; then
    report_cached
    exit 0
  fi
fi

staging="$release.building"
rm -rf "$staging"
mkdir -p "$staging/bin"

export CGO_ENABLED=0
export GOTOOLCHAIN=local
# -mod=readonly: the committed go.sum decides, a build never edits go.mod. -buildvcs=false: the
# binaries are Kubernetes' and etcd's, not this repository's, and a fresh clone may have no git.
export GOFLAGS="-mod=readonly -buildvcs=false"

build_date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
minor="${KUBE_VERSION#v1.}"
minor="${minor%%.*}"
# As Kubernetes' hack/lib/version.sh stamps a release (client-go's and component-base's copies);
# the module proxy carries no git commit, and "archive" is Kubernetes' word for a tree not from git.
kube_ldflags="-s -w"
for key_val in "gitVersion=$KUBE_VERSION" "gitMajor=1" "gitMinor=$minor" "gitTreeState=archive" \
  "gitCommit=" "buildDate=$build_date"; do
  kube_ldflags+=" -X k8s.io/client-go/pkg/version.$key_val -X k8s.io/component-base/version.$key_val"
done
# Kubernetes' release build tags (hack/lib/golang.sh): no test code, no x/net trace in grpc.
kube_tags="selinux,notest,grpcnotrace"
etcd_ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=go-module-$ETCD_VERSION"

echo "kube: building Kubernetes $KUBE_VERSION and etcd $ETCD_VERSION with $go_version on $(nproc) cores (load $(cut -d' ' -f1 /proc/loadavg)) into $bin"
started=$SECONDS

build_one() {
  local name="$1" dir="$2" package="$3" tags="$4" ldflags="$5" t0=$SECONDS
  (cd "$dir" && go build -trimpath -tags "$tags" -ldflags "$ldflags" -o "$staging/bin/$name" "$package")
  echo "kube: built $name in $((SECONDS - t0)) s ($(du -m "$staging/bin/$name" | cut -f1) MB)"
}

# Modules first, so that a proxy failure says so before minutes of compiling.
(cd "$here/etcd" && go mod download) || {
  echo "kube: cannot download etcd's modules from the Go module proxy" >&2
  exit 1
}
(cd "$here/kubernetes" && go mod download) || {
  echo "kube: cannot download Kubernetes' modules from the Go module proxy" >&2
  exit 1
}
echo "kube: modules ready in $((SECONDS - started)) s"

build_one etcd "$here/etcd" go.etcd.io/etcd/server/v3 "" "$etcd_ldflags"
for name in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build_one "$name" "$here/kubernetes" "k8s.io/kubernetes/cmd/$name" "$kube_tags" "$kube_ldflags"
done

elapsed=$((SECONDS - started))
echo "cold build took $elapsed s on $(nproc) cores with $go_version, $build_date (Go's module and build caches as they were; load at the end $(cut -d' ' -f1 /proc/loadavg))" \
  >"$staging/build-time"
echo "$inputs" >"$staging/inputs.sha256"
rm -rf "$release"
mv "$staging" "$release"
echo "kube: $(cat "$release/build-time")"
echo "$bin"
