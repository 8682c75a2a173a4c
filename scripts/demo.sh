#!/usr/bin/env bash
# The main job, for a first look: builds emissary, then runs a small pipeline of ordered steps
# on this machine the way they would run as containers of one pod: each step is an
# `emissary run` started at the same time, gated on its upstream through a shared control
# directory. A failing step makes its dependants skip; `emissary status` shows the outcome.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x artifacts/emissary ] && [ "${REBUILD:-0}" = 0 ] || scripts/build.sh >&2
E=$PWD/artifacts/emissary
ctl=$(mktemp -d); trap 'rm -rf "$ctl"' EXIT
export EMISSARY_CONTROL_DIR=$ctl

# Started in reverse order on purpose: the gates, not the start order, decide.
"$E" run --name publish --after test   -- sh -c 'echo "publish: shipping $(cat '"$ctl"'/build/results/artifact)"' &
"$E" run --name test    --after build  -- sh -c 'echo "test: 3 tests passed"' &
"$E" run --name lint    --after fetch  -- sh -c 'echo "lint: style error"; exit 3' &
"$E" run --name report  --after lint   -- sh -c 'echo "report: never runs"' &
"$E" run --name build   --after fetch  -- sh -c 'echo "build: compiling"; sleep 0.2; mkdir -p '"$ctl"'/build/results; echo app-1.0.tar > '"$ctl"'/build/results/artifact' &
sleep 0.3
"$E" run --name fetch -- sh -c 'echo "fetch: cloning"; sleep 0.2' &
wait || true
echo
"$E" status
