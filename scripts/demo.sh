#!/usr/bin/env bash
# The main job, for a first look: builds the binaries (when missing), then runs the step graph of
# examples/argo-dag.yaml on this machine with `emissary local`: every container's command as a
# local process supervised by `emissary run` exactly as in a pod, in the declared order, with a
# timeline at the end. Extra arguments go to `emissary local` (e.g. --timeline dag.svg).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x artifacts/emissary ] || [ ! -x artifacts/emissary-tools ] || [ "${REBUILD:-0}" = 1 ]; then
  scripts/build.sh >&2
fi
status=0
artifacts/emissary local examples/argo-dag.yaml "$@" || status=$?
echo
echo "emissary local exited $status: the pod's outcome is lint's exit code (package was skipped because lint failed)."
