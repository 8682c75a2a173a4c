#!/usr/bin/env bash
# End-to-end in real containers, without Docker: builds the FROM scratch image from
# Dockerfile.scratch and a FROM scratch step image holding only a static busybox, rewrites the
# examples with `emissary rewrite --as-pod` (podman 4.3 runs Pods, not Jobs), runs them with `podman kube play --network none`, and checks
# the order of steps, exit codes, skipped steps, stopped sidecars and termination messages
# (read from the control directory's volume: podman does not read terminationMessagePath).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

scripts/podman-setup.sh
[ -x artifacts/emissary ] && [ -x artifacts/emissary-tools ] || scripts/build.sh

work=$(mktemp -d)
pods=()
cleanup() {
  for pod in "${pods[@]}"; do podman pod rm -f "$pod" >/dev/null 2>&1 || true; done
  podman volume rm -f emissary-bin emissary-control >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

echo "e2e: building images" >&2
buildah bud --isolation chroot -q -f Dockerfile.scratch -t localhost/emissary:e2e . >/dev/null
mkdir -p "$work/steps/root/bin"
cp /bin/busybox "$work/steps/root/bin/busybox"
for applet in sh echo cat sleep printf true false ls mkdir test; do ln -s busybox "$work/steps/root/bin/$applet"; done
printf 'FROM scratch\nCOPY root/ /\nENV PATH=/bin\n' > "$work/steps/Dockerfile"
buildah bud --isolation chroot -q -f "$work/steps/Dockerfile" -t localhost/emissary-steps:e2e "$work/steps" >/dev/null

failures=0
fail() { echo "e2e: FAIL: $*" >&2; failures=$((failures + 1)); }
pass() { echo "e2e: ok: $*" >&2; }

# run_example FILE POD: rewrite, play, wait until every container has exited.
run_example() {
  local file=$1 pod=$2
  podman volume rm -f emissary-bin emissary-control >/dev/null 2>&1 || true
  "$ROOT/artifacts/emissary" rewrite --as-pod --image localhost/emissary:e2e "$ROOT/examples/$file" \
    | sed 's#image: busybox:1.36#image: localhost/emissary-steps:e2e#' > "$work/$pod.yaml"
  (cd "$work" && podman kube play --network none "$pod.yaml" >/dev/null)
  pods+=("$pod")
  for _ in $(seq 1 120); do
    if ! podman ps --filter "pod=$pod" --format '{{.Names}}' | grep -qv -- '-infra$'; then break; fi
    sleep 0.5
  done
  CTL=$(podman volume inspect emissary-control --format '{{.Mountpoint}}')
}
exit_code() { podman inspect "$1" --format '{{.State.ExitCode}}'; }
field() { sed -n "s/.*\"$2\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" "$CTL/$1/status.json"; }
expect_exit() { local got; got=$(exit_code "$1"); [ "$got" = "$2" ] && pass "$1 exited $2" || fail "$1 exited $got, expected $2"; }
expect_state() { local got; got=$(field "$1" state); [ "$got" = "$2" ] && pass "$1 is $2" || fail "$1 is '$got', expected $2"; }
expect_before() { # step A finished before step B started
  local a b; a=$(field "$1" finishedAt); b=$(field "$2" startedAt)
  [[ "$a" < "$b" || "$a" == "$b" ]] && pass "$1 finished ($a) before $2 started ($b)" || fail "$2 started ($b) before $1 finished ($a)"
}

echo "e2e: tekton-pipeline.yaml" >&2
run_example tekton-pipeline.yaml pipeline
for step in clone build publish; do expect_exit "pipeline-$step" 0; expect_state $step succeeded; done
expect_before clone build; expect_before build publish
grep -q '"digest":"sha256:5e1f"' "$CTL/build/termination.json" && pass "build's termination message holds its result" || fail "build's termination message: $(cat "$CTL/build/termination.json" 2>&1)"
podman logs pipeline-build 2>&1 | grep -q 'building commit 3f9a2c1' && pass "build read clone's result" || fail "build did not read clone's result"

echo "e2e: argo-dag.yaml" >&2
run_example argo-dag.yaml dag
expect_exit dag-lint 2; expect_state lint failed
expect_exit dag-package 123; expect_state package skipped
expect_exit dag-docs 0; expect_exit dag-unit 0; expect_exit dag-cleanup 0
expect_before prepare unit; expect_before prepare docs; expect_before docs cleanup
grep -q '"reason":"Skipped"' "$CTL/package/termination.json" && pass "package's termination message says Skipped" || fail "package's termination message: $(cat "$CTL/package/termination.json" 2>&1)"

echo "e2e: job-sidecar.yaml" >&2
run_example job-sidecar.yaml integration-test
pod=integration-test
expect_exit "$pod-db" 0; expect_state db succeeded
[ "$(field db reason)" = Stopped ] && pass "db was stopped by emissary" || fail "db reason is '$(field db reason)'"
expect_exit "$pod-test" 0; expect_before migrate test
[[ "$(field test finishedAt)" < "$(field db finishedAt)" ]] && pass "db stopped after test finished" || fail "db stopped before test finished"
podman logs "$pod-db" 2>&1 | grep -q 'db: shutting down' && pass "db got SIGTERM" || fail "db did not get SIGTERM"

if [ "$failures" -gt 0 ]; then echo "e2e: $failures check(s) failed" >&2; exit 1; fi
echo "e2e: all checks passed" >&2
