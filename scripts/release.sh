#!/usr/bin/env bash
# The kubectl plugin's release files from a build of both architectures:
#   scripts/release.sh VERSION [OUT]      VERSION: 1.2.3 or 1.2.3-rc.1; OUT: default artifacts/release
# writes
#   OUT/emissary-tools-linux-amd64.tar.gz  artifacts/emissary-tools at the archive's root
#   OUT/emissary-tools-linux-arm64.tar.gz  artifacts/linux-arm64/emissary-tools at the archive's root
#   OUT/emissary.yaml                      deploy/krew/emissary.yaml with vVERSION, the release URLs
#                                          and each archive's sha256 filled in (no placeholder left)
#   OUT/SHA256SUMS                         the two archives
# The archives are reproducible: names sorted, owner 0:0, mode 0755, mtime SOURCE_DATE_EPOCH
# (default: the last commit's time), gzip without a name or time stamp; the same build packs to
# the same bytes. Builds nothing: run scripts/build.sh first (both architectures, its default).
# Exit 0 written, 1 a binary or the template is missing, 2 a bad VERSION.
set -euo pipefail
cd "$(dirname "$0")/.."

version=${1:-}
out=${2:-artifacts/release}
if ! [[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]]; then
  echo "release.sh: VERSION '$version' is not MAJOR.MINOR.PATCH[-PRERELEASE] (e.g. 0.2.0)" >&2
  exit 2
fi
template=deploy/krew/emissary.yaml
declare -A binary=([amd64]=artifacts/emissary-tools [arm64]=artifacts/linux-arm64/emissary-tools)
for f in "$template" "${binary[amd64]}" "${binary[arm64]}"; do
  [ -f "$f" ] || { echo "release.sh: $f is missing (scripts/build.sh builds both architectures)" >&2; exit 1; }
done
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}

mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
declare -A sum
for arch in amd64 arm64; do
  mkdir -p "$stage/$arch"
  install -m 0755 "${binary[$arch]}" "$stage/$arch/emissary-tools"
  archive=emissary-tools-linux-$arch.tar.gz
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" --format=gnu \
    -C "$stage/$arch" -cf - emissary-tools | gzip -n -9 > "$out/$archive"
  sum[$arch]=$(sha256sum "$out/$archive" | cut -d' ' -f1)
done
(cd "$out" && sha256sum emissary-tools-linux-amd64.tar.gz emissary-tools-linux-arm64.tar.gz > SHA256SUMS)

# The template's platforms come amd64 first, then arm64: each zero checksum gets its own archive's,
# in that order; its comment about the placeholders goes.
awk -v version="v$version" -v amd64="${sum[amd64]}" -v arm64="${sum[arm64]}" '
  /^# PLACEHOLDERS:/ { skip = 1 }
  skip && /^#/ { next }
  { skip = 0 }
  /^  version: v/ { sub(/v[0-9][^ ]*$/, version) }
  /releases\/download\/v/ { gsub(/download\/v[^\/]*\//, "download/" version "/") }
  /sha256: "0000000000000000000000000000000000000000000000000000000000000000"/ {
    n++; sub(/"0+"/, "\"" (n == 1 ? amd64 : arm64) "\"")
  }
  { print }
  END { if (n != 2) { print "release.sh: the template has " n " placeholder checksums, not 2" > "/dev/stderr"; exit 1 } }
' "$template" > "$out/emissary.yaml"
echo "release.sh: $out: emissary-tools-linux-{amd64,arm64}.tar.gz, emissary.yaml (v$version), SHA256SUMS" >&2
