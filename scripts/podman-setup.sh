#!/usr/bin/env bash
# Makes real containers work on a sandboxed machine whose cgroups and rlimits podman's defaults do not handle, for scripts/e2e-podman.sh
# and the podman tests of `emissary local --engine podman`: installs podman, buildah, runc,
# catatonit (podman's local pause image) and busybox-static, and configures runc without rlimits
# (crun does not support hybrid cgroups here; runc cannot set rlimits here). Needs root.
set -euo pipefail
need=()
for tool in podman buildah runc; do command -v $tool >/dev/null || need+=($tool); done
[ -x /usr/libexec/podman/catatonit ] || [ -x /usr/bin/catatonit ] || need+=(catatonit)
[ -x /bin/busybox ] || need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  echo "podman-setup.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if ! grep -qs 'runtime = "runc"' /etc/containers/containers.conf; then
  mkdir -p /etc/containers
  printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' > /etc/containers/containers.conf
fi
