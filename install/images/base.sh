#!/usr/bin/env bash
# Makes install/images/target/base.tar: the base of the mesh's images, from Debian's packages
# (a minbase Debian with the Java 17 runtime, iptables and setpriv), as the tarball `docker save`
# writes, which jib takes as `tar://`. The build then uses it instead of scratch (docs/images.md).
# Needs root (debootstrap, chroot), debootstrap, and Debian's mirror (MIRROR, deb.debian.org).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
suite=${SUITE:-bookworm}
mirror=${MIRROR:-http://deb.debian.org/debian}
out=$here/target
work=$(mktemp -d /tmp/mesh-$$-base-XXXXXX)
trap 'rm -rf "$work"' EXIT

if [ "$(id -u)" != 0 ]; then
  echo "base.sh needs root: debootstrap and chroot build the base's filesystem" >&2
  exit 1
fi
if ! command -v debootstrap >/dev/null 2>&1; then
  echo "base.sh needs debootstrap: apt-get install debootstrap" >&2
  exit 1
fi

root=$work/rootfs
echo "base: debootstrap $suite from $mirror"
debootstrap --variant=minbase --include=openjdk-17-jre-headless,iptables,ca-certificates \
  "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -20 "$work/debootstrap.log" >&2
  echo "base: debootstrap failed (log above)" >&2
  exit 1
}
# What a container does not need: package caches and lists, docs, man pages.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*
java=$(chroot "$root" readlink -f /usr/bin/java)
# Run inside the base as a container would, with its own /proc (gone with the namespace).
in_base() { unshare --mount --pid --fork --mount-proc="$root/proc" chroot "$root" "$@"; }
in_base "$java" -version >"$work/java.log" 2>&1 || {
  cat "$work/java.log" >&2
  echo "base: java does not run in the base" >&2
  exit 1
}
in_base iptables --version >/dev/null
in_base setpriv --version >/dev/null

image=$work/image
mkdir -p "$image"
tar -C "$root" --numeric-owner --sort=name --mtime=@0 -cf "$image/layer.tar" .
diff_id=$(sha256sum "$image/layer.tar" | cut -d' ' -f1)
java_home=${java%/bin/java}
cat >"$image/config.json" <<JSON
{"architecture":"amd64","os":"linux",
 "config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","JAVA_HOME=$java_home"]},
 "rootfs":{"type":"layers","diff_ids":["sha256:$diff_id"]},
 "history":[{"created_by":"install/images/base.sh: debootstrap --variant=minbase $suite + openjdk-17-jre-headless iptables ca-certificates"}]}
JSON
config=$(sha256sum "$image/config.json" | cut -d' ' -f1)
mv "$image/config.json" "$image/$config.json"
printf '[{"Config":"%s.json","RepoTags":["mesh/base:%s"],"Layers":["layer.tar"]}]\n' \
  "$config" "$suite" >"$image/manifest.json"
mkdir -p "$out"
tar -C "$image" -cf "$out/base.tar.part" manifest.json "$config.json" layer.tar
mv "$out/base.tar.part" "$out/base.tar"
echo "base: $out/base.tar ($(du -h "$out/base.tar" | cut -f1), java at $java)"
