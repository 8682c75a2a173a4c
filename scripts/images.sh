#!/usr/bin/env bash
# Builds the three images as multi-arch manifest lists (linux/amd64 + linux/arm64) in local
# storage, from the binaries scripts/build.sh published (artifacts/ and artifacts/linux-arm64/):
#   localhost/emissary:dev             Dockerfile.scratch  (the init image; its binary at /emissary)
#   localhost/emissary-entrypoint:dev  Dockerfile.tekton   (Tekton's -entrypoint-image slot)
#   localhost/emissary-webhook:dev     Dockerfile.webhook  (the admission webhook)
# with the OCI labels org.opencontainers.image.{version,source,revision}, and writes
# artifacts/SHA256SUMS for every binary of both architectures. Nothing is pushed; to push:
#   buildah manifest push --all localhost/emissary:dev docker://REGISTRY/emissary:TAG
# Environment: TAG (default dev), IMAGE_VERSION (default `git describe`), IMAGE_SOURCE (default
# the git remote "origin", else the repository as a file:// URL). No RUN step: building the
# arm64 images needs no emulator; running them (scripts/images.sh --check) needs qemu-user.
#   scripts/images.sh [--check]
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${TAG:-dev}
version=${IMAGE_VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo unknown)}
revision=$(git rev-parse HEAD 2>/dev/null || echo unknown)
source=${IMAGE_SOURCE:-$(git config --get remote.origin.url 2>/dev/null || echo "file://$PWD")}

declare -A dir=([amd64]=artifacts [arm64]=artifacts/linux-arm64)
images=("emissary Dockerfile.scratch emissary" "emissary-entrypoint Dockerfile.tekton entrypoint" "emissary-webhook Dockerfile.webhook emissary-webhook")

for arch in amd64 arm64; do
  for spec in "${images[@]}"; do
    read -r _ _ binary <<<"$spec"
    [ -x "${dir[$arch]}/$binary" ] || { echo "images.sh: ${dir[$arch]}/$binary is missing: run scripts/build.sh first" >&2; exit 2; }
  done
done

sums=()
for spec in "${images[@]}"; do
  read -r name dockerfile binary <<<"$spec"
  ref="localhost/$name:$tag"
  # A manifest list is replaced whole: an old list of the same name would keep stale entries.
  # Each architecture's image is also tagged REF-ARCH, so that it can be run as itself.
  buildah manifest rm "$ref" >/dev/null 2>&1 || buildah rmi "$ref" >/dev/null 2>&1 || true
  buildah manifest create "$ref" >/dev/null
  for arch in amd64 arm64; do
    buildah bud --isolation chroot -q --platform "linux/$arch" --build-arg "BIN=${dir[$arch]}" \
      --label "org.opencontainers.image.version=$version" \
      --label "org.opencontainers.image.source=$source" \
      --label "org.opencontainers.image.revision=$revision" \
      --label "org.opencontainers.image.title=$name" \
      --manifest "$ref" -t "$ref-$arch" -f "$dockerfile" . >/dev/null
    sums+=("${dir[$arch]}/$binary")
  done
  echo "images.sh: $ref: $(buildah manifest inspect "$ref" | grep -o '"architecture": *"[a-z0-9]*"' | grep -o '[a-z0-9]*"$' | tr -d '"' | paste -sd+)" >&2
done
for arch in amd64 arm64; do sums+=("${dir[$arch]}/emissary-tools"); done
sha256sum "${sums[@]}" > artifacts/SHA256SUMS
echo "images.sh: artifacts/SHA256SUMS ($(wc -l < artifacts/SHA256SUMS) binaries)" >&2

if [ "${1:-}" = --check ]; then
  # Each architecture's variant of the init image, run for real (arm64 under qemu-user): its
  # binary supervises itself as the child and the exit code comes through.
  for arch in amd64 arm64; do
    ref="localhost/emissary:$tag-$arch"
    seen=$(podman image inspect --format '{{.Os}}/{{.Architecture}}' "$ref")
    [ "$seen" = "linux/$arch" ] || { echo "images.sh: $ref is $seen, not linux/$arch" >&2; exit 1; }
    got=$(podman run --rm --platform "linux/$arch" --tmpfs /ctl "$ref" \
      run --name check --control-dir /ctl -- /emissary version 2>&1) || { echo "images.sh: $ref failed: $got" >&2; exit 1; }
    [ "$got" = "$(artifacts/emissary version)" ] || { echo "images.sh: $ref said: $got" >&2; exit 1; }
    echo "images.sh: $ref ($seen) ran: emissary $got" >&2
  done
  # The arm64 image as a pod uses it: two containers of one pod, the second gated on the first
  # through the shared control directory, each running the image's own binary under qemu-user.
  ref="localhost/emissary:$tag-arm64"
  pod="emissary-images-check-$$"
  ctl=$(mktemp -d)
  trap 'podman pod rm -f "$pod" >/dev/null 2>&1 || true; rm -rf "$ctl"' EXIT
  podman pod create --name "$pod" >/dev/null
  podman run -d --name "$pod-b" --pod "$pod" --platform linux/arm64 -v "$ctl:/ctl" "$ref" \
    run --name b --after a --control-dir /ctl -- /emissary version >/dev/null
  podman run --name "$pod-a" --pod "$pod" --platform linux/arm64 -v "$ctl:/ctl" "$ref" \
    run --name a --control-dir /ctl -- /emissary version >/dev/null
  code_b=$(timeout 60 podman wait "$pod-b")
  finished_a=$(grep -o '"finishedAt": *"[^"]*"' "$ctl/a/status.json" | head -1 | grep -o '[0-9T:.Z+-]*"$' | tr -d '"')
  started_b=$(grep -o '"startedAt": *"[^"]*"' "$ctl/b/status.json" | head -1 | grep -o '[0-9T:.Z+-]*"$' | tr -d '"')
  if [ "$code_b" != 0 ] || [ "$(cat "$ctl/a/exitcode")" != 0 ] || [ -z "$finished_a" ] || [[ "$started_b" < "$finished_a" ]]; then
    echo "images.sh: the arm64 pod check failed: b exited $code_b; a finished $finished_a, b started $started_b" >&2
    exit 1
  fi
  echo "images.sh: arm64 pod: b (--after a) started $started_b, after a finished $finished_a" >&2
fi
